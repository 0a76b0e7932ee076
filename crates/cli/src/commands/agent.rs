//! `tsched agent`: the host agent (run on the machine that holds the host's token), its status,
//! and the jobs workstations queued for it; plus how the meeting and batch commands hand their
//! work to it in a team store ([`Via`], [`queued`]).

use std::sync::Arc;

use clap::{Args, Subcommand};
use tsched_core::agent::{self, AgentEvent, AgentOptions};
use tsched_core::store::queue::{JobRow, JobState};
use tsched_core::Store;

use super::Context;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum AgentCmd {
    /// Run the host agent: carry out the team's queued Graph work with this machine's host
    /// token (a global admin's login; stop with Ctrl-C).
    Run {
        /// Stop once the queue is empty.
        #[arg(long)]
        until_idle: bool,
        /// Seconds a claim on a job holds without a heartbeat: how soon another agent takes
        /// over the work of one that died.
        #[arg(long, value_name = "SECS", default_value_t = agent::CLAIM_TTL_SECS)]
        claim_ttl: i64,
        /// Seconds between looks at the queue when no notification came (and between tries
        /// of the host's session while paused, at most 15).
        #[arg(long, value_name = "SECS", default_value_t = agent::POLL.as_secs())]
        poll: u64,
        /// Print events as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Agents online, their last heartbeat, the queue's depth and its oldest waiting job.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The latest jobs (yours; every job for global admins and support).
    Jobs {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One job; with --wait, follow it to its end.
    Job {
        /// The job's id.
        id: i64,
        /// Wait until the agent has carried it out.
        #[arg(long)]
        wait: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// How a command's Graph work is done in a team store: queued for the host agent (the
/// default), or from this machine (`--direct`, which needs the host's token here).
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct Via {
    /// In a team store: call Graph from this machine (it must hold the host's token) instead of
    /// queueing the work for the host agent.
    #[arg(long)]
    pub direct: bool,
    /// In a team store: wait until the host agent has carried the work out and show the result.
    #[arg(long)]
    pub wait: bool,
}

impl Via {
    /// Whether this command's work goes to the queue.
    pub fn queues(self, store: &Store) -> bool {
        store.is_shared() && !self.direct
    }
}

pub fn run(cmd: AgentCmd, ctx: &Context) -> anyhow::Result<()> {
    match cmd {
        AgentCmd::Run {
            until_idle,
            claim_ttl,
            poll,
            json,
        } => run_agent(ctx, until_idle, claim_ttl, poll, json),
        AgentCmd::Status { json } => status(ctx, json),
        AgentCmd::Jobs { limit, json } => jobs(ctx, limit, json),
        AgentCmd::Job { id, wait, json } => {
            let store = ctx.store()?;
            ctx.actor(&store)?;
            if wait {
                let j = follow(ctx, &store, id, json)?;
                return finish(&j, json, |_| Ok(()));
            }
            let j = agent::job(&store, id)?;
            if json {
                output::json(&j)
            } else {
                print!("{}", describe(&j));
                Ok(())
            }
        }
    }
}

fn run_agent(
    ctx: &Context,
    until_idle: bool,
    claim_ttl: i64,
    poll: u64,
    json: bool,
) -> anyhow::Result<()> {
    for (field, v) in [("claim-ttl", claim_ttl), ("poll", poll as i64)] {
        if v < 1 {
            return Err(tsched_core::Error::Invalid {
                field,
                reason: "must be at least 1 second".into(),
            }
            .into());
        }
    }
    let location = ctx.location()?;
    let reopen: agent::Opener = {
        let location = location.clone();
        Arc::new(move || {
            tsched_core::store::location::open(&location, &tsched_core::store::location::keyring())
        })
    };
    let opts = AgentOptions {
        until_idle,
        claim_ttl_secs: claim_ttl,
        poll: std::time::Duration::from_secs(poll),
        reopen: Some(reopen),
        ..AgentOptions::default()
    };
    let mut store = ctx.store()?;
    if !store.is_shared() {
        anyhow::bail!(
            "the host agent works a team's shared database; this data directory uses the embedded store (see `tsched store use`)"
        );
    }
    ctx.actor(&store)?;
    let heart = ctx.store()?;
    let agent = agent::Agent::start(&store, heart, &opts)?;
    let wake = Arc::new(tokio::sync::Notify::new());
    // Woken by the database at once when a job is queued (a feed without the pages' coalescing);
    // the agent also polls, so a lost feed only slows it down.
    let password = tsched_core::store::location::session_password(
        &location,
        &tsched_core::store::location::keyring(),
    )?;
    let _feed = agent::work_feed(&store, password.as_ref(), &wake);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let rt = ctx.runtime()?;
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop_tx.send(true);
        }
    });
    let print = move |e: AgentEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(&e) {
                println!("{line}");
            }
            return;
        }
        match e {
            AgentEvent::Started { name } => {
                println!("Host agent {name} is running; Ctrl-C stops it.")
            }
            AgentEvent::Claimed {
                job,
                kind,
                requested_by,
                attempt,
            } => {
                let again = if attempt > 1 {
                    format!(" (taken over, attempt {attempt})")
                } else {
                    String::new()
                };
                println!("Job {job}: {kind} for {requested_by}{again}");
            }
            AgentEvent::Finished { job, state, error } => match error {
                Some(e) => println!("Job {job}: {} — {e}", state.as_str()),
                None => println!("Job {job}: {}", state.as_str()),
            },
            AgentEvent::Paused { reason } => println!("Paused: {reason}"),
            AgentEvent::Resumed => println!("Resumed: the host's session works again."),
            AgentEvent::Released { job, reason } => {
                println!("Job {job}: given back for later — {reason}")
            }
            AgentEvent::DatabaseLost { reason } => {
                println!("Lost the team database ({reason}); reconnecting…")
            }
            AgentEvent::DatabaseRestored => println!("Reconnected to the team database."),
        }
    };
    rt.block_on(agent.run(&mut store, ctx.tokens(), &opts, wake, stop_rx, &print))?;
    Ok(())
}

fn status(ctx: &Context, json: bool) -> anyhow::Result<()> {
    let store = ctx.store()?;
    ctx.actor(&store)?;
    let s = agent::status(&store)?;
    if json {
        return output::json(&s);
    }
    if s.online.is_empty() {
        println!("No host agent is online: queued work waits until one runs (`tsched agent run` on the machine that holds the host's token).");
    }
    for a in &s.online {
        let reason = a
            .pause_reason
            .as_deref()
            .map(|r| format!(" — {r}"))
            .unwrap_or_default();
        println!(
            "Agent {} ({} on {}): {}, last heartbeat {:.0} s ago{}{reason}",
            a.name,
            a.login,
            a.host,
            a.state,
            a.heartbeat_age_secs,
            a.current_job
                .map(|j| format!(", working on job {j}"))
                .unwrap_or_default(),
        );
    }
    println!(
        "Queue: {} waiting, {} being carried out{}",
        s.queue.queued,
        s.queue.claimed,
        match (&s.queue.oldest_waiting_since, s.queue.oldest_waiting_secs) {
            (Some(at), Some(secs)) => format!("; oldest waiting since {at} ({secs:.0} s)"),
            _ => String::new(),
        }
    );
    if let Some(r) = &s.paused {
        println!("Paused: {r}");
    }
    Ok(())
}

fn jobs(ctx: &Context, limit: u32, json: bool) -> anyhow::Result<()> {
    let store = ctx.store()?;
    ctx.actor(&store)?;
    let rows = store
        .queue()
        .ok_or_else(|| anyhow::anyhow!("the embedded store has no queue for a host agent"))?
        .queue_recent(limit)?;
    if json {
        return output::json(&rows);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|j| {
            vec![
                j.id.to_string(),
                j.kind.to_string(),
                j.state.as_str().to_string(),
                j.requested_by.clone(),
                j.requested_at.clone(),
                j.batch_id.map(|b| b.to_string()).unwrap_or_default(),
                j.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        output::table(
            &[
                "ID",
                "KIND",
                "STATE",
                "REQUESTED BY",
                "AT",
                "BATCH",
                "ERROR"
            ],
            &table
        )
    );
    Ok(())
}

fn describe(j: &JobRow) -> String {
    let mut s = format!(
        "Job {}: {} — {}\n  Requested by {} at {}\n",
        j.id,
        j.kind,
        j.state.as_str(),
        j.requested_by,
        j.requested_at
    );
    if let Some(a) = &j.claimed_by {
        s.push_str(&format!("  Agent: {a} (attempt {})\n", j.attempts));
    }
    if let Some(b) = j.batch_id {
        s.push_str(&format!("  Batch: {b}\n"));
    }
    if let Some(e) = &j.error {
        s.push_str(&format!("  Error: {e}\n"));
    }
    s
}

/// Follows job `id` to its end, saying on stderr where it is (unless `quiet`).
pub fn follow(ctx: &Context, store: &Store, id: i64, quiet: bool) -> anyhow::Result<JobRow> {
    let said = move |j: &JobRow| {
        if quiet {
            return;
        }
        match j.state {
            JobState::Queued => eprintln!("Job {id}: waiting for the host agent…"),
            JobState::Claimed => eprintln!(
                "Job {id}: the host agent is on it{}",
                j.batch_id
                    .map(|b| format!(" (batch {b})"))
                    .unwrap_or_default()
            ),
            JobState::Done | JobState::Failed => {}
        }
    };
    Ok(ctx
        .runtime()?
        .block_on(agent::wait(store, id, None, &said))?)
}

/// A job that ended: `done` shows its result through `show`, `failed` is an error.
pub fn finish(
    j: &JobRow,
    json: bool,
    show: impl FnOnce(&serde_json::Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    match j.state {
        JobState::Done => {
            let v: serde_json::Value = j
                .result
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?
                .unwrap_or(serde_json::Value::Null);
            if json {
                output::json(&v)
            } else {
                show(&v)
            }
        }
        JobState::Failed => anyhow::bail!(
            "the host agent could not carry out job {}: {}",
            j.id,
            j.error.as_deref().unwrap_or("no reason recorded")
        ),
        _ => {
            if json {
                output::json(&serde_json::json!({ "job": j.id, "state": j.state }))
            } else {
                println!("Job {}: {}", j.id, j.state.as_str());
                Ok(())
            }
        }
    }
}

/// A job just queued: with `wait`, follow it and show its result; else print its id.
pub fn queued(
    ctx: &Context,
    store: &Store,
    id: i64,
    wait: bool,
    json: bool,
    show: impl FnOnce(&serde_json::Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if !wait {
        if json {
            return output::json(&serde_json::json!({ "job": id, "state": "queued" }));
        }
        println!(
            "Queued as job {id} for the host agent; `tsched agent job {id} --wait` follows it."
        );
        if let Ok(s) = agent::status(store) {
            if s.online.is_empty() {
                println!("Note: no host agent is online right now; the job waits until one runs.");
            } else if let Some(r) = s.paused {
                println!("Note: the host agent is paused: {r}");
            }
        }
        return Ok(());
    }
    let j = follow(ctx, store, id, json)?;
    finish(&j, json, show)
}
