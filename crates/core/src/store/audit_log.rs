//! Table `audit_log`: append-only trail of every change. The row types and the queries every
//! backend answers ([`AuditTable`]; the SQL is in `store::sqlite::audit_log`). The schema refuses
//! UPDATE and DELETE, so even a hand-written SQL statement cannot rewrite history. Callers must
//! never put a secret in `before`/`after`.
//!
//! What both backends do alike lives here once: a row's assembly ([`audit_from`]) and a page's
//! filter and cursor constraints ([`page_constraints`]); each backend keeps its own SQL.

use serde::Serialize;

use super::columns::Columns;
use super::page::{self, Arg, Page, PageError};
use super::StoreError;

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

/// A row from the columns `id, at, operator, action, target, program_code, before_json,
/// after_json, graph_request_id, real_actor` (a snapshot that is not JSON reads as none).
pub(crate) fn audit_from<R: Columns>(r: &R) -> Result<AuditRow, R::Error> {
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

/// The cursor's list name of [`AuditTable::audit_page`] (a page's sort key is the last row's
/// `(at, id)`).
const PAGE_CURSOR: &str = "audit";

/// The constraints of an audit page, as both backends write them: each filter of `f` a plain
/// condition, then the keyset `(at, id) < cursor` (the list is newest first). `bind` binds each
/// argument in turn and returns its placeholder (`?N` or `$N`).
pub(crate) fn page_constraints(
    f: &AuditFilter,
    bind: &mut dyn FnMut(Arg) -> String,
) -> Result<String, PageError> {
    let after: Option<(String, i64)> = f
        .after
        .as_deref()
        .map(|c| page::decode(PAGE_CURSOR, c))
        .transpose()?;
    let mut sql = String::new();
    for (column, op, value) in [
        ("operator", "=", &f.operator),
        ("program_code", "=", &f.program_code),
        ("action", "=", &f.action),
        ("at", ">=", &f.since),
        ("at", "<", &f.until),
    ] {
        if let Some(v) = value {
            let n = bind(Arg::Text(v.clone()));
            sql.push_str(&format!(" AND {column} {op} {n}"));
        }
    }
    if let Some((at, id)) = after {
        let a = bind(Arg::Text(at));
        let b = bind(Arg::Int(id));
        sql.push_str(&format!(" AND (at, id) < ({a}, {b})"));
    }
    Ok(sql)
}

/// A page of rows from the `limit + 1` its statement fetched.
pub(crate) fn finish_page(rows: Vec<AuditRow>, limit: u32) -> Page<AuditRow> {
    page::finish(PAGE_CURSOR, rows, limit, |r| (r.at.clone(), r.id))
}

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::audit_log` for SQLite).
pub trait AuditTable {
    /// Appends one row; returns its id. Call inside the transaction of the change it records.
    fn audit_append(&self, e: &AuditEntry<'_>) -> Result<i64, StoreError>;

    /// Appends rows in order, without their ids: a team store writes them in one statement.
    fn audit_append_all(&self, entries: &[AuditEntry<'_>]) -> Result<(), StoreError> {
        for e in entries {
            self.audit_append(e)?;
        }
        Ok(())
    }

    /// The first page of rows matching `f` (see [`AuditTable::audit_page`]); a bad `f.after`
    /// cursor is an error here too, but only [`AuditTable::audit_page`] reports it precisely.
    fn audit_list(&self, f: &AuditFilter) -> Result<Vec<AuditRow>, StoreError>;

    /// One page of the rows matching `f`, newest first: by `at`, then `id` among rows of the
    /// same second.
    fn audit_page(&self, f: &AuditFilter) -> Result<Page<AuditRow>, PageError>;
}
