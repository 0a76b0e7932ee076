//! SQLite statements of the `settings` table(s), behind [`crate::store::settings::SettingTable`].

use rusqlite::Connection;

use crate::store::settings::SettingTable;

impl SettingTable for Connection {}
