//! PostgreSQL statements of the `batches` table(s), behind [`BatchTable`].
//! Not written yet: every method answers "not written yet".

#![allow(unused_variables, unused_imports)]

use super::exec::Exec;
use crate::store::batches::*;
use crate::store::page::{Page, PageError};
use crate::store::StoreError;

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
        Err(pending())
    }

    fn batch_item_insert(
        &self,
        batch_id: i64,
        line: u64,
        external_id: &str,
        row_json: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        Err(pending())
    }

    fn batch_live_item(&self, external_id: &str) -> Result<Option<(i64, u64)>, StoreError> {
        Err(pending())
    }

    fn batch_set_state(
        &self,
        id: i64,
        state: BatchState,
        reason: Option<&str>,
        finished: bool,
        now: &str,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn batch_state(&self, id: i64) -> Result<Option<BatchState>, StoreError> {
        Err(pending())
    }

    fn batch_by_id(&self, id: i64) -> Result<Option<BatchRow>, StoreError> {
        Err(pending())
    }

    fn batches_list(&self) -> Result<Vec<BatchRow>, StoreError> {
        Err(pending())
    }

    fn batches_page(&self, after: Option<&str>, limit: u32) -> Result<Page<BatchRow>, PageError> {
        Err(PageError::Store(pending()))
    }

    fn batch_counts(&self, batch_id: i64) -> Result<Counts, StoreError> {
        Err(pending())
    }

    fn batch_items(
        &self,
        batch_id: i64,
        state: Option<ItemState>,
    ) -> Result<Vec<ItemRow>, StoreError> {
        Err(pending())
    }

    fn batch_items_recent_failed(&self, limit: u32) -> Result<Vec<ItemRow>, StoreError> {
        Err(pending())
    }

    fn batch_items_page(
        &self,
        batch_id: i64,
        state: Option<ItemState>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ItemRow>, PageError> {
        Err(PageError::Store(pending()))
    }

    fn batch_items_requeue_in_flight(&self, batch_id: i64, now: &str) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn batch_item_mark_in_flight(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn batch_item_mark_queued(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError> {
        Err(pending())
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
        Err(pending())
    }

    fn batch_item_set_meeting(
        &self,
        batch_id: i64,
        line: u64,
        meeting_id: i64,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn batch_item_mark_failed(
        &self,
        batch_id: i64,
        line: u64,
        code: &str,
        message: &str,
        now: &str,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn batch_items_cancel_queued(&self, batch_id: i64, now: &str) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn batch_items_cancel_in_flight(&self, batch_id: i64, now: &str) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn batch_item_mark_undone(
        &self,
        batch_id: i64,
        line: u64,
        now: &str,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }
}

fn pending() -> StoreError {
    StoreError::Pg {
        message: "this part of the team database is not written yet".to_string(),
        sqlstate: None,
        constraint: None,
    }
}
