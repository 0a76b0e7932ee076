//! SQLite statements of the `audit_log` table(s), behind [`crate::store::audit_log::AuditTable`].

use rusqlite::Connection;

use crate::store::audit_log::AuditTable;

impl AuditTable for Connection {}
