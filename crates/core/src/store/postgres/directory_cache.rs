//! PostgreSQL statements of the `directory_cache` table, behind [`DirectoryTable`] (its
//! lifetime setting goes through [`crate::store::settings::SettingTable`]).
//!
//! SQLite's `address` is `COLLATE NOCASE`; here the key is the generated `address_key`
//! (`lower(address)` under "C": ASCII letters folded, as NOCASE), so a lookup compares it with
//! the address lower-cased the same way, and a put that hits an existing row keeps that row's
//! spelling of the address (as SQLite's `ON CONFLICT ... DO UPDATE` does).

use super::exec::{get, Exec};
use crate::store::directory_cache::{CacheRow, DirectoryTable};
use crate::store::StoreError;

impl<T: Exec> DirectoryTable for T {
    fn directory_get(&self, address: &str) -> Result<Option<CacheRow>, StoreError> {
        let key = address.to_ascii_lowercase();
        let Some(r) = self.query_opt(
            "SELECT address, class, matched_by, object_id, upn, display_name, checked_at
             FROM directory_cache WHERE address_key = $1",
            &[&key],
        )?
        else {
            return Ok(None);
        };
        Ok(Some(CacheRow {
            address: get(self, &r, 0)?,
            class: get(self, &r, 1)?,
            matched_by: get(self, &r, 2)?,
            object_id: get(self, &r, 3)?,
            upn: get(self, &r, 4)?,
            display_name: get(self, &r, 5)?,
            checked_at: get(self, &r, 6)?,
        }))
    }

    fn directory_put(&self, row: &CacheRow) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO directory_cache (address, class, matched_by, object_id, upn, display_name, checked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (address_key) DO UPDATE SET class = excluded.class,
               matched_by = excluded.matched_by, object_id = excluded.object_id,
               upn = excluded.upn, display_name = excluded.display_name,
               checked_at = excluded.checked_at",
            &[
                &row.address,
                &row.class,
                &row.matched_by,
                &row.object_id,
                &row.upn,
                &row.display_name,
                &row.checked_at,
            ],
        )
        .map(|_| ())
    }
}
