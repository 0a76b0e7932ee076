//! App state: the shared store, opened lazily on first use so start-up does no disk I/O and a
//! broken store shows as an error in the window instead of a crash.

use std::path::PathBuf;
use std::sync::Mutex;

use tsched_core::{Error, Store};

/// State managed by Tauri.
#[derive(Debug)]
pub struct AppState {
    data_dir: Option<PathBuf>,
    operator: Option<String>,
    store: Mutex<Option<Store>>,
}

impl AppState {
    /// State for the given data directory (`None`: the platform has none and none was given).
    pub fn new(data_dir: Option<PathBuf>) -> Self {
        // Stand-in for operator sign-in, the same as the CLI's: TSCHED_OPERATOR names the acting
        // operator; without it the local user acts (allowed only in setup mode).
        let operator = std::env::var("TSCHED_OPERATOR").ok().filter(|s| !s.trim().is_empty());
        Self { data_dir, operator, store: Mutex::new(None) }
    }

    /// The operator acting in this window, if one is named.
    pub fn operator(&self) -> Option<&str> {
        self.operator.as_deref()
    }

    /// The data directory, for display.
    pub fn data_dir(&self) -> Option<&PathBuf> {
        self.data_dir.as_ref()
    }

    /// Runs `f` with the store, opening it first if needed. A failed open is retried next call.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> Result<T, Error>) -> Result<T, Error> {
        let mut guard = self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            let dir = self.data_dir.as_ref().ok_or_else(|| Error::Invalid {
                field: "data_dir",
                reason: "no data directory: start the app with --data-dir or set TSCHED_DATA_DIR".into(),
            })?;
            *guard = Some(Store::open_in(dir)?);
        }
        let store = guard.as_mut().expect("invariant: opened just above");
        f(store)
    }
}
