//! App-level facts the shell shows (version, data directory).

use serde::Serialize;
use tauri::State;

use crate::state::AppState;

/// What the header and the About text show.
#[derive(Debug, Serialize)]
pub struct AppInfo {
    /// App version.
    pub version: &'static str,
    /// The data directory shared with `tsched`.
    pub data_dir: Option<String>,
}

/// Version and data directory.
#[tauri::command]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo { version: env!("CARGO_PKG_VERSION"), data_dir: state.data_dir().map(|p| p.display().to_string()) }
}
