//! SQLite statements of the `operators` and `operator_roles` tables, behind
//! [`crate::store::operators::OperatorTable`].

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::roles::{Role, RoleGrant};
use crate::store::operators::{self as shared, OperatorRow, OperatorTable, SELECT};
use crate::store::page::{self, Page, PageError, PageQuery};
use crate::store::StoreError;

use super::{err, page_err};

fn from_row(r: &Row<'_>) -> rusqlite::Result<OperatorRow> {
    shared::operator_from(r)
}

fn with_roles(conn: &Connection, mut op: OperatorRow) -> rusqlite::Result<OperatorRow> {
    op.roles = roles_of(conn, op.id)?;
    Ok(op)
}

fn roles_of(conn: &Connection, operator_id: i64) -> rusqlite::Result<Vec<RoleGrant>> {
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
        if let Some(role) = shared::stored_role(&role) {
            out.push(RoleGrant { role, program });
        }
    }
    out.sort();
    Ok(out)
}

fn by_upn(conn: &Connection, upn: &str) -> rusqlite::Result<Option<OperatorRow>> {
    let op = conn
        .prepare_cached(&format!("{SELECT} WHERE upn = ?1"))?
        .query_row([upn.trim()], from_row)
        .optional()?;
    op.map(|op| with_roles(conn, op)).transpose()
}

fn by_object_id(conn: &Connection, object_id: &str) -> rusqlite::Result<Option<OperatorRow>> {
    let op = conn
        .prepare_cached(&format!("{SELECT} WHERE object_id = ?1"))?
        .query_row([object_id], from_row)
        .optional()?;
    op.map(|op| with_roles(conn, op)).transpose()
}

fn list(conn: &Connection) -> rusqlite::Result<Vec<OperatorRow>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY upn"))?;
    let ops = stmt
        .query_map([], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ops.into_iter().map(|op| with_roles(conn, op)).collect()
}

fn list_page(
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

/// The statement [`OperatorTable::operators_page`] runs (public for the paging tests and the
/// benchmark, which check its query plan).
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

impl OperatorTable for Connection {
    fn operator_roles(&self, operator_id: i64) -> Result<Vec<RoleGrant>, StoreError> {
        roles_of(self, operator_id).map_err(|e| err(self, e))
    }

    fn operator_count(&self) -> Result<i64, StoreError> {
        self.query_row("SELECT count(*) FROM operators", [], |r| r.get(0))
            .map_err(|e| err(self, e))
    }

    fn operator_count_active_global_admins(&self) -> Result<i64, StoreError> {
        self.query_row(
            "SELECT count(DISTINCT o.id) FROM operators o JOIN operator_roles r ON r.operator_id = o.id
         WHERE o.active = 1 AND r.role = 'global_admin'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| err(self, e))
    }

    fn operator_by_upn(&self, upn: &str) -> Result<Option<OperatorRow>, StoreError> {
        by_upn(self, upn).map_err(|e| err(self, e))
    }

    fn operator_by_object_id(&self, object_id: &str) -> Result<Option<OperatorRow>, StoreError> {
        by_object_id(self, object_id).map_err(|e| err(self, e))
    }

    fn operators_list(&self) -> Result<Vec<OperatorRow>, StoreError> {
        list(self).map_err(|e| err(self, e))
    }

    fn operators_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<OperatorRow>, PageError> {
        list_page(self, after, limit).map_err(|e| page_err(self, e))
    }

    fn operator_insert(
        &self,
        upn: &str,
        object_id: Option<&str>,
        display_name: &str,
    ) -> Result<i64, StoreError> {
        self.execute(
            "INSERT INTO operators (upn, object_id, display_name, active, created_at) VALUES (?1, ?2, ?3, 1, ?4)",
            params![upn, object_id, display_name, crate::time::now_db()],
        )
        .map_err(|e| err(self, e))?;
        Ok(self.last_insert_rowid())
    }

    fn operator_delete(&self, id: i64) -> Result<usize, StoreError> {
        self.execute("DELETE FROM operators WHERE id = ?1", [id])
            .map_err(|e| err(self, e))
    }

    fn operator_set_active(&self, id: i64, active: bool) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE operators SET active = ?2 WHERE id = ?1",
            params![id, active],
        )
        .map_err(|e| err(self, e))
    }

    fn operator_link_identity(
        &self,
        id: i64,
        object_id: &str,
        display_name: &str,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE operators SET object_id = ?2, display_name = CASE WHEN ?3 = '' THEN display_name ELSE ?3 END WHERE id = ?1",
            params![id, object_id, display_name],
        )
        .map_err(|e| err(self, e))
    }

    fn operator_grant(
        &self,
        operator_id: i64,
        role: Role,
        program_id: Option<i64>,
    ) -> Result<usize, StoreError> {
        self.execute(
            "INSERT INTO operator_roles (operator_id, role, program_id, granted_at) VALUES (?1, ?2, ?3, ?4)",
            params![operator_id, role.as_str(), program_id, crate::time::now_db()],
        )
        .map_err(|e| err(self, e))
    }

    fn operator_revoke(
        &self,
        operator_id: i64,
        role: Role,
        program_id: Option<i64>,
    ) -> Result<usize, StoreError> {
        self.execute(
            "DELETE FROM operator_roles WHERE operator_id = ?1 AND role = ?2 AND IFNULL(program_id, 0) = IFNULL(?3, 0)",
            params![operator_id, role.as_str(), program_id],
        )
        .map_err(|e| err(self, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::prelude::*;
    use crate::store::Store;

    #[test]
    fn per_program_roles_need_a_program_and_global_roles_refuse_one() {
        let store = Store::open_in_memory().expect("store");
        let c = store.conn();
        let id = c.operator_insert("a@x", None, "A").expect("insert");
        assert!(
            c.operator_grant(id, Role::TrackAdmin, None).is_err(),
            "the schema must refuse a track admin without a program"
        );
        c.program_insert("eng", "Eng", "", &[]).expect("program");
        assert!(
            c.operator_grant(id, Role::GlobalAdmin, Some(1)).is_err(),
            "the schema must refuse a global admin bound to a program"
        );
        c.operator_grant(id, Role::GlobalAdmin, None)
            .expect("grant");
        assert!(
            c.operator_grant(id, Role::GlobalAdmin, None).is_err(),
            "the same role cannot be granted twice (unique index with IFNULL)"
        );
        assert_eq!(
            c.operator_count_active_global_admins().expect("count"),
            1,
            "one active global admin"
        );
    }
}
