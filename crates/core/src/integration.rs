//! The tenant integration use cases: connect (host sign-in, or organization-wide approval then
//! host sign-in), status, check (refresh + `/me`), consent URL, and remove.
//!
//! Each use case is split so a front end never holds the store across a network wait:
//! `prepare` (reads settings, validates) → `sign_in` (async, browser + network, no store) →
//! `save` (keyring then one SQLite transaction with its audit row). [`connect`] chains the three
//! for the CLI. Ordering rule: the refresh token is written to the keyring before the row; if the
//! row cannot be written the keyring entry is deleted again, so nothing is ever half-saved.
//! Audit rows name tenant, host and scopes, never a secret.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::access::{self, Action};
use crate::actor::Actor;
use crate::auth::consent::{self, TenantUse};
use crate::auth::flow::{self, ConnectProgress, FlowConfig};
use crate::auth::keyring::{self as kr, TokenStore};
use crate::auth::tokens::{http_client, token_url, RefreshConfig, TokenManager, TokenResponse};
use crate::auth::{AuthError, BrowserOpener, CancelToken, Cloud, RedirectSpec};
use crate::error::{Error, ErrorCode};
use crate::graph::users::{self, Me};
use crate::graph::GraphClient;
use crate::secret::Sensitive;
use crate::store::audit_log::AuditEntry;
use crate::store::integration::{self as table, IntegrationRow, RowState};

pub use crate::store::integration::InvitationMode;
use crate::store::Store;

/// Refresh tokens expire after 90 days without use
/// (https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens#token-lifetime).
pub const INACTIVITY_LIMIT_DAYS: i64 = 90;
/// Warn this many days before the inactivity limit.
pub const INACTIVITY_WARNING_DAYS: i64 = 14;

/// Where to revoke what the connection granted, shown after removal.
pub const REVOKE_INSTRUCTIONS: [&str; 3] = [
    "Organization-wide approval: Microsoft Entra admin center (https://entra.microsoft.com) → Identity → Applications → Enterprise applications → Teams Scheduler → Permissions (review or revoke), or Properties → Delete to remove the app from the tenant.",
    "Host account sessions: Entra admin center → Identity → Users → the host account (Teams Scheduler) → Revoke sessions.",
    "The app registration itself (if no longer needed): Entra admin center → Identity → Applications → App registrations → Teams Scheduler → Delete.",
];

/// The two ways to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Approach {
    /// The host account signs in and consents for itself (or approval already exists).
    HostSignIn,
    /// A global admin grants organization-wide approval first, then the host signs in.
    AdminConsent,
}

/// Input of [`prepare`]. `client_id` / `redirect_uri` override the settings.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// Which approach.
    pub approach: Approach,
    /// Tenant id (GUID) or verified domain.
    pub tenant: String,
    /// Cloud.
    pub cloud: Cloud,
    /// Application (client) id; else the `integration.client_id` setting.
    pub client_id: Option<String>,
    /// Redirect URI; else the `integration.redirect_uri` setting, else `http://localhost`.
    pub redirect_uri: Option<String>,
    /// Browser wait ([`flow::DEFAULT_TIMEOUT`] by default).
    pub timeout: Duration,
    /// Pre-fills the host account in the account picker.
    pub login_hint: Option<String>,
    /// The invitation mode to connect with (and keep); else the stored one (`none` at first).
    /// `calendar` asks the host (and the admin's approval) for `Calendars.ReadWrite` too.
    pub invitations: Option<InvitationMode>,
}

impl ConnectRequest {
    /// A host sign-in request with defaults.
    pub fn new(tenant: impl Into<String>, cloud: Cloud) -> Self {
        Self {
            approach: Approach::HostSignIn,
            tenant: tenant.into(),
            cloud,
            client_id: None,
            redirect_uri: None,
            timeout: flow::DEFAULT_TIMEOUT,
            login_hint: None,
            invitations: None,
        }
    }
}

/// A validated connect request, ready for [`sign_in`].
#[derive(Debug, Clone)]
pub struct PreparedConnect {
    /// Which approach.
    pub approach: Approach,
    /// Cloud.
    pub cloud: Cloud,
    /// The invitation mode the connection is for (its scopes are in `flow`).
    pub invitations: InvitationMode,
    /// What the browser legs need.
    pub flow: FlowConfig,
}

/// The outcome of the browser legs, not yet saved. Holds secrets: never serialized.
#[derive(Debug)]
pub struct SignedIn {
    approach: Approach,
    cloud: Cloud,
    invitations: InvitationMode,
    flow: FlowConfig,
    tenant_id: String,
    me: Me,
    tokens: TokenResponse,
    refresh_token: Sensitive<String>,
}

/// Connection state as front ends show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Working.
    Connected,
    /// Connected but something needs doing; `reasons` says what.
    NeedsAttention,
    /// Never connected, or removed.
    NotConnected,
}

/// The status of the integration (serializable for the Tauri layer and `--json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntegrationStatus {
    /// Overall state.
    pub state: ConnectionState,
    /// What needs attention, in words a person can act on.
    pub reasons: Vec<String>,
    /// Cloud name.
    pub cloud: Option<String>,
    /// Tenant id.
    pub tenant_id: Option<String>,
    /// Application (client) id.
    pub client_id: Option<String>,
    /// Host account object id.
    pub host_object_id: Option<String>,
    /// Host account UPN.
    pub host_upn: Option<String>,
    /// Host account display name.
    pub host_display_name: Option<String>,
    /// Granted Graph permissions.
    pub granted_scopes: Vec<String>,
    /// Required Graph permissions not granted (for the invitation mode chosen).
    pub missing_scopes: Vec<String>,
    /// How participants learn of their meetings: `none` or `calendar`.
    pub invitation_mode: InvitationMode,
    /// Whether the host's sign-in holds `Calendars.ReadWrite` (what the `calendar` mode needs).
    pub calendar_granted: bool,
    /// Why invitations cannot be sent, when the mode is `calendar` and they cannot.
    pub invitations_unavailable_reason: Option<String>,
    /// When connected.
    pub connected_at: Option<String>,
    /// Who connected.
    pub connected_by: Option<String>,
    /// Last successful refresh.
    pub last_refresh_at: Option<String>,
    /// When the sign-in expires unless used (90 days of inactivity).
    pub inactivity_expires_at: Option<String>,
    /// When removed.
    pub removed_at: Option<String>,
    /// Whether Teams meetings can be created.
    pub meetings_available: bool,
    /// Why not, when they cannot.
    pub meetings_unavailable_reason: Option<String>,
    /// Set by [`save`] when connecting ended setup mode: the host account that signed in is now
    /// the first global admin (its UPN). Front ends then act as that operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_global_admin: Option<String>,
}

/// Result of [`remove`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// Where to revoke consent and sessions in Entra.
    pub revoke_instructions: Vec<String>,
}

/// Validates a request and fills client id and redirect from the settings.
pub fn prepare(store: &Store, req: &ConnectRequest) -> Result<PreparedConnect, Error> {
    let usage = match req.approach {
        Approach::HostSignIn => TenantUse::SignIn,
        Approach::AdminConsent => TenantUse::AdminConsent,
    };
    let tenant =
        consent::validate_tenant(&req.tenant, usage).map_err(|r| Error::invalid("tenant", r))?;
    let client_id = client_id(store, req.client_id.as_deref())?;
    let redirect = redirect(store, req.redirect_uri.as_deref())?;
    let invitations = match req.invitations {
        Some(m) => m,
        None => store.tables().integration_invitation_mode()?,
    };
    Ok(PreparedConnect {
        approach: req.approach,
        cloud: req.cloud.clone(),
        invitations,
        flow: FlowConfig {
            purpose: flow::Purpose::host(invitations.is_calendar()),
            endpoints: req.cloud.endpoints(),
            tenant,
            client_id,
            redirect,
            timeout: req.timeout,
            login_hint: req.login_hint.clone(),
        },
    })
}

fn client_id(store: &Store, flag: Option<&str>) -> Result<String, Error> {
    let raw = match flag.map(str::trim).filter(|s| !s.is_empty()) {
        Some(f) => f.to_string(),
        None => store.tables().setting(table::SETTING_CLIENT_ID)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Error::invalid("client_id", "no application (client) id: pass --client-id or set it in the settings (docs/ADMIN-GUIDE.md explains how to register the app)"))?,
    };
    let id = raw.trim().to_ascii_lowercase();
    if consent::is_guid(&id) {
        Ok(id)
    } else {
        Err(Error::invalid("client_id", format!("'{raw}' is not an application (client) id; copy the GUID from the app registration's Overview page")))
    }
}

fn redirect(store: &Store, flag: Option<&str>) -> Result<RedirectSpec, Error> {
    let raw = match flag {
        Some(f) => Some(f.to_string()),
        None => store.tables().setting(table::SETTING_REDIRECT_URI)?,
    };
    match raw.filter(|s| !s.trim().is_empty()) {
        Some(r) => RedirectSpec::parse(&r).map_err(|e| Error::invalid("redirect_uri", e)),
        None => Ok(RedirectSpec::default()),
    }
}

fn admin_consent_link(flow: &FlowConfig) -> String {
    let path = if flow.redirect.path == "/" {
        ""
    } else {
        flow.redirect.path.as_str()
    };
    let port = flow
        .redirect
        .port
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    consent::admin_consent_url(
        &flow.endpoints.authority_base,
        &flow.tenant,
        &flow.client_id,
        &format!("http://{}{port}{path}", flow.redirect.host),
        crate::auth::flow::new_state().expose(),
        flow.purpose.scope(),
    )
}

fn with_consent_url(e: AuthError, flow: &FlowConfig) -> Error {
    match e {
        AuthError::Identity(mut ie) if ie.action() == crate::auth::IdentityAction::AdminConsent => {
            ie.admin_consent_url = Some(admin_consent_link(flow));
            Error::Auth(AuthError::Identity(ie))
        }
        other => Error::Auth(other),
    }
}

/// The browser legs and the profile read. Nothing is stored.
pub async fn sign_in(
    prepared: &PreparedConnect,
    opener: &dyn BrowserOpener,
    cancel: CancelToken,
    progress: &(dyn Fn(ConnectProgress) + Send + Sync),
) -> Result<SignedIn, Error> {
    let f = &prepared.flow;
    if prepared.approach == Approach::AdminConsent {
        flow::admin_consent(f, opener, cancel.clone(), progress)
            .await
            .map_err(|e| with_consent_url(e, f))?;
        progress(ConnectProgress::AdminConsentGranted);
    }
    let crate::identity::Account {
        tokens,
        me,
        tenant_id,
    } = crate::identity::sign_in(
        f,
        opener,
        cancel,
        progress,
        |e| with_consent_url(e, f),
        |upn| {
            Error::invalid(
                "host",
                format!("{upn} is a guest account (#EXT#) in this tenant; the host must be a member account of the tenant, such as a dedicated 'Teams Scheduler' user — sign in with that account"),
            )
        },
    )
    .await?;
    let refresh_token = tokens
        .refresh_token
        .clone()
        .ok_or(AuthError::NoRefreshToken)?;
    Ok(SignedIn {
        approach: prepared.approach,
        cloud: prepared.cloud.clone(),
        invitations: prepared.invitations,
        flow: f.clone(),
        tenant_id,
        me,
        tokens,
        refresh_token,
    })
}

/// The address of the embedded sandbox a front end last started for this store, when the
/// integration is connected to exactly that address (so the front end may bring it back there);
/// `None` otherwise — a sandbox a global admin connected to on purpose is never replaced.
pub fn explored_sandbox(store: &Store) -> Result<Option<String>, Error> {
    let tables = store.tables();
    let row = tables.integration_get()?;
    let embedded = tables.setting(table::SETTING_EMBEDDED_SANDBOX)?;
    Ok(row
        .filter(|r| r.cloud == "sandbox" && embedded.as_deref() == Some(r.authority_base.as_str()))
        .map(|r| r.authority_base))
}

/// Records the address of the embedded sandbox a front end just started for this store.
pub fn remember_embedded_sandbox(store: &mut Store, base_url: &str) -> Result<(), Error> {
    store.write(|tx| Ok(tx.setting_put(table::SETTING_EMBEDDED_SANDBOX, base_url)?))
}

/// Refuses unless `actor` may manage the integration (global admins, or anyone in setup mode).
/// Front ends call it before opening the browser; [`save`] and [`remove`] check again.
pub fn authorize(store: &Store, actor: &Actor) -> Result<(), Error> {
    access::require(store.tables(), actor, Action::IntegrationManage, None).map(|_| ())
}

/// Saves a sign-in: refresh token to the keyring, then the row and its audit entry in one
/// transaction. On a store failure the keyring entry is removed again.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label))]
pub fn save(
    store: &mut Store,
    tokens: &dyn TokenStore,
    actor: &Actor,
    signed: SignedIn,
) -> Result<IntegrationStatus, Error> {
    authorize(store, actor)?;
    let account = host_account(store, &signed.cloud, &signed.tenant_id, &signed.me.id);
    let previous = store.tables().integration_get()?;
    tokens.set(&account, &signed.refresh_token)?;
    let missing = consent::missing_scopes(&signed.tokens.scope, signed.invitations.is_calendar());
    let now = crate::time::now_db();
    let row = IntegrationRow {
        cloud: signed.cloud.name().to_string(),
        authority_base: signed.flow.endpoints.authority_base.clone(),
        graph_base: signed.flow.endpoints.graph_base.clone(),
        tenant_id: signed.tenant_id.clone(),
        client_id: signed.flow.client_id.clone(),
        host_object_id: signed.me.id.clone(),
        host_upn: signed.me.user_principal_name.clone(),
        host_display_name: signed.me.display_name.clone().unwrap_or_default(),
        granted_scopes: consent::scope_list(&signed.tokens.scope).join(" "),
        state: if missing.is_empty() {
            RowState::Connected
        } else {
            RowState::NeedsAttention
        },
        attention_reason: (!missing.is_empty()).then(|| missing_reason(&missing)),
        connected_at: now.clone(),
        connected_by: Some(actor.label.clone()),
        last_refresh_at: Some(now),
        removed_at: None,
    };
    let written = store.write(|tx| -> Result<Option<String>, Error> {
        // Checked again inside the write lock: the roster may have changed during sign-in.
        access::require(tx, actor, Action::IntegrationManage, None)?;
        tx.integration_put(&row)?;
        tx.integration_set_invitation_mode(signed.invitations)?;
        tx.audit_append(&AuditEntry {
            operator: &actor.label,
            real_actor: actor.impersonated_by.as_deref(),
            action: "integration.connect",
            target: &format!("integration:{}", row.tenant_id),
            after: Some(json!({
                "approach": signed.approach,
                "cloud": row.cloud,
                "tenant_id": row.tenant_id,
                "client_id": row.client_id,
                "host_upn": row.host_upn,
                "host_object_id": row.host_object_id,
                "granted_scopes": row.granted_scopes,
                "missing_scopes": missing,
                "invitation_mode": signed.invitations,
            })),
            before: previous.as_ref().map(summary),
            ..Default::default()
        })?;
        // Setup mode ends with the first account to sign in: here the host, which is how the
        // organizations set up (the dedicated host account is their first global admin).
        let first = crate::operators::bootstrap_in(
            tx,
            &row.host_object_id,
            &row.host_upn,
            &row.host_display_name,
            "integration connect",
        )?;
        Ok(first.map(|op| op.upn))
    });
    let first_global_admin = match written {
        Ok(first) => first,
        Err(e) => {
            // Nothing half-saved: take the new token back out.
            let _ = tokens.delete(&account);
            return Err(e);
        }
    };
    if let Some(prev) = previous.filter(|p| p.state != RowState::Removed) {
        let old = stored_host_account(store, &prev);
        if old.as_deref() != Some(account.as_str()) {
            // Best effort: the old host's token is no longer referenced by any row.
            if let Some(old) = old {
                let _ = tokens.delete(&old);
            }
        }
    }
    let row = store
        .tables()
        .integration_get()?
        .ok_or(Error::NotConnected)?;
    let mode = store.tables().integration_invitation_mode()?;
    let mut status = assess(Some(&row), mode, KeyringCheck::Present, Utc::now());
    status.first_global_admin = first_global_admin;
    Ok(status)
}

/// The keyring account of the host's refresh token for this store and cloud.
fn host_account(store: &Store, cloud: &Cloud, tenant_id: &str, host_object_id: &str) -> String {
    kr::account(
        &kr::Binding::new(store.path(), cloud),
        tenant_id,
        host_object_id,
    )
}

/// The keyring account of a stored row, or `None` when its cloud cannot be read (then no token
/// is looked up at all).
fn stored_host_account(store: &Store, row: &IntegrationRow) -> Option<String> {
    let cloud = Cloud::from_stored(&row.cloud, &row.authority_base).ok()?;
    Some(host_account(
        store,
        &cloud,
        &row.tenant_id,
        &row.host_object_id,
    ))
}

fn legacy_account(row: &IntegrationRow) -> String {
    kr::legacy_account(&row.cloud, &row.tenant_id, &row.host_object_id)
}

fn missing_reason(missing: &[String]) -> String {
    format!(
        "permissions missing: {} — add them to the app registration's API permissions and grant organization-wide approval, then reconnect",
        missing.join(", ")
    )
}

fn summary(r: &IntegrationRow) -> serde_json::Value {
    json!({
        "cloud": r.cloud, "tenant_id": r.tenant_id, "client_id": r.client_id,
        "host_upn": r.host_upn, "host_object_id": r.host_object_id,
        "granted_scopes": r.granted_scopes, "state": r.state,
    })
}

/// The whole connect for front ends that own the store (the CLI): prepare, sign in, save.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label))]
pub async fn connect(
    store: &mut Store,
    tokens: &dyn TokenStore,
    actor: &Actor,
    req: &ConnectRequest,
    opener: &dyn BrowserOpener,
    cancel: CancelToken,
    progress: &(dyn Fn(ConnectProgress) + Send + Sync),
) -> Result<IntegrationStatus, Error> {
    authorize(store, actor)?;
    let prepared = prepare(store, req)?;
    let signed = sign_in(&prepared, opener, cancel, progress).await?;
    let status = save(store, tokens, actor, signed)?;
    progress(ConnectProgress::Saved);
    Ok(status)
}

/// The organization-wide approval URL to show or copy (for opening on another machine). The
/// redirect is the registered `http://localhost` form; the grant happens before the redirect,
/// and the host sign-in verifies it afterwards.
pub fn consent_url(
    store: &Store,
    tenant: &str,
    cloud: &Cloud,
    client_id: Option<&str>,
) -> Result<String, Error> {
    let tenant = consent::validate_tenant(tenant, TenantUse::AdminConsent)
        .map_err(|r| Error::invalid("tenant", r))?;
    let client_id = self::client_id(store, client_id)?;
    let redirect = redirect(store, None)?;
    let calendar = store.tables().integration_invitation_mode()?.is_calendar();
    Ok(admin_consent_link(&FlowConfig {
        purpose: flow::Purpose::host(calendar),
        endpoints: cloud.endpoints(),
        tenant,
        client_id,
        redirect,
        timeout: flow::DEFAULT_TIMEOUT,
        login_hint: None,
    }))
}

/// What the keyring said about the stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringCheck {
    /// The entry exists.
    Present,
    /// No entry.
    Missing,
    /// The keyring could not be asked.
    Unavailable(String),
    /// Not asked (nothing connected).
    NotChecked,
}

/// Pure: the status of a row (and its invitation mode) at `now`.
pub fn assess(
    row: Option<&IntegrationRow>,
    mode: InvitationMode,
    keyring: KeyringCheck,
    now: DateTime<Utc>,
) -> IntegrationStatus {
    let mut s = IntegrationStatus {
        state: ConnectionState::NotConnected,
        reasons: Vec::new(),
        cloud: None,
        tenant_id: None,
        client_id: None,
        host_object_id: None,
        host_upn: None,
        host_display_name: None,
        granted_scopes: Vec::new(),
        missing_scopes: Vec::new(),
        connected_at: None,
        connected_by: None,
        last_refresh_at: None,
        inactivity_expires_at: None,
        removed_at: None,
        meetings_available: false,
        meetings_unavailable_reason: Some("the Microsoft 365 tenant is not connected".into()),
        first_global_admin: None,
        invitation_mode: mode,
        calendar_granted: false,
        invitations_unavailable_reason: mode
            .is_calendar()
            .then(|| "the Microsoft 365 tenant is not connected".to_string()),
    };
    let Some(r) = row else { return s };
    s.cloud = Some(r.cloud.clone());
    s.tenant_id = Some(r.tenant_id.clone());
    s.client_id = Some(r.client_id.clone());
    s.host_object_id = Some(r.host_object_id.clone());
    s.host_upn = Some(r.host_upn.clone());
    s.host_display_name = Some(r.host_display_name.clone());
    s.granted_scopes = r
        .granted_scopes
        .split_whitespace()
        .map(str::to_string)
        .collect();
    s.missing_scopes = consent::missing_scopes(&r.granted_scopes, mode.is_calendar());
    s.calendar_granted = consent::has_scope(&r.granted_scopes, consent::CALENDAR_SCOPE);
    s.invitations_unavailable_reason = invitations_unavailable(mode, &r.granted_scopes);
    s.connected_at = Some(r.connected_at.clone());
    s.connected_by = r.connected_by.clone();
    s.last_refresh_at = r.last_refresh_at.clone();
    s.removed_at = r.removed_at.clone();
    if r.state == RowState::Removed {
        if mode.is_calendar() {
            s.invitations_unavailable_reason =
                Some("the Microsoft 365 integration was removed".into());
        }
        s.meetings_unavailable_reason = Some(
            "the Microsoft 365 integration was removed; connect it again to create Teams meetings"
                .into(),
        );
        return s;
    }
    s.state = ConnectionState::Connected;
    if let Some(reason) = &r.attention_reason {
        s.reasons.push(reason.clone());
    }
    if !s.missing_scopes.is_empty() && r.attention_reason.is_none() {
        s.reasons.push(missing_reason(&s.missing_scopes));
    }
    match keyring {
        KeyringCheck::Missing => s.reasons.push(AuthError::NoStoredToken.to_string()),
        KeyringCheck::Unavailable(reason) => s.reasons.push(reason),
        KeyringCheck::Present | KeyringCheck::NotChecked => {}
    }
    let last_use = r.last_refresh_at.as_deref().unwrap_or(&r.connected_at);
    if let Ok(t) = DateTime::parse_from_rfc3339(last_use) {
        let expires = t.with_timezone(&Utc) + chrono::Duration::days(INACTIVITY_LIMIT_DAYS);
        s.inactivity_expires_at = Some(crate::time::to_db(expires));
        let left = (expires - now).num_days();
        if expires <= now {
            s.reasons.push(format!("the host account's sign-in was unused for more than {INACTIVITY_LIMIT_DAYS} days and has expired; reconnect the host account"));
        } else if left < INACTIVITY_WARNING_DAYS {
            s.reasons.push(format!("the host account's sign-in expires in {left} days unless used (90-day inactivity limit); run a check or reconnect"));
        }
    }
    if !s.reasons.is_empty() || r.state == RowState::NeedsAttention {
        s.state = ConnectionState::NeedsAttention;
    }
    let cloud = Cloud::from_stored(&r.cloud, &r.authority_base).ok();
    match cloud.as_ref().and_then(Cloud::meetings_unavailable_reason) {
        Some(why) => s.meetings_unavailable_reason = Some(why.to_string()),
        None if s
            .missing_scopes
            .iter()
            .any(|m| m == "OnlineMeetings.ReadWrite") =>
        {
            s.meetings_unavailable_reason =
                Some("the OnlineMeetings.ReadWrite permission is not granted".into());
        }
        None => {
            s.meetings_available = true;
            s.meetings_unavailable_reason = None;
        }
    }
    s
}

/// The status, asking the keyring whether the refresh token is there.
pub fn status(store: &Store, tokens: &dyn TokenStore) -> Result<IntegrationStatus, Error> {
    let row = store.tables().integration_get()?;
    let check = match row.as_ref().filter(|r| r.state != RowState::Removed) {
        None => KeyringCheck::NotChecked,
        Some(r) => match stored_host_account(store, r) {
            None => KeyringCheck::Missing,
            Some(account) => match kr::get_or_adopt(tokens, &account, &legacy_account(r)) {
                Ok(Some(_)) => KeyringCheck::Present,
                Ok(None) => KeyringCheck::Missing,
                Err(e) => KeyringCheck::Unavailable(e.to_string()),
            },
        },
    };
    let mode = store.tables().integration_invitation_mode()?;
    Ok(assess(row.as_ref(), mode, check, Utc::now()))
}

/// Pure: why invitations cannot be sent in `mode` with these granted scopes (`None`: they can,
/// or the mode sends none). Names the permission and who grants it.
pub fn invitations_unavailable(mode: InvitationMode, granted: &str) -> Option<String> {
    (mode.is_calendar() && !consent::has_scope(granted, consent::CALENDAR_SCOPE))
        .then(calendar_not_granted)
}

/// The message when the `calendar` invitation mode lacks its permission.
pub fn calendar_not_granted() -> String {
    format!(
        "invitations are sent from the host's calendar, which needs the {} permission, and it is \
         not granted: a global admin adds it to the app registration's API permissions and \
         grants organization-wide approval (admin consent), then reconnects the host account",
        consent::CALENDAR_SCOPE
    )
}

/// Sets the invitation mode (a global admin's setting, audited): `calendar` sends each new
/// meeting's invitations from the host's calendar, `none` sends none. Needs a connected (or
/// once connected) integration; the status says whether `Calendars.ReadWrite` is granted, and
/// the next connect asks for it when the mode is `calendar`. Meetings already made keep the mode
/// they were made in.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, mode = %mode))]
pub fn set_invitation_mode(
    store: &mut Store,
    tokens: &dyn TokenStore,
    actor: &Actor,
    mode: InvitationMode,
) -> Result<IntegrationStatus, Error> {
    authorize(store, actor)?;
    store.write(|tx| -> Result<(), Error> {
        let who = access::require(tx, actor, Action::IntegrationManage, None)?;
        let before = tx.integration_invitation_mode()?;
        if tx.integration_set_invitation_mode(mode)? == 0 {
            return Err(Error::NotConnected);
        }
        who.audit(
            tx,
            AuditEntry {
                action: "integration.invitations",
                target: "integration:invitation_mode",
                before: Some(json!(before)),
                after: Some(json!(mode)),
                ..Default::default()
            },
        )?;
        Ok(())
    })?;
    status(store, tokens)
}

/// A live session of the host account: token manager and Graph client. Later features (users,
/// meetings) call Graph through [`HostSession::graph`].
#[derive(Debug, Clone)]
pub struct HostSession {
    tokens: Arc<TokenManager>,
    graph: GraphClient,
    cloud: Cloud,
}

impl HostSession {
    /// The Graph client acting as the host.
    pub fn graph(&self) -> &GraphClient {
        &self.graph
    }

    /// The token manager.
    pub fn tokens(&self) -> &Arc<TokenManager> {
        &self.tokens
    }

    /// The cloud.
    pub fn cloud(&self) -> &Cloud {
        &self.cloud
    }

    /// Refreshes (when needed) and reads `/me`: proves the connection works.
    pub async fn verify(&self) -> Verified {
        match users::me(&self.graph).await {
            Ok(me) if me.value.is_guest() => Verified::Failed {
                code: ErrorCode::InvalidInput,
                reason: format!(
                    "{} is a guest account; reconnect with a member host account",
                    me.value.user_principal_name
                ),
            },
            Ok(_) => Verified::Ok {
                refresh: self.tokens.record(),
            },
            Err(e) => {
                let e = Error::from(e);
                Verified::Failed {
                    code: e.code(),
                    reason: e.to_string(),
                }
            }
        }
    }
}

/// Outcome of [`HostSession::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// It works.
    Ok {
        /// What the refresh (if any) learned.
        refresh: crate::auth::tokens::RefreshRecord,
    },
    /// It does not; `reason` says what to do.
    Failed {
        /// Stable code.
        code: ErrorCode,
        /// Message.
        reason: String,
    },
}

/// Builds the host session from the stored row (sync; no network).
pub fn session(store: &Store, tokens: Arc<dyn TokenStore>) -> Result<HostSession, Error> {
    let row = store
        .tables()
        .integration_get()?
        .filter(|r| r.state != RowState::Removed)
        .ok_or(Error::NotConnected)?;
    let cloud = Cloud::from_stored(&row.cloud, &row.authority_base)
        .map_err(|e| Error::invalid("cloud", e))?;
    // The endpoints derive from the cloud, never from the row's URLs: a store anyone could
    // edit must not decide where the host's refresh token is sent.
    let endpoints = cloud.endpoints();
    let account = host_account(store, &cloud, &row.tenant_id, &row.host_object_id);
    // An entry from before accounts were bound moves under the bound account; a keyring error
    // surfaces at the first refresh, with the manager's message.
    let _ = kr::get_or_adopt(tokens.as_ref(), &account, &legacy_account(&row));
    let http = http_client();
    let manager = Arc::new(TokenManager::new(
        http.clone(),
        RefreshConfig {
            token_url: token_url(&endpoints.authority_base, &row.tenant_id),
            client_id: row.client_id.clone(),
            scope: consent::SIGN_IN_SCOPE.to_string(),
            account,
        },
        tokens,
    ));
    let graph = GraphClient::with_http(http, &endpoints.graph_base, manager.clone());
    Ok(HostSession {
        tokens: manager,
        graph,
        cloud,
    })
}

/// Records a verification in the store (sync).
pub fn record(store: &mut Store, outcome: &Verified) -> Result<(), Error> {
    store.write(|tx| -> Result<(), Error> {
        match outcome {
            Verified::Ok { refresh } => {
                if let (Some(at), Some(scope)) = (&refresh.last_refresh_at, &refresh.granted_scope)
                {
                    let calendar = tx.integration_invitation_mode()?.is_calendar();
                    let missing = consent::missing_scopes(scope, calendar);
                    let (state, reason) = if missing.is_empty() {
                        (RowState::Connected, None)
                    } else {
                        (RowState::NeedsAttention, Some(missing_reason(&missing)))
                    };
                    tx.integration_record_refresh(
                        &crate::time::to_db(*at),
                        &consent::scope_list(scope).join(" "),
                        state,
                        reason.as_deref(),
                    )?;
                }
            }
            Verified::Failed { reason, .. } => {
                tx.integration_set_attention(reason)?;
            }
        }
        Ok(())
    })
}

/// Check for front ends that own the store: session, verify, record, status.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn check(
    store: &mut Store,
    tokens: Arc<dyn TokenStore>,
) -> Result<IntegrationStatus, Error> {
    let session = session(store, tokens.clone())?;
    let outcome = session.verify().await;
    record(store, &outcome)?;
    status(store, tokens.as_ref())
}

/// Removes the integration: deletes the keyring entry, then marks the row removed with an audit
/// entry. Programs keep their settings; Teams meetings become unavailable until reconnected.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label))]
pub fn remove(store: &mut Store, tokens: &dyn TokenStore, actor: &Actor) -> Result<Removed, Error> {
    authorize(store, actor)?;
    let row = store
        .tables()
        .integration_get()?
        .filter(|r| r.state != RowState::Removed)
        .ok_or(Error::NotConnected)?;
    if let Some(account) = stored_host_account(store, &row) {
        tokens.delete(&account)?;
    }
    tokens.delete(&legacy_account(&row))?;
    let now = crate::time::now_db();
    store.write(|tx| -> Result<(), Error> {
        access::require(tx, actor, Action::IntegrationManage, None)?;
        tx.integration_mark_removed(&now)?;
        tx.audit_append(&AuditEntry {
            operator: &actor.label,
            real_actor: actor.impersonated_by.as_deref(),
            action: "integration.remove",
            target: &format!("integration:{}", row.tenant_id),
            before: Some(summary(&row)),
            after: Some(json!({"state": "removed"})),
            ..Default::default()
        })?;
        Ok(())
    })?;
    Ok(Removed {
        revoke_instructions: REVOKE_INSTRUCTIONS.iter().map(|s| s.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(last_refresh: &str) -> IntegrationRow {
        IntegrationRow {
            cloud: "global".into(),
            authority_base: "https://login.microsoftonline.com".into(),
            graph_base: "https://graph.microsoft.com/v1.0".into(),
            tenant_id: "t".into(),
            client_id: "c".into(),
            host_object_id: "o".into(),
            host_upn: "h@x.com".into(),
            host_display_name: "Teams Scheduler".into(),
            granted_scopes: "OnlineMeetings.ReadWrite User.ReadBasic.All".into(),
            state: RowState::Connected,
            attention_reason: None,
            connected_at: "2027-01-01T00:00:00Z".into(),
            connected_by: None,
            last_refresh_at: Some(last_refresh.into()),
            removed_at: None,
        }
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .expect("valid date")
    }

    #[test]
    fn status_warns_before_the_90_day_inactivity_limit() {
        let r = row("2027-01-01T00:00:00Z");
        let fresh = assess(
            Some(&r),
            InvitationMode::None,
            KeyringCheck::Present,
            at(2027, 1, 10),
        );
        assert_eq!(
            fresh.state,
            ConnectionState::Connected,
            "recently used: connected"
        );
        assert!(
            fresh.meetings_available,
            "meetings available when connected in global"
        );
        let late = assess(
            Some(&r),
            InvitationMode::None,
            KeyringCheck::Present,
            at(2027, 3, 25),
        );
        assert_eq!(
            late.state,
            ConnectionState::NeedsAttention,
            "within 14 days of the limit: needs attention"
        );
        assert!(
            late.reasons.iter().any(|m| m.contains("90-day")),
            "{:?}",
            late.reasons
        );
        let gone = assess(
            Some(&r),
            InvitationMode::None,
            KeyringCheck::Present,
            at(2027, 5, 1),
        );
        assert!(
            gone.reasons.iter().any(|m| m.contains("reconnect")),
            "past the limit: reconnect: {:?}",
            gone.reasons
        );
    }

    #[test]
    fn status_flags_missing_scopes_keyring_and_china() {
        let mut r = row("2027-01-01T00:00:00Z");
        r.granted_scopes = "User.ReadBasic.All".into();
        let s = assess(
            Some(&r),
            InvitationMode::None,
            KeyringCheck::Missing,
            at(2027, 1, 2),
        );
        assert_eq!(
            s.state,
            ConnectionState::NeedsAttention,
            "missing scope and token need attention"
        );
        assert_eq!(
            s.missing_scopes,
            vec!["OnlineMeetings.ReadWrite".to_string()],
            "the missing permission is named"
        );
        assert!(
            !s.meetings_available,
            "no meetings without OnlineMeetings.ReadWrite"
        );
        assert!(
            s.reasons.iter().any(|m| m.contains("keyring")),
            "missing keyring entry reported: {:?}",
            s.reasons
        );
        let mut c = row("2027-01-01T00:00:00Z");
        c.cloud = "china".into();
        let s = assess(
            Some(&c),
            InvitationMode::None,
            KeyringCheck::Present,
            at(2027, 1, 2),
        );
        assert_eq!(
            s.state,
            ConnectionState::Connected,
            "connecting in China works"
        );
        assert!(
            s.meetings_unavailable_reason
                .as_deref()
                .is_some_and(|m| m.contains("China")),
            "meetings say why not"
        );
        let none = assess(
            None,
            InvitationMode::None,
            KeyringCheck::NotChecked,
            at(2027, 1, 2),
        );
        assert_eq!(
            none.state,
            ConnectionState::NotConnected,
            "no row: not connected"
        );
    }
    #[test]
    fn calendar_mode_without_calendars_readwrite_says_who_can_grant_it() {
        let r = row("2027-01-01T00:00:00Z");
        let none = assess(
            Some(&r),
            InvitationMode::None,
            KeyringCheck::Present,
            at(2027, 1, 2),
        );
        assert_eq!(
            (none.state, none.invitations_unavailable_reason.as_deref()),
            (ConnectionState::Connected, None),
            "mode none needs no calendar permission (today's behaviour)"
        );
        let cal = assess(
            Some(&r),
            InvitationMode::Calendar,
            KeyringCheck::Present,
            at(2027, 1, 2),
        );
        assert_eq!(
            cal.missing_scopes,
            vec!["Calendars.ReadWrite".to_string()],
            "calendar mode requires Calendars.ReadWrite"
        );
        assert!(!cal.calendar_granted, "not granted");
        assert_eq!(
            cal.state,
            ConnectionState::NeedsAttention,
            "a mode its permission does not allow needs attention"
        );
        let why = cal.invitations_unavailable_reason.expect("a reason");
        assert!(
            why.contains("Calendars.ReadWrite") && why.contains("global admin"),
            "names the permission and who grants it: {why}"
        );
        assert!(
            cal.meetings_available,
            "meetings themselves can still be made"
        );
        let mut granted = row("2027-01-01T00:00:00Z");
        granted.granted_scopes.push_str(" Calendars.ReadWrite");
        let ok = assess(
            Some(&granted),
            InvitationMode::Calendar,
            KeyringCheck::Present,
            at(2027, 1, 2),
        );
        assert!(
            ok.calendar_granted && ok.invitations_unavailable_reason.is_none(),
            "granted: invitations can be sent"
        );
        assert_eq!(ok.state, ConnectionState::Connected, "nothing to do");
    }
}
