//! Tables `operators` and `operator_roles`: row types and queries. The rules (who may change the
//! roster, the last global admin) live in `crate::operators`; this module only reads and writes.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use crate::roles::{Role, RoleGrant};

use super::page::{self, Page, PageError, PageQuery};

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

const SELECT: &str = "SELECT id, upn, object_id, display_name, active, created_at FROM operators";

fn from_row(r: &Row<'_>) -> rusqlite::Result<OperatorRow> {
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

fn with_roles(conn: &Connection, mut op: OperatorRow) -> rusqlite::Result<OperatorRow> {
    op.roles = roles_of(conn, op.id)?;
    Ok(op)
}

/// The roles of one operator, sorted by role then program code.
pub fn roles_of(conn: &Connection, operator_id: i64) -> rusqlite::Result<Vec<RoleGrant>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.role, p.code FROM operator_roles r LEFT JOIN programs p ON p.id = r.program_id
         WHERE r.operator_id = ?1",
    )?;
    let rows = stmt.query_map([operator_id], |r| {
        let role: String = r.get(0)?;
        let program: Option<String> = r.get(1)?;
        Ok((role, program))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (role, program) = row?;
        // The CHECK constraint limits `role` to the four names, so parsing cannot fail on a
        // file this schema wrote; skip rather than fail if a future version adds one.
        if let Some(role) = Role::ALL.into_iter().find(|r| r.as_str() == role) {
            out.push(RoleGrant { role, program });
        }
    }
    out.sort();
    Ok(out)
}

/// How many operators exist (active or not). Zero means setup mode.
pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM operators", [], |r| r.get(0))
}

/// How many active operators hold global admin.
pub fn count_active_global_admins(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(DISTINCT o.id) FROM operators o JOIN operator_roles r ON r.operator_id = o.id
         WHERE o.active = 1 AND r.role = 'global_admin'",
        [],
        |r| r.get(0),
    )
}

/// Finds an operator by UPN (case-insensitive).
pub fn by_upn(conn: &Connection, upn: &str) -> rusqlite::Result<Option<OperatorRow>> {
    let op = conn
        .prepare_cached(&format!("{SELECT} WHERE upn = ?1"))?
        .query_row([upn.trim()], from_row)
        .optional()?;
    op.map(|op| with_roles(conn, op)).transpose()
}

/// Finds an operator by Entra object id.
pub fn by_object_id(conn: &Connection, object_id: &str) -> rusqlite::Result<Option<OperatorRow>> {
    let op = conn
        .prepare_cached(&format!("{SELECT} WHERE object_id = ?1"))?
        .query_row([object_id], from_row)
        .optional()?;
    op.map(|op| with_roles(conn, op)).transpose()
}

/// Every operator, by UPN.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<OperatorRow>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY upn"))?;
    let ops = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ops.into_iter().map(|op| with_roles(conn, op)).collect()
}

/// One page of operators, by UPN; `after` is the previous page's cursor.
pub fn list_page(
    conn: &Connection,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<OperatorRow>, PageError> {
    let query = list_query(after, limit)?;
    let ops = query
        .rows(conn, from_row)?
        .into_iter()
        .map(|op| with_roles(conn, op))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(page::finish(KIND, ops, query.limit, |o| o.upn.clone()))
}

const KIND: &str = "operators";

/// The statement [`list_page`] runs.
pub fn list_query(after: Option<&str>, limit: u32) -> Result<PageQuery, PageError> {
    let after: Option<String> = after.map(|c| page::decode(KIND, c)).transpose()?;
    let mut query = PageQuery::new(format!("{SELECT} WHERE 1 = 1"), limit);
    if let Some(upn) = after {
        let n = query.arg(upn);
        query.push(&format!(" AND upn > ?{n}"));
    }
    query.push(" ORDER BY upn");
    query.push_limit();
    Ok(query)
}

/// Inserts an operator; returns its id.
pub fn insert(
    conn: &Connection,
    upn: &str,
    object_id: Option<&str>,
    display_name: &str,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO operators (upn, object_id, display_name, active, created_at) VALUES (?1, ?2, ?3, 1, ?4)",
        params![upn, object_id, display_name, crate::time::now_db()],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Deletes an operator (their roles go with them).
pub fn delete(conn: &Connection, id: i64) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM operators WHERE id = ?1", [id])
}

/// Activates or deactivates an operator.
pub fn set_active(conn: &Connection, id: i64, active: bool) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE operators SET active = ?2 WHERE id = ?1",
        params![id, active],
    )
}

/// Records the Entra object id (and display name) seen at sign-in.
pub fn link_identity(
    conn: &Connection,
    id: i64,
    object_id: &str,
    display_name: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE operators SET object_id = ?2, display_name = CASE WHEN ?3 = '' THEN display_name ELSE ?3 END WHERE id = ?1",
        params![id, object_id, display_name],
    )
}

/// Grants a role; `program_id` must be set exactly for per-program roles (the schema checks).
pub fn grant(
    conn: &Connection,
    operator_id: i64,
    role: Role,
    program_id: Option<i64>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO operator_roles (operator_id, role, program_id, granted_at) VALUES (?1, ?2, ?3, ?4)",
        params![operator_id, role.as_str(), program_id, crate::time::now_db()],
    )
}

/// Revokes a role; returns how many rows went (0 when it was not held).
pub fn revoke(
    conn: &Connection,
    operator_id: i64,
    role: Role,
    program_id: Option<i64>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM operator_roles WHERE operator_id = ?1 AND role = ?2 AND IFNULL(program_id, 0) = IFNULL(?3, 0)",
        params![operator_id, role.as_str(), program_id],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn per_program_roles_need_a_program_and_global_roles_refuse_one() {
        let store = Store::open_in_memory().expect("store");
        let c = store.conn();
        let id = insert(c, "a@x", None, "A").expect("insert");
        assert!(
            grant(c, id, Role::TrackAdmin, None).is_err(),
            "the schema must refuse a track admin without a program"
        );
        crate::store::programs::insert(c, "eng", "Eng", "", &[]).expect("program");
        assert!(
            grant(c, id, Role::GlobalAdmin, Some(1)).is_err(),
            "the schema must refuse a global admin bound to a program"
        );
        grant(c, id, Role::GlobalAdmin, None).expect("grant");
        assert!(
            grant(c, id, Role::GlobalAdmin, None).is_err(),
            "the same role cannot be granted twice (unique index with IFNULL)"
        );
        assert_eq!(
            count_active_global_admins(c).expect("count"),
            1,
            "one active global admin"
        );
    }
}

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::operators` for SQLite).
pub trait OperatorTable {}
