//! PostgreSQL statements of the `meetings` table(s), behind [`MeetingTable`].
//! Not written yet: every method answers "not written yet".

#![allow(unused_variables, unused_imports)]

use super::exec::Exec;
use crate::store::meetings::*;
use crate::store::page::{Page, PageError};
use crate::store::StoreError;

impl<T: Exec> MeetingTable for T {
    fn meeting_insert_pending(
        &self,
        row: &NewRow<'_>,
        attendees: &[AttendeeRow],
    ) -> Result<Option<i64>, StoreError> {
        Err(pending())
    }

    fn meeting_replace_attendees(
        &self,
        meeting_id: i64,
        attendees: &[AttendeeRow],
    ) -> Result<(), StoreError> {
        Err(pending())
    }

    fn meeting_attendees(&self, meeting_id: i64) -> Result<Vec<AttendeeRow>, StoreError> {
        Err(pending())
    }

    fn meeting_by_id(&self, id: i64) -> Result<Option<MeetingRow>, StoreError> {
        Err(pending())
    }

    fn meeting_by_external_id(&self, external_id: &str) -> Result<Option<MeetingRow>, StoreError> {
        Err(pending())
    }

    fn meetings_recent_with_errors(&self, limit: u32) -> Result<Vec<MeetingRow>, StoreError> {
        Err(pending())
    }

    fn meeting_mark_created(
        &self,
        id: i64,
        confirmed: &Confirmed<'_>,
        now: &str,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn meeting_set_state(
        &self,
        id: i64,
        state: MeetingState,
        last_error: Option<&str>,
        now: &str,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn meeting_reschedule(
        &self,
        id: i64,
        start_utc: &str,
        end_utc: &str,
        time_zone: &str,
        subject: &str,
        now: &str,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn meeting_mark_cancelled(&self, id: i64, now: &str) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn meetings_page(&self, f: &MeetingFilter) -> Result<Page<MeetingRow>, PageError> {
        Err(PageError::Store(pending()))
    }
}

fn pending() -> StoreError {
    StoreError::Pg {
        message: "this part of the team database is not written yet".to_string(),
        sqlstate: None,
        constraint: None,
    }
}
