//! The Integration page's "Host agents" card: agents online, the queue's depth and oldest waiting
//! job, and why the queue is paused (`tsched_core::agent::status`, as `tsched agent status`).
//! Only a team store has a queue; for the embedded store the card says so and asks for nothing.

use serde::Serialize;
use tauri::State;
use tsched_core::agent::{self, Status};

use super::CmdResult;
use crate::state::AppState;

/// What the "Host agents" card shows.
#[derive(Debug, Serialize)]
pub struct AgentPage {
    /// Whether this is a team store (only a team store has a host agent and its queue).
    pub team: bool,
    /// Agents online, queue depth, pause reason; `None` for the embedded store.
    pub status: Option<Status>,
}

/// The agents' status for a team store; `team: false` and nothing else for the embedded store.
pub fn status_inner(state: &AppState) -> CmdResult<AgentPage> {
    let team = state.with_store(|s| Ok(s.queue().is_some()))?;
    if !team {
        return Ok(AgentPage { team, status: None });
    }
    // As `tsched agent status`: an operator of the team reads it (the database's policies too).
    let status = state.with_actor(|s, _actor| agent::status(s))?;
    Ok(AgentPage {
        team,
        status: Some(status),
    })
}

/// See [`status_inner`].
#[tauri::command(async)]
pub fn agent_status(state: State<'_, AppState>) -> CmdResult<AgentPage> {
    status_inner(&state)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tsched_core::auth::MemoryTokenStore;

    use super::*;

    #[test]
    fn the_embedded_store_has_no_agents_to_show() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = AppState::with(
            Some(dir.path().to_path_buf()),
            None,
            Arc::new(MemoryTokenStore::default()),
        );
        let page = status_inner(&state).expect("the embedded store answers without an error");
        assert!(
            !page.team && page.status.is_none(),
            "the embedded store has no queue, so the card shows no agents: {page:?}"
        );
    }
}
