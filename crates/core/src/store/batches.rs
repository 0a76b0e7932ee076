//! Tables `batches` and `batch_items`: row types and queries, and the resume bookkeeping (which
//! items are queued, in flight, done). Validation and the run live in `crate::batch`; this module
//! only reads and writes. No token, passcode or Graph error body beyond Graph's code and message.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::page::{self, Page, PageError, PageQuery};

/// Lifecycle of a batch, stored as its snake_case name (the one mapping: [`BatchState::as_str`]
/// and [`BatchState::parse`]).
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
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }

    /// The state a stored name stands for (`None` for a name this build does not know).
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Planned,
            Self::Running,
            Self::Paused,
            Self::Cancelled,
            Self::Completed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
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

/// Lifecycle of a batch item, stored as its snake_case name (the one mapping:
/// [`ItemState::as_str`] and [`ItemState::parse`]).
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

    /// The stored name.
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

    /// The state a stored name stands for (`None` for a name this build does not know).
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
    /// `planned`, `running`, `paused`, `cancelled`, `completed`.
    pub state: String,
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
        self.lifecycle().is_some_and(BatchState::resumable)
    }

    /// The stored `state` as a [`BatchState`] (`None` for a name this build does not know).
    pub fn lifecycle(&self) -> Option<BatchState> {
        BatchState::parse(&self.state)
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
    /// `queued`, `in_flight`, `done`, `failed`, `cancelled`, `undone`.
    pub state: String,
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

impl ItemRow {
    /// The stored `state` as an [`ItemState`] (`None` for a name this build does not know).
    pub fn lifecycle(&self) -> Option<ItemState> {
        ItemState::parse(&self.state)
    }
}

/// Inserts a batch in state `planned`; returns its id.
#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &Connection,
    uid: &str,
    source_name: &str,
    sha256: &str,
    concurrency: i64,
    programs: &[String],
    created_by: &str,
    now: &str,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO batches (uid, source_name, source_sha256, state, concurrency, programs, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'planned', ?4, ?5, ?6, ?7, ?7)",
        params![uid, source_name, sha256, concurrency, programs.join(" "), created_by, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Inserts a queued item.
pub fn insert_item(
    conn: &Connection,
    batch_id: i64,
    line: u64,
    external_id: &str,
    row_json: &str,
    now: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO batch_items (batch_id, line, external_id, row_json, state, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5)",
        params![batch_id, line as i64, external_id, row_json, now],
    )?;
    Ok(())
}

/// A live (queued, in flight or done) item with this `externalId` in another batch.
pub fn live_item(conn: &Connection, external_id: &str) -> rusqlite::Result<Option<(i64, u64)>> {
    conn.query_row(
        "SELECT batch_id, line FROM batch_items
         WHERE external_id = ?1 AND state IN ('queued', 'in_flight', 'done') LIMIT 1",
        [external_id],
        |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
    )
    .optional()
}

/// Sets the state (and pause reason) of a batch; `finished` stamps `finished_at`.
pub fn set_state(
    conn: &Connection,
    id: i64,
    state: BatchState,
    reason: Option<&str>,
    finished: bool,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE batches SET state = ?2, pause_reason = ?3, updated_at = ?4,
           finished_at = CASE WHEN ?5 THEN ?4 ELSE finished_at END
         WHERE id = ?1",
        params![id, state.as_str(), reason, now, finished],
    )
}

/// The state of a batch (cheap: polled while running to notice a cancel); `None` when there is
/// no such batch or its state is a name this build does not know.
pub fn state(conn: &Connection, id: i64) -> rusqlite::Result<Option<BatchState>> {
    let name: Option<String> = conn
        .query_row("SELECT state FROM batches WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(name.as_deref().and_then(BatchState::parse))
}

fn batch_from(r: &Row<'_>) -> rusqlite::Result<BatchRow> {
    Ok(BatchRow {
        id: r.get(0)?,
        uid: r.get(1)?,
        source_name: r.get(2)?,
        source_sha256: r.get(3)?,
        state: r.get(4)?,
        pause_reason: r.get(5)?,
        concurrency: r.get(6)?,
        created_by: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        finished_at: r.get(10)?,
        programs: r
            .get::<_, String>(11)?
            .split_whitespace()
            .map(str::to_string)
            .collect(),
        counts: Counts::default(),
    })
}

const BATCH_COLS: &str = "id, uid, source_name, source_sha256, state, pause_reason, concurrency, created_by, created_at, updated_at, finished_at, programs";

/// One batch with counts.
pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<BatchRow>> {
    let row = conn
        .query_row(
            &format!("SELECT {BATCH_COLS} FROM batches WHERE id = ?1"),
            [id],
            batch_from,
        )
        .optional()?;
    match row {
        Some(mut b) => {
            b.counts = counts(conn, id)?;
            Ok(Some(b))
        }
        None => Ok(None),
    }
}

/// Every batch, newest first, with counts.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<BatchRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {BATCH_COLS} FROM batches ORDER BY id DESC"
    ))?;
    let mut rows = stmt
        .query_map([], batch_from)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    attach_counts(conn, &mut rows)?;
    Ok(rows)
}

/// The cursor name of [`list_page`] (a batch page's sort key is its id).
pub const BATCHES_CURSOR: &str = "batches";

/// One page of batches, newest first, with counts; `after` is the previous page's cursor.
pub fn list_page(
    conn: &Connection,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<BatchRow>, PageError> {
    let query = list_query(after, limit)?;
    let rows = query.rows(conn, batch_from)?;
    let mut page = page::finish(BATCHES_CURSOR, rows, query.limit, |b| b.id);
    attach_counts(conn, &mut page.items)?;
    Ok(page)
}

/// The statement [`list_page`] runs (the counts are read by [`COUNTS_OF_MANY`] after it).
pub fn list_query(after: Option<&str>, limit: u32) -> Result<PageQuery, PageError> {
    let after: Option<i64> = after.map(|c| page::decode(BATCHES_CURSOR, c)).transpose()?;
    let mut query = PageQuery::new(
        format!("SELECT {BATCH_COLS} FROM batches WHERE 1 = 1"),
        limit,
    );
    // The first page is "ids up to the largest there can be": the same seek on the rowid as a
    // deep page, and a plan that says so (a bare `SCAN batches` reads the same rows but looks
    // like a full scan).
    match after {
        Some(id) => {
            let n = query.arg(id);
            query.push(&format!(" AND id < ?{n}"));
        }
        None => {
            let n = query.arg(i64::MAX);
            query.push(&format!(" AND id <= ?{n}"));
        }
    }
    query.push(" ORDER BY id DESC");
    query.push_limit();
    Ok(query)
}

/// Reads the item counts of a page of batches at once; `?1` is a JSON array of batch ids.
pub const COUNTS_OF_MANY: &str = "SELECT batch_id, state, n FROM batch_item_counts
     WHERE batch_id IN (SELECT value FROM json_each(?1))";

/// Fills in the counts of many batches with one read of `batch_item_counts`.
fn attach_counts(conn: &Connection, batches: &mut [BatchRow]) -> rusqlite::Result<()> {
    if batches.is_empty() {
        return Ok(());
    }
    let ids = serde_json::Value::from(batches.iter().map(|b| b.id).collect::<Vec<_>>()).to_string();
    let mut stmt = conn.prepare_cached(COUNTS_OF_MANY)?;
    let mut by_batch: std::collections::HashMap<i64, Counts> = std::collections::HashMap::new();
    let rows = stmt.query_map([ids], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })?;
    for row in rows {
        let (id, state, n) = row?;
        by_batch.entry(id).or_default().add(&state, n);
    }
    for b in batches {
        b.counts = by_batch.remove(&b.id).unwrap_or_default();
    }
    Ok(())
}

/// Item counts of a batch (kept by the `batch_item_counts` triggers: no item is counted here).
pub fn counts(conn: &Connection, batch_id: i64) -> rusqlite::Result<Counts> {
    let mut c = Counts::default();
    let mut stmt =
        conn.prepare_cached("SELECT state, n FROM batch_item_counts WHERE batch_id = ?1")?;
    let rows = stmt.query_map([batch_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (state, n) = row?;
        c.add(&state, n);
    }
    Ok(c)
}

impl Counts {
    fn add(&mut self, state: &str, n: i64) {
        let n = u64::try_from(n).unwrap_or(0);
        self.total += n;
        match ItemState::parse(state) {
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

fn item_from(r: &Row<'_>) -> rusqlite::Result<ItemRow> {
    Ok(ItemRow {
        batch_id: r.get(0)?,
        line: r.get::<_, i64>(1)? as u64,
        external_id: r.get(2)?,
        row_json: r.get(3)?,
        state: r.get(4)?,
        graph_id: r.get(5)?,
        join_web_url: r.get(6)?,
        created_now: r.get(7)?,
        error_code: r.get(8)?,
        error_message: r.get(9)?,
        attempts: r.get(10)?,
        updated_at: r.get(11)?,
    })
}

const ITEM_COLS: &str = "batch_id, line, external_id, row_json, state, graph_id, join_web_url,
    created_now, error_code, error_message, attempts, updated_at";

/// Items of a batch in line order; `state` filters.
pub fn items(
    conn: &Connection,
    batch_id: i64,
    state: Option<ItemState>,
) -> rusqlite::Result<Vec<ItemRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ITEM_COLS} FROM batch_items
         WHERE batch_id = ?1 AND (?2 IS NULL OR state = ?2) ORDER BY line"
    ))?;
    let rows = stmt.query_map(params![batch_id, state.map(ItemState::as_str)], item_from)?;
    rows.collect()
}

/// The most recently failed items of every batch, newest first, at most `limit` (what a
/// diagnostics bundle reports).
pub fn recent_failed_items(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<ItemRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ITEM_COLS} FROM batch_items WHERE state = ?1 ORDER BY updated_at DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![ItemState::Failed.as_str(), limit], item_from)?;
    rows.collect()
}

/// One page of a batch's items in line order, optionally in one state; `after` is the previous
/// page's cursor.
pub fn items_page(
    conn: &Connection,
    batch_id: i64,
    state: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<ItemRow>, PageError> {
    let query = items_query(batch_id, state, after, limit)?;
    let rows = query.rows(conn, item_from)?;
    Ok(page::finish(ITEMS_CURSOR, rows, query.limit, |i| {
        i.line as i64
    }))
}

const ITEMS_CURSOR: &str = "batch-items";

/// The statement [`items_page`] runs: the primary key serves it, or `batch_items_state_line`
/// with a state.
pub fn items_query(
    batch_id: i64,
    state: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<PageQuery, PageError> {
    let after: Option<i64> = after.map(|c| page::decode(ITEMS_CURSOR, c)).transpose()?;
    let mut query = PageQuery::new(
        format!("SELECT {ITEM_COLS} FROM batch_items WHERE batch_id = ?1"),
        limit,
    );
    query.arg(batch_id);
    if let Some(state) = state {
        let n = query.arg(state.to_string());
        query.push(&format!(" AND state = ?{n}"));
    }
    if let Some(line) = after {
        let n = query.arg(line);
        query.push(&format!(" AND line > ?{n}"));
    }
    query.push(" ORDER BY line");
    query.push_limit();
    Ok(query)
}

/// Resume bookkeeping: items left `in_flight` by an interrupted run go back to the queue (their
/// request may or may not have reached Graph; `createOrGet` makes resending safe).
pub fn requeue_in_flight(conn: &Connection, batch_id: i64, now: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE batch_items SET state = 'queued', updated_at = ?2 WHERE batch_id = ?1 AND state = 'in_flight'",
        params![batch_id, now],
    )
}

/// An attempt starts: `in_flight`, attempts + 1. Returns 0 (send nothing) when the item is no
/// longer queued or the batch was cancelled.
pub fn mark_in_flight(
    conn: &Connection,
    batch_id: i64,
    line: u64,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        // Never once the batch is cancelled: a cancel (in any process) and this update are
        // serialized by SQLite, so a cancel with undo sees every attempt that could make a
        // meeting as `in_flight` or `done`.
        "UPDATE batch_items SET state = 'in_flight', attempts = attempts + 1, updated_at = ?3
         WHERE batch_id = ?1 AND line = ?2 AND state IN ('queued', 'in_flight')
           AND (SELECT state FROM batches WHERE id = ?1) != 'cancelled'",
    )?
    .execute(params![batch_id, line as i64, now])
}

/// Back to the queue after a transient failure (the wait is kept in memory only).
pub fn mark_queued(
    conn: &Connection,
    batch_id: i64,
    line: u64,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        // A batch cancelled while this attempt was in flight does not get the item back: it
        // ends cancelled (the attempt made no meeting).
        "UPDATE batch_items SET state = CASE WHEN (SELECT state FROM batches WHERE id = ?1) = 'cancelled'
                                        THEN 'cancelled' ELSE 'queued' END,
                updated_at = ?3
         WHERE batch_id = ?1 AND line = ?2 AND state = 'in_flight'",
    )?
    .execute(params![batch_id, line as i64, now])
}

/// The meeting exists.
pub fn mark_done(
    conn: &Connection,
    batch_id: i64,
    line: u64,
    graph_id: &str,
    join_web_url: &str,
    created_now: bool,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE batch_items SET state = 'done', graph_id = ?3, join_web_url = ?4, created_now = ?5,
           error_code = NULL, error_message = NULL, updated_at = ?6
         WHERE batch_id = ?1 AND line = ?2",
    )?
    .execute(params![
        batch_id,
        line as i64,
        graph_id,
        join_web_url,
        created_now,
        now
    ])
}

/// Links an item to its row in `meetings`.
pub fn set_meeting(
    conn: &Connection,
    batch_id: i64,
    line: u64,
    meeting_id: i64,
) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE batch_items SET meeting_id = ?3 WHERE batch_id = ?1 AND line = ?2")?
        .execute(params![batch_id, line as i64, meeting_id])
}

/// Given up on (non-retryable answer).
pub fn mark_failed(
    conn: &Connection,
    batch_id: i64,
    line: u64,
    code: &str,
    message: &str,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE batch_items SET state = 'failed', error_code = ?3, error_message = ?4, updated_at = ?5
         WHERE batch_id = ?1 AND line = ?2",
    )?
    .execute(params![batch_id, line as i64, code, message, now])
}

/// Cancel: every queued item becomes `cancelled`. Items `in_flight` are left to the run that
/// sent them (its answer decides whether a meeting exists); a runner can no longer start a
/// cancelled item because [`mark_in_flight`] only moves `queued` items.
pub fn cancel_queued(conn: &Connection, batch_id: i64, now: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE batch_items SET state = 'cancelled', updated_at = ?2 WHERE batch_id = ?1 AND state = 'queued'",
        params![batch_id, now],
    )
}

/// Cancel of items left `in_flight` by a run that is gone: they become `cancelled`.
pub fn cancel_in_flight(conn: &Connection, batch_id: i64, now: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE batch_items SET state = 'cancelled', updated_at = ?2 WHERE batch_id = ?1 AND state = 'in_flight'",
        params![batch_id, now],
    )
}

/// Undo: a done item whose meeting was deleted.
pub fn mark_undone(
    conn: &Connection,
    batch_id: i64,
    line: u64,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE batch_items SET state = 'undone', updated_at = ?3 WHERE batch_id = ?1 AND line = ?2 AND state = 'done'",
        params![batch_id, line as i64, now],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn every_state_maps_to_its_stored_name_and_back() {
        for s in ItemState::ALL {
            assert_eq!(
                ItemState::parse(s.as_str()),
                Some(s),
                "item state {s} must read back from its stored name"
            );
        }
        for s in [
            BatchState::Planned,
            BatchState::Running,
            BatchState::Paused,
            BatchState::Cancelled,
            BatchState::Completed,
        ] {
            assert_eq!(
                BatchState::parse(s.as_str()),
                Some(s),
                "batch state {s} must read back from its stored name"
            );
        }
        assert_eq!(
            (ItemState::InFlight.as_str(), BatchState::parse("bogus")),
            ("in_flight", None),
            "stored names are snake_case and an unknown name is no state"
        );
    }

    #[test]
    fn resume_bookkeeping_requeues_in_flight_and_counts_by_state() {
        let mut store = Store::open_in_memory().expect("store");
        let id = store
            .write(|tx| -> Result<i64, crate::Error> {
                let id = insert(
                    tx,
                    "u1",
                    "f.csv",
                    "sha",
                    4,
                    &["eng".to_string()],
                    "local:me",
                    "2027-01-01T00:00:00Z",
                )?;
                for line in 2..6u64 {
                    insert_item(
                        tx,
                        id,
                        line,
                        &format!("ext-{line}"),
                        "{}",
                        "2027-01-01T00:00:00Z",
                    )?;
                }
                Ok(id)
            })
            .expect("insert");
        let c = store.conn();
        mark_in_flight(c, id, 2, "t").expect("in flight");
        mark_in_flight(c, id, 3, "t").expect("in flight");
        mark_done(c, id, 3, "g3", "https://join/3", true, "t").expect("done");
        mark_in_flight(c, id, 4, "t").expect("in flight");
        mark_failed(c, id, 4, "BadRequest", "nope", "t").expect("failed");
        let before = counts(c, id).expect("counts");
        assert_eq!(
            (before.in_flight, before.done, before.failed, before.queued),
            (1, 1, 1, 1),
            "{before:?}"
        );
        assert_eq!(
            requeue_in_flight(c, id, "t").expect("requeue"),
            1,
            "the interrupted item is requeued"
        );
        assert_eq!(
            counts(c, id).expect("counts").queued,
            2,
            "two items left to send"
        );
        assert_eq!(
            live_item(c, "ext-3").expect("q"),
            Some((id, 3)),
            "a done item is live"
        );
        assert_eq!(
            live_item(c, "ext-4").expect("q"),
            None,
            "a failed item is not live"
        );
        let b = get(c, id).expect("get").expect("exists");
        assert!(b.resumable(), "a planned batch is resumable");
    }
}

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::batches` for SQLite).
pub trait BatchTable {}
