//! SQLite statements of the `batches` and `batch_items` tables, behind
//! [`crate::store::batches::BatchTable`] (the stored state names and the row assembly are
//! `store::batches`'). Item counts are read from `batch_item_counts`, kept by triggers.

use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::store::batches::{
    self as shared, BatchRow, BatchState, BatchTable, Counts, ItemRow, ItemState, BATCHES_CURSOR,
    BATCH_COLS, ITEM_COLS,
};
use crate::store::meetings::MeetingTable;
use crate::store::page::{self, Page, PageError, PageQuery};
use crate::store::StoreError;

impl BatchTable for Connection {
    fn batch_insert(
        &self,
        uid: &str,
        source_name: &str,
        sha256: &str,
        concurrency: i64,
        programs: &[String],
        created_by: &str,
        now: &str,
    ) -> Result<i64, StoreError> {
        insert(
            self,
            uid,
            source_name,
            sha256,
            concurrency,
            programs,
            created_by,
            now,
        )
        .map_err(|e| super::err(self, e))
    }

    fn batch_item_insert(
        &self,
        batch_id: i64,
        line: u64,
        external_id: &str,
        row_json: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        insert_item(self, batch_id, line, external_id, row_json, now)
            .map_err(|e| super::err(self, e))
    }

    fn batch_live_item(&self, external_id: &str) -> Result<Option<(i64, u64)>, StoreError> {
        live_item(self, external_id).map_err(|e| super::err(self, e))
    }

    fn batch_meeting_programs(
        &self,
        external_ids: &[&str],
    ) -> Result<HashMap<String, String>, StoreError> {
        // One indexed read per id is cheap on a local file: ask the meetings table's own query.
        let mut out = HashMap::new();
        for id in external_ids {
            if out.contains_key(*id) {
                continue;
            }
            if let Some(m) = MeetingTable::meeting_by_external_id(self, id)? {
                out.insert((*id).to_string(), m.program_code);
            }
        }
        Ok(out)
    }

    fn batch_set_state(
        &self,
        id: i64,
        state: BatchState,
        reason: Option<&str>,
        finished: bool,
        now: &str,
    ) -> Result<usize, StoreError> {
        set_state(self, id, state, reason, finished, now).map_err(|e| super::err(self, e))
    }

    fn batch_state(&self, id: i64) -> Result<Option<BatchState>, StoreError> {
        state(self, id).map_err(|e| super::err(self, e))
    }

    fn batch_by_id(&self, id: i64) -> Result<Option<BatchRow>, StoreError> {
        get(self, id).map_err(|e| super::err(self, e))
    }

    fn batches_list(&self) -> Result<Vec<BatchRow>, StoreError> {
        list(self).map_err(|e| super::err(self, e))
    }

    fn batches_page(&self, after: Option<&str>, limit: u32) -> Result<Page<BatchRow>, PageError> {
        list_page(self, after, limit).map_err(|e| super::page_err(self, e))
    }

    fn batch_counts(&self, batch_id: i64) -> Result<Counts, StoreError> {
        counts(self, batch_id).map_err(|e| super::err(self, e))
    }

    fn batch_items(
        &self,
        batch_id: i64,
        state: Option<ItemState>,
    ) -> Result<Vec<ItemRow>, StoreError> {
        items(self, batch_id, state).map_err(|e| super::err(self, e))
    }

    fn batch_items_recent_failed(&self, limit: u32) -> Result<Vec<ItemRow>, StoreError> {
        recent_failed_items(self, limit).map_err(|e| super::err(self, e))
    }

    fn batch_items_page(
        &self,
        batch_id: i64,
        state: Option<ItemState>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ItemRow>, PageError> {
        items_page(self, batch_id, state, after, limit).map_err(|e| super::page_err(self, e))
    }

    fn batch_items_requeue_in_flight(&self, batch_id: i64, now: &str) -> Result<usize, StoreError> {
        requeue_in_flight(self, batch_id, now).map_err(|e| super::err(self, e))
    }

    fn batch_item_mark_in_flight(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError> {
        mark_in_flight(self, batch_id, line, now).map_err(|e| super::err(self, e))
    }

    fn batch_item_mark_queued(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError> {
        mark_queued(self, batch_id, line, now).map_err(|e| super::err(self, e))
    }

    fn batch_item_mark_done(
        &self,
        batch_id: i64,
        line: u64,
        graph_id: &str,
        join_web_url: &str,
        created_now: bool,
        now: &str,
    ) -> Result<usize, StoreError> {
        mark_done(
            self,
            batch_id,
            line,
            graph_id,
            join_web_url,
            created_now,
            now,
        )
        .map_err(|e| super::err(self, e))
    }

    fn batch_item_set_meeting(
        &self,
        batch_id: i64,
        line: u64,
        meeting_id: i64,
    ) -> Result<usize, StoreError> {
        set_meeting(self, batch_id, line, meeting_id).map_err(|e| super::err(self, e))
    }

    fn batch_item_mark_failed(
        &self,
        batch_id: i64,
        line: u64,
        code: &str,
        message: &str,
        now: &str,
    ) -> Result<usize, StoreError> {
        mark_failed(self, batch_id, line, code, message, now).map_err(|e| super::err(self, e))
    }

    fn batch_items_cancel_queued(&self, batch_id: i64, now: &str) -> Result<usize, StoreError> {
        cancel_queued(self, batch_id, now).map_err(|e| super::err(self, e))
    }

    fn batch_items_cancel_in_flight(&self, batch_id: i64, now: &str) -> Result<usize, StoreError> {
        cancel_in_flight(self, batch_id, now).map_err(|e| super::err(self, e))
    }

    fn batch_item_mark_undone(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError> {
        mark_undone(self, batch_id, line, now).map_err(|e| super::err(self, e))
    }

    fn batch_lease_take(
        &self,
        id: i64,
        holder: &str,
        replacing: Option<&str>,
        now: &str,
        until: &str,
    ) -> Result<usize, StoreError> {
        lease_take(self, id, holder, replacing, now, until).map_err(|e| super::err(self, e))
    }

    fn batch_lease_renew(&self, id: i64, holder: &str, until: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE batches SET lease_until = ?3 WHERE id = ?1 AND lease_holder = ?2",
            params![id, holder, until],
        )
        .map_err(|e| super::err(self, e))
    }

    fn batch_lease_release(&self, id: i64, holder: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE batches SET lease_holder = NULL, lease_since = NULL, lease_until = NULL
             WHERE id = ?1 AND lease_holder = ?2",
            params![id, holder],
        )
        .map_err(|e| super::err(self, e))
    }
}

fn lease_take(
    conn: &Connection,
    id: i64,
    holder: &str,
    replacing: Option<&str>,
    now: &str,
    until: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        &format!(
            "UPDATE batches SET lease_holder = ?2,
               lease_since = CASE WHEN lease_holder IS ?2 THEN lease_since ELSE ?4 END,
               lease_until = ?5
             WHERE id = ?1 AND {}",
            shared::lease_free("?2", "?4", "?3")
        ),
        params![id, holder, replacing, now, until],
    )
}

#[allow(clippy::too_many_arguments)]
fn insert(
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

fn insert_item(
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

fn live_item(conn: &Connection, external_id: &str) -> rusqlite::Result<Option<(i64, u64)>> {
    conn.query_row(
        "SELECT batch_id, line FROM batch_items
         WHERE external_id = ?1 AND state IN ('queued', 'in_flight', 'done') LIMIT 1",
        [external_id],
        |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)),
    )
    .optional()
}

fn set_state(
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
        params![id, state.stored_name(), reason, now, finished],
    )
}

fn state(conn: &Connection, id: i64) -> rusqlite::Result<Option<BatchState>> {
    let name: Option<String> = conn
        .query_row("SELECT state FROM batches WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(name.as_deref().and_then(BatchState::from_stored))
}

fn batch_from(r: &Row<'_>) -> rusqlite::Result<BatchRow> {
    shared::batch_from(r)
}

fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<BatchRow>> {
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

fn list(conn: &Connection) -> rusqlite::Result<Vec<BatchRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {BATCH_COLS} FROM batches ORDER BY id DESC"
    ))?;
    let mut rows = stmt
        .query_map([], batch_from)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    attach_counts(conn, &mut rows)?;
    Ok(rows)
}

fn list_page(
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

/// The statement [`BatchTable::batches_page`] runs (the counts are read by [`COUNTS_OF_MANY`]
/// after it).
pub fn list_query(after: Option<&str>, limit: u32) -> Result<PageQuery, PageError> {
    let (op, bound) = shared::batches_seek(after)?;
    let mut query = PageQuery::new(
        format!("SELECT {BATCH_COLS} FROM batches WHERE 1 = 1"),
        limit,
    );
    let n = query.arg(bound);
    query.push(&format!(" AND id {op} ?{n}"));
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
    let rows = stmt
        .query_map([ids], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Counts::attach(batches, rows);
    Ok(())
}

/// Item counts of a batch (kept by the `batch_item_counts` triggers: no item is counted here).
fn counts(conn: &Connection, batch_id: i64) -> rusqlite::Result<Counts> {
    let mut c = Counts::default();
    let mut stmt =
        conn.prepare_cached("SELECT state, n FROM batch_item_counts WHERE batch_id = ?1")?;
    let rows = stmt.query_map([batch_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (state, n) = row?;
        c.add_stored(&state, n);
    }
    Ok(c)
}

fn item_from(r: &Row<'_>) -> rusqlite::Result<ItemRow> {
    shared::item_from(r)
}

fn items(
    conn: &Connection,
    batch_id: i64,
    state: Option<ItemState>,
) -> rusqlite::Result<Vec<ItemRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ITEM_COLS} FROM batch_items
         WHERE batch_id = ?1 AND (?2 IS NULL OR state = ?2) ORDER BY line"
    ))?;
    let rows = stmt.query_map(
        params![batch_id, state.map(ItemState::stored_name)],
        item_from,
    )?;
    rows.collect()
}

fn recent_failed_items(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<ItemRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {ITEM_COLS} FROM batch_items WHERE state = ?1 ORDER BY updated_at DESC LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![ItemState::Failed.stored_name(), limit], item_from)?;
    rows.collect()
}

fn items_page(
    conn: &Connection,
    batch_id: i64,
    state: Option<ItemState>,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<ItemRow>, PageError> {
    let query = items_query(batch_id, state, after, limit)?;
    let rows = query.rows(conn, item_from)?;
    Ok(shared::finish_items_page(rows, query.limit))
}

/// The statement [`BatchTable::batch_items_page`] runs: the primary key serves it, or
/// `batch_items_state_line` with a state.
pub fn items_query(
    batch_id: i64,
    state: Option<ItemState>,
    after: Option<&str>,
    limit: u32,
) -> Result<PageQuery, PageError> {
    let mut query = PageQuery::new(
        format!("SELECT {ITEM_COLS} FROM batch_items WHERE batch_id = ?1"),
        limit,
    );
    query.arg(batch_id);
    let constraints = shared::items_constraints(state, after, &mut |a| query.bind(a))?;
    query.push(&constraints);
    query.push(" ORDER BY line");
    query.push_limit();
    Ok(query)
}

fn requeue_in_flight(conn: &Connection, batch_id: i64, now: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE batch_items SET state = 'queued', updated_at = ?2 WHERE batch_id = ?1 AND state = 'in_flight'",
        params![batch_id, now],
    )
}

fn mark_in_flight(
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

fn mark_queued(conn: &Connection, batch_id: i64, line: u64, now: &str) -> rusqlite::Result<usize> {
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

fn mark_done(
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

fn set_meeting(
    conn: &Connection,
    batch_id: i64,
    line: u64,
    meeting_id: i64,
) -> rusqlite::Result<usize> {
    conn.prepare_cached("UPDATE batch_items SET meeting_id = ?3 WHERE batch_id = ?1 AND line = ?2")?
        .execute(params![batch_id, line as i64, meeting_id])
}

fn mark_failed(
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

fn cancel_queued(conn: &Connection, batch_id: i64, now: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE batch_items SET state = 'cancelled', updated_at = ?2 WHERE batch_id = ?1 AND state = 'queued'",
        params![batch_id, now],
    )
}

fn cancel_in_flight(conn: &Connection, batch_id: i64, now: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE batch_items SET state = 'cancelled', updated_at = ?2 WHERE batch_id = ?1 AND state = 'in_flight'",
        params![batch_id, now],
    )
}

fn mark_undone(conn: &Connection, batch_id: i64, line: u64, now: &str) -> rusqlite::Result<usize> {
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
    fn every_state_this_build_stores_passes_the_schema_check() {
        // The statements' literals and the schema's CHECK spell the names too: a name the
        // mapping gives that the CHECK refuses would fail the first write of that state.
        let mut store = Store::open_in_memory().expect("store");
        store
            .write_sql(|tx| -> Result<(), crate::Error> {
                let id = tx.batch_insert("u1", "f.csv", "sha", 1, &[], "local:me", "t")?;
                for s in BatchState::ALL {
                    tx.batch_set_state(id, s, None, false, "t")?;
                    assert_eq!(tx.batch_state(id)?, Some(s), "batch state {s} is stored");
                }
                tx.batch_item_insert(id, 2, "ext-2", "{}", "t")?;
                for s in ItemState::ALL {
                    tx.execute(
                        "UPDATE batch_items SET state = ?1 WHERE batch_id = ?2",
                        params![s.stored_name(), id],
                    )?;
                    let items = tx.batch_items(id, Some(s))?;
                    assert_eq!(items.len(), 1, "item state {s} is stored and filters");
                    assert_eq!(items[0].state, s, "item state {s} reads back");
                }
                Ok(())
            })
            .expect("every state stores");
    }

    #[test]
    fn resume_bookkeeping_requeues_in_flight_and_counts_by_state() {
        let mut store = Store::open_in_memory().expect("store");
        let id = store
            .write(|tx| -> Result<i64, crate::Error> {
                let id = tx.batch_insert(
                    "u1",
                    "f.csv",
                    "sha",
                    4,
                    &["eng".to_string()],
                    "local:me",
                    "2027-01-01T00:00:00Z",
                )?;
                for line in 2..6u64 {
                    tx.batch_item_insert(
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
        let c = store.tables();
        c.batch_item_mark_in_flight(id, 2, "t").expect("in flight");
        c.batch_item_mark_in_flight(id, 3, "t").expect("in flight");
        c.batch_item_mark_done(id, 3, "g3", "https://join/3", true, "t")
            .expect("done");
        c.batch_item_mark_in_flight(id, 4, "t").expect("in flight");
        c.batch_item_mark_failed(id, 4, "BadRequest", "nope", "t")
            .expect("failed");
        let before = c.batch_counts(id).expect("counts");
        assert_eq!(
            (before.in_flight, before.done, before.failed, before.queued),
            (1, 1, 1, 1),
            "{before:?}"
        );
        assert_eq!(
            c.batch_items_requeue_in_flight(id, "t").expect("requeue"),
            1,
            "the interrupted item is requeued"
        );
        assert_eq!(
            c.batch_counts(id).expect("counts").queued,
            2,
            "two items left to send"
        );
        assert_eq!(
            c.batch_live_item("ext-3").expect("q"),
            Some((id, 3)),
            "a done item is live"
        );
        assert_eq!(
            c.batch_live_item("ext-4").expect("q"),
            None,
            "a failed item is not live"
        );
        let b = c.batch_by_id(id).expect("get").expect("exists");
        assert!(b.resumable(), "a planned batch is resumable");
    }
}
