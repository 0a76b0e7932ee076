//! Shared by the CLI test binaries (`mod support;`): the `tsched` runner and a private keyring.

#![allow(dead_code)]

pub mod keyring;
mod tsched;

pub use tsched::Tsched;

impl Tsched {
    /// The `tsched` this package built, on `data_dir`, with the default environment.
    pub fn new(data_dir: impl AsRef<std::path::Path>) -> Self {
        Self::at(env!("CARGO_BIN_EXE_tsched"), data_dir)
    }
}

/// Whether the suite runs inside `make test`'s unlocked Secret Service
/// (`TSCHED_TEST_SECRET_SERVICE=1`, scripts/test-in-session.sh): only then may a test keep a
/// token in the session's keyring ([`Tsched::session_bus`]).
pub fn in_secret_service_session() -> bool {
    std::env::var("TSCHED_TEST_SECRET_SERVICE").as_deref() == Ok("1")
}
