//! Table `participants`: row type and queries. Validation and CSV import live in
//! `crate::participants`; this module only reads and writes.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::page::{self, Page, PageError, PageQuery};

/// A participant of a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParticipantRow {
    /// Row id.
    pub id: i64,
    /// Email address (unique per program, case-insensitively).
    pub email: String,
    /// Display name (may be empty).
    pub display_name: String,
    /// Added (UTC).
    pub added_at: String,
}

const SELECT: &str = "SELECT id, email, display_name, added_at FROM participants";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ParticipantRow> {
    Ok(ParticipantRow {
        id: r.get(0)?,
        email: r.get(1)?,
        display_name: r.get(2)?,
        added_at: r.get(3)?,
    })
}

/// Inserts a participant; returns its id.
pub fn insert(
    conn: &Connection,
    program_id: i64,
    email: &str,
    display_name: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO participants (program_id, email, display_name, added_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![program_id, email, display_name, crate::time::now_db()])?;
    Ok(conn.last_insert_rowid())
}

/// Finds a participant of a program by email (case-insensitive).
pub fn by_email(
    conn: &Connection,
    program_id: i64,
    email: &str,
) -> rusqlite::Result<Option<ParticipantRow>> {
    conn.prepare_cached(&format!("{SELECT} WHERE program_id = ?1 AND email = ?2"))?
        .query_row(params![program_id, email], from_row)
        .optional()
}

/// Deletes a participant; returns how many rows went.
pub fn delete(conn: &Connection, program_id: i64, email: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM participants WHERE program_id = ?1 AND email = ?2",
        params![program_id, email],
    )
}

/// Every participant of a program, by email.
pub fn list(conn: &Connection, program_id: i64) -> rusqlite::Result<Vec<ParticipantRow>> {
    let mut stmt =
        conn.prepare_cached(&format!("{SELECT} WHERE program_id = ?1 ORDER BY email"))?;
    let rows = stmt.query_map([program_id], from_row)?;
    rows.collect()
}

/// One page of a program's participants, by email; `after` is the previous page's cursor.
pub fn list_page(
    conn: &Connection,
    program_id: i64,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<ParticipantRow>, PageError> {
    let query = list_query(program_id, after, limit)?;
    let rows = query.rows(conn, from_row)?;
    Ok(page::finish(KIND, rows, query.limit, |r| r.email.clone()))
}

const KIND: &str = "participants";

/// The statement [`list_page`] runs.
pub fn list_query(
    program_id: i64,
    after: Option<&str>,
    limit: u32,
) -> Result<PageQuery, PageError> {
    let after: Option<String> = after.map(|c| page::decode(KIND, c)).transpose()?;
    let mut query = PageQuery::new(format!("{SELECT} WHERE program_id = ?1"), limit);
    query.arg(program_id);
    if let Some(email) = after {
        let n = query.arg(email);
        query.push(&format!(" AND email > ?{n}"));
    }
    query.push(" ORDER BY email");
    query.push_limit();
    Ok(query)
}

/// How many participants a program has.
pub fn count(conn: &Connection, program_id: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM participants WHERE program_id = ?1",
        [program_id],
        |r| r.get(0),
    )
}

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::participants` for SQLite).
pub trait ParticipantTable {}
