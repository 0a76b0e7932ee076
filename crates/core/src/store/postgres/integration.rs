//! PostgreSQL statements of the `integration` table, behind [`IntegrationTable`]. One row at
//! most (id 1); the state column holds [`RowState::as_str`]'s names. Row-level security lets
//! every operator read it and record refreshes on a live connection; the rest is a global
//! admin's (roles.sql).

use super::exec::{changed, get, Exec, PgRow};
use super::Row;
use crate::store::integration::{
    self as shared, IntegrationRow, IntegrationTable, InvitationMode, RowState, COLUMNS,
};
use crate::store::StoreError;

fn from_row(db: &impl Exec, row: &Row) -> Result<IntegrationRow, StoreError> {
    shared::integration_from(&PgRow { db, row })
}

impl<T: Exec> IntegrationTable for T {
    fn integration_get(&self) -> Result<Option<IntegrationRow>, StoreError> {
        self.query_opt(
            &format!("SELECT {COLUMNS} FROM integration WHERE id = 1"),
            &[],
        )?
        .map(|r| from_row(self, &r))
        .transpose()
    }

    fn integration_put(&self, row: &IntegrationRow) -> Result<(), StoreError> {
        // Every column of the one row is replaced but the invitation mode, which a reconnect
        // keeps.
        let set = COLUMNS
            .split(',')
            .map(|c| format!("{0} = excluded.{0}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        self.execute(
            &format!(
                "INSERT INTO integration (id, {COLUMNS}) VALUES (1, $1, $2, $3, $4, $5, $6, $7, \
                 $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (id) DO UPDATE SET {set}"
            ),
            &[
                &row.cloud,
                &row.authority_base,
                &row.graph_base,
                &row.tenant_id,
                &row.client_id,
                &row.host_object_id,
                &row.host_upn,
                &row.host_display_name,
                &row.granted_scopes,
                &row.state.as_str(),
                &row.attention_reason,
                &row.connected_at,
                &row.connected_by,
                &row.last_refresh_at,
                &row.removed_at,
            ],
        )
        .map(|_| ())
    }

    fn integration_record_refresh(
        &self,
        at: &str,
        granted: &str,
        state: RowState,
        reason: Option<&str>,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE integration SET last_refresh_at = $1, granted_scopes = $2, state = $3, \
             attention_reason = $4 WHERE id = 1 AND state <> 'removed'",
            &[&at, &granted, &state.as_str(), &reason],
        )
        .map(changed)
    }

    fn integration_set_attention(&self, reason: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE integration SET state = 'needs_attention', attention_reason = $1 \
             WHERE id = 1 AND state <> 'removed'",
            &[&reason],
        )
        .map(changed)
    }

    fn integration_mark_removed(&self, at: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE integration SET state = 'removed', removed_at = $1, attention_reason = NULL \
             WHERE id = 1 AND state <> 'removed'",
            &[&at],
        )
        .map(changed)
    }

    fn integration_invitation_mode(&self) -> Result<InvitationMode, StoreError> {
        let name: Option<String> =
            match self.query_opt("SELECT invitation_mode FROM integration WHERE id = 1", &[])? {
                Some(r) => Some(get(self, &r, 0)?),
                None => None,
            };
        Ok(name
            .as_deref()
            .and_then(InvitationMode::parse)
            .unwrap_or_default())
    }

    fn integration_set_invitation_mode(&self, mode: InvitationMode) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE integration SET invitation_mode = $1 WHERE id = 1",
            &[&mode.as_str()],
        )
        .map(changed)
    }

    fn integration_ever_connected(&self) -> Result<bool, StoreError> {
        get(
            self,
            &self.query_one("SELECT EXISTS (SELECT 1 FROM integration)", &[])?,
            0,
        )
    }
}
