//! Teams meetings of a program: create, reschedule, cancel, list, show, and the iCalendar export.
//!
//! Rules this module keeps:
//! - **Preconditions** are the membership diagnosis (`crate::membership`) for every participant;
//!   a refusal names each failing participant and check.
//! - **Idempotent creation**: the local row (with its externalId) is written *before* the Graph
//!   call, which is `createOrGet` keyed by that externalId. A retry, a crash or a batch resume
//!   reuses the row and gets the same meeting back (200) instead of a second one.
//! - **Nothing is recorded as created unless Graph confirmed it**; a definitive refusal marks the
//!   row `failed`, an uncertain failure (network, 5xx, throttling) leaves it `pending` so the next
//!   attempt resumes it.
//! - **Cancel** locks the lobby to the organizer first (a deleted meeting's join link can still
//!   revive it), then deletes, then confirms with a GET that answers 404.
//! - **Invitations** (the integration's mode, recorded with each meeting when it is made): in
//!   `calendar` mode the meeting is an event on the host's calendar (`graph::events`), created
//!   with a `transactionId` derived from the externalId (so a retry or resume never sends a
//!   second invitation), its Teams meeting found by the event's join link; a reschedule PATCHes
//!   the event (Exchange sends the update, the link stays); a cancel cancels the event with a
//!   comment (Exchange sends the cancellations), then cleans the Teams meeting up as above. Each
//!   send is recorded with its time. Without `Calendars.ReadWrite` nothing is recorded or sent.
//! - Every change is audited with Graph's request-id; the passcode never goes in an audit row.
//!
//! Time validation is pure ([`resolve_times`]); I/O is Graph through [`GraphClient`] and the store.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::access::{self, Action};
use crate::actor::Actor;
use crate::error::Error;
use crate::graph::events::{self as ge, EventAttendee};
use crate::graph::meetings::{
    self as gm, Attendee, CreateOrGet, CreateOrGetOutcome, OnlineMeeting,
};
use crate::graph::{GraphClient, GraphError};
use crate::membership::{self, AddressCheck, CheckOptions, Membership};
use crate::store::audit_log::AuditEntry;
use crate::store::integration::InvitationMode;
use crate::store::meetings::{
    AttendeeRow, Confirmed, InvitationsSent, MeetingFilter, MeetingRow, MeetingState, NewRow,
};
use crate::store::page::Page;
use crate::store::Store;
use crate::tz::{self, DstChoice};

pub use crate::store::meetings::{MeetingFilter as ListFilter, MeetingRow as Meeting};

/// Longest meeting accepted.
pub const MAX_DURATION: Duration = Duration::hours(24);
/// Longest subject (Graph has no documented limit; Outlook truncates near 255).
pub const MAX_SUBJECT_CHARS: usize = 255;
/// Settings key of the default IANA time zone.
pub const SETTING_DEFAULT_TZ: &str = "meetings.default_time_zone";
/// Default zone when the setting is absent.
pub const DEFAULT_TZ: &str = "UTC";

/// How the end is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndSpec {
    /// A local end time in the same zone.
    At(NaiveDateTime),
    /// A duration from the start.
    Duration(Duration),
}

/// Resolved meeting times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MeetingTimes {
    /// Start (UTC).
    pub start: DateTime<Utc>,
    /// End (UTC).
    pub end: DateTime<Utc>,
}

/// Pure: local start/end in `zone` → UTC instants, refusing DST gaps, unresolved folds, end
/// not after start, more than 24 h, and a start in the past (relative to `now`).
pub fn resolve_times(
    start: NaiveDateTime,
    end: EndSpec,
    zone: &str,
    dst: DstChoice,
    now: DateTime<Utc>,
) -> Result<MeetingTimes, Error> {
    let tz = tz::parse_zone(zone).map_err(|p| Error::invalid("time_zone", p.to_string()))?;
    let s =
        tz::resolve_local(start, tz, dst).map_err(|p| Error::invalid("start", p.to_string()))?;
    let e = match end {
        EndSpec::At(local) => {
            tz::resolve_local(local, tz, dst).map_err(|p| Error::invalid("end", p.to_string()))?
        }
        EndSpec::Duration(d) => {
            if d <= Duration::zero() {
                return Err(Error::invalid("duration", "the duration must be positive"));
            }
            s + d
        }
    };
    if e <= s {
        return Err(Error::invalid(
            "end",
            format!(
                "the end ({}) is not after the start ({})",
                crate::time::to_db(e),
                crate::time::to_db(s)
            ),
        ));
    }
    if e - s > MAX_DURATION {
        return Err(Error::invalid(
            "end",
            format!(
                "the meeting lasts {} minutes; at most 24 hours are allowed",
                (e - s).num_minutes()
            ),
        ));
    }
    if s < now {
        return Err(Error::invalid(
            "start",
            format!("the start ({}) is in the past", crate::time::to_db(s)),
        ));
    }
    Ok(MeetingTimes { start: s, end: e })
}

/// A local (zone-less) date and time as typed.
pub type NaiveLocal = NaiveDateTime;

/// Parses a duration as people type it: `45m`, `1h`, `1h30m`, or plain minutes (`90`).
pub fn parse_duration(raw: &str) -> Result<Duration, Error> {
    let s = raw.trim().to_ascii_lowercase();
    let bad = || {
        Error::invalid(
            "duration",
            format!("'{}' is not a duration; write 45m, 1h or 1h30m", raw.trim()),
        )
    };
    if let Ok(m) = s.parse::<i64>() {
        return Ok(Duration::minutes(m));
    }
    let (h, rest) = match s.split_once('h') {
        Some((h, rest)) => (h.trim().parse::<i64>().map_err(|_| bad())?, rest),
        None => (0, s.as_str()),
    };
    let m = match rest.strip_suffix('m') {
        Some(m) => m.trim().parse::<i64>().map_err(|_| bad())?,
        None if rest.is_empty() => 0,
        None => return Err(bad()),
    };
    Ok(Duration::minutes(h * 60 + m))
}

/// Parses typed start, end-or-duration and DST choice (front ends' text fields).
pub fn parse_when(
    start: &str,
    end: Option<&str>,
    duration: Option<&str>,
    dst: Option<&str>,
) -> Result<(NaiveDateTime, EndSpec, DstChoice), Error> {
    let start = tz::parse_local(start).map_err(|e| Error::invalid("start", e))?;
    let end = match (end, duration) {
        (Some(e), None) => EndSpec::At(tz::parse_local(e).map_err(|e| Error::invalid("end", e))?),
        (None, Some(d)) => EndSpec::Duration(parse_duration(d)?),
        (Some(_), Some(_)) => {
            return Err(Error::invalid("end", "give an end or a duration, not both"))
        }
        (None, None) => return Err(Error::invalid("end", "give an end or a duration")),
    };
    let dst = match dst {
        Some(d) => d
            .parse::<DstChoice>()
            .map_err(|e| Error::invalid("dst", e))?,
        None => DstChoice::Refuse,
    };
    Ok((start, end, dst))
}

/// Input of [`create`].
#[derive(Debug, Clone)]
pub struct NewMeeting {
    /// Program code.
    pub program: String,
    /// Subject, as given (trimmed).
    pub subject: String,
    /// Local start in `time_zone`.
    pub start: NaiveDateTime,
    /// End or duration.
    pub end: EndSpec,
    /// IANA zone; default from settings.
    pub time_zone: Option<String>,
    /// What to do with an ambiguous local time.
    pub dst: DstChoice,
    /// Participants' addresses.
    pub participants: Vec<String>,
    /// Caller-supplied externalId (batch derives one deterministically); default a new UUID.
    pub external_id: Option<String>,
    /// The batch creating it, if any.
    pub batch_id: Option<i64>,
}

/// What [`create`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    /// The stored meeting.
    pub meeting: MeetingRow,
    /// `created` (201), or `existing` (200: this externalId was already created upstream).
    pub outcome: CreateOrGetOutcome,
}

/// The default zone (settings, else UTC).
pub fn default_time_zone(store: &Store) -> Result<String, Error> {
    Ok(store
        .tables()
        .setting(SETTING_DEFAULT_TZ)?
        .filter(|z| !z.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_TZ.to_string()))
}

/// Sets the default IANA zone for new meetings (a global admin's setting; audited).
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label))]
pub fn set_default_time_zone(
    store: &mut Store,
    actor: &Actor,
    zone: &str,
) -> Result<String, Error> {
    let tz = tz::parse_zone(zone).map_err(|p| Error::invalid("time_zone", p.to_string()))?;
    let name = tz.name().to_string();
    store.write(|tx| -> Result<(), Error> {
        let who = access::require(tx, actor, Action::IntegrationManage, None)?;
        let before = tx.setting(SETTING_DEFAULT_TZ)?;
        tx.setting_put(SETTING_DEFAULT_TZ, &name)?;
        who.audit(
            tx,
            AuditEntry {
                action: "settings.default_time_zone",
                target: &format!("setting:{SETTING_DEFAULT_TZ}"),
                before: before.map(|b| json!(b)),
                after: Some(json!(name)),
                ..Default::default()
            },
        )?;
        Ok(())
    })?;
    Ok(name)
}

fn validate_subject(raw: &str) -> Result<String, Error> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Error::invalid("subject", "the subject is empty"));
    }
    if s.chars().count() > MAX_SUBJECT_CHARS {
        return Err(Error::invalid(
            "subject",
            format!("the subject is longer than {MAX_SUBJECT_CHARS} characters"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Error::invalid(
            "subject",
            "the subject contains a control character",
        ));
    }
    Ok(s.to_string())
}

fn validate_participants(raw: &[String]) -> Result<Vec<String>, Error> {
    if raw.is_empty() {
        return Err(Error::invalid(
            "participants",
            "name at least one participant",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    let mut bad = Vec::new();
    for r in raw {
        match membership::normalize_address(r) {
            Ok(a) if !out.contains(&a) => out.push(a),
            Ok(_) => {}
            Err(why) => bad.push(why),
        }
    }
    if !bad.is_empty() {
        return Err(Error::invalid("participants", bad.join("; ")));
    }
    Ok(out)
}

/// Runs the diagnosis for every participant; returns their directory results, or a refusal that
/// names each failing participant and check.
async fn preconditions(
    store: &mut Store,
    graph: &GraphClient,
    actor: &Actor,
    program: &str,
    participants: &[String],
) -> Result<Vec<Membership>, Error> {
    let ctx = membership::context(store, actor, program)?;
    let checks: Vec<AddressCheck> =
        membership::check_unchecked(store, graph, participants, CheckOptions::default(), &|_| {})
            .await?;
    let mut problems: Vec<String> = ctx
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| {
            format!(
                "{}: {} (fix: {})",
                c.check.label(),
                c.detail,
                c.fix.as_deref().unwrap_or("")
            )
        })
        .collect();
    let mut found = Vec::new();
    for c in &checks {
        let addr = membership::normalize_address(&c.input).unwrap_or_else(|_| c.input.clone());
        let m = match (&c.result, &c.error) {
            (Some(m), _) => Ok(m),
            (None, e) => Err(e.as_deref().unwrap_or("not checked")),
        };
        for f in membership::person_checks(store, &ctx, &addr, m)?
            .into_iter()
            .filter(|f| !f.passed)
        {
            problems.push(format!(
                "{addr}: {} — {} (fix: {})",
                f.check.label(),
                f.detail,
                f.fix.as_deref().unwrap_or("")
            ));
        }
        if let Some(m) = &c.result {
            found.push(m.clone());
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(Error::invalid(
            "participants",
            format!(
                "cannot offer a Teams meeting in '{}': {}",
                ctx.program_code,
                problems.join("; ")
            ),
        ))
    }
}

fn attendee_rows(members: &[Membership]) -> Vec<AttendeeRow> {
    members
        .iter()
        .map(|m| AttendeeRow {
            address: m.address.clone(),
            upn: m.upn.clone(),
            object_id: m.object_id.clone(),
            display_name: m.display_name.clone(),
        })
        .collect()
}

fn graph_attendees(rows: &[AttendeeRow]) -> Vec<Attendee> {
    rows.iter()
        .map(|a| Attendee {
            upn: a.upn.clone().unwrap_or_else(|| a.address.clone()),
            user_id: a.object_id.clone().unwrap_or_default(),
        })
        .collect()
}

fn event_attendees(rows: &[AttendeeRow]) -> Vec<EventAttendee> {
    rows.iter()
        .map(|a| EventAttendee {
            address: a.upn.clone().unwrap_or_else(|| a.address.clone()),
            name: a.display_name.clone(),
        })
        .collect()
}

/// The invitation mode new meetings are made in; in `calendar` mode, refuses (before anything is
/// recorded or sent) when the host's sign-in lacks `Calendars.ReadWrite`, naming it and who
/// grants it.
pub fn invitation_mode_for_new(store: &Store) -> Result<InvitationMode, Error> {
    let t = store.tables();
    let mode = t.integration_invitation_mode()?;
    if mode.is_calendar() {
        let granted = t
            .integration_get()?
            .map(|r| r.granted_scopes)
            .unwrap_or_default();
        if let Some(why) = crate::integration::invitations_unavailable(mode, &granted) {
            return Err(Error::invalid("invitations", why));
        }
    }
    Ok(mode)
}

/// A Graph refusal of a calendar call: a 403 is the missing permission, said so.
fn calendar_error(e: GraphError) -> Error {
    match &e {
        GraphError::Status { status: 403, .. } => Error::invalid(
            "invitations",
            format!(
                "{} (Microsoft Graph: {e})",
                crate::integration::calendar_not_granted()
            ),
        ),
        _ => e.into(),
    }
}

/// A summary for audit rows: never the passcode.
fn audit_view(m: &MeetingRow) -> serde_json::Value {
    json!({
        "external_id": m.external_id,
        "subject": m.subject,
        "start_utc": m.start_utc,
        "end_utc": m.end_utc,
        "time_zone": m.time_zone,
        "state": m.state,
        "graph_id": m.graph_id,
        "join_web_url": m.join_web_url,
        "organizer_upn": m.organizer_upn,
        "attendees": m.attendees.iter().map(|a| a.address.clone()).collect::<Vec<_>>(),
        "invitations": m.invitations,
        "event_id": m.event_id,
        "invitations_sent_at": m.invitations_sent_at,
        "invitations_updated_at": m.invitations_updated_at,
        "invitations_cancelled_at": m.invitations_cancelled_at,
    })
}

fn parse_utc(s: &str) -> Result<DateTime<Utc>, Error> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::invalid("time", format!("stored time '{s}' is unreadable: {e}")))
}

/// Whether a Graph failure means the request surely did not apply (a 4xx other than 408/429).
fn definitive(e: &GraphError) -> bool {
    matches!(e, GraphError::Status { status, .. } if (400..500).contains(status) && *status != 408 && *status != 429)
}

/// Creates a meeting as the integration's host: refuses bad input first (see [`validate`]),
/// only then opens the host's Graph session (which may refresh the host's token), then
/// [`create`]s. The one path both front ends take, so neither can reach the network with input
/// that would be refused anyway.
pub async fn create_as_host(
    store: &mut Store,
    tokens: std::sync::Arc<dyn crate::auth::TokenStore>,
    actor: &Actor,
    input: NewMeeting,
) -> Result<Created, Error> {
    validate(store, actor, &input)?;
    let session = crate::integration::session(store, tokens)?;
    create(store, session.graph(), actor, input).await
}

/// The synchronous checks of [`create`] (no Graph): subject, participants, program, access,
/// zone and times. Front ends may call it first to refuse bad input before any network use.
pub fn validate(store: &Store, actor: &Actor, input: &NewMeeting) -> Result<Validated, Error> {
    let subject = validate_subject(&input.subject)?;
    let participants = validate_participants(&input.participants)?;
    let program = crate::programs::load(store.tables(), &input.program)?;
    let who = access::require(
        store.tables(),
        actor,
        Action::MeetingsManage,
        Some(&program.code),
    )?;
    let zone = match &input.time_zone {
        Some(z) => z.trim().to_string(),
        None => default_time_zone(store)?,
    };
    if let Some(ext) = &input.external_id {
        if ext.trim().is_empty() || ext.len() > 200 {
            return Err(Error::invalid("external_id", "must be 1 to 200 characters"));
        }
    }
    let times = resolve_times(input.start, input.end, &zone, input.dst, Utc::now())?;
    Ok(Validated {
        subject,
        participants,
        program_id: program.id,
        program_code: program.code,
        operator: who.label,
        real_actor: who.real_actor,
        zone,
        times,
    })
}

/// What [`validate`] accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Validated {
    /// Trimmed subject.
    pub subject: String,
    /// Normalised, de-duplicated participants.
    pub participants: Vec<String>,
    /// Program row id.
    pub program_id: i64,
    /// Program code.
    pub program_code: String,
    /// The acting operator's label.
    pub operator: String,
    /// Who really acts, when the operator was impersonated (see `Actor::impersonated_by`).
    pub real_actor: Option<String>,
    /// The IANA zone.
    pub zone: String,
    /// Resolved UTC times.
    pub times: MeetingTimes,
}

/// Creates a Teams meeting in a program: checks access and every precondition, writes the
/// pending row, calls `createOrGet` as the host, then records what Graph confirmed (audited).
/// With a caller-supplied externalId that already has a row, it resumes that row instead (a
/// created one is returned as is; a pending one is confirmed with `createOrGet`).
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = %input.program))]
pub async fn create(
    store: &mut Store,
    graph: &GraphClient,
    actor: &Actor,
    input: NewMeeting,
) -> Result<Created, Error> {
    if let Some(ext) = &input.external_id {
        if input.batch_id.is_none() && reserved_for_batches(ext) {
            return Err(Error::invalid(
                "external_id",
                format!(
                    "'{ext}' has the form of a batch's derived externalId (a UUID v5), which is \
                     reserved for batches; use a key of your own"
                ),
            ));
        }
        if let Some(existing) = store.tables().meeting_by_external_id(ext)? {
            let program = input.program.trim().to_ascii_lowercase();
            if existing.program_code != program {
                // Only someone who may schedule in the program they named learns why.
                access::require(
                    store.tables(),
                    actor,
                    Action::MeetingsManage,
                    Some(&program),
                )?;
                return Err(Error::Conflict(format!(
                    "externalId '{ext}' belongs to a meeting of another program; a meeting is \
                     never moved between programs: use a new externalId"
                )));
            }
            let who = access::require(
                store.tables(),
                actor,
                Action::MeetingsManage,
                Some(&existing.program_code),
            )?;
            return match existing.state {
                MeetingState::Created | MeetingState::Cancelling => Ok(Created {
                    meeting: existing,
                    outcome: CreateOrGetOutcome::Existing,
                }),
                MeetingState::Pending => {
                    confirm(
                        store,
                        graph,
                        (&who.label, who.real_actor.as_deref()),
                        existing,
                        Adopt::Yes,
                    )
                    .await
                }
                other => Err(Error::Conflict(format!(
                    "meeting with externalId '{ext}' is {other}; use a new externalId"
                ))),
            };
        }
    }
    let v = validate(store, actor, &input)?;
    let invitations = invitation_mode_for_new(store)?;
    let members = preconditions(store, graph, actor, &v.program_code, &v.participants).await?;
    let external_id = input
        .external_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let now = crate::time::now_db();
    let (start_utc, end_utc) = (
        crate::time::to_db(v.times.start),
        crate::time::to_db(v.times.end),
    );
    let attendees = attendee_rows(&members);
    let id = store.write(|tx| -> Result<i64, Error> {
        tx.meeting_insert_pending(
            &NewRow {
                external_id: &external_id,
                program_id: v.program_id,
                batch_id: input.batch_id,
                subject: &v.subject,
                start_utc: &start_utc,
                end_utc: &end_utc,
                time_zone: &v.zone,
                created_by: &v.operator,
                now: &now,
            },
            &attendees,
        )?
        // Another process wrote the same externalId between our look-up and this insert.
        .ok_or_else(|| Error::Conflict(format!(
            "a meeting with externalId '{external_id}' is already being created; try again to resume it"
        )))
        .and_then(|id| {
            if invitations.is_calendar() {
                tx.meeting_set_invitations(id, invitations)?;
            }
            Ok(id)
        })
    })?;
    let row = store
        .tables()
        .meeting_by_id(id)?
        .expect("invariant: row just inserted");
    // A row made just now cannot have a meeting upstream yet, unless that meeting is someone
    // else's (another program's predictable externalId in another store): never adopt it.
    let adopt = if input.external_id.is_some() {
        Adopt::No
    } else {
        Adopt::Yes
    };
    confirm(
        store,
        graph,
        (&v.operator, v.real_actor.as_deref()),
        row,
        adopt,
    )
    .await
}

/// Pure: whether a caller-supplied externalId has the form of the batch planner's derived ones
/// (a UUID of version 5, see `batch::plan::external_id`): those name a program's batch meetings,
/// so a single create may not take one (it could pull or squat another program's meeting).
pub fn reserved_for_batches(external_id: &str) -> bool {
    uuid::Uuid::parse_str(external_id.trim()).is_ok_and(|u| u.get_version_num() == 5)
}

/// Whether [`confirm`] may take a meeting Graph already had (`createOrGet` answering 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adopt {
    /// Yes: the row existed before this call (a resume), so the meeting is ours.
    Yes,
    /// No: the row was inserted just now with a caller-supplied externalId; an existing
    /// meeting upstream was made by someone else and is refused.
    No,
}

/// Retries a `pending` meeting (its Graph call failed uncertainly or the app stopped mid-way):
/// `createOrGet` with its externalId returns the meeting if it was made, or makes it now. A
/// created meeting is returned as is.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, meeting = %key))]
pub async fn resume(
    store: &mut Store,
    graph: &GraphClient,
    actor: &Actor,
    key: &str,
) -> Result<Created, Error> {
    let row = find(store, key)?;
    let who = access::require(
        store.tables(),
        actor,
        Action::MeetingsManage,
        Some(&row.program_code),
    )?;
    match row.state {
        MeetingState::Pending => {
            confirm(
                store,
                graph,
                (&who.label, who.real_actor.as_deref()),
                row,
                Adopt::Yes,
            )
            .await
        }
        MeetingState::Created => Ok(Created {
            meeting: row,
            outcome: CreateOrGetOutcome::Existing,
        }),
        other => Err(Error::Conflict(format!(
            "meeting '{}' is {other}; only a pending meeting can be resumed",
            row.external_id
        ))),
    }
}

/// Records a failed Graph call of a pending row: a definitive refusal marks it `failed`, any
/// other failure leaves it `pending` for the next attempt to resume.
fn record_failure(store: &mut Store, row: &MeetingRow, e: &GraphError) -> Result<(), Error> {
    let state = if definitive(e) {
        MeetingState::Failed
    } else {
        MeetingState::Pending
    };
    let msg = e.to_string();
    let now = crate::time::now_db();
    store.write(|tx| -> Result<(), Error> {
        tx.meeting_set_state(row.id, state, Some(&msg), &now)?;
        Ok(())
    })
}

/// Calendar mode's create of a pending row: the event on the host's calendar (keyed by the
/// transaction id derived from the externalId: a repeat answers the same event and sends no
/// second invitation), recorded at once (the invitations are out), then its Teams meeting found
/// by the join link and the row marked created (audited).
async fn confirm_calendar(
    store: &mut Store,
    graph: &GraphClient,
    (operator, real_actor): (&str, Option<&str>),
    row: MeetingRow,
) -> Result<Created, Error> {
    let req = ge::NewEvent {
        transaction_id: ge::transaction_id(&row.external_id),
        subject: row.subject.clone(),
        start: parse_utc(&row.start_utc)?,
        end: parse_utc(&row.end_utc)?,
        attendees: event_attendees(&row.attendees),
    };
    let resp = match ge::create(graph, &req).await {
        Ok(r) => r,
        Err(e) => {
            record_failure(store, &row, &e)?;
            return Err(calendar_error(e));
        }
    };
    let event = resp.value;
    if row.event_id.as_deref() != Some(event.id.as_str()) {
        let now = crate::time::now_db();
        store.write(|tx| -> Result<(), Error> {
            tx.meeting_record_invitations(
                row.id,
                InvitationsSent::Sent {
                    event_id: &event.id,
                },
                &now,
            )?;
            Ok(())
        })?;
    }
    let found = match event.join_url() {
        Some(url) => match gm::by_join_url(graph, url).await {
            Ok(m) => m,
            Err(e) => {
                record_failure(store, &row, &e)?;
                return Err(e.into());
            }
        },
        None => None,
    };
    let Some(m) = found else {
        let msg = format!(
            "the host's calendar event for meeting '{}' has no Teams meeting (is Teams the \
             calendar's online meeting provider?); its invitations were sent without a join link",
            row.external_id
        );
        let now = crate::time::now_db();
        store.write(|tx| -> Result<(), Error> {
            tx.meeting_set_state(row.id, MeetingState::Failed, Some(&msg), &now)?;
            Ok(())
        })?;
        return Err(Error::Conflict(msg));
    };
    let now = crate::time::now_db();
    let start = event
        .start
        .as_ref()
        .and_then(ge::DateTimeTimeZone::utc)
        .or(m.start_date_time)
        .map(crate::time::to_db)
        .unwrap_or_else(|| row.start_utc.clone());
    let end = event
        .end
        .as_ref()
        .and_then(ge::DateTimeTimeZone::utc)
        .or(m.end_date_time)
        .map(crate::time::to_db)
        .unwrap_or_else(|| row.end_utc.clone());
    let organizer = m
        .participants
        .as_ref()
        .and_then(|p| p.organizer.as_ref())
        .and_then(|o| o.upn.clone());
    let jid = m.join_meeting_id_settings.as_ref();
    let join = event
        .join_url()
        .map(str::to_string)
        .or(m.join_web_url.clone());
    store.write(|tx| -> Result<(), Error> {
        tx.meeting_mark_created(
            row.id,
            &Confirmed {
                graph_id: &m.id,
                join_web_url: join.as_deref(),
                join_meeting_id: jid.and_then(|j| j.join_meeting_id.as_deref()),
                passcode: jid.and_then(|j| j.passcode.as_deref()),
                organizer_upn: organizer.as_deref(),
                start_utc: &start,
                end_utc: &end,
            },
            &now,
        )?;
        let after = tx.meeting_by_id(row.id)?.expect("invariant: row exists");
        tx.audit_append(&AuditEntry {
            operator,
            action: "meeting.create",
            target: &format!("meeting:{}", row.external_id),
            program_code: Some(&row.program_code),
            before: None,
            after: Some(audit_view(&after)),
            graph_request_id: resp.request_id.as_deref(),
            real_actor,
        })?;
        Ok(())
    })?;
    let meeting = store
        .tables()
        .meeting_by_id(row.id)?
        .expect("invariant: row exists");
    Ok(Created {
        meeting,
        outcome: if row.event_id.is_some() {
            CreateOrGetOutcome::Existing
        } else {
            CreateOrGetOutcome::Created
        },
    })
}

/// Calls `createOrGet` for a pending row (or, for a meeting made in `calendar` mode, creates its
/// calendar event) and records the outcome.
async fn confirm(
    store: &mut Store,
    graph: &GraphClient,
    who: (&str, Option<&str>),
    row: MeetingRow,
    adopt: Adopt,
) -> Result<Created, Error> {
    if row.invitations.is_calendar() {
        return confirm_calendar(store, graph, who, row).await;
    }
    let (operator, real_actor) = who;
    let req = CreateOrGet {
        external_id: row.external_id.clone(),
        subject: row.subject.clone(),
        start: parse_utc(&row.start_utc)?,
        end: parse_utc(&row.end_utc)?,
        attendees: graph_attendees(&row.attendees),
    };
    match gm::create_or_get(graph, &req).await {
        Ok((CreateOrGetOutcome::Existing, _)) if adopt == Adopt::No => {
            let msg = format!(
                "externalId '{}' already names a meeting this store did not create for program \
                 '{}' (another program's or another installation's); it was not taken: use a \
                 new externalId",
                row.external_id, row.program_code
            );
            let now = crate::time::now_db();
            store.write(|tx| -> Result<(), Error> {
                tx.meeting_set_state(row.id, MeetingState::Failed, Some(&msg), &now)?;
                Ok(())
            })?;
            Err(Error::Conflict(msg))
        }
        Ok((outcome, resp)) => {
            let m: OnlineMeeting = resp.value;
            let now = crate::time::now_db();
            let start = m
                .start_date_time
                .map(crate::time::to_db)
                .unwrap_or_else(|| row.start_utc.clone());
            let end = m
                .end_date_time
                .map(crate::time::to_db)
                .unwrap_or_else(|| row.end_utc.clone());
            let organizer = m
                .participants
                .as_ref()
                .and_then(|p| p.organizer.as_ref())
                .and_then(|o| o.upn.clone());
            let jid = m.join_meeting_id_settings.as_ref();
            store.write(|tx| -> Result<(), Error> {
                tx.meeting_mark_created(
                    row.id,
                    &Confirmed {
                        graph_id: &m.id,
                        join_web_url: m.join_web_url.as_deref(),
                        join_meeting_id: jid.and_then(|j| j.join_meeting_id.as_deref()),
                        passcode: jid.and_then(|j| j.passcode.as_deref()),
                        organizer_upn: organizer.as_deref(),
                        start_utc: &start,
                        end_utc: &end,
                    },
                    &now,
                )?;
                let after = tx.meeting_by_id(row.id)?.expect("invariant: row exists");
                tx.audit_append(&AuditEntry {
                    operator,
                    action: "meeting.create",
                    target: &format!("meeting:{}", row.external_id),
                    program_code: Some(&row.program_code),
                    before: None,
                    after: Some(audit_view(&after)),
                    graph_request_id: resp.request_id.as_deref(),
                    real_actor,
                })?;
                Ok(())
            })?;
            let meeting = store
                .tables()
                .meeting_by_id(row.id)?
                .expect("invariant: row exists");
            Ok(Created { meeting, outcome })
        }
        Err(e) => {
            record_failure(store, &row, &e)?;
            Err(e.into())
        }
    }
}

/// Pure: what the participants were sent, in words (`meetings show`, the window's detail):
/// "sent 2027-… · updated 2027-… · cancelled 2027-…" in calendar mode, else how to share it.
pub fn invitations_summary(m: &MeetingRow) -> String {
    if !m.invitations.is_calendar() {
        return "none sent (share the join link or export the .ics)".into();
    }
    let mut parts = Vec::new();
    for (what, at) in [
        ("sent", &m.invitations_sent_at),
        ("updated", &m.invitations_updated_at),
        ("cancelled", &m.invitations_cancelled_at),
    ] {
        if let Some(at) = at {
            parts.push(format!("{what} {at}"));
        }
    }
    if parts.is_empty() {
        "from the host's calendar, not sent yet".into()
    } else {
        format!("from the host's calendar: {}", parts.join(" · "))
    }
}

/// Finds a meeting by row id or externalId.
pub fn find(store: &Store, key: &str) -> Result<MeetingRow, Error> {
    let key = key.trim();
    let row = match key.parse::<i64>() {
        Ok(id) => store.tables().meeting_by_id(id)?,
        Err(_) => None,
    };
    let row = match row {
        Some(r) => Some(r),
        None => store.tables().meeting_by_external_id(key)?,
    };
    row.ok_or(Error::NotFound {
        what: "meeting",
        key: key.to_string(),
    })
}

/// Shows one meeting (needs [`Action::ViewProgram`] on its program).
pub fn show(store: &Store, actor: &Actor, key: &str) -> Result<MeetingRow, Error> {
    let m = find(store, key)?;
    access::require(
        store.tables(),
        actor,
        Action::ViewProgram,
        Some(&m.program_code),
    )?;
    Ok(m)
}

/// Lists the first page of meetings matching `filter` (see [`list_page`]).
pub fn list(
    store: &Store,
    actor: &Actor,
    filter: &MeetingFilter,
) -> Result<Vec<MeetingRow>, Error> {
    Ok(list_page(store, actor, filter)?.items)
}

/// One page of meetings by start time; `filter.after` continues from the previous page's
/// `next_cursor`. With a program: [`Action::ViewProgram`] on it; without: on all programs.
pub fn list_page(
    store: &Store,
    actor: &Actor,
    filter: &MeetingFilter,
) -> Result<Page<MeetingRow>, Error> {
    let mut f = filter.clone();
    if let Some(p) = &f.program_code {
        let p = p.trim().to_ascii_lowercase();
        access::require(store.tables(), actor, Action::ViewProgram, Some(&p))?;
        f.program_code = Some(p);
    } else {
        access::require(store.tables(), actor, Action::ViewProgram, None).map_err(|e| match e {
            Error::Denied(m) => Error::Denied(format!("{m}; name a program (--program)")),
            other => other,
        })?;
    }
    if let Some(p) = &f.participant {
        f.participant = Some(p.trim().to_lowercase());
    }
    Ok(store.tables().meetings_page(&f)?)
}

/// Input of [`reschedule`].
#[derive(Debug, Clone)]
pub struct RescheduleInput {
    /// Row id or externalId.
    pub meeting: String,
    /// New local start.
    pub start: NaiveDateTime,
    /// New end or duration.
    pub end: EndSpec,
    /// Zone; default the meeting's.
    pub time_zone: Option<String>,
    /// Ambiguous-time choice.
    pub dst: DstChoice,
    /// New subject.
    pub subject: Option<String>,
    /// New participant list (whole).
    pub participants: Option<Vec<String>>,
}

/// Reschedules a created meeting: one `PATCH` with start and end together (plus subject and the
/// whole attendee list when changed). The join link stays the same. Audited; SEQUENCE + 1.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label))]
pub async fn reschedule(
    store: &mut Store,
    graph: &GraphClient,
    actor: &Actor,
    input: RescheduleInput,
) -> Result<MeetingRow, Error> {
    let before = find(store, &input.meeting)?;
    let who = access::require(
        store.tables(),
        actor,
        Action::MeetingsManage,
        Some(&before.program_code),
    )?;
    if before.state != MeetingState::Created {
        return Err(Error::Conflict(format!(
            "meeting '{}' is {}; only a created meeting can be rescheduled",
            before.external_id, before.state
        )));
    }
    let graph_id = before
        .graph_id
        .clone()
        .expect("invariant: a created meeting has a Graph id");
    // A meeting made in calendar mode is moved through its event: Exchange sends the update.
    let event_id = before
        .event_id
        .clone()
        .filter(|_| before.invitations.is_calendar());
    let zone = input
        .time_zone
        .clone()
        .unwrap_or_else(|| before.time_zone.clone());
    let times = resolve_times(input.start, input.end, &zone, input.dst, Utc::now())?;
    let subject = input.subject.as_deref().map(validate_subject).transpose()?;
    let new_attendees = match &input.participants {
        None => None,
        Some(list) => {
            let list = validate_participants(list)?;
            let members = preconditions(store, graph, actor, &before.program_code, &list).await?;
            Some(attendee_rows(&members))
        }
    };
    let (start, end, request_id) = match &event_id {
        Some(eid) => {
            let resp = ge::update(
                graph,
                eid,
                &ge::EventUpdate {
                    start: times.start,
                    end: times.end,
                    subject: subject.clone(),
                    attendees: new_attendees.as_deref().map(event_attendees),
                },
            )
            .await
            .map_err(calendar_error)?;
            (
                resp.value
                    .start
                    .as_ref()
                    .and_then(ge::DateTimeTimeZone::utc),
                resp.value.end.as_ref().and_then(ge::DateTimeTimeZone::utc),
                resp.request_id,
            )
        }
        None => {
            let resp = gm::reschedule(
                graph,
                &graph_id,
                &gm::Reschedule {
                    start: times.start,
                    end: times.end,
                    subject: subject.clone(),
                    attendees: new_attendees.as_deref().map(graph_attendees),
                },
            )
            .await?;
            (
                resp.value.start_date_time,
                resp.value.end_date_time,
                resp.request_id,
            )
        }
    };
    let now = crate::time::now_db();
    let start = crate::time::to_db(start.unwrap_or(times.start));
    let end = crate::time::to_db(end.unwrap_or(times.end));
    let subject = subject.unwrap_or_else(|| before.subject.clone());
    store.write(|tx| -> Result<(), Error> {
        tx.meeting_reschedule(before.id, &start, &end, &zone, &subject, &now)?;
        if event_id.is_some() {
            tx.meeting_record_invitations(before.id, InvitationsSent::Updated, &now)?;
        }
        if let Some(a) = &new_attendees {
            tx.meeting_replace_attendees(before.id, a)?;
        }
        let after = tx.meeting_by_id(before.id)?.expect("invariant: row exists");
        who.audit(
            tx,
            AuditEntry {
                action: "meeting.reschedule",
                target: &format!("meeting:{}", before.external_id),
                program_code: Some(&before.program_code),
                before: Some(audit_view(&before)),
                after: Some(audit_view(&after)),
                graph_request_id: request_id.as_deref(),
                ..Default::default()
            },
        )?;
        Ok(())
    })?;
    Ok(store
        .tables()
        .meeting_by_id(before.id)?
        .expect("invariant: row exists"))
}

/// What [`cancel`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Cancelled {
    /// The meeting after cancelling.
    pub meeting: MeetingRow,
    /// Notes (already cancelled, already gone upstream, …).
    pub notes: Vec<String>,
}

/// Cancels a meeting: lobby locked to the organizer (`PATCH lobbyBypassSettings`), `DELETE`, then
/// a `GET` that must answer 404. Cancelling twice, or a meeting already gone upstream, succeeds
/// with a note. A pending meeting is first resolved with `createOrGet` so nothing is left
/// upstream. Audited; SEQUENCE + 1.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, meeting = %key))]
pub async fn cancel(
    store: &mut Store,
    graph: &GraphClient,
    actor: &Actor,
    key: &str,
) -> Result<Cancelled, Error> {
    let mut row = find(store, key)?;
    let who = access::require(
        store.tables(),
        actor,
        Action::MeetingsManage,
        Some(&row.program_code),
    )?;
    let mut notes = Vec::new();
    match row.state {
        MeetingState::Cancelled => {
            notes.push("the meeting was already cancelled; nothing to do".to_string());
            return Ok(Cancelled {
                meeting: row,
                notes,
            });
        }
        MeetingState::Pending => {
            row = confirm(
                store,
                graph,
                (&who.label, who.real_actor.as_deref()),
                row,
                Adopt::Yes,
            )
            .await?
            .meeting;
        }
        _ => {}
    }
    let before = row.clone();
    let mut request_id: Option<String> = None;
    // A meeting made in calendar mode: its event is cancelled first (Exchange sends the
    // cancellations, with a comment), once; then the Teams meeting is cleaned up as always.
    if let (Some(eid), None) = (row.event_id.clone(), row.invitations_cancelled_at.as_ref()) {
        let now = crate::time::now_db();
        store.write(|tx| -> Result<(), Error> {
            tx.meeting_set_state(row.id, MeetingState::Cancelling, None, &now)?;
            Ok(())
        })?;
        let comment = format!(
            "The meeting \"{}\" was cancelled by its coordinator.",
            row.subject
        );
        match ge::cancel(graph, &eid, &comment)
            .await
            .map_err(calendar_error)?
        {
            None => {
                notes.push("the calendar event was already gone; no cancellation was sent".into())
            }
            Some(rid) => request_id = rid,
        }
        let now = crate::time::now_db();
        store.write(|tx| -> Result<(), Error> {
            tx.meeting_record_invitations(row.id, InvitationsSent::Cancelled, &now)?;
            Ok(())
        })?;
    }
    if let Some(gid) = row.graph_id.clone() {
        let now = crate::time::now_db();
        store.write(|tx| -> Result<(), Error> {
            tx.meeting_set_state(row.id, MeetingState::Cancelling, None, &now)?;
            Ok(())
        })?;
        match gm::lock_lobby(graph, &gid).await? {
            None => notes.push("the meeting was already gone in Microsoft Teams".into()),
            Some(rid) => {
                request_id = request_id.or(rid);
                let (existed, rid) = gm::delete(graph, &gid).await?;
                if !existed {
                    notes.push("the meeting was already deleted in Microsoft Teams".into());
                }
                request_id = rid.or(request_id);
            }
        }
        if gm::get(graph, &gid).await?.is_some() {
            return Err(Error::Conflict(format!(
                "Microsoft Teams still has meeting '{}' after the delete; try cancelling again",
                row.external_id
            )));
        }
    } else {
        notes.push("the meeting was never created in Microsoft Teams".into());
    }
    let now = crate::time::now_db();
    store.write(|tx| -> Result<(), Error> {
        tx.meeting_mark_cancelled(row.id, &now)?;
        let after = tx.meeting_by_id(row.id)?.expect("invariant: row exists");
        who.audit(
            tx,
            AuditEntry {
                action: "meeting.cancel",
                target: &format!("meeting:{}", row.external_id),
                program_code: Some(&row.program_code),
                before: Some(audit_view(&before)),
                after: Some(audit_view(&after)),
                graph_request_id: request_id.as_deref(),
                ..Default::default()
            },
        )?;
        Ok(())
    })?;
    let meeting = store
        .tables()
        .meeting_by_id(row.id)?
        .expect("invariant: row exists");
    Ok(Cancelled { meeting, notes })
}

/// The `.ics` of one meeting: `METHOD:REQUEST`, or `METHOD:CANCEL` once cancelled.
pub fn ics_for(store: &Store, actor: &Actor, key: &str) -> Result<String, Error> {
    let m = show(store, actor, key)?;
    Ok(crate::ics::render_one(&m, Utc::now()))
}

/// The `.ics` files of every meeting matching `filter` (all pages, from `filter.after` on;
/// `filter.limit` is only the page size): live meetings in one `METHOD:REQUEST` calendar,
/// cancelled ones in one `METHOD:CANCEL` calendar (iTIP allows one method per object).
pub fn ics_for_range(
    store: &Store,
    actor: &Actor,
    filter: &MeetingFilter,
) -> Result<crate::ics::Export, Error> {
    let rows = list_all(store, actor, filter)?;
    Ok(crate::ics::render_many(&rows, Utc::now()))
}

/// Every meeting matching `filter`, page after page until the last (an export must not stop
/// at the first page); `filter.after` is where it starts.
pub fn list_all(
    store: &Store,
    actor: &Actor,
    filter: &MeetingFilter,
) -> Result<Vec<MeetingRow>, Error> {
    crate::store::page::collect_all(filter.after.clone(), |after| {
        let f = MeetingFilter {
            after,
            ..filter.clone()
        };
        list_page(store, actor, &f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        tz::parse_local(s).expect("local time")
    }

    fn now() -> DateTime<Utc> {
        parse_utc("2027-01-01T00:00:00Z").expect("time")
    }

    #[tokio::test]
    async fn create_as_host_refuses_bad_input_before_it_needs_the_host() {
        let mut store = Store::open_in_memory().expect("store");
        crate::programs::add(
            &mut store,
            &Actor::operator("t@x"),
            crate::programs::NewProgram {
                name: "Mentoring".into(),
                code: Some("m".into()),
                description: None,
            },
        )
        .expect("program");
        let tokens: std::sync::Arc<dyn crate::auth::TokenStore> =
            std::sync::Arc::new(crate::auth::MemoryTokenStore::default());
        let input = |subject: &str| NewMeeting {
            program: "m".into(),
            subject: subject.into(),
            start: local("2030-03-04T10:00"),
            end: EndSpec::Duration(Duration::minutes(30)),
            time_zone: Some("UTC".into()),
            dst: DstChoice::default(),
            participants: vec!["ana@contoso.com".into()],
            external_id: None,
            batch_id: None,
        };
        let actor = Actor::operator("t@x");
        let bad = create_as_host(&mut store, tokens.clone(), &actor, input("  "))
            .await
            .expect_err("an empty subject is refused");
        assert!(
            matches!(bad, Error::Invalid { field: "subject", .. }),
            "bad input is refused before the host's session is needed (nothing is connected here): {bad:?}"
        );
        let good = create_as_host(&mut store, tokens, &actor, input("Kick-off"))
            .await
            .expect_err("valid input, but no integration");
        assert!(
            matches!(good, Error::NotConnected),
            "valid input goes on to the host's session: {good:?}"
        );
    }

    #[test]
    fn only_client_errors_mark_a_meeting_failed_others_leave_it_pending() {
        let status = |status| GraphError::Status {
            status,
            code: String::new(),
            message: String::new(),
            request_id: None,
        };
        assert!(definitive(&status(400)), "400: the request was refused");
        assert!(definitive(&status(403)), "403: refused");
        assert!(!definitive(&status(429)), "429 may succeed later");
        assert!(!definitive(&status(408)), "a timeout may have applied");
        assert!(!definitive(&status(500)), "a 500 may have applied");
        assert!(
            !definitive(&GraphError::Network {
                host: "h".into(),
                reason: "dropped".into()
            }),
            "a dropped answer may hide a created meeting"
        );
    }

    #[test]
    fn durations_parse_in_minutes_hours_or_both() {
        for (s, m) in [("45m", 45), ("1h", 60), ("1h30m", 90), ("90", 90)] {
            assert_eq!(
                parse_duration(s).expect("duration").num_minutes(),
                m,
                "{s} minutes"
            );
        }
        assert!(parse_duration("soon").is_err(), "nonsense refused");
        assert!(
            parse_when(
                "2027-03-15 09:00",
                Some("2027-03-15 10:00"),
                Some("1h"),
                None
            )
            .is_err(),
            "end and duration together refused"
        );
    }

    #[test]
    fn times_resolve_and_every_bad_window_is_refused_with_its_reason() {
        let t = resolve_times(
            local("2027-03-15 09:00"),
            EndSpec::Duration(Duration::minutes(45)),
            "America/New_York",
            DstChoice::Refuse,
            now(),
        )
        .expect("ordinary window");
        assert_eq!(
            crate::time::to_db(t.start),
            "2027-03-15T13:00:00Z",
            "EDT is UTC-4"
        );
        assert_eq!(
            crate::time::to_db(t.end),
            "2027-03-15T13:45:00Z",
            "duration added"
        );
        let cases = [
            (
                local("2027-03-15 09:00"),
                EndSpec::At(local("2027-03-15 08:00")),
                "not after the start",
            ),
            (
                local("2027-03-15 09:00"),
                EndSpec::Duration(Duration::hours(25)),
                "at most 24 hours",
            ),
            (
                local("2026-03-15 09:00"),
                EndSpec::Duration(Duration::hours(1)),
                "in the past",
            ),
            (
                local("2027-03-14 02:30"),
                EndSpec::Duration(Duration::hours(1)),
                "does not exist",
            ),
            (
                local("2027-11-07 01:30"),
                EndSpec::Duration(Duration::hours(1)),
                "happens twice",
            ),
        ];
        for (start, end, why) in cases {
            let e = resolve_times(start, end, "America/New_York", DstChoice::Refuse, now())
                .expect_err(why);
            assert!(e.to_string().contains(why), "expected '{why}' in: {e}");
        }
    }
}
