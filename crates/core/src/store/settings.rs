//! Table `settings`: small named values of the store (a key and a text value each), such as the
//! default time zone, the directory cache's lifetime, the CLI's saved sign-in (never a token) or
//! whether the welcome was dismissed. Each key is defined by the module that owns the value; this
//! module owns only the SQL. A value is replaced whole; callers write inside the transaction of
//! the change they audit.

use rusqlite::{params, Connection, OptionalExtension};

/// The value of `key`, if set.
pub fn get(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
}

/// Sets (replaces) the value of `key`.
pub fn put(conn: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )
    .map(|_| ())
}

/// Removes `key`; true when it was set.
pub fn delete(conn: &Connection, key: &str) -> rusqlite::Result<bool> {
    conn.execute("DELETE FROM settings WHERE key = ?1", [key])
        .map(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn put_replaces_and_delete_removes() {
        let store = Store::open_in_memory().expect("store");
        let c = store.conn();
        assert_eq!(get(c, "k").expect("get"), None, "unset at first");
        put(c, "k", "one").expect("put");
        put(c, "k", "two").expect("replace");
        assert_eq!(
            get(c, "k").expect("get").as_deref(),
            Some("two"),
            "replaced"
        );
        assert!(delete(c, "k").expect("delete"), "it was set");
        assert!(!delete(c, "k").expect("delete"), "and is gone");
    }
}

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::settings` for SQLite).
pub trait SettingTable {}
