//! Table `audit_log`: append-only trail of every change. Triggers in the schema refuse UPDATE and
//! DELETE, so even a hand-written SQL statement cannot rewrite history. Callers must never put a
//! secret in `before`/`after`.

use rusqlite::{params, Connection, Row};
use serde::Serialize;

use super::page::{self, Page, PageError, PageQuery};

/// One change to record.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry<'a> {
    /// Who acted (operator UPN or `local:<user>`).
    pub operator: &'a str,
    /// Dotted action name, e.g. `program.create`.
    pub action: &'a str,
    /// What was changed, e.g. `program:eng`.
    pub target: &'a str,
    /// The program concerned, when there is one.
    pub program_code: Option<&'a str>,
    /// State before the change (JSON), when there was one.
    pub before: Option<serde_json::Value>,
    /// State after the change (JSON), when there is one.
    pub after: Option<serde_json::Value>,
    /// Graph's `request-id` when a Graph call was made.
    pub graph_request_id: Option<&'a str>,
    /// Who really acted when `operator` was named without proof (test-only impersonation):
    /// `local:<os user>`. `None` for proven operators and the local user in setup mode.
    pub real_actor: Option<&'a str>,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    /// Row id, increasing with time.
    pub id: i64,
    /// When (UTC, RFC 3339).
    pub at: String,
    /// Who.
    pub operator: String,
    /// What kind of change.
    pub action: String,
    /// On what.
    pub target: String,
    /// In which program.
    pub program_code: Option<String>,
    /// Before (JSON).
    pub before: Option<serde_json::Value>,
    /// After (JSON).
    pub after: Option<serde_json::Value>,
    /// Graph request id.
    pub graph_request_id: Option<String>,
    /// Who really acted, when `operator` was impersonated (see [`AuditEntry::real_actor`]).
    pub real_actor: Option<String>,
}

/// Filters for listing the trail; every field is optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this operator.
    pub operator: Option<String>,
    /// Only this program code.
    pub program_code: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// At or after this instant (RFC 3339 UTC).
    pub since: Option<String>,
    /// Before this instant (RFC 3339 UTC).
    pub until: Option<String>,
    /// At most this many rows (newest first); 0 means 100.
    pub limit: u32,
    /// Start after this cursor (the `next_cursor` of the previous page).
    pub after: Option<String>,
}

/// Appends one row. Call inside the transaction of the change it records.
pub fn append(conn: &Connection, e: &AuditEntry<'_>) -> rusqlite::Result<i64> {
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

/// The first page of rows matching `f` (see [`list_page`]); a bad `f.after` cursor is an
/// `InvalidParameterName` error here (use [`list_page`] for the precise error).
pub fn list(conn: &Connection, f: &AuditFilter) -> rusqlite::Result<Vec<AuditRow>> {
    list_page(conn, f)
        .map(|p| p.items)
        .map_err(page::into_sqlite)
}

/// One page of the rows matching `f`, newest first: by `at`, then `id` among rows of the same
/// second. Each filter present becomes a plain constraint, so SQLite can pick the index that
/// starts with it (`operator`, `program_code` or `action`, then `at`, then the rowid), which
/// already yields rows in list order: no sort, and a deep page is one seek.
pub fn list_page(conn: &Connection, f: &AuditFilter) -> Result<Page<AuditRow>, PageError> {
    let query = list_query(f)?;
    let rows = query.rows(conn, from_row)?;
    Ok(page::finish(KIND, rows, query.limit, |r| {
        (r.at.clone(), r.id)
    }))
}

const KIND: &str = "audit";

/// The statement [`list_page`] runs for `f`.
pub fn list_query(f: &AuditFilter) -> Result<PageQuery, PageError> {
    let after: Option<(String, i64)> = f
        .after
        .as_deref()
        .map(|c| page::decode(KIND, c))
        .transpose()?;
    let mut query = PageQuery::new(
        "SELECT id, at, operator, action, target, program_code, before_json, after_json, graph_request_id, real_actor
         FROM audit_log WHERE 1 = 1",
        f.limit,
    );
    for (column, op, value) in [
        ("operator", "=", &f.operator),
        ("program_code", "=", &f.program_code),
        ("action", "=", &f.action),
        ("at", ">=", &f.since),
        ("at", "<", &f.until),
    ] {
        if let Some(v) = value {
            let n = query.arg(v.clone());
            query.push(&format!(" AND {column} {op} ?{n}"));
        }
    }
    if let Some((at, id)) = after {
        let a = query.arg(at);
        let b = query.arg(id);
        query.push(&format!(" AND (at, id) < (?{a}, ?{b})"));
    }
    query.push(" ORDER BY at DESC, id DESC");
    query.push_limit();
    Ok(query)
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<AuditRow> {
    let json = |s: Option<String>| s.and_then(|s| serde_json::from_str(&s).ok());
    Ok(AuditRow {
        id: r.get(0)?,
        at: r.get(1)?,
        operator: r.get(2)?,
        action: r.get(3)?,
        target: r.get(4)?,
        program_code: r.get(5)?,
        before: json(r.get(6)?),
        after: json(r.get(7)?),
        graph_request_id: r.get(8)?,
        real_actor: r.get(9)?,
    })
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
        append(store.conn(), &entry).expect("append");
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
        let rows = list(store.conn(), &AuditFilter::default()).expect("list");
        assert_eq!(rows.len(), 1, "the row must survive both attempts");
        assert_eq!(rows[0].operator, "a@x", "the row must be unchanged");
    }
}

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::audit_log` for SQLite).
pub trait AuditTable {}
