//! PostgreSQL statements of the `participants` table, behind [`ParticipantTable`].
//!
//! SQLite's `email` is `COLLATE NOCASE`; here lookups, uniqueness and the list order use the
//! generated `email_key` (`lower(email)` under "C": ASCII letters folded, as NOCASE), compared
//! with the argument lower-cased the same way ([`str::to_ascii_lowercase`]). The page cursor is
//! SQLite's (the last row's email as stored), so a cursor means the same on both backends.

use super::exec::{changed, get, Exec, PgRow};
use super::Row;
use crate::store::page::{self, Page, PageError};
use crate::store::participants::{
    self as shared, ParticipantRow, ParticipantTable, PAGE_CURSOR as KIND, SELECT,
};
use crate::store::StoreError;

fn from_row(db: &impl Exec, row: &Row) -> Result<ParticipantRow, StoreError> {
    shared::participant_from(&PgRow { db, row })
}

impl<T: Exec> ParticipantTable for T {
    fn participant_insert(
        &self,
        program_id: i64,
        email: &str,
        display_name: &str,
    ) -> Result<i64, StoreError> {
        let row = self.query_one(
            "INSERT INTO participants (program_id, email, display_name, added_at)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[&program_id, &email, &display_name, &crate::time::now_db()],
        )?;
        get(self, &row, 0)
    }

    fn participant_by_email(
        &self,
        program_id: i64,
        email: &str,
    ) -> Result<Option<ParticipantRow>, StoreError> {
        let key = email.to_ascii_lowercase();
        self.query_opt(
            &format!("{SELECT} WHERE program_id = $1 AND email_key = $2"),
            &[&program_id, &key],
        )?
        .map(|r| from_row(self, &r))
        .transpose()
    }

    fn participant_delete(&self, program_id: i64, email: &str) -> Result<usize, StoreError> {
        let key = email.to_ascii_lowercase();
        let n = self.execute(
            "DELETE FROM participants WHERE program_id = $1 AND email_key = $2",
            &[&program_id, &key],
        )?;
        Ok(changed(n))
    }

    fn participants(&self, program_id: i64) -> Result<Vec<ParticipantRow>, StoreError> {
        self.query(
            &format!("{SELECT} WHERE program_id = $1 ORDER BY email_key"),
            &[&program_id],
        )?
        .iter()
        .map(|r| from_row(self, r))
        .collect()
    }

    fn participants_page(
        &self,
        program_id: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ParticipantRow>, PageError> {
        let after: Option<String> = after.map(|c| page::decode(KIND, c)).transpose()?;
        let limit = page::limit(limit);
        let fetch = i64::from(limit) + 1;
        let rows = match after {
            Some(email) => {
                let key = email.to_ascii_lowercase();
                self.query(
                    &format!(
                        "{SELECT} WHERE program_id = $1 AND email_key > $2
                         ORDER BY email_key LIMIT $3"
                    ),
                    &[&program_id, &key, &fetch],
                )?
            }
            None => self.query(
                &format!("{SELECT} WHERE program_id = $1 ORDER BY email_key LIMIT $2"),
                &[&program_id, &fetch],
            )?,
        };
        let rows = rows
            .iter()
            .map(|r| from_row(self, r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page::finish(KIND, rows, limit, |r| r.email.clone()))
    }

    fn participants_count(&self, program_id: i64) -> Result<i64, StoreError> {
        let row = self.query_one(
            "SELECT count(*) FROM participants WHERE program_id = $1",
            &[&program_id],
        )?;
        get(self, &row, 0)
    }
}
