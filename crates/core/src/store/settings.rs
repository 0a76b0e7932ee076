//! Table `settings`: small named values of the store (a key and a text value each), such as the
//! default time zone, the directory cache's lifetime, the CLI's saved sign-in (never a token) or
//! whether the welcome was dismissed. Each key is defined by the module that owns the value; this
//! module owns only the [`SettingTable`] interface (SQLite's statements are in
//! `store::sqlite::settings`). A value is replaced whole; callers write inside the transaction of
//! the change they audit.

use super::StoreError;

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::settings` for SQLite).
pub trait SettingTable {
    /// The value of `key`, if set.
    fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets (replaces) the value of `key`.
    fn setting_put(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Removes `key`; true when it was set.
    fn setting_delete(&self, key: &str) -> Result<bool, StoreError>;
}
