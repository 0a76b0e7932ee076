//! Table `directory_cache`: membership results with the time they were checked, so repeated
//! checks do not hit Graph. Freshness (the TTL) is decided in `crate::membership`; this module
//! only reads and writes rows. Holds directory facts only, never a token.

use rusqlite::{params, Connection, OptionalExtension};

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

/// Reads the row for `address`.
pub fn get(conn: &Connection, address: &str) -> rusqlite::Result<Option<CacheRow>> {
    conn.query_row(
        "SELECT address, class, matched_by, object_id, upn, display_name, checked_at
         FROM directory_cache WHERE address = ?1",
        [address],
        |r| {
            Ok(CacheRow {
                address: r.get(0)?,
                class: r.get(1)?,
                matched_by: r.get(2)?,
                object_id: r.get(3)?,
                upn: r.get(4)?,
                display_name: r.get(5)?,
                checked_at: r.get(6)?,
            })
        },
    )
    .optional()
}

/// Inserts or replaces the row.
pub fn put(conn: &Connection, row: &CacheRow) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO directory_cache (address, class, matched_by, object_id, upn, display_name, checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (address) DO UPDATE SET class = excluded.class, matched_by = excluded.matched_by,
           object_id = excluded.object_id, upn = excluded.upn, display_name = excluded.display_name,
           checked_at = excluded.checked_at",
        params![
            row.address,
            row.class,
            row.matched_by,
            row.object_id,
            row.upn,
            row.display_name,
            row.checked_at
        ],
    )?;
    Ok(())
}

/// The TTL in hours from `settings` (default when absent or unreadable).
pub fn ttl_hours(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(crate::store::integration::setting(conn, SETTING_TTL_HOURS)?
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|h| *h >= 0)
        .unwrap_or(DEFAULT_TTL_HOURS))
}

/// Sets the TTL in hours.
pub fn set_ttl_hours(conn: &Connection, hours: i64) -> rusqlite::Result<()> {
    super::settings::put(conn, SETTING_TTL_HOURS, &hours.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn put_replaces_and_lookup_ignores_case() {
        let store = Store::open_in_memory().expect("store");
        let mut row = CacheRow {
            address: "a@contoso.example".into(),
            class: "member".into(),
            matched_by: Some("upn".into()),
            object_id: Some("id".into()),
            upn: Some("a@contoso.example".into()),
            display_name: Some("A".into()),
            checked_at: "2027-01-01T00:00:00Z".into(),
        };
        put(store.conn(), &row).expect("put");
        row.class = "guest".into();
        put(store.conn(), &row).expect("replace");
        let got = get(store.conn(), "A@Contoso.Example")
            .expect("get")
            .expect("row");
        assert_eq!(got.class, "guest", "the newer result replaces the older");
        assert_eq!(
            ttl_hours(store.conn()).expect("ttl"),
            24,
            "default TTL 24 h"
        );
        set_ttl_hours(store.conn(), 2).expect("set");
        assert_eq!(
            ttl_hours(store.conn()).expect("ttl"),
            2,
            "TTL setting read back"
        );
    }
}

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::directory_cache` for SQLite).
pub trait DirectoryTable {}
