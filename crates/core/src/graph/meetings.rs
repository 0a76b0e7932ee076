//! Online meetings of the host account (`/me/onlineMeetings`): `createOrGet` keyed by our
//! externalId (https://learn.microsoft.com/en-us/graph/api/onlinemeeting-createorget — the same
//! externalId for the same organizer returns the existing meeting with 200, so a retry after a
//! crash never makes a second one), `GET`, `PATCH` (start and end always together, attendees
//! replaced whole — https://learn.microsoft.com/en-us/graph/api/onlinemeeting-update) and
//! `DELETE` (https://learn.microsoft.com/en-us/graph/api/onlinemeeting-delete). Request building
//! is pure. Our own types from the documented shape (schema-onlinemeeting.json); never shared
//! with the sandbox. Never logs or formats the passcode into a message.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::users::encode_component;
use super::{GraphClient, GraphError, GraphRequest, GraphResponse};

/// An attendee: UPN and directory object id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    /// userPrincipalName.
    pub upn: String,
    /// Object id.
    pub user_id: String,
}

/// Input of [`create_or_get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOrGet {
    /// Our idempotency key (a UUID or a value derived from it).
    pub external_id: String,
    /// Subject, as given.
    pub subject: String,
    /// Start (UTC).
    pub start: DateTime<Utc>,
    /// End (UTC).
    pub end: DateTime<Utc>,
    /// Attendees.
    pub attendees: Vec<Attendee>,
}

/// What we read of an `onlineMeeting`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineMeeting {
    /// Graph id.
    pub id: String,
    /// The join link.
    #[serde(default)]
    pub join_web_url: Option<String>,
    /// Subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Start (UTC).
    pub start_date_time: Option<DateTime<Utc>>,
    /// End (UTC).
    pub end_date_time: Option<DateTime<Utc>>,
    /// Our externalId (createOrGet only).
    #[serde(default)]
    pub external_id: Option<String>,
    /// Organizer and attendees.
    #[serde(default)]
    pub participants: Option<Participants>,
    /// Join-by-id settings.
    #[serde(default)]
    pub join_meeting_id_settings: Option<JoinMeetingIdSettings>,
    /// Lobby settings.
    #[serde(default)]
    pub lobby_bypass_settings: Option<LobbyBypassSettings>,
}

/// `meetingParticipants`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Participants {
    /// The organizer.
    #[serde(default)]
    pub organizer: Option<ParticipantInfo>,
    /// The attendees.
    #[serde(default)]
    pub attendees: Vec<ParticipantInfo>,
}

/// `meetingParticipantInfo` (only the UPN).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ParticipantInfo {
    /// UPN (may be null).
    #[serde(default)]
    pub upn: Option<String>,
}

/// `joinMeetingIdSettings`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinMeetingIdSettings {
    /// The numeric meeting id people type.
    #[serde(default)]
    pub join_meeting_id: Option<String>,
    /// The passcode (may be null).
    #[serde(default)]
    pub passcode: Option<String>,
}

/// `lobbyBypassSettings`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LobbyBypassSettings {
    /// `organizer`, `organization`, `everyone`, …
    #[serde(default)]
    pub scope: Option<String>,
}

/// Graph wants ISO 8601 with an offset; we always send UTC.
fn graph_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn attendees_json(attendees: &[Attendee]) -> Value {
    Value::Array(
        attendees
            .iter()
            .map(|a| {
                json!({
                    "upn": a.upn,
                    "role": "attendee",
                    "identity": {"user": {"id": a.user_id}}
                })
            })
            .collect(),
    )
}

/// Pure: the `createOrGet` request. People of the organization skip the lobby
/// (`lobbyBypassSettings.scope = organization`).
pub fn create_or_get_request(c: &CreateOrGet) -> GraphRequest {
    GraphRequest::with_body(
        reqwest::Method::POST,
        "/me/onlineMeetings/createOrGet",
        json!({
            "externalId": c.external_id,
            "subject": c.subject,
            "startDateTime": graph_time(c.start),
            "endDateTime": graph_time(c.end),
            "participants": {"attendees": attendees_json(&c.attendees)},
            "lobbyBypassSettings": {"scope": "organization"},
        }),
    )
}

/// What [`create_or_get`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CreateOrGetOutcome {
    /// 201: a new meeting.
    Created,
    /// 200: the meeting with this externalId already existed.
    Existing,
}

/// `POST /me/onlineMeetings/createOrGet`. Safe to repeat: the externalId makes it idempotent.
pub async fn create_or_get(
    client: &GraphClient,
    c: &CreateOrGet,
) -> Result<(CreateOrGetOutcome, GraphResponse<OnlineMeeting>), GraphError> {
    let raw = client.send(&create_or_get_request(c)).await?;
    let outcome = if raw.status == 201 {
        CreateOrGetOutcome::Created
    } else {
        CreateOrGetOutcome::Existing
    };
    Ok((outcome, raw.decode()?))
}

/// What a reschedule changes. Start and end always travel together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reschedule {
    /// New start (UTC).
    pub start: DateTime<Utc>,
    /// New end (UTC).
    pub end: DateTime<Utc>,
    /// New subject, when changed.
    pub subject: Option<String>,
    /// The whole new attendee list, when changed.
    pub attendees: Option<Vec<Attendee>>,
}

fn meeting_path(id: &str) -> String {
    format!("/me/onlineMeetings/{}", encode_component(id))
}

/// Pure: the reschedule `PATCH`.
pub fn reschedule_request(id: &str, r: &Reschedule) -> GraphRequest {
    let mut body = json!({
        "startDateTime": graph_time(r.start),
        "endDateTime": graph_time(r.end),
    });
    if let Some(s) = &r.subject {
        body["subject"] = json!(s);
    }
    if let Some(a) = &r.attendees {
        body["participants"] = json!({"attendees": attendees_json(a)});
    }
    GraphRequest::with_body(reqwest::Method::PATCH, meeting_path(id), body)
}

/// Pure: the `PATCH` that lets only the organizer bypass the lobby.
pub fn lock_lobby_request(id: &str) -> GraphRequest {
    GraphRequest::with_body(
        reqwest::Method::PATCH,
        meeting_path(id),
        json!({"lobbyBypassSettings": {"scope": "organizer"}}),
    )
}

/// `PATCH` start/end (+ subject, attendees).
pub async fn reschedule(
    client: &GraphClient,
    id: &str,
    r: &Reschedule,
) -> Result<GraphResponse<OnlineMeeting>, GraphError> {
    client.send(&reschedule_request(id, r)).await?.decode()
}

/// Locks the lobby to the organizer. `Ok(None)` when the meeting is gone (404).
pub async fn lock_lobby(
    client: &GraphClient,
    id: &str,
) -> Result<Option<Option<String>>, GraphError> {
    match client.send(&lock_lobby_request(id)).await {
        Ok(raw) => Ok(Some(raw.request_id)),
        Err(GraphError::Status { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `DELETE`; `Ok(false)` when it was already gone (404).
pub async fn delete(client: &GraphClient, id: &str) -> Result<(bool, Option<String>), GraphError> {
    let req = GraphRequest {
        method: reqwest::Method::DELETE,
        path_and_query: meeting_path(id),
        headers: Vec::new(),
        body: None,
    };
    match client.send(&req).await {
        Ok(raw) => Ok((true, raw.request_id)),
        Err(GraphError::Status {
            status: 404,
            request_id,
            ..
        }) => Ok((false, request_id)),
        Err(e) => Err(e),
    }
}

/// Pure: `GET /me/onlineMeetings?$filter=JoinWebUrl eq '…'`: how the Teams meeting of a
/// calendar event is found from the event's `onlineMeeting.joinUrl`
/// (https://learn.microsoft.com/en-us/graph/api/onlinemeeting-get, example 2).
pub fn by_join_url_request(join_url: &str) -> GraphRequest {
    let filter = format!("JoinWebUrl eq {}", super::users::odata_string(join_url));
    GraphRequest::get(format!(
        "/me/onlineMeetings?$filter={}",
        encode_component(&filter)
    ))
}

/// The Teams meeting whose join link is `join_url`, if any.
pub async fn by_join_url(
    client: &GraphClient,
    join_url: &str,
) -> Result<Option<OnlineMeeting>, GraphError> {
    #[derive(Deserialize)]
    struct List {
        value: Vec<OnlineMeeting>,
    }
    let list: List = client
        .send(&by_join_url_request(join_url))
        .await?
        .decode()?
        .value;
    Ok(list.value.into_iter().next())
}

/// `GET`; `Ok(None)` on 404.
pub async fn get(client: &GraphClient, id: &str) -> Result<Option<OnlineMeeting>, GraphError> {
    match client.send(&GraphRequest::get(meeting_path(id))).await {
        Ok(raw) => Ok(Some(raw.decode()?.value)),
        Err(GraphError::Status { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 3, 15, h, 0, 0)
            .single()
            .expect("valid time")
    }

    #[test]
    fn create_or_get_body_has_external_id_attendees_and_org_lobby() {
        let r = create_or_get_request(&CreateOrGet {
            external_id: "ext-1".into(),
            subject: "Mentoring: a; b".into(),
            start: t(9),
            end: t(10),
            attendees: vec![Attendee {
                upn: "a@contoso.example".into(),
                user_id: "id-a".into(),
            }],
        });
        let b = r.body.expect("body");
        assert_eq!(
            r.path_and_query, "/me/onlineMeetings/createOrGet",
            "documented path"
        );
        assert_eq!(b["externalId"], "ext-1", "idempotency key sent");
        assert_eq!(b["subject"], "Mentoring: a; b", "subject as given");
        assert_eq!(b["startDateTime"], "2027-03-15T09:00:00Z", "UTC start");
        assert_eq!(
            b["participants"]["attendees"][0]["identity"]["user"]["id"], "id-a",
            "attendee carries the user id"
        );
        assert_eq!(
            b["participants"]["attendees"][0]["upn"], "a@contoso.example",
            "attendee carries the upn"
        );
        assert_eq!(
            b["lobbyBypassSettings"]["scope"], "organization",
            "org bypasses the lobby"
        );
    }

    #[test]
    fn reschedule_sends_start_and_end_together() {
        let r = reschedule_request(
            "abc=",
            &Reschedule {
                start: t(11),
                end: t(12),
                subject: None,
                attendees: None,
            },
        );
        let b = r.body.expect("body");
        assert!(
            b.get("startDateTime").is_some() && b.get("endDateTime").is_some(),
            "start and end always together (onlinemeeting-update.md)"
        );
        assert!(b.get("subject").is_none(), "unchanged subject not sent");
        assert_eq!(
            r.path_and_query, "/me/onlineMeetings/abc%3D",
            "id is encoded"
        );
    }

    #[test]
    fn documented_create_answer_decodes() {
        let body = r#"{"id":"MSpkYzE3","startDateTime":"2019-07-11T02:17:17.6491364Z","endDateTime":"2019-07-11T02:47:17.651138Z","joinWebUrl":"https://teams.microsoft.com/l/meetup-join/x","subject":"User Token Meeting","participants":{"organizer":{"upn":"h@contoso.com","identity":{"user":{"id":"1"}}},"attendees":[]},"joinMeetingIdSettings":{"isPasscodeRequired":false,"joinMeetingId":"1234567890","passcode":null},"lobbyBypassSettings":{"scope":"organization"}}"#;
        let m: OnlineMeeting = serde_json::from_str(body).expect("documented shape decodes");
        assert_eq!(
            m.participants
                .and_then(|p| p.organizer)
                .and_then(|o| o.upn)
                .as_deref(),
            Some("h@contoso.com"),
            "organizer read"
        );
        assert_eq!(
            m.join_meeting_id_settings
                .and_then(|j| j.join_meeting_id)
                .as_deref(),
            Some("1234567890"),
            "join meeting id read"
        );
    }
}
