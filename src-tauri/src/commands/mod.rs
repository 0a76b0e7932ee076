//! Tauri commands, one module per area, each a thin call into the core.

pub mod app;
pub mod names;
pub mod programs;

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
        Self { code, message: e.to_string() }
    }
}

/// Result type of every command.
pub type CmdResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_error_serializes_as_code_and_message() {
        let e = CommandError::from(tsched_core::Error::NotFound { what: "program", key: "eng".into() });
        let v = serde_json::to_value(&e).expect("serializes");
        assert_eq!(
            v,
            serde_json::json!({"code": "not_found", "message": "program 'eng' does not exist"}),
            "the window's error contract is {{ code, message }}"
        );
    }

    #[test]
    fn every_registered_command_is_granted_in_the_capability() {
        let cap: serde_json::Value =
            serde_json::from_str(include_str!("../../capabilities/default.json")).expect("capability is JSON");
        let perms: Vec<&str> = cap["permissions"].as_array().expect("permissions list").iter().filter_map(|p| p.as_str()).collect();
        for name in names::ALL {
            let want = format!("allow-{}", name.replace('_', "-"));
            assert!(perms.contains(&want.as_str()), "command {name} must be granted as {want}");
        }
        let foreign: Vec<&&str> = perms.iter().filter(|p| p.contains(':') && !p.starts_with("opener:")).collect();
        assert!(foreign.is_empty(), "only our commands and opener may be granted, found {foreign:?}");
    }
}
