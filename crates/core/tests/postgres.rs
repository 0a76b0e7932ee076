//! The team store's connection layer against a real PostgreSQL 15 server (a throwaway cluster
//! from `tsched-pgtest`, TLS on): connecting under each `sslmode`, every refusal as a clear
//! one-line error naming the fix, transactions, the schema-version check, and use from plain
//! threads and from inside both kinds of tokio runtime.
//!
//! Most tests share one cluster while they overlap (each uses its own login and database); the
//! ones that change the server (TLS off) start their own.

use std::sync::{Arc, Mutex, Weak};

use tsched_core::secret::Sensitive;
use tsched_core::store::postgres::{check_schema, PgConfig, PgConn, SslMode, TlsProblem};
use tsched_core::store::StoreError;
use tsched_pgtest::Cluster;

/// Never to be seen in any message.
const PASSWORD: &str = "Sentinel-Pw-7f3a9c";

fn shared() -> Arc<Cluster> {
    static SLOT: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());
    let mut slot = SLOT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = slot.upgrade() {
        return c;
    }
    let c = Arc::new(Cluster::start());
    *slot = Arc::downgrade(&c);
    c
}

/// A login `<tag>@contoso.com` (password [`PASSWORD`]) owning a database `<tag>`.
fn login_and_db(c: &Cluster, tag: &str) -> (String, String) {
    let login = format!("{tag}@contoso.com");
    c.create_login(&login, PASSWORD);
    let db = c.create_database(tag, Some(&login));
    (login, db)
}

fn pw() -> Sensitive<String> {
    Sensitive::new(PASSWORD.to_string())
}

fn verify_full(c: &Cluster, login: &str, db: &str) -> PgConfig {
    // The URL carries no password: it is given separately.
    let url = format!(
        "postgres://{}@{}:{}/{db}?sslmode=verify-full",
        login.replace('@', "%40"),
        c.host(),
        c.port()
    );
    PgConfig::parse(&url)
        .expect("a valid URL")
        .with_ca_file(c.ca_file())
}

fn connect_err(cfg: &PgConfig, password: Option<&Sensitive<String>>) -> StoreError {
    match PgConn::connect(cfg, password) {
        Ok(conn) => panic!("connecting must fail, but connected: {conn:?}"),
        Err(e) => e,
    }
}

/// The checks every error must pass: one line, and never the password.
fn assert_clear(e: &StoreError) -> String {
    let msg = e.to_string();
    let debug = format!("{e:?}");
    assert!(
        !msg.contains(PASSWORD) && !debug.contains(PASSWORD),
        "an error must never show the password: {msg} / {debug}"
    );
    assert!(!msg.contains('\n'), "errors are one line: {msg:?}");
    msg
}

/// Connects with `cfg` (and the login's password), which must be refused for TLS: the problem
/// and the message (checked by [`assert_clear`]).
fn tls_refusal(cfg: &PgConfig) -> (TlsProblem, String) {
    let e = connect_err(cfg, Some(&pw()));
    let msg = assert_clear(&e);
    match e {
        StoreError::PgTls { reason, .. } => (reason, msg),
        other => panic!("must be refused as a TLS problem, got {other:?}"),
    }
}

#[test]
fn verify_full_with_the_clusters_ca_connects_over_tls_as_the_login() {
    let c = shared();
    let (login, db) = login_and_db(&c, "vf");
    let cfg = verify_full(&c, &login, &db);
    let conn = PgConn::connect(&cfg, Some(&pw())).expect("verify-full with the CA connects");
    let row = conn
        .query_one(
            "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .expect("query");
    assert_eq!(
        row.get::<_, String>(0),
        login,
        "the session acts as the login"
    );
    assert!(row.get::<_, bool>(1), "the session is encrypted");
    let shown = format!("{conn:?} {cfg:?} {cfg}");
    assert!(
        !shown.contains(PASSWORD),
        "Debug/Display of the connection and config never show the password: {shown}"
    );
    assert_eq!(conn.login(), login, "login() is the config's user");
}

#[test]
fn statements_and_transactions_commit_all_or_nothing() {
    let c = shared();
    let (login, db) = login_and_db(&c, "tx");
    let mut conn = PgConn::connect(&verify_full(&c, &login, &db), Some(&pw())).expect("connect");
    conn.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL)")
        .expect("create");
    let n = conn
        .execute("INSERT INTO t VALUES ($1, $2)", &[&1_i64, &"one"])
        .expect("insert");
    assert_eq!(n, 1, "execute returns the rows changed");

    let written: i64 = conn
        .write(|tx| -> Result<i64, StoreError> {
            tx.execute("INSERT INTO t VALUES ($1, $2)", &[&2_i64, &"two"])?;
            tx.execute("INSERT INTO t VALUES ($1, $2)", &[&3_i64, &"three"])?;
            Ok(tx.query_one("SELECT count(*) FROM t", &[])?.get(0))
        })
        .expect("commit");
    assert_eq!(written, 3, "the transaction sees its own rows");

    let err = conn
        .write(|tx| -> Result<(), StoreError> {
            tx.execute("INSERT INTO t VALUES ($1, $2)", &[&4_i64, &"four"])?;
            tx.execute("INSERT INTO t VALUES ($1, $2)", &[&1_i64, &"dup"])?;
            Ok(())
        })
        .expect_err("a duplicate key fails the transaction");
    match &err {
        StoreError::Pg {
            sqlstate,
            constraint,
            ..
        } => {
            assert_eq!(
                sqlstate.as_deref(),
                Some("23505"),
                "a unique violation keeps its SQLSTATE for the table code"
            );
            assert_eq!(constraint.as_deref(), Some("t_pkey"), "and its constraint");
        }
        other => panic!("a unique violation is a Pg error: {other:?}"),
    }

    // A statement failed but the closure swallowed it and said Ok: nothing may be written.
    let swallowed = conn.write(|tx| -> Result<(), StoreError> {
        tx.execute("INSERT INTO t VALUES ($1, $2)", &[&5_i64, &"five"])?;
        let _ = tx.execute("INSERT INTO t VALUES ($1, $2)", &[&1_i64, &"dup"]);
        Ok(())
    });
    let e = swallowed.expect_err("a swallowed failure must not report success");
    assert!(
        e.to_string().contains("nothing was written"),
        "says so: {e}"
    );

    // A panic inside rolls back too, and the connection stays usable.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = conn.write(|tx| -> Result<(), StoreError> {
            tx.execute("INSERT INTO t VALUES ($1, $2)", &[&6_i64, &"six"])?;
            panic!("boom inside a transaction");
        });
    }));
    assert!(panicked.is_err(), "the panic propagates");

    let ids: Vec<i64> = conn
        .query("SELECT id FROM t ORDER BY id", &[])
        .expect("read back")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ids,
        vec![1, 2, 3],
        "only the committed rows remain: rollback on error, swallowed error and panic"
    );
    assert!(
        conn.query_opt("SELECT id FROM t WHERE id = $1", &[&9_i64])
            .expect("query_opt")
            .is_none(),
        "query_opt gives None for no row"
    );
}

/// Connects and queries from inside an async task, as the batch executor would.
async fn use_inside_a_runtime(tag: &str) {
    let c = shared();
    let (login, db) = login_and_db(&c, tag);
    let mut conn = PgConn::connect(&verify_full(&c, &login, &db), Some(&pw())).expect("connect");
    conn.write(|tx| -> Result<(), StoreError> {
        tx.batch_execute("CREATE TABLE r (x int)")?;
        tx.execute("INSERT INTO r VALUES (7)", &[])?;
        Ok(())
    })
    .expect("a transaction inside a runtime");
    // Yield to the runtime between calls: the connection's own thread is not the runtime's.
    tokio::task::yield_now().await;
    let x: i32 = conn
        .query_one("SELECT x FROM r", &[])
        .expect("query inside a runtime")
        .get(0);
    assert_eq!(x, 7, "the blocking call works inside a tokio runtime");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_inside_a_multi_thread_tokio_runtime() {
    use_inside_a_runtime("rt_multi").await;
}

#[tokio::test(flavor = "current_thread")]
async fn works_inside_a_current_thread_tokio_runtime() {
    use_inside_a_runtime("rt_current").await;
}

#[test]
fn require_encrypts_without_checking_the_certificate() {
    let c = shared();
    let (login, db) = login_and_db(&c, "req");
    let cfg = PgConfig::parse(&c.url(&login, PASSWORD, &db, "require")).expect("url");
    // The password is taken from the URL when none is given separately.
    let conn = PgConn::connect(&cfg, None).expect("require needs no CA file");
    let ssl: bool = conn
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .expect("query")
        .get(0);
    assert!(ssl, "require still encrypts");
}

#[test]
fn a_separate_password_wins_over_a_wrong_one_in_the_url() {
    let c = shared();
    let (login, db) = login_and_db(&c, "sep");
    let cfg = PgConfig::parse(&c.url(&login, "wrong-in-url", &db, "verify-full"))
        .expect("url")
        .with_ca_file(c.ca_file());
    PgConn::connect(&cfg, Some(&pw())).expect("the separate password is used");
    let e = connect_err(&cfg, None);
    assert!(
        matches!(e, StoreError::PgAuthFailed { .. }),
        "without it the URL's wrong password is tried: {e}"
    );
}

#[test]
fn verify_full_without_the_ca_says_the_certificate_is_untrusted() {
    let c = shared();
    let (login, db) = login_and_db(&c, "untrusted");
    let cfg = PgConfig::parse(&c.url(&login, "", &db, "verify-full")).expect("url");
    let (reason, msg) = tls_refusal(&cfg);
    assert!(
        matches!(reason, TlsProblem::Untrusted { .. }),
        "an unknown CA is 'untrusted': {reason:?}"
    );
    assert!(
        msg.contains("sslrootcert") && msg.contains("verify-full"),
        "the message names the CA file option and the mode: {msg}"
    );
}

#[test]
fn verify_full_with_the_wrong_host_name_says_so() {
    let c = shared();
    let (login, db) = login_and_db(&c, "wronghost");
    // The certificate is for 127.0.0.1 and localhost; reach the same server under another name.
    let url = format!(
        "postgres://{}@db.wrong.example:{}/{db}?hostaddr=127.0.0.1",
        login.replace('@', "%40"),
        c.port()
    );
    let cfg = PgConfig::parse(&url)
        .expect("url")
        .with_ca_file(c.ca_file());
    let (reason, msg) = tls_refusal(&cfg);
    assert!(
        matches!(reason, TlsProblem::WrongHost { .. }),
        "a certificate for another name is 'wrong host': {reason:?}"
    );
    assert!(
        msg.contains("db.wrong.example"),
        "the message names the host checked: {msg}"
    );
}

#[test]
fn disable_against_a_tls_only_login_is_refused_clearly() {
    let c = shared();
    let (login, db) = login_and_db(&c, "tlsonly");
    c.add_hba_rule_first(&format!("hostnossl all \"{login}\" 127.0.0.1/32 reject"));
    let cfg = PgConfig::parse(&c.url(&login, "", &db, "disable")).expect("url");
    assert_eq!(cfg.sslmode, SslMode::Disable, "parsed");
    let (reason, msg) = tls_refusal(&cfg);
    assert!(
        matches!(reason, TlsProblem::ServerRequiresTls),
        "a hostssl-only login under disable: {reason:?}"
    );
    assert!(msg.contains("sslmode=verify-full"), "names the fix: {msg}");
}

#[test]
fn a_server_without_tls_is_refused_under_require_and_verify_full() {
    let c = Cluster::start(); // its own: TLS goes off
    let (login, db) = login_and_db(&c, "notls");
    c.set_ssl(false);
    for mode in ["require", "verify-full"] {
        let cfg = PgConfig::parse(&c.url(&login, "", &db, mode))
            .expect("url")
            .with_ca_file(c.ca_file());
        let (reason, msg) = tls_refusal(&cfg);
        assert!(
            matches!(reason, TlsProblem::ServerWithoutTls { .. }),
            "{mode} against a server without TLS: {reason:?}"
        );
        assert!(
            msg.contains(&format!("sslmode={mode}")) && msg.contains("ssl = on"),
            "names the mode and the server setting: {msg}"
        );
    }
    let plain = PgConfig::parse(&c.url(&login, "", &db, "disable")).expect("url");
    PgConn::connect(&plain, Some(&pw())).expect("disable still connects to it");
}

#[test]
fn a_server_that_is_down_is_unreachable() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let cfg = PgConfig::parse(&format!("postgres://a@127.0.0.1:{port}/db")).expect("url");
    let e = connect_err(&cfg, Some(&pw()));
    let msg = assert_clear(&e);
    assert!(
        matches!(e, StoreError::PgUnreachable { .. }),
        "nothing listening: {e:?}"
    );
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("is the server running"),
        "names the address and asks the question: {msg}"
    );
}

#[test]
fn a_connection_the_server_ended_is_lost_and_stays_so() {
    let c = shared();
    let (login, db) = login_and_db(&c, "lost");
    let conn = PgConn::connect(&verify_full(&c, &login, &db), Some(&pw())).expect("connect");
    c.superuser_sql(
        "postgres",
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{login}'"
        ),
    );
    let e = conn
        .query("SELECT 1", &[])
        .expect_err("the server ended the session");
    let msg = assert_clear(&e);
    assert!(
        matches!(e, StoreError::PgConnectionLost { .. }),
        "a terminated session is a lost connection: {e:?}"
    );
    assert!(msg.contains("try again"), "says what to do: {msg}");
    // Every later call says the same, not a panic.
    let again = conn.query("SELECT 1", &[]).expect_err("still closed");
    assert!(
        matches!(again, StoreError::PgConnectionLost { .. }),
        "later calls too: {again:?}"
    );
    assert!(conn.is_closed(), "is_closed reports it");
}

#[test]
fn a_wrong_password_names_the_login_and_never_the_password() {
    let c = shared();
    let (login, db) = login_and_db(&c, "wrongpw");
    let cfg = verify_full(&c, &login, &db);
    let wrong = Sensitive::new(format!("{PASSWORD}-but-wrong"));
    let e = connect_err(&cfg, Some(&wrong));
    let msg = assert_clear(&e);
    assert!(
        matches!(e, StoreError::PgAuthFailed { .. }),
        "wrong password: {e:?}"
    );
    assert!(
        msg.contains(&login) && msg.contains("check the password"),
        "names the login and the fix: {msg}"
    );
}

#[test]
fn an_unknown_database_is_named() {
    let c = shared();
    let (login, _db) = login_and_db(&c, "nodb");
    let cfg = verify_full(&c, &login, "no_such_db");
    let e = connect_err(&cfg, Some(&pw()));
    let msg = assert_clear(&e);
    assert!(
        matches!(e, StoreError::PgUnknownDatabase { .. }),
        "unknown database: {e:?}"
    );
    assert!(
        msg.contains("no_such_db") && msg.contains("database name"),
        "names the database and the fix: {msg}"
    );
}

#[test]
fn a_missing_grant_is_denied_with_who_to_ask() {
    let c = shared();
    let login = "nogrant@contoso.com";
    c.create_login(login, PASSWORD);
    let db = c.create_database("nogrant", None);
    c.superuser_sql(
        &db,
        "CREATE TABLE secrets (x int); INSERT INTO secrets VALUES (1);",
    );
    let conn = PgConn::connect(&verify_full(&c, login, &db), Some(&pw())).expect("connect");
    let e = conn
        .query("SELECT x FROM secrets", &[])
        .expect_err("no SELECT grant");
    let msg = assert_clear(&e);
    assert!(
        matches!(e, StoreError::PgDenied { .. }),
        "SQLSTATE 42501 is Denied: {e:?}"
    );
    assert!(
        msg.contains(login) && msg.contains("secrets") && msg.contains("ask a global admin"),
        "names the login, what was refused and who to ask: {msg}"
    );
    let err = tsched_core::error::Error::from(e);
    assert_eq!(
        err.code(),
        tsched_core::error::ErrorCode::Denied,
        "front ends see the denied code"
    );
}

#[test]
fn the_schema_version_must_match() {
    let c = shared();
    let (login, db) = login_and_db(&c, "schema");
    let conn = PgConn::connect(&verify_full(&c, &login, &db), Some(&pw())).expect("connect");
    let e = check_schema(&conn, 3).expect_err("no tsched_meta yet");
    assert!(
        matches!(e, StoreError::PgSchema { found: None, .. }),
        "a database without tsched_meta is not set up: {e:?}"
    );
    assert!(assert_clear(&e).contains("not set up"), "says so: {e}");

    conn.batch_execute(
        "CREATE TABLE tsched_meta (schema_version integer NOT NULL);
         INSERT INTO tsched_meta VALUES (3);",
    )
    .expect("meta");
    check_schema(&conn, 3).expect("the same version is accepted");
    let old = check_schema(&conn, 4).expect_err("this app needs 4");
    assert!(
        assert_clear(&old).contains("older than this app's 4"),
        "too old: {old}"
    );
    let new = check_schema(&conn, 2).expect_err("this app knows up to 2");
    assert!(
        assert_clear(&new).contains("upgrade the app"),
        "too new: {new}"
    );
}

#[test]
fn errors_map_to_codes_front_ends_understand() {
    use tsched_core::error::{Error, ErrorCode};
    let code = |e: StoreError| Error::from(e).code();
    assert_eq!(
        code(StoreError::PgSchema {
            database: "d".into(),
            found: Some(9),
            supported: 1
        }),
        ErrorCode::StoreUnusable,
        "a schema mismatch makes the store unusable"
    );
    assert_eq!(
        code(StoreError::PgUnreachable {
            address: "h:1".into(),
            detail: "refused".into()
        }),
        ErrorCode::StoreUnavailable,
        "an unreachable server makes the store unavailable"
    );
}

/// A `MakeWriter` collecting log lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_password_never_reaches_the_log() {
    let c = shared();
    let (login, db) = login_and_db(&c, "logs");
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // The global subscriber, not a scoped one: a scoped one sees only this thread, and a
    // callsite another test thread met first may have cached "no interest" (the CI run missed
    // the connection's line that way). The other tests' lines come in too; none may hold the
    // password either. Only this test sets it.
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    tracing::callsite::rebuild_interest_cache();
    {
        // The password in the URL and separately; success and failure.
        let cfg = PgConfig::parse(&c.url(&login, PASSWORD, &db, "verify-full"))
            .expect("url")
            .with_ca_file(c.ca_file());
        let conn = PgConn::connect(&cfg, Some(&pw())).expect("connect");
        let _ = conn.query("SELECT 1", &[]);
        drop(conn);
        let _ = PgConn::connect(&cfg, Some(&Sensitive::new("wrong".to_string())));
        let _ = PgConn::connect(&cfg.clone().with_sslmode(SslMode::Disable), None);
    }
    let text =
        String::from_utf8_lossy(&logs.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(
        text.contains("connected to the team database"),
        "the capture sees the connection's log: {text}"
    );
    assert!(
        !text.contains(PASSWORD),
        "the password must never be logged: {text}"
    );
}
