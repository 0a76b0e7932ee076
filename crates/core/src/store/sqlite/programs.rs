//! SQLite statements of the `programs` table(s), behind [`crate::store::programs::ProgramTable`].

use rusqlite::Connection;

use crate::store::programs::ProgramTable;

impl ProgramTable for Connection {}
