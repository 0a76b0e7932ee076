//! PostgreSQL statements of the `programs` and `program_meeting_modes` tables, behind
//! [`ProgramTable`].
//!
//! SQLite's `code` and `name` are `COLLATE NOCASE`; here lookups, uniqueness and the list order
//! use the generated `code_key` and `name_key` (`lower(x)` under "C": ASCII letters folded, as
//! NOCASE), compared with arguments lower-cased the same way ([`str::to_ascii_lowercase`]). The
//! page cursor is SQLite's (the last row's archived flag and name as stored), so a cursor means
//! the same on both backends.
//!
//! Search: a term of [`TRIGRAM`] characters or more goes through `tsched_program_search` (a
//! SECURITY DEFINER function of roles.sql, so the trigram indexes answer under row-level
//! security; it returns the ids of the page, in list order, among the matching programs the
//! session may view, walking the list's index in order while matches are frequent); a shorter
//! one is
//! a range on `name_key` / `code_key` (every key that starts with the lower-cased term, which
//! SQLite's NOCASE range plus `LIKE 'term%'` also select).

use super::exec::{get, Exec};
use super::{Row, ToSql};
use crate::store::page::{self, Page, PageError};
use crate::store::programs::{ListQuery, ProgramRow, ProgramStamp, ProgramTable, TRIGRAM};
use crate::store::StoreError;

/// The cursor's list name (SQLite's).
const KIND: &str = "programs";

const SELECT: &str = "SELECT p.id, p.code, p.name, p.description, p.archived, p.created_at,
        p.updated_at,
        ARRAY(SELECT m.mode FROM program_meeting_modes m
              WHERE m.program_id = p.id AND m.enabled ORDER BY m.mode),
        p.version, p.updated_by
     FROM programs p";

fn from_row(db: &impl Exec, r: &Row) -> Result<ProgramRow, StoreError> {
    Ok(ProgramRow {
        id: get(db, r, 0)?,
        code: get(db, r, 1)?,
        name: get(db, r, 2)?,
        description: get(db, r, 3)?,
        archived: get(db, r, 4)?,
        created_at: get(db, r, 5)?,
        updated_at: get(db, r, 6)?,
        enabled_modes: get(db, r, 7)?,
        version: get(db, r, 8)?,
        updated_by: get(db, r, 9)?,
    })
}

fn changed(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl<T: Exec> ProgramTable for T {
    fn program_insert(
        &self,
        code: &str,
        name: &str,
        description: &str,
        modes: &[(&str, bool)],
    ) -> Result<i64, StoreError> {
        let now = crate::time::now_db();
        let row = self.query_one(
            "INSERT INTO programs (code, name, description, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
            &[&code, &name, &description, &now],
        )?;
        let id: i64 = get(self, &row, 0)?;
        for (mode, enabled) in modes {
            self.execute(
                "INSERT INTO program_meeting_modes (program_id, mode, enabled, updated_at)
                 VALUES ($1, $2, $3, $4)",
                &[&id, mode, enabled, &now],
            )?;
        }
        Ok(id)
    }

    fn program_by_code(&self, code: &str) -> Result<Option<ProgramRow>, StoreError> {
        let key = code.to_ascii_lowercase();
        self.query_opt(&format!("{SELECT} WHERE p.code_key = $1"), &[&key])?
            .map(|r| from_row(self, &r))
            .transpose()
    }

    fn program_by_name(&self, name: &str) -> Result<Option<ProgramRow>, StoreError> {
        let key = name.to_ascii_lowercase();
        self.query_opt(&format!("{SELECT} WHERE p.name_key = $1"), &[&key])?
            .map(|r| from_row(self, &r))
            .transpose()
    }

    fn programs_page(&self, q: &ListQuery) -> Result<Page<ProgramRow>, PageError> {
        let (sql, args, limit) = list_query(q)?;
        let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a.as_ref()).collect();
        let rows = self
            .query(&sql, &params)?
            .iter()
            .map(|r| from_row(self, r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page::finish(KIND, rows, limit, |p| {
            (p.archived, p.name.clone())
        }))
    }

    // The `programs_stamp` trigger bumps `version` and sets `updated_by` to the session's login
    // on every UPDATE: `at.by` is the client's word, so it is not written here.
    fn program_update_details(
        &self,
        at: ProgramStamp<'_>,
        name: &str,
        description: &str,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE programs SET name = $3, description = $4, updated_at = $5
             WHERE id = $1 AND version = $2",
            &[
                &at.id,
                &at.version,
                &name,
                &description,
                &crate::time::now_db(),
            ],
        )
        .map(changed)
    }

    fn program_set_archived(
        &self,
        at: ProgramStamp<'_>,
        archived: bool,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE programs SET archived = $3, updated_at = $4 WHERE id = $1 AND version = $2",
            &[&at.id, &at.version, &archived, &crate::time::now_db()],
        )
        .map(changed)
    }

    fn program_set_mode(
        &self,
        at: ProgramStamp<'_>,
        mode: &str,
        enabled: bool,
    ) -> Result<usize, StoreError> {
        let now = crate::time::now_db();
        // The program first: its row lock queues a second workstation's change of the same
        // program behind this one, which then finds the version moved on and changes nothing.
        let n = self.execute(
            "UPDATE programs SET updated_at = $3 WHERE id = $1 AND version = $2",
            &[&at.id, &at.version, &now],
        )?;
        if n == 0 {
            return Ok(0);
        }
        self.execute(
            "INSERT INTO program_meeting_modes (program_id, mode, enabled, updated_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (program_id, mode) DO UPDATE
               SET enabled = excluded.enabled, updated_at = excluded.updated_at",
            &[&at.id, &mode, &enabled, &now],
        )?;
        Ok(changed(n))
    }

    fn programs_any(&self) -> Result<bool, StoreError> {
        let row = self.query_one("SELECT EXISTS (SELECT 1 FROM programs)", &[])?;
        get(self, &row, 0)
    }

    fn programs_count(&self) -> Result<i64, StoreError> {
        let row = self.query_one("SELECT count(*) FROM programs", &[])?;
        get(self, &row, 0)
    }
}

/// A statement argument.
type Arg = Box<dyn ToSql + Sync>;

/// The statement [`ProgramTable::programs_page`] runs for `q`, its arguments and the page size
/// (the statement fetches one row more, to know whether a next page exists). The same rows in
/// the same order as SQLite's `list_query`: active first, then by name case-insensitively
/// (ASCII folding), after the cursor's (archived, name).
fn list_query(q: &ListQuery) -> Result<(String, Vec<Arg>, u32), PageError> {
    let after: Option<(bool, String)> = q
        .after
        .as_deref()
        .map(|c| page::decode(KIND, c))
        .transpose()?;
    let term = q.search.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let limit = page::limit(q.limit);
    let mut sql = format!("{SELECT} WHERE true");
    let mut args: Vec<Arg> = Vec::new();
    if !q.include_archived {
        sql.push_str(" AND NOT p.archived");
    }
    if let Some(t) = term {
        if t.chars().count() >= TRIGRAM {
            // The function answers the page's ids itself (in list order, at most the page and
            // one more, what the session may view: the filters below go in with the term), so
            // the trigram indexes or the ordered walk answer it even under row-level security.
            // The filters are repeated below: they change nothing, and the page is then this
            // statement's in every case.
            let term = arg(&mut args, Box::new(t.to_string()));
            let archived = arg(&mut args, Box::new(q.include_archived));
            let (was_archived, name) = match &after {
                Some((a, n)) => (Some(*a), Some(n.to_ascii_lowercase())),
                None => (None, None),
            };
            let was_archived = arg(&mut args, Box::new(was_archived));
            let name = arg(&mut args, Box::new(name));
            let codes: Option<Vec<String>> = q
                .only_codes
                .as_ref()
                .map(|codes| codes.iter().map(|c| c.to_ascii_lowercase()).collect());
            let codes = arg(&mut args, Box::new(codes));
            let limit = arg(
                &mut args,
                Box::new(i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX)),
            );
            sql.push_str(&format!(
                " AND p.id = ANY (ARRAY(SELECT tsched_program_search(${term}::text,
                    ${archived}::boolean, ${was_archived}::boolean, ${name}::text,
                    ${codes}::text[], ${limit}::integer)))"
            ));
        } else {
            // Every key that starts with the lower-cased term lies in [lo, hi): in "C" (code
            // point) order, exactly those.
            let lo = t.to_ascii_lowercase();
            let hi = prefix_end(&lo);
            let a = arg(&mut args, Box::new(lo));
            let range = |col: &str, b: Option<usize>| match b {
                Some(b) => format!("(p.{col} >= ${a} AND p.{col} < ${b})"),
                None => format!("p.{col} >= ${a}"),
            };
            let b = hi.map(|hi| arg(&mut args, Box::new(hi)));
            sql.push_str(&format!(
                " AND ({} OR {})",
                range("name_key", b),
                range("code_key", b)
            ));
        }
    }
    if let Some(codes) = &q.only_codes {
        let keys: Vec<String> = codes.iter().map(|c| c.to_ascii_lowercase()).collect();
        let n = arg(&mut args, Box::new(keys));
        sql.push_str(&format!(" AND p.code_key = ANY(${n}::text[])"));
    }
    if let Some((was_archived, name)) = after {
        let a = arg(&mut args, Box::new(was_archived));
        let b = arg(&mut args, Box::new(name.to_ascii_lowercase()));
        sql.push_str(&format!(" AND (p.archived, p.name_key) > (${a}, ${b})"));
    }
    let n = arg(&mut args, Box::new(i64::from(limit) + 1));
    sql.push_str(&format!(" ORDER BY p.archived, p.name_key LIMIT ${n}"));
    Ok((sql, args, limit))
}

/// Binds one more argument; returns its number, for `$N` in the SQL.
fn arg(args: &mut Vec<Arg>, a: Arg) -> usize {
    args.push(a);
    args.len()
}

/// The smallest string above every string that starts with `prefix` (in code-point order), or
/// `None` when there is none (the prefix ends with the last code point). As SQLite's.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    let last = chars.pop()?;
    let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32)?;
    chars.push(next);
    Some(chars.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_bounds_every_string_with_the_prefix() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
    }
}
