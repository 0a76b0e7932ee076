//! One module per subcommand; each is a short `run()` over the core.

pub mod audit;
pub mod batch;
pub mod diagnostics;
pub mod integration;
pub mod meetings;
pub mod members;
pub mod operators;
pub mod programs;
pub mod session;

use std::path::PathBuf;

use anyhow::Context as _;
use tsched_core::{Actor, Store};

/// What every subcommand gets from the global flags.
#[derive(Debug)]
pub struct Context {
    /// `--data-dir`, if given.
    pub data_dir: Option<PathBuf>,
    /// `--as UPN` / `TSCHED_OPERATOR`: act as this operator of the roster without the saved
    /// sign-in (trusted automation and tests on this machine). Overrides `tsched login`.
    pub as_upn: Option<String>,
}

impl Context {
    /// Opens the shared store, creating the data directory when needed.
    pub fn store(&self) -> anyhow::Result<Store> {
        let dir = tsched_core::paths::resolve_data_dir(self.data_dir.as_deref())
            .context("no data directory: pass --data-dir or set TSCHED_DATA_DIR")?;
        Ok(Store::open_in(&dir).map_err(tsched_core::Error::from)?)
    }

    /// Who acts: the `--as` operator when given, else the operator signed in with `tsched login`
    /// (or the host that ended setup mode by connecting), else the local user in setup mode,
    /// else "sign in first". The core re-checks the roster inside every use case.
    pub fn actor(&self, store: &Store) -> anyhow::Result<Actor> {
        let upn = match &self.as_upn {
            Some(u) => Some(u.clone()),
            None => tsched_core::signin::cli_actor_upn(store)?,
        };
        tsched_core::operators::actor_for(store, upn.as_deref()).map_err(|e| {
            match e {
                tsched_core::Error::Denied(m) if upn.is_none() => tsched_core::Error::Denied(
                    format!("{m}; run `tsched login` (or act as an operator with --as UPN)"),
                ),
                other => other,
            }
            .into()
        })
    }
}
