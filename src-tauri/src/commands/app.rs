//! App-level facts the shell shows: version, data directory, who is acting (operator and roles,
//! or setup mode) and the integration's state for the header.

use serde::Serialize;
use tauri::State;
use tsched_core::access::{RoleGrant, Subject};
use tsched_core::integration::{self, ConnectionState};
use tsched_core::operators;

use super::CmdResult;
use crate::state::{AppState, Via};

/// What the header and the About text show.
#[derive(Debug, Serialize)]
pub struct AppInfo {
    /// App version.
    pub version: &'static str,
    /// The data directory shared with `tsched`.
    pub data_dir: Option<String>,
}

/// Version and data directory.
#[tauri::command(async)]
pub fn app_info(state: State<'_, AppState>) -> CmdResult<AppInfo> {
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: state.data_dir().map(|p| p.display().to_string()),
    })
}

/// Who is acting in this window, for the header. Never fails: a problem is shown as `problem`.
#[derive(Debug, Serialize)]
pub struct Session {
    /// The signed-in operator (or the one named by `TSCHED_OPERATOR`), if any.
    pub operator: Option<String>,
    /// Their display name.
    pub display_name: Option<String>,
    /// How they came to act: `sign_in`, `integration_connect` or `environment`.
    pub via: Option<Via>,
    /// True while the store has no operators: the local user may do everything.
    pub setup_mode: bool,
    /// The acting operator's roles.
    pub roles: Vec<RoleGrant>,
    /// Whether they hold the global admin role (or setup mode).
    pub global_admin: bool,
    /// The integration's state.
    pub integration: Option<ConnectionState>,
    /// The connected cloud (`sandbox` for the local emulator), if any.
    pub integration_cloud: Option<String>,
    /// Why nobody may act (not an operator, deactivated, setup mode over), when so.
    pub problem: Option<String>,
    /// Whether an operator can sign in from the header: the integration knows the tenant.
    pub can_sign_in: bool,
}

/// Builds the [`Session`].
pub fn session_inner(state: &AppState) -> Session {
    let who = state.window_operator();
    let mut out = Session {
        operator: who.as_ref().map(|w| w.upn.clone()),
        display_name: None,
        via: who.as_ref().map(|w| w.via),
        setup_mode: false,
        roles: Vec::new(),
        global_admin: false,
        integration: None,
        integration_cloud: None,
        problem: None,
        can_sign_in: false,
    };
    let r = state.with_store(|s| {
        if let Ok(st) = integration::status(s, state.tokens().as_ref()) {
            out.can_sign_in = st.tenant_id.is_some();
            out.integration = Some(st.state);
            out.integration_cloud = st
                .cloud
                .filter(|_| st.state != ConnectionState::NotConnected);
        }
        out.setup_mode = operators::is_setup_mode(s)?;
        if let Some(login) = s.shared_login() {
            // A team database: its login acts; no Microsoft sign-in applies (state.rs).
            out.operator = Some(login.to_lowercase());
            out.via = Some(Via::Database);
            out.can_sign_in = false;
        }
        if let Some(upn) = &out.operator {
            out.display_name = operators::display_name(s, upn)?;
        }
        let actor = crate::state::actor_in(s, who.as_ref())?;
        operators::whoami(s, &actor)
    });
    match r {
        Ok(who) => match who.subject {
            Subject::Setup => out.global_admin = true,
            Subject::Operator { grants } => {
                out.global_admin = grants
                    .iter()
                    .any(|g| g.role == tsched_core::access::Role::GlobalAdmin);
                out.roles = grants;
            }
        },
        Err(e) => out.problem = Some(e.to_string()),
    }
    out
}

/// See [`session_inner`].
#[tauri::command(async)]
pub fn session_info(state: State<'_, AppState>) -> CmdResult<Session> {
    Ok(session_inner(&state))
}
