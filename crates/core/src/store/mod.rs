//! The local SQLite store: one file in the data directory, shared by the desktop app and the CLI
//! (WAL, `busy_timeout`, so both may run at once).
//!
//! This module owns opening, the connection pragmas and versioned migrations; one submodule per
//! table holds that table's row type and queries. It refuses a file written by a newer version, a
//! corrupt file and a foreign SQLite file with an error naming the file, and never rewrites such a
//! file. Tokens never go in here: the integration row holds only metadata.

pub mod audit_log;
pub mod batches;
pub(crate) mod columns;
pub mod directory_cache;
pub mod integration;
pub mod location;
pub mod meetings;
pub mod operators;
pub mod page;
pub mod participants;
pub mod postgres;
pub mod programs;
pub mod queue;
pub mod settings;
pub mod sqlite;

pub use sqlite::migrations;

/// The table traits: `use crate::store::prelude::*;` brings every table's methods into scope,
/// whichever backend holds them.
pub mod prelude {
    pub use super::audit_log::AuditTable;
    pub use super::batches::BatchTable;
    pub use super::directory_cache::DirectoryTable;
    pub use super::integration::IntegrationTable;
    pub use super::meetings::MeetingTable;
    pub use super::operators::OperatorTable;
    pub use super::participants::ParticipantTable;
    pub use super::programs::ProgramTable;
    pub use super::settings::SettingTable;
    pub use super::Tables;
}

/// Declares [`Tables`] as the sum of the table traits and implements it for every type that
/// implements them all, from one list.
macro_rules! tables {
    ($($table:path),+ $(,)?) => {
        /// The store interface the use cases work through: every table's queries, whichever
        /// backend (SQLite for one seat; PostgreSQL for a team) answers them. Reads go to
        /// [`Store::tables`]; writes run inside [`Store::write`], whose closure gets the same
        /// interface bound to one transaction. Each backend owns its SQL; nothing outside
        /// `store/` writes SQL.
        pub trait Tables: $($table +)+ {}

        impl<T> Tables for T where T: $($table +)+ {}
    };
}

tables!(
    audit_log::AuditTable,
    batches::BatchTable,
    directory_cache::DirectoryTable,
    integration::IntegrationTable,
    meetings::MeetingTable,
    operators::OperatorTable,
    participants::ParticipantTable,
    programs::ProgramTable,
    settings::SettingTable,
);

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// `PRAGMA application_id` of our files ("TSCH"), so a foreign SQLite file is recognised.
pub const APPLICATION_ID: i32 = 0x5453_4348;

/// SQLite's page cache per connection, in KiB (its default is 2 MiB). A list page reads a few
/// hundred pages scattered over a large file (a person's meetings, a search's matches); with
/// 2 MiB, paging back and forth re-reads them from the OS every time. The cache fills only as
/// pages are read, so a small store never uses it.
pub const CACHE_KIB: u32 = 16 * 1024;

/// How long a writer waits for another process's transaction before reporting "locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors from opening or using the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be created or the file could not be opened.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// The file (or directory) that could not be opened.
        path: PathBuf,
        /// What the OS or SQLite said.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The file exists but is not a SQLite database (corrupt or something else).
    #[error("{path} is not a readable Teams Scheduler database (corrupt or not SQLite); it was left untouched")]
    NotADatabase {
        /// The offending file.
        path: PathBuf,
    },
    /// A SQLite database that belongs to another application.
    #[error("{path} is a SQLite database of another application (application_id {application_id:#x}); it was left untouched")]
    ForeignDatabase {
        /// The offending file.
        path: PathBuf,
        /// Its `PRAGMA application_id`.
        application_id: i32,
    },
    /// Written by a newer version of Teams Scheduler.
    #[error("{path} was written by a newer Teams Scheduler (schema version {found}; this version knows up to {supported}); upgrade the app — the file was left untouched")]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// Another process holds the database longer than the busy timeout.
    #[error("the store at {path} is locked by another process; try again in a moment")]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// The file or its directory is read-only.
    #[error("the store at {path} is read-only; check the data directory's permissions")]
    ReadOnly {
        /// The file.
        path: PathBuf,
    },
    /// Any other SQLite failure.
    #[error("store error in {path}: {source}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The team database URL cannot be used (the message never repeats the URL: it may hold a
    /// password).
    #[error("the team database URL is not usable: {reason}")]
    PgConfig {
        /// What is wrong and how to write it.
        reason: String,
    },
    /// Nothing answers at the team database's address (server down, wrong host or port).
    #[error("cannot reach the team database at {address} ({detail}); is the server running and the address right?")]
    PgUnreachable {
        /// `host:port`.
        address: String,
        /// What the network said.
        detail: String,
    },
    /// The server refused the login's password.
    #[error("password authentication failed for login {login}; check the password")]
    PgAuthFailed {
        /// The login.
        login: String,
    },
    /// The server refused the login for another reason (no pg_hba.conf rule, no LOGIN right).
    #[error("the team database at {address} refused login {login} ({message}); ask a global admin to allow it")]
    PgLoginRefused {
        /// The login.
        login: String,
        /// `host:port`.
        address: String,
        /// The server's message.
        message: String,
    },
    /// TLS could not be set up as `sslmode` asks.
    #[error("TLS with the team database at {address} failed: {reason}")]
    PgTls {
        /// `host:port`.
        address: String,
        /// Which problem, with the fix.
        reason: postgres::TlsProblem,
    },
    /// The server has no such database.
    #[error(
        "the database {database} does not exist on {address}; check the database name in the URL"
    )]
    PgUnknownDatabase {
        /// The database named.
        database: String,
        /// `host:port`.
        address: String,
    },
    /// The login lacks a grant (SQLSTATE 42501): the database refused, as the role matrix says.
    #[error("login {login} may not do this ({message}); ask a global admin")]
    PgDenied {
        /// The login.
        login: String,
        /// The server's message (`permission denied for table …`).
        message: String,
    },
    /// The team database's schema is missing, older or newer than this build's.
    #[error("{}", postgres::schema_message(database, *found, *supported))]
    PgSchema {
        /// The database.
        database: String,
        /// Its `tsched_meta.schema_version`; `None` when it has none.
        found: Option<i64>,
        /// The version this build works with.
        supported: i64,
    },
    /// An open connection to the team database broke.
    #[error("the connection to the team database at {address} was lost ({detail}); try again, and check the server if it keeps happening")]
    PgConnectionLost {
        /// `host:port`.
        address: String,
        /// Why, as the server or the network said.
        detail: String,
    },
    /// Any other error of the team database (one line).
    #[error("team database error: {message}")]
    Pg {
        /// The server's or the client's message.
        message: String,
        /// The SQLSTATE, when the server sent one (`23505` for a unique violation).
        sqlstate: Option<String>,
        /// The constraint at fault, when the server named one.
        constraint: Option<String>,
    },
}

/// Creates `dir` and its missing parents; `dir` itself owner-only (0700 on Unix).
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        b.mode(0o700);
    }
    b.create(dir)?;
    // Only a newly made `dir` got the mode above; an existing empty one is tightened too.
    owner_only(dir)
}

/// Takes group and other permissions off `path` on Unix, keeping the owner's bits (a read-only
/// file stays read-only); a no-op elsewhere, where the user profile's ACLs keep others out.
fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let current = std::fs::metadata(path)?.permissions().mode() & 0o7777;
        if current & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & !0o077))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes the database file owner-only before SQLite opens it: creates it empty with mode 0600
/// when missing (SQLite accepts an empty file as a new database), else tightens it and any
/// `-wal`/`-shm` left beside it. In-memory and `file:` URI paths are left to SQLite.
fn secure_db_files(path: &Path) -> std::io::Result<()> {
    let text = path.to_string_lossy();
    if text.is_empty() || text.starts_with(':') || text.starts_with("file:") {
        return Ok(());
    }
    if !path.exists() {
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            o.mode(0o600);
        }
        o.open(path)?;
    }
    owner_only(path)?;
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        // Another process closing the last connection deletes these: one gone between the
        // look and the chmod has nothing left to tighten (a CI run's eight concurrent writers
        // failed on it with "No such file or directory").
        match owner_only(&PathBuf::from(companion)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// An open store: the embedded SQLite file (one seat) or a team's PostgreSQL database. Not
/// `Sync`: front ends hold it behind a mutex.
pub struct Store {
    backend: Backend,
    /// The SQLite file, or the team database's address (a URL without its password).
    path: PathBuf,
}

/// Which backend answers the table traits.
enum Backend {
    Sqlite(Connection),
    Postgres(Box<postgres::PgConn>),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`, migrating it to the current schema.
    /// The directory is created owner-only (0700 on Unix); an existing one that already holds
    /// the database loses its group and other permissions too (it was 0755 before), while a
    /// directory that is not yet ours keeps its mode.
    pub fn open_in(data_dir: &Path) -> Result<Self, StoreError> {
        let open_err = |e: std::io::Error| StoreError::Open {
            path: data_dir.to_path_buf(),
            source: Box::new(e),
        };
        let db = crate::paths::db_path(data_dir);
        if data_dir.is_dir() {
            if db.exists() {
                owner_only(data_dir).map_err(open_err)?;
            }
        } else {
            create_private_dir(data_dir).map_err(open_err)?;
        }
        Self::open(&db)
    }

    /// Opens (creating if needed) the store file at `path` and migrates it. The file and its
    /// `-wal`/`-shm` companions are owner-only (0600 on Unix): it is created so before SQLite
    /// opens it (SQLite gives the companions the main file's mode), and an older, wider file
    /// loses its group and other permissions.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        secure_db_files(path).map_err(|e| StoreError::Open {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| classify(path, e))?;
        Self::init(conn, path.to_path_buf())
    }

    /// A private in-memory store, for tests and previews.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| classify(&path, e))?;
        Self::init(conn, path)
    }

    fn init(conn: Connection, path: PathBuf) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| classify(&path, e))?;
        // Reading the header first turns a corrupt or foreign file into a clear error before any write.
        let app_id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(|e| classify(&path, e))?;
        if app_id != 0 && app_id != APPLICATION_ID {
            return Err(StoreError::ForeignDatabase {
                path,
                application_id: app_id,
            });
        }
        if path.as_os_str() != ":memory:" {
            // WAL lets the app and the CLI read while the other writes.
            let _mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(|e| classify(&path, e))?;
        }
        conn.execute_batch(&format!(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{};",
            CACHE_KIB
        ))
        .map_err(|e| classify(&path, e))?;
        let mut conn = conn;
        migrations::migrate(&mut conn, &path)?;
        Ok(Self {
            backend: Backend::Sqlite(conn),
            path,
        })
    }

    /// Opens a team's PostgreSQL database (set up by `store init`), checking that its schema is
    /// the one this build knows. `password` wins over one written in the URL.
    pub fn open_postgres(
        cfg: &postgres::PgConfig,
        password: Option<&crate::secret::Sensitive<String>>,
    ) -> Result<Self, StoreError> {
        let conn = postgres::PgConn::connect(cfg, password)?;
        conn.batch_execute("SET search_path = tsched, public")?;
        postgres::check_schema(&conn, postgres::SCHEMA_VERSION)?;
        Ok(Self {
            backend: Backend::Postgres(Box::new(conn)),
            path: PathBuf::from(cfg.to_string()),
        })
    }

    /// A store over an open PostgreSQL connection whose schema was checked (tests and
    /// `store init`, which make the connection themselves).
    pub fn from_postgres(conn: postgres::PgConn) -> Result<Self, StoreError> {
        conn.batch_execute("SET search_path = tsched, public")?;
        postgres::check_schema(&conn, postgres::SCHEMA_VERSION)?;
        let path = PathBuf::from(conn.config().to_string());
        Ok(Self {
            backend: Backend::Postgres(Box::new(conn)),
            path,
        })
    }

    /// Starts a feed of the tables changed in a team's database (see [`postgres::ChangeFeed`]):
    /// by other workstations, and by this process's own sessions too (a listener hears every
    /// session's); `None` for SQLite, whose only writer is this process. The feed connects as
    /// this store's login on a connection of its own; `password` as for
    /// [`Store::open_postgres`] (the store does not keep it).
    pub fn change_feed(
        &self,
        password: Option<&crate::secret::Sensitive<String>>,
        on_event: impl FnMut(postgres::FeedEvent) + Send + 'static,
    ) -> Result<Option<postgres::ChangeFeed>, StoreError> {
        self.feed_within(password, postgres::COALESCE, on_event)
    }

    /// [`Store::change_feed`] without coalescing: every change reported at once. For the host
    /// agent's wake-up (`None` for the embedded store, which has no queue).
    pub fn queue_feed(
        &self,
        password: Option<&crate::secret::Sensitive<String>>,
        on_event: impl FnMut(postgres::FeedEvent) + Send + 'static,
    ) -> Result<Option<postgres::ChangeFeed>, StoreError> {
        self.feed_within(password, std::time::Duration::ZERO, on_event)
    }

    /// A change feed holding each table's changes for `window` after a report.
    fn feed_within(
        &self,
        password: Option<&crate::secret::Sensitive<String>>,
        window: std::time::Duration,
        on_event: impl FnMut(postgres::FeedEvent) + Send + 'static,
    ) -> Result<Option<postgres::ChangeFeed>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(c) => {
                postgres::ChangeFeed::start_with_window(c.config(), password, window, on_event)
                    .map(Some)
            }
        }
    }

    /// The SQLite connection, when this is the embedded store.
    pub(crate) fn sqlite(&self) -> Option<&Connection> {
        match &self.backend {
            Backend::Sqlite(c) => Some(c),
            Backend::Postgres(_) => None,
        }
    }

    /// The host agent's queue: the team store's only (the embedded store has none: one seat
    /// does its Graph work itself).
    pub fn queue(&self) -> Option<&dyn queue::QueueTable> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(c) => Some(&**c),
        }
    }

    /// Runs `f` in one transaction of the team store with its queue beside the tables (a batch
    /// job stores its batch and names it in its job at once); `None` for the embedded store.
    pub fn write_queued<T, E>(
        &mut self,
        f: impl FnOnce(&dyn Tables, &dyn queue::QueueTable) -> Result<T, E>,
    ) -> Option<Result<T, E>>
    where
        E: From<StoreError>,
    {
        match &mut self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(conn) => Some(conn.write(|tx| f(tx, tx))),
        }
    }

    /// True for a team's shared PostgreSQL database.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// The file this store lives in (`:memory:` for an in-memory store).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The raw SQLite connection, for tests and benches that seed or inspect rows with SQL
    /// (feature `test-support`). The use cases go through [`Store::tables`] and [`Store::write`].
    #[cfg(any(test, feature = "test-support"))]
    pub fn conn(&self) -> &Connection {
        self.sqlite()
            .expect("invariant: conn() is only used on SQLite stores in tests")
    }

    /// [`Store::write`] on the SQLite store with the raw connection, for tests and benches that
    /// seed rows with SQL beside the table traits (feature `test-support`).
    #[cfg(any(test, feature = "test-support"))]
    pub fn write_sql<T, E>(&mut self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let path = self.path.clone();
        let Backend::Sqlite(conn) = &mut self.backend else {
            panic!("invariant: write_sql() is only used on SQLite stores in tests");
        };
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| E::from(classify(&path, e)))?;
        let out = f(&tx)?;
        tx.commit().map_err(|e| E::from(classify(&path, e)))?;
        Ok(out)
    }

    /// The tables, for reads outside a write (each statement sees a consistent snapshot).
    pub fn tables(&self) -> &dyn Tables {
        match &self.backend {
            Backend::Sqlite(c) => c,
            Backend::Postgres(c) => &**c,
        }
    }

    /// Runs `f` in one transaction (SQLite: `IMMEDIATE`, so writers queue instead of failing
    /// later): everything or nothing is written.
    pub fn write<T, E>(&mut self, f: impl FnOnce(&dyn Tables) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                let path = self.path.clone();
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(|e| E::from(classify(&path, e)))?;
                let out = f(&*tx)?;
                tx.commit().map_err(|e| E::from(classify(&path, e)))?;
                Ok(out)
            }
            Backend::Postgres(conn) => conn.write(|tx| f(tx)),
        }
    }

    /// Maps a SQLite error of this store to a [`StoreError`] naming its file.
    pub fn err(&self, e: rusqlite::Error) -> StoreError {
        classify(&self.path, e)
    }
}

/// Turns a SQLite error into the specific [`StoreError`] a person can act on.
pub fn classify(path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(C::NotADatabase) | Some(C::DatabaseCorrupt) => StoreError::NotADatabase { path },
        Some(C::DatabaseBusy) | Some(C::DatabaseLocked) => StoreError::Locked { path },
        Some(C::ReadOnly) => StoreError::ReadOnly { path },
        Some(C::CannotOpen) | Some(C::PermissionDenied) => StoreError::Open {
            path,
            source: Box::new(e),
        },
        _ => StoreError::Sqlite { path, source: e },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_store_reaches_the_current_schema() {
        let store = Store::open_in_memory().expect("open in memory");
        let v: i64 = store
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(
            v,
            migrations::CURRENT_VERSION,
            "a fresh store must be migrated to the newest schema"
        );
        let fk: i64 = store
            .conn()
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(fk, 1, "foreign keys must be enforced");
        let cache: i64 = store
            .conn()
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(
            cache,
            -i64::from(CACHE_KIB),
            "list pages need a page cache larger than SQLite's 2 MiB default"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_data_directory_database_and_wal_are_not_readable_by_other_users() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .permissions()
                .mode()
                & 0o777
        };
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("data");
        let store = Store::open_in(&dir).expect("open");
        store
            .conn()
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .expect("a write creates the WAL");
        let db = crate::paths::db_path(&dir);
        assert_eq!(mode(&dir), 0o700, "a new data directory is owner-only");
        assert_eq!(
            mode(&db),
            0o600,
            "the database holds every meeting: owner-only"
        );
        for suffix in ["-wal", "-shm"] {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            let p = PathBuf::from(p);
            assert!(p.exists(), "{suffix} exists while the store is open");
            assert_eq!(mode(&p), 0o600, "{suffix} holds recent rows: owner-only");
        }
        drop(store);

        // A store made by an older version (0755 directory, 0644 file) is tightened on open.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let _store = Store::open_in(&dir).expect("reopen");
        assert_eq!(mode(&dir), 0o700, "an old wide data directory is tightened");
        assert_eq!(mode(&db), 0o600, "an old wide database is tightened");
    }
}
