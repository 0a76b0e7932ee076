//! Tables `batches` and `batch_items`: the row types, the lifecycles and the [`BatchTable`]
//! queries every backend answers (`store::sqlite::batches` and `store::postgres::batches` hold
//! the statements), including the resume bookkeeping (which items are queued, in flight, done).
//! Validation and the run live in `crate::batch`; this module only describes reads and writes.
//! No token, passcode or Graph error body beyond Graph's code and message.
//!
//! What both backends do alike lives here once: the one mapping of the states to the names
//! their `state` columns store (which the schemas' `CHECK`s and the statements' literals spell
//! the same way), the columns a batch and an item are read from and their assembly
//! ([`batch_from`], [`item_from`]), the counts from `batch_item_counts` rows, and the pages'
//! cursors and seek constraints, and the run's lease: who holds it ([`Holder`]), when it is
//! live ([`Lease::live`]), and the one condition under which a run may take it
//! ([`lease_free`]).

use std::collections::HashMap;

use serde::Serialize;

use super::columns::Columns;
use super::page::{self, Arg, Page, PageError};
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
    /// Shown, never stored: a batch stored `running` whose run is gone (its lease expired, was
    /// released without an end state, or its holder's process on this host has exited). See
    /// [`BatchRow::shown`]; `batch resume` finishes it.
    Interrupted,
}

impl BatchState {
    /// Every stored state, in lifecycle order ([`BatchState::Interrupted`] is only shown).
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
            Self::Interrupted => "interrupted",
        }
    }

    /// The state a name stands for (`None` for a name this build does not know).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether `batch resume` has work to do now: not finished, not cancelled, and no live run
    /// holds it (a `running` batch whose run is gone reads [`BatchState::Interrupted`]).
    pub fn resumable(self) -> bool {
        matches!(self, Self::Planned | Self::Paused | Self::Interrupted)
    }

    /// The name `batches.state` stores for it, in both backends: its name (the schemas'
    /// `CHECK`s spell the same names; a test stores every state on each backend). The one place
    /// to change should the stored names ever part from the shown ones.
    pub(crate) fn stored_name(self) -> &'static str {
        self.as_str()
    }

    /// The state a stored `batches.state` stands for (`None` for a name this build does not
    /// know).
    pub(crate) fn from_stored(name: &str) -> Option<Self> {
        Self::parse(name)
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

    /// The name `batch_items.state` (and `batch_item_counts.state`) stores for it, in both
    /// backends: its name, as for [`BatchState::stored_name`].
    pub(crate) fn stored_name(self) -> &'static str {
        self.as_str()
    }

    /// The state a stored `batch_items.state` stands for (`None` for a name this build does not
    /// know).
    pub(crate) fn from_stored(name: &str) -> Option<Self> {
        Self::parse(name)
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

/// A batch with its item counts. Serialized with every field and `resumable`
/// ([`BatchRow::resumable`]), which front ends and `--json` read.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// `completed`; `interrupted` once [`BatchRow::shown`] judged its run gone).
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
    /// The lease of the run that sends its items (or did, when it was killed); `None` when no
    /// run holds it.
    pub lease: Option<Lease>,
}

impl BatchRow {
    /// Whether `batch resume` has work to do: not finished, not cancelled, not being run.
    pub fn resumable(&self) -> bool {
        self.state.resumable()
    }

    /// The row as front ends show it: a batch stored `running` whose lease is not live (`live`
    /// judges one, see [`Lease::live`]), or that has none, reads [`BatchState::Interrupted`].
    /// Nothing is stored: the state is derived from the lease on every read.
    pub fn shown(mut self, live: impl Fn(&Lease) -> bool) -> Self {
        if self.state == BatchState::Running && !self.lease.as_ref().is_some_and(live) {
            self.state = BatchState::Interrupted;
        }
        self
    }
}

impl Serialize for BatchRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut m = s.serialize_struct("BatchRow", 15)?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("uid", &self.uid)?;
        m.serialize_field("source_name", &self.source_name)?;
        m.serialize_field("source_sha256", &self.source_sha256)?;
        m.serialize_field("state", &self.state)?;
        m.serialize_field("resumable", &self.resumable())?;
        m.serialize_field("pause_reason", &self.pause_reason)?;
        m.serialize_field("concurrency", &self.concurrency)?;
        m.serialize_field("programs", &self.programs)?;
        m.serialize_field("created_by", &self.created_by)?;
        m.serialize_field("created_at", &self.created_at)?;
        m.serialize_field("updated_at", &self.updated_at)?;
        m.serialize_field("finished_at", &self.finished_at)?;
        m.serialize_field("counts", &self.counts)?;
        m.serialize_field("lease", &self.lease)?;
        m.end()
    }
}

/// Who runs a batch and until when: a run takes it before it sends anything, renews it on a
/// heartbeat and releases it when it stops. It names a process, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The holder, as [`Holder`] writes it (`pid@host#run`).
    pub holder: String,
    /// When this holder took it (UTC).
    pub since: String,
    /// When it lapses unless renewed (UTC).
    pub until: String,
}

impl Lease {
    /// Whether the run holding it is still there at `now` (the store's text form, which sorts
    /// as time): not once it lapsed; before, a holder on `this_host` whose process `alive` says
    /// has exited is gone at once (`alive` answers `None` when it cannot tell, and the lapse
    /// decides). A holder on another host is trusted until its lease lapses.
    pub fn live(&self, now: &str, this_host: &str, alive: impl Fn(u32) -> Option<bool>) -> bool {
        if self.until.as_str() <= now {
            return false;
        }
        match Holder::parse(&self.holder) {
            Some(h) if h.host == this_host => alive(h.pid).unwrap_or(true),
            _ => true,
        }
    }
}

impl std::fmt::Display for Lease {
    /// "pid 1234 on host X since 2027-…" (or the raw holder when it does not parse).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Holder::parse(&self.holder) {
            Some(h) => write!(f, "{h} since {}", self.since),
            None => write!(f, "{} since {}", self.holder, self.since),
        }
    }
}

/// The process a lease names: its id, its host and a random id of the run (a pid is reused; a
/// run id is not). Written `pid@host#run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Process id.
    pub pid: u32,
    /// Host name (never contains `@` or `#`: they are replaced by `_`).
    pub host: String,
    /// Random id of this run.
    pub run: String,
}

impl Holder {
    /// A holder; `@` and `#` in `host` become `_` so that it parses back.
    pub fn new(pid: u32, host: &str, run: &str) -> Self {
        let clean = |s: &str| s.replace(['@', '#'], "_");
        Self {
            pid,
            host: clean(host),
            run: clean(run),
        }
    }

    /// How the lease column stores it.
    pub fn stored(&self) -> String {
        format!("{}@{}#{}", self.pid, self.host, self.run)
    }

    /// The holder a lease column names (`None` when it is not `pid@host#run`).
    pub fn parse(stored: &str) -> Option<Self> {
        let (pid, rest) = stored.split_once('@')?;
        let (host, run) = rest.rsplit_once('#')?;
        Some(Self {
            pid: pid.parse().ok()?,
            host: host.to_string(),
            run: run.to_string(),
        })
    }
}

impl std::fmt::Display for Holder {
    /// "pid 1234 on host X" (the run id is for the store, not for people).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on host {}", self.pid, self.host)
    }
}

/// The condition under which a run may take a batch's lease, in both backends' statements:
/// nobody holds it, it lapsed at `now`, it is already `holder`'s, or it is `replacing`'s (a
/// holder the caller found gone; `NULL` for none). `holder`, `now` and `replacing` are the
/// placeholders (`?N` or `$N`); the update that uses it is atomic, so two runs never both take
/// it.
pub(crate) fn lease_free(holder: &str, now: &str, replacing: &str) -> String {
    format!(
        "(lease_holder IS NULL OR lease_until <= {now} OR lease_holder = {holder} \
         OR lease_holder = {replacing})"
    )
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

    /// Adds one `batch_item_counts` row: `n` items in the stored state `state`.
    pub(crate) fn add_stored(&mut self, state: &str, n: i64) {
        self.add(ItemState::from_stored(state), u64::try_from(n).unwrap_or(0));
    }

    /// The counts of many batches from `(batch id, stored state, n)` rows of
    /// `batch_item_counts`, handed to each batch (none for a batch without rows).
    pub(crate) fn attach(
        batches: &mut [BatchRow],
        rows: impl IntoIterator<Item = (i64, String, i64)>,
    ) {
        let mut by_batch: HashMap<i64, Counts> = HashMap::new();
        for (id, state, n) in rows {
            by_batch.entry(id).or_default().add_stored(&state, n);
        }
        for b in batches {
            b.counts = by_batch.remove(&b.id).unwrap_or_default();
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

/// The cursor's list name of [`BatchTable::batch_items_page`] (an item page's sort key is its
/// line).
pub(crate) const ITEMS_CURSOR: &str = "batch-items";

/// The columns of `batches` that [`batch_from`] reads, in its order.
pub(crate) const BATCH_COLS: &str = "id, uid, source_name, source_sha256, state, pause_reason, concurrency, created_by, created_at, updated_at, finished_at, programs, lease_holder, lease_since, lease_until";

/// The columns of `batch_items` that [`item_from`] reads, in its order.
pub(crate) const ITEM_COLS: &str =
    "batch_id, line, external_id, row_json, state, graph_id, join_web_url,
    created_now, error_code, error_message, attempts, updated_at";

/// A batch from the [`BATCH_COLS`] of a row, without its counts.
pub(crate) fn batch_from<R: Columns>(r: &R) -> Result<BatchRow, R::Error> {
    Ok(BatchRow {
        id: r.get(0)?,
        uid: r.get(1)?,
        source_name: r.get(2)?,
        source_sha256: r.get(3)?,
        state: r.state(4, "batch", BatchState::from_stored)?,
        pause_reason: r.get(5)?,
        concurrency: r.get(6)?,
        created_by: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        finished_at: r.get(10)?,
        programs: r
            .get::<String>(11)?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        counts: Counts::default(),
        lease: match (r.get(12)?, r.get(13)?, r.get(14)?) {
            (Some(holder), Some(since), Some(until)) => Some(Lease {
                holder,
                since,
                until,
            }),
            _ => None,
        },
    })
}

/// An item from the [`ITEM_COLS`] of a row.
pub(crate) fn item_from<R: Columns>(r: &R) -> Result<ItemRow, R::Error> {
    let attempts: i64 = r.get(10)?;
    Ok(ItemRow {
        batch_id: r.get(0)?,
        // Lines are 1-based and never negative.
        line: r.get::<i64>(1)? as u64,
        external_id: r.get(2)?,
        row_json: r.get(3)?,
        state: r.state(4, "batch item", ItemState::from_stored)?,
        graph_id: r.get(5)?,
        join_web_url: r.get(6)?,
        created_now: r.get(7)?,
        error_code: r.get(8)?,
        error_message: r.get(9)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| r.bad_value(10, format!("batch item attempts {attempts} out of range")))?,
        updated_at: r.get(11)?,
    })
}

/// The seek of a batches page, newest first, continuing `after` (a previous page's cursor):
/// `id < last` on a deeper page; on the first, "ids up to the largest there can be", the same
/// seek on the primary key, and a plan that says so (a bare scan reads the same rows but looks
/// like a full scan). Returns the comparison and its bound.
pub(crate) fn batches_seek(after: Option<&str>) -> Result<(&'static str, i64), PageError> {
    let after: Option<i64> = after.map(|c| page::decode(BATCHES_CURSOR, c)).transpose()?;
    Ok(match after {
        Some(id) => ("<", id),
        None => ("<=", i64::MAX),
    })
}

/// The constraints of an items page beyond its batch: ` AND state = …` with a state and
/// ` AND line > …` after a previous page's cursor. `bind` binds each argument in turn and
/// returns its placeholder (`?N` or `$N`).
pub(crate) fn items_constraints(
    state: Option<ItemState>,
    after: Option<&str>,
    bind: &mut dyn FnMut(Arg) -> String,
) -> Result<String, PageError> {
    let after: Option<i64> = after.map(|c| page::decode(ITEMS_CURSOR, c)).transpose()?;
    let mut sql = String::new();
    if let Some(state) = state {
        let n = bind(Arg::Text(state.stored_name().to_string()));
        sql.push_str(&format!(" AND state = {n}"));
    }
    if let Some(line) = after {
        let n = bind(Arg::Int(line));
        sql.push_str(&format!(" AND line > {n}"));
    }
    Ok(sql)
}

/// A page of items from the `limit + 1` rows its statement fetched.
pub(crate) fn finish_items_page(rows: Vec<ItemRow>, limit: u32) -> Page<ItemRow> {
    page::finish(ITEMS_CURSOR, rows, limit, |i| i.line as i64)
}

/// An item whose meeting Graph made, for [`BatchTable::batch_items_mark_made`].
#[derive(Debug, Clone)]
pub struct ItemMade<'a> {
    /// The item's line.
    pub line: u64,
    /// The meeting's Graph id.
    pub graph_id: &'a str,
    /// Its join link.
    pub join_web_url: &'a str,
    /// Made now (not found from an earlier attempt).
    pub created_now: bool,
    /// Its row in `meetings`.
    pub meeting_id: i64,
}

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

    /// Inserts many queued items of one batch, `(line, externalId, row JSON)` each: what
    /// [`BatchTable::batch_item_insert`] does for each, in one statement where the backend can
    /// (a batch of 1,000 rows is one round trip to a server, not 1,000).
    fn batch_items_insert(
        &self,
        batch_id: i64,
        items: &[(u64, &str, &str)],
        now: &str,
    ) -> Result<(), StoreError> {
        for (line, external_id, row_json) in items {
            self.batch_item_insert(batch_id, *line, external_id, row_json, now)?;
        }
        Ok(())
    }

    /// [`BatchTable::batch_live_item`] of many `externalId`s at once: the answer of each one
    /// that has a live item, keyed by `externalId` (each asked once however often it is named).
    fn batch_live_items(
        &self,
        external_ids: &[&str],
    ) -> Result<HashMap<String, (i64, u64)>, StoreError> {
        let mut out = HashMap::new();
        for id in external_ids {
            if out.contains_key(*id) {
                continue;
            }
            if let Some(found) = self.batch_live_item(id)? {
                out.insert((*id).to_string(), found);
            }
        }
        Ok(out)
    }

    /// The program code of the stored meeting each of these `externalId`s names (those that
    /// name one), keyed by `externalId`: the `program_code` that
    /// [`MeetingTable::meeting_by_external_id`](super::meetings::MeetingTable::meeting_by_external_id)
    /// answers, for many at once (what validating a batch asks of every row).
    fn batch_meeting_programs(
        &self,
        external_ids: &[&str],
    ) -> Result<HashMap<String, String>, StoreError>;

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

    /// Attempts start for several items at once, as [`BatchTable::batch_item_mark_in_flight`]
    /// starts one; returns the lines marked (the others are to be sent nothing), in the order
    /// given. A team store does it in one statement.
    fn batch_items_mark_in_flight(
        &self,
        batch_id: i64,
        lines: &[u64],
        now: &str,
    ) -> Result<Vec<u64>, StoreError> {
        let mut marked = Vec::with_capacity(lines.len());
        for &line in lines {
            if self.batch_item_mark_in_flight(batch_id, line, now)? > 0 {
                marked.push(line);
            }
        }
        Ok(marked)
    }

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

    /// Items whose meetings exist, done together: each with its Graph id, join link and row in
    /// `meetings`, as [`BatchTable::batch_item_mark_done`] and
    /// [`BatchTable::batch_item_set_meeting`] record one. Returns the rows changed. A team store
    /// does it in one statement whatever their number.
    fn batch_items_mark_made(
        &self,
        batch_id: i64,
        items: &[ItemMade<'_>],
        now: &str,
    ) -> Result<usize, StoreError> {
        let mut changed = 0;
        for i in items {
            changed += self.batch_item_mark_done(
                batch_id,
                i.line,
                i.graph_id,
                i.join_web_url,
                i.created_now,
                now,
            )?;
            self.batch_item_set_meeting(batch_id, i.line, i.meeting_id)?;
        }
        Ok(changed)
    }

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

    /// Takes the lease of batch `id` for `holder` from `now` until `until`: 1 when it was free
    /// (see [`lease_free`]; `replacing` is a holder the caller found gone), 0 when another
    /// live run holds it or there is no such batch. Renewing one's own lease this way keeps its
    /// `since`.
    fn batch_lease_take(
        &self,
        id: i64,
        holder: &str,
        replacing: Option<&str>,
        now: &str,
        until: &str,
    ) -> Result<usize, StoreError>;

    /// The heartbeat: `holder`'s lease of batch `id` now lapses at `until`. 0 when `holder`
    /// no longer holds it (another run took it over).
    fn batch_lease_renew(&self, id: i64, holder: &str, until: &str) -> Result<usize, StoreError>;

    /// Ends `holder`'s lease of batch `id`; 0 when `holder` does not hold it.
    fn batch_lease_release(&self, id: i64, holder: &str) -> Result<usize, StoreError>;

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
    fn every_state_reads_back_from_its_name_and_its_stored_name() {
        for s in ItemState::ALL {
            assert_eq!(
                (
                    ItemState::parse(s.as_str()),
                    ItemState::from_stored(s.stored_name())
                ),
                (Some(s), Some(s)),
                "item state {s} must read back from its name and its stored name"
            );
        }
        for s in BatchState::ALL {
            assert_eq!(
                (
                    BatchState::parse(s.as_str()),
                    BatchState::from_stored(s.stored_name())
                ),
                (Some(s), Some(s)),
                "batch state {s} must read back from its name and its stored name"
            );
        }
        assert_eq!(
            (
                ItemState::InFlight.as_str(),
                ItemState::InFlight.stored_name(),
                BatchState::parse("bogus"),
                BatchState::from_stored("bogus")
            ),
            ("in_flight", "in_flight", None, None),
            "names and stored names are snake_case and an unknown name is no state"
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

    fn running(lease: Option<Lease>) -> BatchRow {
        BatchRow {
            id: 3,
            uid: "u".into(),
            source_name: "f.csv".into(),
            source_sha256: "sha".into(),
            state: BatchState::Running,
            pause_reason: None,
            concurrency: 8,
            programs: vec!["eng".into()],
            created_by: "me".into(),
            created_at: "2027-01-01T00:00:00Z".into(),
            updated_at: "2027-01-01T00:00:00Z".into(),
            finished_at: None,
            counts: Counts::default(),
            lease,
        }
    }

    fn lease(holder: &str, until: &str) -> Lease {
        Lease {
            holder: holder.into(),
            since: "2027-01-01T00:00:00Z".into(),
            until: until.into(),
        }
    }

    #[test]
    fn a_holder_is_written_pid_at_host_hash_run_and_reads_back() {
        let h = Holder::new(1234, "build@box#1", "r9");
        assert_eq!(
            h.stored(),
            "1234@build_box_1#r9",
            "@ and # in a host name are replaced so the holder parses back"
        );
        assert_eq!(Holder::parse(&h.stored()), Some(h.clone()), "round trip");
        assert_eq!(h.to_string(), "pid 1234 on host build_box_1");
        for bad in ["", "x@h#r", "12h#r", "12@h"] {
            assert_eq!(Holder::parse(bad), None, "'{bad}' names no holder");
        }
        assert_eq!(
            lease("1234@box#r", "2027-01-01T00:00:30Z").to_string(),
            "pid 1234 on host box since 2027-01-01T00:00:00Z",
            "the refusal names the holder, not its run id"
        );
    }

    #[test]
    fn a_lease_is_live_until_it_lapses_and_a_local_holder_only_while_its_process_exists() {
        let now = "2027-01-01T00:00:10Z";
        let l = lease("1234@box#r", "2027-01-01T00:00:30Z");
        let panics = |_: u32| -> Option<bool> { panic!("a lapsed lease needs no process check") };
        assert!(
            !lease("1234@box#r", now).live(now, "box", panics),
            "a lease lapses at its until"
        );
        assert!(l.live(now, "box", |_| Some(true)), "local and alive");
        assert!(
            !l.live(now, "box", |_| Some(false)),
            "local and exited: gone at once"
        );
        assert!(
            l.live(now, "box", |_| None),
            "local, cannot tell: the lapse decides"
        );
        assert!(
            l.live(now, "other", |_| Some(false)),
            "another host's process is not looked up here"
        );
        assert!(
            lease("not a holder", "2027-01-01T00:00:30Z").live(now, "box", |_| Some(false)),
            "an unreadable holder is trusted until its lease lapses"
        );
    }

    #[test]
    fn a_running_batch_whose_run_is_gone_is_shown_interrupted_and_resumable() {
        let live = running(Some(lease("1@h#r", "z"))).shown(|_| true);
        assert_eq!(
            (live.state, live.resumable()),
            (BatchState::Running, false),
            "a batch a live run holds is running and not resumable"
        );
        for gone in [running(Some(lease("1@h#r", "z"))), running(None)] {
            let shown = gone.shown(|_| false);
            assert_eq!(
                (shown.state, shown.resumable()),
                (BatchState::Interrupted, true),
                "a running batch whose lease is gone (or that has none) reads interrupted"
            );
            let v = serde_json::to_value(&shown).expect("serialize");
            assert_eq!(
                (&v["state"], &v["resumable"]),
                (&serde_json::json!("interrupted"), &serde_json::json!(true)),
                "--json carries the shown state and resumable"
            );
        }
        let mut paused = running(None);
        paused.state = BatchState::Paused;
        assert_eq!(
            paused.shown(|_| false).state,
            BatchState::Paused,
            "only a running batch can read interrupted"
        );
        let v = serde_json::to_value(running(None)).expect("serialize");
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys.len(),
            15,
            "every field and resumable, each once: {keys:?}"
        );
    }
}
