//! SQLite statements of the `settings` table, behind [`crate::store::settings::SettingTable`].

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::settings::SettingTable;
use crate::store::StoreError;

impl SettingTable for Connection {
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|e| super::err(self, e))
    }

    fn setting_put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )
        .map(|_| ())
        .map_err(|e| super::err(self, e))
    }

    fn setting_delete(&self, key: &str) -> Result<bool, StoreError> {
        self.execute("DELETE FROM settings WHERE key = ?1", [key])
            .map(|n| n > 0)
            .map_err(|e| super::err(self, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn put_replaces_and_delete_removes() {
        let store = Store::open_in_memory().expect("store");
        let c = store.conn();
        assert_eq!(c.setting("k").expect("get"), None, "unset at first");
        c.setting_put("k", "one").expect("put");
        c.setting_put("k", "two").expect("replace");
        assert_eq!(
            c.setting("k").expect("get").as_deref(),
            Some("two"),
            "replaced"
        );
        assert!(c.setting_delete("k").expect("delete"), "it was set");
        assert!(!c.setting_delete("k").expect("delete"), "and is gone");
    }
}
