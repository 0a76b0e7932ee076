//! Saving exports as files. The web view cannot download a Blob (WebKitGTK drops
//! `<a download>`), so the window hands the export's text here and the core writes it to the
//! export folder under a sanitized, never-overwriting name.

use tsched_core::exports;

use super::CmdResult;

/// Saves `text` as `name` in the export folder; returns the full path written.
#[tauri::command(async)]
pub fn save_export(name: String, text: String) -> CmdResult<String> {
    let dir = exports::export_dir().ok_or_else(|| {
        super::invalid(
            "export",
            "no folder to save into: set TSCHED_EXPORT_DIR or create a Downloads folder",
        )
    })?;
    Ok(exports::save_text(&dir, &name, &text)?
        .display()
        .to_string())
}
