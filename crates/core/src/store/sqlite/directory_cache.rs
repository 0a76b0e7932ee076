//! SQLite statements of the `directory_cache` table(s), behind [`crate::store::directory_cache::DirectoryTable`].

use rusqlite::Connection;

use crate::store::directory_cache::DirectoryTable;

impl DirectoryTable for Connection {}
