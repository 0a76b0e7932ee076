//! Every command the window may call. The build script turns each into an `allow-<name>`
//! permission, and `capabilities/default.json` grants exactly these.

/// Command names, in snake_case as the frontend invokes them.
pub const ALL: &[&str] = &[
    "app_info",
    "session_info",
    "programs_list",
    "programs_add",
    "programs_show",
    "programs_edit",
    "programs_archive",
    "programs_set_mode",
    "participants_list",
    "participants_add",
    "participants_remove",
    "participants_import",
    "operators_list",
    "operators_add",
    "operators_grant",
    "operators_revoke",
    "operators_set_active",
    "operators_remove",
    "audit_list",
    "audit_export",
    "integration_status",
    "integration_consent_url",
    "integration_connect",
    "integration_cancel",
    "integration_remove",
    "integration_sandbox_start",
];
