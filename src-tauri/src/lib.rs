//! The Teams Scheduler desktop app: a thin Tauri layer over `tsched-core`. Commands take the
//! managed [`state::AppState`], call the core and map its errors to `{ code, message }`. No domain
//! logic lives here.

pub mod commands;
pub mod downloads;
pub mod first_paint;
pub mod logging;
pub mod rendering;
pub mod state;

use std::path::PathBuf;

/// `generate_handler!` over every command of [`commands::names`], the one list.
macro_rules! handler {
    ($($module:ident :: $command:ident),* $(,)?) => {
        tauri::generate_handler![$(commands::$module::$command),*]
    };
}

/// Builds and runs the app. The data directory comes from `--data-dir DIR`, then
/// `TSCHED_DATA_DIR`, then the platform default — the same rule as the CLI.
pub fn run() {
    let data_dir = data_dir_from_args(std::env::args().skip(1));
    let data_dir = tsched_core::paths::resolve_data_dir(data_dir.as_deref());
    logging::init(data_dir.as_deref());
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "app started");
    let state = state::AppState::new(data_dir);
    let mut builder = tauri::Builder::default();
    // Only for the start-up bench: absent unless TSCHED_BENCH_FIRST_PAINT is set.
    if let Some(probe) = first_paint::plugin() {
        builder = builder.plugin(probe);
    }
    builder
        // The system browser for sign-in (commands::system_browser); the capability lets the
        // window open http(s) addresses only.
        .plugin(tauri_plugin_opener::init())
        .manage(state)
        .manage(commands::agent::InAppAgent::default())
        .setup(|app| {
            // The main window is built here (not from the config alone) to attach the download
            // handler; tauri.conf.json marks it `create: false`.
            let config = app
                .config()
                .app
                .windows
                .iter()
                .find(|w| w.label == "main")
                .cloned()
                .ok_or("invariant: tauri.conf.json defines the main window")?;
            tauri::WebviewWindowBuilder::from_config(app.handle(), &config)?
                .on_download(downloads::handle)
                .build()?;
            Ok(())
        })
        .invoke_handler(commands::names::with_commands!(handler))
        .run(tauri::generate_context!())
        .expect("invariant: the Tauri runtime starts");
}

/// Reads `--data-dir DIR` or `--data-dir=DIR` from the command line.
fn data_dir_from_args(args: impl Iterator<Item = String>) -> Option<PathBuf> {
    let mut args = args;
    while let Some(a) = args.next() {
        if a == "--data-dir" {
            return args.next().map(PathBuf::from);
        }
        if let Some(v) = a.strip_prefix("--data-dir=") {
            return Some(PathBuf::from(v));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_dir_flag_is_read_in_both_forms() {
        let a = |v: &[&str]| data_dir_from_args(v.iter().map(|s| s.to_string()));
        assert_eq!(
            a(&["--data-dir", "/d"]),
            Some(PathBuf::from("/d")),
            "space-separated form"
        );
        assert_eq!(
            a(&["--data-dir=/e"]),
            Some(PathBuf::from("/e")),
            "equals form"
        );
        assert_eq!(a(&["--other"]), None, "no flag means the default applies");
    }
}
