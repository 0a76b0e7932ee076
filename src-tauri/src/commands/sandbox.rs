//! The embedded sandbox tenant: a local emulator of Microsoft's sign-in and Graph (every consent
//! approved automatically) that the window starts in the app's runtime, once per run, to explore
//! the app without a tenant. This module owns its lifecycle — start (at the address an earlier
//! run of the store used when free), revive before a sign-in, the demo prefill — and the one
//! `sandbox_explore` command both the Welcome and the Integration pages call: start → connect
//! (the host signs in, as `integration::connect_inner` does for any tenant) → prefill.
//!
//! It does not decide who may connect (the core's `integration::authorize` and the connect
//! itself do) nor what the demo holds (`tsched_core::demo`).

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use tsched_core::auth::{BrowserOpener, ConnectProgress};
use tsched_core::demo::{self, Prefilled};
use tsched_core::integration::{self, IntegrationStatus};
use tsched_core::Error;
use tsched_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

use super::integration::{connect_inner, ConnectInput};
use super::CmdResult;
use crate::state::{sandbox_info as info, AppState, SandboxInfo};

/// A step of exploring, on the command's channel: the explore's own steps (`kind`
/// `sandbox_started` with the sandbox's facts, then `prefilling`) around the connect's
/// [`ConnectProgress`] (`opening_browser`, `waiting_for_browser`, …, `saved`).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ExploreProgress {
    /// A step of exploring itself.
    Step(ExploreStep),
    /// A step of the host's sign-in.
    Connect(ConnectProgress),
}

/// The explore's own steps.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExploreStep {
    /// The sandbox runs (or already ran); the host's sign-in comes next and can be cancelled.
    SandboxStarted {
        /// Its facts, for the connect form.
        sandbox: SandboxInfo,
    },
    /// Connected; the demo programs and participants are being added.
    Prefilling,
}

/// What exploring did.
#[derive(Debug, Serialize)]
pub struct Explored {
    /// The sandbox connected to.
    pub sandbox: SandboxInfo,
    /// The connection's status.
    pub status: IntegrationStatus,
    /// The demo data added (or why none was).
    pub prefilled: Prefilled,
}

/// Explore: start the embedded sandbox (the integration's role is required), connect the store
/// to it with its host's sign-in, and pre-fill the demo data. `progress` gets every step.
pub async fn explore_inner(
    state: &AppState,
    opener: &dyn BrowserOpener,
    progress: &(dyn Fn(ExploreProgress) + Send + Sync),
) -> CmdResult<Explored> {
    let sandbox = start_inner(state).await?;
    progress(ExploreProgress::Step(ExploreStep::SandboxStarted {
        sandbox: sandbox.clone(),
    }));
    let input = ConnectInput {
        approach: "host_sign_in".into(),
        cloud: "sandbox".into(),
        sandbox_url: Some(sandbox.base_url.clone()),
        tenant: sandbox.tenant_id.clone(),
        client_id: Some(sandbox.client_id.clone()),
        login_hint: sandbox.host_upn.clone(),
    };
    let status = connect_inner(state, input, opener, &|p| {
        progress(ExploreProgress::Connect(p))
    })
    .await?;
    progress(ExploreProgress::Step(ExploreStep::Prefilling));
    let prefilled = prefill_inner(state)?;
    Ok(Explored {
        sandbox,
        status,
        prefilled,
    })
}

/// Explores with the embedded sandbox tenant; progress arrives on `on_progress`. Cancel the
/// sign-in with `integration_cancel`.
#[tauri::command]
pub async fn sandbox_explore(
    state: State<'_, AppState>,
    on_progress: Channel<ExploreProgress>,
) -> CmdResult<Explored> {
    let progress = move |p: ExploreProgress| {
        // A closed window just stops listening; the flow carries on.
        let _ = on_progress.send(p);
    };
    let browser = super::system_browser();
    explore_inner(&state, browser.as_ref(), &progress).await
}

/// Starts the embedded sandbox (see [`start_embedded_sandbox`]) for the acting operator.
///
/// Exploring connects the store to the sandbox, which is the integration's business: it needs
/// the same role as connecting (a global admin, or anyone in setup mode).
pub async fn start_inner(state: &AppState) -> CmdResult<SandboxInfo> {
    state.with_actor(|s, a| integration::authorize(s, a))?;
    start_embedded_sandbox(state).await
}

/// Where a store that explored the embedded sandbox in an earlier run had it listening
/// (`http://127.0.0.1:PORT`), so this run can bring it back at the same address. Only when the
/// integration is connected to the very address the window's embedded sandbox had (recorded when
/// it started): a sandbox a global admin connected to on purpose is never replaced.
fn explored_port(state: &AppState) -> Option<u16> {
    let base = state
        .with_store(|s| integration::explored_sandbox(s))
        .ok()??;
    let url = url::Url::parse(&base).ok()?;
    (url.host_str() == Some("127.0.0.1"))
        .then_some(url.port())
        .flatten()
}

/// Starts the embedded sandbox tenant once per run: at the address an earlier run of this store
/// used when it is free (so the stored connection and sign-ins work again), else anywhere (the
/// explore path then connects the store to the new address).
pub async fn start_embedded_sandbox(state: &AppState) -> CmdResult<SandboxInfo> {
    if let Some(sb) = state.sandbox().as_ref() {
        return Ok(info(sb));
    }
    let again = match explored_port(state) {
        Some(port) => spawn_at(port).await.ok(),
        None => None,
    };
    let sb = match again {
        Some(sb) => sb,
        None => Sandbox::spawn(embedded_config())
            .await
            .map_err(|e| Error::Conflict(format!("the sandbox tenant could not start: {e}")))?,
    };
    let base = sb.base_url().to_string();
    state.with_store(|s| integration::remember_embedded_sandbox(s, &base))?;
    let mut slot = state.sandbox();
    Ok(info(slot.get_or_insert(sb)))
}

fn embedded_config() -> SandboxConfig {
    SandboxConfig {
        auto_consent: true,
        ..Default::default()
    }
}

async fn spawn_at(port: u16) -> Result<RunningSandbox, tsched_sandbox::SandboxError> {
    Sandbox::spawn(SandboxConfig {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        ..embedded_config()
    })
    .await
}

/// Before a sign-in to a store that explored the embedded sandbox: bring it back at its stored
/// address (a sandbox lives only as long as the app run that started it). When another program
/// — perhaps another local user's — holds that address, the sign-in is refused: it would
/// otherwise go to whatever answers there.
pub async fn revive_explored_sandbox(state: &AppState) -> CmdResult<()> {
    if state.sandbox().is_some() {
        return Ok(());
    }
    let Some(port) = explored_port(state) else {
        return Ok(());
    };
    let sb = spawn_at(port).await.map_err(|e| {
        Error::Conflict(format!(
            "the sandbox tenant this store explored cannot come back at 127.0.0.1:{port}, because another program holds that address ({e}); a sign-in there would go to that program. Close it, or explore the sandbox again from the Integration page"
        ))
    })?;
    state.sandbox().get_or_insert(sb);
    Ok(())
}

/// Pre-fills a store connected to the sandbox tenant with the demo programs and participants
/// (`tsched_core::demo`): only into an empty store, never into one connected to a real tenant.
pub fn prefill_inner(state: &AppState) -> CmdResult<Prefilled> {
    Ok(state.with_actor(demo::prefill)?)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tsched_core::auth::{AuthError, FnOpener, MemoryTokenStore};

    use super::*;
    use crate::state::Via;

    /// A window on a fresh data directory (setup mode), with an in-memory keyring.
    fn fresh() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = AppState::with(
            Some(dir.path().to_path_buf()),
            None,
            Arc::new(MemoryTokenStore::default()),
        );
        (dir, state)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exploring_starts_connects_and_prefills_with_every_step_on_the_channel() {
        let (_dir, state) = fresh();
        // A browser that follows the sign-in (the sandbox approves at once) to the loopback.
        let follow = FnOpener(|url: &str| -> Result<(), AuthError> {
            let url = url.to_string();
            tokio::spawn(async move {
                let _ = reqwest::get(url).await;
            });
            Ok(())
        });
        let kinds = Mutex::new(Vec::<String>::new());
        let progress = |p: ExploreProgress| {
            let kind = serde_json::to_value(&p)
                .ok()
                .and_then(|v| v["kind"].as_str().map(str::to_string));
            kinds.lock().expect("lock").push(kind.unwrap_or_default());
        };
        let explored = explore_inner(&state, &follow, &progress)
            .await
            .expect("explore");
        assert_eq!(
            explored.status.state,
            integration::ConnectionState::Connected,
            "the store is connected to the sandbox"
        );
        assert!(
            explored.prefilled.skipped.is_none() && !explored.prefilled.programs.is_empty(),
            "an empty store gets the demo programs: {:?}",
            explored.prefilled
        );
        assert_eq!(
            state.operator(),
            explored.sandbox.host_upn,
            "in setup mode the window then acts as the sandbox's host"
        );
        let kinds = kinds.into_inner().expect("lock");
        let at = |k: &str| kinds.iter().position(|x| x == k);
        assert_eq!(
            at("sandbox_started"),
            Some(0),
            "the facts come first: {kinds:?}"
        );
        assert!(
            at("opening_browser").is_some() && at("saved") < at("prefilling"),
            "the connect's own steps come between, then the prefill: {kinds:?}"
        );
        assert_eq!(
            kinds.last().map(String::as_str),
            Some("prefilling"),
            "{kinds:?}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_track_admin_cannot_start_the_embedded_sandbox() {
        let (_dir, state) = fresh();
        state
            .with_store(|s| {
                let local = tsched_core::Actor::local();
                let add = |s: &mut tsched_core::Store, a: &tsched_core::Actor, upn: &str| {
                    tsched_core::operators::add(
                        s,
                        a,
                        tsched_core::operators::NewOperator {
                            upn: upn.into(),
                            display_name: String::new(),
                        },
                    )
                };
                add(s, &local, "admin@x.example")?;
                let admin = tsched_core::Actor::operator("admin@x.example");
                add(s, &admin, "support@x.example")?;
                tsched_core::operators::grant(
                    s,
                    &admin,
                    "support@x.example",
                    tsched_core::access::Role::Support,
                    None,
                )?;
                Ok(())
            })
            .expect("roster");
        state.set_operator("support@x.example".into(), Via::SignIn);
        let err = start_inner(&state)
            .await
            .expect_err("exploring is the integration's business");
        assert_eq!(err.code, "denied", "{err:?}");
        assert!(state.sandbox().is_none(), "no sandbox was started");
        state.set_operator("admin@x.example".into(), Via::SignIn);
        start_inner(&state)
            .await
            .expect("a global admin may explore");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sign_in_is_refused_when_another_program_holds_the_explored_sandbox_address() {
        let (_dir, state) = fresh();
        // Another local user's program listens where this store's sandbox used to be.
        let squatter = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", squatter.local_addr().expect("addr"));
        state
            .with_store(|s| {
                let now = tsched_core::time::now_db();
                s.tables()
                    .integration_put(&tsched_core::store::integration::IntegrationRow {
                        cloud: "sandbox".into(),
                        authority_base: base.clone(),
                        graph_base: format!("{base}/v1.0"),
                        tenant_id: "00000000-0000-0000-0000-000000000001".into(),
                        client_id: "00000000-0000-0000-0000-000000000002".into(),
                        host_object_id: "h".into(),
                        host_upn: "host@x.example".into(),
                        host_display_name: String::new(),
                        granted_scopes: String::new(),
                        state: tsched_core::store::integration::RowState::Connected,
                        attention_reason: None,
                        connected_at: now,
                        connected_by: None,
                        last_refresh_at: None,
                        removed_at: None,
                    })?;
                // It was the window's embedded sandbox ("explore").
                s.tables().setting_put(
                    tsched_core::store::integration::SETTING_EMBEDDED_SANDBOX,
                    &base,
                )?;
                Ok(())
            })
            .expect("row");
        let err = revive_explored_sandbox(&state)
            .await
            .expect_err("the stored address is held by someone else");
        assert!(
            err.message.contains("another program holds that address"),
            "says why and what to do: {err:?}"
        );
        assert!(
            state.sandbox().is_none(),
            "no sandbox started elsewhere behind the stored address's back"
        );
        // A sandbox the admin connected to on purpose (not the embedded one) is left alone.
        state
            .with_store(|s| {
                Ok(s.tables().setting_put(
                    tsched_core::store::integration::SETTING_EMBEDDED_SANDBOX,
                    "http://127.0.0.1:1",
                )?)
            })
            .expect("setting");
        revive_explored_sandbox(&state)
            .await
            .expect("nothing to revive for an external sandbox");
        assert!(state.sandbox().is_none(), "and nothing was started");
    }
}
