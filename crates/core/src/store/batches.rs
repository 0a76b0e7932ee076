//! Tables `batches` and `batch_items`: the row types, the lifecycles and the [`BatchTable`]
//! queries every backend answers (`store::sqlite::batches` holds the SQLite statements and the
//! one mapping of the states to their stored names), including the resume bookkeeping (which
//! items are queued, in flight, done). Validation and the run live in `crate::batch`; this module
//! only describes reads and writes. No token, passcode or Graph error body beyond Graph's code
//! and message.

use serde::Serialize;

use super::page::{Page, PageError};
use super::StoreError;

/// Lifecycle of a batch. Its name ([`BatchState::as_str`]) is what front ends show and JSON
/// carries; each backend maps it to its stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BatchState {
    /// Stored, nothing sent yet.
    Planned,
    /// A run is sending its items (or was, when it was killed).
    Running,
    /// Stopped until a person acts (e.g. "reconnect the host").
    Paused,
    /// Cancelled: no new item is sent.
    Cancelled,
    /// Every item reached an end state.
    Completed,
}

impl BatchState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 5] = [
        Self::Planned,
        Self::Running,
        Self::Paused,
        Self::Cancelled,
        Self::Completed,
    ];

    /// Its name, as front ends show it and JSON carries it (snake_case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }

    /// The state a name stands for (`None` for a name this build does not know).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether `batch resume` has work to do: not finished and not cancelled.
    pub fn resumable(self) -> bool {
        matches!(self, Self::Planned | Self::Running | Self::Paused)
    }
}

impl std::fmt::Display for BatchState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As its name: the window and `--json` read `"state": "running"`.
impl Serialize for BatchState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Lifecycle of a batch item. Its name ([`ItemState::as_str`]) is what front ends show, filters
/// name and JSON carries; each backend maps it to its stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ItemState {
    /// Waiting to be sent.
    Queued,
    /// Sent, answer not recorded.
    InFlight,
    /// The meeting exists.
    Done,
    /// Given up.
    Failed,
    /// Never sent (cancelled).
    Cancelled,
    /// Created, then deleted by `cancel --undo`.
    Undone,
}

impl ItemState {
    /// Every state, in the order front ends list them.
    pub const ALL: [Self; 6] = [
        Self::Queued,
        Self::InFlight,
        Self::Done,
        Self::Failed,
        Self::Cancelled,
        Self::Undone,
    ];

    /// Its name, as front ends show it, filters name it and JSON carries it (snake_case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::InFlight => "in_flight",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Undone => "undone",
        }
    }

    /// The state a name stands for (`None` for a name this build does not know).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether an executor still has to send it (`in_flight` ones of a dead run included).
    pub fn pending(self) -> bool {
        matches!(self, Self::Queued | Self::InFlight)
    }
}

impl std::fmt::Display for ItemState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As its name: the window and `--json` read `"state": "in_flight"`.
impl Serialize for ItemState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A batch with its item counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchRow {
    /// Row id (what `tsched batch show ID` takes).
    pub id: i64,
    /// Stable unique id (UUID).
    pub uid: String,
    /// The CSV file's name as given.
    pub source_name: String,
    /// SHA-256 of the file's bytes.
    pub source_sha256: String,
    /// Where it stands (serialized as its name: `planned`, `running`, `paused`, `cancelled`,
    /// `completed`).
    pub state: BatchState,
    /// Why it is paused.
    pub pause_reason: Option<String>,
    /// Concurrency to use.
    pub concurrency: i64,
    /// Codes of the programs its items belong to (for access checks).
    pub programs: Vec<String>,
    /// Who created it.
    pub created_by: String,
    /// Created (UTC).
    pub created_at: String,
    /// Last change (UTC).
    pub updated_at: String,
    /// Finished (UTC).
    pub finished_at: Option<String>,
    /// Item counts.
    pub counts: Counts,
}

impl BatchRow {
    /// Whether `batch resume` has work to do: not finished and not cancelled.
    pub fn resumable(&self) -> bool {
        self.state.resumable()
    }
}

/// Item counts by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// All items.
    pub total: u64,
    /// Waiting.
    pub queued: u64,
    /// Sent, answer not recorded.
    pub in_flight: u64,
    /// Meeting exists.
    pub done: u64,
    /// Given up.
    pub failed: u64,
    /// Never sent (cancelled).
    pub cancelled: u64,
    /// Created then deleted by `cancel --undo`.
    pub undone: u64,
}

impl Counts {
    /// Records that `n` items are in `state` (`None`: a state this build does not know, counted
    /// in the total only).
    pub fn add(&mut self, state: Option<ItemState>, n: u64) {
        self.total += n;
        match state {
            Some(ItemState::Queued) => self.queued = n,
            Some(ItemState::InFlight) => self.in_flight = n,
            Some(ItemState::Done) => self.done = n,
            Some(ItemState::Failed) => self.failed = n,
            Some(ItemState::Cancelled) => self.cancelled = n,
            Some(ItemState::Undone) => self.undone = n,
            None => {}
        }
    }
}

/// One item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemRow {
    /// Batch id.
    pub batch_id: i64,
    /// 1-based CSV line.
    pub line: u64,
    /// The `externalId` sent to `createOrGet`.
    pub external_id: String,
    /// The resolved row (`batch::MeetingRow` as JSON).
    pub row_json: String,
    /// Where it stands (serialized as its name: `queued`, `in_flight`, `done`, `failed`,
    /// `cancelled`, `undone`).
    pub state: ItemState,
    /// Graph meeting id.
    pub graph_id: Option<String>,
    /// Join link.
    pub join_web_url: Option<String>,
    /// True when this batch created it (201), false when it already existed (200).
    pub created_now: Option<bool>,
    /// Graph's error code (or ours).
    pub error_code: Option<String>,
    /// Graph's error message.
    pub error_message: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// Last change (UTC).
    pub updated_at: String,
}

/// The cursor name of [`BatchTable::batches_page`] (a batch page's sort key is its id).
pub const BATCHES_CURSOR: &str = "batches";

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::batches` for SQLite).
pub trait BatchTable {
    /// Inserts a batch in state `planned`; returns its id.
    #[allow(clippy::too_many_arguments)]
    fn batch_insert(
        &self,
        uid: &str,
        source_name: &str,
        sha256: &str,
        concurrency: i64,
        programs: &[String],
        created_by: &str,
        now: &str,
    ) -> Result<i64, StoreError>;

    /// Inserts a queued item.
    fn batch_item_insert(
        &self,
        batch_id: i64,
        line: u64,
        external_id: &str,
        row_json: &str,
        now: &str,
    ) -> Result<(), StoreError>;

    /// A live (queued, in flight or done) item with this `externalId` in another batch:
    /// `(batch id, line)`.
    fn batch_live_item(&self, external_id: &str) -> Result<Option<(i64, u64)>, StoreError>;

    /// Sets the state (and pause reason) of a batch; `finished` stamps `finished_at`.
    fn batch_set_state(
        &self,
        id: i64,
        state: BatchState,
        reason: Option<&str>,
        finished: bool,
        now: &str,
    ) -> Result<usize, StoreError>;

    /// The state of a batch (cheap: polled while running to notice a cancel); `None` when
    /// there is no such batch or its state is a name this build does not know.
    fn batch_state(&self, id: i64) -> Result<Option<BatchState>, StoreError>;

    /// One batch with counts.
    fn batch_by_id(&self, id: i64) -> Result<Option<BatchRow>, StoreError>;

    /// Every batch, newest first, with counts.
    fn batches_list(&self) -> Result<Vec<BatchRow>, StoreError>;

    /// One page of batches, newest first, with counts; `after` is the previous page's cursor.
    fn batches_page(&self, after: Option<&str>, limit: u32) -> Result<Page<BatchRow>, PageError>;

    /// Item counts of a batch.
    fn batch_counts(&self, batch_id: i64) -> Result<Counts, StoreError>;

    /// Items of a batch in line order; `state` filters.
    fn batch_items(
        &self,
        batch_id: i64,
        state: Option<ItemState>,
    ) -> Result<Vec<ItemRow>, StoreError>;

    /// The most recently failed items of every batch, newest first, at most `limit` (what a
    /// diagnostics bundle reports).
    fn batch_items_recent_failed(&self, limit: u32) -> Result<Vec<ItemRow>, StoreError>;

    /// One page of a batch's items in line order, optionally in one state; `after` is the
    /// previous page's cursor.
    fn batch_items_page(
        &self,
        batch_id: i64,
        state: Option<ItemState>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ItemRow>, PageError>;

    /// Resume bookkeeping: items left `in_flight` by an interrupted run go back to the queue
    /// (their request may or may not have reached Graph; `createOrGet` makes resending safe).
    fn batch_items_requeue_in_flight(&self, batch_id: i64, now: &str) -> Result<usize, StoreError>;

    /// An attempt starts: `in_flight`, attempts + 1. Returns 0 (send nothing) when the item is
    /// no longer queued or the batch was cancelled.
    fn batch_item_mark_in_flight(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError>;

    /// Back to the queue after a transient failure (the wait is kept in memory only); an item
    /// of a batch cancelled meanwhile ends `cancelled` instead.
    fn batch_item_mark_queued(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError>;

    /// The meeting exists.
    #[allow(clippy::too_many_arguments)]
    fn batch_item_mark_done(
        &self,
        batch_id: i64,
        line: u64,
        graph_id: &str,
        join_web_url: &str,
        created_now: bool,
        now: &str,
    ) -> Result<usize, StoreError>;

    /// Links an item to its row in `meetings`.
    fn batch_item_set_meeting(
        &self,
        batch_id: i64,
        line: u64,
        meeting_id: i64,
    ) -> Result<usize, StoreError>;

    /// Given up on (non-retryable answer).
    fn batch_item_mark_failed(
        &self,
        batch_id: i64,
        line: u64,
        code: &str,
        message: &str,
        now: &str,
    ) -> Result<usize, StoreError>;

    /// Cancel: every queued item becomes `cancelled`. Items `in_flight` are left to the run
    /// that sent them (its answer decides whether a meeting exists); a runner can no longer
    /// start a cancelled item because [`BatchTable::batch_item_mark_in_flight`] only moves
    /// queued items of a batch that is not cancelled.
    fn batch_items_cancel_queued(&self, batch_id: i64, now: &str) -> Result<usize, StoreError>;

    /// Cancel of items left `in_flight` by a run that is gone: they become `cancelled`.
    fn batch_items_cancel_in_flight(&self, batch_id: i64, now: &str) -> Result<usize, StoreError>;

    /// Undo: a done item whose meeting was deleted.
    fn batch_item_mark_undone(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_name() {
        for s in ItemState::ALL {
            assert_eq!(
                ItemState::parse(s.as_str()),
                Some(s),
                "item state {s} must read back from its name"
            );
        }
        for s in BatchState::ALL {
            assert_eq!(
                BatchState::parse(s.as_str()),
                Some(s),
                "batch state {s} must read back from its name"
            );
        }
        assert_eq!(
            (ItemState::InFlight.as_str(), BatchState::parse("bogus")),
            ("in_flight", None),
            "names are snake_case and an unknown name is no state"
        );
    }

    #[test]
    fn rows_serialize_their_state_as_the_same_text_as_before_it_was_typed() {
        // The window's pages and `tsched batch … --json` read these strings.
        let names = |v: Vec<serde_json::Value>| -> Vec<String> {
            v.into_iter()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        };
        let batch: Vec<_> = BatchState::ALL
            .iter()
            .map(|s| serde_json::to_value(s).expect("serialize"))
            .collect();
        assert_eq!(
            names(batch),
            ["planned", "running", "paused", "cancelled", "completed"],
            "batch states serialize as their snake_case names"
        );
        let item: Vec<_> = ItemState::ALL
            .iter()
            .map(|s| serde_json::to_value(s).expect("serialize"))
            .collect();
        assert_eq!(
            names(item),
            [
                "queued",
                "in_flight",
                "done",
                "failed",
                "cancelled",
                "undone"
            ],
            "item states serialize as their snake_case names"
        );
    }
}
