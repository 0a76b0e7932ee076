//! Calendar events of the signed-in user, as Exchange serves them through Graph:
//! `POST /me/events` (with `transactionId` de-duplication per organizer and a Teams meeting when
//! `isOnlineMeeting`/`onlineMeetingProvider: teamsForBusiness`), `GET /me/events[/{id}]`,
//! `PATCH /me/events/{id}`, `POST /me/events/{id}/cancel` and `DELETE /me/events/{id}`, also
//! under `/users/{id | userPrincipalName}/` for the caller's own mailbox. Shapes follow
//! graph-events-*.json and schema-event.json (https://learn.microsoft.com/en-us/graph/api/resources/event).
//!
//! Exchange sends the organizer's invitations ("When an event is sent, the server sends
//! invitations to all the attendees", user-post-events.md): this module records what each
//! attendee's mailbox received in `State::mailboxes` (iTIP REQUEST/CANCEL, RFC 5546) for the
//! control API. It never sends anything anywhere.

use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{json, Map, Value};

use super::errors::GraphError;
use super::meetings::{self, body_object, graph_time};
use super::{Ctx, GraphResponse};
use crate::state::{Event, MailItem, State};

/// user-post-events.md, event-update.md, event-cancel.md, event-delete.md: "Calendars.ReadWrite".
const WRITE: &[&str] = &["Calendars.ReadWrite"];
/// event-get.md ("Calendars.Read", least privileged) and anything that also reads.
const READ: &[&str] = &["Calendars.Read", "Calendars.ReadWrite"];

/// Graph's page size for `/me/events` when the client gives no `$top`.
const DEFAULT_TOP: usize = 10;

/// Changes Exchange mails to the attendees as an update (the rest, e.g. reminders or
/// categories, stay on the organizer's calendar). The docs name only `attendees`; see
/// graph-events-update.json notes.
const MEETING_FIELDS: &[&str] = &["start", "end", "subject", "body", "location", "locations"];

/// Every event property the sandbox can return, for `$select` (schema-event.json).
const PROPERTIES: &[&str] = &[
    "allowNewTimeProposals",
    "attendees",
    "body",
    "bodyPreview",
    "categories",
    "changeKey",
    "createdDateTime",
    "end",
    "hasAttachments",
    "hideAttendees",
    "iCalUId",
    "id",
    "importance",
    "isAllDay",
    "isCancelled",
    "isDraft",
    "isOnlineMeeting",
    "isOrganizer",
    "isReminderOn",
    "lastModifiedDateTime",
    "location",
    "locations",
    "onlineMeeting",
    "onlineMeetingProvider",
    "onlineMeetingUrl",
    "organizer",
    "originalEndTimeZone",
    "originalStart",
    "originalStartTimeZone",
    "recurrence",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "responseStatus",
    "sensitivity",
    "seriesMasterId",
    "showAs",
    "start",
    "subject",
    "transactionId",
    "type",
    "webLink",
];

/// Windows time-zone names Exchange accepts, mapped to IANA (CLDR
/// common/supplemental/windowsZones.xml, territory "001"). IANA names are accepted as well.
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("Romance Standard Time", "Europe/Paris"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("India Standard Time", "Asia/Calcutta"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time", "America/Denver"),
    ("Central Standard Time", "America/Chicago"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Canada Central Standard Time", "America/Regina"),
    ("Eastern Standard Time", "America/New_York"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Argentina Standard Time", "America/Buenos_Aires"),
];

/// A time zone a request named: the name as given (echoed in `timeZone`) and its rules.
#[derive(Debug, Clone)]
struct Zone {
    name: String,
    tz: Tz,
}

/// Resolves a Windows or IANA time-zone name, as Exchange accepts both.
fn zone(name: &str) -> Option<Zone> {
    let trimmed = name.trim();
    let iana = WINDOWS_ZONES
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(trimmed))
        .map(|(_, i)| *i)
        .unwrap_or(trimmed);
    let tz = iana.parse::<Tz>().ok()?;
    Some(Zone {
        name: trimmed.to_owned(),
        tz,
    })
}

// --- Errors (graph-events-errors.json) --------------------------------------------------

/// 403 as the Outlook workload answers a token without the calendar permission.
fn access_denied() -> GraphError {
    GraphError::new(
        403,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
    )
}

fn item_not_found() -> GraphError {
    GraphError::new(
        404,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

fn validation_failure() -> GraphError {
    GraphError::new(
        400,
        "ErrorPropertyValidationFailure",
        "At least one property failed validation.",
    )
}

fn timezone_not_supported(name: &str) -> GraphError {
    GraphError::new(
        400,
        "TimeZoneNotSupportedException",
        format!(
            "A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'."
        ),
    )
}

fn require(ctx: &Ctx<'_>, scopes: &[&str]) -> Result<(), GraphError> {
    if ctx.caller.has_any(scopes) {
        Ok(())
    } else {
        Err(access_denied())
    }
}

/// The mailbox a request addresses: the caller's (`/me`), or `/users/{id|upn}` naming the
/// caller. Another user's calendar needs sharing or delegation, which the sandbox does not
/// emulate (event-get.md), so it is refused like a calendar the token cannot reach.
fn mailbox_owner(st: &State, ctx: &Ctx<'_>, owner: Option<&str>) -> Result<String, GraphError> {
    let Some(o) = owner else {
        return Ok(ctx.caller.user_id.clone());
    };
    match st.user(o) {
        Some(u) if u.id == ctx.caller.user_id => Ok(u.id.clone()),
        Some(_) => Err(access_denied()),
        None => Err(GraphError::new(
            404,
            "ErrorInvalidUser",
            format!("The requested user '{o}' is invalid."),
        )),
    }
}

// --- Times ------------------------------------------------------------------------------

/// Parses a dateTimeTimeZone (`{"dateTime": "2017-04-15T12:00:00", "timeZone": "…"}`).
fn parse_dtz(v: &Value) -> Result<(DateTime<Utc>, Zone), GraphError> {
    let (Some(dt), Some(tz)) = (
        v.get("dateTime").and_then(Value::as_str),
        v.get("timeZone").and_then(Value::as_str),
    ) else {
        return Err(validation_failure());
    };
    let zone = zone(tz).ok_or_else(|| timezone_not_supported(tz))?;
    if let Ok(t) = DateTime::parse_from_rfc3339(dt) {
        return Ok((t.with_timezone(&Utc), zone));
    }
    let naive = NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M"))
        .map_err(|_| validation_failure())?;
    // A local time skipped by a DST change has no instant; take the later reading, as a
    // calendar moving the clock forward does.
    let local = zone
        .tz
        .from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            zone.tz
                .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .ok_or_else(validation_failure)?;
    Ok((local.with_timezone(&Utc), zone))
}

/// `2017-04-15T11:00:00.0000000` in `zone`, as in the documented responses.
fn render_dtz(t: DateTime<Utc>, zone: &Zone) -> Value {
    let local = t.with_timezone(&zone.tz);
    json!({
        "dateTime": format!(
            "{}.{:07}",
            local.format("%Y-%m-%dT%H:%M:%S"),
            local.timestamp_subsec_nanos() / 100
        ),
        "timeZone": zone.name,
    })
}

fn utc_zone() -> Zone {
    Zone {
        name: "UTC".into(),
        tz: Tz::UTC,
    }
}

/// `Prefer: outlook.timezone="…"` (user-post-events.md example 1); `None` = UTC.
fn preferred_zone(ctx: &Ctx<'_>) -> Result<Option<Zone>, GraphError> {
    let Some(prefer) = ctx.req.header("prefer") else {
        return Ok(None);
    };
    for part in prefer.split(',') {
        let part = part.trim();
        if let Some((k, v)) = part.split_once('=') {
            if k.trim().eq_ignore_ascii_case("outlook.timezone") {
                let name = v.trim().trim_matches('"');
                return zone(name)
                    .map(Some)
                    .ok_or_else(|| timezone_not_supported(name));
            }
        }
    }
    Ok(None)
}

// --- Recipients and mailboxes -----------------------------------------------------------

/// The directory user an SMTP address reaches (UPN, primary mail or an `smtp:` proxy).
fn recipient<'a>(st: &'a State, address: &str) -> Option<&'a crate::seed::SeedUser> {
    let a = address.trim();
    st.seed.users.iter().find(|u| {
        u.user_principal_name.eq_ignore_ascii_case(a)
            || u.mail.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(a))
            || u.proxy_addresses.iter().any(|p| {
                p.split_once(':').is_some_and(|(k, v)| {
                    k.eq_ignore_ascii_case("smtp") && v.eq_ignore_ascii_case(a)
                })
            })
    })
}

/// The mailbox an address delivers to: a directory user's primary address (mail, else UPN),
/// lower-cased, whichever of their addresses was used; an outside address is its own mailbox.
pub fn mailbox_key(st: &State, address: &str) -> String {
    match recipient(st, address) {
        Some(u) => u
            .mail
            .clone()
            .unwrap_or_else(|| u.user_principal_name.clone())
            .to_lowercase(),
        None => address.trim().to_lowercase(),
    }
}

/// Normalises `attendees` to the documented response shape (attendee resource: `type`,
/// `status`, `emailAddress{name,address}`).
fn attendees(st: &State, list: &Value) -> Result<Vec<Value>, GraphError> {
    let Some(list) = list.as_array() else {
        return Err(validation_failure());
    };
    let mut out: Vec<Value> = Vec::new();
    for a in list {
        let Some(address) = a
            .get("emailAddress")
            .and_then(|e| e.get("address"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| s.contains('@'))
        else {
            return Err(validation_failure());
        };
        let ty = a
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("required")
            .to_ascii_lowercase();
        if !["required", "optional", "resource"].contains(&ty.as_str()) {
            return Err(validation_failure());
        }
        let name = a
            .get("emailAddress")
            .and_then(|e| e.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| recipient(st, address).map(|u| u.display_name.clone()))
            .unwrap_or_else(|| address.to_owned());
        let key = mailbox_key(st, address);
        // The same person twice gets one invitation.
        if out
            .iter()
            .any(|o| mailbox_key(st, o["emailAddress"]["address"].as_str().unwrap_or("")) == key)
        {
            continue;
        }
        out.push(json!({
            "type": ty,
            "status": { "response": "none", "time": "0001-01-01T00:00:00Z" },
            "emailAddress": { "name": name, "address": address },
        }));
    }
    Ok(out)
}

fn addresses(resource: &Value) -> Vec<String> {
    resource["attendees"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["emailAddress"]["address"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// UPNs of the directory users among the attendees (Teams meeting participants).
fn attendee_upns(st: &State, resource: &Value) -> Vec<String> {
    addresses(resource)
        .iter()
        .filter_map(|a| recipient(st, a).map(|u| u.user_principal_name.clone()))
        .collect()
}

/// Exchange delivers one iTIP message to each address's mailbox.
fn deliver(
    st: &mut State,
    ev: &Event,
    to: &[String],
    method: &'static str,
    kind: &'static str,
    comment: Option<&str>,
) {
    let at = graph_time(st.now());
    let from = ev.resource["organizer"]["emailAddress"]["address"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for address in to {
        let key = mailbox_key(st, address);
        let item = MailItem {
            method,
            kind,
            event_id: ev.id.clone(),
            ical_uid: ev.ical_uid.clone(),
            subject: ev.resource["subject"].clone(),
            start: graph_time(ev.start),
            end: graph_time(ev.end),
            join_url: ev.resource["onlineMeeting"]["joinUrl"]
                .as_str()
                .map(str::to_owned),
            sequence: ev.sequence,
            at: at.clone(),
            from: from.clone(),
            to: address.clone(),
            comment: comment.map(str::to_owned),
        };
        st.mailboxes.entry(key).or_default().push(item);
    }
}

// --- Rendering --------------------------------------------------------------------------

fn random_b64(bytes: usize, url_safe: bool) -> String {
    let mut buf = Vec::with_capacity(bytes);
    while buf.len() < bytes {
        buf.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    buf.truncate(bytes);
    if url_safe {
        base64::engine::general_purpose::URL_SAFE.encode(buf)
    } else {
        base64::engine::general_purpose::STANDARD.encode(buf)
    }
}

/// iCalUId in the documented layout (`040000008200E00074C5B7101A82E008…`).
fn new_ical_uid() -> String {
    let a = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    let b = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
    format!(
        "040000008200E00074C5B7101A82E00800000000{}000000000000000010000000{}",
        &a[..16],
        b
    )
}

fn touch(resource: &mut Value, now: DateTime<Utc>) {
    let ck = random_b64(16, false);
    resource["changeKey"] = json!(ck);
    resource["@odata.etag"] = json!(format!("W/\"{ck}\""));
    resource["lastModifiedDateTime"] = json!(graph_time(now));
}

/// Text of an HTML body for `bodyPreview` (at most 255 characters).
fn preview(content: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in content.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let text = out.split_whitespace().collect::<Vec<_>>().join(" ");
    text.chars().take(255).collect()
}

/// Body as Exchange stores it: HTML wrapped in a document; with an online meeting the join
/// blob appended (event-update.md: "preserve the meeting blob for online meeting").
fn stored_body(given: Option<&Value>, join_url: Option<&str>) -> Value {
    let ct = given
        .and_then(|b| b.get("contentType"))
        .and_then(Value::as_str)
        .unwrap_or("html")
        .to_ascii_lowercase();
    let content = given
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let is_document = content
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("<html");
    let mut content = if ct == "text" || is_document {
        content
    } else {
        format!("<html><head></head><body>{content}</body></html>")
    };
    if let Some(url) = join_url.filter(|u| !content.contains(*u)) {
        if ct == "text" {
            content.push_str(&format!(
                "\r\n\r\nMicrosoft Teams meeting\r\nJoin the meeting now: {url}\r\n"
            ));
        } else {
            let blob = format!(
                "<div>Microsoft Teams meeting<br><a href=\"{url}\">Join the meeting now</a></div>"
            );
            content = match content.rfind("</body>") {
                Some(i) => format!("{}{blob}{}", &content[..i], &content[i..]),
                None => format!("{content}{blob}"),
            };
        }
    }
    json!({ "contentType": if ct == "text" { "text" } else { "html" }, "content": content })
}

fn location_of(v: &Value) -> Value {
    let name = v.get("displayName").and_then(Value::as_str).unwrap_or("");
    let mut loc = v.as_object().cloned().unwrap_or_default();
    loc.insert("displayName".into(), json!(name));
    loc.insert(
        "locationType".into(),
        json!(v
            .get("locationType")
            .and_then(Value::as_str)
            .map(|s| s.to_ascii_lowercase())
            .unwrap_or_else(|| "default".into())),
    );
    if !name.is_empty() {
        loc.entry("uniqueId").or_insert(json!(name));
        loc.entry("uniqueIdType").or_insert(json!("private"));
    } else {
        loc.entry("uniqueIdType").or_insert(json!("unknown"));
    }
    Value::Object(loc)
}

/// A present, non-blank `subject`.
fn has_subject(body: &Map<String, Value>) -> bool {
    body.get("subject")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
}

/// Parses `$select` against the event's properties (400 for an unknown one, as for users).
fn parse_select(ctx: &Ctx<'_>) -> Result<Option<Vec<&'static str>>, GraphError> {
    let Some(raw) = ctx.req.query("$select") else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match PROPERTIES.iter().find(|p| p.eq_ignore_ascii_case(name)) {
            Some(p) => {
                if !out.contains(p) {
                    out.push(*p);
                }
            }
            None => {
                return Err(GraphError::bad_request(format!(
                    "Could not find a property named '{name}' on type 'microsoft.graph.event'."
                )))
            }
        }
    }
    Ok(Some(out))
}

/// The event JSON: start/end in `zone` (UTC by default), only `select` (+ id, etag) if given.
fn render(ev: &Event, zone: &Zone, select: Option<&[&'static str]>) -> Map<String, Value> {
    let mut full = ev.resource.as_object().cloned().unwrap_or_default();
    full.insert("start".into(), render_dtz(ev.start, zone));
    full.insert("end".into(), render_dtz(ev.end, zone));
    match select {
        None => full,
        Some(names) => {
            let mut out = Map::new();
            for k in ["@odata.etag", "id"] {
                if let Some(v) = full.get(k) {
                    out.insert(k.into(), v.clone());
                }
            }
            for n in names {
                if let Some(v) = full.get(*n) {
                    out.insert((*n).into(), v.clone());
                }
            }
            out
        }
    }
}

fn context_url(st: &State, owner: &str, select: Option<&[&'static str]>, entity: bool) -> String {
    let sel = select
        .map(|s| format!("({})", s.join(",")))
        .unwrap_or_default();
    format!(
        "{}/v1.0/$metadata#users('{owner}')/events{sel}{}",
        st.base_url,
        if entity { "/$entity" } else { "" }
    )
}

fn entity_response(
    st: &State,
    status: u16,
    ev: &Event,
    zone: Option<&Zone>,
    select: Option<&[&'static str]>,
) -> GraphResponse {
    let utc = utc_zone();
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(context_url(st, &ev.organizer_id, select, true)),
    );
    body.extend(render(ev, zone.unwrap_or(&utc), select));
    let mut r = GraphResponse::json(status, Value::Object(body));
    if let Some(z) = zone {
        r.headers.push((
            "Preference-Applied".into(),
            format!("outlook.timezone=\"{}\"", z.name),
        ));
    }
    r
}

fn live_event<'a>(st: &'a State, owner: &str, id: &str) -> Option<&'a Event> {
    st.events
        .iter()
        .find(|e| e.id == id && e.organizer_id == owner && !e.removed)
}

fn live_index(st: &State, owner: &str, id: &str) -> Result<usize, GraphError> {
    st.events
        .iter()
        .position(|e| e.id == id && e.organizer_id == owner && !e.removed)
        .ok_or_else(item_not_found)
}

/// `isOnlineMeeting: true` or `onlineMeetingProvider: teamsForBusiness` asks for a Teams
/// meeting (event resource: setting either initializes onlineMeeting). Other providers are not
/// enabled on this tenant's calendars, so they give no onlineMeeting.
fn wants_teams(body: &Map<String, Value>) -> bool {
    let provider = body.get("onlineMeetingProvider").and_then(Value::as_str);
    let online = body.get("isOnlineMeeting").and_then(Value::as_bool) == Some(true);
    provider == Some("teamsForBusiness") || (online && provider.is_none_or(|p| p == "unknown"))
}

fn check_enums(body: &Map<String, Value>) -> Result<(), GraphError> {
    let checks: &[(&str, &[&str])] = &[
        (
            "onlineMeetingProvider",
            &[
                "unknown",
                "teamsForBusiness",
                "skypeForBusiness",
                "skypeForConsumer",
            ],
        ),
        ("importance", &["low", "normal", "high"]),
        (
            "sensitivity",
            &["normal", "personal", "private", "confidential"],
        ),
        (
            "showAs",
            &[
                "free",
                "tentative",
                "busy",
                "oof",
                "workingElsewhere",
                "unknown",
            ],
        ),
    ];
    for (name, allowed) in checks {
        if let Some(v) = body.get(*name).filter(|v| !v.is_null()) {
            if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
                return Err(GraphError::bad_request(format!(
                    "Invalid value {v} for property '{name}'."
                )));
            }
        }
    }
    Ok(())
}

/// Copies the simple settable properties (not start/end/attendees/body/online meeting).
fn apply_simple(resource: &mut Value, body: &Map<String, Value>) {
    for (k, v) in body {
        match k.as_str() {
            "subject"
            | "categories"
            | "hideAttendees"
            | "importance"
            | "isAllDay"
            | "isReminderOn"
            | "reminderMinutesBeforeStart"
            | "responseRequested"
            | "sensitivity"
            | "showAs"
            | "allowNewTimeProposals"
            | "recurrence" => {
                resource[k.as_str()] = v.clone();
            }
            "location" => {
                let loc = location_of(v);
                resource["locations"] = json!([loc.clone()]);
                resource["location"] = loc;
            }
            "locations" => {
                let list: Vec<Value> = v
                    .as_array()
                    .map(|a| a.iter().map(location_of).collect())
                    .unwrap_or_default();
                let names: Vec<&str> = list
                    .iter()
                    .filter_map(|l| l["displayName"].as_str())
                    .collect();
                resource["location"] = location_of(&json!({ "displayName": names.join("; ") }));
                resource["locations"] = Value::Array(list);
            }
            _ => {}
        }
    }
}

// --- Handlers ---------------------------------------------------------------------------

/// POST /me/events (user-post-events.md) → 201. A repeat of a live event's `transactionId`
/// by the same organizer answers that event and sends nothing (graph-events-create.json notes).
pub fn create(st: &mut State, ctx: &Ctx<'_>, owner: Option<&str>) -> GraphResponse {
    let result = (|| {
        require(ctx, WRITE)?;
        let organizer_id = mailbox_owner(st, ctx, owner)?;
        let body = body_object(ctx)?;
        let zone = preferred_zone(ctx)?;
        let tx = match body.get("transactionId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => return Err(validation_failure()),
        };
        if let Some(tx) = &tx {
            if let Some(i) = st.events.iter().position(|e| {
                e.organizer_id == organizer_id
                    && !e.removed
                    && e.transaction_id.as_deref() == Some(tx.as_str())
            }) {
                return Ok((i, zone, false));
            }
        }
        check_enums(&body)?;
        // Stricter than Graph for a missing subject (graph-events-errors.json notes).
        if !has_subject(&body) {
            return Err(validation_failure());
        }
        let (Some(start_v), Some(end_v)) = (body.get("start"), body.get("end")) else {
            return Err(validation_failure());
        };
        let (start, start_zone) = parse_dtz(start_v)?;
        let (end, end_zone) = parse_dtz(end_v)?;
        if end < start {
            return Err(validation_failure());
        }
        let attendees = match body.get("attendees") {
            None | Some(Value::Null) => Vec::new(),
            Some(list) => attendees(st, list)?,
        };
        let organizer = st.user(&organizer_id).cloned().ok_or_else(item_not_found)?;
        let now = st.now();
        let id = format!("AAMkA{}", random_b64(66, true));
        let web_link = format!(
            "https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        );
        let mut resource = json!({
            "id": id,
            "createdDateTime": graph_time(now),
            "categories": [],
            "originalStartTimeZone": start_zone.name,
            "originalEndTimeZone": end_zone.name,
            "iCalUId": new_ical_uid(),
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": true,
            "hasAttachments": false,
            "hideAttendees": false,
            "subject": Value::Null,
            "importance": "normal",
            "sensitivity": "normal",
            "isAllDay": false,
            "isCancelled": false,
            "isDraft": false,
            "isOrganizer": true,
            "responseRequested": true,
            "seriesMasterId": Value::Null,
            "showAs": "busy",
            "type": "singleInstance",
            "webLink": web_link,
            "onlineMeetingUrl": Value::Null,
            "isOnlineMeeting": body.get("isOnlineMeeting").and_then(Value::as_bool).unwrap_or(false),
            "onlineMeetingProvider": body.get("onlineMeetingProvider").and_then(Value::as_str).unwrap_or("unknown"),
            "onlineMeeting": Value::Null,
            "allowNewTimeProposals": true,
            "responseStatus": { "response": "organizer", "time": "0001-01-01T00:00:00Z" },
            "location": location_of(&json!({})),
            "locations": [],
            "recurrence": Value::Null,
            "attendees": attendees,
            "organizer": { "emailAddress": {
                "name": organizer.display_name,
                "address": organizer.mail.clone().unwrap_or_else(|| organizer.user_principal_name.clone()),
            }},
        });
        if let Some(tx) = &tx {
            // Returned only when the app set it (event resource, transactionId).
            resource["transactionId"] = json!(tx);
        }
        apply_simple(&mut resource, &body);
        let mut meeting_id = None;
        if wants_teams(&body) {
            let upns = attendee_upns(st, &resource);
            let (mid, join) = meetings::create_for_event(
                st,
                &organizer_id,
                &resource["subject"],
                start,
                end,
                &upns,
            )?;
            resource["isOnlineMeeting"] = json!(true);
            resource["onlineMeetingProvider"] = json!("teamsForBusiness");
            resource["onlineMeeting"] =
                json!({ "joinUrl": join, "conferenceId": Value::Null, "tollNumber": Value::Null });
            meeting_id = Some(mid);
        }
        let join = resource["onlineMeeting"]["joinUrl"]
            .as_str()
            .map(str::to_owned);
        let stored = stored_body(body.get("body"), join.as_deref());
        resource["bodyPreview"] = json!(preview(stored["content"].as_str().unwrap_or("")));
        resource["body"] = stored;
        touch(&mut resource, now);
        let ev = Event {
            ical_uid: resource["iCalUId"].as_str().unwrap_or_default().to_owned(),
            id,
            organizer_id,
            transaction_id: tx,
            start,
            end,
            sequence: 0,
            removed: false,
            meeting_id,
            resource,
        };
        let to = addresses(&ev.resource);
        deliver(st, &ev, &to, "REQUEST", "request", None);
        st.events.push(ev);
        Ok((st.events.len() - 1, zone, true))
    })();
    match result {
        Ok((i, zone, _)) => entity_response(st, 201, &st.events[i], zone.as_ref(), None),
        Err(e) => ctx.error(st, e),
    }
}

/// GET /me/events/{id} (event-get.md).
pub fn get(st: &State, ctx: &Ctx<'_>, owner: Option<&str>, id: &str) -> GraphResponse {
    let result = (|| {
        require(ctx, READ)?;
        let owner = mailbox_owner(st, ctx, owner)?;
        let zone = preferred_zone(ctx)?;
        let select = parse_select(ctx)?;
        let ev = live_event(st, &owner, id).ok_or_else(item_not_found)?;
        Ok(entity_response(
            st,
            200,
            ev,
            zone.as_ref(),
            select.as_deref(),
        ))
    })();
    result.unwrap_or_else(|e| ctx.error(st, e))
}

/// GET /me/events (user-list-events.md): the calendar's events in creation order, `$top`
/// (default 10) and `$skip`, `@odata.nextLink` when more remain.
pub fn list(st: &State, ctx: &Ctx<'_>, owner: Option<&str>) -> GraphResponse {
    let result = (|| {
        require(ctx, READ)?;
        let owner_id = mailbox_owner(st, ctx, owner)?;
        let zone = preferred_zone(ctx)?;
        let select = parse_select(ctx)?;
        let top = match ctx.req.query("$top") {
            None => DEFAULT_TOP,
            Some(t) => t
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| GraphError::bad_request(format!("Invalid $top value '{t}'.")))?,
        };
        let skip = match ctx.req.query("$skip") {
            None => 0,
            Some(s) => s
                .parse::<usize>()
                .map_err(|_| GraphError::bad_request(format!("Invalid $skip value '{s}'.")))?,
        };
        let utc = utc_zone();
        let z = zone.as_ref().unwrap_or(&utc);
        let all: Vec<&Event> = st
            .events
            .iter()
            .filter(|e| e.organizer_id == owner_id && !e.removed)
            .collect();
        let page: Vec<Value> = all
            .iter()
            .skip(skip)
            .take(top)
            .map(|e| Value::Object(render(e, z, select.as_deref())))
            .collect();
        let mut body = json!({
            "@odata.context": context_url(st, &owner_id, select.as_deref(), false),
            "value": page,
        });
        if skip + top < all.len() {
            let mut next = url::Url::parse(&format!("{}/v1.0{}", st.base_url, ctx.req.path))
                .map_err(|_| GraphError::bad_request("Invalid request URL."))?;
            {
                let mut q = next.query_pairs_mut();
                if let Some(s) = ctx.req.query("$select") {
                    q.append_pair("$select", s);
                }
                q.append_pair("$top", &top.to_string());
                q.append_pair("$skip", &(skip + top).to_string());
            }
            body["@odata.nextLink"] = json!(next.to_string());
        }
        let mut r = GraphResponse::json(200, body);
        if let Some(z) = &zone {
            r.headers.push((
                "Preference-Applied".into(),
                format!("outlook.timezone=\"{}\"", z.name),
            ));
        }
        Ok(r)
    })();
    result.unwrap_or_else(|e| ctx.error(st, e))
}

/// PATCH /me/events/{id} (event-update.md) → 200. Mail: see graph-events-update.json notes.
/// Read-only properties in the body are ignored, as the documented example (which PATCHes
/// `originalStartTimeZone` and `responseStatus`) gets 200.
pub fn patch(st: &mut State, ctx: &Ctx<'_>, owner: Option<&str>, id: &str) -> GraphResponse {
    let result = (|| {
        require(ctx, WRITE)?;
        let owner = mailbox_owner(st, ctx, owner)?;
        let body = body_object(ctx)?;
        let zone = preferred_zone(ctx)?;
        let idx = live_index(st, &owner, id)?;
        check_enums(&body)?;
        if let Some(tx) = body.get("transactionId") {
            // "you cannot change transactionId in a subsequent update" (event resource).
            if tx.as_str() != st.events[idx].transaction_id.as_deref() {
                return Err(validation_failure());
            }
        }
        if body.contains_key("subject") && !has_subject(&body) {
            return Err(validation_failure());
        }
        let start = body.get("start").map(parse_dtz).transpose()?;
        let end = body.get("end").map(parse_dtz).transpose()?;
        let new_start = start.as_ref().map_or(st.events[idx].start, |s| s.0);
        let new_end = end.as_ref().map_or(st.events[idx].end, |e| e.0);
        if new_end < new_start {
            return Err(validation_failure());
        }
        let new_attendees = match body.get("attendees") {
            None => None,
            Some(Value::Null) => Some(Vec::new()),
            Some(list) => Some(attendees(st, list)?),
        };
        let before: Vec<String> = addresses(&st.events[idx].resource);
        let turn_online = wants_teams(&body) && st.events[idx].resource["onlineMeeting"].is_null();
        let now = st.now();

        // Apply.
        let mut resource = st.events[idx].resource.clone();
        apply_simple(&mut resource, &body);
        if let Some((_, z)) = &start {
            resource["originalStartTimeZone"] = json!(z.name);
        }
        if let Some((_, z)) = &end {
            resource["originalEndTimeZone"] = json!(z.name);
        }
        if let Some(a) = new_attendees {
            resource["attendees"] = Value::Array(a);
        }
        let upns = attendee_upns(st, &resource);
        let mut meeting_id = st.events[idx].meeting_id.clone();
        if turn_online {
            let (mid, join) = meetings::create_for_event(
                st,
                &owner,
                &resource["subject"],
                new_start,
                new_end,
                &upns,
            )?;
            resource["onlineMeeting"] =
                json!({ "joinUrl": join, "conferenceId": Value::Null, "tollNumber": Value::Null });
            meeting_id = Some(mid);
        }
        if !resource["onlineMeeting"].is_null() {
            // Once online, it stays online (event resource, isOnlineMeeting).
            resource["isOnlineMeeting"] = json!(true);
            resource["onlineMeetingProvider"] = json!("teamsForBusiness");
        }
        let join = resource["onlineMeeting"]["joinUrl"]
            .as_str()
            .map(str::to_owned);
        if body.contains_key("body") || turn_online {
            let given = if body.contains_key("body") {
                body.get("body").cloned()
            } else {
                Some(resource["body"].clone())
            };
            let stored = stored_body(given.as_ref(), join.as_deref());
            resource["bodyPreview"] = json!(preview(stored["content"].as_str().unwrap_or("")));
            resource["body"] = stored;
        }
        touch(&mut resource, now);
        if let Some(mid) = &meeting_id {
            meetings::update_for_event(st, mid, &resource["subject"], new_start, new_end, &upns);
        }

        // Who hears about it.
        let after: Vec<String> = addresses(&resource);
        let key = |st: &State, a: &String| mailbox_key(st, a);
        let before_keys: Vec<String> = before.iter().map(|a| key(st, a)).collect();
        let after_keys: Vec<String> = after.iter().map(|a| key(st, a)).collect();
        let added: Vec<String> = after
            .iter()
            .zip(&after_keys)
            .filter(|(_, k)| !before_keys.contains(k))
            .map(|(a, _)| a.clone())
            .collect();
        let kept: Vec<String> = after
            .iter()
            .zip(&after_keys)
            .filter(|(_, k)| before_keys.contains(k))
            .map(|(a, _)| a.clone())
            .collect();
        let removed: Vec<String> = before
            .iter()
            .zip(&before_keys)
            .filter(|(_, k)| !after_keys.contains(k))
            .map(|(a, _)| a.clone())
            .collect();
        let meeting_changed = turn_online || MEETING_FIELDS.iter().any(|f| body.contains_key(*f));
        let ev = &mut st.events[idx];
        ev.resource = resource;
        ev.start = new_start;
        ev.end = new_end;
        ev.meeting_id = meeting_id;
        if meeting_changed || !added.is_empty() || !removed.is_empty() {
            ev.sequence += 1;
        }
        let ev = ev.clone();
        if meeting_changed {
            deliver(st, &ev, &kept, "REQUEST", "update", None);
        }
        deliver(st, &ev, &added, "REQUEST", "request", None);
        deliver(st, &ev, &removed, "CANCEL", "cancel", None);
        Ok((idx, zone))
    })();
    match result {
        Ok((idx, zone)) => entity_response(st, 200, &st.events[idx], zone.as_ref(), None),
        Err(e) => ctx.error(st, e),
    }
}

/// POST /me/events/{id}/cancel (event-cancel.md) → 202, a CANCEL with the comment to every
/// attendee; the event leaves the calendar.
pub fn cancel(st: &mut State, ctx: &Ctx<'_>, owner: Option<&str>, id: &str) -> GraphResponse {
    let result = (|| {
        require(ctx, WRITE)?;
        let owner = mailbox_owner(st, ctx, owner)?;
        let comment = match ctx.req.body.as_deref() {
            None => None,
            Some(_) => {
                let body = body_object(ctx)?;
                // The parameter table says `comment`, the documented example `Comment`.
                body.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("comment"))
                    .and_then(|(_, v)| v.as_str())
                    .map(str::to_owned)
            }
        };
        let idx = live_index(st, &owner, id)?;
        remove(st, idx, comment.as_deref());
        Ok(())
    })();
    match result {
        Ok(()) => GraphResponse::empty(202),
        Err(e) => ctx.error(st, e),
    }
}

/// DELETE /me/events/{id} (event-delete.md) → 204; an organizer's meeting sends a CANCEL.
pub fn delete(st: &mut State, ctx: &Ctx<'_>, owner: Option<&str>, id: &str) -> GraphResponse {
    let result = (|| {
        require(ctx, WRITE)?;
        let owner = mailbox_owner(st, ctx, owner)?;
        let idx = live_index(st, &owner, id)?;
        remove(st, idx, None);
        Ok(())
    })();
    match result {
        Ok(()) => GraphResponse::empty(204),
        Err(e) => ctx.error(st, e),
    }
}

fn remove(st: &mut State, idx: usize, comment: Option<&str>) {
    let now = st.now();
    let ev = &mut st.events[idx];
    ev.removed = true;
    ev.sequence += 1;
    ev.resource["isCancelled"] = json!(true);
    touch(&mut ev.resource, now);
    let ev = ev.clone();
    let to = addresses(&ev.resource);
    deliver(st, &ev, &to, "CANCEL", "cancel", comment);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_iana_zones_resolve_to_the_same_rules() {
        let (a, _) = parse_dtz(
            &json!({"dateTime": "2017-04-15T12:00:00", "timeZone": "Pacific Standard Time"}),
        )
        .expect("documented example time zone");
        let (b, _) = parse_dtz(
            &json!({"dateTime": "2017-04-15T12:00:00", "timeZone": "America/Los_Angeles"}),
        )
        .expect("IANA name");
        assert_eq!(
            a, b,
            "Exchange accepts Windows and IANA names for the same zone"
        );
        assert_eq!(
            graph_time(a),
            "2017-04-15T19:00:00.0000000Z",
            "12:00 PDT is 19:00 UTC"
        );
    }

    #[test]
    fn every_windows_zone_in_the_table_resolves() {
        for (windows, iana) in WINDOWS_ZONES {
            assert!(
                zone(windows).is_some(),
                "{windows} → {iana} must name a zone chrono-tz knows"
            );
        }
    }

    #[test]
    fn unknown_time_zone_is_the_documented_400() {
        let e = parse_dtz(&json!({"dateTime": "2017-04-15T12:00:00", "timeZone": "Mars/Olympus"}))
            .expect_err("unknown zone");
        assert_eq!(
            (e.status, e.code.as_str()),
            (400, "TimeZoneNotSupportedException")
        );
    }

    #[test]
    fn rendering_uses_seven_fraction_digits_in_the_zone() {
        let t = Utc
            .with_ymd_and_hms(2017, 4, 15, 19, 0, 0)
            .single()
            .expect("valid");
        let z = zone("Pacific Standard Time").expect("known");
        assert_eq!(
            render_dtz(t, &z),
            json!({"dateTime": "2017-04-15T12:00:00.0000000", "timeZone": "Pacific Standard Time"}),
            "user-post-events.md shows local times with 7 fractional digits"
        );
    }

    #[test]
    fn the_join_blob_is_kept_once() {
        let b = stored_body(
            Some(&json!({"contentType": "HTML", "content": "Hi"})),
            Some("https://x/join"),
        );
        let c = stored_body(Some(&b), Some("https://x/join"));
        assert_eq!(
            c["content"]
                .as_str()
                .map(|s| s.matches("https://x/join").count()),
            Some(1),
            "re-storing a body that already holds the join link must not add a second one"
        );
    }
}
