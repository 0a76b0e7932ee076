//! Reading a result row by column position, whichever backend returned it, so each table's row
//! assembly (which column is which field, how a stored state name becomes its enum) is written
//! once in its backend-neutral module (`store::meetings::meeting_from`, …) instead of once per
//! backend.
//!
//! Must not: hold SQL or know a table; each backend implements [`Columns`] for its own row type
//! (`store::sqlite` for `rusqlite::Row`, `store::postgres::exec` for a PostgreSQL row).

/// A value both drivers read: `String`, `i64`, `bool` and their `Option`s.
pub trait Column: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a> {}

impl<T: rusqlite::types::FromSql + for<'a> tokio_postgres::types::FromSql<'a>> Column for T {}

/// One result row, read by position.
pub trait Columns {
    /// The backend's error (a conversion failure included).
    type Error;

    /// Column `idx`, converted to `T`.
    fn get<T: Column>(&self, idx: usize) -> Result<T, Self::Error>;

    /// The error for a value in column `idx` that this build cannot represent (`what` says
    /// which), e.g. a state name the schema's `CHECK` should have refused.
    fn bad_value(&self, idx: usize, what: String) -> Self::Error;

    /// Column `idx` through `parse`, refusing a value it does not know as
    /// "unknown `what` state '…'" (for the stored names of an enum).
    fn state<S>(
        &self,
        idx: usize,
        what: &str,
        parse: fn(&str) -> Option<S>,
    ) -> Result<S, Self::Error> {
        let name: String = self.get(idx)?;
        parse(&name).ok_or_else(|| self.bad_value(idx, format!("unknown {what} state '{name}'")))
    }
}
