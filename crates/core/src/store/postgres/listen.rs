//! [`ChangeFeed`]: which tables other sessions changed in the team database, so a workstation
//! can reload what it shows without a manual refresh.
//!
//! v1.sql's statement-level triggers `NOTIFY tsched_changes, '<table>'` on every write; this
//! module keeps one connection of its own listening on that channel and hands the tables to a
//! callback as [`FeedEvent`]s. Why its own connection: notifications arrive on the session that
//! listens, between statements, and a `LISTEN` session must be polled all the time, which the
//! store's connection ([`super::PgConn`], a blocking statement API) is not. Like `conn.rs`, a
//! dedicated thread runs a current-thread runtime; here that runtime polls the
//! `tokio_postgres::Connection` itself (`poll_message`), which is where notifications surface.
//!
//! It owns connecting and reconnecting (with backoff, reported as [`FeedEvent::Lost`] and
//! [`FeedEvent::Restored`]) and coalescing bursts ([`Coalescer`]: at most one event per table per
//! [`COALESCE`], the last one after the burst). It carries no row data (the triggers send none:
//! row-level security does not filter notifications) and does not decide what to reload.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, NoTls, Socket};

use super::config::{PgConfig, SslMode};
use super::error::{classify, one_line, Phase};
use crate::secret::Sensitive;
use crate::store::StoreError;

/// The channel v1.sql's triggers notify.
pub const CHANNEL: &str = "tsched_changes";

/// The tables whose changes the feed reports (v1.sql's `_notify` triggers). A payload that is not
/// one of them (anyone may `NOTIFY` the channel) is ignored.
pub const TABLES: [&str; 12] = [
    "programs",
    "program_meeting_modes",
    "participants",
    "operators",
    "operator_roles",
    "meetings",
    "batches",
    "batch_items",
    "integration",
    "audit_log",
    "work_queue",
    "agents",
];

/// At most one [`FeedEvent::Changed`] per table in this long; a burst ends with one more event
/// after its last notification, so the final state is always reloaded.
pub const COALESCE: Duration = Duration::from_millis(250);

/// The application name the feed's session shows in `pg_stat_activity` (beside the store's
/// `teams-scheduler`), so an admin can tell the two apart.
pub const FEED_APPLICATION_NAME: &str = "teams-scheduler-feed";

/// How long stopping waits for the server to be told goodbye.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// The longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// TCP keepalive idle time: a listening session sends nothing, so a silently dead network is
/// only noticed through keepalives (the default idle time is two hours).
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);

/// A table that another session (or this process's store) changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The table's name, one of [`TABLES`].
    pub table: String,
}

/// What the feed reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedEvent {
    /// A committed statement wrote to this table.
    Changed(Change),
    /// The feed's connection ended; changes made until [`FeedEvent::Restored`] are not reported.
    /// It reconnects on its own. `reason` is the server's or the network's one-line message.
    Lost {
        /// Why it ended.
        reason: String,
    },
    /// Listening again after [`FeedEvent::Lost`]: anything may have changed meanwhile, so treat
    /// every table as changed.
    Restored,
}

/// A running feed. Dropping it closes its connection and ends its thread (and so drops the
/// callback).
pub struct ChangeFeed {
    /// Dropped to stop the thread.
    stop: Option<watch::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed").finish_non_exhaustive()
    }
}

impl Drop for ChangeFeed {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            // The thread only awaits things it also watches the stop signal beside, so this
            // returns promptly; a panic in the callback is not ours to re-raise in a drop.
            let _ = t.join();
        }
    }
}

impl ChangeFeed {
    /// Connects as `cfg`'s login (any operator may listen), `LISTEN`s and calls `on_event` from
    /// the feed's thread for every (coalesced) change until the feed is dropped. Returns once
    /// the first connection listens, or the error of that first connection (wrong password,
    /// unreachable, …: the same one-line errors as [`super::PgConn::connect`]); later losses
    /// are reported to `on_event` and retried. `password` wins over the URL's, as for the store.
    /// Changes are coalesced per table over [`COALESCE`] (a page reloads at most four times a
    /// second during a burst).
    pub fn start(
        cfg: &PgConfig,
        password: Option<&Sensitive<String>>,
        on_event: impl FnMut(FeedEvent) + Send + 'static,
    ) -> Result<ChangeFeed, StoreError> {
        Self::start_with_window(cfg, password, COALESCE, on_event)
    }

    /// [`ChangeFeed::start`] holding a table's changes for `window` after each report instead;
    /// zero reports every change at once (the host agent's wake-up: a job queued right after
    /// the agent's own writes must not wait for a page's window).
    pub fn start_with_window(
        cfg: &PgConfig,
        password: Option<&Sensitive<String>>,
        window: Duration,
        on_event: impl FnMut(FeedEvent) + Send + 'static,
    ) -> Result<ChangeFeed, StoreError> {
        let pg = client_config(cfg, password);
        let tls = super::tls::connector(cfg)?;
        let (stop_tx, stop_rx) = watch::channel(());
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), StoreError>>(1);
        let cfg = cfg.clone();
        let address = cfg.address();
        let thread = std::thread::Builder::new()
            .name("tsched-pg-feed".to_string())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(StoreError::PgUnreachable {
                            address: cfg.address(),
                            detail: format!("cannot start the change feed's runtime: {e}"),
                        }));
                        return;
                    }
                };
                let feed = Feed {
                    cfg: &cfg,
                    pg,
                    stop: stop_rx,
                    window,
                    on_event,
                };
                match tls {
                    None => runtime.block_on(feed.run(NoTls, ready_tx)),
                    Some(tls) => runtime.block_on(feed.run(tls, ready_tx)),
                }
            })
            .map_err(|e| StoreError::PgUnreachable {
                address: address.clone(),
                detail: format!("cannot start the change feed's thread: {e}"),
            })?;
        let feed = ChangeFeed {
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(feed),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(StoreError::PgUnreachable {
                address,
                detail: "the change feed's thread ended".to_string(),
            }),
        }
    }
}

/// The client settings of `cfg`, as `conn.rs` makes them for the store's connection (its
/// builder is private to that file), with the feed's application name and keepalives.
fn client_config(cfg: &PgConfig, password: Option<&Sensitive<String>>) -> tokio_postgres::Config {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&cfg.host)
        .port(cfg.port)
        .dbname(&cfg.dbname)
        .user(&cfg.user)
        .application_name(FEED_APPLICATION_NAME)
        .connect_timeout(cfg.connect_timeout)
        .keepalives(true)
        .keepalives_idle(KEEPALIVE_IDLE)
        .ssl_mode(match cfg.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            _ => tokio_postgres::config::SslMode::Require,
        });
    if let Some(ip) = cfg.hostaddr {
        pg.hostaddr(ip);
    }
    if let Some(pw) = cfg.password(password) {
        pg.password(pw.expose().as_bytes());
    }
    pg
}

/// The wait before reconnection attempt `attempt` (0 = the first after a loss): 250 ms,
/// doubling, at most [`MAX_BACKOFF`].
pub fn backoff(attempt: u32) -> Duration {
    let ms = 250u64.saturating_mul(1u64 << attempt.min(16));
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

/// Coalesces notifications per table: the first of a quiet table is reported at once, later
/// ones within [`COALESCE`] of the last report are held and reported together when that window
/// ends. Pure (the caller passes the time), so it is unit-tested.
#[derive(Debug)]
pub struct Coalescer {
    window: Duration,
    last: HashMap<String, Instant>,
    pending: HashSet<String>,
}

impl Default for Coalescer {
    fn default() -> Self {
        Self::new(COALESCE)
    }
}

impl Coalescer {
    /// A coalescer holding changes for `window` after each report (zero: every change is
    /// reported at once).
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            last: HashMap::new(),
            pending: HashSet::new(),
        }
    }

    /// Notes a notification for `table` at `now`; returns true when it is to be reported now.
    pub fn note(&mut self, table: &str, now: Instant) -> bool {
        match self.last.get(table) {
            Some(&at) if now.saturating_duration_since(at) < self.window => {
                self.pending.insert(table.to_string());
                false
            }
            _ => {
                self.last.insert(table.to_string(), now);
                true
            }
        }
    }

    /// When the next held table is due, if any is held.
    pub fn next_due(&self) -> Option<Instant> {
        self.pending
            .iter()
            .filter_map(|t| self.last.get(t).map(|&at| at + self.window))
            .min()
    }

    /// The held tables due at `now` (sorted), now reported.
    pub fn due(&mut self, now: Instant) -> Vec<String> {
        let mut out: Vec<String> = self
            .pending
            .iter()
            .filter(|t| {
                self.last
                    .get(*t)
                    .is_none_or(|&at| now.saturating_duration_since(at) >= self.window)
            })
            .cloned()
            .collect();
        out.sort();
        for t in &out {
            self.pending.remove(t);
            self.last.insert(t.clone(), now);
        }
        out
    }

    /// Every held table, reported now whatever its window (before a loss is reported).
    pub fn flush(&mut self) -> Vec<String> {
        let mut out: Vec<String> = self.pending.drain().collect();
        out.sort();
        out
    }
}

/// How a listening session ended.
enum Ended {
    /// The feed was dropped.
    Stopped,
    /// The connection ended or failed; the one-line reason.
    Lost(String),
}

/// The feed thread's state.
struct Feed<'a, F> {
    cfg: &'a PgConfig,
    pg: tokio_postgres::Config,
    stop: watch::Receiver<()>,
    /// How long a table's changes are held after a report ([`COALESCE`]; zero: none).
    window: Duration,
    on_event: F,
}

impl<F: FnMut(FeedEvent)> Feed<'_, F> {
    /// Listens until stopped: the first session's outcome goes to `ready`, later losses to the
    /// callback, with reconnection attempts spaced by [`backoff`].
    async fn run<T>(mut self, tls: T, ready: std::sync::mpsc::SyncSender<Result<(), StoreError>>)
    where
        T: MakeTlsConnect<Socket> + Clone,
        T::Stream: Unpin,
    {
        let mut ready = Some(ready);
        let mut attempt = 0u32;
        loop {
            let ended = self.session(tls.clone(), &mut ready).await;
            let reason = match ended {
                Ok(Ended::Stopped) => return,
                Ok(Ended::Lost(reason)) => {
                    // It had listened: a fresh loss.
                    attempt = 0;
                    (self.on_event)(FeedEvent::Lost {
                        reason: reason.clone(),
                    });
                    reason
                }
                Err(e) => {
                    if let Some(r) = ready.take() {
                        // The first connection failed: start() returns the error.
                        let _ = r.send(Err(e));
                        return;
                    }
                    e.to_string()
                }
            };
            tracing::debug!(%reason, attempt, "the change feed reconnects");
            let wait = backoff(attempt);
            attempt = attempt.saturating_add(1);
            tokio::select! {
                _ = self.stop.changed() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One session: connects, listens, reports notifications until the connection ends or the
    /// feed is stopped. `Err` when it never got to listen.
    async fn session<T>(
        &mut self,
        tls: T,
        ready: &mut Option<std::sync::mpsc::SyncSender<Result<(), StoreError>>>,
    ) -> Result<Ended, StoreError>
    where
        T: MakeTlsConnect<Socket>,
        T::Stream: Unpin,
    {
        let connected = tokio::select! {
            _ = self.stop.changed() => return Ok(Ended::Stopped),
            c = self.pg.connect(tls) => c,
        };
        let (client, mut connection) =
            connected.map_err(|e| classify(self.cfg, Phase::Connect, &e, None))?;
        let mut coalescer = Coalescer::new(self.window);
        let mut early = Vec::new();
        let listen_sql = format!("LISTEN {CHANNEL}");
        let listened = {
            let listen = client.batch_execute(&listen_sql);
            tokio::pin!(listen);
            loop {
                tokio::select! {
                    _ = self.stop.changed() => break None,
                    r = &mut listen => break Some(r),
                    m = std::future::poll_fn(|cx| connection.poll_message(cx)) => match m {
                        Some(Ok(AsyncMessage::Notification(n))) => early.push(n.payload().to_string()),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(classify(self.cfg, Phase::Connect, &e, None)),
                        None => return Err(StoreError::PgConnectionLost {
                            address: self.cfg.address(),
                            detail: "the server closed the connection".to_string(),
                        }),
                    },
                }
            }
        };
        match listened {
            None => {
                goodbye(client, connection).await;
                return Ok(Ended::Stopped);
            }
            Some(Err(e)) => return Err(classify(self.cfg, Phase::Use, &e, None)),
            Some(Ok(())) => {}
        }
        match ready.take() {
            Some(r) => {
                let _ = r.send(Ok(()));
            }
            None => (self.on_event)(FeedEvent::Restored),
        }
        tracing::debug!(database = %self.cfg, "the change feed listens");
        for table in early {
            self.notified(&mut coalescer, &table);
        }
        let reason = loop {
            let due = coalescer.next_due();
            tokio::select! {
                _ = self.stop.changed() => {
                    goodbye(client, connection).await;
                    return Ok(Ended::Stopped);
                }
                _ = sleep_until(due) => {
                    for table in coalescer.due(Instant::now()) {
                        (self.on_event)(FeedEvent::Changed(Change { table }));
                    }
                }
                m = std::future::poll_fn(|cx| connection.poll_message(cx)) => match m {
                    Some(Ok(AsyncMessage::Notification(n))) => {
                        if n.channel() == CHANNEL {
                            self.notified(&mut coalescer, n.payload());
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break match e.as_db_error() {
                        Some(db) => one_line(db.message()),
                        None => one_line(&e.to_string()),
                    },
                    None => break "the server closed the connection".to_string(),
                },
            }
        };
        // What was held happened before the loss: report it rather than lose it.
        for table in coalescer.flush() {
            (self.on_event)(FeedEvent::Changed(Change { table }));
        }
        Ok(Ended::Lost(reason))
    }

    /// A notification's payload: reported at once or held, unless it names no known table.
    fn notified(&mut self, coalescer: &mut Coalescer, payload: &str) {
        if !TABLES.contains(&payload) {
            tracing::debug!(payload, "ignoring a change notification for no known table");
            return;
        }
        if coalescer.note(payload, Instant::now()) {
            (self.on_event)(FeedEvent::Changed(Change {
                table: payload.to_string(),
            }));
        }
    }
}

/// Ends a session politely: dropping the client makes the connection send Terminate, which
/// only happens while it is polled (bounded, so a dead server cannot hold up a drop).
async fn goodbye<S, T>(
    client: tokio_postgres::Client,
    mut connection: tokio_postgres::Connection<S, T>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    drop(client);
    let drained = async {
        while let Some(Ok(_)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {}
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, drained).await;
}

/// Sleeps until `due`, or forever when nothing is held.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_quarter_second_and_stops_at_ten_seconds() {
        assert_eq!(
            backoff(0),
            Duration::from_millis(250),
            "the first retry is quick"
        );
        assert_eq!(backoff(1), Duration::from_millis(500), "then it doubles");
        assert_eq!(backoff(3), Duration::from_secs(2), "and doubles again");
        assert_eq!(backoff(6), MAX_BACKOFF, "capped");
        assert_eq!(
            backoff(u32::MAX),
            MAX_BACKOFF,
            "no overflow however long it lasts"
        );
    }

    #[test]
    fn a_burst_is_reported_once_at_once_and_once_after_the_window() {
        let mut c = Coalescer::default();
        let t0 = Instant::now();
        assert!(c.note("meetings", t0), "a quiet table is reported at once");
        for i in 1..100 {
            assert!(
                !c.note("meetings", t0 + Duration::from_millis(i)),
                "the rest of the burst is held"
            );
        }
        assert_eq!(
            c.next_due(),
            Some(t0 + COALESCE),
            "held until the window after the first report ends"
        );
        assert!(
            c.due(t0 + Duration::from_millis(200)).is_empty(),
            "nothing is due inside the window"
        );
        assert_eq!(
            c.due(t0 + COALESCE),
            vec!["meetings".to_string()],
            "the held changes are reported once when the window ends"
        );
        assert_eq!(c.next_due(), None, "nothing held after that");
        assert!(
            !c.note("meetings", t0 + COALESCE + Duration::from_millis(10)),
            "a change right after the trailing report waits for its own window"
        );
    }

    #[test]
    fn with_no_window_every_change_is_reported_at_once() {
        let mut c = Coalescer::new(Duration::ZERO);
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(
                c.note("work_queue", t0 + Duration::from_millis(i)),
                "change {i} is reported at once"
            );
        }
        assert!(c.note("work_queue", t0), "even at the same instant");
        assert_eq!(c.next_due(), None, "nothing is ever held");
    }

    #[test]
    fn tables_are_coalesced_separately() {
        let mut c = Coalescer::default();
        let t0 = Instant::now();
        assert!(c.note("meetings", t0), "first meetings change");
        assert!(
            c.note("batches", t0 + Duration::from_millis(1)),
            "another table's first change is not held by the meetings window"
        );
        assert!(!c.note("batches", t0 + Duration::from_millis(2)), "held");
        assert!(
            c.note("meetings", t0 + COALESCE + Duration::from_millis(1)),
            "a change after a quiet window is reported at once"
        );
        assert_eq!(
            c.flush(),
            vec!["batches".to_string()],
            "a flush reports what is held"
        );
        assert_eq!(c.next_due(), None, "and holds nothing after");
    }

    #[test]
    fn the_feeds_tables_are_the_ones_v1_sql_notifies_about() {
        let sql = super::super::SCHEMA_V1;
        let (_, section) = sql
            .split_once("CREATE FUNCTION tsched_notify_change")
            .expect("v1.sql has the notify section");
        for t in TABLES {
            assert!(
                section.contains(&format!("'{t}'")),
                "v1.sql must install the trigger on {t}"
            );
        }
    }
}
