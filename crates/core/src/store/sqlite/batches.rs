//! SQLite statements of the `batches` table(s), behind [`crate::store::batches::BatchTable`].

use rusqlite::Connection;

use crate::store::batches::BatchTable;

impl BatchTable for Connection {}
