//! PostgreSQL statements of the `operators` table(s), behind [`OperatorTable`].
//! Not written yet: every method answers "not written yet".

#![allow(unused_variables, unused_imports)]

use super::exec::Exec;
use crate::roles::{Role, RoleGrant};
use crate::store::operators::*;
use crate::store::page::{Page, PageError};
use crate::store::StoreError;

impl<T: Exec> OperatorTable for T {
    fn operator_roles(&self, operator_id: i64) -> Result<Vec<RoleGrant>, StoreError> {
        Err(pending())
    }

    fn operator_count(&self) -> Result<i64, StoreError> {
        Err(pending())
    }

    fn operator_count_active_global_admins(&self) -> Result<i64, StoreError> {
        Err(pending())
    }

    fn operator_by_upn(&self, upn: &str) -> Result<Option<OperatorRow>, StoreError> {
        Err(pending())
    }

    fn operator_by_object_id(&self, object_id: &str) -> Result<Option<OperatorRow>, StoreError> {
        Err(pending())
    }

    fn operators_list(&self) -> Result<Vec<OperatorRow>, StoreError> {
        Err(pending())
    }

    fn operators_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<OperatorRow>, PageError> {
        Err(PageError::Store(pending()))
    }

    fn operator_insert(
        &self,
        upn: &str,
        object_id: Option<&str>,
        display_name: &str,
    ) -> Result<i64, StoreError> {
        Err(pending())
    }

    fn operator_delete(&self, id: i64) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn operator_set_active(&self, id: i64, active: bool) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn operator_link_identity(
        &self,
        id: i64,
        object_id: &str,
        display_name: &str,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn operator_grant(
        &self,
        operator_id: i64,
        role: Role,
        program_id: Option<i64>,
    ) -> Result<usize, StoreError> {
        Err(pending())
    }

    fn operator_revoke(
        &self,
        operator_id: i64,
        role: Role,
        program_id: Option<i64>,
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
