//! App state: the shared store (opened lazily on first use so start-up does no disk I/O and a
//! broken store shows as an error in the window instead of a crash), the token store, the cancel
//! handle of a sign-in in progress, and the embedded sandbox when someone explores with it.
//!
//! Which store: `tsched_core::store::location` decides, as for the CLI (`TSCHED_DATABASE_URL`,
//! else the data directory's `store.toml`, else the embedded SQLite file); a team database's
//! password comes from its URL or the OS keyring (`teams-scheduler-database`). On a team
//! database the database login is who acts ([`Via::Database`]): the Microsoft sign-in and
//! `TSCHED_OPERATOR` do not apply there.
//!
//! The store stays open between commands: one SQLite connection, or one PostgreSQL session
//! (measured on loopback, debug build: a verify-full TLS connect, SCRAM login and schema check
//! ~110 ms against ~0.5 ms for a query on the open session; `commands::store`'s tests), opened
//! again when the server has closed it.
//!
//! The store lock is held only for short store steps, never across a browser wait or a network
//! call: the integration commands take it for `prepare` and `save` and drop it in between.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tsched_core::auth::{CancelHandle, KeyringTokenStore, TokenStore};
use tsched_core::secret::Sensitive;
use tsched_core::store::location::{self, Location};
use tsched_core::{Actor, Error, Store};
use tsched_sandbox::RunningSandbox;

/// How the window's operator came to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// `TSCHED_OPERATOR` at start-up, honoured only under the test-only impersonation switch
    /// (`TSCHED_TEST_IMPERSONATION=1`): not verified, and audited as impersonation.
    Environment,
    /// Signed in with their Microsoft account in this window.
    SignIn,
    /// The host account that signed in while connecting the integration ended setup mode.
    IntegrationConnect,
    /// The team database's login: on a shared store the server knows the operator by it.
    Database,
}

/// The operator acting in this window. Only who they are: no token outlives the sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowOperator {
    /// Their UPN.
    pub upn: String,
    /// How they came to act.
    pub via: Via,
}

/// State managed by Tauri.
#[derive(Debug)]
pub struct AppState {
    data_dir: Option<PathBuf>,
    operator: Mutex<Option<WindowOperator>>,
    store: Mutex<Option<Store>>,
    tokens: Arc<dyn TokenStore>,
    /// Where team-database passwords are saved (the OS keyring under
    /// `location::KEYRING_SERVICE`; tests use an in-memory one).
    passwords: Arc<dyn TokenStore>,
    /// `TSCHED_DATABASE_URL` as it was at start-up (tests give their own).
    database_url: Option<String>,
    sign_in: Mutex<Option<CancelHandle>>,
    sandbox: Mutex<Option<RunningSandbox>>,
    /// The window's live updates from a shared store.
    live: crate::commands::live::Live,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves plain data behind; carry on with it.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AppState {
    /// State for the given data directory (`None`: the platform has none and none was given),
    /// acting as `TSCHED_OPERATOR`, with the OS keyring.
    pub fn new(data_dir: Option<PathBuf>) -> Self {
        // Like the CLI's --as: TSCHED_OPERATOR names the acting operator, but only under the
        // test-only switch (and every audit row then names the real local user too). Otherwise
        // the window starts signed out (the local user acts only in setup mode) and the
        // operator proves who they are by signing in from the header.
        let operator = std::env::var("TSCHED_OPERATOR")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .filter(|_| tsched_core::operators::impersonation_allowed());
        Self::with(data_dir, operator, Arc::new(KeyringTokenStore::default())).with_database(
            std::env::var(location::DATABASE_URL_ENV).ok(),
            Arc::new(location::keyring()),
        )
    }

    /// State with an explicit operator and token store (tests use an in-memory one).
    pub fn with(
        data_dir: Option<PathBuf>,
        operator: Option<String>,
        tokens: Arc<dyn TokenStore>,
    ) -> Self {
        Self {
            data_dir,
            operator: Mutex::new(operator.map(|upn| WindowOperator {
                upn,
                via: Via::Environment,
            })),
            store: Mutex::new(None),
            tokens,
            passwords: Arc::new(tsched_core::auth::MemoryTokenStore::default()),
            database_url: None,
            sign_in: Mutex::new(None),
            sandbox: Mutex::new(None),
            live: Default::default(),
        }
    }

    /// The same state whose store is chosen with `database_url` as `TSCHED_DATABASE_URL` and
    /// whose team-database passwords are kept in `passwords`.
    pub fn with_database(
        mut self,
        database_url: Option<String>,
        passwords: Arc<dyn TokenStore>,
    ) -> Self {
        self.database_url = database_url;
        self.passwords = passwords;
        self
    }

    /// The operator acting in this window, if one is signed in (or named by the environment).
    pub fn operator(&self) -> Option<String> {
        lock(&self.operator).as_ref().map(|o| o.upn.clone())
    }

    /// The operator with how they came to act.
    pub fn window_operator(&self) -> Option<WindowOperator> {
        lock(&self.operator).clone()
    }

    /// Makes `upn` the acting operator (after a sign-in matched the roster).
    pub fn set_operator(&self, upn: String, via: Via) {
        *lock(&self.operator) = Some(WindowOperator { upn, via });
    }

    /// Signs the window out: nobody acts until someone signs in (or setup mode).
    pub fn clear_operator(&self) {
        lock(&self.operator).take();
    }

    /// The data directory, for display.
    pub fn data_dir(&self) -> Option<&PathBuf> {
        self.data_dir.as_ref()
    }

    /// Where the host's refresh token lives.
    pub fn tokens(&self) -> &Arc<dyn TokenStore> {
        &self.tokens
    }

    /// Where team-database passwords are saved.
    pub fn passwords(&self) -> &Arc<dyn TokenStore> {
        &self.passwords
    }

    /// `TSCHED_DATABASE_URL` as this window saw it at start-up (may hold a password: never
    /// show it).
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    /// The data directory, or the error that says how to name one.
    pub fn require_data_dir(&self) -> Result<&PathBuf, Error> {
        self.data_dir.as_ref().ok_or_else(|| Error::Invalid {
            field: "data_dir",
            reason: "no data directory: start the app with --data-dir or set TSCHED_DATA_DIR"
                .into(),
        })
    }

    /// Which store this window works with (see the module doc).
    pub fn location(&self) -> Result<Location, Error> {
        location::resolve_with(None, self.database_url.as_deref(), self.require_data_dir()?)
    }

    /// Runs `f` with the store, opening it first if needed (again when a team database closed
    /// the session). A failed open is retried next call.
    pub fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut guard = lock(&self.store);
        if guard.as_ref().is_some_and(Store::is_disconnected) {
            tracing::info!("the team database closed the session; connecting again");
            guard.take();
        }
        if guard.is_none() {
            let (store, password) = open_location(&self.location()?, self.passwords.as_ref())?;
            // The change feed logs in on a session of its own, with the same password.
            self.live.set_password(password);
            *guard = Some(store);
        }
        let store = guard.as_mut().expect("invariant: opened just above");
        f(store)
    }

    /// Closes the store and stops the live updates, after the data directory was pointed at
    /// another store: the next command opens the new one. Whoever acted leaves too (an operator
    /// proven against one store is not proven against another).
    pub fn store_changed(&self) {
        lock(&self.store).take();
        self.live.stop();
        self.live.set_password(None);
        self.clear_operator();
    }

    /// Runs `f` with the store and the acting operator (or the local user in setup mode).
    pub fn with_actor<T>(
        &self,
        f: impl FnOnce(&mut Store, &Actor) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.with_store(|s| {
            let actor = actor_in(s, self.window_operator().as_ref())?;
            f(s, &actor)
        })
    }

    /// Registers the cancel handle of a sign-in that starts now; `Conflict` if one is running.
    pub fn begin_sign_in(&self, handle: CancelHandle) -> Result<(), Error> {
        let mut slot = lock(&self.sign_in);
        if slot.is_some() {
            return Err(Error::Conflict(
                "a sign-in is already in progress; finish it in the browser or cancel it first"
                    .into(),
            ));
        }
        *slot = Some(handle);
        Ok(())
    }

    /// Registers a sign-in like [`AppState::begin_sign_in`]; the returned guard ends it when
    /// dropped, so "signing in" covers the whole connect (browser, profile, save, who acts) and
    /// a page watching it never sees the end before the outcome is recorded.
    pub fn sign_in_running(&self, handle: CancelHandle) -> Result<SignInRunning<'_>, Error> {
        self.begin_sign_in(handle)?;
        Ok(SignInRunning(self))
    }

    /// Forgets the running sign-in (it ended).
    pub fn end_sign_in(&self) {
        lock(&self.sign_in).take();
    }

    /// Whether a sign-in is waiting for the browser.
    pub fn signing_in(&self) -> bool {
        lock(&self.sign_in).is_some()
    }

    /// Cancels the running sign-in; false when none was running.
    pub fn cancel_sign_in(&self) -> bool {
        match lock(&self.sign_in).as_ref() {
            Some(h) => {
                h.cancel();
                true
            }
            None => false,
        }
    }

    /// The window's live updates (a shared store's changes made elsewhere).
    pub fn live(&self) -> &crate::commands::live::Live {
        &self.live
    }

    /// The embedded sandbox slot (started by "Explore with the sandbox tenant").
    pub fn sandbox(&self) -> MutexGuard<'_, Option<RunningSandbox>> {
        lock(&self.sandbox)
    }
}

/// Opens the store `location` names; for a team database also returns the password it logged
/// in with when it came from the keyring (`None` when the URL carries its own), for the feed.
pub fn open_location(
    location: &Location,
    passwords: &dyn TokenStore,
) -> Result<(Store, Option<Sensitive<String>>), Error> {
    let store = location::open(location, passwords)?;
    let password = location::session_password(location, passwords)?;
    Ok((store, password))
}

/// Who acts in `store` for the window's operator. On a team database: its login, always, and
/// an environment-named operator (`TSCHED_OPERATOR`) is refused rather than half-honoured (the
/// server acts as the login whatever the window says). On the embedded store: a signed-in
/// operator (proven in this process), an environment-named one as impersonation (the switch was
/// checked at start-up), or nobody (the local user in setup mode, else "sign in first").
pub fn actor_in(store: &Store, operator: Option<&WindowOperator>) -> Result<Actor, Error> {
    let named = operator
        .filter(|w| w.via == Via::Environment)
        .map(|w| w.upn.as_str());
    if let Some(acting) = location::shared_actor(store, named) {
        return acting;
    }
    match operator {
        Some(WindowOperator {
            upn,
            via: Via::Environment,
        }) => tsched_core::operators::impersonated_actor(store, upn, true),
        Some(w) => tsched_core::operators::actor_for(store, Some(&w.upn)),
        None => tsched_core::operators::actor_for(store, None),
    }
}

/// A running sign-in; dropping it ends it (see [`AppState::sign_in_running`]).
#[derive(Debug)]
pub struct SignInRunning<'a>(&'a AppState);

impl Drop for SignInRunning<'_> {
    fn drop(&mut self) {
        self.0.end_sign_in();
    }
}

/// The embedded sandbox's facts, to fill the connect form.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxInfo {
    /// Base URL (authority base).
    pub base_url: String,
    /// Its tenant id.
    pub tenant_id: String,
    /// Its public client's id.
    pub client_id: String,
    /// Its host account.
    pub host_upn: Option<String>,
}

/// The running sandbox's facts.
pub fn sandbox_info(sb: &RunningSandbox) -> SandboxInfo {
    let h = sb.handle();
    SandboxInfo {
        base_url: sb.base_url().to_string(),
        tenant_id: h.tenant_id(),
        client_id: h.client_id(),
        host_upn: h.host_upn(),
    }
}
