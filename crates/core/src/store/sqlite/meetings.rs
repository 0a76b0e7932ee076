//! SQLite statements of the `meetings` table(s), behind [`crate::store::meetings::MeetingTable`].

use rusqlite::Connection;

use crate::store::meetings::MeetingTable;

impl MeetingTable for Connection {}
