//! PostgreSQL statements of the `audit_log` table(s), behind [`AuditTable`].
//! Not written yet: every method answers "not written yet".

#![allow(unused_variables, unused_imports)]

use super::exec::Exec;
use crate::store::audit_log::*;
use crate::store::page::{Page, PageError};
use crate::store::StoreError;

impl<T: Exec> AuditTable for T {
    fn audit_append(&self, e: &AuditEntry<'_>) -> Result<i64, StoreError> {
        Err(pending())
    }

    fn audit_list(&self, f: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        Err(pending())
    }

    fn audit_page(&self, f: &AuditFilter) -> Result<Page<AuditRow>, PageError> {
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
