//! `store migrate-to`: copies a local SQLite store into an empty team database, once, as the
//! database owner, in one PostgreSQL transaction (all of it or nothing), verified before it
//! commits.
//!
//! Owns the copy and its checks; not the schema (`schema/v1.sql`, `roles.sql`) and no use case.
//! Must not write to the SQLite file: it is read in one read transaction that is rolled back.
//!
//! What is copied, and how (docs/TEAM-STORE.md, "Moving a local store in"):
//! - every table of the SQLite store with its ids; the identity sequences are then moved to
//!   the largest id, so the next row the team inserts gets a new one (last of all, after the
//!   checks: `setval` is not undone by a rollback);
//! - flags (SQLite integers 0/1) become booleans; the generated `_key`/`login` columns, `version`
//!   and `updated_by` are the server's (version 1, the owner's login; [`SERVER_KEPT`]);
//! - settings: the shared ones only ([`LOCAL_SETTINGS`] stay on the workstation);
//! - `batch_item_counts` is derived: the server's trigger counts the copied items, and the local
//!   rows must agree with it (zero rows the local triggers left are copied as such);
//! - the audit trail keeps its `operator`, `at` and `real_actor` exactly. The server's
//!   `audit_log_stamp` trigger overwrites them with the session's for every insert, so it is
//!   disabled inside this transaction and enabled again before the commit: `ALTER TABLE ...
//!   DISABLE TRIGGER` is the table owner's right (no change to roles.sql), transactional DDL
//!   (no other session ever sees the trigger off), and the SHARE ROW EXCLUSIVE lock it takes
//!   holds every other session's audit insert until the commit;
//! - operators: the owner inserts the rows (its `owner` policy), then each operator's login is
//!   made exactly as the roster functions make it (`tsched_ensure_login`: a LOGIN without a
//!   password, or an existing plain login adopted; a powerful role refuses the migration), its
//!   group memberships follow its roles (`tsched_sync_memberships`) and an inactive operator's
//!   login is NOLOGIN. The DBA then gives each login a way in (a password or a certificate).

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde::Serialize;

use super::{PgConn, PgTx, ToSql, SCHEMA_VERSION};
use crate::store::{Store, StoreError};

/// Settings that belong to one workstation, never to the shared database (schema/v1.sql's
/// comment on `settings`): the CLI's saved sign-in and the embedded sandbox's address.
pub const LOCAL_SETTINGS: [&str; 2] = [
    crate::signin::SETTING_CLI_SESSION,
    crate::store::integration::SETTING_EMBEDDED_SANDBOX,
];

/// Local columns the team database keeps itself, so they are not copied: the optimistic
/// concurrency `version` (a copied row starts at 1, bumped by the server from then on) and
/// `updated_by` (the server names the login that wrote the row: the owner, for the import; the
/// audit trail keeps who changed what before).
pub const SERVER_KEPT: [&str; 2] = ["version", "updated_by"];

/// Rows sent to the server per INSERT.
const CHUNK: usize = 2000;

/// How far a migration got, for a front end to show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// The team database is the owner's, at this build's schema version, and empty.
    Checked,
    /// Rows of `table` copied so far (after each chunk of a large table).
    Copying {
        /// The table.
        table: &'static str,
        /// Rows copied so far.
        rows: u64,
    },
    /// `table` is copied.
    Copied {
        /// The table.
        table: &'static str,
        /// Its rows.
        rows: u64,
    },
    /// The operators' logins exist and their memberships follow their roles.
    Logins {
        /// How many operators.
        operators: u64,
    },
    /// Counts and spot checks agree; committing.
    Verified,
}

/// Rows in one table of the team database after the migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCount {
    /// The table.
    pub table: &'static str,
    /// Its rows (equal to the local store's: verified before the commit).
    pub rows: u64,
}

/// What [`migrate_from_sqlite`] copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    /// Rows per table, in copy order.
    pub tables: Vec<TableCount>,
    /// Local settings that were not copied ([`LOCAL_SETTINGS`] the file held).
    pub skipped_settings: Vec<String>,
    /// Operators' logins this migration created: no password yet (the DBA gives each one).
    pub logins_created: Vec<String>,
    /// Operators' logins that already existed as plain logins and were adopted.
    pub logins_adopted: Vec<String>,
    /// Rows compared field by field with the local store (the first and last of each table, by
    /// key, and every `batch_item_counts` row).
    pub rows_spot_checked: u64,
}

/// How a SQLite column is read and sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// INTEGER → bigint.
    Int,
    /// TEXT → text.
    Text,
    /// INTEGER 0/1 → boolean.
    Bool,
}
use Kind::{Bool, Int, Text};

/// One table to copy: its columns (the same names in both stores), the SQLite order and the
/// key that finds a row again.
struct Spec {
    table: &'static str,
    cols: &'static [(&'static str, Kind)],
    /// SQLite `ORDER BY` (the key's order).
    order: &'static str,
    /// The columns that identify a row (a prefix of `cols`' names, in any order).
    key: &'static [&'static str],
}

/// Every table, parents before children. `batch_item_counts` is handled apart (derived).
const SPECS: &[Spec] = &[
    Spec {
        table: "programs",
        cols: &[
            ("id", Int),
            ("code", Text),
            ("name", Text),
            ("description", Text),
            ("archived", Bool),
            ("created_at", Text),
            ("updated_at", Text),
        ],
        order: "id",
        key: &["id"],
    },
    Spec {
        table: "program_meeting_modes",
        cols: &[
            ("program_id", Int),
            ("mode", Text),
            ("enabled", Bool),
            ("updated_at", Text),
        ],
        order: "program_id, mode",
        key: &["program_id", "mode"],
    },
    Spec {
        table: "participants",
        cols: &[
            ("id", Int),
            ("program_id", Int),
            ("email", Text),
            ("display_name", Text),
            ("added_at", Text),
        ],
        order: "id",
        key: &["id"],
    },
    Spec {
        table: "operators",
        cols: &[
            ("id", Int),
            ("upn", Text),
            ("object_id", Text),
            ("display_name", Text),
            ("active", Bool),
            ("created_at", Text),
        ],
        order: "id",
        key: &["id"],
    },
    Spec {
        table: "operator_roles",
        cols: &[
            ("operator_id", Int),
            ("role", Text),
            ("program_id", Int),
            ("granted_at", Text),
        ],
        order: "operator_id, role, IFNULL(program_id, 0)",
        key: &["operator_id", "role", "program_id"],
    },
    Spec {
        table: "integration",
        cols: &[
            ("id", Int),
            ("cloud", Text),
            ("authority_base", Text),
            ("graph_base", Text),
            ("tenant_id", Text),
            ("client_id", Text),
            ("host_object_id", Text),
            ("host_upn", Text),
            ("host_display_name", Text),
            ("granted_scopes", Text),
            ("state", Text),
            ("attention_reason", Text),
            ("connected_at", Text),
            ("connected_by", Text),
            ("last_refresh_at", Text),
            ("removed_at", Text),
            ("invitation_mode", Text),
        ],
        order: "id",
        key: &["id"],
    },
    Spec {
        table: "directory_cache",
        cols: &[
            ("address", Text),
            ("class", Text),
            ("matched_by", Text),
            ("object_id", Text),
            ("upn", Text),
            ("display_name", Text),
            ("checked_at", Text),
        ],
        order: "address",
        key: &["address"],
    },
    Spec {
        table: "settings",
        cols: &[("key", Text), ("value", Text)],
        order: "key",
        key: &["key"],
    },
    Spec {
        table: "batches",
        cols: &[
            ("id", Int),
            ("uid", Text),
            ("source_name", Text),
            ("source_sha256", Text),
            ("state", Text),
            ("pause_reason", Text),
            ("concurrency", Int),
            ("programs", Text),
            ("created_by", Text),
            ("created_at", Text),
            ("updated_at", Text),
            ("finished_at", Text),
            ("lease_holder", Text),
            ("lease_since", Text),
            ("lease_until", Text),
        ],
        order: "id",
        key: &["id"],
    },
    Spec {
        table: "meetings",
        cols: &[
            ("id", Int),
            ("external_id", Text),
            ("program_id", Int),
            ("batch_id", Int),
            ("subject", Text),
            ("start_utc", Text),
            ("end_utc", Text),
            ("time_zone", Text),
            ("state", Text),
            ("graph_id", Text),
            ("join_web_url", Text),
            ("join_meeting_id", Text),
            ("passcode", Text),
            ("organizer_upn", Text),
            ("sequence", Int),
            ("last_error", Text),
            ("created_by", Text),
            ("created_at", Text),
            ("updated_at", Text),
            ("invitations", Text),
            ("event_id", Text),
            ("invitations_sent_at", Text),
            ("invitations_updated_at", Text),
            ("invitations_cancelled_at", Text),
        ],
        order: "id",
        key: &["id"],
    },
    Spec {
        table: "meeting_attendees",
        cols: &[
            ("meeting_id", Int),
            ("address", Text),
            ("upn", Text),
            ("object_id", Text),
            ("display_name", Text),
            ("start_utc", Text),
        ],
        order: "meeting_id, address",
        key: &["meeting_id", "address"],
    },
    Spec {
        table: "batch_items",
        cols: &[
            ("batch_id", Int),
            ("line", Int),
            ("external_id", Text),
            ("row_json", Text),
            ("state", Text),
            ("meeting_id", Int),
            ("graph_id", Text),
            ("join_web_url", Text),
            ("created_now", Bool),
            ("error_code", Text),
            ("error_message", Text),
            ("attempts", Int),
            ("updated_at", Text),
        ],
        order: "batch_id, line",
        key: &["batch_id", "line"],
    },
    Spec {
        table: "audit_log",
        cols: &[
            ("id", Int),
            ("at", Text),
            ("operator", Text),
            ("action", Text),
            ("target", Text),
            ("program_code", Text),
            ("before_json", Text),
            ("after_json", Text),
            ("graph_request_id", Text),
            ("real_actor", Text),
        ],
        order: "id",
        key: &["id"],
    },
];

/// The derived per-batch, per-state item counts.
const COUNTS: Spec = Spec {
    table: "batch_item_counts",
    cols: &[("batch_id", Int), ("state", Text), ("n", Int)],
    order: "batch_id, state",
    key: &["batch_id", "state"],
};

/// Every table the team database must hold nothing in before a migration (tsched_meta aside).
const ALL_TABLES: [&str; 14] = [
    "programs",
    "program_meeting_modes",
    "participants",
    "operators",
    "operator_roles",
    "integration",
    "directory_cache",
    "settings",
    "batches",
    "meetings",
    "meeting_attendees",
    "batch_items",
    "batch_item_counts",
    "audit_log",
];

/// Tables whose `id` is an identity column.
const IDENTITY_TABLES: [&str; 6] = [
    "programs",
    "participants",
    "operators",
    "batches",
    "meetings",
    "audit_log",
];

/// One field, as both stores are compared.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("NULL"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Text(s) => write!(f, "{s:?}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The rows of one chunk, column by column, as the array parameters of one INSERT.
enum Column {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
    Bool(Vec<Option<bool>>),
}

impl Column {
    fn new(kind: Kind) -> Self {
        match kind {
            Int => Column::Int(Vec::with_capacity(CHUNK)),
            Text => Column::Text(Vec::with_capacity(CHUNK)),
            Bool => Column::Bool(Vec::with_capacity(CHUNK)),
        }
    }

    fn push(&mut self, v: &Value) {
        match (self, v) {
            (Column::Int(c), Value::Int(i)) => c.push(Some(*i)),
            (Column::Int(c), _) => c.push(None),
            (Column::Text(c), Value::Text(s)) => c.push(Some(s.clone())),
            (Column::Text(c), _) => c.push(None),
            (Column::Bool(c), Value::Bool(b)) => c.push(Some(*b)),
            (Column::Bool(c), _) => c.push(None),
        }
    }

    fn clear(&mut self) {
        match self {
            Column::Int(c) => c.clear(),
            Column::Text(c) => c.clear(),
            Column::Bool(c) => c.clear(),
        }
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            Column::Int(c) => c,
            Column::Text(c) => c,
            Column::Bool(c) => c,
        }
    }
}

fn pg_type(kind: Kind) -> &'static str {
    match kind {
        Int => "bigint",
        Text => "text",
        Bool => "boolean",
    }
}

/// A refusal or a failed check: one line, and the transaction is rolled back.
fn refuse(message: String) -> StoreError {
    StoreError::Pg {
        message,
        sqlstate: None,
        constraint: None,
    }
}

/// Prefixes a server error with what was being done (which table).
fn context(what: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Pg {
            message,
            sqlstate,
            constraint,
        } => StoreError::Pg {
            message: format!("{what}: {message}"),
            sqlstate,
            constraint,
        },
        other => other,
    }
}

/// A quoted SQL identifier (a login such as `ana@contoso.com`).
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A quoted SQL string literal.
fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQLite `WHERE` of a table: settings leave out the workstation's own keys.
fn local_filter(table: &str) -> String {
    if table == "settings" {
        let keys: Vec<String> = LOCAL_SETTINGS.iter().map(|k| quote_literal(k)).collect();
        format!(" WHERE key NOT IN ({})", keys.join(", "))
    } else {
        String::new()
    }
}

/// Reads column `i` of a SQLite row as `kind`, refusing a value of another type (SQLite does
/// not enforce declared types; PostgreSQL does, and a silent conversion would change the data).
fn read_value(
    table: &str,
    col: &str,
    kind: Kind,
    row: &rusqlite::Row<'_>,
    i: usize,
) -> Result<Value, String> {
    let v = row.get_ref(i).map_err(|e| e.to_string())?;
    let bad = |what: &str| format!("{table}.{col} holds {what}, not {kind:?}");
    Ok(match (kind, v) {
        (_, ValueRef::Null) => Value::Null,
        (Int, ValueRef::Integer(n)) => Value::Int(n),
        (Bool, ValueRef::Integer(0)) => Value::Bool(false),
        (Bool, ValueRef::Integer(1)) => Value::Bool(true),
        (Bool, ValueRef::Integer(n)) => return Err(bad(&format!("the integer {n}"))),
        (Text, ValueRef::Text(t)) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|_| bad("text that is not UTF-8"))?
                .to_string(),
        ),
        (_, ValueRef::Integer(_)) => return Err(bad("an integer")),
        (_, ValueRef::Real(_)) => return Err(bad("a real number")),
        (_, ValueRef::Text(_)) => return Err(bad("text")),
        (_, ValueRef::Blob(_)) => return Err(bad("a blob")),
    })
}

/// A SQLite failure while reading the local store, naming the file.
fn local_err(local: &Store, e: rusqlite::Error) -> StoreError {
    local.err(e)
}

/// A local value the PostgreSQL schema cannot hold.
fn bad_local(local: &Store, why: String) -> StoreError {
    refuse(format!(
        "the local store {} cannot be copied: {why}; nothing was written",
        local.path().display()
    ))
}

/// What copying one table saw.
struct Copied {
    rows: u64,
    first: Option<Vec<Value>>,
    last: Option<Vec<Value>>,
}

/// Streams one table from SQLite into the team database, [`CHUNK`] rows per INSERT.
fn copy_table(
    local: &Store,
    sq: &Connection,
    tx: &PgTx<'_>,
    spec: &Spec,
    on_conflict: &str,
    progress: &dyn Fn(Step),
) -> Result<Copied, StoreError> {
    let names: Vec<&str> = spec.cols.iter().map(|(n, _)| *n).collect();
    let select = format!(
        "SELECT {} FROM {}{} ORDER BY {}",
        names.join(", "),
        spec.table,
        local_filter(spec.table),
        spec.order
    );
    let arrays: Vec<String> = spec
        .cols
        .iter()
        .enumerate()
        .map(|(i, (_, k))| format!("${}::{}[]", i + 1, pg_type(*k)))
        .collect();
    let insert = format!(
        "INSERT INTO {} ({}) SELECT * FROM unnest({}){on_conflict}",
        spec.table,
        names.join(", "),
        arrays.join(", ")
    );
    let mut columns: Vec<Column> = spec.cols.iter().map(|(_, k)| Column::new(*k)).collect();
    let mut pending = 0usize;
    let mut out = Copied {
        rows: 0,
        first: None,
        last: None,
    };
    let flush = |columns: &mut Vec<Column>, pending: &mut usize| -> Result<(), StoreError> {
        if *pending == 0 {
            return Ok(());
        }
        let params: Vec<&(dyn ToSql + Sync)> = columns.iter().map(Column::param).collect();
        tx.execute(&insert, &params)
            .map_err(|e| context(&format!("copying {}", spec.table), e))?;
        columns.iter_mut().for_each(Column::clear);
        *pending = 0;
        Ok(())
    };

    let mut stmt = sq.prepare(&select).map_err(|e| local_err(local, e))?;
    let mut rows = stmt.query([]).map_err(|e| local_err(local, e))?;
    while let Some(row) = rows.next().map_err(|e| local_err(local, e))? {
        let mut values = Vec::with_capacity(spec.cols.len());
        for (i, (col, kind)) in spec.cols.iter().enumerate() {
            let v = read_value(spec.table, col, *kind, row, i).map_err(|w| bad_local(local, w))?;
            values.push(v);
        }
        for (c, v) in columns.iter_mut().zip(&values) {
            c.push(v);
        }
        pending += 1;
        out.rows += 1;
        if out.first.is_none() {
            out.first = Some(values.clone());
        }
        out.last = Some(values);
        if pending == CHUNK {
            flush(&mut columns, &mut pending)?;
            progress(Step::Copying {
                table: spec.table,
                rows: out.rows,
            });
        }
    }
    flush(&mut columns, &mut pending)?;
    progress(Step::Copied {
        table: spec.table,
        rows: out.rows,
    });
    Ok(out)
}

/// The team database's row with the key of `local_row` (columns cast to what [`Value`] holds),
/// or `None`.
fn pg_row(
    tx: &PgTx<'_>,
    spec: &Spec,
    local_row: &[Value],
) -> Result<Option<Vec<Value>>, StoreError> {
    let select: Vec<String> = spec
        .cols
        .iter()
        .map(|(n, k)| match k {
            Int => format!("{n}::bigint"),
            Text => format!("{n}::text"),
            Bool => n.to_string(),
        })
        .collect();
    let mut conds = Vec::new();
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    for key in spec.key {
        let i = spec
            .cols
            .iter()
            .position(|(n, _)| n == key)
            .expect("invariant: a spec's key names its columns");
        match &local_row[i] {
            Value::Null => conds.push(format!("{key} IS NULL")),
            Value::Int(v) => {
                params.push(Box::new(*v));
                conds.push(format!("{key} = ${}::bigint", params.len()));
            }
            Value::Text(v) => {
                params.push(Box::new(v.clone()));
                conds.push(format!("{key} = ${}::text", params.len()));
            }
            Value::Bool(v) => {
                params.push(Box::new(*v));
                conds.push(format!("{key} = ${}::boolean", params.len()));
            }
        }
    }
    let sql = format!(
        "SELECT {} FROM {} WHERE {}",
        select.join(", "),
        spec.table,
        conds.join(" AND ")
    );
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p).collect();
    let Some(row) = tx.query_opt(&sql, &refs)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(spec.cols.len());
    for (i, (_, kind)) in spec.cols.iter().enumerate() {
        let v = match kind {
            Int => row
                .try_get::<_, Option<i64>>(i)
                .map(|v| v.map_or(Value::Null, Value::Int)),
            Text => row
                .try_get::<_, Option<String>>(i)
                .map(|v| v.map_or(Value::Null, Value::Text)),
            Bool => row
                .try_get::<_, Option<bool>>(i)
                .map(|v| v.map_or(Value::Null, Value::Bool)),
        }
        .map_err(|e| tx.err(&e))?;
        out.push(v);
    }
    Ok(Some(out))
}

/// The key of a row, for messages (`id=7`, `batch_id=1, line=3`).
fn key_text(spec: &Spec, row: &[Value]) -> String {
    spec.key
        .iter()
        .filter_map(|k| {
            let i = spec.cols.iter().position(|(n, _)| n == k)?;
            Some(format!("{k}={}", row[i]))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compares one local row with the team database's row of the same key, field by field.
fn spot_check(tx: &PgTx<'_>, spec: &Spec, local_row: &[Value]) -> Result<(), StoreError> {
    let key = key_text(spec, local_row);
    let Some(remote) = pg_row(tx, spec, local_row)? else {
        return Err(refuse(format!(
            "verification failed: {} has no row {key} after the copy; nothing was written",
            spec.table
        )));
    };
    for (((col, _), l), r) in spec.cols.iter().zip(local_row).zip(&remote) {
        if l != r {
            return Err(refuse(format!(
                "verification failed: {} row {key}, column {col}: the local store has {l}, the \
                 team database {r}; nothing was written",
                spec.table
            )));
        }
    }
    Ok(())
}

/// Row count of `table` in the team database.
fn pg_count(tx: &PgTx<'_>, table: &str) -> Result<u64, StoreError> {
    let row = tx.query_one(&format!("SELECT count(*) FROM {table}"), &[])?;
    let n: i64 = row.try_get(0).map_err(|e| tx.err(&e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Row count of `table` in the local store (settings: the shared ones).
fn local_count(local: &Store, sq: &Connection, table: &str) -> Result<u64, StoreError> {
    let n: i64 = sq
        .query_row(
            &format!("SELECT count(*) FROM {table}{}", local_filter(table)),
            [],
            |r| r.get(0),
        )
        .map_err(|e| local_err(local, e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Every row of a small local table, in its order.
fn local_rows(local: &Store, sq: &Connection, spec: &Spec) -> Result<Vec<Vec<Value>>, StoreError> {
    let names: Vec<&str> = spec.cols.iter().map(|(n, _)| *n).collect();
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        names.join(", "),
        spec.table,
        spec.order
    );
    let mut stmt = sq.prepare(&sql).map_err(|e| local_err(local, e))?;
    let mut rows = stmt.query([]).map_err(|e| local_err(local, e))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| local_err(local, e))? {
        let mut values = Vec::with_capacity(spec.cols.len());
        for (i, (col, kind)) in spec.cols.iter().enumerate() {
            values
                .push(read_value(spec.table, col, *kind, row, i).map_err(|w| bad_local(local, w))?);
        }
        out.push(values);
    }
    Ok(out)
}

/// Refuses anything but the database owner on an initialised, empty team database.
fn check_target(tx: &PgTx<'_>) -> Result<(), StoreError> {
    let row = tx.query_one(
        "SELECT current_user::text, pg_get_userbyid(datdba)::text, current_database()::text \
         FROM pg_database WHERE datname = current_database()",
        &[],
    )?;
    let me: String = row.try_get(0).map_err(|e| tx.err(&e))?;
    let owner: String = row.try_get(1).map_err(|e| tx.err(&e))?;
    let database: String = row.try_get(2).map_err(|e| tx.err(&e))?;
    if me != owner {
        return Err(refuse(format!(
            "store migrate-to runs as the owner of database {database} ({owner}), not as {me}: \
             it writes the roster, the logins and the audit trail as only the owner may; \
             nothing was changed"
        )));
    }
    let version = match tx.query_opt("SELECT schema_version::bigint FROM tsched.tsched_meta", &[]) {
        Ok(Some(row)) => Some(row.try_get::<_, i64>(0).map_err(|e| tx.err(&e))?),
        Ok(None) => None,
        // undefined_table: no store init ran here.
        Err(StoreError::Pg {
            sqlstate: Some(code),
            ..
        }) if code == "42P01" => None,
        Err(e) => return Err(e),
    };
    if version != Some(SCHEMA_VERSION) {
        return Err(StoreError::PgSchema {
            database,
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// Refuses a team database that holds any row, naming the tables that do.
fn check_empty(tx: &PgTx<'_>) -> Result<(), StoreError> {
    let mut held = Vec::new();
    for table in ALL_TABLES {
        let n = pg_count(tx, table)?;
        if n > 0 {
            held.push(format!("{table}: {n} row{}", if n == 1 { "" } else { "s" }));
        }
    }
    if held.is_empty() {
        return Ok(());
    }
    Err(refuse(format!(
        "the team database is not empty ({}); store migrate-to copies a local store into an \
         empty one only (store init on a new database, without naming a first global admin: \
         the local roster comes with the copy); nothing was changed",
        held.join(", ")
    )))
}

/// Refuses a local roster that has operators but no active global admin: the team store would
/// have nobody to administer it, and `tsched_bootstrap` only runs while the roster is empty.
fn check_local_roster(local: &Store, sq: &Connection) -> Result<(), StoreError> {
    let (operators, admins): (i64, i64) = sq
        .query_row(
            "SELECT (SELECT count(*) FROM operators),
                    (SELECT count(*) FROM operators o JOIN operator_roles r ON r.operator_id = o.id
                     WHERE o.active = 1 AND r.role = 'global_admin')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| local_err(local, e))?;
    if operators > 0 && admins == 0 {
        return Err(bad_local(
            local,
            "its roster has operators but no active global admin, so nobody could administer \
             the team store; grant global admin to an operator locally first"
                .to_string(),
        ));
    }
    Ok(())
}

/// Makes every copied operator's login as the roster functions would, returning the logins
/// created and adopted.
fn make_logins(tx: &PgTx<'_>) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let operators = tx.query(
        "SELECT login::text, active, EXISTS (SELECT 1 FROM pg_roles WHERE rolname = login) \
         FROM operators ORDER BY id",
        &[],
    )?;
    let mut created = Vec::new();
    let mut adopted = Vec::new();
    for row in &operators {
        let login: String = row.try_get(0).map_err(|e| tx.err(&e))?;
        let active: bool = row.try_get(1).map_err(|e| tx.err(&e))?;
        let existed: bool = row.try_get(2).map_err(|e| tx.err(&e))?;
        let what = format!("the login of operator {login}");
        tx.execute("SELECT tsched_ensure_login($1)", &[&login])
            .map_err(|e| context(&what, e))?;
        tx.execute("SELECT tsched_sync_memberships($1)", &[&login])
            .map_err(|e| context(&what, e))?;
        if !active {
            // As tsched_operator_set_active(upn, false) leaves it.
            tx.batch_execute(&format!("ALTER ROLE {} NOLOGIN", quote_ident(&login)))
                .map_err(|e| context(&what, e))?;
        }
        if existed {
            adopted.push(login);
        } else {
            created.push(login);
        }
    }
    Ok((created, adopted))
}

/// Copies the local SQLite store `local` into the empty team database `owner` is connected to
/// (as its owner), in one transaction, and verifies the copy before committing: the row count
/// of every table, the first and last row of each (by key) field by field, every
/// `batch_item_counts` row, and the audit trigger back on. Any refusal or mismatch rolls
/// everything back, logins included. The SQLite file is only read (one read transaction,
/// rolled back). `progress` hears each step.
pub fn migrate_from_sqlite(
    local: &Store,
    owner: &mut PgConn,
    progress: &dyn Fn(Step),
) -> Result<MigrationReport, StoreError> {
    let Some(sq) = local.sqlite() else {
        return Err(refuse(format!(
            "store migrate-to copies from the local SQLite store; {} is a team database",
            local.path().display()
        )));
    };
    // One snapshot of the file for the whole copy; never committed (rolled back on drop).
    let snapshot = sq
        .unchecked_transaction()
        .map_err(|e| local_err(local, e))?;
    let sq: &Connection = &snapshot;
    check_local_roster(local, sq)?;

    let report = owner.write(|tx| -> Result<MigrationReport, StoreError> {
        tx.batch_execute("SET LOCAL search_path = tsched, public")?;
        check_target(tx)?;
        // Nobody else writes while the copy runs and is checked. The owner may lock its tables
        // (EXCLUSIVE needs UPDATE, DELETE or TRUNCATE: roles.sql took those on audit_log from
        // it, so that table is locked by disabling its stamp trigger, the owner's right).
        let locked: Vec<&str> = ALL_TABLES
            .iter()
            .copied()
            .filter(|t| *t != "audit_log")
            .collect();
        tx.batch_execute(&format!(
            "LOCK TABLE {} IN EXCLUSIVE MODE; \
             ALTER TABLE audit_log DISABLE TRIGGER audit_log_stamp",
            locked.join(", ")
        ))?;
        check_empty(tx)?;
        progress(Step::Checked);

        let mut copied = Vec::new();
        for spec in SPECS {
            let c = copy_table(local, sq, tx, spec, "", progress)?;
            if spec.table == "audit_log" {
                // Back on before anything else could write an audit row.
                tx.batch_execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_stamp")?;
            }
            if spec.table == "batch_items" {
                // Derived: the server's trigger counted the items; the local zero rows too.
                copy_table(
                    local,
                    sq,
                    tx,
                    &COUNTS,
                    " ON CONFLICT (batch_id, state) DO NOTHING",
                    &|_| {},
                )?;
            }
            copied.push((spec, c));
        }

        let (logins_created, logins_adopted) = make_logins(tx)?;
        progress(Step::Logins {
            operators: (logins_created.len() + logins_adopted.len()) as u64,
        });

        // Verification, inside the transaction: a mismatch commits nothing.
        let mut tables = Vec::new();
        let mut checked = 0u64;
        for (spec, c) in &copied {
            let local_n = local_count(local, sq, spec.table)?;
            let remote_n = pg_count(tx, spec.table)?;
            if local_n != remote_n || c.rows != local_n {
                return Err(refuse(format!(
                    "verification failed: {} has {local_n} rows in the local store and \
                     {remote_n} in the team database; nothing was written",
                    spec.table
                )));
            }
            for row in [&c.first, &c.last].into_iter().flatten() {
                spot_check(tx, spec, row)?;
                checked += 1;
            }
            tables.push(TableCount {
                table: spec.table,
                rows: remote_n,
            });
            if spec.table == "batch_items" {
                let counts = local_rows(local, sq, &COUNTS)?;
                let remote_n = pg_count(tx, COUNTS.table)?;
                if remote_n != counts.len() as u64 {
                    return Err(refuse(format!(
                        "verification failed: batch_item_counts has {} rows in the local store \
                         and {remote_n} counted from the copied items; nothing was written",
                        counts.len()
                    )));
                }
                for row in &counts {
                    spot_check(tx, &COUNTS, row)?;
                    checked += 1;
                }
                tables.push(TableCount {
                    table: COUNTS.table,
                    rows: remote_n,
                });
            }
        }
        let stamp_on: bool = tx
            .query_one(
                "SELECT tgenabled = 'O' FROM pg_trigger \
                 WHERE tgrelid = 'tsched.audit_log'::regclass AND tgname = 'audit_log_stamp'",
                &[],
            )?
            .try_get(0)
            .map_err(|e| tx.err(&e))?;
        if !stamp_on {
            return Err(refuse(
                "verification failed: the audit trail's stamp trigger is not back on; nothing \
                 was written"
                    .to_string(),
            ));
        }

        let mut skipped_settings = Vec::new();
        for key in LOCAL_SETTINGS {
            let held: bool = sq
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM settings WHERE key = ?1)",
                    [key],
                    |r| r.get(0),
                )
                .map_err(|e| local_err(local, e))?;
            if held {
                skipped_settings.push(key.to_string());
            }
        }
        // Last, after every check: setval is not transactional (a rollback would leave the
        // sequences ahead). Only a failed COMMIT can still follow, and a sequence ahead of the
        // largest id merely skips ids (a retry sets it again).
        for table in IDENTITY_TABLES {
            tx.execute(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('tsched.{table}', 'id'), max(id)) \
                     FROM {table} HAVING max(id) IS NOT NULL"
                ),
                &[],
            )?;
        }
        progress(Step::Verified);
        Ok(MigrationReport {
            tables,
            skipped_settings,
            logins_created,
            logins_adopted,
            rows_spot_checked: checked,
        })
    })?;
    drop(snapshot);
    tracing::info!(
        tables = report.tables.len(),
        logins_created = report.logins_created.len(),
        "copied the local store into the team database"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_of_the_team_store_is_copied_or_derived() {
        let mut named: Vec<&str> = SPECS.iter().map(|s| s.table).collect();
        named.push(COUNTS.table);
        named.sort_unstable();
        let mut all = ALL_TABLES.to_vec();
        all.sort_unstable();
        assert_eq!(
            named, all,
            "a table missing from SPECS would be left behind by the migration"
        );
    }

    #[test]
    fn every_column_of_the_local_store_is_copied_or_kept_by_the_server() {
        // A column added to the SQLite schema must be added here too, or the migration would
        // silently leave its values behind.
        let store = Store::open_in_memory().expect("in-memory store");
        let conn = store.sqlite().expect("a SQLite store");
        for spec in SPECS.iter().chain([&COUNTS]) {
            let mut stmt = conn
                .prepare(&format!("PRAGMA table_info({})", spec.table))
                .expect("table_info");
            let cols: Vec<String> = stmt
                .query_map([], |r| r.get::<_, String>(1))
                .expect("columns")
                .collect::<Result<_, _>>()
                .expect("column names");
            assert!(!cols.is_empty(), "{} exists in SQLite", spec.table);
            for c in &cols {
                assert!(
                    spec.cols.iter().any(|(n, _)| n == c) || SERVER_KEPT.contains(&c.as_str()),
                    "{}.{c} is neither copied nor kept by the server",
                    spec.table
                );
            }
            for (n, _) in spec.cols {
                assert!(
                    cols.iter().any(|c| c == n),
                    "{}.{n} is copied but SQLite has no such column",
                    spec.table
                );
            }
        }
    }

    #[test]
    fn every_key_names_columns_of_its_table() {
        for spec in SPECS.iter().chain([&COUNTS]) {
            for k in spec.key {
                assert!(
                    spec.cols.iter().any(|(n, _)| n == k),
                    "{}: key column {k} must be a copied column, or spot checks cannot find rows",
                    spec.table
                );
            }
        }
    }

    #[test]
    fn workstation_settings_are_filtered_out_of_the_copy() {
        let f = local_filter("settings");
        for key in LOCAL_SETTINGS {
            assert!(
                f.contains(&format!("'{key}'")),
                "{key} is a workstation's own setting and must not reach the shared database"
            );
        }
        assert_eq!(
            local_filter("programs"),
            "",
            "other tables are copied whole"
        );
    }

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident(r#"a"b@x"#), r#""a""b@x""#, "a quote is doubled");
        assert_eq!(quote_literal("o'k"), "'o''k'", "a quote is doubled");
    }
}
