//! One module per subcommand; each is a short `run()` over the core.

pub mod agent;
pub mod audit;
pub mod batch;
pub mod diagnostics;
pub mod integration;
pub mod meetings;
pub mod members;
pub mod operators;
pub mod programs;
pub mod session;
pub mod store;

use std::path::PathBuf;

use anyhow::Context as _;
use tsched_core::{Actor, Store};

/// What every subcommand gets from the global flags.
#[derive(Debug)]
pub struct Context {
    /// `--data-dir`, if given.
    pub data_dir: Option<PathBuf>,
    /// `--as UPN` / `TSCHED_OPERATOR`: act as this operator of the roster without the saved
    /// sign-in: test-only (`TSCHED_TEST_IMPERSONATION=1`), audited as impersonation.
    pub as_upn: Option<String>,
    /// `--database-url`, if given (it may hold a password: redacted in `Debug`).
    database_url: Option<tsched_core::secret::Sensitive<String>>,
    /// The command's one async runtime, started when first needed (most reads never need it).
    rt: std::sync::OnceLock<tokio::runtime::Runtime>,
}

impl Context {
    /// The context of one command run.
    pub fn new(data_dir: Option<PathBuf>, as_upn: Option<String>) -> Self {
        Self {
            data_dir,
            as_upn,
            database_url: None,
            rt: std::sync::OnceLock::new(),
        }
    }

    /// With `--database-url URL`.
    pub fn with_database_url(mut self, url: Option<String>) -> Self {
        self.database_url = url.map(tsched_core::secret::Sensitive::new);
        self
    }

    /// The data directory (`--data-dir`, `TSCHED_DATA_DIR` or the platform's).
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        tsched_core::paths::resolve_data_dir(self.data_dir.as_deref())
            .context("no data directory: pass --data-dir or set TSCHED_DATA_DIR")
    }

    /// Which store this run works with: `--database-url`, `TSCHED_DATABASE_URL`, the data
    /// directory's store.toml, else the embedded store.
    pub fn location(&self) -> anyhow::Result<tsched_core::store::location::Location> {
        let dir = self.data_dir()?;
        let flag = self.database_url.as_ref().map(|u| u.expose().as_str());
        Ok(tsched_core::store::location::resolve(flag, &dir)?)
    }

    /// The command's async runtime: one per command, shared by the proof of the operator's
    /// sign-in and the command itself. Two workers, so a batch's concurrent Graph calls and its
    /// store bookkeeping overlap.
    pub fn runtime(&self) -> anyhow::Result<&tokio::runtime::Runtime> {
        Ok(match self.rt.get() {
            Some(rt) => rt,
            None => {
                let built = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .context("cannot start the async runtime")?;
                self.rt.get_or_init(|| built)
            }
        })
    }

    /// Opens the store [`Context::location`] names: the embedded one (creating the data
    /// directory when needed) or the team database with the saved password.
    pub fn store(&self) -> anyhow::Result<Store> {
        let location = self.location()?;
        let passwords = tsched_core::store::location::keyring();
        Ok(tsched_core::store::location::open(&location, &passwords)?)
    }

    /// The OS keyring, where the host's and the operator's refresh tokens live.
    pub fn tokens(&self) -> std::sync::Arc<dyn tsched_core::auth::TokenStore> {
        std::sync::Arc::new(tsched_core::auth::KeyringTokenStore::default())
    }

    /// The host's Graph session of `store`'s integration (no network until first used).
    pub fn host_session(
        &self,
        store: &Store,
    ) -> Result<tsched_core::integration::HostSession, tsched_core::Error> {
        tsched_core::integration::session(store, self.tokens())
    }

    /// Who acts: the `--as` operator when given (the local user in setup mode; otherwise only
    /// under the test-only switch `TSCHED_TEST_IMPERSONATION=1`, audited as impersonation),
    /// else the operator signed in with `tsched login` (or the host that ended setup mode by
    /// connecting), proven against this OS user's keyring and a refresh at every run, else the
    /// local user in setup mode, else "sign in first". The core re-checks the roster inside
    /// every use case.
    pub fn actor(&self, store: &Store) -> anyhow::Result<Actor> {
        let tokens = self.tokens();
        let named = self.as_upn.as_deref().filter(|u| !u.trim().is_empty());
        self.runtime()?
            .block_on(tsched_core::signin::cli_actor(
                store,
                tokens,
                named,
                tsched_core::operators::impersonation_allowed(),
            ))
            .map_err(|e| {
                match e {
                    tsched_core::Error::Denied(m)
                        if named.is_none() && m.starts_with("sign in first") =>
                    {
                        tsched_core::Error::Denied(format!("{m}; run `tsched login`"))
                    }
                    other => other,
                }
                .into()
            })
    }
}
