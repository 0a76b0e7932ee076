//! Integration page commands: status, the organization-wide approval URL, connect (with live
//! progress over an `ipc::Channel`), cancel, remove, and the invitation mode. The embedded sandbox tenant and its demo
//! data live in `commands::sandbox`.
//!
//! Connect keeps the store lock only for `prepare` and `save`; the browser wait runs without it,
//! and its cancel handle lives in [`AppState`] so the window can cancel. The browser is the
//! system browser (RFC 8252 §8.12: never an embedded web view), through tauri-plugin-opener
//! (`commands::system_browser`: http(s) addresses only).

use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::State;
use tsched_core::access::{self, Action};
use tsched_core::auth::{cancel_pair, BrowserOpener, Cloud, ConnectProgress};
use tsched_core::integration::{self, Approach, ConnectRequest, IntegrationStatus, Removed};
use tsched_core::Error;

use super::{blank_none, CmdResult};
use crate::state::{AppState, Via};

/// What the Integration page shows.
#[derive(Debug, Serialize)]
pub struct IntegrationPage {
    /// The connection's status.
    pub status: IntegrationStatus,
    /// Whether a sign-in is waiting for the browser right now.
    pub signing_in: bool,
    /// Whether the acting operator may connect or remove (global admins; everyone in setup mode).
    pub can_manage: bool,
    /// Why not, when not.
    pub denied_reason: Option<String>,
    /// The embedded sandbox, when one runs.
    pub sandbox: Option<crate::state::SandboxInfo>,
}

/// The connect form.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectInput {
    /// `host_sign_in` or `admin_consent`.
    pub approach: String,
    /// `global`, `usgov`, `dod`, `china` or `sandbox`.
    pub cloud: String,
    /// Base URL of the sandbox, for the `sandbox` cloud.
    pub sandbox_url: Option<String>,
    /// Tenant id or verified domain.
    pub tenant: String,
    /// Application (client) id.
    pub client_id: Option<String>,
    /// Pre-fills the host account.
    pub login_hint: Option<String>,
}

pub(crate) fn cloud(name: &str, sandbox_url: Option<&str>) -> Result<Cloud, Error> {
    Cloud::chosen(name, sandbox_url).map_err(|reason| super::invalid("cloud", reason))
}

/// Status, whether a sign-in runs, and whether the actor may manage the integration.
pub fn status_inner(state: &AppState) -> CmdResult<IntegrationPage> {
    let (status, decision) = state.with_actor(|s, actor| {
        let status = integration::status(s, state.tokens().as_ref())?;
        let who = tsched_core::operators::whoami(s, actor)?;
        Ok((
            status,
            access::decide(&who.subject, Action::IntegrationManage, None),
        ))
    })?;
    let sandbox = state.sandbox().as_ref().map(crate::state::sandbox_info);
    Ok(IntegrationPage {
        status,
        signing_in: state.signing_in(),
        can_manage: decision.is_allowed(),
        denied_reason: match decision {
            access::Decision::Denied { reason } => Some(reason),
            access::Decision::Allowed => None,
        },
        sandbox,
    })
}

/// The Integration page's state.
#[tauri::command(async)]
pub fn integration_status(state: State<'_, AppState>) -> CmdResult<IntegrationPage> {
    status_inner(&state)
}

/// The organization-wide approval URL for a global admin to open (here or on another machine).
pub fn consent_url_inner(state: &AppState, input: ConnectInput) -> CmdResult<String> {
    let c = cloud(&input.cloud, input.sandbox_url.as_deref())?;
    let client_id = blank_none(input.client_id);
    Ok(state
        .with_store(|s| integration::consent_url(s, &input.tenant, &c, client_id.as_deref()))?)
}

/// See [`consent_url_inner`].
#[tauri::command(async)]
pub fn integration_consent_url(
    state: State<'_, AppState>,
    input: ConnectInput,
) -> CmdResult<String> {
    consent_url_inner(&state, input)
}

/// Connect: prepare (store), sign in (browser, no store), save (store). `progress` gets every
/// step; `opener` opens the browser.
pub async fn connect_inner(
    state: &AppState,
    input: ConnectInput,
    opener: &dyn BrowserOpener,
    progress: &(dyn Fn(ConnectProgress) + Send + Sync),
) -> CmdResult<IntegrationStatus> {
    let approach = match input.approach.as_str() {
        "admin_consent" => Approach::AdminConsent,
        "host_sign_in" | "" => Approach::HostSignIn,
        other => {
            return Err(super::invalid(
                "approach",
                format!("unknown approach '{other}'; use host_sign_in or admin_consent"),
            )
            .into())
        }
    };
    let req = ConnectRequest {
        approach,
        client_id: blank_none(input.client_id),
        login_hint: blank_none(input.login_hint),
        ..ConnectRequest::new(
            input.tenant.trim(),
            cloud(&input.cloud, input.sandbox_url.as_deref())?,
        )
    };
    let (actor, prepared) = state.with_actor(|s, actor| {
        integration::authorize(s, actor)?;
        Ok((actor.clone(), integration::prepare(s, &req)?))
    })?;
    let (handle, token) = cancel_pair();
    let _running = state.sign_in_running(handle)?;
    let signed = integration::sign_in(&prepared, opener, token, progress).await?;
    let status =
        state.with_store(|s| integration::save(s, state.tokens().as_ref(), &actor, signed))?;
    if let Some(upn) = &status.first_global_admin {
        // The host signed in while connecting and ended setup mode: this window acts as it.
        state.set_operator(upn.clone(), Via::IntegrationConnect);
    } else if state.operator().is_none() {
        // Whoever signed in as the host proved they are it: when the host is an active
        // operator, a window nobody is signed in to acts as it.
        if let Some(host) = status.host_upn.clone() {
            if state
                .with_store(|s| tsched_core::operators::actor_for(s, Some(&host)))
                .is_ok_and(|a| a.operator_upn.is_some())
            {
                state.set_operator(host, Via::IntegrationConnect);
            }
        }
    }
    progress(ConnectProgress::Saved);
    Ok(status)
}

/// Connects the tenant; progress arrives on `on_progress`.
#[tauri::command]
pub async fn integration_connect(
    state: State<'_, AppState>,
    input: ConnectInput,
    on_progress: Channel<ConnectProgress>,
) -> CmdResult<IntegrationStatus> {
    let progress = move |p: ConnectProgress| {
        // A closed window just stops listening; the flow carries on.
        let _ = on_progress.send(p);
    };
    let browser = super::system_browser();
    connect_inner(&state, input, browser.as_ref(), &progress).await
}

/// Cancels a sign-in waiting for the browser; false when none was running.
#[tauri::command(async)]
pub fn integration_cancel(state: State<'_, AppState>) -> CmdResult<bool> {
    Ok(state.cancel_sign_in())
}

/// Removes the integration (global admins): forgets the host's sign-in; returns where to revoke
/// consent in Entra.
pub fn remove_inner(state: &AppState) -> CmdResult<Removed> {
    Ok(state.with_actor(|s, actor| {
        integration::authorize(s, actor)?;
        integration::remove(s, state.tokens().as_ref(), actor)
    })?)
}

/// Sets the invitation mode (`none` or `calendar`; a global admin's), then the page's state.
pub fn set_invitations_inner(state: &AppState, mode: &str) -> CmdResult<IntegrationPage> {
    let mode: integration::InvitationMode = mode.parse().map_err(|r| super::invalid("mode", r))?;
    state.with_actor(|s, actor| {
        integration::set_invitation_mode(s, state.tokens().as_ref(), actor, mode)
    })?;
    status_inner(state)
}

/// See [`set_invitations_inner`].
#[tauri::command(async)]
pub fn integration_set_invitations(
    state: State<'_, AppState>,
    mode: String,
) -> CmdResult<IntegrationPage> {
    set_invitations_inner(&state, &mode)
}

/// See [`remove_inner`].
#[tauri::command(async)]
pub fn integration_remove(state: State<'_, AppState>) -> CmdResult<Removed> {
    remove_inner(&state)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tsched_core::auth::{AuthError, FnOpener, MemoryTokenStore};
    use tsched_sandbox::{Sandbox, SandboxConfig};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connecting_in_setup_mode_makes_the_window_act_as_the_host() {
        let sb = Sandbox::spawn(SandboxConfig {
            auto_consent: true,
            ..Default::default()
        })
        .await
        .expect("sandbox starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = Arc::new(MemoryTokenStore::default());
        let state = AppState::with(Some(dir.path().to_path_buf()), None, tokens);
        let h = sb.handle();
        let input = ConnectInput {
            approach: "host_sign_in".into(),
            cloud: "sandbox".into(),
            sandbox_url: Some(sb.base_url().to_string()),
            tenant: h.tenant_id(),
            client_id: Some(h.client_id()),
            login_hint: None,
        };
        // A browser that follows the sign-in (the sandbox approves at once) to the loopback.
        let follow = FnOpener(|url: &str| -> Result<(), AuthError> {
            let url = url.to_string();
            tokio::spawn(async move {
                let _ = reqwest::get(url).await;
            });
            Ok(())
        });
        assert_eq!(state.operator(), None, "setup mode: nobody is signed in");
        let status = connect_inner(&state, input, &follow, &|_| {})
            .await
            .expect("connect");
        let host = h.host_upn().expect("host");
        assert_eq!(status.first_global_admin.as_deref(), Some(host.as_str()));
        assert_eq!(
            state.window_operator().map(|w| (w.upn, w.via)),
            Some((host, Via::IntegrationConnect)),
            "the window acts as the host that connected"
        );
        assert!(!state.signing_in(), "the sign-in ended with the connect");

        // The window acts as the host, a global admin: it chooses the invitation mode.
        let page = set_invitations_inner(&state, "calendar").expect("set the mode");
        assert_eq!(
            (
                page.status.invitation_mode.as_str(),
                page.status.calendar_granted
            ),
            ("calendar", false),
            "calendar mode, its permission not granted by the default tenant"
        );
        assert!(
            page.status
                .invitations_unavailable_reason
                .as_deref()
                .is_some_and(|r| r.contains("Calendars.ReadWrite")),
            "the page says why invitations cannot be sent"
        );
        let bad = set_invitations_inner(&state, "email").expect_err("an unknown mode");
        assert!(
            format!("{bad:?}").contains("not an invitation mode"),
            "refused with its reason: {bad:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancel_ends_a_waiting_sign_in_and_the_store_stays_usable_during_the_wait() {
        let sb = Sandbox::spawn(SandboxConfig {
            auto_consent: true,
            ..Default::default()
        })
        .await
        .expect("sandbox starts");
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = Arc::new(MemoryTokenStore::default());
        let state = Arc::new(AppState::with(Some(dir.path().to_path_buf()), None, tokens));
        let h = sb.handle();
        let input = ConnectInput {
            approach: "host_sign_in".into(),
            cloud: "sandbox".into(),
            sandbox_url: Some(sb.base_url().to_string()),
            tenant: h.tenant_id(),
            client_id: Some(h.client_id()),
            login_hint: None,
        };
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let (st, log) = (state.clone(), seen.clone());
        let task = tokio::spawn(async move {
            // A browser nobody uses: the wait only ends by cancel.
            let idle = FnOpener(|_: &str| -> Result<(), AuthError> { Ok(()) });
            let progress = move |p: ConnectProgress| {
                let kind = serde_json::to_value(&p)
                    .ok()
                    .and_then(|v| v["kind"].as_str().map(str::to_string));
                log.lock().expect("lock").push(kind.unwrap_or_default());
            };
            connect_inner(&st, input, &idle, &progress).await
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !state.signing_in() {
            assert!(
                std::time::Instant::now() < deadline,
                "the sign-in starts waiting for the browser"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let st = state.clone();
        let page = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::task::spawn_blocking(move || status_inner(&st)),
        )
        .await
        .expect("the store lock is not held across the browser wait")
        .expect("join")
        .expect("status while signing in");
        assert!(
            page.signing_in,
            "the page can show the sign-in in progress after a reload"
        );
        assert!(state.cancel_sign_in(), "a running sign-in is cancelled");
        let err = task
            .await
            .expect("join")
            .expect_err("a cancelled sign-in connects nothing");
        assert_eq!(
            err.code, "sign_in_cancelled",
            "the window learns it was cancelled: {err:?}"
        );
        assert!(
            !state.signing_in(),
            "the cancel handle is dropped when the flow ends"
        );
        let kinds = seen.lock().expect("lock").clone();
        assert!(
            kinds.iter().any(|k| k == "waiting_for_browser"),
            "progress reached the channel side: {kinds:?}"
        );
        let after = status_inner(&state).expect("status");
        assert_eq!(
            after.status.state,
            integration::ConnectionState::NotConnected,
            "nothing was saved"
        );
    }
}
