//! Table `integration`: metadata of the connected tenant (one row at most, id = 1): the row type
//! and the queries every backend answers ([`IntegrationTable`]; the SQL is in
//! `store::sqlite::integration`). Never tokens: the refresh token lives in the OS keyring only,
//! the access token in memory only.
//! Also names the integration's keys of the `settings` table (`integration.client_id`,
//! `integration.redirect_uri`), which callers read through `SettingTable`.
//! What both backends do alike lives here once: the columns the row is read from and its
//! assembly ([`integration_from`]).

use serde::Serialize;

use super::columns::Columns;
use super::StoreError;

/// The columns [`integration_from`] reads, in its order.
pub(crate) const COLUMNS: &str = "cloud, authority_base, graph_base, tenant_id, client_id, host_object_id, host_upn, host_display_name, granted_scopes, state, attention_reason, connected_at, connected_by, last_refresh_at, removed_at";

/// The row from its [`COLUMNS`] (the state stored as [`RowState::as_str`]'s name).
pub(crate) fn integration_from<R: Columns>(r: &R) -> Result<IntegrationRow, R::Error> {
    Ok(IntegrationRow {
        cloud: r.get(0)?,
        authority_base: r.get(1)?,
        graph_base: r.get(2)?,
        tenant_id: r.get(3)?,
        client_id: r.get(4)?,
        host_object_id: r.get(5)?,
        host_upn: r.get(6)?,
        host_display_name: r.get(7)?,
        granted_scopes: r.get(8)?,
        state: r.state(9, "integration", RowState::parse)?,
        attention_reason: r.get(10)?,
        connected_at: r.get(11)?,
        connected_by: r.get(12)?,
        last_refresh_at: r.get(13)?,
        removed_at: r.get(14)?,
    })
}

/// Settings key of the application (client) id.
pub const SETTING_CLIENT_ID: &str = "integration.client_id";
/// Settings key of the redirect URI (default `http://localhost`).
pub const SETTING_REDIRECT_URI: &str = "integration.redirect_uri";

/// How participants learn of their meetings (`integration.invitation_mode`), chosen by a global
/// admin for the whole integration. Kept through reconnects: [`IntegrationTable::integration_put`]
/// never changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationMode {
    /// No invitation is sent: the join link is shown and `.ics` files are exported by hand.
    #[default]
    None,
    /// The meeting is an event on the host's calendar, so Exchange sends the invitations, the
    /// updates and the cancellations (needs `Calendars.ReadWrite`).
    Calendar,
}

impl InvitationMode {
    /// The stored (and shown) name.
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationMode::None => "none",
            InvitationMode::Calendar => "calendar",
        }
    }

    /// From the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [InvitationMode::None, InvitationMode::Calendar]
            .into_iter()
            .find(|m| m.as_str() == name)
    }

    /// Whether invitations go through the host's calendar.
    pub fn is_calendar(self) -> bool {
        self == InvitationMode::Calendar
    }
}

impl std::fmt::Display for InvitationMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for InvitationMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(&s.trim().to_ascii_lowercase()).ok_or_else(|| {
            format!(
                "'{}' is not an invitation mode; use none or calendar",
                s.trim()
            )
        })
    }
}

/// Where the connection stands, as stored in `integration.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    /// Working.
    Connected,
    /// Connected, but something needs doing (`attention_reason` says what).
    NeedsAttention,
    /// Removed: the row remains as the record of what was connected.
    Removed,
}

impl RowState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RowState::Connected => "connected",
            RowState::NeedsAttention => "needs_attention",
            RowState::Removed => "removed",
        }
    }

    /// From the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            RowState::Connected,
            RowState::NeedsAttention,
            RowState::Removed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// The stored row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntegrationRow {
    /// `global`, `usgov`, `dod`, `china` or `sandbox`.
    pub cloud: String,
    /// Identity authority base URL.
    pub authority_base: String,
    /// Graph base URL.
    pub graph_base: String,
    /// Directory (tenant) id.
    pub tenant_id: String,
    /// Application (client) id.
    pub client_id: String,
    /// Host account object id.
    pub host_object_id: String,
    /// Host account UPN.
    pub host_upn: String,
    /// Host account display name.
    pub host_display_name: String,
    /// Granted scopes, space separated.
    pub granted_scopes: String,
    /// Where the connection stands.
    pub state: RowState,
    /// Why it needs attention.
    pub attention_reason: Option<String>,
    /// When it was connected (RFC 3339 UTC).
    pub connected_at: String,
    /// Who connected it.
    pub connected_by: Option<String>,
    /// Last successful token refresh.
    pub last_refresh_at: Option<String>,
    /// When it was removed.
    pub removed_at: Option<String>,
}

/// The `settings` key holding the address of the embedded sandbox the window last started for
/// this store ("explore"): only a store connected to exactly that address revives it.
pub const SETTING_EMBEDDED_SANDBOX: &str = "sandbox.embedded_url";

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::integration` for SQLite).
pub trait IntegrationTable {
    /// The row, if any (also when removed).
    fn integration_get(&self) -> Result<Option<IntegrationRow>, StoreError>;

    /// Writes the row of a fresh connection, replacing any previous one's columns but the
    /// invitation mode, which a reconnect keeps.
    fn integration_put(&self, row: &IntegrationRow) -> Result<(), StoreError>;

    /// The invitation mode (`none` when nothing is connected).
    fn integration_invitation_mode(&self) -> Result<InvitationMode, StoreError>;

    /// Sets the invitation mode of the row; returns how many rows changed (0: no row).
    fn integration_set_invitation_mode(&self, mode: InvitationMode) -> Result<usize, StoreError>;

    /// Records a successful refresh (and the scopes it granted); clears attention. A removed
    /// row is left as it is; returns how many rows changed.
    fn integration_record_refresh(
        &self,
        at: &str,
        granted: &str,
        state: RowState,
        reason: Option<&str>,
    ) -> Result<usize, StoreError>;

    /// Marks the connection as needing attention (not a removed one).
    fn integration_set_attention(&self, reason: &str) -> Result<usize, StoreError>;

    /// Marks the connection removed. The row stays for the record.
    fn integration_mark_removed(&self, at: &str) -> Result<usize, StoreError>;

    /// Whether the store was ever connected (a row exists, removed or not).
    fn integration_ever_connected(&self) -> Result<bool, StoreError>;
}
