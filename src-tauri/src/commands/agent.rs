//! The Integration page's "Host agents" card: agents online, the queue's depth and oldest waiting
//! job, and why the queue is paused (`tsched_core::agent::status`, as `tsched agent status`).
//! Only a team store has a queue; for the embedded store the card says so and asks for nothing.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use tauri::State;
use tsched_core::agent::{self, AgentEvent, AgentOptions, Status};
use tsched_core::Error;

use super::work::Work;
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

/// The host agent this window runs while it is open (a global admin's choice, off by default):
/// the same loop as `tsched agent run`, on a thread of its own with its own connections, so the
/// team's queued work is carried out with this machine's host token while the window is open.
#[derive(Default)]
pub struct InAppAgent {
    running: Mutex<Option<Running>>,
    /// What it last said (started, a job, paused, …), for the card.
    last: Arc<Mutex<Option<String>>>,
}

struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
}

impl std::fmt::Debug for InAppAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InAppAgent").finish_non_exhaustive()
    }
}

impl Drop for InAppAgent {
    fn drop(&mut self) {
        if let Some(r) = lock(&self.running).take() {
            let _ = r.stop.send(true);
            let _ = r.thread.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether this window runs the host agent, and what it last said.
#[derive(Debug, Clone, Serialize)]
pub struct InAppView {
    /// The loop runs.
    pub running: bool,
    /// Its last event, in words.
    pub last: Option<String>,
}

fn say(e: &AgentEvent) -> String {
    match e {
        AgentEvent::Started { name } => format!("running as {name}"),
        AgentEvent::Claimed {
            job,
            kind,
            requested_by,
            ..
        } => format!("job {job}: {kind} for {requested_by}"),
        AgentEvent::Finished { job, state, error } => match error {
            Some(e) => format!("job {job}: {} — {e}", state.as_str()),
            None => format!("job {job}: {}", state.as_str()),
        },
        AgentEvent::Paused { reason } => format!("paused: {reason}"),
        AgentEvent::Resumed => "resumed".into(),
        AgentEvent::Released { job, reason } => format!("job {job} given back: {reason}"),
        AgentEvent::DatabaseLost { reason } => format!("reconnecting: {reason}"),
        AgentEvent::DatabaseRestored => "reconnected".into(),
    }
}

impl InAppAgent {
    fn view(&self) -> InAppView {
        let mut running = lock(&self.running);
        if running.as_ref().is_some_and(|r| r.thread.is_finished()) {
            *running = None;
        }
        InAppView {
            running: running.is_some(),
            last: lock(&self.last).clone(),
        }
    }

    /// Starts the loop (refused unless the acting login is a global admin of a team store);
    /// returns once it has announced itself, or with why it could not.
    fn start(&self, work: Work) -> CmdResult<InAppView> {
        if self.view().running {
            return Ok(self.view());
        }
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), Error>>(1);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let last = Arc::clone(&self.last);
        let thread = std::thread::Builder::new()
            .name("tsched-in-app-agent".into())
            .spawn(move || in_app_loop(work, ready_tx, stop_rx, last))
            .map_err(|e| Error::Conflict(format!("cannot start the agent's thread: {e}")))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {
                *lock(&self.running) = Some(Running {
                    stop: stop_tx,
                    thread,
                });
                Ok(self.view())
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e.into())
            }
            Err(_) => {
                let _ = thread.join();
                Err(Error::Conflict("the agent stopped as it started".into()).into())
            }
        }
    }

    fn stop(&self) -> InAppView {
        if let Some(r) = lock(&self.running).take() {
            let _ = r.stop.send(true);
            let _ = r.thread.join();
            *lock(&self.last) = Some("stopped".into());
        }
        self.view()
    }
}

fn in_app_loop(
    work: Work,
    ready: std::sync::mpsc::SyncSender<Result<(), Error>>,
    stop: tokio::sync::watch::Receiver<bool>,
    last: Arc<Mutex<Option<String>>>,
) {
    let started = (|| -> Result<_, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Conflict(format!("cannot start the async runtime: {e}")))?;
        let (store, _actor) = work.open()?;
        if !store.is_shared() {
            return Err(Error::Conflict(
                "the host agent works a team store; this window uses the embedded store".into(),
            ));
        }
        let (heart, _) = work.open()?;
        let reopen: agent::Opener = {
            let work = work.clone();
            Arc::new(move || work.open().map(|(s, _)| s))
        };
        let opts = AgentOptions {
            reopen: Some(reopen),
            ..AgentOptions::default()
        };
        let a = agent::Agent::start(&store, heart, &opts)?;
        Ok((rt, store, a, opts))
    })();
    let (rt, mut store, a, opts) = match started {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let record = move |e: AgentEvent| {
        *lock(&last) = Some(say(&e));
    };
    // Woken by the database at once when a job is queued, as `tsched agent run` is; without a
    // feed (it could not log in) the agent still polls, every 10 s when idle.
    let wake = Arc::new(tokio::sync::Notify::new());
    let _feed = match work.password() {
        Ok(password) => agent::work_feed(&store, password.as_ref(), &wake),
        Err(e) => {
            tracing::warn!(error = %e, "no database password for the in-app agent's change feed; it polls the queue");
            None
        }
    };
    if let Err(e) = rt.block_on(a.run(&mut store, work.tokens(), &opts, wake, stop, &record)) {
        tracing::warn!(error = %e, "the in-app host agent stopped");
    }
}

/// Whether this window runs the host agent.
#[tauri::command]
pub fn agent_in_app(agent: State<'_, InAppAgent>) -> InAppView {
    agent.view()
}

/// Starts (`on`) or stops this window's host agent. Starting needs a global admin of a team
/// store with the host's token on this machine.
#[tauri::command]
pub async fn agent_in_app_set(
    state: State<'_, AppState>,
    agent: State<'_, InAppAgent>,
    on: bool,
) -> CmdResult<InAppView> {
    if !on {
        return Ok(agent.stop());
    }
    let work = Work::from_state(&state)?;
    agent.start(work)
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
