//! SQLite statements of the `directory_cache` table, behind
//! [`crate::store::directory_cache::DirectoryTable`] (its lifetime setting goes through
//! [`crate::store::settings::SettingTable`]).

use rusqlite::{params, Connection, OptionalExtension};

use crate::store::directory_cache::{CacheRow, DirectoryTable};
use crate::store::StoreError;

impl DirectoryTable for Connection {
    fn directory_get(&self, address: &str) -> Result<Option<CacheRow>, StoreError> {
        self.query_row(
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
        .map_err(|e| super::err(self, e))
    }

    fn directory_put(&self, row: &CacheRow) -> Result<(), StoreError> {
        self.execute(
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
        )
        .map(|_| ())
        .map_err(|e| super::err(self, e))
    }
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
        store.conn().directory_put(&row).expect("put");
        row.class = "guest".into();
        store.conn().directory_put(&row).expect("replace");
        let got = store
            .conn()
            .directory_get("A@Contoso.Example")
            .expect("get")
            .expect("row");
        assert_eq!(got.class, "guest", "the newer result replaces the older");
        assert_eq!(
            store.conn().directory_ttl_hours().expect("ttl"),
            24,
            "default TTL 24 h"
        );
        store.conn().directory_set_ttl_hours(2).expect("set");
        assert_eq!(
            store.conn().directory_ttl_hours().expect("ttl"),
            2,
            "TTL setting read back"
        );
    }
}
