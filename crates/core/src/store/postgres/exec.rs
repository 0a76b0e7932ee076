//! What the PostgreSQL backend's table statements run on: the connection itself (reads outside a
//! write) or a write's transaction. Every table trait is implemented once, for any [`Exec`], so
//! `Store::tables()` and the closure of `Store::write` answer the same way.

use super::{PgConn, PgTx, Row, ToSql};
use crate::store::page::Arg;
use crate::store::StoreError;
use tokio_postgres::types::Type;

/// A place to run statements: [`PgConn`] or [`PgTx`].
pub trait Exec {
    /// Every row of `sql`.
    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError>;
    /// The row of `sql`, if any (more than one is an error).
    fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError>;
    /// Every row of `sql`, its parameters typed by the caller: one round trip instead of two.
    fn query_typed(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, StoreError>;
    /// Exactly one row of `sql`.
    fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, StoreError>;
    /// Rows changed by `sql`.
    fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError>;
    /// Maps a driver error (e.g. from `Row::try_get`) to a [`StoreError`].
    fn err(&self, e: &tokio_postgres::Error) -> StoreError;
    /// The login acting (the operator's UPN in lower case, or the database owner).
    fn login(&self) -> &str;
}

macro_rules! exec_for {
    ($t:ty) => {
        impl Exec for $t {
            fn query(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Vec<Row>, StoreError> {
                <$t>::query(self, sql, params)
            }
            fn query_opt(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Option<Row>, StoreError> {
                <$t>::query_opt(self, sql, params)
            }
            fn query_typed(
                &self,
                sql: &str,
                params: &[(&(dyn ToSql + Sync), Type)],
            ) -> Result<Vec<Row>, StoreError> {
                <$t>::query_typed(self, sql, params)
            }
            fn query_one(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<Row, StoreError> {
                <$t>::query_one(self, sql, params)
            }
            fn execute(
                &self,
                sql: &str,
                params: &[&(dyn ToSql + Sync)],
            ) -> Result<u64, StoreError> {
                <$t>::execute(self, sql, params)
            }
            fn err(&self, e: &tokio_postgres::Error) -> StoreError {
                <$t>::err(self, e)
            }
            fn login(&self) -> &str {
                <$t>::login(self)
            }
        }
    };
}

exec_for!(PgConn);
exec_for!(PgTx<'_>);

/// Reads column `idx` of `row`, mapping a type mismatch to a [`StoreError`].
pub(crate) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    db: &impl Exec,
    row: &'a Row,
    idx: usize,
) -> Result<T, StoreError> {
    row.try_get(idx).map_err(|e| db.err(&e))
}

/// Rows changed by a statement, as the table traits count them.
pub(crate) fn changed(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A value read that this build cannot represent (SQLite reports these as conversion failures).
pub(crate) fn bad_value(message: String) -> StoreError {
    StoreError::Pg {
        message,
        sqlstate: None,
        constraint: None,
    }
}

/// A row of `db`, read by the tables' shared row assembly (`store::columns`).
pub(crate) struct PgRow<'a, E> {
    /// Where the row came from (to map a conversion error).
    pub db: &'a E,
    /// The row.
    pub row: &'a Row,
}

impl<E: Exec> crate::store::columns::Columns for PgRow<'_, E> {
    type Error = StoreError;

    fn get<T: crate::store::columns::Column>(&self, idx: usize) -> Result<T, StoreError> {
        get(self.db, self.row, idx)
    }

    fn bad_value(&self, _idx: usize, what: String) -> StoreError {
        bad_value(what)
    }
}

/// The parameters of a statement built by a backend-neutral module, as the driver takes them.
pub(crate) fn params(args: &[Arg]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| match a {
            Arg::Text(s) => s as &(dyn ToSql + Sync),
            Arg::Int(n) => n as &(dyn ToSql + Sync),
        })
        .collect()
}

/// [`params`] with each one's type, for [`Exec::query_typed`]: text and `bigint`.
pub(crate) fn typed_params(args: &[Arg]) -> Vec<(&(dyn ToSql + Sync), Type)> {
    args.iter()
        .map(|a| match a {
            Arg::Text(s) => (s as &(dyn ToSql + Sync), Type::TEXT),
            Arg::Int(n) => (n as &(dyn ToSql + Sync), Type::INT8),
        })
        .collect()
}
