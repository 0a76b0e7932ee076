//! PostgreSQL statements of the `participants` table(s), behind [`ParticipantTable`].
//! Not written yet: every method answers "not written yet".

#![allow(unused_variables, unused_imports)]

use super::exec::Exec;
use crate::store::page::{Page, PageError};
use crate::store::participants::*;
use crate::store::StoreError;

impl<T: Exec> ParticipantTable for T {
    fn participant_insert(
        &self,
        program_id: i64,
        email: &str,
        display_name: &str,
    ) -> Result<i64, StoreError> {
        Err(pending())
    }

    fn participant_by_email(
        &self,
        program_id: i64,
        email: &str,
    ) -> Result<Option<ParticipantRow>, StoreError> {
        Err(pending())
    }

    fn participant_delete(&self, program_id: i64, email: &str) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn participants(&self, program_id: i64) -> Result<Vec<ParticipantRow>, StoreError> {
        Err(pending())
    }

    fn participants_page(
        &self,
        program_id: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ParticipantRow>, PageError> {
        Err(PageError::Store(pending()))
    }

    fn participants_count(&self, program_id: i64) -> Result<i64, StoreError> {
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
