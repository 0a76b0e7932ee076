//! PostgreSQL statements of the `settings` table, behind [`SettingTable`].

use super::exec::{get, Exec};
use crate::store::settings::SettingTable;
use crate::store::StoreError;

impl<T: Exec> SettingTable for T {
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self.query_opt("SELECT value FROM settings WHERE key = $1", &[&key])? {
            Some(row) => Ok(Some(get(self, &row, 0)?)),
            None => Ok(None),
        }
    }

    fn setting_put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )
        .map(|_| ())
    }

    fn setting_delete(&self, key: &str) -> Result<bool, StoreError> {
        self.execute("DELETE FROM settings WHERE key = $1", &[&key])
            .map(|n| n > 0)
    }
}
