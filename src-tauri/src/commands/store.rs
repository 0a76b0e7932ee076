//! Which store this workstation works with, from the window (the Integration page's "Store"
//! card): the embedded SQLite file or a team's PostgreSQL database, its login, schema version
//! and whether it answers; pointing the data directory at a team database (the password is
//! checked by connecting and saved in the OS keyring, never in `store.toml`) and back to the
//! embedded store. The same rules as `tsched store use | status | forget`
//! (`tsched_core::store::location`).
//!
//! No role is asked: `store.toml` belongs to this data directory's user (the CLI asks none
//! either), and on a team database the server enforces every role whatever the window chose.
//! After a change the window reloads (`ui/pages/store_card.js`): every page, the header and the
//! live updates start over on the new store.

use serde::{Deserialize, Serialize};
use tauri::State;
use tsched_core::secret::Sensitive;
use tsched_core::store::location::{self, Location, Source};
use tsched_core::store::postgres::PgConfig;
use tsched_core::Error;

use super::{blank_none, invalid, CmdResult};
use crate::state::AppState;

/// What the Store card shows. Never a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreStatus {
    /// `embedded`, `shared`, or `unknown` when the settings could not be read.
    pub store: &'static str,
    /// Which setting chose it (`env`, `config_file`, `default`).
    pub source: Option<Source>,
    /// The database file, or the team database's URL without its password.
    pub address: Option<String>,
    /// The database login (team database only).
    pub login: Option<String>,
    /// The schema version the store holds, when it opened.
    pub schema_version: Option<i64>,
    /// Whether the store opened and answered.
    pub reachable: bool,
    /// Why not, in one line.
    pub error: Option<String>,
    /// False while `TSCHED_DATABASE_URL` names the store: it wins over `store.toml`, so the
    /// window cannot change it.
    pub can_change: bool,
}

/// Builds the [`StoreStatus`]; opens the store (or reuses the open one) to read its version.
pub fn status_inner(state: &AppState) -> StoreStatus {
    let can_change = state.database_url().is_none_or(|u| u.trim().is_empty());
    let loc = match state.location() {
        Ok(l) => l,
        Err(e) => {
            return StoreStatus {
                store: "unknown",
                source: None,
                address: None,
                login: None,
                schema_version: None,
                reachable: false,
                error: Some(one_line(&e)),
                can_change,
            }
        }
    };
    let version = state.with_store(|s| location::schema_version(s));
    let (schema_version, error) = match version {
        Ok(v) => (Some(v), None),
        Err(e) => (None, Some(one_line(&e))),
    };
    StoreStatus {
        store: if loc.is_shared() {
            "shared"
        } else {
            "embedded"
        },
        source: Some(loc.source()),
        address: Some(loc.address()),
        login: match &loc {
            Location::Shared { config, .. } => Some(config.user.clone()),
            Location::Embedded { .. } => None,
        },
        schema_version,
        reachable: error.is_none(),
        error,
        can_change,
    }
}

fn one_line(e: &Error) -> String {
    e.to_string().replace(['\r', '\n'], " ")
}

/// The team database to work with, from the Store card.
#[derive(Clone, Default, Deserialize)]
pub struct StoreUseInput {
    /// `postgres://login@host:port/database?sslmode=verify-full` (a password in it is moved
    /// to the keyring like [`StoreUseInput::password`]).
    pub url: String,
    /// The server's CA certificate file (PEM), for `verify-full` with a private CA.
    pub ca_file: Option<String>,
    /// The login's password: checked by connecting, then saved in the OS keyring.
    pub password: Option<String>,
}

impl std::fmt::Debug for StoreUseInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password too: neither is shown.
        f.debug_struct("StoreUseInput")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

fn changeable(state: &AppState) -> Result<(), Error> {
    if state.database_url().is_some_and(|u| !u.trim().is_empty()) {
        return Err(invalid(
            "store",
            format!(
                "{} names this window's store and wins over the saved choice; unset it and start the app again to choose here",
                location::DATABASE_URL_ENV
            ),
        ));
    }
    Ok(())
}

/// Points the data directory at a team database (see [`location::use_database`]); nothing is
/// saved when the password is refused. The window's store is then the new one.
pub fn use_inner(state: &AppState, input: StoreUseInput) -> Result<StoreStatus, Error> {
    changeable(state)?;
    let dir = state.require_data_dir()?.clone();
    let url = input.url.trim();
    if url.is_empty() {
        return Err(invalid(
            "url",
            "give the team database's address: postgres://login@host:port/database",
        ));
    }
    let mut cfg = PgConfig::parse(url)?;
    if let Some(ca) = blank_none(input.ca_file) {
        cfg = cfg.with_ca_file(ca);
    }
    let password = input.password.filter(|p| !p.is_empty()).map(Sensitive::new);
    location::use_database(&dir, &cfg, password.as_ref(), state.passwords().as_ref())?;
    tracing::info!(database = %location::url_of(&cfg), "the window now works with a team database");
    state.store_changed();
    Ok(status_inner(state))
}

/// Back to the embedded store: removes `store.toml` and the saved password (the file goes even
/// when the keyring cannot be reached; that failure is reported afterwards).
pub fn forget_inner(state: &AppState) -> Result<StoreStatus, Error> {
    changeable(state)?;
    let dir = state.require_data_dir()?.clone();
    let saved = location::read_saved(&dir).ok().flatten();
    let keyring = match &saved {
        Some(cfg) => location::forget_password(state.passwords().as_ref(), cfg),
        None => Ok(()),
    };
    location::forget(&dir)?;
    state.store_changed();
    keyring?;
    tracing::info!("the window works with the embedded store again");
    Ok(status_inner(state))
}

/// Which store, its login and version, and whether it answers.
#[tauri::command(async)]
pub fn store_status(state: State<'_, AppState>) -> CmdResult<StoreStatus> {
    Ok(status_inner(&state))
}

/// Works with a team database from now on (see [`use_inner`]).
#[tauri::command(async)]
pub fn store_use(state: State<'_, AppState>, input: StoreUseInput) -> CmdResult<StoreStatus> {
    Ok(use_inner(&state, input)?)
}

/// Works with the embedded store again (see [`forget_inner`]).
#[tauri::command(async)]
pub fn store_forget(state: State<'_, AppState>) -> CmdResult<StoreStatus> {
    Ok(forget_inner(&state)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;
    use tsched_core::auth::MemoryTokenStore;
    use tsched_pgtest::Cluster;

    const OWNER: &str = "tsched_owner";
    const OWNER_PW: &str = "owner-Pw-9";
    const ADMIN: &str = "ana@contoso.com";
    const ADMIN_PW: &str = "Ana-S3cret-pw";

    /// A cluster with a team database made by `store init` (the owner) whose first global admin
    /// has a password.
    fn team_database() -> Cluster {
        let cluster = Cluster::start();
        cluster.create_login(OWNER, OWNER_PW);
        cluster.superuser_sql("postgres", &format!("ALTER ROLE {OWNER} CREATEROLE;"));
        cluster.create_database("tsched", Some(OWNER));
        let owner = PgConfig::parse(&cluster.url(OWNER, OWNER_PW, "tsched", "verify-full"))
            .expect("the harness URL parses")
            .with_ca_file(cluster.ca_file());
        location::init_team_database(&owner, None, Some((ADMIN, "Ana")))
            .expect("store init with the first global admin");
        cluster.superuser_sql(
            "postgres",
            &format!("SET password_encryption = 'scram-sha-256'; ALTER ROLE \"{ADMIN}\" PASSWORD '{ADMIN_PW}';"),
        );
        cluster
    }

    /// The admin's URL, without a password.
    fn admin_url(cluster: &Cluster) -> String {
        format!(
            "postgres://{}@{}:{}/tsched?sslmode=verify-full",
            ADMIN.replace('@', "%40"),
            cluster.host(),
            cluster.port()
        )
    }

    fn app(dir: &std::path::Path, operator: Option<&str>) -> (AppState, Arc<MemoryTokenStore>) {
        let passwords = Arc::new(MemoryTokenStore::default());
        let state = AppState::with(
            Some(dir.to_path_buf()),
            operator.map(str::to_string),
            Arc::new(MemoryTokenStore::default()),
        )
        .with_database(None, passwords.clone());
        (state, passwords)
    }

    fn use_input(cluster: &Cluster, password: &str) -> StoreUseInput {
        StoreUseInput {
            url: admin_url(cluster),
            ca_file: Some(cluster.ca_file().display().to_string()),
            password: Some(password.into()),
        }
    }

    #[test]
    fn the_window_moves_to_a_team_database_acts_as_its_login_and_comes_back() {
        let cluster = team_database();
        let dir = tempfile::tempdir().expect("tempdir");
        let (state, passwords) = app(dir.path(), None);

        let before = status_inner(&state);
        assert_eq!(
            (before.store, before.reachable, before.can_change),
            ("embedded", true, true),
            "without a URL the window works with the embedded file: {before:?}"
        );
        assert!(
            before.schema_version.is_some() && before.login.is_none(),
            "the embedded store has a version and no login: {before:?}"
        );

        // A wrong password: refused in one line without repeating it, nothing saved.
        let err = use_inner(&state, use_input(&cluster, "Wrong-pw-1")).expect_err("refused");
        let msg = err.to_string();
        assert!(
            msg.contains("password authentication failed") && !msg.contains("Wrong-pw-1"),
            "the refusal says why and never shows the password: {msg}"
        );
        assert!(
            !location::config_path(dir.path()).exists() && passwords.is_empty(),
            "a refused password saves neither store.toml nor a keyring entry"
        );
        assert_eq!(
            status_inner(&state).store,
            "embedded",
            "the window stays on the embedded store"
        );

        let after = use_inner(&state, use_input(&cluster, ADMIN_PW)).expect("store_use");
        assert_eq!(
            (after.store, after.source, after.login.as_deref()),
            ("shared", Some(Source::ConfigFile), Some(ADMIN)),
            "the window now works with the team database as the admin's login: {after:?}"
        );
        assert!(
            after.reachable
                && after.schema_version == Some(tsched_core::store::postgres::SCHEMA_VERSION),
            "the team database answers with its schema version: {after:?}"
        );
        let shown = serde_json::to_string(&after).expect("serializes");
        let file = std::fs::read_to_string(location::config_path(dir.path())).expect("store.toml");
        assert!(
            !shown.contains(ADMIN_PW) && !file.contains(ADMIN_PW),
            "the password is neither shown nor written to store.toml: {shown} / {file}"
        );
        assert_eq!(
            passwords.len(),
            1,
            "the checked password is kept in the keyring"
        );

        // The database login acts; the header says so and offers no Microsoft sign-in.
        let actor = state
            .with_actor(|_, a| Ok(a.clone()))
            .expect("the login acts");
        assert_eq!(
            actor.operator_upn.as_deref(),
            Some(ADMIN),
            "on a team database the database login is the operator"
        );
        let session = super::super::app::session_inner(&state);
        assert_eq!(
            (
                session.operator.as_deref(),
                session.via,
                session.global_admin,
                session.can_sign_in
            ),
            (Some(ADMIN), Some(crate::state::Via::Database), true, false),
            "the header shows the login as a global admin, acting through the database"
        );
        let p = tsched_core::programs::NewProgram {
            name: "Engineering".into(),
            code: Some("eng".into()),
            description: None,
        };
        state
            .with_actor(|s, a| tsched_core::programs::add(s, a, p).map(|_| ()))
            .expect("the admin adds a program through the team database");
        let who = cluster.superuser_sql(
            "tsched",
            "SELECT operator FROM tsched.audit_log WHERE action LIKE 'program%' ORDER BY id DESC LIMIT 1;",
        );
        assert_eq!(
            who.trim(),
            ADMIN,
            "the server audits the change as the database login"
        );

        let back = forget_inner(&state).expect("store_forget");
        assert_eq!(
            (back.store, back.reachable),
            ("embedded", true),
            "forgetting returns the window to the embedded store: {back:?}"
        );
        assert!(
            passwords.is_empty() && !location::config_path(dir.path()).exists(),
            "forgetting deletes the saved password and store.toml"
        );
        let programs = state
            .with_actor(|s, a| tsched_core::programs::list(s, a, &Default::default()))
            .expect("the embedded store lists its programs");
        assert!(
            programs.is_empty(),
            "the embedded store never held the team database's program: {programs:?}"
        );
    }

    #[test]
    fn an_operator_named_by_the_environment_is_refused_on_a_team_database() {
        let cluster = team_database();
        let dir = tempfile::tempdir().expect("tempdir");
        let (state, passwords) = app(dir.path(), Some("bob@contoso.com"));
        location::use_database(
            dir.path(),
            &PgConfig::parse(&admin_url(&cluster))
                .expect("valid")
                .with_ca_file(cluster.ca_file()),
            Some(&Sensitive::new(ADMIN_PW.to_string())),
            passwords.as_ref(),
        )
        .expect("store use");
        let err = state
            .with_actor(|_, a| Ok(a.clone()))
            .expect_err("TSCHED_OPERATOR cannot name someone else on a team database");
        assert!(
            matches!(&err, Error::Denied(m) if m == location::AS_REFUSED),
            "the impersonation is refused, not half-honoured: {err}"
        );
    }

    #[test]
    fn a_url_in_the_environment_wins_and_the_window_cannot_change_it() {
        let cluster = team_database();
        let dir = tempfile::tempdir().expect("tempdir");
        let with_pw = format!(
            "{}&sslrootcert={}",
            admin_url(&cluster).replace("%40contoso.com@", &format!("%40contoso.com:{ADMIN_PW}@")),
            cluster.ca_file().display()
        );
        let passwords = Arc::new(MemoryTokenStore::default());
        let state = AppState::with(
            Some(dir.path().to_path_buf()),
            None,
            Arc::new(MemoryTokenStore::default()),
        )
        .with_database(Some(with_pw), passwords.clone());
        let s = status_inner(&state);
        assert_eq!(
            (s.store, s.source, s.reachable, s.can_change),
            ("shared", Some(Source::Env), true, false),
            "TSCHED_DATABASE_URL (with its password) opens the team database without a keyring: {s:?}"
        );
        assert!(
            !serde_json::to_string(&s)
                .expect("serializes")
                .contains(ADMIN_PW),
            "the status never shows the URL's password"
        );
        let err = use_inner(&state, use_input(&cluster, ADMIN_PW)).expect_err("refused");
        assert!(
            err.to_string().contains("TSCHED_DATABASE_URL"),
            "the refusal names the setting that wins: {err}"
        );
        assert!(
            forget_inner(&state).is_err(),
            "forgetting is refused too while the environment names the store"
        );
        assert!(
            passwords.is_empty(),
            "nothing reached the keyring: the URL carries its own password"
        );
    }

    #[test]
    fn a_closed_team_database_session_is_opened_again() {
        let cluster = team_database();
        let dir = tempfile::tempdir().expect("tempdir");
        let (state, _passwords) = app(dir.path(), None);
        use_inner(&state, use_input(&cluster, ADMIN_PW)).expect("store_use");
        assert!(status_inner(&state).reachable, "the session is open");
        cluster.superuser_sql(
            "postgres",
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{ADMIN}';"
            ),
        );
        // The client learns of the end asynchronously; give it a moment.
        let deadline = Instant::now() + std::time::Duration::from_secs(2);
        while !state
            .with_store(|s| Ok(s.is_disconnected()))
            .unwrap_or(false)
            && Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let s = status_inner(&state);
        assert!(
            s.reachable,
            "after the server ended the session the next command connects again: {s:?}"
        );
    }

    /// Measures what a connect costs, to back keeping one session open (state.rs).
    #[test]
    fn a_tls_connect_and_login_costs_more_than_a_query_on_an_open_session() {
        let cluster = team_database();
        let cfg = PgConfig::parse(&admin_url(&cluster))
            .expect("valid")
            .with_ca_file(cluster.ca_file());
        let pw = Sensitive::new(ADMIN_PW.to_string());
        let t = Instant::now();
        let n = 5;
        for _ in 0..n {
            tsched_core::Store::open_postgres(&cfg, Some(&pw)).expect("opens");
        }
        let connect = t.elapsed() / n;
        let store = tsched_core::Store::open_postgres(&cfg, Some(&pw)).expect("opens");
        let t = Instant::now();
        for _ in 0..n {
            location::schema_version(&store).expect("query");
        }
        let query = t.elapsed() / n;
        eprintln!(
            "verify-full TLS connect + login + schema check: {connect:?}; a query: {query:?}"
        );
        assert!(
            connect > query,
            "opening a session ({connect:?}) costs more than a query on an open one ({query:?})"
        );
    }
}
