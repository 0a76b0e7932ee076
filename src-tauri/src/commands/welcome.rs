//! Welcome page commands: whether this store is on its first run (the window then opens on the
//! welcome page) and dismissing the welcome. The rule lives in `tsched_core::welcome`.

use tauri::State;
use tsched_core::welcome::{self, Welcome};

use super::CmdResult;
use crate::state::AppState;

/// Whether the window should open on the welcome page.
pub fn status_inner(state: &AppState) -> CmdResult<Welcome> {
    Ok(state.with_store(|s| welcome::status(s))?)
}

/// See [`status_inner`].
#[tauri::command(async)]
pub fn welcome_status(state: State<'_, AppState>) -> CmdResult<Welcome> {
    status_inner(&state)
}

/// Remembers that the person moved on from the welcome page (audited once); false when it was
/// already dismissed.
pub fn dismiss_inner(state: &AppState) -> CmdResult<bool> {
    Ok(state.with_actor(welcome::dismiss)?)
}

/// See [`dismiss_inner`].
#[tauri::command(async)]
pub fn welcome_dismiss(state: State<'_, AppState>) -> CmdResult<bool> {
    dismiss_inner(&state)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tsched_core::auth::MemoryTokenStore;

    use super::*;

    fn state(dir: &std::path::Path, operator: Option<&str>) -> AppState {
        AppState::with(
            Some(dir.to_path_buf()),
            operator.map(str::to_string),
            Arc::new(MemoryTokenStore::default()),
        )
    }

    #[test]
    fn a_fresh_data_dir_opens_on_the_welcome_until_dismissed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = state(dir.path(), None);
        assert!(
            status_inner(&st).expect("status").first_run,
            "a fresh data directory is a first run"
        );
        assert!(
            dismiss_inner(&st).expect("dismiss"),
            "the first dismissal writes"
        );
        let again = state(dir.path(), None);
        assert!(
            !status_inner(&again).expect("status").first_run,
            "the next start (a new app state on the same directory) skips the welcome"
        );
    }

    #[test]
    fn prefill_is_refused_in_the_window_until_the_sandbox_is_connected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let st = state(dir.path(), None);
        let err = super::super::sandbox::prefill_inner(&st).expect_err("no tenant is connected");
        assert_eq!(err.code, "conflict", "a clear, stable code: {err:?}");
        assert!(
            err.message.contains("sandbox tenant"),
            "the message says what to do: {}",
            err.message
        );
        assert!(
            status_inner(&st).expect("status").first_run,
            "a refused prefill leaves the store on its first run"
        );
    }
}
