//! SQLite statements of the `integration` table, behind
//! [`crate::store::integration::IntegrationTable`]. The state column holds
//! [`RowState::as_str`]'s names.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::store::integration::{IntegrationRow, IntegrationTable, RowState};
use crate::store::StoreError;

use super::err;

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

impl IntegrationTable for Connection {
    fn integration_get(&self) -> Result<Option<IntegrationRow>, StoreError> {
        self.query_row(
            &format!("SELECT {COLUMNS} FROM integration WHERE id = 1"),
            [],
            from_row,
        )
        .optional()
        .map_err(|e| err(self, e))
    }

    fn integration_put(&self, row: &IntegrationRow) -> Result<(), StoreError> {
        self.execute(
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
        )
        .map_err(|e| err(self, e))?;
        Ok(())
    }

    fn integration_record_refresh(
        &self,
        at: &str,
        granted: &str,
        state: RowState,
        reason: Option<&str>,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE integration SET last_refresh_at = ?1, granted_scopes = ?2, state = ?3, attention_reason = ?4
         WHERE id = 1 AND state != 'removed'",
            params![at, granted, state.as_str(), reason],
        )
        .map_err(|e| err(self, e))
    }

    fn integration_set_attention(&self, reason: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE integration SET state = 'needs_attention', attention_reason = ?1 WHERE id = 1 AND state != 'removed'",
            params![reason],
        )
        .map_err(|e| err(self, e))
    }

    fn integration_mark_removed(&self, at: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE integration SET state = 'removed', removed_at = ?1, attention_reason = NULL WHERE id = 1 AND state != 'removed'",
            params![at],
        )
        .map_err(|e| err(self, e))
    }

    fn integration_ever_connected(&self) -> Result<bool, StoreError> {
        self.query_row("SELECT EXISTS (SELECT 1 FROM integration)", [], |r| {
            r.get(0)
        })
        .map_err(|e| err(self, e))
    }
}

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
        let t = store.tables();
        assert_eq!(t.integration_get().expect("get"), None, "empty at first");
        t.integration_put(&row()).expect("put");
        let mut again = row();
        again.host_upn = "other@contoso.com".into();
        t.integration_put(&again).expect("replace");
        assert_eq!(
            t.integration_get().expect("get"),
            Some(again),
            "a reconnect replaces the single row"
        );
        assert_eq!(
            t.integration_mark_removed("2027-02-01T00:00:00Z")
                .expect("remove"),
            1,
            "removed once"
        );
        assert_eq!(
            t.integration_set_attention("x").expect("attention"),
            0,
            "a removed row is not revived by attention"
        );
        let r = t.integration_get().expect("get").expect("row kept");
        assert_eq!(
            (r.state.as_str(), r.removed_at.as_deref()),
            ("removed", Some("2027-02-01T00:00:00Z")),
            "removed, with time"
        );
    }
}
