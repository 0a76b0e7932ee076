//! Versioned migrations, tracked in `PRAGMA user_version`. Each entry is applied in its own
//! transaction. A released migration is never edited; add a new one instead.

use super::{Store, StoreError, APPLICATION_ID};

/// The migrations, in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[include_str!("schema_v1.sql")];

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Reads the file's schema version.
pub fn version(store: &Store) -> Result<i64, StoreError> {
    store
        .conn()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| store.err(e))
}

/// Brings the store to [`CURRENT_VERSION`], refusing files from a newer version.
pub fn migrate(store: &mut Store) -> Result<(), StoreError> {
    let found = version(store)?;
    if found > CURRENT_VERSION {
        return Err(StoreError::NewerVersion {
            path: store.path().to_path_buf(),
            found,
            supported: CURRENT_VERSION,
        });
    }
    if found == CURRENT_VERSION {
        return Ok(());
    }
    let path = store.path().to_path_buf();
    let err = |e| super::classify(&path, e);
    store.write(|tx| {
        // Re-read inside the write lock: another process may have migrated meanwhile.
        let now: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if now > CURRENT_VERSION {
            return Err(StoreError::NewerVersion {
                path: path.clone(),
                found: now,
                supported: CURRENT_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(now.max(0) as usize) {
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(err)?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(err)?;
        Ok(())
    })
}
