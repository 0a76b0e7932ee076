//! One module per subcommand; each is a short `run()` over the core.

pub mod audit;
pub mod batch;
pub mod integration;
pub mod meetings;
pub mod members;
pub mod operators;
pub mod programs;

use std::path::PathBuf;

use anyhow::Context as _;
use tsched_core::{Actor, Store};

/// What every subcommand gets from the global flags.
#[derive(Debug)]
pub struct Context {
    /// `--data-dir`, if given.
    pub data_dir: Option<PathBuf>,
    /// `--as UPN` / `TSCHED_OPERATOR`: the operator to act as. A stand-in for a signed-in
    /// session until `tsched login` lands.
    pub as_upn: Option<String>,
}

impl Context {
    /// Opens the shared store, creating the data directory when needed.
    pub fn store(&self) -> anyhow::Result<Store> {
        let dir = tsched_core::paths::resolve_data_dir(self.data_dir.as_deref())
            .context("no data directory: pass --data-dir or set TSCHED_DATA_DIR")?;
        Ok(Store::open_in(&dir).map_err(tsched_core::Error::from)?)
    }

    /// Who acts: the `--as` operator when in the roster, else the local user in setup mode,
    /// else "sign in first" (the core re-checks inside every use case).
    pub fn actor(&self, store: &Store) -> anyhow::Result<Actor> {
        tsched_core::operators::actor_for(store, self.as_upn.as_deref()).map_err(|e| {
            match e {
                tsched_core::Error::Denied(m) if self.as_upn.is_none() => {
                    tsched_core::Error::Denied(format!(
                        "{m}; act as an operator with --as UPN or TSCHED_OPERATOR=UPN"
                    ))
                }
                other => other,
            }
            .into()
        })
    }
}
