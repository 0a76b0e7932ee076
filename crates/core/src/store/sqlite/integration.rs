//! SQLite statements of the `integration` table(s), behind [`crate::store::integration::IntegrationTable`].

use rusqlite::Connection;

use crate::store::integration::IntegrationTable;

impl IntegrationTable for Connection {}
