//! One module per subcommand; each is a short `run()` over the core.

pub mod programs;

use std::path::PathBuf;

use anyhow::Context as _;
use tsched_core::Store;

/// What every subcommand gets from the global flags.
#[derive(Debug)]
pub struct Context {
    /// `--data-dir`, if given.
    pub data_dir: Option<PathBuf>,
}

impl Context {
    /// Opens the shared store, creating the data directory when needed.
    pub fn store(&self) -> anyhow::Result<Store> {
        let dir = tsched_core::paths::resolve_data_dir(self.data_dir.as_deref())
            .context("no data directory: pass --data-dir or set TSCHED_DATA_DIR")?;
        Ok(Store::open_in(&dir).map_err(tsched_core::Error::from)?)
    }
}
