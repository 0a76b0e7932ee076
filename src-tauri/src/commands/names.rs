//! The one list of the window's commands. [`with_commands!`] names each command once, as
//! `module::command` under `crate::commands`; it feeds `generate_handler!` in `lib.rs` and [`ALL`],
//! which the build script (it `#[path]`-includes this file) turns into one `allow-<name>`
//! permission per command. `capabilities/default.json` grants exactly these names; a test below
//! checks the file against [`ALL`].
//!
//! Adding a command: one line here, one `allow-<name>` in the capability file.

/// Calls the macro `$then!` with every command as `module::command`, comma-separated.
macro_rules! with_commands {
    ($then:ident) => {
        $then! {
            app::app_info,
            app::session_info,
            session::session_sign_in,
            session::session_sign_out,
            files::save_export,
            diagnostics::diagnostics_export,
            programs::programs_page,
            programs::programs_add,
            programs::programs_show,
            programs::programs_edit,
            programs::programs_archive,
            programs::programs_set_mode,
            programs::participants_page,
            programs::participants_add,
            programs::participants_remove,
            programs::participants_import,
            operators::operators_page,
            operators::operators_add,
            operators::operators_grant,
            operators::operators_revoke,
            operators::operators_set_active,
            operators::operators_remove,
            audit::audit_page,
            audit::audit_export,
            integration::integration_status,
            integration::integration_consent_url,
            integration::integration_connect,
            integration::integration_cancel,
            integration::integration_remove,
            integration::integration_set_invitations,
            agent::agent_status,
            agent::agent_in_app,
            agent::agent_in_app_set,
            sandbox::sandbox_explore,
            welcome::welcome_status,
            welcome::welcome_dismiss,
            members::members_check,
            members::members_diagnose,
            meetings::meetings_default_tz,
            meetings::meetings_page,
            meetings::meetings_show,
            meetings::meetings_create,
            meetings::meetings_cancel,
            meetings::meetings_reschedule,
            meetings::meetings_ics,
            batches::batches_validate,
            batches::batches_run,
            batches::batches_resume,
            batches::batches_cancel,
            batches::batches_page,
            batches::batch_items_page,
            batches::batches_export,
            live::store_changes,
            store::store_status,
            store::store_use,
            store::store_forget,
        }
    };
}
// The build script includes this file too and uses only `ALL`.
#[allow(unused_imports)]
pub(crate) use with_commands;

/// The command names alone, from the list.
macro_rules! command_names {
    ($($module:ident :: $command:ident),* $(,)?) => {
        &[$(stringify!($command)),*]
    };
}

/// Command names, in snake_case as the frontend invokes them.
pub const ALL: &[&str] = with_commands!(command_names);

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn each_command_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for name in ALL {
            assert!(
                seen.insert(name),
                "command {name} is listed twice; generate_handler! would register it twice"
            );
        }
    }

    #[test]
    fn the_capability_grants_exactly_the_listed_commands() {
        let cap: serde_json::Value =
            serde_json::from_str(include_str!("../../capabilities/default.json"))
                .expect("capability is JSON");
        let granted: std::collections::BTreeSet<String> = cap["permissions"]
            .as_array()
            .expect("permissions list")
            .iter()
            .filter_map(|p| p.as_str())
            .map(str::to_string)
            .collect();
        // A plugin's permission that takes no scope would be a bare string with a `:`; only the
        // opener is granted, and as an object limited to http(s) addresses.
        let foreign: Vec<_> = granted.iter().filter(|p| p.contains(':')).collect();
        assert!(
            foreign.is_empty(),
            "only our own commands may be granted as bare names, found {foreign:?}"
        );
        let listed: std::collections::BTreeSet<String> = ALL
            .iter()
            .map(|n| format!("allow-{}", n.replace('_', "-")))
            .collect();
        let missing: Vec<_> = listed.difference(&granted).collect();
        let extra: Vec<_> = granted.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "listed commands the window may not call (add them to default.json): {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "granted permissions no listed command has (remove them from default.json): {extra:?}"
        );
    }
}
