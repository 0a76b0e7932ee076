//! Where the data directory is: `--data-dir`, else `TSCHED_DATA_DIR`, else the platform's
//! app-data directory (`$XDG_DATA_HOME/teams-scheduler` on Linux). The desktop app and the CLI
//! resolve it the same way so they share one store.

use std::path::{Path, PathBuf};

/// Environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "TSCHED_DATA_DIR";
/// Folder name under the platform's data directory.
pub const APP_DIR_NAME: &str = "teams-scheduler";
/// File name of the SQLite store inside the data directory.
pub const DB_FILE_NAME: &str = "teams-scheduler.db";

/// Resolves the data directory from an explicit flag, the environment, or the platform default.
/// Returns `None` only when the platform has no data directory and nothing was given.
pub fn resolve_data_dir(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_path_buf());
    }
    if let Some(v) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(v));
    }
    dirs::data_dir().map(|d| d.join(APP_DIR_NAME))
}

/// The store file inside a data directory.
pub fn db_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_flag_wins_over_everything() {
        let p = resolve_data_dir(Some(Path::new("/tmp/x"))).expect("flag given");
        assert_eq!(
            p,
            PathBuf::from("/tmp/x"),
            "--data-dir must take precedence"
        );
        assert_eq!(
            db_path(&p),
            PathBuf::from("/tmp/x/teams-scheduler.db"),
            "db lives in the data dir"
        );
    }
}
