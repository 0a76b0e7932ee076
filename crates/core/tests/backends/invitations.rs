//! Invitations (issue 22) on both backends: the integration's invitation mode (none until set,
//! kept through a reconnect's put, refused without a row) and each meeting's invitation record
//! (the mode it was made in, its event, and the sent/updated/cancelled times).

use tsched_core::store::integration::{IntegrationRow, InvitationMode, RowState};
use tsched_core::store::meetings::{InvitationsSent, NewRow};

use crate::support::{self, write};

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
        granted_scopes: "User.ReadBasic.All OnlineMeetings.ReadWrite Calendars.ReadWrite".into(),
        state: RowState::Connected,
        attention_reason: None,
        connected_at: "2027-01-01T00:00:00Z".into(),
        connected_by: Some("local:me".into()),
        last_refresh_at: None,
        removed_at: None,
    }
}

#[test]
fn the_invitation_mode_is_none_until_set_and_a_reconnect_keeps_it() {
    support::each_backend(|b, store| {
        assert_eq!(
            store.tables().integration_invitation_mode().expect("mode"),
            InvitationMode::None,
            "{b}: none without a row"
        );
        let changed = write(b, store, |tx| {
            tx.integration_set_invitation_mode(InvitationMode::Calendar)
        });
        assert_eq!(changed, 0, "{b}: no row, nothing to set");
        write(b, store, |tx| tx.integration_put(&row()));
        assert_eq!(
            store.tables().integration_invitation_mode().expect("mode"),
            InvitationMode::None,
            "{b}: a new connection sends no invitations"
        );
        write(b, store, |tx| {
            tx.integration_set_invitation_mode(InvitationMode::Calendar)
        });
        write(b, store, |tx| tx.integration_put(&row()));
        assert_eq!(
            store.tables().integration_invitation_mode().expect("mode"),
            InvitationMode::Calendar,
            "{b}: a reconnect keeps the mode"
        );
    });
}

#[test]
fn a_meeting_records_its_invitations() {
    support::each_backend(|b, store| {
        let program = write(b, store, |tx| {
            tx.program_insert("eng", "Engineering", "", &[])
        });
        let id = write(b, store, |tx| {
            let id = tx
                .meeting_insert_pending(
                    &NewRow {
                        external_id: "ext-1",
                        program_id: program,
                        batch_id: None,
                        subject: "Kick-off",
                        start_utc: "2027-03-01T09:00:00Z",
                        end_utc: "2027-03-01T10:00:00Z",
                        time_zone: "UTC",
                        created_by: "a@x.example",
                        now: "2027-01-01T00:00:00Z",
                    },
                    &[],
                )?
                .expect("recorded");
            tx.meeting_set_invitations(id, InvitationMode::Calendar)?;
            Ok(id)
        });
        let m = store
            .tables()
            .meeting_by_id(id)
            .expect("read")
            .expect("row");
        assert_eq!(
            (
                m.invitations,
                m.event_id.as_deref(),
                m.invitations_sent_at.as_deref()
            ),
            (InvitationMode::Calendar, None, None),
            "{b}: made in calendar mode, nothing sent yet"
        );
        write(b, store, |tx| {
            tx.meeting_record_invitations(id, InvitationsSent::Sent { event_id: "AAMk1" }, "T1")?;
            tx.meeting_record_invitations(id, InvitationsSent::Updated, "T2")?;
            tx.meeting_record_invitations(id, InvitationsSent::Cancelled, "T3")
        });
        let m = store
            .tables()
            .meeting_by_id(id)
            .expect("read")
            .expect("row");
        assert_eq!(
            (
                m.event_id.as_deref(),
                m.invitations_sent_at.as_deref(),
                m.invitations_updated_at.as_deref(),
                m.invitations_cancelled_at.as_deref()
            ),
            (Some("AAMk1"), Some("T1"), Some("T2"), Some("T3")),
            "{b}: the event and each send are recorded"
        );
    });
}
