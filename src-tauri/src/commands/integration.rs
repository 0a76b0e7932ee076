//! Integration page commands: status, the organization-wide approval URL, connect (with live
//! progress over an `ipc::Channel`), cancel, remove, and the embedded sandbox tenant with its
//! demo data.
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
use tsched_core::demo::{self, Prefilled};
use tsched_core::integration::{self, Approach, ConnectRequest, IntegrationStatus, Removed};
use tsched_core::Error;
use tsched_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

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
    pub sandbox: Option<SandboxInfo>,
}

/// The embedded sandbox's facts, to fill the form.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxInfo {
    /// Base URL (authority base).
    pub base_url: String,
    /// Its tenant id.
    pub tenant_id: String,
    /// Its public client's id.
    pub client_id: String,
    /// Its host account.
    pub host_upn: Option<String>,
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
    let c = match name.trim() {
        "sandbox" => Cloud::sandbox(sandbox_url.unwrap_or_default()),
        other => other.parse(),
    };
    c.map_err(|reason| super::invalid("cloud", reason))
}

/// Status, whether a sign-in runs, and whether the actor may manage the integration.
pub fn status_inner(state: &AppState) -> CmdResult<IntegrationPage> {
    let (status, decision) = state.with_actor(|s, actor| {
        let status = integration::status(s, state.tokens().as_ref())?;
        let who = access::resolve(s.conn(), actor)?;
        Ok((
            status,
            access::decide(&who.subject, Action::IntegrationManage, None),
        ))
    })?;
    let sandbox = state.sandbox().as_ref().map(sandbox_info);
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
        access::require(s.conn(), actor, Action::IntegrationManage, None)?;
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
        access::require(s.conn(), actor, Action::IntegrationManage, None)?;
        integration::remove(s, state.tokens().as_ref(), actor)
    })?)
}

/// See [`remove_inner`].
#[tauri::command(async)]
pub fn integration_remove(state: State<'_, AppState>) -> CmdResult<Removed> {
    remove_inner(&state)
}

fn sandbox_info(sb: &tsched_sandbox::RunningSandbox) -> SandboxInfo {
    let h = sb.handle();
    SandboxInfo {
        base_url: sb.base_url().to_string(),
        tenant_id: h.tenant_id(),
        client_id: h.client_id(),
        host_upn: h.host_upn(),
    }
}

/// Starts the embedded sandbox tenant (a local emulator of Microsoft's sign-in and Graph, with
/// every consent approved automatically) in the app's runtime, once; returns its facts so the
/// window can connect to it.
///
/// Exploring connects the store to the sandbox, which is the integration's business: it needs
/// the same role as connecting (a global admin, or anyone in setup mode).
#[tauri::command]
pub async fn integration_sandbox_start(state: State<'_, AppState>) -> CmdResult<SandboxInfo> {
    sandbox_start_inner(&state).await
}

/// See [`integration_sandbox_start`].
pub async fn sandbox_start_inner(state: &AppState) -> CmdResult<SandboxInfo> {
    state.with_actor(|s, a| integration::authorize(s, a))?;
    start_embedded_sandbox(state).await
}

/// Where a store that explored the embedded sandbox in an earlier run had it listening
/// (`http://127.0.0.1:PORT`), so this run can bring it back at the same address. Only when the
/// integration is connected to the very address the window's embedded sandbox had (recorded when
/// it started): a sandbox a global admin connected to on purpose is never replaced.
fn explored_port(state: &AppState) -> Option<u16> {
    use tsched_core::store::integration as table;
    let (row, embedded) = state
        .with_store(|s| {
            Ok((
                table::get(s.conn())?,
                table::setting(s.conn(), table::SETTING_EMBEDDED_SANDBOX)?,
            ))
        })
        .ok()?;
    let row = row?;
    if row.cloud != "sandbox" || embedded.as_deref() != Some(row.authority_base.as_str()) {
        return None;
    }
    let url = url::Url::parse(&row.authority_base).ok()?;
    (url.host_str() == Some("127.0.0.1"))
        .then_some(url.port())
        .flatten()
}

/// Starts the embedded sandbox tenant once per run: at the address an earlier run of this store
/// used when it is free (so the stored connection and sign-ins work again), else anywhere (the
/// explore path then connects the store to the new address).
pub async fn start_embedded_sandbox(state: &AppState) -> CmdResult<SandboxInfo> {
    if let Some(sb) = state.sandbox().as_ref() {
        return Ok(sandbox_info(sb));
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
    state.with_store(|s| {
        Ok(tsched_core::store::integration::put_setting(
            s.conn(),
            tsched_core::store::integration::SETTING_EMBEDDED_SANDBOX,
            &base,
        )?)
    })?;
    let mut slot = state.sandbox();
    let info = sandbox_info(slot.get_or_insert(sb));
    Ok(info)
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
pub fn sandbox_prefill_inner(state: &AppState) -> CmdResult<Prefilled> {
    Ok(state.with_actor(demo::prefill)?)
}

/// See [`sandbox_prefill_inner`]; the explore path calls it once the sandbox is connected.
#[tauri::command(async)]
pub fn integration_sandbox_prefill(state: State<'_, AppState>) -> CmdResult<Prefilled> {
    sandbox_prefill_inner(&state)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tsched_core::auth::{AuthError, FnOpener, MemoryTokenStore};

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_track_admin_cannot_start_the_embedded_sandbox() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = AppState::with(
            Some(dir.path().to_path_buf()),
            None,
            Arc::new(MemoryTokenStore::default()),
        );
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
        let err = sandbox_start_inner(&state)
            .await
            .expect_err("exploring is the integration's business");
        assert_eq!(err.code, "denied", "{err:?}");
        assert!(state.sandbox().is_none(), "no sandbox was started");
        state.set_operator("admin@x.example".into(), Via::SignIn);
        sandbox_start_inner(&state)
            .await
            .expect("a global admin may explore");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sign_in_is_refused_when_another_program_holds_the_explored_sandbox_address() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = AppState::with(
            Some(dir.path().to_path_buf()),
            None,
            Arc::new(MemoryTokenStore::default()),
        );
        // Another local user's program listens where this store's sandbox used to be.
        let squatter = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", squatter.local_addr().expect("addr"));
        state
            .with_store(|s| {
                let now = tsched_core::time::now_db();
                tsched_core::store::integration::put(
                    s.conn(),
                    &tsched_core::store::integration::IntegrationRow {
                        cloud: "sandbox".into(),
                        authority_base: base.clone(),
                        graph_base: format!("{base}/v1.0"),
                        tenant_id: "00000000-0000-0000-0000-000000000001".into(),
                        client_id: "00000000-0000-0000-0000-000000000002".into(),
                        host_object_id: "h".into(),
                        host_upn: "host@x.example".into(),
                        host_display_name: String::new(),
                        granted_scopes: String::new(),
                        state: "connected".into(),
                        attention_reason: None,
                        connected_at: now,
                        connected_by: None,
                        last_refresh_at: None,
                        removed_at: None,
                    },
                )?;
                // It was the window's embedded sandbox ("explore").
                tsched_core::store::integration::put_setting(
                    s.conn(),
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
                Ok(tsched_core::store::integration::put_setting(
                    s.conn(),
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
