//! Table `directory_cache`: membership results with the time they were checked, so repeated
//! checks do not hit Graph. Freshness (the TTL) is decided in `crate::membership`; this module
//! holds the row type and the [`DirectoryTable`] interface (SQLite's statements are in
//! `store::sqlite::directory_cache`). Holds directory facts only, never a token.

use std::collections::HashMap;

use super::settings::SettingTable;
use super::StoreError;

/// Settings key of the cache lifetime in hours (default [`DEFAULT_TTL_HOURS`]).
pub const SETTING_TTL_HOURS: &str = "membership.cache_ttl_hours";
/// Default cache lifetime.
pub const DEFAULT_TTL_HOURS: i64 = 24;

/// One cached result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRow {
    /// The normalised (lower-case) address.
    pub address: String,
    /// `member`, `guest`, `not_found`, `ambiguous`.
    pub class: String,
    /// `upn`, `mail`, `proxy_address`.
    pub matched_by: Option<String>,
    /// Object id.
    pub object_id: Option<String>,
    /// UPN.
    pub upn: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// When checked (UTC RFC 3339).
    pub checked_at: String,
}

/// The cache lifetime a stored [`SETTING_TTL_HOURS`] value means: [`DEFAULT_TTL_HOURS`] when
/// absent, unreadable or negative.
pub fn ttl_hours_from(setting: Option<&str>) -> i64 {
    setting
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|h| *h >= 0)
        .unwrap_or(DEFAULT_TTL_HOURS)
}

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::directory_cache` for SQLite). The lifetime lives in `settings`, so its two
/// methods are written once here over [`SettingTable`].
pub trait DirectoryTable: SettingTable {
    /// Reads the row for `address` (case-insensitive).
    fn directory_get(&self, address: &str) -> Result<Option<CacheRow>, StoreError>;

    /// Inserts or replaces the row.
    fn directory_put(&self, row: &CacheRow) -> Result<(), StoreError>;

    /// [`DirectoryTable::directory_get`] of many addresses at once: the row of each one that
    /// has one, keyed by the address as asked (each asked once however often it is named).
    fn directory_get_many(
        &self,
        addresses: &[&str],
    ) -> Result<HashMap<String, CacheRow>, StoreError> {
        let mut out = HashMap::new();
        for a in addresses {
            if out.contains_key(*a) {
                continue;
            }
            if let Some(row) = self.directory_get(a)? {
                out.insert((*a).to_string(), row);
            }
        }
        Ok(out)
    }

    /// [`DirectoryTable::directory_put`] of each row, in order, in one statement where the
    /// backend can.
    fn directory_put_many(&self, rows: &[CacheRow]) -> Result<(), StoreError> {
        for row in rows {
            self.directory_put(row)?;
        }
        Ok(())
    }

    /// The TTL in hours from `settings` (default when absent or unreadable).
    fn directory_ttl_hours(&self) -> Result<i64, StoreError> {
        Ok(ttl_hours_from(self.setting(SETTING_TTL_HOURS)?.as_deref()))
    }

    /// Sets the TTL in hours.
    fn directory_set_ttl_hours(&self, hours: i64) -> Result<(), StoreError> {
        self.setting_put(SETTING_TTL_HOURS, &hours.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_or_negative_ttl_setting_means_the_default() {
        assert_eq!(ttl_hours_from(None), DEFAULT_TTL_HOURS, "unset: default");
        assert_eq!(ttl_hours_from(Some(" 2 ")), 2, "a number of hours, trimmed");
        assert_eq!(ttl_hours_from(Some("0")), 0, "0 turns the cache off");
        assert_eq!(
            ttl_hours_from(Some("-1")),
            DEFAULT_TTL_HOURS,
            "negative: default"
        );
        assert_eq!(
            ttl_hours_from(Some("day")),
            DEFAULT_TTL_HOURS,
            "not a number: default"
        );
    }
}
