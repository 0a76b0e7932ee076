//! Table `integration`: metadata of the connected tenant (one row at most, id = 1). Never
//! tokens: the refresh token lives in the OS keyring only, the access token in memory only.
//! Also reads the integration's keys of the `settings` table (`integration.client_id`,
//! `integration.redirect_uri`).

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

/// Settings key of the application (client) id.
pub const SETTING_CLIENT_ID: &str = "integration.client_id";
/// Settings key of the redirect URI (default `http://localhost`).
pub const SETTING_REDIRECT_URI: &str = "integration.redirect_uri";

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

const COLUMNS: &str = "cloud, authority_base, graph_base, tenant_id, client_id, host_object_id, host_upn, host_display_name, granted_scopes, state, attention_reason, connected_at, connected_by, last_refresh_at, removed_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<IntegrationRow> {
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
        state: {
            let name: String = r.get(9)?;
            RowState::parse(&name).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    9,
                    rusqlite::types::Type::Text,
                    format!("unknown integration state '{name}'").into(),
                )
            })?
        },
        attention_reason: r.get(10)?,
        connected_at: r.get(11)?,
        connected_by: r.get(12)?,
        last_refresh_at: r.get(13)?,
        removed_at: r.get(14)?,
    })
}

/// The row, if any (also when removed).
pub fn get(conn: &Connection) -> rusqlite::Result<Option<IntegrationRow>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM integration WHERE id = 1"),
        [],
        from_row,
    )
    .optional()
}

/// Writes the row of a fresh connection, replacing any previous one.
pub fn put(conn: &Connection, row: &IntegrationRow) -> rusqlite::Result<()> {
    conn.execute(
        &format!("INSERT OR REPLACE INTO integration (id, {COLUMNS}) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
        params![
            row.cloud,
            row.authority_base,
            row.graph_base,
            row.tenant_id,
            row.client_id,
            row.host_object_id,
            row.host_upn,
            row.host_display_name,
            row.granted_scopes,
            row.state.as_str(),
            row.attention_reason,
            row.connected_at,
            row.connected_by,
            row.last_refresh_at,
            row.removed_at,
        ],
    )?;
    Ok(())
}

/// Records a successful refresh (and the scopes it granted); clears attention.
pub fn record_refresh(
    conn: &Connection,
    at: &str,
    granted: &str,
    state: RowState,
    reason: Option<&str>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE integration SET last_refresh_at = ?1, granted_scopes = ?2, state = ?3, attention_reason = ?4
         WHERE id = 1 AND state != 'removed'",
        params![at, granted, state.as_str(), reason],
    )
}

/// Marks the connection as needing attention.
pub fn set_attention(conn: &Connection, reason: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE integration SET state = 'needs_attention', attention_reason = ?1 WHERE id = 1 AND state != 'removed'",
        params![reason],
    )
}

/// Marks the connection removed. The row stays for the record.
pub fn mark_removed(conn: &Connection, at: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE integration SET state = 'removed', removed_at = ?1, attention_reason = NULL WHERE id = 1 AND state != 'removed'",
        params![at],
    )
}

/// The `settings` key holding the address of the embedded sandbox the window last started for
/// this store ("explore"): only a store connected to exactly that address revives it.
pub const SETTING_EMBEDDED_SANDBOX: &str = "sandbox.embedded_url";

/// Whether the store was ever connected (a row exists, removed or not).
pub fn ever_connected(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM integration)", [], |r| {
        r.get(0)
    })
}

pub use super::settings::{get as setting, put as put_setting};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn row() -> IntegrationRow {
        IntegrationRow {
            cloud: "global".into(),
            authority_base: "https://login.microsoftonline.com".into(),
            graph_base: "https://graph.microsoft.com/v1.0".into(),
            tenant_id: "t".into(),
            client_id: "c".into(),
            host_object_id: "o".into(),
            host_upn: "host@contoso.com".into(),
            host_display_name: "Teams Scheduler".into(),
            granted_scopes: "User.ReadBasic.All".into(),
            state: RowState::Connected,
            attention_reason: None,
            connected_at: "2027-01-01T00:00:00Z".into(),
            connected_by: Some("local:me".into()),
            last_refresh_at: None,
            removed_at: None,
        }
    }

    #[test]
    fn one_row_round_trips_and_is_replaced_on_reconnect() {
        let store = Store::open_in_memory().expect("store");
        assert_eq!(get(store.conn()).expect("get"), None, "empty at first");
        put(store.conn(), &row()).expect("put");
        let mut again = row();
        again.host_upn = "other@contoso.com".into();
        put(store.conn(), &again).expect("replace");
        assert_eq!(
            get(store.conn()).expect("get"),
            Some(again),
            "a reconnect replaces the single row"
        );
        assert_eq!(
            mark_removed(store.conn(), "2027-02-01T00:00:00Z").expect("remove"),
            1,
            "removed once"
        );
        assert_eq!(
            set_attention(store.conn(), "x").expect("attention"),
            0,
            "a removed row is not revived by attention"
        );
        let r = get(store.conn()).expect("get").expect("row kept");
        assert_eq!(
            (r.state.as_str(), r.removed_at.as_deref()),
            ("removed", Some("2027-02-01T00:00:00Z")),
            "removed, with time"
        );
    }
}

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::integration` for SQLite).
pub trait IntegrationTable {}
