//! The Integration page's "Export diagnostics" button: writes the core's diagnostics bundle
//! (recent logs, versions including WebKitGTK's, schema, integration status, recent failures)
//! into the export folder, like the other exports, and returns the path. No secret is read here;
//! the core owns what goes in.

use tauri::State;
use tsched_core::diagnostics::{self, Environment};
use tsched_core::exports;

use super::CmdResult;
use crate::state::AppState;

/// Writes the bundle into the export folder; returns the full path written.
#[tauri::command(async)]
pub fn diagnostics_export(state: State<'_, AppState>) -> CmdResult<String> {
    export_inner(&state, tauri::webview_version().ok())
}

/// The command without Tauri's `State`, for tests.
pub fn export_inner(state: &AppState, webkitgtk_version: Option<String>) -> CmdResult<String> {
    let dir = exports::export_dir().ok_or_else(|| {
        super::invalid(
            "export",
            "no folder to save into: set TSCHED_EXPORT_DIR or create a Downloads folder",
        )
    })?;
    let data_dir = state
        .data_dir()
        .cloned()
        .ok_or_else(|| super::invalid("data_dir", "no data directory"))?;
    let env = Environment {
        front_end: "app".into(),
        app_version: env!("CARGO_PKG_VERSION").into(),
        webkitgtk_version,
    };
    // A broken store is when support is needed most: logs and versions still go.
    if let Err(tsched_core::Error::Store(e)) = state.with_store(|_| Ok(())) {
        let dest = diagnostics::free_name_in(&dir)?;
        let out = diagnostics::export_without_store(&data_dir, &env, &dest, &e.to_string())?;
        return Ok(out.path.display().to_string());
    }
    let out =
        state.with_actor(|s, actor| diagnostics::export_into(s, actor, &data_dir, &env, &dir))?;
    Ok(out.path.display().to_string())
}
