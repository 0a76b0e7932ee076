//! Generates the Tauri context and one `allow-<command>` permission per app command, so the
//! capability file can grant exactly our own commands (and nothing by default).

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(teams_scheduler_commands::ALL)),
    )
    .expect("invariant: tauri build script succeeds");
}

#[path = "src/commands/names.rs"]
mod teams_scheduler_commands;
