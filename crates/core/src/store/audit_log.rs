//! Table `audit_log`: append-only trail of every change. The row types and the queries every
//! backend answers ([`AuditTable`]; the SQL is in `store::sqlite::audit_log`). The schema refuses
//! UPDATE and DELETE, so even a hand-written SQL statement cannot rewrite history. Callers must
//! never put a secret in `before`/`after`.

use serde::Serialize;

use super::page::{Page, PageError};
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

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::audit_log` for SQLite).
pub trait AuditTable {
    /// Appends one row; returns its id. Call inside the transaction of the change it records.
    fn audit_append(&self, e: &AuditEntry<'_>) -> Result<i64, StoreError>;

    /// The first page of rows matching `f` (see [`AuditTable::audit_page`]); a bad `f.after`
    /// cursor is an error here too, but only [`AuditTable::audit_page`] reports it precisely.
    fn audit_list(&self, f: &AuditFilter) -> Result<Vec<AuditRow>, StoreError>;

    /// One page of the rows matching `f`, newest first: by `at`, then `id` among rows of the
    /// same second.
    fn audit_page(&self, f: &AuditFilter) -> Result<Page<AuditRow>, PageError>;
}
