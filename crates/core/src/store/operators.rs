//! Tables `operators` and `operator_roles`: the row type and the queries every backend answers
//! ([`OperatorTable`]; the SQL is in `store::sqlite::operators`). The rules (who may change the
//! roster, the last global admin) live in `crate::operators`; this module only reads and writes.
//! What both backends do alike lives here once: the columns an operator is read from and its
//! assembly ([`operator_from`]), and the stored role names ([`stored_role`]).

use serde::Serialize;

use crate::roles::{Role, RoleGrant};

use super::columns::Columns;
use super::page::{Page, PageError};
use super::StoreError;

/// The statement [`operator_from`] reads the rows of (each backend adds its conditions).
pub(crate) const SELECT: &str =
    "SELECT id, upn, object_id, display_name, active, created_at FROM operators";

/// An operator from a row of [`SELECT`], without their roles.
pub(crate) fn operator_from<R: Columns>(r: &R) -> Result<OperatorRow, R::Error> {
    Ok(OperatorRow {
        id: r.get(0)?,
        upn: r.get(1)?,
        object_id: r.get(2)?,
        display_name: r.get(3)?,
        active: r.get(4)?,
        created_at: r.get(5)?,
        roles: Vec::new(),
    })
}

/// The role a stored `operator_roles.role` names. The schemas' `CHECK` limits it to the four
/// names, so this cannot fail on a row this schema wrote; callers skip a `None` rather than fail
/// if a future version adds one.
pub(crate) fn stored_role(name: &str) -> Option<Role> {
    Role::ALL.into_iter().find(|r| r.as_str() == name)
}

/// An operator with their roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorRow {
    /// Row id.
    pub id: i64,
    /// Sign-in name (unique, case-insensitively).
    pub upn: String,
    /// Entra object id, once they have signed in.
    pub object_id: Option<String>,
    /// Display name.
    pub display_name: String,
    /// Deactivated operators keep their row (and audit trail) but may not act.
    pub active: bool,
    /// Roles held, sorted.
    pub roles: Vec<RoleGrant>,
    /// Added (UTC).
    pub created_at: String,
}

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::operators` for SQLite).
pub trait OperatorTable {
    /// The roles of one operator, sorted by role then program code.
    fn operator_roles(&self, operator_id: i64) -> Result<Vec<RoleGrant>, StoreError>;

    /// How many operators exist (active or not). Zero means setup mode.
    fn operator_count(&self) -> Result<i64, StoreError>;

    /// How many active operators hold global admin.
    fn operator_count_active_global_admins(&self) -> Result<i64, StoreError>;

    /// Finds an operator by UPN (case-insensitive).
    fn operator_by_upn(&self, upn: &str) -> Result<Option<OperatorRow>, StoreError>;

    /// Finds an operator by Entra object id.
    fn operator_by_object_id(&self, object_id: &str) -> Result<Option<OperatorRow>, StoreError>;

    /// Every operator, by UPN.
    fn operators_list(&self) -> Result<Vec<OperatorRow>, StoreError>;

    /// One page of operators, by UPN; `after` is the previous page's cursor.
    fn operators_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<OperatorRow>, PageError>;

    /// Inserts an operator; returns its id.
    fn operator_insert(
        &self,
        upn: &str,
        object_id: Option<&str>,
        display_name: &str,
    ) -> Result<i64, StoreError>;

    /// Deletes an operator (their roles go with them).
    fn operator_delete(&self, id: i64) -> Result<usize, StoreError>;

    /// Activates or deactivates an operator.
    fn operator_set_active(&self, id: i64, active: bool) -> Result<usize, StoreError>;

    /// Records the Entra object id (and display name) seen at sign-in.
    fn operator_link_identity(
        &self,
        id: i64,
        object_id: &str,
        display_name: &str,
    ) -> Result<usize, StoreError>;

    /// Grants a role; `program_id` must be set exactly for per-program roles (the schema checks).
    fn operator_grant(
        &self,
        operator_id: i64,
        role: Role,
        program_id: Option<i64>,
    ) -> Result<usize, StoreError>;

    /// Revokes a role; returns how many rows went (0 when it was not held).
    fn operator_revoke(
        &self,
        operator_id: i64,
        role: Role,
        program_id: Option<i64>,
    ) -> Result<usize, StoreError>;
}
