//! [`PgConn`]: one blocking connection to the team database, usable from plain threads and
//! from inside any tokio runtime.
//!
//! Why this shape: the store's API is synchronous and is called from inside tokio runtimes (the
//! batch executor is async), so the sync `postgres` crate, which `block_on`s a runtime of its own
//! and panics inside another, cannot be used. Instead a dedicated thread runs a small
//! current-thread runtime that drives the `tokio_postgres::Connection` (the socket and TLS); a
//! statement's future only talks to that thread over channels, so the caller waits for it with a
//! runtime-agnostic park/unpark loop ([`wait`]). Blocking a runtime's worker this way is what any
//! synchronous store call does; it never nests runtimes.
//!
//! Owns connecting, statements, transactions and the schema-version check; not the schema
//! itself (the PostgreSQL backend's migrations) and no table's SQL.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Row, Socket, Statement};

use super::config::PgConfig;
use super::error::{classify, one_line, Phase};
use crate::secret::Sensitive;
use crate::store::StoreError;

/// How long dropping a connection waits for its thread to say goodbye to the server.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// At most this many statements stay prepared per session (the store's SQL is a few dozen
/// fixed texts plus the list pages' combinations; past the cap a text runs unprepared).
const PREPARED_CAP: usize = 256;

/// Session settings sent when connecting. Statements are kept prepared (one round trip each
/// instead of two), and `force_custom_plan` keeps what the unprepared path did: every execution
/// is planned for its own parameter values (a program filter's real row count), never a
/// generic plan.
const SESSION_OPTIONS: &str = "-c plan_cache_mode=force_custom_plan";

/// The application name the server shows in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "teams-scheduler";

/// Waits for a future on the calling thread, whatever runtime (if any) that thread belongs to:
/// polls, then parks until woken. Only for futures that need no reactor of the caller's, such as
/// tokio-postgres's client futures (they talk over channels to the connection's own thread).
pub(super) fn wait<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        // A spurious wake-up only costs one more poll.
        std::thread::park();
    }
}

/// One connection to the team database (one server session). `Send` and `Sync`: statements
/// from several threads are pipelined on the one session; [`PgConn::write`] takes `&mut self`,
/// so nothing else can slip a statement into an open transaction.
pub struct PgConn {
    /// `Some` until drop.
    client: Option<Client>,
    cfg: PgConfig,
    /// Why the connection ended, as the driver thread saw it (the server's FATAL message).
    lost: Arc<Mutex<Option<String>>>,
    /// Signalled when the driver thread ends (in a mutex only to keep `PgConn` `Sync`).
    closed: Mutex<mpsc::Receiver<()>>,
    /// The statements prepared on this session, by their text: a statement run again skips
    /// the server's parse-and-describe round trip.
    prepared: Mutex<HashMap<String, Statement>>,
}

/// Runs `$call` with `$st` bound to `$sql`'s prepared statement (or to the text itself past the
/// cap), waiting for it on this thread; a driver error becomes a [`StoreError`].
macro_rules! with_statement {
    ($conn:expr, $sql:expr, |$st:ident| $call:expr) => {{
        let conn: &PgConn = $conn;
        let sql: &str = $sql;
        let r = match conn.prepared(sql) {
            Ok(Some(prepared)) => {
                let $st = &prepared;
                wait($call)
            }
            Ok(None) => {
                let $st = sql;
                wait($call)
            }
            Err(e) => Err(e),
        };
        r.map_err(|e| conn.failed(sql, &e))
    }};
}

impl fmt::Debug for PgConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConn")
            .field("config", &self.cfg)
            .finish_non_exhaustive()
    }
}

type Connected = Result<Client, tokio_postgres::Error>;

/// The driver thread's body: connects, hands the client back, then drives the connection until
/// the client is dropped or the server goes away.
async fn drive<T>(
    pg: tokio_postgres::Config,
    tls: T,
    ready: mpsc::SyncSender<Connected>,
    lost: Arc<Mutex<Option<String>>>,
) where
    T: MakeTlsConnect<Socket>,
{
    match pg.connect(tls).await {
        Err(e) => {
            let _ = ready.send(Err(e));
        }
        Ok((client, connection)) => {
            if ready.send(Ok(client)).is_err() {
                return;
            }
            if let Err(e) = connection.await {
                let why = match e.as_db_error() {
                    Some(db) => one_line(db.message()),
                    None => one_line(&e.to_string()),
                };
                *lost.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
            }
        }
    }
}

impl PgConn {
    /// Connects and logs in. `password` wins over a password written in the URL (the config's);
    /// neither ever appears in an error, `Debug` or log. Blocks until connected or refused (at
    /// most the config's `connect_timeout` for each step).
    pub fn connect(
        cfg: &PgConfig,
        password: Option<&Sensitive<String>>,
    ) -> Result<PgConn, StoreError> {
        let mut pg = tokio_postgres::Config::new();
        pg.host(&cfg.host)
            .port(cfg.port)
            .dbname(&cfg.dbname)
            .user(&cfg.user)
            .application_name(APPLICATION_NAME)
            .connect_timeout(cfg.connect_timeout)
            .options(SESSION_OPTIONS)
            .ssl_mode(match cfg.sslmode {
                super::SslMode::Disable => tokio_postgres::config::SslMode::Disable,
                _ => tokio_postgres::config::SslMode::Require,
            });
        if let Some(ip) = cfg.hostaddr {
            pg.hostaddr(ip);
        }
        if let Some(pw) = cfg.password(password) {
            pg.password(pw.expose().as_bytes());
        }
        let tls = super::tls::connector(cfg)?;

        let (ready_tx, ready_rx) = mpsc::sync_channel::<Connected>(1);
        let (closed_tx, closed_rx) = mpsc::channel::<()>();
        let lost = Arc::new(Mutex::new(None));
        let lost_in_driver = lost.clone();
        let spawned = std::thread::Builder::new()
            .name("tsched-pg".to_string())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        *lost_in_driver.lock().unwrap_or_else(|p| p.into_inner()) =
                            Some(format!("cannot start the connection's runtime: {e}"));
                        return; // ready_tx dropped: connect() reports it
                    }
                };
                match tls {
                    None => runtime.block_on(drive(pg, NoTls, ready_tx, lost_in_driver)),
                    Some(tls) => runtime.block_on(drive(pg, tls, ready_tx, lost_in_driver)),
                }
                let _ = closed_tx.send(());
            });
        if let Err(e) = spawned {
            return Err(StoreError::PgUnreachable {
                address: cfg.address(),
                detail: format!("cannot start the connection's thread: {e}"),
            });
        }
        let client = match ready_rx.recv() {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(classify(cfg, Phase::Connect, &e, None)),
            Err(_) => {
                let why = lost.lock().unwrap_or_else(|p| p.into_inner()).take();
                return Err(StoreError::PgUnreachable {
                    address: cfg.address(),
                    detail: why.unwrap_or_else(|| "the connection's thread ended".to_string()),
                });
            }
        };
        tracing::debug!(database = %cfg, "connected to the team database");
        Ok(PgConn {
            client: Some(client),
            cfg: cfg.clone(),
            lost,
            closed: Mutex::new(closed_rx),
            prepared: Mutex::new(HashMap::new()),
        })
    }

    /// `sql`'s statement prepared on this session (prepared now if new), or `None` when the
    /// cache is full (the caller runs the text unprepared).
    fn prepared(&self, sql: &str) -> Result<Option<Statement>, tokio_postgres::Error> {
        {
            let cache = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(st) = cache.get(sql) {
                return Ok(Some(st.clone()));
            }
            if cache.len() >= PREPARED_CAP {
                return Ok(None);
            }
        }
        let st = wait(self.client().prepare(sql))?;
        let mut cache = self.prepared.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Some(cache.entry(sql.to_string()).or_insert(st).clone()))
    }

    /// Maps a statement's error, forgetting its prepared form when the server no longer takes
    /// it (a table changed under it, or the statement is gone), so the next call prepares anew.
    fn failed(&self, sql: &str, e: &tokio_postgres::Error) -> StoreError {
        use tokio_postgres::error::SqlState;
        if let Some(code) = e.code() {
            if *code == SqlState::FEATURE_NOT_SUPPORTED
                || *code == SqlState::INVALID_SQL_STATEMENT_NAME
            {
                self.prepared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(sql);
            }
        }
        self.err(e)
    }

    fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("invariant: the client lives until drop")
    }

    /// The configuration this connection was made with (no password in it is ever shown).
    pub fn config(&self) -> &PgConfig {
        &self.cfg
    }

    /// The login this connection acts as (`current_user` at the server).
    pub fn login(&self) -> &str {
        &self.cfg.user
    }

    /// Whether the connection has ended (the server went away or closed it).
    pub fn is_closed(&self) -> bool {
        self.client().is_closed()
    }

    /// Maps a tokio-postgres error met with this connection (e.g. from `Row::try_get`) to a
    /// [`StoreError`].
    pub fn err(&self, e: &tokio_postgres::Error) -> StoreError {
        let lost = if e.is_closed() {
            self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone()
        } else {
            None
        };
        classify(&self.cfg, Phase::Use, e, lost)
    }

    /// Runs one statement with `$1…` parameters and returns its rows.
    pub fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        with_statement!(self, sql, |st| self.client().query(st, params))
    }

    /// Runs one statement expected to return at most one row.
    pub fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        with_statement!(self, sql, |st| self.client().query_opt(st, params))
    }

    /// Runs one statement whose parameters come with their types: one round trip, where
    /// [`PgConn::query`] first asks the server for the statement's types (a page with its
    /// lookups pays that wait per statement).
    pub fn query_typed(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, StoreError> {
        wait(self.client().query_typed(sql, params)).map_err(|e| self.err(&e))
    }

    /// Runs one statement expected to return exactly one row.
    pub fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, StoreError> {
        with_statement!(self, sql, |st| self.client().query_one(st, params))
    }

    /// Runs one statement and returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        with_statement!(self, sql, |st| self.client().execute(st, params))
    }

    /// Runs statements separated by `;` without parameters (the simple query protocol), e.g.
    /// a migration script. Outside [`PgConn::write`] each statement commits on its own unless
    /// the script says `BEGIN`.
    pub fn batch_execute(&self, sql: &str) -> Result<(), StoreError> {
        wait(self.client().batch_execute(sql)).map_err(|e| self.err(&e))
    }

    /// Runs `f` in one transaction (`BEGIN` … `COMMIT`): everything or nothing is written. It is
    /// rolled back when `f` returns an error, when `f` panics, and when a statement inside failed
    /// even if `f` went on and returned `Ok` (PostgreSQL would turn that COMMIT into a rollback;
    /// this says so instead of reporting success).
    pub fn write<T, E>(&mut self, f: impl FnOnce(&PgTx<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn: &PgConn = self;
        conn.batch_execute("BEGIN")?;
        let mut guard = RollbackUnlessDone { conn, done: false };
        let tx = PgTx {
            conn,
            failed: Cell::new(false),
        };
        let out = f(&tx)?;
        if tx.failed.get() {
            // The guard rolls back.
            return Err(E::from(StoreError::Pg {
                message: "a statement in the transaction failed and the transaction was rolled \
                          back; nothing was written"
                    .to_string(),
                sqlstate: Some("25P02".to_string()),
                constraint: None,
            }));
        }
        guard.done = true;
        conn.batch_execute("COMMIT")?;
        Ok(out)
    }
}

/// Rolls back an open transaction when dropped undone (an error or a panic in the closure).
struct RollbackUnlessDone<'c> {
    conn: &'c PgConn,
    done: bool,
}

impl Drop for RollbackUnlessDone<'_> {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = self.conn.batch_execute("ROLLBACK") {
                tracing::warn!(error = %e, "rolling back the team database transaction failed");
            }
        }
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // Dropping the client ends the connection: its thread sends Terminate and exits. Waiting
        // (bounded) for that makes "dropped" mean "gone from the server", so a test can drop a
        // database right after, and no thread outlives its connection for long.
        drop(self.client.take());
        let closed = self.closed.lock().unwrap_or_else(|p| p.into_inner());
        let _ = closed.recv_timeout(CLOSE_WAIT);
    }
}

/// A transaction open in [`PgConn::write`]: the same statements, bound to it.
pub struct PgTx<'c> {
    conn: &'c PgConn,
    failed: Cell<bool>,
}

impl fmt::Debug for PgTx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTx")
            .field("conn", self.conn)
            .field("failed", &self.failed.get())
            .finish()
    }
}

impl PgTx<'_> {
    fn note<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if r.is_err() {
            self.failed.set(true);
        }
        r
    }

    /// The connection's configuration.
    pub fn config(&self) -> &PgConfig {
        self.conn.config()
    }

    /// The login acting.
    pub fn login(&self) -> &str {
        self.conn.login()
    }

    /// See [`PgConn::err`].
    pub fn err(&self, e: &tokio_postgres::Error) -> StoreError {
        self.conn.err(e)
    }

    /// See [`PgConn::query`].
    pub fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, StoreError> {
        self.note(self.conn.query(sql, params))
    }

    /// See [`PgConn::query_opt`].
    pub fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        self.note(self.conn.query_opt(sql, params))
    }

    /// See [`PgConn::query_typed`].
    pub fn query_typed(
        &self,
        sql: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, StoreError> {
        self.note(self.conn.query_typed(sql, params))
    }

    /// See [`PgConn::query_one`].
    pub fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, StoreError> {
        self.note(self.conn.query_one(sql, params))
    }

    /// See [`PgConn::execute`].
    pub fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        self.note(self.conn.execute(sql, params))
    }

    /// See [`PgConn::batch_execute`]; must not say `COMMIT` or `ROLLBACK`.
    pub fn batch_execute(&self, sql: &str) -> Result<(), StoreError> {
        self.note(self.conn.batch_execute(sql))
    }
}

/// Checks that the team database's schema is exactly the version this build supports, from
/// `tsched_meta(schema_version)` (one row). A database without that table is "not set up", an
/// older one is the admin's to upgrade, a newer one means this app is old. A login that may not
/// read the table gets [`StoreError::PgDenied`].
pub fn check_schema(conn: &PgConn, supported: i64) -> Result<(), StoreError> {
    let database = conn.config().dbname.clone();
    let found = match conn.query_opt("SELECT schema_version::bigint FROM tsched_meta", &[]) {
        Ok(Some(row)) => Some(row.try_get::<_, i64>(0).map_err(|e| conn.err(&e))?),
        Ok(None) => None,
        // undefined_table
        Err(StoreError::Pg {
            sqlstate: Some(code),
            ..
        }) if code == "42P01" => None,
        Err(e) => return Err(e),
    };
    if found == Some(supported) {
        return Ok(());
    }
    Err(StoreError::PgSchema {
        database,
        found,
        supported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_can_move_between_threads_and_be_shared() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<PgConn>();
    }

    #[test]
    fn wait_runs_a_future_to_completion_outside_any_runtime() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let _ = tx.send(41);
        });
        let got = wait(async { rx.await.map(|v| v + 1) });
        assert_eq!(
            got,
            Ok(42),
            "woken by another thread, wait returns the output"
        );
        t.join().expect("sender thread");
    }
}
