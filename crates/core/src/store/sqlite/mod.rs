//! The SQLite backend: the embedded, one-seat store. It owns every SQL statement and the
//! migrations of the SQLite file; the use cases never see them, they call the table traits of
//! [`super`] (`ProgramTable`, `MeetingTable`, …), which this module implements for a
//! `rusqlite::Connection` (a write's transaction dereferences to one).
//!
//! Must not: hold business rules (validation, access decisions), which live in the use cases.

pub mod migrations;

use std::path::PathBuf;

use rusqlite::Connection;

use super::StoreError;

/// The file a connection reads, for error messages (`:memory:` for an in-memory store).
pub(crate) fn path_of(conn: &Connection) -> PathBuf {
    match conn.path() {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(":memory:"),
    }
}

/// Maps a SQLite error of `conn` to the [`StoreError`] a person can act on, naming the file.
pub(crate) fn err(conn: &Connection, e: rusqlite::Error) -> StoreError {
    super::classify(&path_of(conn), e)
}

/// Maps a paged query's error of `conn` to a backend-neutral [`super::page::PageError`].
pub(crate) fn page_err(conn: &Connection, e: super::page::PageError) -> super::page::PageError {
    match e {
        super::page::PageError::Sqlite(e) => super::page::PageError::Store(err(conn, e)),
        other => other,
    }
}

/// A SQLite row, read by the tables' shared row assembly.
impl super::columns::Columns for rusqlite::Row<'_> {
    type Error = rusqlite::Error;

    fn get<T: super::columns::Column>(&self, idx: usize) -> rusqlite::Result<T> {
        rusqlite::Row::get(self, idx)
    }

    fn bad_value(&self, idx: usize, what: String) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, what.into())
    }
}

pub mod audit_log;
pub mod batches;
mod directory_cache;
mod integration;
pub mod meetings;
pub mod operators;
pub mod participants;
pub mod programs;
mod settings;
