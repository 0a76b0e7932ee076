//! Keyset (seek) paging, shared by every list query of the store.
//!
//! A page never skips rows with `OFFSET` (which reads and throws away every skipped row, so page
//! 5,000 of the audit trail would read 500,000 rows). Instead each page ends with an opaque
//! cursor holding the sort key of its last row, and the next page asks for the rows *after* that
//! key: one index seek, whatever the depth. Rows inserted or removed between two pages neither
//! shift the next page nor make it repeat a row.
//!
//! The cursor is the list's name and the last row's sort key as a JSON array, in URL-safe
//! base64 (no padding), so it can travel in a command line or a URL unchanged. It is opaque to
//! callers: only this module reads it, and a cursor of another list, a truncated one or a
//! hand-made one is refused with [`PageError::BadCursor`], never a panic.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rusqlite::types::Value;
use rusqlite::{params_from_iter, Connection, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Rows per page when the caller asks for 0.
pub const DEFAULT_LIMIT: u32 = 100;

/// The most rows one page may hold; larger requests are cut to this.
pub const MAX_LIMIT: u32 = 10_000;

/// One page of a list, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The rows, in the list's order.
    pub items: Vec<T>,
    /// Pass this back to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Maps every row, keeping the cursor.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }

    /// Maps every row fallibly, keeping the cursor.
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, E>>()?,
            next_cursor: self.next_cursor,
        })
    }
}

/// An argument of a page's statement, built by a backend-neutral module and bound by each
/// backend as its own parameter type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
}

impl From<Arg> for Value {
    fn from(a: Arg) -> Self {
        match a {
            Arg::Text(s) => Value::Text(s),
            Arg::Int(n) => Value::Integer(n),
        }
    }
}

/// The statement one page runs, with its arguments: built by each table's `*_query` function,
/// run by its `list_page`, and open to `EXPLAIN QUERY PLAN` ([`PageQuery::plan`]) so tests and
/// the benchmark can check which index a list uses without copying its SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct PageQuery {
    /// The SQL, with numbered parameters (`?1`, `?2`, …).
    pub sql: String,
    /// The value of each parameter, in order.
    pub args: Vec<Value>,
    /// Rows per page (the statement fetches one more, to know whether a next page exists).
    pub limit: u32,
}

impl PageQuery {
    /// A statement starting with `sql`, for pages of `limit` rows (see [`limit`]).
    pub fn new(sql: impl Into<String>, requested_limit: u32) -> Self {
        Self {
            sql: sql.into(),
            args: Vec::new(),
            limit: limit(requested_limit),
        }
    }

    /// Binds one more argument; returns its number, for `?N` in the SQL.
    pub fn arg(&mut self, value: impl Into<Value>) -> usize {
        self.args.push(value.into());
        self.args.len()
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    /// Binds `a` and returns its placeholder (`?N`), for the shared constraint builders.
    pub fn bind(&mut self, a: Arg) -> String {
        format!("?{}", self.arg(a))
    }

    /// Appends ` LIMIT ?N` fetching one row more than the page holds.
    pub fn push_limit(&mut self) {
        let n = self.arg(i64::from(self.limit) + 1);
        self.push(&format!(" LIMIT ?{n}"));
    }

    /// Runs the statement (cached: a list page re-runs the same few shapes).
    pub fn rows<T>(
        &self,
        conn: &Connection,
        f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let mut stmt = conn.prepare_cached(&self.sql)?;
        let rows = stmt.query_map(params_from_iter(self.args.iter()), f)?;
        rows.collect()
    }

    /// `EXPLAIN QUERY PLAN` of the statement: one line per step, indented by depth, e.g.
    /// `SEARCH audit_log USING INDEX audit_operator_at (operator=?)`.
    pub fn plan(&self, conn: &Connection) -> rusqlite::Result<Vec<String>> {
        plan(conn, &self.sql, &self.args)
    }
}

/// `EXPLAIN QUERY PLAN` of any statement, as [`PageQuery::plan`] prints it.
pub fn plan(conn: &Connection, sql: &str, args: &[Value]) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let rows = stmt.query_map(params_from_iter(args.iter()), |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut depth: Vec<(i64, usize)> = Vec::new();
    let mut out = Vec::new();
    for row in rows {
        let (id, parent, detail) = row?;
        let level = depth
            .iter()
            .rev()
            .find(|(i, _)| *i == parent)
            .map_or(0, |(_, l)| l + 1);
        depth.push((id, level));
        out.push(format!("{}{detail}", "  ".repeat(level)));
    }
    Ok(out)
}

/// Errors of a paged list query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// The cursor was not one this list handed out.
    #[error("cursor: {0}")]
    BadCursor(String),
    /// The query failed (inside the SQLite backend, before the error is given its file).
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The query failed, as the backend reports it.
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

/// For the `Vec`-returning first-page helpers, which keep rusqlite's error type: a bad cursor
/// becomes `InvalidParameterName` carrying the message.
pub fn into_sqlite(e: PageError) -> rusqlite::Error {
    match e {
        PageError::BadCursor(why) => {
            rusqlite::Error::InvalidParameterName(format!("cursor: {why}"))
        }
        PageError::Sqlite(e) => e,
        PageError::Store(e) => rusqlite::Error::InvalidParameterName(e.to_string()),
    }
}

/// The page size to use for a requested `limit` (0 means [`DEFAULT_LIMIT`]; at most
/// [`MAX_LIMIT`]).
pub fn limit(requested: u32) -> u32 {
    match requested {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    }
}

/// Encodes the sort key of a page's last row as a cursor of the list `kind`.
pub fn encode<K: Serialize>(kind: &str, key: &K) -> String {
    // A tuple of strings and integers always serializes; the fallback only keeps this total.
    let json = serde_json::to_string(&(kind, key)).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor of the list `kind` into its sort key.
pub fn decode<K: DeserializeOwned>(kind: &str, cursor: &str) -> Result<K, PageError> {
    let bad = |why: &str| PageError::BadCursor(format!("'{}' {why}", shorten(cursor)));
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad("is not a cursor (pass back the next_cursor of the previous page)"))?;
    let (found, key): (String, K) = serde_json::from_slice(&bytes).map_err(|_| {
        bad("is not a cursor of this list (pass back the next_cursor of the previous page)")
    })?;
    if found != kind {
        return Err(bad(&format!(
            "belongs to the {found} list, not the {kind} list"
        )));
    }
    Ok(key)
}

/// Cuts an echoed cursor so a pasted blob does not flood the message.
fn shorten(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= 40 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(40).collect::<String>())
    }
}

/// Turns the `limit + 1` rows a query fetched into a page: the extra row only tells that there
/// is a next page, whose cursor is the key of the last row kept.
pub fn finish<T, K: Serialize>(
    kind: &str,
    mut rows: Vec<T>,
    limit: u32,
    key: impl Fn(&T) -> K,
) -> Page<T> {
    let limit = limit as usize;
    let next_cursor = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|last| encode(kind, &key(last)))
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

/// Every row of a paged list: asks `page(after)` from the first page (`after` = `start`) and
/// follows each `next_cursor` until the last. For exports, which must be complete.
pub fn collect_all<T, E>(
    start: Option<String>,
    mut page: impl FnMut(Option<String>) -> Result<Page<T>, E>,
) -> Result<Vec<T>, E> {
    let mut rows = Vec::new();
    let mut after = start;
    loop {
        let p = page(after)?;
        rows.extend(p.items);
        match p.next_cursor {
            Some(c) => after = Some(c),
            None => return Ok(rows),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_its_key() {
        let c = encode("meetings", &("2027-03-14T09:30:00Z", 42_i64));
        let key: (String, i64) = decode("meetings", &c).expect("own cursor decodes");
        assert_eq!(
            key,
            ("2027-03-14T09:30:00Z".to_string(), 42),
            "same key back"
        );
        assert!(
            c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'),
            "a cursor must survive a shell and a URL unquoted: {c}"
        );
    }

    #[test]
    fn malformed_cursors_are_refused_with_a_reason_not_a_panic() {
        let bad_cursors = [
            String::new(),
            "!!!".to_string(),
            "bm90IGpzb24".to_string(),                      // "not json"
            URL_SAFE_NO_PAD.encode("[]"),                   // no kind
            URL_SAFE_NO_PAD.encode(r#"["meetings", "x"]"#), // wrong key shape
            encode("audit", &("2027-03-14T09:30:00Z", 42_i64)), // another list
        ];
        for bad in &bad_cursors {
            let e = decode::<(String, i64)>("meetings", bad).expect_err("must be refused");
            assert!(
                matches!(e, PageError::BadCursor(_)),
                "a bad cursor is a BadCursor error: {e:?}"
            );
            assert!(
                e.to_string().starts_with("cursor: "),
                "names the field: {e}"
            );
        }
        let other = encode("audit", &("t", 1_i64));
        let e = decode::<(String, i64)>("meetings", &other).expect_err("another list");
        assert!(
            e.to_string().contains("audit list"),
            "says whose cursor it is: {e}"
        );
    }

    #[test]
    fn limits_default_and_cap() {
        assert_eq!(limit(0), DEFAULT_LIMIT, "0 means the default page");
        assert_eq!(limit(7), 7, "a small limit is kept");
        assert_eq!(limit(u32::MAX), MAX_LIMIT, "a huge limit is capped");
    }

    #[test]
    fn finish_keeps_the_limit_and_points_after_the_last_row_kept() {
        let p = finish("n", vec![1, 2, 3], 2, |n| *n);
        assert_eq!(p.items, vec![1, 2], "the extra row is dropped");
        let after: i32 = decode("n", p.next_cursor.as_deref().expect("more")).expect("decodes");
        assert_eq!(after, 2, "the cursor holds the last row kept");
        let last = finish("n", vec![1, 2], 2, |n| *n);
        assert_eq!(last.next_cursor, None, "no extra row: last page");
    }
}
