//! Tauri commands, one module per area, each a thin call into the core. Commands that decide
//! something are split into an `*_inner(&AppState, …)` function and a thin `#[tauri::command]`
//! wrapper, so they can be tested without a webview. Every command is `#[tauri::command(async)]`
//! (or an `async fn`): Tauri runs it off the main thread, so opening the store, a query or a
//! keyring call never holds up the window's event loop and its frames (see "Start-up" in
//! docs/BENCHMARKS.md).

pub mod agent;
pub mod app;
pub mod audit;
pub mod batches;
pub mod diagnostics;
pub mod files;
pub mod integration;
pub mod live;
pub mod meetings;
pub mod members;
pub mod names;
pub mod operators;
pub mod programs;
pub mod sandbox;
pub mod session;
pub mod store;
pub mod welcome;
pub mod work;

use serde::Serialize;

/// What a failed command returns to the window: a stable code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    /// Stable machine-readable code (`tsched_core::ErrorCode` in snake_case).
    pub code: String,
    /// What went wrong and what to do, ready to show.
    pub message: String,
}

impl From<tsched_core::Error> for CommandError {
    fn from(e: tsched_core::Error) -> Self {
        let code = serde_json::to_value(e.code())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "internal".into());
        Self {
            code,
            message: e.to_string(),
        }
    }
}

/// Result type of every command.
pub type CmdResult<T> = Result<T, CommandError>;

/// An optional text field from the window: trimmed, and `None` when blank.
pub(crate) fn blank_none(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// The system browser for a sign-in (RFC 8252 §8.12: never an embedded web view), through
/// tauri-plugin-opener (on Linux xdg-open, which honours `$BROWSER` outside a desktop
/// environment). Only http(s) addresses are handed over, like the window's capability allows.
pub(crate) fn system_browser() -> Box<dyn tsched_core::auth::BrowserOpener> {
    use tsched_core::auth::{AuthError, FnOpener};
    Box::new(FnOpener(|url: &str| {
        let refused = |reason: String| AuthError::Browser {
            reason,
            url: url.to_string(),
        };
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => return Err(refused("only http(s) addresses are opened".into())),
        }
        tauri_plugin_opener::open_url(url, None::<&str>).map_err(|e| refused(e.to_string()))
    }))
}

/// A bad input field, as the core reports it.
pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> tsched_core::Error {
    tsched_core::Error::Invalid {
        field,
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_opener_refuses_anything_but_http_urls() {
        let opener = system_browser();
        for url in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "not a url",
            "smb://host/share",
        ] {
            let err = opener
                .open(url)
                .expect_err("only http(s) reaches the system opener");
            assert!(
                err.to_string().contains("only http(s)"),
                "{url} is refused with the reason: {err}"
            );
        }
    }

    #[test]
    fn command_error_serializes_as_code_and_message() {
        let e = CommandError::from(tsched_core::Error::NotFound {
            what: "program",
            key: "eng".into(),
        });
        let v = serde_json::to_value(&e).expect("serializes");
        assert_eq!(
            v,
            serde_json::json!({"code": "not_found", "message": "program 'eng' does not exist"}),
            "the window's error contract is {{ code, message }}"
        );
    }

    /// A store with programs eng and ops, a global admin and a track admin of eng who
    /// coordinates ops; the window acts as `acting`.
    fn seeded(acting: &str) -> (tempfile::TempDir, crate::state::AppState) {
        use tsched_core::access::Role;
        use tsched_core::{operators, programs, Actor, Store};
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Store::open_in(dir.path()).expect("store");
        let local = Actor::local();
        for (name, code) in [("Engineering", "eng"), ("Operations", "ops")] {
            let p = programs::NewProgram {
                name: name.into(),
                code: Some(code.into()),
                description: None,
            };
            programs::add(&mut s, &local, p).expect("program added in setup mode");
        }
        let new = |upn: &str| operators::NewOperator {
            upn: upn.into(),
            display_name: String::new(),
        };
        operators::add(&mut s, &local, new("admin@contoso.example")).expect("first operator");
        let admin = Actor::operator("admin@contoso.example");
        operators::add(&mut s, &admin, new("ta@contoso.example")).expect("track admin added");
        operators::grant(
            &mut s,
            &admin,
            "ta@contoso.example",
            Role::TrackAdmin,
            Some("eng"),
        )
        .expect("grant");
        operators::grant(
            &mut s,
            &admin,
            "ta@contoso.example",
            Role::Coordinator,
            Some("ops"),
        )
        .expect("grant");
        drop(s);
        let tokens = std::sync::Arc::new(tsched_core::auth::MemoryTokenStore::default());
        let state = crate::state::AppState::with(
            Some(dir.path().to_path_buf()),
            Some(acting.into()),
            tokens,
        );
        (dir, state)
    }

    #[test]
    fn a_denial_from_the_core_reaches_the_window_as_code_denied() {
        let (_dir, state) = seeded("ta@contoso.example");
        let err = programs::set_mode_inner(&state, "ops", "phone", false, None)
            .expect_err("a track admin of eng may not toggle ops");
        assert_eq!(
            err.code, "denied",
            "the core's refusal keeps its stable code through the command: {err:?}"
        );
        assert!(
            err.message
                .contains("may not change meeting modes in program 'ops'"),
            "the message names what was refused: {}",
            err.message
        );
        let v = serde_json::to_value(&err).expect("serializes");
        assert_eq!(
            v.as_object().map(|o| o.len()),
            Some(2),
            "only code and message reach the window: {v}"
        );
        let ok = programs::set_mode_inner(&state, "eng", "phone", false, None)
            .expect("their own program is allowed");
        assert!(
            !ok.enabled_modes.iter().any(|m| m == "phone"),
            "the toggle took effect"
        );
        let removed = integration::remove_inner(&state)
            .expect_err("only a global admin may remove the integration");
        assert_eq!(
            removed.code, "denied",
            "integration management is checked in the command too: {removed:?}"
        );
    }

    #[test]
    fn the_program_list_says_which_toggles_the_actor_may_change_and_why_not() {
        let (_dir, state) = seeded("ta@contoso.example");
        let items = programs::page_inner(&state, None, false, None, None)
            .expect("list")
            .items;
        let get = |code: &str| {
            items
                .iter()
                .find(|i| i.view.code == code)
                .expect("listed")
                .allowed
                .clone()
        };
        assert!(
            get("eng").modes.allowed,
            "a track admin toggles modes of their program"
        );
        let ops = get("ops").modes;
        assert!(!ops.allowed, "a coordinator may not toggle modes");
        assert!(
            ops.reason
                .as_deref()
                .is_some_and(|r| r.contains("coordinator of 'ops'")),
            "the reason names the roles: {ops:?}"
        );
        assert!(
            !get("eng").archive.allowed,
            "archiving is a global admin's decision"
        );
    }

    #[test]
    fn the_session_names_the_operator_and_roles_or_setup_mode() {
        let (_dir, state) = seeded("ta@contoso.example");
        let s = app::session_inner(&state);
        assert!(
            !s.setup_mode && !s.global_admin,
            "a track admin is not a global admin: {s:?}"
        );
        assert_eq!(s.roles.len(), 2, "both roles are listed: {s:?}");
        let empty = tempfile::tempdir().expect("tempdir");
        let tokens = std::sync::Arc::new(tsched_core::auth::MemoryTokenStore::default());
        let fresh = crate::state::AppState::with(Some(empty.path().to_path_buf()), None, tokens);
        let s = app::session_inner(&fresh);
        assert!(
            s.setup_mode && s.global_admin && s.problem.is_none(),
            "an empty store is in setup mode: {s:?}"
        );
    }
}
