//! Table `participants`: the row type and the [`ParticipantTable`] interface every backend
//! answers (SQLite's statements are in `store::sqlite::participants`). Validation and CSV import
//! live in `crate::participants`; this module only describes reads and writes. What both
//! backends do alike lives here once: the columns a participant is read from and its assembly
//! ([`participant_from`]), and the page cursor's name.

use serde::Serialize;

use super::columns::Columns;
use super::page::{Page, PageError};
use super::StoreError;

/// The statement [`participant_from`] reads the rows of (each backend adds its conditions).
pub(crate) const SELECT: &str = "SELECT id, email, display_name, added_at FROM participants";

/// The cursor's list name of [`ParticipantTable::participants_page`] (a page's sort key is the
/// last row's email as stored).
pub(crate) const PAGE_CURSOR: &str = "participants";

/// A participant from a row of [`SELECT`].
pub(crate) fn participant_from<R: Columns>(r: &R) -> Result<ParticipantRow, R::Error> {
    Ok(ParticipantRow {
        id: r.get(0)?,
        email: r.get(1)?,
        display_name: r.get(2)?,
        added_at: r.get(3)?,
    })
}

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

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::participants` for SQLite).
pub trait ParticipantTable {
    /// Inserts a participant; returns its id.
    fn participant_insert(
        &self,
        program_id: i64,
        email: &str,
        display_name: &str,
    ) -> Result<i64, StoreError>;

    /// Finds a participant of a program by email (case-insensitive).
    fn participant_by_email(
        &self,
        program_id: i64,
        email: &str,
    ) -> Result<Option<ParticipantRow>, StoreError>;

    /// Deletes a participant; returns how many rows went.
    fn participant_delete(&self, program_id: i64, email: &str) -> Result<usize, StoreError>;

    /// Every participant of a program, by email.
    fn participants(&self, program_id: i64) -> Result<Vec<ParticipantRow>, StoreError>;

    /// One page of a program's participants, by email; `after` is the previous page's cursor.
    fn participants_page(
        &self,
        program_id: i64,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<ParticipantRow>, PageError>;

    /// How many participants a program has.
    fn participants_count(&self, program_id: i64) -> Result<i64, StoreError>;
}
