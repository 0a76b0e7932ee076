//! Long commands (Graph calls) run off the window's thread on a blocking worker with their own
//! store connection and a current-thread runtime, so the app's store lock is never held across
//! a network wait and the core's futures need not be `Send`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use tsched_core::auth::TokenStore;
use tsched_core::{integration, Actor, Error, Store};

use super::{CmdResult, CommandError};
use crate::state::AppState;

/// What a long command needs from the app state, owned so it can move to a worker.
#[derive(Debug, Clone)]
pub struct Work {
    dir: PathBuf,
    operator: Option<crate::state::WindowOperator>,
    tokens: Arc<dyn TokenStore>,
}

impl Work {
    /// Takes the data directory, the operator and the token store from the state.
    pub fn from_state(state: &AppState) -> Result<Self, Error> {
        let dir = state.data_dir().cloned().ok_or_else(|| Error::Invalid {
            field: "data_dir",
            reason: "no data directory: start the app with --data-dir or set TSCHED_DATA_DIR"
                .into(),
        })?;
        Ok(Self {
            dir,
            operator: state.window_operator(),
            tokens: state.tokens().clone(),
        })
    }

    /// A dedicated store connection and the acting operator.
    pub fn open(&self) -> Result<(Store, Actor), Error> {
        let store = Store::open_in(&self.dir)?;
        let actor = crate::state::actor_in(&store, self.operator.as_ref())?;
        Ok((store, actor))
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
