//! PostgreSQL statements of the `batches` and `batch_items` tables, behind [`BatchTable`]. The
//! statements are the SQLite backend's (`store::sqlite::batches`), with `$n` parameters; item
//! counts are read from `batch_item_counts`, which the server keeps by trigger (v1.sql). States
//! are stored under the same names as in SQLite (the schema's `CHECK`s spell them), and the
//! cursors are the same, so a cursor means the same thing on both backends.

use std::collections::HashMap;

use super::exec::{changed, get, Exec, PgRow};
use super::Row;
use crate::store::batches::{
    self as shared, BatchRow, BatchState, BatchTable, Counts, ItemMade, ItemRow, ItemState,
    BATCHES_CURSOR, BATCH_COLS, ITEM_COLS,
};
use crate::store::page::{self, Arg, Page, PageError};
use crate::store::StoreError;
use tokio_postgres::types::Type;

fn batch_from(db: &impl Exec, row: &Row) -> Result<BatchRow, StoreError> {
    shared::batch_from(&PgRow { db, row })
}

fn item_from(db: &impl Exec, row: &Row) -> Result<ItemRow, StoreError> {
    shared::item_from(&PgRow { db, row })
}

/// Fills in the counts of many batches with one read of `batch_item_counts`.
fn attach_counts(db: &impl Exec, batches: &mut [BatchRow]) -> Result<(), StoreError> {
    if batches.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = batches.iter().map(|b| b.id).collect();
    let rows = db.query(
        "SELECT batch_id, state, n FROM batch_item_counts WHERE batch_id = ANY($1)",
        &[&ids],
    )?;
    let rows = rows
        .iter()
        .map(|r| Ok((get(db, r, 0)?, get(db, r, 1)?, get(db, r, 2)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Counts::attach(batches, rows);
    Ok(())
}

impl<T: Exec> BatchTable for T {
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
        let programs = programs.join(" ");
        let row = self.query_one(
            "INSERT INTO batches (uid, source_name, source_sha256, state, concurrency, programs, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, 'planned', $4, $5, $6, $7, $7)
             RETURNING id",
            &[&uid, &source_name, &sha256, &concurrency, &programs, &created_by, &now],
        )?;
        get(self, &row, 0)
    }

    fn batch_item_insert(
        &self,
        batch_id: i64,
        line: u64,
        external_id: &str,
        row_json: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO batch_items (batch_id, line, external_id, row_json, state, updated_at)
             VALUES ($1, $2, $3, $4, 'queued', $5)",
            &[&batch_id, &(line as i64), &external_id, &row_json, &now],
        )
        .map(|_| ())
    }

    fn batch_live_item(&self, external_id: &str) -> Result<Option<(i64, u64)>, StoreError> {
        let row = self.query_opt(
            "SELECT batch_id, line FROM batch_items
             WHERE external_id = $1 AND state IN ('queued', 'in_flight', 'done')
             ORDER BY batch_id, line LIMIT 1",
            &[&external_id],
        )?;
        match row {
            Some(r) => {
                let batch: i64 = get(self, &r, 0)?;
                let line: i64 = get(self, &r, 1)?;
                Ok(Some((batch, line as u64)))
            }
            None => Ok(None),
        }
    }

    fn batch_items_insert(
        &self,
        batch_id: i64,
        items: &[(u64, &str, &str)],
        now: &str,
    ) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let lines: Vec<i64> = items.iter().map(|(l, _, _)| *l as i64).collect();
        let ids: Vec<&str> = items.iter().map(|(_, e, _)| *e).collect();
        let rows: Vec<&str> = items.iter().map(|(_, _, j)| *j).collect();
        // One statement (and, typed, one round trip) for the whole batch; each row still meets
        // the table's policies and triggers as a single insert would.
        self.query_typed(
            "INSERT INTO batch_items (batch_id, line, external_id, row_json, state, updated_at)
             SELECT $1, t.line, t.external_id, t.row_json, 'queued', $5
             FROM unnest($2::bigint[], $3::text[], $4::text[])
                  WITH ORDINALITY AS t(line, external_id, row_json, n)
             ORDER BY t.n",
            &[
                (&batch_id, Type::INT8),
                (&lines, Type::INT8_ARRAY),
                (&ids, Type::TEXT_ARRAY),
                (&rows, Type::TEXT_ARRAY),
                (&now, Type::TEXT),
            ],
        )
        .map(|_| ())
    }

    fn batch_live_items(
        &self,
        external_ids: &[&str],
    ) -> Result<HashMap<String, (i64, u64)>, StoreError> {
        if external_ids.is_empty() {
            return Ok(HashMap::new());
        }
        // Per externalId the row `batch_live_item` answers: the first by batch, then line.
        let rows = self.query_typed(
            "SELECT DISTINCT ON (external_id) external_id, batch_id, line FROM batch_items
             WHERE external_id = ANY($1) AND state IN ('queued', 'in_flight', 'done')
             ORDER BY external_id, batch_id, line",
            &[(&external_ids, Type::TEXT_ARRAY)],
        )?;
        rows.iter()
            .map(|r| {
                let id: String = get(self, r, 0)?;
                let batch: i64 = get(self, r, 1)?;
                let line: i64 = get(self, r, 2)?;
                Ok((id, (batch, line as u64)))
            })
            .collect()
    }

    fn batch_meeting_programs(
        &self,
        external_ids: &[&str],
    ) -> Result<HashMap<String, String>, StoreError> {
        if external_ids.is_empty() {
            return Ok(HashMap::new());
        }
        // The join `meeting_by_external_id` reads `program_code` through (same policies).
        let rows = self.query_typed(
            "SELECT m.external_id, p.code FROM meetings m JOIN programs p ON p.id = m.program_id
             WHERE m.external_id = ANY($1)",
            &[(&external_ids, Type::TEXT_ARRAY)],
        )?;
        rows.iter()
            .map(|r| Ok((get(self, r, 0)?, get(self, r, 1)?)))
            .collect()
    }

    fn batch_set_state(
        &self,
        id: i64,
        state: BatchState,
        reason: Option<&str>,
        finished: bool,
        now: &str,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE batches SET state = $2, pause_reason = $3, updated_at = $4,
               finished_at = CASE WHEN $5 THEN $4 ELSE finished_at END
             WHERE id = $1",
            &[&id, &state.stored_name(), &reason, &now, &finished],
        )
        .map(changed)
    }

    fn batch_state(&self, id: i64) -> Result<Option<BatchState>, StoreError> {
        match self.query_opt("SELECT state FROM batches WHERE id = $1", &[&id])? {
            Some(r) => Ok(BatchState::from_stored(&get::<String>(self, &r, 0)?)),
            None => Ok(None),
        }
    }

    fn batch_by_id(&self, id: i64) -> Result<Option<BatchRow>, StoreError> {
        let row = self.query_opt(
            &format!("SELECT {BATCH_COLS} FROM batches WHERE id = $1"),
            &[&id],
        )?;
        match row {
            Some(r) => {
                let mut b = batch_from(self, &r)?;
                b.counts = self.batch_counts(id)?;
                Ok(Some(b))
            }
            None => Ok(None),
        }
    }

    fn batches_list(&self) -> Result<Vec<BatchRow>, StoreError> {
        let rows = self.query(
            &format!("SELECT {BATCH_COLS} FROM batches ORDER BY id DESC"),
            &[],
        )?;
        let mut batches = rows
            .iter()
            .map(|r| batch_from(self, r))
            .collect::<Result<Vec<_>, _>>()?;
        attach_counts(self, &mut batches)?;
        Ok(batches)
    }

    fn batches_page(&self, after: Option<&str>, limit: u32) -> Result<Page<BatchRow>, PageError> {
        let (op, bound) = shared::batches_seek(after)?;
        let limit = page::limit(limit);
        let fetch = i64::from(limit) + 1;
        let rows = self.query(
            &format!("SELECT {BATCH_COLS} FROM batches WHERE id {op} $1 ORDER BY id DESC LIMIT $2"),
            &[&bound, &fetch],
        )?;
        let rows = rows
            .iter()
            .map(|r| batch_from(self, r))
            .collect::<Result<Vec<_>, _>>()?;
        let mut page = page::finish(BATCHES_CURSOR, rows, limit, |b| b.id);
        attach_counts(self, &mut page.items)?;
        Ok(page)
    }

    fn batch_counts(&self, batch_id: i64) -> Result<Counts, StoreError> {
        let rows = self.query(
            "SELECT state, n FROM batch_item_counts WHERE batch_id = $1",
            &[&batch_id],
        )?;
        let mut c = Counts::default();
        for r in &rows {
            c.add_stored(&get::<String>(self, r, 0)?, get(self, r, 1)?);
        }
        Ok(c)
    }

    fn batch_items(
        &self,
        batch_id: i64,
        state: Option<ItemState>,
    ) -> Result<Vec<ItemRow>, StoreError> {
        let state = state.map(ItemState::stored_name);
        let rows = self.query(
            &format!(
                "SELECT {ITEM_COLS} FROM batch_items
                 WHERE batch_id = $1 AND ($2::text IS NULL OR state = $2) ORDER BY line"
            ),
            &[&batch_id, &state],
        )?;
        rows.iter().map(|r| item_from(self, r)).collect()
    }

    fn batch_items_recent_failed(&self, limit: u32) -> Result<Vec<ItemRow>, StoreError> {
        let rows = self.query(
            &format!(
                "SELECT {ITEM_COLS} FROM batch_items WHERE state = $1
                 ORDER BY updated_at DESC LIMIT $2"
            ),
            &[&ItemState::Failed.stored_name(), &i64::from(limit)],
        )?;
        rows.iter().map(|r| item_from(self, r)).collect()
    }

    fn batch_items_page(
        &self,
        batch_id: i64,
        state: Option<ItemState>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ItemRow>, PageError> {
        let limit = page::limit(limit);
        // Served by the primary key, or batch_items_state_line with a state.
        let mut sql = format!("SELECT {ITEM_COLS} FROM batch_items WHERE batch_id = $1");
        let mut args: Vec<Arg> = vec![Arg::Int(batch_id)];
        let mut bind = |a: Arg| {
            args.push(a);
            format!("${}", args.len())
        };
        sql.push_str(&shared::items_constraints(state, after, &mut bind)?);
        let n = bind(Arg::Int(i64::from(limit) + 1));
        sql.push_str(&format!(" ORDER BY line LIMIT {n}"));
        let rows = self.query(&sql, &super::exec::params(&args))?;
        let rows = rows
            .iter()
            .map(|r| item_from(self, r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(shared::finish_items_page(rows, limit))
    }

    fn batch_items_requeue_in_flight(&self, batch_id: i64, now: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE batch_items SET state = 'queued', updated_at = $2
             WHERE batch_id = $1 AND state = 'in_flight'",
            &[&batch_id, &now],
        )
        .map(changed)
    }

    fn batch_items_mark_in_flight(
        &self,
        batch_id: i64,
        lines: &[u64],
        now: &str,
    ) -> Result<Vec<u64>, StoreError> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<i64> = lines.iter().map(|l| *l as i64).collect();
        // The same conditions as one item's (below).
        let rows = self.query(
            "UPDATE batch_items SET state = 'in_flight', attempts = attempts + 1, updated_at = $3
             WHERE batch_id = $1 AND line = ANY($2) AND state IN ('queued', 'in_flight')
               AND (SELECT state FROM batches WHERE id = $1 FOR SHARE) <> 'cancelled'
             RETURNING line",
            &[&batch_id, &wanted, &now],
        )?;
        let mut marked = std::collections::HashSet::new();
        for r in &rows {
            marked.insert(get::<i64>(self, r, 0)? as u64);
        }
        Ok(lines
            .iter()
            .copied()
            .filter(|l| marked.contains(l))
            .collect())
    }

    fn batch_item_mark_in_flight(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError> {
        // Never once the batch is cancelled. SQLite serializes a cancel and this update; here the
        // batch row is read FOR SHARE, so a cancel in another transaction either waits for this
        // one (and then sees the item in flight) or has committed and this one sees 'cancelled'
        // (a locking read in READ COMMITTED reads the newest committed row).
        self.execute(
            "UPDATE batch_items SET state = 'in_flight', attempts = attempts + 1, updated_at = $3
             WHERE batch_id = $1 AND line = $2 AND state IN ('queued', 'in_flight')
               AND (SELECT state FROM batches WHERE id = $1 FOR SHARE) <> 'cancelled'",
            &[&batch_id, &(line as i64), &now],
        )
        .map(changed)
    }

    fn batch_item_mark_queued(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError> {
        // A batch cancelled while this attempt was in flight does not get the item back: it ends
        // cancelled (the attempt made no meeting). The batch row is read FOR SHARE, as above.
        self.execute(
            "UPDATE batch_items SET state = CASE WHEN (SELECT state FROM batches WHERE id = $1 FOR SHARE) = 'cancelled'
                                            THEN 'cancelled' ELSE 'queued' END,
                    updated_at = $3
             WHERE batch_id = $1 AND line = $2 AND state = 'in_flight'",
            &[&batch_id, &(line as i64), &now],
        )
        .map(changed)
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
        self.execute(
            "UPDATE batch_items SET state = 'done', graph_id = $3, join_web_url = $4, created_now = $5,
               error_code = NULL, error_message = NULL, updated_at = $6
             WHERE batch_id = $1 AND line = $2",
            &[
                &batch_id,
                &(line as i64),
                &graph_id,
                &join_web_url,
                &created_now,
                &now,
            ],
        )
        .map(changed)
    }

    fn batch_item_set_meeting(
        &self,
        batch_id: i64,
        line: u64,
        meeting_id: i64,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE batch_items SET meeting_id = $3 WHERE batch_id = $1 AND line = $2",
            &[&batch_id, &(line as i64), &meeting_id],
        )
        .map(changed)
    }

    fn batch_items_mark_made(
        &self,
        batch_id: i64,
        items: &[ItemMade<'_>],
        now: &str,
    ) -> Result<usize, StoreError> {
        if items.is_empty() {
            return Ok(0);
        }
        let lines: Vec<i64> = items.iter().map(|i| i.line as i64).collect();
        let graph_ids: Vec<&str> = items.iter().map(|i| i.graph_id).collect();
        let urls: Vec<&str> = items.iter().map(|i| i.join_web_url).collect();
        let created: Vec<bool> = items.iter().map(|i| i.created_now).collect();
        let meetings: Vec<i64> = items.iter().map(|i| i.meeting_id).collect();
        self.execute(
            "UPDATE batch_items b SET state = 'done', graph_id = t.graph_id,
               join_web_url = t.join_web_url, created_now = t.created_now,
               meeting_id = t.meeting_id, error_code = NULL, error_message = NULL,
               updated_at = $2
             FROM unnest($3::bigint[], $4::text[], $5::text[], $6::boolean[], $7::bigint[])
               AS t (line, graph_id, join_web_url, created_now, meeting_id)
             WHERE b.batch_id = $1 AND b.line = t.line",
            &[
                &batch_id, &now, &lines, &graph_ids, &urls, &created, &meetings,
            ],
        )
        .map(changed)
    }

    fn batch_item_mark_failed(
        &self,
        batch_id: i64,
        line: u64,
        code: &str,
        message: &str,
        now: &str,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE batch_items SET state = 'failed', error_code = $3, error_message = $4, updated_at = $5
             WHERE batch_id = $1 AND line = $2",
            &[&batch_id, &(line as i64), &code, &message, &now],
        )
        .map(changed)
    }

    fn batch_items_cancel_queued(&self, batch_id: i64, now: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE batch_items SET state = 'cancelled', updated_at = $2
             WHERE batch_id = $1 AND state = 'queued'",
            &[&batch_id, &now],
        )
        .map(changed)
    }

    fn batch_items_cancel_in_flight(&self, batch_id: i64, now: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE batch_items SET state = 'cancelled', updated_at = $2
             WHERE batch_id = $1 AND state = 'in_flight'",
            &[&batch_id, &now],
        )
        .map(changed)
    }

    fn batch_item_mark_undone(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE batch_items SET state = 'undone', updated_at = $3
             WHERE batch_id = $1 AND line = $2 AND state = 'done'",
            &[&batch_id, &(line as i64), &now],
        )
        .map(changed)
    }

    fn batch_lease_take(
        &self,
        id: i64,
        holder: &str,
        replacing: Option<&str>,
        now: &str,
        until: &str,
    ) -> Result<usize, StoreError> {
        // One UPDATE: the row lock makes a second taker wait for the first and then re-check
        // the condition on the row the first wrote (READ COMMITTED), so two never both take it.
        self.execute(
            &format!(
                "UPDATE batches SET lease_holder = $2,
                   lease_since = CASE WHEN lease_holder IS NOT DISTINCT FROM $2
                                 THEN lease_since ELSE $4 END,
                   lease_until = $5
                 WHERE id = $1 AND {}",
                shared::lease_free("$2", "$4", "$3::text")
            ),
            &[&id, &holder, &replacing, &now, &until],
        )
        .map(changed)
    }

    fn batch_lease_renew(&self, id: i64, holder: &str, until: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE batches SET lease_until = $3 WHERE id = $1 AND lease_holder = $2",
            &[&id, &holder, &until],
        )
        .map(changed)
    }

    fn batch_lease_release(&self, id: i64, holder: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE batches SET lease_holder = NULL, lease_since = NULL, lease_until = NULL
             WHERE id = $1 AND lease_holder = $2",
            &[&id, &holder],
        )
        .map(changed)
    }
}
