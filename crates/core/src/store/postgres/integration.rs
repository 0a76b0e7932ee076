//! PostgreSQL statements of the `integration` table(s), behind [`IntegrationTable`].
//! Not written yet: every method answers "not written yet".

#![allow(unused_variables, unused_imports)]

use super::exec::Exec;
use crate::store::integration::*;
use crate::store::page::{Page, PageError};
use crate::store::StoreError;

impl<T: Exec> IntegrationTable for T {
    fn integration_get(&self) -> Result<Option<IntegrationRow>, StoreError> {
        Err(pending())
    }

    fn integration_put(&self, row: &IntegrationRow) -> Result<(), StoreError> {
        Err(pending())
    }

    fn integration_record_refresh(
        &self,
        at: &str,
        granted: &str,
        state: RowState,
        reason: Option<&str>,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn integration_set_attention(&self, reason: &str) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn integration_mark_removed(&self, at: &str) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn integration_ever_connected(&self) -> Result<bool, StoreError> {
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
