//! Live updates: when the store is a team's shared database, the tables other workstations
//! change reach the window without a manual reload. The core's change feed
//! (`tsched_core::store::postgres::ChangeFeed`, its own connection listening for the database's
//! notifications) is started on the window's first subscription; each of its events goes to the
//! window over the `ipc::Channel` it subscribed with, as a [`StoreChanged`]. What to reload, and
//! when (never over a form being edited), is the page's decision (`ui/live.js`).
//!
//! A channel and not a Tauri event: the window's capability grants only our own commands, and a
//! channel needs no event permission.

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;
use tsched_core::secret::Sensitive;
use tsched_core::store::postgres::{ChangeFeed, FeedEvent};
use tsched_core::Store;

use super::CmdResult;
use crate::state::AppState;

/// What the window hears, as JSON `{ "kind": "changed", "table": "meetings" }`,
/// `{ "kind": "lost", "reason": "…" }` or `{ "kind": "restored" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StoreChanged {
    /// Rows of `table` changed (committed, by any session).
    Changed {
        /// The table's name.
        table: String,
    },
    /// The feed lost its connection and is reconnecting: changes go unseen until `restored`.
    Lost {
        /// The server's or the network's one-line message.
        reason: String,
    },
    /// Connected again: anything may have changed meanwhile (reload every table).
    Restored,
}

impl StoreChanged {
    /// The window's form of a feed event (`None` for kinds this app does not know yet).
    pub fn from_feed(e: FeedEvent) -> Option<StoreChanged> {
        match e {
            FeedEvent::Changed(c) => Some(StoreChanged::Changed { table: c.table }),
            FeedEvent::Lost { reason } => Some(StoreChanged::Lost { reason }),
            FeedEvent::Restored => Some(StoreChanged::Restored),
            _ => None,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The window's subscription and the feed behind it (held by [`AppState`]).
#[derive(Default)]
pub struct Live {
    /// Where events go: the last window that subscribed (a reloaded window subscribes again).
    sink: Arc<Mutex<Option<Channel<StoreChanged>>>>,
    /// Running while the store is shared and a window listens; dropping it stops it.
    feed: Mutex<Option<ChangeFeed>>,
    /// The shared store's password, when whoever opened the store had one apart from its URL
    /// (the feed logs in on a connection of its own). Never shown, never written anywhere.
    password: Mutex<Option<Sensitive<String>>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("subscribed", &lock(&self.sink).is_some())
            .field("feed", &lock(&self.feed).is_some())
            .finish_non_exhaustive()
    }
}

impl Live {
    /// The password the feed logs in with (the one the shared store was opened with).
    pub fn set_password(&self, password: Option<Sensitive<String>>) {
        *lock(&self.password) = password;
    }

    /// Stops the feed (the window now works with another store); the window's next
    /// subscription starts the new store's.
    pub fn stop(&self) {
        lock(&self.feed).take();
    }

    /// Sends `channel` every later change of `store`, starting the feed if it is not running.
    /// Returns whether live updates are on: false for the embedded store (no other writer), and
    /// when the feed cannot start (logged; the window then works as before, reloading on its
    /// own actions).
    pub fn subscribe(&self, store: &Store, channel: Channel<StoreChanged>) -> bool {
        *lock(&self.sink) = Some(channel);
        if !store.is_shared() {
            return false;
        }
        let mut feed = lock(&self.feed);
        if feed.is_some() {
            return true;
        }
        let sink = self.sink.clone();
        let started = store.change_feed(lock(&self.password).as_ref(), move |e| {
            let Some(msg) = StoreChanged::from_feed(e) else {
                return;
            };
            let mut sink = lock(&sink);
            if let Some(ch) = sink.as_ref() {
                if ch.send(msg).is_err() {
                    // The window went away; a new one subscribes again.
                    sink.take();
                }
            }
        });
        match started {
            Ok(f) => {
                *feed = f;
                feed.is_some()
            }
            Err(e) => {
                tracing::warn!(error = %e, "live updates are off: the change feed did not start");
                false
            }
        }
    }
}

/// Subscribes the window to the store's changes (see [`Live::subscribe`]); opens the store if
/// needed. Resolves to whether live updates are on.
#[tauri::command(async)]
pub fn store_changes(
    state: State<'_, AppState>,
    on_event: Channel<StoreChanged>,
) -> CmdResult<bool> {
    let live = state.live();
    Ok(state.with_store(|store| Ok(live.subscribe(store, on_event)))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tsched_core::store::postgres::Change;

    #[test]
    fn the_windows_events_keep_their_json_shape() {
        // ui/live.js reads these fields.
        let json = |e| serde_json::to_value(e).expect("serializes");
        assert_eq!(
            json(StoreChanged::Changed {
                table: "meetings".into()
            }),
            serde_json::json!({ "kind": "changed", "table": "meetings" }),
            "a change names its table"
        );
        assert_eq!(
            json(StoreChanged::Lost { reason: "x".into() }),
            serde_json::json!({ "kind": "lost", "reason": "x" }),
            "a loss says why"
        );
        assert_eq!(
            json(StoreChanged::Restored),
            serde_json::json!({ "kind": "restored" }),
            "restored carries nothing"
        );
        assert_eq!(
            StoreChanged::from_feed(FeedEvent::Changed(Change {
                table: "batches".into()
            })),
            Some(StoreChanged::Changed {
                table: "batches".into()
            }),
            "a feed change keeps its table"
        );
    }

    #[test]
    fn an_embedded_store_has_no_live_updates() {
        let store = Store::open_in_memory().expect("in-memory store");
        let live = Live::default();
        let channel = Channel::new(|_| Ok(()));
        assert!(
            !live.subscribe(&store, channel),
            "SQLite has no other writer, so nothing to listen to"
        );
        assert!(lock(&live.feed).is_none(), "and no feed is started for it");
    }

    /// A PostgreSQL store made by `store init`, acting as its owner, and its cluster.
    fn shared_store() -> (Store, tsched_pgtest::Cluster) {
        use tsched_core::store::postgres::{self, PgConfig, PgConn};
        let cluster = tsched_pgtest::Cluster::start();
        cluster.create_login("tsched_owner", "owner-pw-1");
        cluster.superuser_sql("postgres", "ALTER ROLE tsched_owner CREATEROLE;");
        cluster.create_database("tsched", Some("tsched_owner"));
        let cfg =
            PgConfig::parse(&cluster.url("tsched_owner", "owner-pw-1", "tsched", "verify-full"))
                .expect("the harness URL parses")
                .with_ca_file(cluster.ca_file());
        let mut conn = PgConn::connect(&cfg, None).expect("the owner connects");
        postgres::init(&mut conn).expect("store init");
        (
            Store::from_postgres(conn).expect("the store opens"),
            cluster,
        )
    }

    /// A channel whose messages (JSON) arrive on the returned receiver.
    fn window() -> (
        Channel<StoreChanged>,
        std::sync::mpsc::Receiver<serde_json::Value>,
    ) {
        let (tx, rx) = std::sync::mpsc::channel();
        let ch = Channel::new(move |body| {
            if let tauri::ipc::InvokeResponseBody::Json(s) = body {
                let _ = tx.send(serde_json::from_str(&s).expect("the channel carries JSON"));
            }
            Ok(())
        });
        (ch, rx)
    }

    fn add_program(cluster: &tsched_pgtest::Cluster, code: &str) {
        cluster.superuser_sql(
            "tsched",
            &format!(
                "INSERT INTO tsched.programs (code, name, created_at, updated_at) VALUES \
                 ('{code}', '{code}', '2027-01-01T00:00:00Z', '2027-01-01T00:00:00Z');"
            ),
        );
    }

    #[test]
    fn a_shared_stores_changes_reach_the_window_that_subscribed_last() {
        let (store, cluster) = shared_store();
        let live = Live::default();
        let (first, first_rx) = window();
        assert!(
            live.subscribe(&store, first),
            "a shared store has live updates"
        );
        add_program(&cluster, "p1");
        let got = first_rx
            .recv_timeout(Duration::from_secs(2))
            .expect("the window hears of the change within two seconds");
        assert_eq!(
            got,
            serde_json::json!({ "kind": "changed", "table": "programs" }),
            "the change names its table, as ui/live.js reads it"
        );

        // A reloaded window subscribes again: the feed goes on, its events go to the new one.
        let (second, second_rx) = window();
        assert!(live.subscribe(&store, second), "still on");
        let feeds = cluster.superuser_sql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'teams-scheduler-feed';",
        );
        assert_eq!(feeds.trim(), "1", "one feed, not one per subscription");
        add_program(&cluster, "p2");
        assert_eq!(
            second_rx
                .recv_timeout(Duration::from_secs(2))
                .expect("the new window hears of it"),
            serde_json::json!({ "kind": "changed", "table": "programs" }),
            "the second change reaches the window that subscribed last"
        );
        assert!(
            first_rx.try_recv().is_err(),
            "the replaced window hears nothing more"
        );
    }
}
