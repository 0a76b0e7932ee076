//! Versioned migrations, tracked in `PRAGMA user_version`. Each entry is applied in its own
//! transaction. A released migration is never edited; add a new one instead.

use std::path::Path;

use rusqlite::Connection;

use crate::store::{Store, StoreError, APPLICATION_ID};

/// The migrations, in order: `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("schema_v1.sql"),
    include_str!("schema_v2.sql"),
    include_str!("schema_v3.sql"),
    include_str!("schema_v4.sql"),
    include_str!("schema_v5.sql"),
    include_str!("schema_v6.sql"),
];

/// The schema version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Reads the store's schema version (a PostgreSQL store was checked to be
/// [`crate::store::postgres::SCHEMA_VERSION`] when it was opened).
pub fn version(store: &Store) -> Result<i64, StoreError> {
    match store.sqlite() {
        Some(conn) => file_version(conn, store.path()),
        None => Ok(crate::store::postgres::SCHEMA_VERSION),
    }
}

fn file_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| crate::store::classify(path, e))
}

/// Brings the file to [`CURRENT_VERSION`], refusing files from a newer version.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let found = file_version(conn, path)?;
    if found > CURRENT_VERSION {
        return Err(StoreError::NewerVersion {
            path: path.to_path_buf(),
            found,
            supported: CURRENT_VERSION,
        });
    }
    if found == CURRENT_VERSION {
        return Ok(());
    }
    let err = |e| crate::store::classify(path, e);
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    // Re-read inside the write lock: another process may have migrated meanwhile.
    let now: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    if now > CURRENT_VERSION {
        return Err(StoreError::NewerVersion {
            path: path.to_path_buf(),
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
    tx.commit().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::prelude::*;
    use rusqlite::{params, Connection};

    /// A file exactly as the released v1 wrote it, with rows in every table v2 touches.
    fn v1_file(path: &std::path::Path) {
        let conn = Connection::open(path).expect("create v1 file");
        conn.execute_batch(MIGRATIONS[0]).expect("schema v1");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
        conn.pragma_update(None, "application_id", APPLICATION_ID)
            .expect("application id");
        let t = "2027-01-01T00:00:00Z";
        for (code, name) in [("eng", "Engineering Mentoring"), ("des", "Design Coaching")] {
            conn.execute(
                "INSERT INTO programs (code, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                params![code, name, t],
            )
            .expect("program");
        }
        conn.execute(
            "INSERT INTO participants (program_id, email, added_at) VALUES (1, 'ann@x.example', ?1)",
            [t],
        )
        .expect("participant");
        conn.execute(
            "INSERT INTO batches (uid, source_name, source_sha256, state, programs, created_by, created_at, updated_at)
             VALUES ('u1', 'f.csv', 'sha', 'running', 'eng', 'me', ?1, ?1)",
            [t],
        )
        .expect("batch");
        for (line, state) in [(2, "done"), (3, "done"), (4, "failed"), (5, "queued")] {
            conn.execute(
                "INSERT INTO batch_items (batch_id, line, external_id, row_json, state, updated_at)
                 VALUES (1, ?1, ?2, '{}', ?3, ?4)",
                params![line, format!("x{line}"), state, t],
            )
            .expect("item");
        }
        conn.execute(
            "INSERT INTO meetings (external_id, program_id, batch_id, subject, start_utc, end_utc, time_zone,
                 state, created_by, created_at, updated_at)
             VALUES ('m1', 1, 1, 'Kick-off', ?1, ?1, 'UTC', 'created', 'me', ?1, ?1)",
            [t],
        )
        .expect("meeting");
        conn.execute(
            "INSERT INTO meeting_attendees (meeting_id, address, upn) VALUES (1, 'ann@x.example', 'Ann@X.example')",
            [],
        )
        .expect("attendee");
        conn.execute(
            "INSERT INTO audit_log (at, operator, action, target) VALUES (?1, 'me', 'program.create', 'program:eng')",
            [t],
        )
        .expect("audit");
    }

    #[test]
    fn a_v1_file_with_data_migrates_to_the_current_version_and_keeps_every_row() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.sqlite3");
        v1_file(&path);
        let mut store = Store::open(&path).expect("a v1 file opens");
        assert_eq!(
            version(&store).expect("version"),
            CURRENT_VERSION,
            "migrated through v2 to the current version"
        );
        let c = store.conn();
        let count = |table: &str| -> i64 {
            c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .expect("count")
        };
        for (table, n) in [
            ("programs", 2),
            ("participants", 1),
            ("batches", 1),
            ("batch_items", 4),
            ("meetings", 1),
            ("meeting_attendees", 1),
            ("audit_log", 1),
        ] {
            assert_eq!(
                count(table),
                n,
                "{table} keeps its rows across the migration"
            );
        }
        let found = c
            .programs_page(&crate::store::programs::ListQuery {
                search: Some("MENTOR".into()),
                ..Default::default()
            })
            .expect("search");
        assert_eq!(
            found
                .items
                .iter()
                .map(|p| p.code.as_str())
                .collect::<Vec<_>>(),
            ["eng"],
            "programs written by v1 are in the new search index"
        );
        let counts = c.batch_counts(1).expect("counts");
        assert_eq!(
            (counts.total, counts.done, counts.failed, counts.queued),
            (4, 2, 1, 1),
            "item counts of v1 batches are filled in by the migration"
        );
        let by_upn = c
            .meetings_page(&crate::store::meetings::MeetingFilter {
                participant: Some("ann@x.example".into()),
                ..Default::default()
            })
            .expect("meetings");
        assert_eq!(by_upn.items.len(), 1, "v1 attendees are found");
        let start = |c: &rusqlite::Connection| -> Option<String> {
            c.query_row(
                "SELECT start_utc FROM meeting_attendees WHERE meeting_id = 1",
                [],
                |r| r.get(0),
            )
            .expect("attendee")
        };
        assert_eq!(
            start(c).as_deref(),
            Some("2027-01-01T00:00:00Z"),
            "v1 attendees get their meeting's start"
        );
        c.meeting_reschedule(
            1,
            "2027-02-01T09:00:00Z",
            "2027-02-01T10:00:00Z",
            "UTC",
            "Kick-off",
            "t",
        )
        .expect("reschedule");
        assert_eq!(
            start(c).as_deref(),
            Some("2027-02-01T09:00:00Z"),
            "a reschedule moves the attendees' copy of the start"
        );
        assert!(
            c.execute("DELETE FROM audit_log", []).is_err(),
            "the audit trail stays append-only"
        );
        // Later writes keep the new structures in step.
        c.program_insert("ops", "Operations Guild", "", &[])
            .expect("insert");
        c.batch_item_mark_queued(1, 5, "t").expect("no-op");
        c.batch_item_mark_in_flight(1, 5, "t").expect("in flight");
        let after = c.batch_counts(1).expect("counts");
        assert_eq!(
            (after.total, after.in_flight, after.queued),
            (4, 1, 0),
            "the triggers follow item state changes"
        );
        drop(store);
        store = Store::open(&path).expect("reopens");
        let found = store
            .tables()
            .programs_page(&crate::store::programs::ListQuery {
                search: Some("guild".into()),
                ..Default::default()
            })
            .expect("search");
        assert_eq!(
            found.items.len(),
            1,
            "a program added after v2 is searchable"
        );
        assert_eq!(version(&store).expect("version"), CURRENT_VERSION);
    }

    #[test]
    fn a_v2_file_migrates_to_v3_and_old_audit_rows_have_no_real_actor() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.sqlite3");
        v1_file(&path);
        {
            // The previous released schema: v1 then v2, exactly as that release wrote them.
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(MIGRATIONS[1]).expect("schema v2");
            conn.pragma_update(None, "user_version", 2)
                .expect("version");
        }
        let store = Store::open(&path).expect("a v2 file opens");
        assert_eq!(
            version(&store).expect("version"),
            CURRENT_VERSION,
            "migrated through v3 to the current version"
        );
        let rows = store
            .tables()
            .audit_list(&Default::default())
            .expect("audit rows read through the new column");
        assert_eq!(rows.len(), 1, "the v2 audit row is kept");
        assert_eq!(
            rows[0].real_actor, None,
            "rows written before v3 name no impersonator"
        );
        store
            .tables()
            .audit_append(&crate::store::audit_log::AuditEntry {
                operator: "admin@x.example",
                action: "program.edit",
                target: "program:eng",
                real_actor: Some("local:tester"),
                ..Default::default()
            })
            .expect("append");
        let newest = store
            .tables()
            .audit_list(&Default::default())
            .expect("rows")
            .into_iter()
            .find(|r| r.action == "program.edit")
            .expect("the row just written");
        assert_eq!(
            newest.real_actor.as_deref(),
            Some("local:tester"),
            "v3 records who really acted"
        );
    }

    #[test]
    fn a_v3_file_migrates_to_v4_keeping_its_programs_at_version_1_and_edits_bump_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.sqlite3");
        v1_file(&path);
        {
            // The previous released schema: v1 to v3, exactly as that release wrote them.
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(MIGRATIONS[1]).expect("schema v2");
            conn.execute_batch(MIGRATIONS[2]).expect("schema v3");
            conn.pragma_update(None, "user_version", 3)
                .expect("version");
        }
        let mut store = Store::open(&path).expect("a v3 file opens");
        assert_eq!(
            version(&store).expect("version"),
            CURRENT_VERSION,
            "migrated through v4 to the current version"
        );
        let t = store.tables();
        let eng = t.program_by_code("eng").expect("read").expect("eng kept");
        let des = t.program_by_code("des").expect("read").expect("des kept");
        assert_eq!(
            (eng.name.as_str(), des.name.as_str()),
            ("Engineering Mentoring", "Design Coaching"),
            "the v3 programs are kept as they were"
        );
        assert_eq!(
            (eng.version, eng.updated_by.as_deref()),
            (1, None),
            "a program from before v4 starts at version 1, changed by nobody known"
        );
        assert_eq!(
            t.participants_count(eng.id).expect("count"),
            1,
            "its participants are kept"
        );
        let stamp = crate::store::programs::ProgramStamp {
            id: eng.id,
            version: 1,
            by: "ana@x.example",
        };
        let rows = store
            .write(|tx| -> Result<[usize; 2], StoreError> {
                Ok([
                    tx.program_update_details(stamp, "Engineering", "")?,
                    tx.program_update_details(stamp, "Stale", "")?,
                ])
            })
            .expect("edit");
        assert_eq!(
            rows,
            [1, 0],
            "the edit on version 1 applies; a second one on version 1 is stale"
        );
        let eng = store
            .tables()
            .program_by_code("eng")
            .expect("read")
            .expect("eng");
        assert_eq!(
            (eng.name.as_str(), eng.version, eng.updated_by.as_deref()),
            ("Engineering", 2, Some("ana@x.example")),
            "the edit bumped the version and recorded who made it"
        );
    }

    #[test]
    fn a_v4_file_migrates_to_v5_and_its_running_batch_has_no_lease_until_a_run_takes_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.sqlite3");
        v1_file(&path);
        {
            // The previous released schema: v1 to v4, exactly as that release wrote them.
            let conn = Connection::open(&path).expect("open");
            for sql in &MIGRATIONS[1..4] {
                conn.execute_batch(sql).expect("schema v2 to v4");
            }
            conn.pragma_update(None, "user_version", 4)
                .expect("version");
        }
        let mut store = Store::open(&path).expect("a v4 file opens");
        assert_eq!(
            version(&store).expect("version"),
            CURRENT_VERSION,
            "migrated through v5 to the current version"
        );
        let b = store
            .tables()
            .batch_by_id(1)
            .expect("read")
            .expect("the v4 batch is kept");
        assert_eq!(
            (b.state, b.lease.as_ref(), b.counts.total),
            (crate::store::batches::BatchState::Running, None, 4),
            "a batch stored running before v5 keeps its state and items, and no run holds it"
        );
        let taken = store
            .write(|tx| -> Result<[usize; 2], StoreError> {
                Ok([
                    tx.batch_lease_take(
                        1,
                        "7@h#a",
                        None,
                        "2027-01-01T00:00:00Z",
                        "2027-01-01T00:00:30Z",
                    )?,
                    tx.batch_lease_take(
                        1,
                        "8@h#b",
                        None,
                        "2027-01-01T00:00:10Z",
                        "2027-01-01T00:00:40Z",
                    )?,
                ])
            })
            .expect("take");
        assert_eq!(
            taken,
            [1, 0],
            "the migrated batch's lease is free, and taken it is no longer free"
        );
    }
    #[test]
    fn a_v5_file_migrates_to_v6_with_invitations_off_and_its_meetings_invited_by_nobody() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.sqlite3");
        v1_file(&path);
        {
            // The previous released schema: v1 to v5, exactly as that release wrote them.
            let conn = Connection::open(&path).expect("open");
            for sql in &MIGRATIONS[1..5] {
                conn.execute_batch(sql).expect("schema v2 to v5");
            }
            conn.execute(
                "INSERT INTO integration (id, cloud, authority_base, graph_base, tenant_id, client_id,
                     host_object_id, host_upn, granted_scopes, state, connected_at)
                 VALUES (1, 'global', 'https://login.microsoftonline.com', 'https://graph.microsoft.com/v1.0',
                     't', 'c', 'o', 'h@x.example', 'OnlineMeetings.ReadWrite', 'connected', '2027-01-01T00:00:00Z')",
                [],
            )
            .expect("a v5 integration row");
            conn.pragma_update(None, "user_version", 5)
                .expect("version");
        }
        let mut store = Store::open(&path).expect("a v5 file opens");
        assert_eq!(
            version(&store).expect("version"),
            CURRENT_VERSION,
            "migrated through v6 to the current version"
        );
        assert_eq!(
            store.tables().integration_invitation_mode().expect("mode"),
            crate::store::integration::InvitationMode::None,
            "an integration from before v6 sends no invitations (today's behaviour)"
        );
        let m = store
            .tables()
            .meeting_by_external_id("m1")
            .expect("read")
            .expect("the v5 meeting is kept");
        assert_eq!(
            (
                m.invitations,
                m.event_id.as_deref(),
                m.invitations_sent_at.as_deref()
            ),
            (crate::store::integration::InvitationMode::None, None, None),
            "a meeting from before v6 was made without invitations"
        );
        let row = store
            .tables()
            .integration_get()
            .expect("read")
            .expect("row");
        store
            .write(|tx| -> Result<(), StoreError> {
                tx.integration_set_invitation_mode(
                    crate::store::integration::InvitationMode::Calendar,
                )?;
                // A reconnect writes the row again: the mode stays.
                tx.integration_put(&row)?;
                Ok(())
            })
            .expect("write");
        assert_eq!(
            store.tables().integration_invitation_mode().expect("mode"),
            crate::store::integration::InvitationMode::Calendar,
            "a reconnect keeps the invitation mode a global admin chose"
        );
    }
}
