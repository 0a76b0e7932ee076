//! SQLite statements of the `audit_log` table, behind [`crate::store::audit_log::AuditTable`].
//! Triggers in the schema refuse UPDATE and DELETE on it.

use rusqlite::{params, Connection, Row};

use crate::store::audit_log::{self as shared, AuditEntry, AuditFilter, AuditRow, AuditTable};
use crate::store::page::{self, Page, PageError, PageQuery};
use crate::store::StoreError;

use super::{err, page_err};

fn append(conn: &Connection, e: &AuditEntry<'_>) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO audit_log (at, operator, action, target, program_code, before_json, after_json, graph_request_id, real_actor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            crate::time::now_db(),
            e.operator,
            e.action,
            e.target,
            e.program_code,
            e.before.as_ref().map(|v| v.to_string()),
            e.after.as_ref().map(|v| v.to_string()),
            e.graph_request_id,
            e.real_actor,
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Each filter present becomes a plain constraint, so SQLite can pick the index that starts with
/// it (`operator`, `program_code` or `action`, then `at`, then the rowid), which already yields
/// rows in list order: no sort, and a deep page is one seek.
fn list_page(conn: &Connection, f: &AuditFilter) -> Result<Page<AuditRow>, PageError> {
    let query = list_query(f)?;
    let rows = query.rows(conn, from_row)?;
    Ok(shared::finish_page(rows, query.limit))
}

/// The statement [`AuditTable::audit_page`] runs for `f` (public for the paging tests and the
/// benchmark, which check its query plan).
pub fn list_query(f: &AuditFilter) -> Result<PageQuery, PageError> {
    let mut query = PageQuery::new(
        "SELECT id, at, operator, action, target, program_code, before_json, after_json, graph_request_id, real_actor
         FROM audit_log WHERE 1 = 1",
        f.limit,
    );
    let constraints = shared::page_constraints(f, &mut |a| query.bind(a))?;
    query.push(&constraints);
    query.push(" ORDER BY at DESC, id DESC");
    query.push_limit();
    Ok(query)
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<AuditRow> {
    shared::audit_from(r)
}

impl AuditTable for Connection {
    fn audit_append(&self, e: &AuditEntry<'_>) -> Result<i64, StoreError> {
        append(self, e).map_err(|e| err(self, e))
    }

    fn audit_list(&self, f: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        // A bad cursor becomes `InvalidParameterName` carrying the message, as before the seam.
        list_page(self, f)
            .map(|p| p.items)
            .map_err(|e| err(self, page::into_sqlite(e)))
    }

    fn audit_page(&self, f: &AuditFilter) -> Result<Page<AuditRow>, PageError> {
        list_page(self, f).map_err(|e| page_err(self, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn audit_rows_cannot_be_updated_or_deleted_through_sql() {
        let store = Store::open_in_memory().expect("store");
        let entry = AuditEntry {
            operator: "a@x",
            action: "program.create",
            target: "program:eng",
            ..Default::default()
        };
        store.conn().audit_append(&entry).expect("append");
        let upd = store
            .conn()
            .execute("UPDATE audit_log SET operator = 'mallory'", []);
        assert!(
            upd.is_err(),
            "UPDATE on audit_log must be refused by the trigger"
        );
        let del = store.conn().execute("DELETE FROM audit_log", []);
        assert!(
            del.is_err(),
            "DELETE on audit_log must be refused by the trigger"
        );
        let rows = store
            .tables()
            .audit_list(&AuditFilter::default())
            .expect("list");
        assert_eq!(rows.len(), 1, "the row must survive both attempts");
        assert_eq!(rows[0].operator, "a@x", "the row must be unchanged");
    }
}
