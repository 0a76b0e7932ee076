//! SQLite statements of the `integration` table, behind
//! [`crate::store::integration::IntegrationTable`]. The state column holds
//! [`RowState::as_str`]'s names.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::store::integration::{
    self as shared, IntegrationRow, IntegrationTable, InvitationMode, RowState, COLUMNS,
};
use crate::store::StoreError;

use super::err;

fn from_row(r: &Row<'_>) -> rusqlite::Result<IntegrationRow> {
    shared::integration_from(r)
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
        // Every column of the one row is replaced but the invitation mode, which a reconnect
        // keeps (an upsert, not INSERT OR REPLACE, which would reset it to its default).
        let set = COLUMNS
            .split(',')
            .map(|c| format!("{0} = excluded.{0}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        self.execute(
            &format!("INSERT INTO integration (id, {COLUMNS}) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) ON CONFLICT (id) DO UPDATE SET {set}"),
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

    fn integration_invitation_mode(&self) -> Result<InvitationMode, StoreError> {
        let name: Option<String> = self
            .query_row(
                "SELECT invitation_mode FROM integration WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| err(self, e))?;
        Ok(name
            .as_deref()
            .and_then(InvitationMode::parse)
            .unwrap_or_default())
    }

    fn integration_set_invitation_mode(&self, mode: InvitationMode) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE integration SET invitation_mode = ?1 WHERE id = 1",
            params![mode.as_str()],
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
