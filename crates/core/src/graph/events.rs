//! Events on the host's calendar (`/me/events`), for the `calendar` invitation mode: the meeting
//! is an event with a Teams meeting, so Exchange sends the invitations, updates and
//! cancellations to its attendees.
//!
//! - create: `POST /me/events` with `isOnlineMeeting` and `onlineMeetingProvider:
//!   teamsForBusiness` (https://learn.microsoft.com/en-us/graph/api/user-post-events), keyed by a
//!   `transactionId` derived from our externalId: "an optional identifier … to avoid redundant
//!   POST operations in case of client retries" (event resource), so a retry, a resume or a
//!   re-run never sends a second invitation;
//! - update: `PATCH /me/events/{id}` (https://learn.microsoft.com/en-us/graph/api/event-update);
//!   the Teams meeting and its join link stay;
//! - cancel: `POST /me/events/{id}/cancel` with a comment
//!   (https://learn.microsoft.com/en-us/graph/api/event-cancel).
//!
//! Request building is pure. Our own types from the documented event shape; never shared with
//! the sandbox. Times are sent as UTC `dateTimeTimeZone`s; no `Prefer: outlook.timezone`, so the
//! answers are UTC too.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::users::encode_component;
use super::{GraphClient, GraphError, GraphRequest, GraphResponse};

/// The namespace of [`transaction_id`]'s UUIDs (a fixed random UUID: changing it would let a
/// resumed meeting send its invitations again).
const TRANSACTION_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x6f1d_52a4_93c8_4e0b_a7d2_1c5e_8b34_f907);

/// Pure: the event's `transactionId` for a meeting's externalId: a UUID v5 of it, so the same
/// meeting always carries the same one (whoever sends it, however often).
pub fn transaction_id(external_id: &str) -> String {
    uuid::Uuid::new_v5(&TRANSACTION_NAMESPACE, external_id.as_bytes()).to_string()
}

/// An attendee: the address invitations go to, and the name to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAttendee {
    /// SMTP address (or UPN).
    pub address: String,
    /// Display name, when known.
    pub name: Option<String>,
}

/// Input of [`create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// [`transaction_id`] of the meeting's externalId.
    pub transaction_id: String,
    /// Subject, as given.
    pub subject: String,
    /// Start (UTC).
    pub start: DateTime<Utc>,
    /// End (UTC).
    pub end: DateTime<Utc>,
    /// Who is invited.
    pub attendees: Vec<EventAttendee>,
}

/// What a reschedule changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventUpdate {
    /// New start (UTC).
    pub start: DateTime<Utc>,
    /// New end (UTC).
    pub end: DateTime<Utc>,
    /// New subject, when changed.
    pub subject: Option<String>,
    /// The whole new attendee list, when changed.
    pub attendees: Option<Vec<EventAttendee>>,
}

/// `dateTimeTimeZone`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateTimeTimeZone {
    /// Local date and time (`2027-03-15T13:00:00.0000000`).
    pub date_time: String,
    /// The zone it is in (`UTC` unless asked otherwise).
    pub time_zone: String,
}

impl DateTimeTimeZone {
    /// The instant, when the zone is UTC (what we asked for); else `None`.
    pub fn utc(&self) -> Option<DateTime<Utc>> {
        if !self.time_zone.eq_ignore_ascii_case("UTC") {
            return None;
        }
        let t = self.date_time.trim_end_matches('Z');
        NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
            .ok()
            .map(|n| n.and_utc())
    }
}

/// `onlineMeetingInfo` (only the join link).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnlineMeetingInfo {
    /// The join link.
    #[serde(default)]
    pub join_url: Option<String>,
}

/// What we read of an `event`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Graph id.
    pub id: String,
    /// Start.
    #[serde(default)]
    pub start: Option<DateTimeTimeZone>,
    /// End.
    #[serde(default)]
    pub end: Option<DateTimeTimeZone>,
    /// The Teams meeting (null until it exists).
    #[serde(default)]
    pub online_meeting: Option<OnlineMeetingInfo>,
}

impl Event {
    /// The Teams join link, if the event has one.
    pub fn join_url(&self) -> Option<&str> {
        self.online_meeting
            .as_ref()
            .and_then(|m| m.join_url.as_deref())
            .filter(|u| !u.is_empty())
    }
}

fn utc(t: DateTime<Utc>) -> Value {
    json!({
        "dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "timeZone": "UTC",
    })
}

fn attendees_json(attendees: &[EventAttendee]) -> Value {
    Value::Array(
        attendees
            .iter()
            .map(|a| {
                let mut email = json!({ "address": a.address });
                if let Some(n) = &a.name {
                    email["name"] = json!(n);
                }
                json!({ "emailAddress": email, "type": "required" })
            })
            .collect(),
    )
}

fn event_path(id: &str) -> String {
    format!("/me/events/{}", encode_component(id))
}

/// Pure: the create `POST`: a Teams meeting on the host's calendar, every participant a
/// required attendee, keyed by the transaction id.
pub fn create_request(e: &NewEvent) -> GraphRequest {
    GraphRequest::with_body(
        reqwest::Method::POST,
        "/me/events",
        json!({
            "subject": e.subject,
            "start": utc(e.start),
            "end": utc(e.end),
            "attendees": attendees_json(&e.attendees),
            "isOnlineMeeting": true,
            "onlineMeetingProvider": "teamsForBusiness",
            "allowNewTimeProposals": false,
            "transactionId": e.transaction_id,
        }),
    )
}

/// Pure: the reschedule `PATCH`: start and end together, subject and attendees when changed.
pub fn update_request(id: &str, u: &EventUpdate) -> GraphRequest {
    let mut body = json!({ "start": utc(u.start), "end": utc(u.end) });
    if let Some(s) = &u.subject {
        body["subject"] = json!(s);
    }
    if let Some(a) = &u.attendees {
        body["attendees"] = attendees_json(a);
    }
    GraphRequest::with_body(reqwest::Method::PATCH, event_path(id), body)
}

/// Pure: the cancel `POST` with its comment (event-cancel: `comment`).
pub fn cancel_request(id: &str, comment: &str) -> GraphRequest {
    GraphRequest::with_body(
        reqwest::Method::POST,
        format!("{}/cancel", event_path(id)),
        json!({ "comment": comment }),
    )
}

/// `POST /me/events`. Safe to repeat: the transaction id makes Exchange answer the event it
/// already made (and send nothing more).
pub async fn create(
    client: &GraphClient,
    e: &NewEvent,
) -> Result<GraphResponse<Event>, GraphError> {
    client.send(&create_request(e)).await?.decode()
}

/// `PATCH /me/events/{id}`: Exchange sends the attendees the update.
pub async fn update(
    client: &GraphClient,
    id: &str,
    u: &EventUpdate,
) -> Result<GraphResponse<Event>, GraphError> {
    client.send(&update_request(id, u)).await?.decode()
}

/// `POST /me/events/{id}/cancel`: Exchange sends the cancellations and the event leaves the
/// calendar. `Ok(None)` when the event was already gone (404); else Graph's request-id.
pub async fn cancel(
    client: &GraphClient,
    id: &str,
    comment: &str,
) -> Result<Option<Option<String>>, GraphError> {
    match client.send(&cancel_request(id, comment)).await {
        Ok(raw) => Ok(Some(raw.request_id)),
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
    fn transaction_ids_are_stable_per_external_id_and_differ_between_them() {
        assert_eq!(
            transaction_id("ext-1"),
            transaction_id("ext-1"),
            "a retry or resume sends the same transactionId"
        );
        assert_ne!(
            transaction_id("ext-1"),
            transaction_id("ext-2"),
            "two meetings never share one"
        );
    }

    #[test]
    fn create_body_is_a_teams_meeting_with_every_participant_and_the_transaction_id() {
        let r = create_request(&NewEvent {
            transaction_id: "tx-1".into(),
            subject: "Mentoring; week 1".into(),
            start: t(9),
            end: t(10),
            attendees: vec![EventAttendee {
                address: "a@contoso.example".into(),
                name: Some("Ann".into()),
            }],
        });
        assert_eq!(r.path_and_query, "/me/events", "documented path");
        let b = r.body.expect("body");
        assert_eq!(b["isOnlineMeeting"], true, "a Teams meeting");
        assert_eq!(b["onlineMeetingProvider"], "teamsForBusiness", "Teams");
        assert_eq!(b["transactionId"], "tx-1", "idempotency key sent");
        assert_eq!(
            b["start"],
            json!({"dateTime": "2027-03-15T09:00:00", "timeZone": "UTC"}),
            "UTC dateTimeTimeZone"
        );
        assert_eq!(
            b["attendees"][0]["emailAddress"]["address"], "a@contoso.example",
            "the participant is invited"
        );
        assert_eq!(
            b["attendees"][0]["type"], "required",
            "as a required attendee"
        );
    }

    #[test]
    fn update_sends_start_and_end_and_only_what_changed() {
        let r = update_request(
            "AAMk=",
            &EventUpdate {
                start: t(11),
                end: t(12),
                subject: None,
                attendees: None,
            },
        );
        let b = r.body.expect("body");
        assert!(
            b.get("start").is_some() && b.get("end").is_some(),
            "times together"
        );
        assert!(
            b.get("subject").is_none() && b.get("attendees").is_none(),
            "nothing else"
        );
        assert_eq!(r.path_and_query, "/me/events/AAMk%3D", "id encoded");
        let c = cancel_request("AAMk=", "Cancelled");
        assert_eq!(c.path_and_query, "/me/events/AAMk%3D/cancel", "cancel path");
        assert_eq!(
            c.body.expect("body")["comment"],
            "Cancelled",
            "comment sent"
        );
    }

    #[test]
    fn the_documented_answer_decodes_with_its_join_link_and_utc_times() {
        let body = r#"{"id":"AAMkAGI1","start":{"dateTime":"2027-03-15T13:00:00.0000000","timeZone":"UTC"},"end":{"dateTime":"2027-03-15T13:45:00.0000000","timeZone":"UTC"},"isOnlineMeeting":true,"onlineMeetingProvider":"teamsForBusiness","onlineMeeting":{"joinUrl":"https://teams.microsoft.com/l/meetup-join/x"}}"#;
        let e: Event = serde_json::from_str(body).expect("decodes");
        assert_eq!(
            e.join_url(),
            Some("https://teams.microsoft.com/l/meetup-join/x"),
            "join link read"
        );
        assert_eq!(
            e.start
                .and_then(|s| s.utc())
                .map(crate::time::to_db)
                .as_deref(),
            Some("2027-03-15T13:00:00Z"),
            "UTC start read"
        );
        let none: Event =
            serde_json::from_str(r#"{"id":"x","onlineMeeting":null}"#).expect("decodes");
        assert_eq!(none.join_url(), None, "no Teams meeting: no link");
    }
}
