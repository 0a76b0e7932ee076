//! The team store's change feed against a real PostgreSQL 15 server (a throwaway cluster from
//! `tsched-pgtest`, the store made by `store init` as its owner): v1.sql's triggers notify every
//! operator's committed writes, whatever their group role, with the table's name only; the feed
//! of another operator's session sees them within a second, coalesces bursts, survives its
//! connection being killed, and ends its thread when dropped.
//!
//! Writes go through `psql` sessions of the operators' own logins, as a raw client would make
//! them: the triggers, not the app, are what notifies.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use tsched_core::secret::Sensitive;
use tsched_core::store::postgres::{
    self, ChangeFeed, FeedEvent, PgConfig, PgConn, FEED_APPLICATION_NAME,
};
use tsched_core::store::{Store, StoreError};
use tsched_pgtest::Cluster;

/// The database owner's login (CREATEROLE: `store init` creates the group roles).
const OWNER: &str = "tsched_owner";
const OWNER_PW: &str = "owner-pw-1";
const DB: &str = "tsched";
/// Every operator's password (never to be seen in a message).
const PW: &str = "Sentinel-Op-Pw-4e1d";
const ADMIN: &str = "admin@x.test";
const TRACK: &str = "track@x.test";
const COORD: &str = "coord@x.test";
const SUPPORT: &str = "support@x.test";

/// A cluster holding an initialised store with program `P1` and four operators, one per group
/// role: [`ADMIN`] (global admin), [`TRACK`] (track admin of P1), [`COORD`] (coordinator of P1)
/// and [`SUPPORT`] (support), each a login with password [`PW`].
fn team() -> Cluster {
    let cluster = Cluster::start();
    cluster.create_login(OWNER, OWNER_PW);
    cluster.superuser_sql("postgres", &format!("ALTER ROLE {OWNER} CREATEROLE;"));
    cluster.create_database(DB, Some(OWNER));
    let cfg = PgConfig::parse(&cluster.url(OWNER, OWNER_PW, DB, "verify-full"))
        .expect("the harness URL parses")
        .with_ca_file(cluster.ca_file());
    let mut owner = PgConn::connect(&cfg, Some(&Sensitive::new(OWNER_PW.to_string())))
        .expect("the owner connects");
    postgres::init(&mut owner).expect("store init");
    cluster.create_login(ADMIN, PW);
    postgres::bootstrap(&owner, ADMIN, "Admin").expect("the first global admin");
    drop(owner);
    for login in [TRACK, COORD, SUPPORT] {
        cluster.create_login(login, PW);
    }
    as_ok(
        &cluster,
        ADMIN,
        "INSERT INTO tsched.programs (code, name, created_at, updated_at) \
         VALUES ('P1', 'Program one', '2027-01-01T00:00:00Z', '2027-01-01T00:00:00Z'); \
         SELECT tsched.tsched_operator_add('track@x.test', 'Track'); \
         SELECT tsched.tsched_role_grant('track@x.test', 'track_admin', 'P1'); \
         SELECT tsched.tsched_operator_add('coord@x.test', 'Coord'); \
         SELECT tsched.tsched_role_grant('coord@x.test', 'coordinator', 'P1'); \
         SELECT tsched.tsched_operator_add('support@x.test', 'Support'); \
         SELECT tsched.tsched_role_grant('support@x.test', 'support', NULL);",
    );
    cluster
}

/// Runs `sql` in a psql session of `login`, which must succeed.
fn as_ok(cluster: &Cluster, login: &str, sql: &str) -> String {
    let out = cluster.psql_as(login, PW, DB, sql);
    assert!(
        out.success,
        "{login} may run this (the notify triggers must not stand in the way): {sql}\n{}",
        out.stderr
    );
    out.stdout
}

fn config(cluster: &Cluster, login: &str) -> PgConfig {
    // No password in the URL: it is given separately, as the app does.
    let url = format!(
        "postgres://{}@{}:{}/{DB}?sslmode=verify-full",
        login.replace('@', "%40"),
        cluster.host(),
        cluster.port()
    );
    PgConfig::parse(&url)
        .expect("a valid URL")
        .with_ca_file(cluster.ca_file())
}

fn pw() -> Sensitive<String> {
    Sensitive::new(PW.to_string())
}

/// A feed of `login`'s session whose events arrive on the returned receiver.
fn feed_as(cluster: &Cluster, login: &str) -> (ChangeFeed, Receiver<FeedEvent>) {
    let (tx, rx) = mpsc::channel();
    let feed = ChangeFeed::start(&config(cluster, login), Some(&pw()), move |e| {
        let _ = tx.send(e);
    })
    .unwrap_or_else(|e| panic!("{login}'s feed starts: {e}"));
    (feed, rx)
}

fn changed(table: &str) -> impl Fn(&FeedEvent) -> bool + '_ {
    move |e| matches!(e, FeedEvent::Changed(c) if c.table == table)
}

/// Collects events until one satisfies `want` (returned last) or `within` passes (panics,
/// naming `what` and what came instead).
fn wait_for(
    rx: &Receiver<FeedEvent>,
    within: Duration,
    what: &str,
    want: impl Fn(&FeedEvent) -> bool,
) -> Vec<FeedEvent> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) => {
                let done = want(&e);
                seen.push(e);
                if done {
                    return seen;
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!("{what} must arrive within {within:?}; got {seen:?}")
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("the feed ended while waiting for {what}; got {seen:?}")
            }
        }
    }
}

/// Everything that arrives within `d`.
fn drain_for(rx: &Receiver<FeedEvent>, d: Duration) -> Vec<FeedEvent> {
    let deadline = Instant::now() + d;
    let mut seen = Vec::new();
    while let Ok(e) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        seen.push(e);
    }
    seen
}

/// How many feed sessions `login` has at the server.
fn feed_sessions(cluster: &Cluster, login: &str) -> usize {
    cluster
        .superuser_sql(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = '{login}' \
                 AND application_name = '{FEED_APPLICATION_NAME}';"
            ),
        )
        .trim()
        .parse()
        .expect("a count")
}

#[test]
fn every_group_roles_write_reaches_another_operators_feed_within_a_second_as_a_table_name() {
    let cluster = team();
    // The support operator's feed, started through the store as the app does: the least
    // privileged role still hears about every table.
    let store = Store::open_postgres(&config(&cluster, SUPPORT), Some(&pw()))
        .expect("support opens the store");
    let (tx, rx) = mpsc::channel();
    let _feed = store
        .change_feed(Some(&pw()), move |e| {
            let _ = tx.send(e);
        })
        .expect("the feed starts")
        .expect("a shared store has a feed");

    let writes: [(&str, &str, &str); 6] = [
        (
            ADMIN,
            "programs",
            "UPDATE tsched.programs SET description = 'new' WHERE code = 'P1';",
        ),
        (
            TRACK,
            "participants",
            "INSERT INTO tsched.participants (program_id, email, added_at) \
             SELECT id, 'pat@x.test', '2027-01-02T00:00:00Z' FROM tsched.programs WHERE code = 'P1';",
        ),
        (
            TRACK,
            "program_meeting_modes",
            "INSERT INTO tsched.program_meeting_modes (program_id, mode, enabled, updated_at) \
             SELECT id, 'online', true, '2027-01-02T00:00:00Z' FROM tsched.programs WHERE code = 'P1';",
        ),
        (
            COORD,
            "meetings",
            "INSERT INTO tsched.meetings (external_id, program_id, subject, start_utc, end_utc, \
             time_zone, state, created_by, created_at, updated_at) \
             SELECT 'ext-1', id, 'Kickoff', '2027-02-01T09:00:00Z', '2027-02-01T10:00:00Z', \
             'UTC', 'pending', 'coord@x.test', '2027-01-02T00:00:00Z', '2027-01-02T00:00:00Z' \
             FROM tsched.programs WHERE code = 'P1';",
        ),
        (
            SUPPORT,
            "audit_log",
            "INSERT INTO tsched.audit_log (at, operator, action, target) \
             VALUES ('x', 'x', 'membership.check', 'someone@x.test');",
        ),
        (
            ADMIN,
            "operator_roles",
            "SELECT tsched.tsched_role_grant('support@x.test', 'coordinator', 'P1');",
        ),
    ];
    for (login, table, sql) in writes {
        as_ok(&cluster, login, sql);
        let after = Instant::now();
        let seen = wait_for(
            &rx,
            Duration::from_secs(1),
            &format!("{login}'s write to {table}"),
            changed(table),
        );
        assert!(
            after.elapsed() < Duration::from_secs(1),
            "{table}: within a second of the commit"
        );
        for e in &seen {
            match e {
                FeedEvent::Changed(c) => assert!(
                    postgres::TABLES.contains(&c.table.as_str()),
                    "a change names a table and nothing else (no row data): {c:?}"
                ),
                other => panic!("nothing but changes on a healthy connection: {other:?}"),
            }
        }
    }

    // A rolled-back write changed nothing, and the server sends nothing for it.
    as_ok(
        &cluster,
        COORD,
        "BEGIN; UPDATE tsched.meetings SET subject = 'no' WHERE external_id = 'ext-1'; ROLLBACK;",
    );
    let after_rollback = drain_for(&rx, Duration::from_millis(600));
    assert!(
        after_rollback.is_empty(),
        "a rolled-back write must not be reported: {after_rollback:?}"
    );

    // Statements that change no row send nothing (a statement-level trigger fires for them
    // too): an idle host agent's claim is an UPDATE of work_queue that finds nothing queued, and
    // it ran again at every notification, so each workstation's feed spoke four times a second.
    for (login, sql) in [
        (
            ADMIN,
            "UPDATE tsched.work_queue SET state = 'claimed' WHERE state = 'queued' AND false;",
        ),
        (
            COORD,
            "UPDATE tsched.meetings SET subject = 'none' WHERE external_id = 'no-such-meeting';",
        ),
        (
            COORD,
            "DELETE FROM tsched.meetings WHERE external_id = 'no-such-meeting';",
        ),
        (
            TRACK,
            "INSERT INTO tsched.participants (program_id, email, added_at) \
             SELECT id, 'nobody@x.test', 'x' FROM tsched.programs WHERE code = 'no-such-program';",
        ),
    ] {
        as_ok(&cluster, login, sql);
    }
    let nothing = drain_for(&rx, Duration::from_millis(600));
    assert!(
        nothing.is_empty(),
        "statements that changed no row must not be reported: {nothing:?}"
    );
    // A delete that removes a row is reported.
    as_ok(
        &cluster,
        TRACK,
        "DELETE FROM tsched.participants WHERE email = 'pat@x.test';",
    );
    wait_for(
        &rx,
        Duration::from_secs(1),
        "the track admin's delete of a participant",
        changed("participants"),
    );

    // A payload that is no table of ours (anyone may NOTIFY the channel) is not passed on.
    as_ok(
        &cluster,
        SUPPORT,
        "SELECT pg_notify('tsched_changes', 'secret-row-42');",
    );
    let foreign = drain_for(&rx, Duration::from_millis(400));
    assert!(
        foreign.is_empty(),
        "an unknown payload must not reach the UI: {foreign:?}"
    );
}

#[test]
fn a_burst_of_a_hundred_inserts_is_coalesced_to_a_few_events() {
    let cluster = team();
    let (_feed, rx) = feed_as(&cluster, COORD);
    // 100 statements, each its own transaction (psql autocommits): 100 notifications from the
    // server, which folds duplicates only within one transaction.
    let sql: String = (0..100)
        .map(|i| {
            format!(
                "INSERT INTO tsched.participants (program_id, email, added_at) \
                 SELECT id, 'p{i}@x.test', '2027-01-02T00:00:00Z' FROM tsched.programs \
                 WHERE code = 'P1';\n"
            )
        })
        .collect();
    let started = Instant::now();
    as_ok(&cluster, TRACK, &sql);
    let burst = started.elapsed();
    let events = drain_for(&rx, Duration::from_millis(1500));
    let n = events.iter().filter(|e| changed("participants")(e)).count();
    assert!(
        n >= 1,
        "the burst must be reported (psql took {burst:?}): {events:?}"
    );
    // One at once, then at most one per 250 ms window while it lasts.
    let most = 2 + (burst.as_millis() / 250) as usize;
    assert!(
        n <= most.min(10),
        "100 inserts in {burst:?} must come out as a few events, not {n}: {events:?}"
    );
    assert_eq!(
        events.len(),
        n,
        "nothing but the participants changes: {events:?}"
    );
}

#[test]
fn a_killed_feed_connection_reconnects_says_so_and_keeps_delivering() {
    let cluster = team();
    let (_feed, rx) = feed_as(&cluster, SUPPORT);
    assert_eq!(
        feed_sessions(&cluster, SUPPORT),
        1,
        "the feed holds one session of its own"
    );
    cluster.superuser_sql(
        "postgres",
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{SUPPORT}' \
             AND application_name = '{FEED_APPLICATION_NAME}';"
        ),
    );
    let seen = wait_for(
        &rx,
        Duration::from_secs(5),
        "the loss and the reconnection",
        |e| matches!(e, FeedEvent::Restored),
    );
    let lost = seen
        .iter()
        .position(|e| matches!(e, FeedEvent::Lost { .. }));
    assert_eq!(
        lost,
        Some(seen.len() - 2),
        "the loss is reported before it is restored: {seen:?}"
    );
    if let Some(FeedEvent::Lost { reason }) = lost.map(|i| &seen[i]) {
        assert!(
            reason.contains("terminat"),
            "the reason is the server's: {reason}"
        );
        assert!(!reason.contains(PW), "no password in the reason");
    }
    assert_eq!(
        feed_sessions(&cluster, SUPPORT),
        1,
        "one session again after reconnecting"
    );

    as_ok(
        &cluster,
        ADMIN,
        "UPDATE tsched.programs SET description = 'after' WHERE code = 'P1';",
    );
    wait_for(
        &rx,
        Duration::from_secs(1),
        "a write after the reconnection",
        changed("programs"),
    );
}

#[test]
fn dropping_the_feed_ends_its_thread_and_its_session() {
    let cluster = team();
    let (feed, rx) = feed_as(&cluster, COORD);
    assert_eq!(
        feed_sessions(&cluster, COORD),
        1,
        "the feed's session is there"
    );
    drop(feed);
    // The callback (and so the sender) lives in the feed's thread: a disconnected channel means
    // the thread has ended.
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(100)),
        Err(RecvTimeoutError::Disconnected),
        "dropping the feed ends its thread (the drop waits for it)"
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while feed_sessions(&cluster, COORD) > 0 {
        assert!(
            Instant::now() < deadline,
            "the feed's session must leave the server once the feed is dropped"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_feed_that_cannot_log_in_fails_to_start_without_showing_the_password() {
    let cluster = team();
    let wrong = Sensitive::new("Wrong-Pw-Sentinel-9".to_string());
    let err = ChangeFeed::start(&config(&cluster, SUPPORT), Some(&wrong), |_| {})
        .expect_err("a wrong password must be refused");
    assert!(
        matches!(err, StoreError::PgAuthFailed { .. }),
        "the same error as the store's connection: {err:?}"
    );
    assert!(
        !err.to_string().contains("Wrong-Pw-Sentinel-9"),
        "no password in the message: {err}"
    );
    let sqlite = Store::open_in_memory().expect("in-memory store");
    assert!(
        sqlite
            .change_feed(None, |_| {})
            .expect("no error for SQLite")
            .is_none(),
        "an embedded store has no other writer, so no feed"
    );
}
