//! Tables `programs` and `program_meeting_modes`: the row type, the list query and the
//! [`ProgramTable`] interface every backend answers (SQLite's statements are in
//! `store::sqlite::programs`). Validation lives in `crate::programs`; this module only describes
//! reads and writes.

use serde::Serialize;

use super::page::{Page, PageError};
use super::StoreError;

/// A program (track) with the meeting modes it allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramRow {
    /// Row id.
    pub id: i64,
    /// Unique short code (lower case).
    pub code: String,
    /// Display name (unique, case-insensitively).
    pub name: String,
    /// Free text.
    pub description: String,
    /// Archived programs are read-only.
    pub archived: bool,
    /// Meeting modes currently enabled, sorted.
    pub enabled_modes: Vec<String>,
    /// Created (UTC).
    pub created_at: String,
    /// Last changed (UTC).
    pub updated_at: String,
    /// Bumped by every change of the program or its meeting modes (1 when created): a change
    /// decided on an older version is refused (optimistic concurrency, see [`ProgramStamp`]).
    pub version: i64,
    /// Who changed it last: the operator's label on SQLite, the login (`session_user`) on
    /// PostgreSQL; `None` for a SQLite row not changed since it was created (or since v4).
    pub updated_by: Option<String>,
}

/// Which program a change applies to, on which version of it, and who makes it. The change is
/// conditional (`WHERE id = ? AND version = ?`): a row that moved on meanwhile is left alone and
/// the method answers 0 rows, so the use case can say who changed it first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramStamp<'a> {
    /// The program's row id.
    pub id: i64,
    /// The version the change was decided on.
    pub version: i64,
    /// The acting operator's label, recorded in `updated_by` by SQLite (PostgreSQL records the
    /// session's login instead, set by the server where no client can forge it).
    pub by: &'a str,
}

/// Search and paging for [`ProgramTable::programs_page`].
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Case-insensitive search of name or code: a term of [`TRIGRAM`] characters or more matches
    /// anywhere in them (any letter case: Unicode case folding), a shorter one matches their
    /// start (ASCII case folding, as SQLite's NOCASE).
    pub search: Option<String>,
    /// Include archived programs.
    pub include_archived: bool,
    /// Page size; 0 means 100 (see [`super::page::limit`]).
    pub limit: u32,
    /// Start after this cursor (the `next_cursor` of the previous page).
    pub after: Option<String>,
    /// When set, only programs with these codes (an operator who may view only some programs).
    pub only_codes: Option<Vec<String>>,
}

/// Search terms at least this long match anywhere (SQLite: through the trigram index
/// `programs_search`). A trigram index cannot find shorter ones, and a substring scan of every
/// name costs milliseconds per ten thousand programs, so shorter terms match the start of the
/// name or code, through their unique indexes.
pub const TRIGRAM: usize = 3;

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::programs` for SQLite).
pub trait ProgramTable {
    /// Inserts a program and its initial meeting modes; returns its id.
    fn program_insert(
        &self,
        code: &str,
        name: &str,
        description: &str,
        modes: &[(&str, bool)],
    ) -> Result<i64, StoreError>;

    /// Finds a program by code (case-insensitive).
    fn program_by_code(&self, code: &str) -> Result<Option<ProgramRow>, StoreError>;

    /// Finds a program by name (case-insensitive).
    fn program_by_name(&self, name: &str) -> Result<Option<ProgramRow>, StoreError>;

    /// One page of programs in list order (active first, then by name), with optional search.
    fn programs_page(&self, q: &ListQuery) -> Result<Page<ProgramRow>, PageError>;

    /// Changes name and description of the program at `at`, bumping its version; returns how
    /// many rows changed (0: no such program, or not at that version any more).
    fn program_update_details(
        &self,
        at: ProgramStamp<'_>,
        name: &str,
        description: &str,
    ) -> Result<usize, StoreError>;

    /// Archives or unarchives the program at `at`, bumping its version; returns how many rows
    /// changed (0 as for [`ProgramTable::program_update_details`]).
    fn program_set_archived(
        &self,
        at: ProgramStamp<'_>,
        archived: bool,
    ) -> Result<usize, StoreError>;

    /// Stores a meeting mode's choice of the program at `at` (inserting the row for a mode the
    /// program has not seen yet, so new modes need no migration) and bumps the program's
    /// version; returns how many programs changed (0 as for
    /// [`ProgramTable::program_update_details`], and then no mode is written).
    fn program_set_mode(
        &self,
        at: ProgramStamp<'_>,
        mode: &str,
        enabled: bool,
    ) -> Result<usize, StoreError>;

    /// Whether any program exists (archived ones included).
    fn programs_any(&self) -> Result<bool, StoreError>;

    /// How many programs exist (archived ones included).
    fn programs_count(&self) -> Result<i64, StoreError>;
}
