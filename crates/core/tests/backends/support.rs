//! Runs one test body against each backend.

use tsched_core::secret::Sensitive;
use tsched_core::store::postgres::{self, PgConfig, PgConn};
use tsched_core::store::prelude::*;
use tsched_core::store::{Store, StoreError};
use tsched_pgtest::Cluster;

/// The database owner's login (CREATEROLE: `store init` creates the group roles).
pub const OWNER: &str = "tsched_owner";
const PASSWORD: &str = "owner-pw-1";
const DB: &str = "tsched";

/// A PostgreSQL store initialised by its owner, and the cluster it lives on (dropping the
/// cluster stops the server and removes it).
pub struct PgStore {
    pub store: Store,
    /// Kept so the server lives as long as the store (and for tests that psql into it).
    #[allow(dead_code)]
    pub cluster: Cluster,
}

/// Starts a throwaway cluster, creates the team database as its owner and runs `store init`;
/// the returned store acts as the owner (its own policy lets it see and change every row).
pub fn postgres_store() -> PgStore {
    let cluster = Cluster::start();
    cluster.create_login(OWNER, PASSWORD);
    cluster.superuser_sql("postgres", &format!("ALTER ROLE {OWNER} CREATEROLE;"));
    cluster.create_database(DB, Some(OWNER));
    let url = cluster.url(OWNER, PASSWORD, DB, "verify-full");
    let cfg = PgConfig::parse(&url)
        .expect("the harness URL parses")
        .with_ca_file(cluster.ca_file());
    let password = Sensitive::new(PASSWORD.to_string());
    let mut conn = PgConn::connect(&cfg, Some(&password)).expect("the owner connects");
    postgres::init(&mut conn).expect("store init");
    let store = Store::from_postgres(conn).expect("the initialised store opens");
    PgStore { store, cluster }
}

/// Runs `f` in one write of `store` (on `backend`) and panics on an error.
pub fn write<T>(
    backend: &str,
    store: &mut Store,
    f: impl FnOnce(&dyn Tables) -> Result<T, StoreError>,
) -> T {
    store
        .write(f)
        .unwrap_or_else(|e| panic!("{backend}: write failed: {e}"))
}

/// Runs `test` on a fresh in-memory SQLite store, then on a fresh PostgreSQL store; the name
/// passed in says which, for assert messages.
pub fn each_backend(test: impl Fn(&str, &mut Store)) {
    let mut sqlite = Store::open_in_memory().expect("in-memory store");
    test("sqlite", &mut sqlite);
    let mut pg = postgres_store();
    test("postgres", &mut pg.store);
}

/// A second store on `cluster`'s team database, connected as `login` (which must exist with
/// `password` and, to get anywhere, be an operator): for tests that need an operator's session,
/// such as a global admin's for the roster functions.
#[allow(dead_code)]
pub fn connect_as(cluster: &Cluster, login: &str, password: &str) -> Store {
    let cfg = PgConfig::parse(&cluster.url(login, password, DB, "verify-full"))
        .expect("the harness URL parses")
        .with_ca_file(cluster.ca_file());
    let password = Sensitive::new(password.to_string());
    let conn = PgConn::connect(&cfg, Some(&password)).expect("the login connects");
    Store::from_postgres(conn).expect("the store opens")
}

/// Another connection as the database owner of `cluster`'s team database (its search_path is
/// not set): for the owner's one-time jobs such as `store migrate-to`.
#[allow(dead_code)]
pub fn owner_conn(cluster: &Cluster) -> PgConn {
    owner_conn_to(cluster, DB)
}

/// [`owner_conn`] to another database of the cluster (one the owner owns).
#[allow(dead_code)]
pub fn owner_conn_to(cluster: &Cluster, db: &str) -> PgConn {
    let cfg = PgConfig::parse(&cluster.url(OWNER, PASSWORD, db, "verify-full"))
        .expect("the harness URL parses")
        .with_ca_file(cluster.ca_file());
    let password = Sensitive::new(PASSWORD.to_string());
    PgConn::connect(&cfg, Some(&password)).expect("the owner connects")
}
