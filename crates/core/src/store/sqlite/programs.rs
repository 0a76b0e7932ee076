//! SQLite statements of the `programs` and `program_meeting_modes` tables, behind
//! [`crate::store::programs::ProgramTable`]. Search goes through the trigram index
//! `programs_search` (terms of [`TRIGRAM`] characters or more) or the unique name and code
//! indexes (shorter terms).

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::store::page::{self, Page, PageError, PageQuery};
use crate::store::programs::{ListQuery, ProgramRow, ProgramStamp, ProgramTable, TRIGRAM};
use crate::store::StoreError;

/// The cursor's list name.
const KIND: &str = "programs";

/// With at most this many candidate programs (search matches, an allow-list), a page is built
/// from them (each read by id, then sorted: about 2 µs a candidate); with more, by walking the
/// list order until the page is full (about 0.4 µs a program walked). Spread evenly, 1,000
/// matches among 10,000 programs fill a page of 100 after about 1,000 programs; clustered at
/// the end of the list, the walk costs one pass over it (about 4 ms for 10,000 programs).
/// Measured by `cargo bench -p tsched-core --bench store_scale`.
pub const FEW_CANDIDATES: i64 = 1_000;

const SELECT: &str =
    "SELECT p.id, p.code, p.name, p.description, p.archived, p.created_at, p.updated_at,
        (SELECT group_concat(mode, ',') FROM (SELECT mode FROM program_meeting_modes m
            WHERE m.program_id = p.id AND m.enabled = 1 ORDER BY mode)),
        p.version, p.updated_by
     FROM programs p";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ProgramRow> {
    let modes: Option<String> = r.get(7)?;
    Ok(ProgramRow {
        id: r.get(0)?,
        code: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        archived: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        enabled_modes: modes
            .map(|m| m.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
        version: r.get(8)?,
        updated_by: r.get(9)?,
    })
}

impl ProgramTable for Connection {
    fn program_insert(
        &self,
        code: &str,
        name: &str,
        description: &str,
        modes: &[(&str, bool)],
    ) -> Result<i64, StoreError> {
        insert(self, code, name, description, modes).map_err(|e| super::err(self, e))
    }

    fn program_by_code(&self, code: &str) -> Result<Option<ProgramRow>, StoreError> {
        self.prepare_cached(&format!("{SELECT} WHERE p.code = ?1"))
            .and_then(|mut s| s.query_row([code], from_row).optional())
            .map_err(|e| super::err(self, e))
    }

    fn program_by_name(&self, name: &str) -> Result<Option<ProgramRow>, StoreError> {
        self.prepare_cached(&format!("{SELECT} WHERE p.name = ?1"))
            .and_then(|mut s| s.query_row([name], from_row).optional())
            .map_err(|e| super::err(self, e))
    }

    fn programs_page(&self, q: &ListQuery) -> Result<Page<ProgramRow>, PageError> {
        let page = || -> Result<Page<ProgramRow>, PageError> {
            let query = list_query(self, q)?;
            let rows = query.rows(self, from_row)?;
            Ok(page::finish(KIND, rows, query.limit, |p| {
                (p.archived, p.name.clone())
            }))
        };
        page().map_err(|e| super::page_err(self, e))
    }

    fn program_update_details(
        &self,
        at: ProgramStamp<'_>,
        name: &str,
        description: &str,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE programs SET name = ?3, description = ?4, updated_at = ?5,
                 version = version + 1, updated_by = ?6
             WHERE id = ?1 AND version = ?2",
            params![
                at.id,
                at.version,
                name,
                description,
                crate::time::now_db(),
                at.by
            ],
        )
        .map_err(|e| super::err(self, e))
    }

    fn program_set_archived(
        &self,
        at: ProgramStamp<'_>,
        archived: bool,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE programs SET archived = ?3, updated_at = ?4, version = version + 1,
                 updated_by = ?5
             WHERE id = ?1 AND version = ?2",
            params![at.id, at.version, archived, crate::time::now_db(), at.by],
        )
        .map_err(|e| super::err(self, e))
    }

    fn program_set_mode(
        &self,
        at: ProgramStamp<'_>,
        mode: &str,
        enabled: bool,
    ) -> Result<usize, StoreError> {
        set_mode(self, at, mode, enabled).map_err(|e| super::err(self, e))
    }

    fn programs_any(&self) -> Result<bool, StoreError> {
        self.query_row("SELECT EXISTS (SELECT 1 FROM programs)", [], |r| r.get(0))
            .map_err(|e| super::err(self, e))
    }

    fn programs_count(&self) -> Result<i64, StoreError> {
        self.query_row("SELECT COUNT(*) FROM programs", [], |r| r.get(0))
            .map_err(|e| super::err(self, e))
    }
}

/// Inserts a program and its initial meeting modes; returns its id.
fn insert(
    conn: &Connection,
    code: &str,
    name: &str,
    description: &str,
    modes: &[(&str, bool)],
) -> rusqlite::Result<i64> {
    let now = crate::time::now_db();
    conn.execute(
        "INSERT INTO programs (code, name, description, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![code, name, description, now],
    )?;
    let id = conn.last_insert_rowid();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO program_meeting_modes (program_id, mode, enabled, updated_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (mode, enabled) in modes {
        stmt.execute(params![id, mode, enabled, now])?;
    }
    Ok(id)
}

/// Bumps the program's version (only while it is at `at.version`), then stores the meeting
/// mode's choice; returns how many programs changed (0: nothing written).
fn set_mode(
    conn: &Connection,
    at: ProgramStamp<'_>,
    mode: &str,
    enabled: bool,
) -> rusqlite::Result<usize> {
    let now = crate::time::now_db();
    let changed = conn.execute(
        "UPDATE programs SET updated_at = ?3, version = version + 1, updated_by = ?4
         WHERE id = ?1 AND version = ?2",
        params![at.id, at.version, now, at.by],
    )?;
    if changed == 0 {
        return Ok(0);
    }
    conn.execute(
        "INSERT INTO program_meeting_modes (program_id, mode, enabled, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (program_id, mode) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
        params![at.id, mode, enabled, now],
    )?;
    Ok(changed)
}

/// The statement [`ProgramTable::programs_page`] runs for `q` (a search of three characters or
/// more first counts its matches in the trigram index, to choose between the two shapes below).
/// Public for the query-plan tests and the benchmark.
///
/// The page's ids are chosen by an inner query over narrow rows; the outer one reads those
/// rows whole (meeting modes included) and orders them. The inner query either walks
/// `programs_archived_name` in list order, testing each program, and stops when the page is
/// full; or, when few programs can match ([`FEW_CANDIDATES`]), starts from them — search
/// matches, name or code prefixes, the allow-list — and sorts them: a unary `+` on `archived`
/// keeps SQLite from walking the index instead.
pub fn list_query(conn: &Connection, q: &ListQuery) -> Result<PageQuery, PageError> {
    let after: Option<(bool, String)> = q
        .after
        .as_deref()
        .map(|c| page::decode(KIND, c))
        .transpose()?;
    let term = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let long_term = term.filter(|t| t.chars().count() >= TRIGRAM);
    let few = match long_term {
        _ if q.only_codes.is_some() => true,
        Some(t) => {
            let matches: i64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM programs_search WHERE programs_search MATCH ?1",
                )?
                .query_row([fts_phrase(t)], |r| r.get(0))?;
            matches <= FEW_CANDIDATES
        }
        None => term.is_some(),
    };
    let archived = if few { "+c.archived" } else { "c.archived" };
    let mut query = PageQuery::new(
        format!("{SELECT} WHERE p.id IN (SELECT c.id FROM programs c WHERE 1 = 1"),
        q.limit,
    );
    if !q.include_archived {
        query.push(&format!(" AND {archived} = 0"));
    }
    match (term, long_term) {
        (Some(_), Some(t)) => {
            // The phrase matches exactly the rows that contain the term, case-insensitively
            // (Unicode case folding): no LIKE needed.
            let n = query.arg(fts_phrase(t));
            query.push(&format!(
                " AND c.id IN (SELECT rowid FROM programs_search WHERE programs_search MATCH ?{n})"
            ));
        }
        (Some(t), None) => {
            // Both columns compare with NOCASE, which folds ASCII only: from the lower-cased
            // term up to the same with its last character incremented covers every name that
            // starts with it (and maybe a few more, which LIKE drops).
            let lo = t.to_ascii_lowercase();
            let a = query.arg(lo.clone());
            let range = |col: &str, b: Option<usize>| match b {
                Some(b) => format!("{col} >= ?{a} AND {col} < ?{b}"),
                None => format!("{col} >= ?{a}"),
            };
            let b = prefix_end(&lo).map(|hi| query.arg(hi));
            query.push(&format!(
                " AND c.id IN (SELECT id FROM programs WHERE {} UNION SELECT id FROM programs WHERE {})",
                range("name", b),
                range("code", b)
            ));
            let n = query.arg(format!("{}%", escape_like(t)));
            query.push(&format!(
                " AND (c.name LIKE ?{n} ESCAPE '\\' OR c.code LIKE ?{n} ESCAPE '\\')"
            ));
        }
        (None, _) => {}
    }
    if let Some(codes) = &q.only_codes {
        // The allow-list travels as one JSON array so the statement stays cacheable.
        let n = query.arg(serde_json::Value::from(codes.clone()).to_string());
        query.push(&format!(
            " AND c.code IN (SELECT value FROM json_each(?{n}))"
        ));
    }
    if let Some((was_archived, name)) = after {
        let a = query.arg(was_archived);
        let b = query.arg(name);
        query.push(&format!(" AND ({archived}, c.name) > (?{a}, ?{b})"));
    }
    let n = query.arg(i64::from(query.limit) + 1);
    query.push(&format!(
        " ORDER BY {archived}, c.name LIMIT ?{n}) ORDER BY +p.archived, p.name"
    ));
    Ok(query)
}

/// The smallest string above every string that starts with `prefix` (in code-point order), or
/// `None` when there is none (the prefix ends with the last code point).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32)?;
    chars.push(next);
    Some(chars.into_iter().collect())
}

/// A full-text query matching `term` as one phrase: with the trigram tokenizer, every row
/// containing it as a substring (case-insensitively). Quotes are doubled per FTS5's syntax;
/// every other character, `%` and `_` included, is literal.
fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// Escapes `%`, `_` and `\` so a search term matches literally inside LIKE.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn prefix_end_bounds_every_string_with_the_prefix() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(
            prefix_end("a\u{D7FF}").as_deref(),
            Some("a\u{E000}"),
            "skips surrogates"
        );
        assert_eq!(
            prefix_end("\u{10FFFF}"),
            None,
            "nothing is above the last code point"
        );
        assert_eq!(prefix_end(""), None);
    }

    #[test]
    fn short_searches_match_the_start_and_long_ones_anywhere() {
        let store = Store::open_in_memory().expect("store");
        let c = store.conn();
        c.program_insert("eng", "Engineering", "", &[])
            .expect("insert");
        c.program_insert("des", "Design Engineering", "", &[])
            .expect("insert");
        let codes = |term: &str| -> Vec<String> {
            let q = ListQuery {
                search: Some(term.into()),
                ..Default::default()
            };
            c.programs_page(&q)
                .expect("list")
                .items
                .into_iter()
                .map(|p| p.code)
                .collect()
        };
        assert_eq!(
            codes("EN"),
            ["eng"],
            "two characters: the start of name or code"
        );
        assert_eq!(
            codes("de"),
            ["des"],
            "two characters: the start of the code"
        );
        assert_eq!(codes("ENGIN"), ["des", "eng"], "three or more: anywhere");
        assert!(codes("zq").is_empty(), "no match");
        c.program_insert("eco", "Design École", "", &[])
            .expect("insert");
        assert_eq!(codes("ÉCOLE"), ["eco"], "three or more: any letter case");
        for odd in [r#"a"b"#, "NEAR(", "x* OR y", "AND", "'; --"] {
            assert!(
                codes(odd).is_empty(),
                "full-text syntax in a search is literal text: {odd}"
            );
        }
    }

    #[test]
    fn search_treats_like_wildcards_literally() {
        let store = Store::open_in_memory().expect("store");
        let c = store.conn();
        c.program_insert("a", "Alpha 100%", "", &[])
            .expect("insert");
        c.program_insert("b", "Beta 1000", "", &[]).expect("insert");
        let q = ListQuery {
            search: Some("100%".into()),
            ..Default::default()
        };
        let rows = c.programs_page(&q).expect("list").items;
        assert_eq!(rows.len(), 1, "'%' in a search must not act as a wildcard");
        assert_eq!(rows[0].code, "a");
    }
}
