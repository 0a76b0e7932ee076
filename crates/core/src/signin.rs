//! Operator sign-in: who is acting. An operator signs in with their own Microsoft account through
//! the same loopback flow as the integration (scopes [`OPERATOR_SCOPE`]); `GET /me` gives their
//! object id and UPN in the tenant, which [`operators::bootstrap_or_match`] matches to the roster
//! (or, in setup mode, makes the first global admin — audited).
//!
//! Split like `integration`: [`prepare`] (reads settings, no network) → [`sign_in`] (browser +
//! network, no store) → [`complete`] (roster match in one transaction). What happens to the
//! tokens afterwards is the front end's choice:
//! - the window keeps the operator in memory for the life of the process and drops every token
//!   at once ([`SignedIn`] is consumed by [`complete`]);
//! - the CLI ([`save_cli_session`]) keeps the refresh token in the OS keyring under its own
//!   account (`operator/{store}/{cloud}@{authority}/{tenant}/{object id}`, never the host's) so
//!   scripts run unattended, and the non-secret session (who, which tenant) in the `settings`
//!   table. [`logout`] forgets both.
//!
//! The session in the store is only a claim: anyone who can write the data directory can write
//! it. [`cli_actor`] proves it at every use — the refresh token must be in *this* OS user's
//! keyring under the account bound to this data directory and the session's authority, a
//! refresh must succeed, and `/me` must be the session's account — before the CLI acts as them.
//!
//! Operators sign in only to the connected integration's cloud and tenant ([`prepare`]); a
//! sandbox sign-in is possible only when the integration is a sandbox, or in setup mode (where
//! the local user may do everything anyway). The tenant of the sign-in is read from the ID token
//! received straight from that authority's token endpoint over the connection this process
//! opened (OpenID Connect Core §3.1.3.7: TLS to the issuer stands in for the signature check).
//!
//! This module never stores an access token, and no token reaches a message, a log or the store.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::auth::consent::{self, TenantUse, OPERATOR_SCOPE};
use crate::auth::flow::{self, ConnectProgress, FlowConfig, Purpose};
use crate::auth::keyring::{self as kr, TokenStore};
use crate::auth::tokens::{http_client, token_url, RefreshConfig, TokenManager};
use crate::auth::{AuthError, BrowserOpener, CancelToken, Cloud, RedirectSpec};
use crate::error::Error;
use crate::graph::users::{self, Me};
use crate::graph::GraphClient;
use crate::operators::{self, Operator};
use crate::secret::Sensitive;
use crate::store::integration::{self as integration_table, RowState};
use crate::store::Store;

/// The `settings` key of the CLI's signed-in session (no secret in it).
pub const SETTING_CLI_SESSION: &str = "cli.session";

/// Input of [`prepare`]. Every field may be left empty when the integration is (or was)
/// connected: the operator then signs in to the same tenant, cloud and app registration.
#[derive(Debug, Clone, Default)]
pub struct SignInRequest {
    /// Tenant id (GUID) or verified domain.
    pub tenant: Option<String>,
    /// Cloud.
    pub cloud: Option<Cloud>,
    /// Application (client) id.
    pub client_id: Option<String>,
    /// Loopback redirect URI.
    pub redirect_uri: Option<String>,
    /// Browser wait; [`flow::DEFAULT_TIMEOUT`] when `None`.
    pub timeout: Option<Duration>,
    /// Pre-fills the account picker.
    pub login_hint: Option<String>,
}

/// A validated sign-in, ready for [`sign_in`].
#[derive(Debug, Clone)]
pub struct PreparedSignIn {
    cloud: Cloud,
    flow: FlowConfig,
}

impl PreparedSignIn {
    /// The tenant signed in to (id or domain as given).
    pub fn tenant(&self) -> &str {
        &self.flow.tenant
    }
}

/// The outcome of the browser leg and `/me`. Holds the refresh token: never serialized, and
/// consumed by [`complete`] / [`save_cli_session`].
#[derive(Debug)]
pub struct SignedIn {
    cloud: Cloud,
    flow: FlowConfig,
    tenant_id: String,
    me: Me,
    refresh_token: Option<Sensitive<String>>,
}

impl SignedIn {
    /// The account that signed in.
    pub fn me(&self) -> &Me {
        &self.me
    }
}

/// Who is signed in, as front ends show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    /// The operator's UPN (as on the roster).
    pub upn: String,
    /// Display name.
    pub display_name: String,
    /// Directory object id.
    pub object_id: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Cloud name.
    pub cloud: String,
    /// Roles, e.g. `global-admin`, `track-admin:MENT`.
    pub roles: Vec<String>,
    /// When they signed in (UTC, RFC 3339).
    pub signed_in_at: String,
    /// True when this sign-in made them the first global admin (ending setup mode).
    pub bootstrapped: bool,
}

/// What the CLI keeps in the `settings` table between runs. No secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CliSession {
    /// Operator UPN.
    pub upn: String,
    /// Directory object id.
    pub object_id: String,
    /// Display name.
    pub display_name: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Cloud name.
    pub cloud: String,
    /// Identity platform base (for refreshing).
    pub authority_base: String,
    /// Graph base (for `/me`).
    pub graph_base: String,
    /// Application (client) id.
    pub client_id: String,
    /// Keyring account of the operator's refresh token, if one is kept.
    pub keyring_account: Option<String>,
    /// When they signed in.
    pub signed_in_at: String,
}

/// The keyring account of an operator's refresh token in this store (distinct from the host's,
/// bound to the data directory and the authority like it, see `auth::keyring`).
pub fn keyring_account(store: &Store, cloud: &Cloud, tenant_id: &str, object_id: &str) -> String {
    format!(
        "operator/{}",
        kr::account(&kr::Binding::new(store.path(), cloud), tenant_id, object_id)
    )
}

/// The account earlier versions used, read once to move an entry under [`keyring_account`].
fn legacy_keyring_account(cloud: &str, tenant_id: &str, object_id: &str) -> String {
    format!("operator/{cloud}/{tenant_id}/{object_id}")
}

/// Validates a request, filling tenant, cloud and client id from the integration row.
///
/// The cloud is the integration's: a request naming another one is refused. Without an
/// integration a Microsoft cloud may be named; a sandbox only in setup mode (otherwise a local
/// sandbox seeded with a victim's name would sign in "as" them).
pub fn prepare(store: &Store, req: &SignInRequest) -> Result<PreparedSignIn, Error> {
    let row = store.tables().integration_get()?;
    let stored = row
        .as_ref()
        .map(|r| Cloud::from_stored(&r.cloud, &r.authority_base))
        .transpose()
        .map_err(|e| Error::invalid("cloud", e))?;
    let cloud = match (&req.cloud, stored) {
        (Some(asked), Some(stored)) if *asked != stored => {
            return Err(Error::Denied(format!(
                "operators sign in to the integration's cloud ({stored}), not {asked}; leave the cloud out"
            )))
        }
        (_, Some(stored)) => stored,
        (Some(asked), None) => {
            if asked.is_sandbox() && !operators::is_setup_mode(store)? {
                return Err(Error::Denied(format!(
                    "signing in to {asked} is refused: a sandbox sign-in is possible only when the integration is connected to that sandbox, or in setup mode"
                )));
            }
            asked.clone()
        }
        (None, None) => Cloud::Global,
    };
    if let (Some(r), Some(t)) = (
        row.as_ref().filter(|r| r.state != RowState::Removed),
        req.tenant
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty()),
    ) {
        if !t.eq_ignore_ascii_case(&r.tenant_id) {
            return Err(Error::Denied(format!(
                "operators sign in to the integration's tenant ({}), not {t}; leave the tenant out",
                r.tenant_id
            )));
        }
    }
    let tenant_raw = req
        .tenant
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .or_else(|| row.as_ref().map(|r| r.tenant_id.clone()))
        .ok_or_else(|| {
            Error::invalid(
                "tenant",
                "no tenant to sign in to: the integration is not connected, so name the tenant (id or verified domain)",
            )
        })?;
    let tenant = consent::validate_tenant(&tenant_raw, TenantUse::SignIn)
        .map_err(|r| Error::invalid("tenant", r))?;
    let client_raw = req
        .client_id
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .or_else(|| row.as_ref().map(|r| r.client_id.clone()))
        .or(store
            .tables()
            .setting(integration_table::SETTING_CLIENT_ID)?)
        .ok_or_else(|| {
            Error::invalid(
                "client_id",
                "no application (client) id: connect the integration first or pass the client id",
            )
        })?;
    let client_id = client_raw.trim().to_ascii_lowercase();
    if !consent::is_guid(&client_id) {
        return Err(Error::invalid(
            "client_id",
            format!("'{client_raw}' is not an application (client) id"),
        ));
    }
    let redirect = match req
        .redirect_uri
        .clone()
        .or(store
            .tables()
            .setting(integration_table::SETTING_REDIRECT_URI)?)
        .filter(|r| !r.trim().is_empty())
    {
        Some(r) => RedirectSpec::parse(&r).map_err(|e| Error::invalid("redirect_uri", e))?,
        None => RedirectSpec::default(),
    };
    Ok(PreparedSignIn {
        flow: FlowConfig {
            purpose: Purpose::Operator,
            endpoints: cloud.endpoints(),
            tenant,
            client_id,
            redirect,
            timeout: req.timeout.unwrap_or(flow::DEFAULT_TIMEOUT),
            login_hint: req.login_hint.clone(),
        },
        cloud,
    })
}

/// The browser leg and `GET /me`. Nothing is stored.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn sign_in(
    prepared: &PreparedSignIn,
    opener: &dyn BrowserOpener,
    cancel: CancelToken,
    progress: &(dyn Fn(ConnectProgress) + Send + Sync),
) -> Result<SignedIn, Error> {
    let f = &prepared.flow;
    let crate::identity::Account {
        tokens,
        me,
        tenant_id,
    } = crate::identity::sign_in(f, opener, cancel, progress, Error::from, |upn| {
        Error::Denied(format!(
            "{upn} is a guest account (#EXT#) in this tenant; operators sign in with their member account of the tenant"
        ))
    })
    .await?;
    Ok(SignedIn {
        cloud: prepared.cloud.clone(),
        flow: f.clone(),
        tenant_id,
        me,
        refresh_token: tokens.refresh_token.clone(),
    })
}

/// Refuses a sign-in to a different tenant than the connected integration's: operators are
/// people of the organization the app serves.
fn same_tenant(store: &Store, tenant_id: &str) -> Result<(), Error> {
    let row = store.tables().integration_get()?;
    match row.filter(|r| r.state != RowState::Removed) {
        Some(r) if !r.tenant_id.eq_ignore_ascii_case(tenant_id) => Err(Error::Denied(format!(
            "you signed in to tenant {tenant_id}, but this store is connected to tenant {}; sign in with your account of that tenant",
            r.tenant_id
        ))),
        _ => Ok(()),
    }
}

fn info(op: &Operator, signed: &SignedIn, at: &str, bootstrapped: bool) -> SessionInfo {
    SessionInfo {
        upn: op.upn.clone(),
        display_name: op.display_name.clone(),
        object_id: signed.me.id.clone(),
        tenant_id: signed.tenant_id.clone(),
        cloud: signed.cloud.name().to_string(),
        roles: op.roles.iter().map(ToString::to_string).collect(),
        signed_in_at: at.to_string(),
        bootstrapped,
    }
}

/// Matches the signed-in account to the roster (or bootstraps the first global admin in setup
/// mode). The window calls this and keeps only the returned [`SessionInfo`]: every token in
/// `signed` is dropped here.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub fn complete(store: &mut Store, signed: SignedIn) -> Result<SessionInfo, Error> {
    complete_ref(store, &signed)
}

fn complete_ref(store: &mut Store, signed: &SignedIn) -> Result<SessionInfo, Error> {
    same_tenant(store, &signed.tenant_id)?;
    let was_setup = operators::is_setup_mode(store)?;
    let me = &signed.me;
    let op = operators::bootstrap_or_match(
        store,
        &me.id,
        &me.user_principal_name,
        me.display_name.as_deref().unwrap_or(""),
    )?;
    let at = crate::time::now_db();
    Ok(info(&op, signed, &at, was_setup))
}

/// The CLI's `tsched login`: [`complete`], then the refresh token into the keyring under the
/// operator's own account and the session into the settings. A failure after the keyring write
/// takes the token back out.
pub fn save_cli_session(
    store: &mut Store,
    tokens: &dyn TokenStore,
    signed: SignedIn,
) -> Result<SessionInfo, Error> {
    let info = complete_ref(store, &signed)?;
    let account = keyring_account(store, &signed.cloud, &signed.tenant_id, &signed.me.id);
    let refresh = signed
        .refresh_token
        .as_ref()
        .ok_or(AuthError::NoRefreshToken)?;
    let previous = cli_session(store)?;
    tokens.set(&account, refresh)?;
    let session = CliSession {
        upn: info.upn.clone(),
        object_id: info.object_id.clone(),
        display_name: info.display_name.clone(),
        tenant_id: info.tenant_id.clone(),
        cloud: info.cloud.clone(),
        authority_base: signed.flow.endpoints.authority_base.clone(),
        graph_base: signed.flow.endpoints.graph_base.clone(),
        client_id: signed.flow.client_id.clone(),
        keyring_account: Some(account.clone()),
        signed_in_at: info.signed_in_at.clone(),
    };
    if let Err(e) = put_cli_session(store, Some(&session)) {
        let _ = tokens.delete(&account);
        return Err(e);
    }
    if let Some(old) = previous.as_ref().and_then(|p| session_account(store, p)) {
        if old != account {
            // The previous operator's token is no longer referenced by any session.
            let _ = tokens.delete(&old);
        }
    }
    Ok(info)
}

/// Records that the host account, which just connected the integration and so signed in, is the
/// CLI's session (no operator refresh token is kept for it: the host's own entry is the
/// integration's). Used when connecting ended setup mode.
pub fn adopt_host_as_cli_session(store: &mut Store, op: &Operator) -> Result<(), Error> {
    let row = store
        .tables()
        .integration_get()?
        .ok_or(Error::NotConnected)?;
    put_cli_session(
        store,
        Some(&CliSession {
            upn: op.upn.clone(),
            object_id: row.host_object_id.clone(),
            display_name: op.display_name.clone(),
            tenant_id: row.tenant_id.clone(),
            cloud: row.cloud.clone(),
            authority_base: row.authority_base.clone(),
            graph_base: row.graph_base.clone(),
            client_id: row.client_id.clone(),
            keyring_account: None,
            signed_in_at: crate::time::now_db(),
        }),
    )
}

/// The CLI's session, if any.
pub fn cli_session(store: &Store) -> Result<Option<CliSession>, Error> {
    let raw = store.tables().setting(SETTING_CLI_SESSION)?;
    match raw {
        None => Ok(None),
        Some(s) => serde_json::from_str(&s).map(Some).map_err(|e| {
            Error::invalid(
                "cli.session",
                format!("the saved sign-in cannot be read ({e}); run `tsched logout` then `tsched login`"),
            )
        }),
    }
}

fn put_cli_session(store: &mut Store, session: Option<&CliSession>) -> Result<(), Error> {
    store.write(|tx| -> Result<(), Error> {
        match session {
            Some(s) => {
                let json = serde_json::to_string(s).expect("invariant: session serializes");
                tx.setting_put(SETTING_CLI_SESSION, &json)?;
            }
            None => {
                tx.setting_delete(SETTING_CLI_SESSION)?;
            }
        }
        Ok(())
    })
}

/// `tsched logout`: forgets the CLI session and deletes the operator's refresh token from the
/// keyring. Returns who was signed in.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub fn logout(store: &mut Store, tokens: &dyn TokenStore) -> Result<Option<CliSession>, Error> {
    // An unreadable session is forgotten too.
    let session = cli_session(store).unwrap_or(None);
    if let Some(s) = session.as_ref().filter(|s| s.keyring_account.is_some()) {
        if let Some(account) = session_account(store, s) {
            tokens.delete(&account)?;
        }
        tokens.delete(&legacy_keyring_account(
            &s.cloud,
            &s.tenant_id,
            &s.object_id,
        ))?;
    }
    let exists = store.tables().setting(SETTING_CLI_SESSION)?.is_some();
    if exists {
        put_cli_session(store, None)?;
    }
    Ok(session)
}

/// The keyring account of a saved session's operator token, derived (never read from the
/// store): `None` for the adopted host session, or when its cloud cannot be read.
fn session_account(store: &Store, s: &CliSession) -> Option<String> {
    s.keyring_account.as_ref()?;
    let cloud = Cloud::from_stored(&s.cloud, &s.authority_base).ok()?;
    Some(keyring_account(store, &cloud, &s.tenant_id, &s.object_id))
}

/// Who a CLI run acts as.
///
/// - on a team's shared database, its login ([`crate::store::location::shared_actor`]);
///   `as_upn` is refused there;
/// - `as_upn` (`--as` / `TSCHED_OPERATOR`): [`operators::impersonated_actor`] — the local user
///   in setup mode, else only under the test-only switch, audited as impersonation.
/// - else the saved session, **proven** ([`prove_cli_session`]: this OS user's keyring holds
///   its refresh token for this data directory, a refresh works and `/me` is the same account);
/// - else the local user in setup mode, or `Denied` ("sign in first").
pub async fn cli_actor(
    store: &Store,
    tokens: Arc<dyn TokenStore>,
    as_upn: Option<&str>,
    switch_on: bool,
) -> Result<Actor, Error> {
    // A team database: its login is who acts (the sign-in below proves the embedded store's).
    if let Some(actor) = crate::store::location::shared_actor(store, as_upn) {
        return actor;
    }
    if let Some(upn) = as_upn.map(str::trim).filter(|u| !u.is_empty()) {
        return operators::impersonated_actor(store, upn, switch_on);
    }
    let Some(session) = cli_session(store)? else {
        return operators::actor_for(store, None);
    };
    if operators::is_setup_mode(store)? {
        // Nothing to prove: the local user may do everything (a left-over session of a store
        // whose roster was emptied acts as the local user).
        return Ok(Actor::local());
    }
    let proof = prove_cli_session(store, &session, tokens).await;
    if !proof.ok {
        return Err(Error::Denied(format!(
            "the saved sign-in of {} could not be proven on this machine: {}",
            session.upn,
            proof
                .reason
                .unwrap_or_else(|| "run `tsched login` again".into())
        )));
    }
    operators::actor_for(store, Some(&session.upn))
}

/// Proves a saved session: the operator's refresh token is in this OS user's keyring under the
/// account bound to this data directory and the session's authority (an entry of an earlier
/// version is moved there first), a refresh works, and `/me` is the session's account. For the
/// host session adopted when connecting ended setup mode, the integration's own entry is used.
/// Network; no store write. Endpoints come from the cloud, never from the session's URLs.
pub async fn prove_cli_session(
    store: &Store,
    session: &CliSession,
    tokens: Arc<dyn TokenStore>,
) -> Verification {
    let now = Utc::now();
    let fail = |reason: String| Verification {
        ok: false,
        reason: Some(reason),
        checked_at: now,
    };
    let graph = if session.keyring_account.is_none() {
        match crate::integration::session(store, tokens) {
            Ok(host) => host.graph().clone(),
            Err(e) => return fail(format!("{e}; run `tsched login`")),
        }
    } else {
        let cloud = match Cloud::from_stored(&session.cloud, &session.authority_base) {
            Ok(c) => c,
            Err(e) => return fail(format!("{e}; run `tsched logout` then `tsched login`")),
        };
        let account = keyring_account(store, &cloud, &session.tenant_id, &session.object_id);
        let legacy = legacy_keyring_account(&session.cloud, &session.tenant_id, &session.object_id);
        match kr::get_or_adopt(tokens.as_ref(), &account, &legacy) {
            Ok(Some(_)) => {}
            Ok(None) => {
                return fail(format!(
                    "this OS user's keyring holds no sign-in of {} for this data directory; run `tsched login`",
                    session.upn
                ))
            }
            Err(e) => return fail(format!("{e}; unlock the keyring or run `tsched login`")),
        }
        let endpoints = cloud.endpoints();
        let http = http_client();
        let manager = Arc::new(TokenManager::new(
            http.clone(),
            RefreshConfig {
                token_url: token_url(&endpoints.authority_base, &session.tenant_id),
                client_id: session.client_id.clone(),
                scope: OPERATOR_SCOPE.to_string(),
                account,
            },
            tokens,
        ));
        GraphClient::with_http(http, &endpoints.graph_base, manager)
    };
    match users::me(&graph).await {
        Ok(me) if me.value.id == session.object_id => Verification {
            ok: true,
            reason: None,
            checked_at: now,
        },
        Ok(me) => fail(format!(
            "the keyring's sign-in now belongs to {} — run `tsched login` again",
            me.value.user_principal_name
        )),
        Err(e) => fail(format!("{}; run `tsched login` again", Error::from(e))),
    }
}

/// Outcome of [`verify_cli_session`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// True when the refresh worked and `/me` is still the same account.
    pub ok: bool,
    /// What went wrong, in words a person can act on.
    pub reason: Option<String>,
    /// When checked.
    pub checked_at: DateTime<Utc>,
}

/// Refreshes the operator's token and re-reads `/me` (same object id): [`prove_cli_session`].
pub async fn verify_cli_session(
    store: &Store,
    session: &CliSession,
    tokens: Arc<dyn TokenStore>,
) -> Verification {
    prove_cli_session(store, session, tokens).await
}
