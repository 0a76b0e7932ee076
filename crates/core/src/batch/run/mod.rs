//! Running a batch: store it with all its items before the first request, then create the
//! meetings concurrently through `createOrGet` under the [`RateController`], record every answer,
//! and survive anything: a kill leaves items `queued`/`in_flight` that [`resume`] sends again
//! (safe: the `externalId` makes `createOrGet` return the existing meeting), a revoked refresh
//! token pauses the batch ("reconnect the host"), a cancel stops scheduling. A run holds a
//! lease on its batch ([`lease`]): a second run of the same batch is refused while the first is
//! there, and a batch whose run is gone reads `interrupted`.
//!
//! Split by job: [`transport`] sends one attempt and classifies Graph's answer, [`create`]
//! stores a planned batch, [`executor`] runs its items, [`lease`] says who runs a batch,
//! [`history`] lists, shows and cancels (and undoes) batches. Everything public is re-exported here, so callers name
//! `batch::run::{execute, resume, cancel, ...}`.
//!
//! [`RateController`]: crate::batch::rate::RateController

mod create;
mod executor;
mod history;
mod lease;
mod transport;

use serde::Serialize;

pub use create::{create, run};
pub use executor::{execute, resume};
pub use history::{cancel, items_page, list, list_page, show, show_page, Cancelled};
pub(crate) use lease::this_host;
pub use transport::{classify, Attempt, GraphTransport, Transport};

use std::time::Duration;

use super::plan::{self, Plan, RowStatus};
use super::rate::{BackoffConfig, RateConfig};
use super::MeetingRow;
use crate::access::{self, Action};
use crate::actor::Actor;
use crate::error::Error;
use crate::store::batches::{BatchRow, ItemRow};
use crate::store::Store;

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Rate controller tunables.
    pub rate: RateConfig,
    /// Per-item backoff of transient failures.
    pub backoff: BackoffConfig,
    /// Transient failures of one item before it fails (each wait capped by `backoff.cap`).
    pub max_transient_attempts: u32,
    /// How often `Progress` is emitted and a cancel is looked for.
    pub tick: Duration,
    /// Run even when some rows are rejected (only the ready rows become items).
    pub skip_rejected: bool,
    /// The uid to store a new batch under (default: a new UUID). The host agent derives it
    /// from its job, so a job retried after a crash finds the batch it had stored.
    pub batch_uid: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            rate: RateConfig::default(),
            backoff: BackoffConfig::default(),
            max_transient_attempts: 12,
            tick: Duration::from_millis(250),
            skip_rejected: false,
            batch_uid: None,
        }
    }
}

impl RunOptions {
    /// The options to resume batch `id` with: the concurrency it was started with (stored with
    /// the batch), unless `concurrency` overrides it; at least 1. Both front ends resume through
    /// this, so "resume" means the same thing in the window and the CLI. Needs the view of the
    /// batch that [`show`] needs.
    pub fn for_resume(
        store: &Store,
        actor: &Actor,
        id: i64,
        concurrency: Option<usize>,
    ) -> Result<Self, Error> {
        let stored = show(store, actor, id)?.batch.concurrency;
        Ok(Self {
            concurrency: concurrency
                .unwrap_or_else(|| usize::try_from(stored).unwrap_or(1))
                .max(1),
            ..Self::default()
        })
    }
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// The batch.
    pub batch: BatchRow,
    /// 429s seen in this run.
    pub throttled: u64,
    /// Attempts sent in this run.
    pub requests: u64,
}

/// A batch with its items.
#[derive(Debug, Clone, Serialize)]
pub struct BatchView {
    /// The batch and counts.
    pub batch: BatchRow,
    /// Items in line order.
    pub items: Vec<ItemRow>,
}

fn now_db() -> String {
    crate::time::now_db()
}

/// Batch `id` as front ends show it (`interrupted` when its run is gone).
fn load(store: &Store, id: i64) -> Result<BatchRow, Error> {
    let batch = store.tables().batch_by_id(id)?.ok_or(Error::NotFound {
        what: "batch",
        key: id.to_string(),
    })?;
    Ok(lease::shown(batch))
}

fn rows_of(items: &[ItemRow]) -> Result<Vec<MeetingRow>, Error> {
    items
        .iter()
        .map(|i| {
            serde_json::from_str::<MeetingRow>(&i.row_json).map_err(|e| {
                Error::invalid(
                    "batch item",
                    format!("line {}: unreadable stored row: {e}", i.line),
                )
            })
        })
        .collect()
}

fn require_programs(
    store: &Store,
    actor: &Actor,
    rows: &[MeetingRow],
) -> Result<access::Resolved, Error> {
    let mut who = access::resolve(store.tables(), actor)?;
    let programs: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.program.as_str()).collect();
    for p in programs {
        who = access::require(store.tables(), actor, Action::BatchesManage, Some(p))?;
    }
    Ok(who)
}

/// The rejected rows of a plan, for front ends that list only what needs fixing.
pub fn rejected_rows(plan: &Plan) -> impl Iterator<Item = &plan::PlannedRow> {
    plan.rows.iter().filter(|r| r.status == RowStatus::Rejected)
}
