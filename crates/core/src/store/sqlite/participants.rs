//! SQLite statements of the `participants` table, behind
//! [`crate::store::participants::ParticipantTable`].

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::store::page::{self, Page, PageError, PageQuery};
use crate::store::participants::{
    self as shared, ParticipantRow, ParticipantTable, PAGE_CURSOR as KIND, SELECT,
};
use crate::store::StoreError;

fn from_row(r: &Row<'_>) -> rusqlite::Result<ParticipantRow> {
    shared::participant_from(r)
}

impl ParticipantTable for Connection {
    fn participant_insert(
        &self,
        program_id: i64,
        email: &str,
        display_name: &str,
    ) -> Result<i64, StoreError> {
        self.prepare_cached(
            "INSERT INTO participants (program_id, email, display_name, added_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| {
            s.execute(params![program_id, email, display_name, crate::time::now_db()])
        })
        .map(|_| self.last_insert_rowid())
        .map_err(|e| super::err(self, e))
    }

    fn participant_by_email(
        &self,
        program_id: i64,
        email: &str,
    ) -> Result<Option<ParticipantRow>, StoreError> {
        self.prepare_cached(&format!("{SELECT} WHERE program_id = ?1 AND email = ?2"))
            .and_then(|mut s| s.query_row(params![program_id, email], from_row).optional())
            .map_err(|e| super::err(self, e))
    }

    fn participant_delete(&self, program_id: i64, email: &str) -> Result<usize, StoreError> {
        self.execute(
            "DELETE FROM participants WHERE program_id = ?1 AND email = ?2",
            params![program_id, email],
        )
        .map_err(|e| super::err(self, e))
    }

    fn participants(&self, program_id: i64) -> Result<Vec<ParticipantRow>, StoreError> {
        self.prepare_cached(&format!("{SELECT} WHERE program_id = ?1 ORDER BY email"))
            .and_then(|mut s| {
                let rows = s.query_map([program_id], from_row)?;
                rows.collect()
            })
            .map_err(|e| super::err(self, e))
    }

    fn participants_page(
        &self,
        program_id: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ParticipantRow>, PageError> {
        let page = || -> Result<Page<ParticipantRow>, PageError> {
            let query = list_query(program_id, after, limit)?;
            let rows = query.rows(self, from_row)?;
            Ok(page::finish(KIND, rows, query.limit, |r| r.email.clone()))
        };
        page().map_err(|e| super::page_err(self, e))
    }

    fn participants_count(&self, program_id: i64) -> Result<i64, StoreError> {
        self.query_row(
            "SELECT count(*) FROM participants WHERE program_id = ?1",
            [program_id],
            |r| r.get(0),
        )
        .map_err(|e| super::err(self, e))
    }
}

/// The statement [`ParticipantTable::participants_page`] runs. Public for the query-plan tests
/// and the benchmark.
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
