//! PostgreSQL statements of the `directory_cache` table, behind [`DirectoryTable`] (its
//! lifetime setting goes through [`crate::store::settings::SettingTable`]).
//!
//! SQLite's `address` is `COLLATE NOCASE`; here the key is the generated `address_key`
//! (`lower(address)` under "C": ASCII letters folded, as NOCASE), so a lookup compares it with
//! the address lower-cased the same way, and a put that hits an existing row keeps that row's
//! spelling of the address (as SQLite's `ON CONFLICT ... DO UPDATE` does).

use std::collections::{HashMap, HashSet};

use super::exec::{get, Exec};
use super::ToSql;
use crate::store::directory_cache::{CacheRow, DirectoryTable};
use crate::store::StoreError;
use tokio_postgres::types::Type;

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

    fn directory_get_many(
        &self,
        addresses: &[&str],
    ) -> Result<HashMap<String, CacheRow>, StoreError> {
        if addresses.is_empty() {
            return Ok(HashMap::new());
        }
        // The keys are folded here, as `directory_get` folds its one.
        let keys: Vec<String> = addresses.iter().map(|a| a.to_ascii_lowercase()).collect();
        let rows = self.query_typed(
            "SELECT a.asked, d.address, d.class, d.matched_by, d.object_id, d.upn,
                    d.display_name, d.checked_at
             FROM unnest($1::text[], $2::text[]) AS a(asked, key)
             JOIN directory_cache d ON d.address_key = a.key",
            &[(&addresses, Type::TEXT_ARRAY), (&keys, Type::TEXT_ARRAY)],
        )?;
        rows.iter()
            .map(|r| {
                Ok((
                    get(self, r, 0)?,
                    CacheRow {
                        address: get(self, r, 1)?,
                        class: get(self, r, 2)?,
                        matched_by: get(self, r, 3)?,
                        object_id: get(self, r, 4)?,
                        upn: get(self, r, 5)?,
                        display_name: get(self, r, 6)?,
                        checked_at: get(self, r, 7)?,
                    },
                ))
            })
            .collect()
    }

    fn directory_put_many(&self, rows: &[CacheRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let keys: HashSet<String> = rows
            .iter()
            .map(|r| r.address.to_ascii_lowercase())
            .collect();
        if keys.len() < rows.len() {
            // One statement may not update a row twice; one by one, the later put wins (and
            // the first one's spelling stays), as it does here for every put.
            for row in rows {
                self.directory_put(row)?;
            }
            return Ok(());
        }
        let col = |f: fn(&CacheRow) -> Option<&str>| rows.iter().map(f).collect::<Vec<_>>();
        let address = col(|r| Some(&r.address));
        let class = col(|r| Some(&r.class));
        let matched_by = col(|r| r.matched_by.as_deref());
        let object_id = col(|r| r.object_id.as_deref());
        let upn = col(|r| r.upn.as_deref());
        let display_name = col(|r| r.display_name.as_deref());
        let checked_at = col(|r| Some(&r.checked_at));
        let arrays = [
            &address,
            &class,
            &matched_by,
            &object_id,
            &upn,
            &display_name,
            &checked_at,
        ];
        let params: Vec<(&(dyn ToSql + Sync), Type)> = arrays
            .iter()
            .map(|a| (*a as &(dyn ToSql + Sync), Type::TEXT_ARRAY))
            .collect();
        self.query_typed(
            "INSERT INTO directory_cache (address, class, matched_by, object_id, upn, display_name, checked_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::text[], $7::text[])
             ON CONFLICT (address_key) DO UPDATE SET class = excluded.class,
               matched_by = excluded.matched_by, object_id = excluded.object_id,
               upn = excluded.upn, display_name = excluded.display_name,
               checked_at = excluded.checked_at",
            &params,
        )
        .map(|_| ())
    }
}
