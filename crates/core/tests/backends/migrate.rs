//! `store migrate-to` (`store::postgres::migrate_from_sqlite`): a realistic local store, built
//! through the use cases and raw SQL where no use case runs offline (meetings, batches, the
//! integration, the directory cache), copied into a fresh team database as its owner, then
//! compared table by table and row by row (every column SQLite has, read with SQL on both
//! sides), with the file's bytes unchanged and a second migration refused without a change.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use tsched_core::operators::{self, NewOperator};
use tsched_core::programs::{self, NewProgram};
use tsched_core::roles::Role;
use tsched_core::store::postgres::{self, PgConn, Step};
use tsched_core::store::{Store, StoreError};
use tsched_core::{participants, Actor};
use tsched_pgtest::Cluster;

use crate::support;

const DB: &str = "tsched";
const ADMIN: &str = "admin@x.test";

/// Every table the migration copies (the SQLite file's, minus its FTS index).
const TABLES: [&str; 14] = [
    "programs",
    "program_meeting_modes",
    "participants",
    "operators",
    "operator_roles",
    "integration",
    "directory_cache",
    "settings",
    "batches",
    "meetings",
    "meeting_attendees",
    "batch_items",
    "batch_item_counts",
    "audit_log",
];

/// A table's rows as text (NULL = None; PostgreSQL booleans as 0/1, SQLite's form), sorted.
type Rows = Vec<Vec<Option<String>>>;

/// The on-disk store the tests migrate: two programs, a roster of five (one inactive, one
/// with capitals in the UPN), participants, a mode change, an impersonated change (real_actor),
/// an integration row, cached membership answers, shared and workstation-only settings, two
/// batches with items in several states (and a zero count the local triggers leave), meetings
/// with attendees, and an audit row of a departed operator at a fixed time.
fn build_local(dir: &Path) {
    let mut store = Store::open_in(dir).expect("the local store opens");
    let local = Actor::local();
    for (name, code, description) in [
        ("Alpha Track", "alpha", "first program"),
        ("Beta Été", "beta", "accents, and a quote: ' \""),
    ] {
        programs::add(
            &mut store,
            &local,
            NewProgram {
                name: name.to_string(),
                code: Some(code.to_string()),
                description: Some(description.to_string()),
            },
        )
        .expect("setup mode: the local user adds programs");
    }
    operators::add(
        &mut store,
        &local,
        NewOperator {
            upn: ADMIN.to_string(),
            display_name: "Ada Admin".to_string(),
        },
    )
    .expect("the first operator becomes global admin");
    let admin = Actor::operator(ADMIN);
    for (upn, name) in [
        ("Track.Lead@X.test", "Tracy Lead"),
        ("coord@x.test", "Cory Coordinator"),
        ("sup@x.test", ""),
        ("old@x.test", "Olga Old"),
    ] {
        operators::add(
            &mut store,
            &admin,
            NewOperator {
                upn: upn.to_string(),
                display_name: name.to_string(),
            },
        )
        .expect("a global admin adds operators");
    }
    operators::grant(
        &mut store,
        &admin,
        "Track.Lead@X.test",
        Role::TrackAdmin,
        Some("alpha"),
    )
    .expect("grant track admin");
    operators::grant(
        &mut store,
        &admin,
        "coord@x.test",
        Role::Coordinator,
        Some("beta"),
    )
    .expect("grant coordinator");
    operators::grant(&mut store, &admin, "sup@x.test", Role::Support, None).expect("grant support");
    operators::grant(
        &mut store,
        &admin,
        "old@x.test",
        Role::Coordinator,
        Some("alpha"),
    )
    .expect("grant coordinator");
    operators::set_active(&mut store, &admin, "old@x.test", false).expect("deactivate");
    for (email, name) in [("Pat@Example.com", "Pat O'Neil"), ("lee@example.com", "")] {
        participants::add(&mut store, &admin, "alpha", email, name).expect("add participant");
    }
    participants::add(&mut store, &admin, "beta", "pat@example.com", "Pat")
        .expect("the same person in another program");
    participants::add(
        &mut store,
        &Actor::impersonated(ADMIN),
        "beta",
        "kim@example.com",
        "Kim",
    )
    .expect("an impersonated change records its real actor");

    store
        .write_sql(|c| -> Result<(), StoreError> {
            c.execute_batch(
                r#"
INSERT INTO integration (id, cloud, authority_base, graph_base, tenant_id, client_id,
    host_object_id, host_upn, host_display_name, granted_scopes, state, attention_reason,
    connected_at, connected_by, last_refresh_at, removed_at)
VALUES (1, 'global', 'https://login.example', 'https://graph.example', 'tenant-1', 'client-1',
    'host-oid', 'host@x.test', 'Host', 'OnlineMeetings.ReadWrite offline_access',
    'needs_attention', 'consent missing', '2027-01-02T03:04:05Z', 'admin@x.test', NULL, NULL);
INSERT INTO directory_cache (address, class, matched_by, object_id, upn, display_name, checked_at)
VALUES ('Pat@Example.com', 'member', 'mail', 'oid-pat', 'pat@example.com', 'Pat', '2027-01-03T00:00:00Z'),
       ('ghost@example.com', 'not_found', NULL, NULL, NULL, NULL, '2027-01-03T00:00:01Z');
INSERT INTO settings (key, value) VALUES
    ('meetings.default_time_zone', 'Europe/Paris'),
    ('membership.cache_ttl_hours', '12'),
    ('cli.session', '{"upn":"admin@x.test"}'),
    ('sandbox.embedded_url', 'http://127.0.0.1:9/');
INSERT INTO batches (id, uid, source_name, source_sha256, state, pause_reason, concurrency,
    programs, created_by, created_at, updated_at, finished_at)
VALUES (3, 'b-3', 'spring.csv', 'aa11', 'completed', NULL, 4, 'alpha beta', 'admin@x.test',
        '2027-02-01T00:00:00Z', '2027-02-01T01:00:00Z', '2027-02-01T01:00:00Z'),
       (7, 'b-7', 'fall.csv', 'bb22', 'paused', 'throttled', 8, 'beta', 'coord@x.test',
        '2027-03-01T00:00:00Z', '2027-03-01T00:10:00Z', NULL);
INSERT INTO meetings (id, external_id, program_id, batch_id, subject, start_utc, end_utc,
    time_zone, state, graph_id, join_web_url, join_meeting_id, passcode, organizer_upn,
    sequence, last_error, created_by, created_at, updated_at)
VALUES (10, 'ext-10', 1, 3, 'Kick-off ☕', '2027-04-01T09:00:00Z', '2027-04-01T10:00:00Z',
        'Europe/Paris', 'created', 'g-10', 'https://teams.example/j/10', '123 456', 'pw',
        'host@x.test', 2, NULL, 'admin@x.test', '2027-02-01T00:30:00Z', '2027-02-01T00:40:00Z'),
       (11, 'ext-11', 2, NULL, 'One-on-one', '2027-04-02T09:00:00Z', '2027-04-02T09:30:00Z',
        'UTC', 'failed', NULL, NULL, NULL, NULL, NULL, 0, 'Graph said 429',
        'coord@x.test', '2027-02-02T00:00:00Z', '2027-02-02T00:00:00Z'),
       (25, 'ext-25', 2, 7, 'Later', '2027-05-01T09:00:00Z', '2027-05-01T09:30:00Z',
        'UTC', 'pending', NULL, NULL, NULL, NULL, NULL, 0, NULL,
        'coord@x.test', '2027-03-01T00:05:00Z', '2027-03-01T00:05:00Z');
INSERT INTO meeting_attendees (meeting_id, address, upn, object_id, display_name)
VALUES (10, 'Pat@Example.com', 'pat@example.com', 'oid-pat', 'Pat'),
       (10, 'lee@example.com', NULL, NULL, NULL),
       (25, 'pat@example.com', 'pat@example.com', 'oid-pat', NULL);
INSERT INTO batch_items (batch_id, line, external_id, row_json, state, meeting_id, graph_id,
    join_web_url, created_now, error_code, error_message, attempts, updated_at)
VALUES (3, 2, 'ext-10', '{"subject":"Kick-off"}', 'queued', NULL, NULL, NULL, NULL, NULL, NULL,
        0, '2027-02-01T00:00:00Z'),
       (3, 3, 'ext-x', '{"subject":"x"}', 'failed', NULL, NULL, NULL, 0, 'throttled',
        'Graph said 429', 3, '2027-02-01T00:50:00Z'),
       (7, 2, 'ext-25', '{"subject":"Later"}', 'in_flight', 25, NULL, NULL, NULL, NULL, NULL,
        1, '2027-03-01T00:05:00Z');
-- A mode turned off.
UPDATE program_meeting_modes SET enabled = 0, updated_at = '2027-01-05T00:00:00Z'
WHERE program_id = 2 AND mode = 'phone';
-- queued -> done: the local trigger leaves a (3, 'queued', 0) row behind.
UPDATE batch_items SET state = 'done', meeting_id = 10, graph_id = 'g-10',
    join_web_url = 'https://teams.example/j/10', created_now = 1, attempts = 1,
    updated_at = '2027-02-01T00:40:00Z'
WHERE batch_id = 3 AND line = 2;
INSERT INTO audit_log (at, operator, action, target, program_code, before_json, after_json,
    graph_request_id, real_actor)
VALUES ('2020-01-01T00:00:00Z', 'gone@x.test', 'meeting.create', 'meeting:ext-0', 'alpha',
        NULL, '{"subject":"old"}', 'req-1', NULL);
"#,
            )
            .map_err(|e| StoreError::Sqlite {
                path: "seed".into(),
                source: e,
            })
        })
        .expect("seed rows");
}

/// SHA-256 of a file's bytes.
fn file_hash(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:x}", Sha256::digest(bytes))
}

/// The SQLite columns of `table` (every one the migration must carry).
fn sqlite_columns(store: &Store, table: &str) -> Vec<String> {
    let mut stmt = store
        .conn()
        .prepare(&format!("PRAGMA table_info({table})"))
        .expect("table_info");
    let cols = stmt
        .query_map([], |r| r.get::<_, String>(1))
        .expect("table_info rows")
        .collect::<Result<Vec<_>, _>>()
        .expect("column names");
    assert!(!cols.is_empty(), "{table} exists in the local store");
    // The server's own: every imported row starts at version 1, written by the owner (checked
    // apart below).
    cols.into_iter()
        .filter(|c| c != "version" && c != "updated_by")
        .collect()
}

/// Every row of `table` in the local store, as text, sorted.
fn sqlite_rows(store: &Store, table: &str, cols: &[String]) -> Rows {
    use rusqlite::types::ValueRef;
    let mut stmt = store
        .conn()
        .prepare(&format!("SELECT {} FROM {table}", cols.join(", ")))
        .expect("select");
    let mut rows: Rows = stmt
        .query_map([], |r| {
            (0..cols.len())
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(n) => Some(n.to_string()),
                        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                        other => panic!("{table}: unexpected value {other:?}"),
                    })
                })
                .collect::<Result<Vec<_>, rusqlite::Error>>()
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    rows.sort();
    rows
}

/// Every row of `table` in the team database (the same columns; booleans as 0/1), sorted.
fn pg_rows(owner: &PgConn, table: &str, cols: &[String]) -> Rows {
    let types: BTreeMap<String, String> = owner
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = 'tsched' AND table_name = $1",
            &[&table],
        )
        .expect("columns")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let select: Vec<String> = cols
        .iter()
        .map(|c| match types.get(c).map(String::as_str) {
            Some("boolean") => format!("{c}::int::text"),
            Some(_) => format!("{c}::text"),
            None => panic!("the team database's {table} has no column {c}"),
        })
        .collect();
    let mut rows: Rows = owner
        .query(
            &format!("SELECT {} FROM tsched.{table}", select.join(", ")),
            &[],
        )
        .expect("select")
        .iter()
        .map(|r| (0..cols.len()).map(|i| r.get(i)).collect())
        .collect();
    rows.sort();
    rows
}

/// Everything in the team database a migration could change: every table's rows, the
/// sequences and the cluster's logins with their LOGIN attribute and memberships.
fn pg_digest(cluster: &Cluster) -> String {
    let mut sql = String::new();
    for t in TABLES {
        sql.push_str(&format!(
            "SELECT '{t}', md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) \
             FROM tsched.{t} x;\n"
        ));
    }
    sql.push_str(
        "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'tsched' \
         ORDER BY 1;\n\
         SELECT r.rolname, r.rolcanlogin, coalesce(string_agg(g.rolname, ',' ORDER BY g.rolname), '') \
         FROM pg_roles r LEFT JOIN pg_auth_members m ON m.member = r.oid \
         LEFT JOIN pg_roles g ON g.oid = m.roleid \
         WHERE r.rolname NOT LIKE 'pg\\_%' GROUP BY 1, 2 ORDER BY 1;\n",
    );
    cluster.superuser_sql(DB, &sql)
}

/// A login's LOGIN attribute and its groups, as the superuser sees them.
fn login_state(cluster: &Cluster, login: &str) -> String {
    cluster
        .superuser_sql(
            "postgres",
            &format!(
                "SELECT r.rolcanlogin, coalesce(string_agg(g.rolname, ',' ORDER BY g.rolname), '') \
                 FROM pg_roles r LEFT JOIN pg_auth_members m ON m.member = r.oid \
                 LEFT JOIN pg_roles g ON g.oid = m.roleid \
                 WHERE r.rolname = {} GROUP BY r.rolcanlogin;",
                tsched_pgtest::quote_literal(login)
            ),
        )
        .trim()
        .to_string()
}

#[test]
fn a_local_store_is_copied_row_for_row_and_the_file_is_left_untouched() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    build_local(&dir);
    let db_file = tsched_core::paths::db_path(&dir);
    let before = file_hash(&db_file);

    let pg = support::postgres_store();
    let mut owner = support::owner_conn(&pg.cluster);
    let local = Store::open_in(&dir).expect("reopen the local store");
    let steps = Mutex::new(Vec::new());
    let report = postgres::migrate_from_sqlite(&local, &mut owner, &|s| {
        steps.lock().expect("steps").push(s)
    })
    .unwrap_or_else(|e| panic!("the migration into an empty store succeeds: {e}"));

    // Table by table, row by row, every column the local store has.
    for table in TABLES {
        let cols = sqlite_columns(&local, table);
        let mut want = sqlite_rows(&local, table, &cols);
        if table == "settings" {
            want.retain(|r| !postgres::LOCAL_SETTINGS.contains(&r[0].as_deref().expect("a key")));
        }
        let got = pg_rows(&owner, table, &cols);
        assert!(
            !want.is_empty(),
            "{table}: the fixture must have rows for the comparison to mean something"
        );
        assert_eq!(
            got, want,
            "{table}: the team database must hold exactly the local rows, ids and audit \
             operator/at included"
        );
        let reported = report
            .tables
            .iter()
            .find(|t| t.table == table)
            .unwrap_or_else(|| panic!("the report lists {table}"));
        assert_eq!(
            reported.rows,
            want.len() as u64,
            "{table}: the report's count is the number of rows copied"
        );
    }
    assert_eq!(
        report.tables.len(),
        TABLES.len(),
        "the report lists every table once"
    );
    assert_eq!(
        report.skipped_settings,
        vec![
            "cli.session".to_string(),
            "sandbox.embedded_url".to_string()
        ],
        "the workstation's own settings stay on it, and the report says so"
    );
    assert!(
        report.rows_spot_checked >= 2 * (TABLES.len() as u64 - 1),
        "the first and last row of every table were checked field by field ({})",
        report.rows_spot_checked
    );
    let steps = steps.into_inner().expect("steps");
    assert_eq!(steps.first(), Some(&Step::Checked), "checking comes first");
    assert_eq!(steps.last(), Some(&Step::Verified), "verified last");
    assert!(
        steps.contains(&Step::Copied {
            table: "audit_log",
            rows: report
                .tables
                .iter()
                .find(|t| t.table == "audit_log")
                .expect("audit_log")
                .rows
        }),
        "each table's copy is reported: {steps:?}"
    );

    // The imported audit rows kept their recorded operator and time (the server's stamp was
    // off for the import only), and the impersonated edit its real actor.
    let old = pg.cluster.superuser_sql(
        DB,
        "SELECT operator || ' ' || at FROM tsched.audit_log WHERE action = 'meeting.create';\n\
             SELECT count(*) FROM tsched.audit_log WHERE real_actor LIKE 'local:%';",
    );
    assert_eq!(
        old.lines().collect::<Vec<_>>(),
        vec!["gone@x.test 2020-01-01T00:00:00Z", "1"],
        "an imported audit row keeps who and when, and who really acted"
    );

    // Logins: made as the roster functions make them.
    let mut created = report.logins_created.clone();
    created.sort();
    assert_eq!(
        created,
        vec![
            "admin@x.test",
            "coord@x.test",
            "old@x.test",
            "sup@x.test",
            "track.lead@x.test"
        ],
        "every operator's login (the UPN in lower case) was created"
    );
    assert!(report.logins_adopted.is_empty(), "no login existed before");
    assert_eq!(
        login_state(&pg.cluster, "admin@x.test"),
        "t|tsched_global_admin,tsched_operator",
        "the global admin's login may log in and holds its groups"
    );
    assert_eq!(
        login_state(&pg.cluster, "track.lead@x.test"),
        "t|tsched_operator,tsched_track_admin",
        "a track admin's login, lower-cased, holds its groups"
    );
    assert_eq!(
        login_state(&pg.cluster, "old@x.test"),
        "f|",
        "an inactive operator's login is NOLOGIN and in no group"
    );

    // The team works on the copy: the admin (given a password by the DBA) inserts a program and
    // an audit row; ids continue after the imported ones, and the server stamps the audit row
    // again.
    pg.cluster.superuser_sql(
        "postgres",
        "ALTER ROLE \"admin@x.test\" PASSWORD 'admin-pw-1';",
    );
    let out = pg.cluster.psql_as(
        ADMIN,
        "admin-pw-1",
        DB,
        "INSERT INTO tsched.programs (code, name, created_at, updated_at) \
         VALUES ('gamma', 'Gamma', '2027-06-01T00:00:00Z', '2027-06-01T00:00:00Z') RETURNING id;\n\
         INSERT INTO tsched.audit_log (at, operator, action, target) \
         VALUES ('1999-01-01T00:00:00Z', 'forged@x.test', 'program.create', 'program:gamma');\n\
         SELECT id, operator, at <> '1999-01-01T00:00:00Z' FROM tsched.audit_log \
         ORDER BY id DESC LIMIT 1;",
    );
    assert!(out.success, "the migrated admin works: {}", out.stderr);
    let max_audit: i64 = local
        .conn()
        .query_row("SELECT max(id) FROM audit_log", [], |r| r.get(0))
        .expect("max audit id");
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        vec!["3".to_string(), format!("{}|admin@x.test|t", max_audit + 1)],
        "new ids follow the imported ones (sequences moved), and the audit stamp is back on"
    );
    let updated_by = pg.cluster.superuser_sql(
        DB,
        "SELECT DISTINCT version || ' ' || updated_by FROM ( \
         SELECT version, updated_by FROM tsched.meetings UNION ALL \
         SELECT version, updated_by FROM tsched.programs WHERE code <> 'gamma') x;",
    );
    assert_eq!(
        updated_by.trim(),
        format!("1 {}", support::OWNER),
        "imported rows start at version 1, written by the owner"
    );

    // A second migration into the now non-empty store is refused and changes nothing.
    let digest = pg_digest(&pg.cluster);
    let err = postgres::migrate_from_sqlite(&local, &mut owner, &|_| {})
        .expect_err("a second migration must be refused");
    let msg = err.to_string();
    assert!(
        msg.contains("not empty")
            && msg.contains("programs: 3 rows")
            && msg.contains("operators: 5 rows"),
        "the refusal names what is there: {msg}"
    );
    assert!(
        msg.contains("nothing was changed"),
        "the refusal says nothing changed: {msg}"
    );
    assert_eq!(
        pg_digest(&pg.cluster),
        digest,
        "a refused migration changes no row, sequence or login"
    );

    drop(local);
    assert_eq!(
        file_hash(&db_file),
        before,
        "the local file's bytes are unchanged by the migration"
    );
}

#[test]
fn a_migration_that_fails_half_way_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    build_local(&dir);

    let pg = support::postgres_store();
    // The DBA made a powerful role with an operator's name: the roster functions refuse to
    // adopt it, so the migration stops at the logins, after every table was copied.
    pg.cluster.superuser_sql(
        "postgres",
        "CREATE ROLE \"coord@x.test\" LOGIN CREATEDB PASSWORD 'x';",
    );
    let before = pg_digest(&pg.cluster);
    let mut owner = support::owner_conn(&pg.cluster);
    let local = Store::open_in(&dir).expect("reopen the local store");
    let err = postgres::migrate_from_sqlite(&local, &mut owner, &|_| {})
        .expect_err("a powerful role cannot become an operator's login");
    let msg = err.to_string();
    assert!(
        msg.contains("coord@x.test") && msg.contains("powers of its own"),
        "the error names the login and why: {msg}"
    );
    assert_eq!(
        pg_digest(&pg.cluster),
        before,
        "one transaction: no table row, sequence or login is left behind"
    );
    assert_eq!(
        login_state(&pg.cluster, "admin@x.test"),
        "",
        "the logins made before the failure were rolled back with it"
    );

    pg.cluster
        .superuser_sql("postgres", "DROP ROLE \"coord@x.test\";");
    let before = pg_digest(&pg.cluster);

    // A local store whose derived counts disagree with its items fails the verification, which
    // runs before the commit: nothing is written either.
    let mut local = local;
    local
        .write_sql(|c| -> Result<(), StoreError> {
            c.execute_batch("UPDATE batch_item_counts SET n = 5 WHERE batch_id = 7;")
                .map_err(|e| StoreError::Sqlite {
                    path: "corrupt".into(),
                    source: e,
                })
        })
        .expect("corrupt the local counts");
    let err = postgres::migrate_from_sqlite(&local, &mut owner, &|_| {})
        .expect_err("counts that disagree with the items must fail the verification");
    assert!(
        err.to_string()
            .contains("verification failed: batch_item_counts row batch_id=7"),
        "the error names the table and row that disagree: {err}"
    );
    assert_eq!(
        pg_digest(&pg.cluster),
        before,
        "a failed verification leaves nothing behind"
    );
    local
        .write_sql(|c| -> Result<(), StoreError> {
            c.execute_batch("UPDATE batch_item_counts SET n = 1 WHERE batch_id = 7;")
                .map_err(|e| StoreError::Sqlite {
                    path: "repair".into(),
                    source: e,
                })
        })
        .expect("repair the local counts");

    // And the same database takes the copy once both are fixed; a plain login that already
    // exists with an operator's name is adopted, as the roster functions adopt it.
    pg.cluster.create_login("sup@x.test", "sup-pw-1");
    let report = postgres::migrate_from_sqlite(&local, &mut owner, &|_| {})
        .unwrap_or_else(|e| panic!("after the fixes the migration succeeds: {e}"));
    assert_eq!(
        report.logins_adopted,
        vec!["sup@x.test".to_string()],
        "the existing plain login is adopted, and the report says so"
    );
    assert_eq!(
        report.logins_created.len(),
        4,
        "every other operator's login is made on the retry"
    );
    assert_eq!(
        login_state(&pg.cluster, "sup@x.test"),
        "t|tsched_operator,tsched_support",
        "the adopted login holds the groups of its operator's roles"
    );
}

#[test]
fn only_the_database_owner_may_migrate_and_only_from_sqlite() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    build_local(&dir);
    let pg = support::postgres_store();
    let local = Store::open_in(&dir).expect("reopen the local store");

    // Another login, even one that could connect, is not the owner.
    pg.cluster.create_login("stranger", "stranger-pw");
    pg.cluster
        .superuser_sql(DB, "GRANT CONNECT ON DATABASE tsched TO stranger;");
    let cfg =
        postgres::PgConfig::parse(&pg.cluster.url("stranger", "stranger-pw", DB, "verify-full"))
            .expect("url")
            .with_ca_file(pg.cluster.ca_file());
    let mut stranger = PgConn::connect(
        &cfg,
        Some(&tsched_core::secret::Sensitive::new(
            "stranger-pw".to_string(),
        )),
    )
    .expect("the stranger connects");
    let before = pg_digest(&pg.cluster);
    let err = postgres::migrate_from_sqlite(&local, &mut stranger, &|_| {})
        .expect_err("only the owner may migrate");
    assert!(
        err.to_string()
            .contains("runs as the owner of database tsched"),
        "the refusal says who may: {err}"
    );
    assert_eq!(
        pg_digest(&pg.cluster),
        before,
        "the refusal changes nothing"
    );

    // A database without a team store (no store init ran) is refused as such.
    pg.cluster.create_database("bare", Some(support::OWNER));
    let mut bare = support::owner_conn_to(&pg.cluster, "bare");
    let err = postgres::migrate_from_sqlite(&local, &mut bare, &|_| {})
        .expect_err("a database without the schema is refused");
    assert!(
        matches!(
            err,
            StoreError::PgSchema {
                found: None,
                supported: 1,
                ..
            }
        ),
        "the refusal says the store is not set up: {err:?}"
    );

    // A team store is not a local store to copy from.
    let mut owner = support::owner_conn(&pg.cluster);
    let err = postgres::migrate_from_sqlite(&pg.store, &mut owner, &|_| {})
        .expect_err("the source must be a SQLite store");
    assert!(
        err.to_string()
            .contains("copies from the local SQLite store"),
        "the refusal says what the source must be: {err}"
    );
}
