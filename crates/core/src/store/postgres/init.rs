//! `store init`: creates a team database's schema, group roles and policies, once, as the
//! database owner (a maintenance login with CREATEROLE, not an operator), in one transaction;
//! then names the first global admin (the store's setup mode ends there).

use super::{PgConn, SCHEMA_VERSION};
use crate::store::StoreError;

/// The tables (`schema/v1.sql`).
pub const SCHEMA_V1: &str = include_str!("schema/v1.sql");
/// Group roles, grants and row-level security (`schema/roles.sql`).
pub const ROLES: &str = include_str!("schema/roles.sql");

/// Creates the schema, roles and policies in one transaction: all of it or nothing. A second
/// run is refused by the scripts themselves (the schema already exists) and changes nothing.
pub fn init(owner: &mut PgConn) -> Result<(), StoreError> {
    owner.write(|tx| {
        tx.batch_execute(SCHEMA_V1)?;
        tx.batch_execute(ROLES)
    })?;
    owner.batch_execute("SET search_path = tsched, public")?;
    super::check_schema(owner, SCHEMA_VERSION)
}

/// Names the first global admin (only while the roster is empty); their login must exist on
/// the server. Returns the operator's id.
pub fn bootstrap(owner: &PgConn, upn: &str, display_name: &str) -> Result<i64, StoreError> {
    let row = owner.query_one(
        "SELECT tsched.tsched_bootstrap($1, $2)",
        &[&upn, &display_name],
    )?;
    row.try_get::<_, i64>(0).map_err(|e| owner.err(&e))
}
