//! Long commands (Graph calls) run off the window's thread on a blocking worker with their own
//! store connection and a current-thread runtime, so the app's store lock is never held across
//! a network wait and the core's futures need not be `Send`. On a team database that is one
//! more session for the length of the command, next to the window's.

use std::future::Future;
use std::sync::Arc;

use tsched_core::auth::TokenStore;
use tsched_core::store::location::Location;
use tsched_core::{integration, Actor, Error, Store};

use super::{CmdResult, CommandError};
use crate::state::AppState;

/// What a long command needs from the app state, owned so it can move to a worker.
#[derive(Debug, Clone)]
pub struct Work {
    location: Location,
    operator: Option<crate::state::WindowOperator>,
    tokens: Arc<dyn TokenStore>,
    passwords: Arc<dyn TokenStore>,
}

impl Work {
    /// Takes where the store is, the operator and the token stores from the state.
    pub fn from_state(state: &AppState) -> Result<Self, Error> {
        Ok(Self {
            location: state.location()?,
            operator: state.window_operator(),
            tokens: state.tokens().clone(),
            passwords: state.passwords().clone(),
        })
    }

    /// A dedicated store connection and the acting operator.
    pub fn open(&self) -> Result<(Store, Actor), Error> {
        let store = tsched_core::store::location::open(&self.location, self.passwords.as_ref())?;
        let actor = crate::state::actor_in(&store, self.operator.as_ref())?;
        Ok((store, actor))
    }

    /// The team database password saved for this login (`None` for the embedded store or a
    /// URL that carries its own): what a change feed of this work's own logs in with.
    pub fn password(&self) -> Result<Option<tsched_core::secret::Sensitive<String>>, Error> {
        tsched_core::store::location::session_password(&self.location, self.passwords.as_ref())
    }

    /// The keyring, where the host's refresh token lives.
    pub fn tokens(&self) -> Arc<dyn TokenStore> {
        self.tokens.clone()
    }

    /// The host's Graph session.
    pub fn session(&self, store: &Store) -> Result<integration::HostSession, Error> {
        integration::session(store, self.tokens.clone())
    }
}

/// Runs `fut` to completion on a current-thread runtime (call from a blocking worker).
pub fn block_on<T>(fut: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Conflict(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(fut)
}

/// Runs `f` on a blocking worker and waits for it without blocking the window.
pub async fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> CmdResult<T> + Send + 'static,
) -> CmdResult<T> {
    tauri::async_runtime::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| {
            Err(CommandError {
                code: "internal".into(),
                message: format!("the background task failed: {e}"),
            })
        })
}
