//! Operator sign-in from the window's header: the operator signs in with their own Microsoft
//! account in the system browser (the core's `signin` flow), is matched to the roster (or, in
//! setup mode, becomes the first global admin), and the window acts as them until it closes or
//! they sign out. Only who they are is kept, in memory: every token is dropped once the roster
//! match is done.

use serde::Deserialize;
use tauri::ipc::Channel;
use tauri::State;
use tsched_core::auth::{cancel_pair, BrowserOpener, ConnectProgress};
use tsched_core::signin::{self, SignInRequest};

use super::app::{session_inner, Session};
use super::{blank_none, CmdResult};
use crate::state::{AppState, Via};

/// Where to sign in. Every field may be empty when the integration is (or was) connected: the
/// operator then signs in to the same tenant and app registration. There is deliberately no
/// cloud or sandbox URL: operators sign in only to the integration's own cloud, so nothing a
/// page sends over IPC can point the sign-in at another identity provider (unknown fields, such
/// as a `cloud` or `sandbox_url` an older page might send, are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SignInInput {
    /// Tenant id or verified domain (only when no integration is connected).
    pub tenant: Option<String>,
    /// Application (client) id.
    pub client_id: Option<String>,
    /// Pre-fills the account picker.
    pub login_hint: Option<String>,
}

/// Prepare (store), sign in (browser + `/me`, no store), match the roster (store).
pub async fn sign_in_inner(
    state: &AppState,
    input: SignInInput,
    opener: &dyn BrowserOpener,
    progress: &(dyn Fn(ConnectProgress) + Send + Sync),
) -> CmdResult<Session> {
    let req = SignInRequest {
        tenant: blank_none(input.tenant),
        cloud: None,
        client_id: blank_none(input.client_id),
        login_hint: blank_none(input.login_hint),
        ..Default::default()
    };
    let prepared = state.with_store(|s| {
        if s.is_shared() {
            // The database login is the operator there (state.rs); a Microsoft sign-in would
            // prove someone the server does not act as.
            return Err(tsched_core::Error::Denied(
                "this window works with a team database: its login acts, there is no Microsoft sign-in (Integration page, Store)".into(),
            ));
        }
        signin::prepare(s, &req)
    })?;
    let (handle, token) = cancel_pair();
    let _running = state.sign_in_running(handle)?;
    let signed = signin::sign_in(&prepared, opener, token, progress).await?;
    let info = state.with_store(|s| signin::complete(s, signed))?;
    state.set_operator(info.upn, Via::SignIn);
    progress(ConnectProgress::Saved);
    Ok(session_inner(state))
}

/// Signs an operator in; progress arrives on `on_progress`. Cancel with `integration_cancel`.
#[tauri::command]
pub async fn session_sign_in(
    state: State<'_, AppState>,
    input: Option<SignInInput>,
    on_progress: Channel<ConnectProgress>,
) -> CmdResult<Session> {
    let progress = move |p: ConnectProgress| {
        let _ = on_progress.send(p);
    };
    super::sandbox::revive_explored_sandbox(&state).await?;
    let browser = super::system_browser();
    sign_in_inner(
        &state,
        input.unwrap_or_default(),
        browser.as_ref(),
        &progress,
    )
    .await
}

/// Signs the window out: nobody acts until someone signs in (the local user only in setup mode).
#[tauri::command(async)]
pub fn session_sign_out(state: State<'_, AppState>) -> CmdResult<Session> {
    state.clear_operator();
    Ok(session_inner(&state))
}
