//! Online meetings of the signed-in user: `POST /me/onlineMeetings`,
//! `POST /me/onlineMeetings/createOrGet` (keyed by tenant + organizer + externalId),
//! `GET /me/onlineMeetings/{id}`, `GET /me/onlineMeetings?$filter=JoinWebUrl eq '…'`,
//! `PATCH` and `DELETE`. Shapes follow schema-onlinemeeting.json and the
//! graph-onlinemeetings-*.json exchanges (https://learn.microsoft.com/en-us/graph/api/resources/onlinemeeting).
//! Times are normalised to UTC `Z` with 7 fractional digits, as in the documented responses.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};

use super::errors::GraphError;
use super::{Ctx, GraphResponse};
use crate::state::{random_token, Meeting, State};

const READ: &[&str] = &["OnlineMeetings.Read", "OnlineMeetings.ReadWrite"];
const WRITE: &[&str] = &["OnlineMeetings.ReadWrite"];

const PRESENTERS: &[&str] = &["everyone", "organization", "roleIsPresenter", "organizer"];
const ROLES: &[&str] = &["attendee", "presenter", "producer", "coorganizer"];
const LOBBY_SCOPES: &[&str] = &[
    "organizer",
    "organization",
    "organizationAndFederated",
    "everyone",
    "invited",
    "organizationExcludingGuests",
];
/// onlinemeeting-update.md "updatable properties".
const UPDATABLE: &[&str] = &[
    "allowAttendeeToEnableCamera",
    "allowAttendeeToEnableMic",
    "allowBreakoutRooms",
    "allowCopyingAndSharingMeetingContent",
    "allowedLobbyAdmitters",
    "allowedPresenters",
    "allowLiveShare",
    "allowMeetingChat",
    "allowPowerPointSharing",
    "allowRecording",
    "allowTeamworkReactions",
    "allowTranscription",
    "allowWhiteboard",
    "anonymizeIdentityForRoles",
    "endDateTime",
    "isEntryExitAnnounced",
    "lobbyBypassSettings",
    "participants",
    "recordAutomatically",
    "startDateTime",
    "subject",
    "watermarkProtection",
    "broadcastSettings",
];
/// Settable on create besides the updatable ones.
const CREATE_ONLY: &[&str] = &[
    "joinMeetingIdSettings",
    "meetingTemplateId",
    "isEndToEndEncryptionEnabled",
    "chatInfo",
    "externalId",
];

/// `2019-07-11T02:17:17.6491364Z`
pub fn graph_time(t: DateTime<Utc>) -> String {
    format!(
        "{}.{:07}Z",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.timestamp_subsec_nanos() / 100
    )
}

fn parse_time(body: &Map<String, Value>, name: &str) -> Result<Option<DateTime<Utc>>, GraphError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| GraphError::bad_request(format!("Invalid value '{s}' for property '{name}': expected an ISO 8601 date-time with offset."))),
        Some(_) => Err(GraphError::bad_request(format!("Property '{name}' must be a date-time string."))),
    }
}

/// The request's JSON object body (also read by `events`): 400 when empty or not an object, 415
/// when not sent as JSON.
pub(super) fn body_object(ctx: &Ctx<'_>) -> Result<Map<String, Value>, GraphError> {
    let Some(bytes) = ctx.req.body.as_deref() else {
        return Err(GraphError::bad_request(
            "Empty request body. A JSON object is required.",
        ));
    };
    let ct = ctx.req.header("content-type").unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/json") {
        return Err(GraphError::new(
            415,
            "UnsupportedMediaType",
            "Content-Type must be application/json.",
        ));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(GraphError::bad_request(
            "Invalid JSON body: a JSON object is required.",
        )),
    }
}

fn check_enum(body: &Map<String, Value>) -> Result<(), GraphError> {
    if let Some(v) = body.get("allowedPresenters") {
        if !v.as_str().is_some_and(|s| PRESENTERS.contains(&s)) {
            return Err(GraphError::bad_request(format!(
                "Invalid value {v} for property 'allowedPresenters'."
            )));
        }
    }
    if let Some(scope) = body.get("lobbyBypassSettings").and_then(|l| l.get("scope")) {
        if !scope.as_str().is_some_and(|s| LOBBY_SCOPES.contains(&s)) {
            return Err(GraphError::bad_request(format!(
                "Invalid value {scope} for property 'lobbyBypassSettings.scope'."
            )));
        }
    }
    Ok(())
}

/// Normalises `participants.attendees`: each entry gets `upn`, `role`, `identity.user`.
fn attendees(st: &State, body: &Map<String, Value>) -> Result<Option<Vec<Value>>, GraphError> {
    let Some(list) = body.get("participants").and_then(|p| p.get("attendees")) else {
        return Ok(None);
    };
    let Some(list) = list.as_array() else {
        return Err(GraphError::bad_request(
            "participants.attendees must be an array.",
        ));
    };
    let mut out = Vec::new();
    for a in list {
        let Some(obj) = a.as_object() else {
            return Err(GraphError::bad_request(
                "Each attendee must be a meetingParticipantInfo object.",
            ));
        };
        let role = obj.get("role").cloned().unwrap_or(json!("attendee"));
        if !(role.is_null() || role.as_str().is_some_and(|r| ROLES.contains(&r))) {
            return Err(GraphError::bad_request(format!(
                "Invalid value {role} for property 'role'."
            )));
        }
        let upn = obj.get("upn").and_then(Value::as_str);
        let given_id = obj
            .get("identity")
            .and_then(|i| i.get("user"))
            .and_then(|u| u.get("id"))
            .and_then(Value::as_str);
        if upn.is_none() && given_id.is_none() {
            return Err(GraphError::bad_request(
                "An attendee needs 'upn' or 'identity.user.id'.",
            ));
        }
        let known = given_id
            .and_then(|i| st.user(i))
            .or_else(|| upn.and_then(|u| st.user(u)));
        let id = given_id
            .map(str::to_owned)
            .or_else(|| known.map(|u| u.id.clone()));
        let upn = upn
            .map(str::to_owned)
            .or_else(|| known.map(|u| u.user_principal_name.clone()));
        out.push(json!({
            "upn": upn,
            "role": role,
            "identity": {"application": Value::Null, "device": Value::Null, "user": {
                "id": id,
                "displayName": known.map(|u| u.display_name.clone()),
                "tenantId": known.map(|_| st.seed.tenant_id.clone()),
                "identityProvider": "AAD"
            }}
        }));
    }
    Ok(Some(out))
}

fn digits(n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        let v = uuid::Uuid::new_v4().as_u128();
        s.push_str(&v.to_string());
    }
    s.truncate(n);
    if s.starts_with('0') {
        s.replace_range(0..1, "9");
    }
    s
}

fn new_meeting(
    st: &State,
    organizer_id: &str,
    body: &Map<String, Value>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    external_id: Option<String>,
) -> Result<Meeting, GraphError> {
    let organizer = st
        .user(organizer_id)
        .cloned()
        .ok_or_else(|| GraphError::new(404, "NotFound", "Organizer not found."))?;
    let tid = st.seed.tenant_id.clone();
    let b64 = base64::engine::general_purpose::STANDARD;
    let thread_seed = uuid::Uuid::new_v4().to_string();
    let thread_id = format!("19:meeting_{}@thread.v2", b64.encode(thread_seed));
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("1*{}*0**{thread_id}", organizer.id));
    let enc_thread = thread_id
        .replace(':', "%3a")
        .replace('@', "%40")
        .replace('/', "%2f")
        .replace('+', "%2b")
        .replace('=', "%3d");
    let join_url = format!(
        "https://teams.microsoft.com/l/meetup-join/{enc_thread}/0?context=%7b%22Tid%22%3a%22{tid}%22%2c%22Oid%22%3a%22{}%22%7d",
        organizer.id
    );
    let passcode_required = body
        .get("joinMeetingIdSettings")
        .and_then(|j| j.get("isPasscodeRequired"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let passcode = if passcode_required {
        json!(random_token(6).replace(['-', '_'], "x"))
    } else {
        Value::Null
    };
    let vtc = digits(10);
    let attendees = attendees(st, body)?.unwrap_or_default();
    let now = st.now();
    let mut m = json!({
        "id": id,
        "creationDateTime": graph_time(now),
        "startDateTime": graph_time(start),
        "endDateTime": graph_time(end),
        "expiryDateTime": graph_time(end + Duration::days(60)),
        "joinWebUrl": join_url,
        "subject": body.get("subject").cloned().unwrap_or(Value::Null),
        "isBroadcast": false,
        "isEntryExitAnnounced": true,
        "allowedPresenters": "everyone",
        "allowMeetingChat": "enabled",
        "allowTeamworkReactions": true,
        "allowAttendeeToEnableCamera": true,
        "allowAttendeeToEnableMic": true,
        "recordAutomatically": false,
        "isEndToEndEncryptionEnabled": false,
        "meetingTemplateId": Value::Null,
        "videoTeleconferenceId": vtc,
        "externalId": external_id,
        "meetingOptionsWebUrl": format!("https://teams.microsoft.com/meetingOptions/?organizerId={}&tenantId={tid}&threadId={}&messageId=0&language=en-US", organizer.id, thread_id),
        "meetingSpokenLanguageTag": "en-US",
        "sensitivityLabelAssignment": Value::Null,
        "participants": {
            "organizer": {
                "upn": organizer.user_principal_name,
                "role": "presenter",
                "identity": {"application": Value::Null, "device": Value::Null, "user": {"id": organizer.id, "displayName": Value::Null, "tenantId": tid, "identityProvider": "AAD"}}
            },
            "attendees": attendees,
        },
        "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": false},
        "joinMeetingIdSettings": {"isPasscodeRequired": passcode_required, "joinMeetingId": digits(12), "passcode": passcode},
        "chatInfo": {"threadId": thread_id, "messageId": "0", "replyChainMessageId": Value::Null},
        "audioConferencing": Value::Null,
        "joinInformation": {"content": "data:text/html,%3cdiv%3eJoin+Microsoft+Teams+Meeting%3c%2fdiv%3e", "contentType": "html"},
    });
    // Settable properties the client supplied override the defaults.
    for (k, v) in body {
        let settable = (UPDATABLE.contains(&k.as_str()) || CREATE_ONLY.contains(&k.as_str()))
            && !matches!(
                k.as_str(),
                "participants"
                    | "startDateTime"
                    | "endDateTime"
                    | "joinMeetingIdSettings"
                    | "externalId"
                    | "chatInfo"
            );
        if settable {
            m[k.as_str()] = v.clone();
        }
    }
    Ok(Meeting {
        id,
        organizer_id: organizer.id,
        external_id,
        resource: m,
    })
}

/// The Teams meeting behind a calendar event created with `isOnlineMeeting` (graph::events):
/// stored with the other meetings, so its join link looks like theirs and
/// `GET /me/onlineMeetings?$filter=JoinWebUrl eq '…'` finds it. Returns (id, joinWebUrl).
pub(crate) fn create_for_event(
    st: &mut State,
    organizer_id: &str,
    subject: &Value,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    attendee_upns: &[String],
) -> Result<(String, String), GraphError> {
    let mut body = Map::new();
    body.insert("subject".into(), subject.clone());
    let attendees: Vec<Value> = attendee_upns.iter().map(|u| json!({ "upn": u })).collect();
    body.insert("participants".into(), json!({ "attendees": attendees }));
    let m = new_meeting(st, organizer_id, &body, start, end, None)?;
    let out = (
        m.id.clone(),
        m.resource["joinWebUrl"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    st.meetings.push(m);
    Ok(out)
}

/// Keeps an event's meeting in step with the event (subject, times, attendees).
pub(crate) fn update_for_event(
    st: &mut State,
    meeting_id: &str,
    subject: &Value,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    attendee_upns: &[String],
) {
    let mut body = Map::new();
    let attendees: Vec<Value> = attendee_upns.iter().map(|u| json!({ "upn": u })).collect();
    body.insert("participants".into(), json!({ "attendees": attendees }));
    let attendees = attendees_of(st, &body);
    if let Some(m) = st.meetings.iter_mut().find(|m| m.id == meeting_id) {
        m.resource["subject"] = subject.clone();
        m.resource["startDateTime"] = json!(graph_time(start));
        m.resource["endDateTime"] = json!(graph_time(end));
        m.resource["expiryDateTime"] = json!(graph_time(end + Duration::days(60)));
        if let Some(a) = attendees {
            m.resource["participants"]["attendees"] = Value::Array(a);
        }
    }
}

fn attendees_of(st: &State, body: &Map<String, Value>) -> Option<Vec<Value>> {
    attendees(st, body).ok().flatten()
}

fn with_context(st: &State, m: &Meeting) -> Value {
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!(
            "{}/v1.0/$metadata#users('{}')/onlineMeetings/$entity",
            st.base_url, m.organizer_id
        )),
    );
    if let Value::Object(r) = &m.resource {
        out.extend(r.clone());
    }
    Value::Object(out)
}

fn validate_window(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> Result<(), GraphError> {
    if end.is_some() && start.is_none() {
        return Err(GraphError::bad_request(
            "endDateTime cannot be specified without startDateTime.",
        ));
    }
    if let (Some(s), Some(e)) = (start, end) {
        if e < s {
            return Err(GraphError::bad_request(
                "endDateTime should be greater than startDateTime.",
            ));
        }
    }
    Ok(())
}

/// POST /me/onlineMeetings (onlinemeeting-create.md): subject and endDateTime are required.
pub fn create(st: &mut State, ctx: &Ctx<'_>) -> GraphResponse {
    let result = (|| {
        require(ctx, WRITE)?;
        let body = body_object(ctx)?;
        if body.contains_key("externalId") {
            return Err(GraphError::bad_request(
                "externalId is only supported through the createOrGet action.",
            ));
        }
        check_enum(&body)?;
        let start = parse_time(&body, "startDateTime")?;
        let end = parse_time(&body, "endDateTime")?;
        validate_window(start, end)?;
        let (Some(start), Some(end)) = (start, end) else {
            return Err(GraphError::bad_request(
                "startDateTime and endDateTime are required to create an online meeting.",
            ));
        };
        if !body.get("subject").is_some_and(Value::is_string) {
            return Err(GraphError::bad_request(
                "subject is required to create an online meeting.",
            ));
        }
        new_meeting(st, &ctx.caller.user_id, &body, start, end, None)
    })();
    match result {
        Ok(m) => {
            let body = with_context(st, &m);
            st.meetings.push(m);
            GraphResponse::json(201, body)
        }
        Err(e) => ctx.error(st, e),
    }
}

/// POST /me/onlineMeetings/createOrGet (onlinemeeting-createorget.md).
pub fn create_or_get(st: &mut State, ctx: &Ctx<'_>) -> GraphResponse {
    let result =
        (|| {
            require(ctx, WRITE)?;
            let body = body_object(ctx)?;
            let Some(ext) = body
                .get("externalId")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
            else {
                return Err(GraphError::bad_request("externalId is required."));
            };
            if let Some(existing) = st.meetings.iter().find(|m| {
                m.organizer_id == ctx.caller.user_id && m.external_id.as_deref() == Some(ext)
            }) {
                return Ok((200, with_context(st, existing), None));
            }
            check_enum(&body)?;
            let start = parse_time(&body, "startDateTime")?;
            let end = parse_time(&body, "endDateTime")?;
            validate_window(start, end)?;
            let start = start.unwrap_or_else(|| st.now());
            let end = end.unwrap_or(start + Duration::hours(1));
            let m = new_meeting(
                st,
                &ctx.caller.user_id,
                &body,
                start,
                end,
                Some(ext.to_owned()),
            )?;
            Ok((201, with_context(st, &m), Some(m)))
        })();
    match result {
        Ok((status, body, created)) => {
            if let Some(m) = created {
                st.meetings.push(m);
            }
            GraphResponse::json(status, body)
        }
        Err(e) => ctx.error(st, e),
    }
}

fn require(ctx: &Ctx<'_>, scopes: &[&str]) -> Result<(), GraphError> {
    if ctx.caller.has_any(scopes) {
        Ok(())
    } else {
        Err(GraphError::new(
            403,
            "Forbidden",
            "Insufficient privileges to complete the operation.",
        ))
    }
}

fn not_found() -> GraphError {
    GraphError::new(
        404,
        "NotFound",
        "The requested online meeting was not found.",
    )
}

fn is_attendee(m: &Meeting, st: &State, user_id: &str) -> bool {
    let upn = st
        .user(user_id)
        .map(|u| u.user_principal_name.to_lowercase());
    m.resource["participants"]["attendees"]
        .as_array()
        .is_some_and(|a| {
            a.iter().any(|x| {
                x["identity"]["user"]["id"].as_str() == Some(user_id)
                    || x["upn"].as_str().map(str::to_lowercase) == upn
            })
        })
}

/// GET /me/onlineMeetings/{id}: the organizer's or an invited attendee's token.
pub fn get(st: &State, ctx: &Ctx<'_>, id: &str) -> GraphResponse {
    if let Err(e) = require(ctx, READ) {
        return ctx.error(st, e);
    }
    match st.meetings.iter().find(|m| {
        m.id == id
            && (m.organizer_id == ctx.caller.user_id || is_attendee(m, st, &ctx.caller.user_id))
    }) {
        Some(m) => GraphResponse::json(200, with_context(st, m)),
        None => ctx.error(st, not_found()),
    }
}

/// GET /me/onlineMeetings?$filter=JoinWebUrl eq '…' | joinMeetingIdSettings/joinMeetingId eq '…'
pub fn list_by_filter(st: &State, ctx: &Ctx<'_>) -> GraphResponse {
    if let Err(e) = require(ctx, READ) {
        return ctx.error(st, e);
    }
    let Some(filter) = ctx.req.query("$filter") else {
        return ctx.error(
            st,
            GraphError::bad_request(
                "This API requires a $filter on JoinWebUrl or joinMeetingIdSettings/joinMeetingId.",
            ),
        );
    };
    let t = filter.trim();
    let Some((prop, lit)) = t.split_once(" eq ") else {
        return ctx.error(
            st,
            GraphError::bad_request(format!("Unsupported filter: '{t}'.")),
        );
    };
    let Some(value) = lit
        .trim()
        .strip_prefix('\'')
        .and_then(|l| l.strip_suffix('\''))
        .map(|v| v.replace("''", "'"))
    else {
        return ctx.error(
            st,
            GraphError::bad_request(format!("Unsupported filter: '{t}'.")),
        );
    };
    let pointer = if prop.trim().eq_ignore_ascii_case("JoinWebUrl") {
        "/joinWebUrl"
    } else if prop
        .trim()
        .eq_ignore_ascii_case("joinMeetingIdSettings/joinMeetingId")
    {
        "/joinMeetingIdSettings/joinMeetingId"
    } else {
        return ctx.error(
            st,
            GraphError::bad_request(format!("Filtering on '{}' is not supported.", prop.trim())),
        );
    };
    let found: Vec<Value> = st
        .meetings
        .iter()
        .filter(|m| {
            (m.organizer_id == ctx.caller.user_id || is_attendee(m, st, &ctx.caller.user_id))
                && m.resource.pointer(pointer).and_then(Value::as_str) == Some(value.as_str())
        })
        .map(|m| m.resource.clone())
        .collect();
    GraphResponse::json(
        200,
        json!({
            "@odata.context": format!("{}/v1.0/$metadata#users('{}')/onlineMeetings", st.base_url, ctx.caller.user_id),
            "value": found
        }),
    )
}

/// PATCH /me/onlineMeetings/{id} (onlinemeeting-update.md rules).
pub fn patch(st: &mut State, ctx: &Ctx<'_>, id: &str) -> GraphResponse {
    let result = (|| {
        require(ctx, WRITE)?;
        let body = body_object(ctx)?;
        let idx = st
            .meetings
            .iter()
            .position(|m| m.id == id && m.organizer_id == ctx.caller.user_id)
            .ok_or_else(not_found)?;
        for k in body.keys() {
            if !k.starts_with('@') && !UPDATABLE.contains(&k.as_str()) {
                return Err(GraphError::bad_request(format!(
                    "Property '{k}' cannot be updated."
                )));
            }
        }
        check_enum(&body)?;
        let start = parse_time(&body, "startDateTime")?;
        let end = parse_time(&body, "endDateTime")?;
        if start.is_some() != end.is_some() {
            return Err(GraphError::bad_request(
                "startDateTime and endDateTime must both be provided when rescheduling a meeting.",
            ));
        }
        validate_window(start, end)?;
        if let Some(org) = body.get("participants").and_then(|p| p.get("organizer")) {
            let current = &st.meetings[idx].resource["participants"]["organizer"];
            let same_id = org["identity"]["user"]["id"].is_null()
                || org["identity"]["user"]["id"] == current["identity"]["user"]["id"];
            let same_upn = org["upn"].is_null()
                || org["upn"].as_str().map(str::to_lowercase)
                    == current["upn"].as_str().map(str::to_lowercase);
            if !(same_id && same_upn) {
                return Err(GraphError::bad_request(
                    "The organizer of an online meeting cannot be changed.",
                ));
            }
        }
        let new_attendees = attendees(st, &body)?;
        let m = &mut st.meetings[idx];
        for (k, v) in &body {
            if matches!(k.as_str(), "participants" | "startDateTime" | "endDateTime")
                || k.starts_with('@')
            {
                continue;
            }
            // Complex values merge (onlinemeeting-update.md example 2 keeps lobby `scope`).
            match (m.resource.get_mut(k.as_str()), v) {
                (Some(Value::Object(cur)), Value::Object(patch)) => {
                    for (pk, pv) in patch {
                        cur.insert(pk.clone(), pv.clone());
                    }
                }
                _ => m.resource[k.as_str()] = v.clone(),
            }
        }
        if let (Some(s), Some(e)) = (start, end) {
            m.resource["startDateTime"] = json!(graph_time(s));
            m.resource["endDateTime"] = json!(graph_time(e));
            m.resource["expiryDateTime"] = json!(graph_time(e + Duration::days(60)));
        }
        if let Some(a) = new_attendees {
            m.resource["participants"]["attendees"] = Value::Array(a);
        }
        Ok(idx)
    })();
    match result {
        Ok(idx) => {
            let body = with_context(st, &st.meetings[idx]);
            GraphResponse::json(200, body)
        }
        Err(e) => ctx.error(st, e),
    }
}

/// DELETE /me/onlineMeetings/{id} → 204.
pub fn delete(st: &mut State, ctx: &Ctx<'_>, id: &str) -> GraphResponse {
    if let Err(e) = require(ctx, WRITE) {
        return ctx.error(st, e);
    }
    match st
        .meetings
        .iter()
        .position(|m| m.id == id && m.organizer_id == ctx.caller.user_id)
    {
        Some(i) => {
            st.meetings.remove(i);
            GraphResponse::empty(204)
        }
        None => ctx.error(st, not_found()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_with_seven_digits() {
        let t = DateTime::parse_from_rfc3339("2020-09-09T14:33:30.8546353-07:00")
            .expect("valid time")
            .with_timezone(&Utc);
        assert_eq!(
            graph_time(t),
            "2020-09-09T21:33:30.8546353Z",
            "onlinemeeting-update.md example 1 normalises -07:00 to Z"
        );
    }
}
