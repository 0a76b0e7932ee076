//! SQLite statements of the `operators` table(s), behind [`crate::store::operators::OperatorTable`].

use rusqlite::Connection;

use crate::store::operators::OperatorTable;

impl OperatorTable for Connection {}
