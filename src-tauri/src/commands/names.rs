//! Every command the window may call. The build script turns each into an `allow-<name>`
//! permission, and `capabilities/default.json` grants exactly these.

/// Command names, in snake_case as the frontend invokes them.
pub const ALL: &[&str] = &["app_info", "programs_list", "programs_add", "programs_show"];
