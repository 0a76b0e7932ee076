//! Tables `meetings` and `meeting_attendees`: the row types, the filter and the
//! [`MeetingTable`] queries every backend answers (`store::sqlite::meetings` holds the SQLite
//! statements). The lifecycle rules (pending → created → cancelling → cancelled; failed) live in
//! `crate::meetings`; this module only reads and writes. Times are UTC RFC 3339 text.
//!
//! What both backends do alike lives here once: the stored state names, the columns a meeting
//! is read from and its assembly ([`meeting_from`], [`attendee_from`], [`attach_attendees`]),
//! and a page's filter constraints ([`filter_constraints`]); each backend keeps its own SQL.

use std::collections::HashMap;

use serde::Serialize;

use super::columns::Columns;
use super::integration::InvitationMode;
use super::page::{self, Arg, Page, PageError};
use super::StoreError;

/// Where a meeting stands (`meetings.state`; each backend maps it to its stored value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingState {
    /// Recorded; Graph has not confirmed it yet (a create to send or resume).
    Pending,
    /// It exists in Teams.
    Created,
    /// A cancel is under way.
    Cancelling,
    /// Cancelled.
    Cancelled,
    /// Graph refused it for good.
    Failed,
}

impl MeetingState {
    /// Every state.
    pub const ALL: [MeetingState; 5] = [
        MeetingState::Pending,
        MeetingState::Created,
        MeetingState::Cancelling,
        MeetingState::Cancelled,
        MeetingState::Failed,
    ];

    /// Its name, as front ends show it, filters name it and JSON carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingState::Pending => "pending",
            MeetingState::Created => "created",
            MeetingState::Cancelling => "cancelling",
            MeetingState::Cancelled => "cancelled",
            MeetingState::Failed => "failed",
        }
    }

    /// The state a name stands for (`None` for a name this build does not know).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// How it is stored in `meetings.state`, by both backends: its name (the schemas'
    /// `CHECK`s spell the same names, and the statements also write `'pending'`, `'created'` and
    /// `'cancelled'`; a test stores every state). The one place to change should the stored
    /// names ever part from the shown ones.
    pub(crate) fn stored_name(self) -> &'static str {
        self.as_str()
    }

    /// The state a stored `meetings.state` stands for (`None` for a value this build does not
    /// know).
    pub(crate) fn from_stored(stored: &str) -> Option<Self> {
        Self::parse(stored)
    }
}

/// The stored value a filter's state name matches: the state's, or the name itself when it
/// names no state (it then matches no row).
fn filter_state(name: &str) -> String {
    match MeetingState::parse(name) {
        Some(state) => state.stored_name().to_string(),
        None => name.to_string(),
    }
}

/// Compares with a name (`state == "created"`), as tests and callers holding text do.
impl PartialEq<&str> for MeetingState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for MeetingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeetingRow {
    /// Row id.
    pub id: i64,
    /// Our idempotency key sent as Graph's externalId.
    pub external_id: String,
    /// Program id.
    pub program_id: i64,
    /// Program code.
    pub program_code: String,
    /// The batch that made it, if any.
    pub batch_id: Option<i64>,
    /// Subject.
    pub subject: String,
    /// Start (UTC).
    pub start_utc: String,
    /// End (UTC).
    pub end_utc: String,
    /// IANA zone the times were entered in.
    pub time_zone: String,
    /// Where it stands.
    pub state: MeetingState,
    /// Graph id.
    pub graph_id: Option<String>,
    /// Join link.
    pub join_web_url: Option<String>,
    /// Numeric join id.
    pub join_meeting_id: Option<String>,
    /// Passcode (shown to the coordinator and in the invitation; never in audit rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passcode: Option<String>,
    /// Organizer (the host).
    pub organizer_upn: Option<String>,
    /// iCalendar SEQUENCE: bumped by every reschedule and the cancellation.
    pub sequence: i64,
    /// Last failure.
    pub last_error: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// Created (UTC).
    pub created_at: String,
    /// Last changed (UTC).
    pub updated_at: String,
    /// How its participants are invited: `none`, or `calendar` (an event on the host's calendar
    /// from which Exchange sends the invitations). Set when it is recorded, kept for life.
    pub invitations: InvitationMode,
    /// The calendar event's id (`calendar` mode, once the event exists).
    pub event_id: Option<String>,
    /// When Exchange was asked to send the invitations (the event was created).
    pub invitations_sent_at: Option<String>,
    /// When Exchange was last asked to send an update (the event was rescheduled).
    pub invitations_updated_at: Option<String>,
    /// When Exchange was asked to send the cancellations.
    pub invitations_cancelled_at: Option<String>,
    /// Attendees.
    pub attendees: Vec<AttendeeRow>,
}

/// What the host's calendar sent the participants, recorded by
/// [`MeetingTable::meeting_record_invitations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationsSent<'a> {
    /// The event was created (its id): Exchange sent the invitations.
    Sent {
        /// The event id.
        event_id: &'a str,
    },
    /// The event was changed: Exchange sent the update.
    Updated,
    /// The event was cancelled: Exchange sent the cancellations.
    Cancelled,
}

/// An attendee row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttendeeRow {
    /// The address as given (normalised).
    pub address: String,
    /// UPN from the directory.
    pub upn: Option<String>,
    /// Object id.
    pub object_id: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
}

/// A meeting Graph has made, for [`MeetingTable::meetings_insert_created`].
#[derive(Debug, Clone)]
pub struct NewCreated<'a> {
    /// The row as a pending one would be inserted (`now` is also when it was confirmed).
    pub row: NewRow<'a>,
    /// Its attendees.
    pub attendees: Vec<AttendeeRow>,
    /// What Graph answered.
    pub confirmed: Confirmed<'a>,
    /// In calendar mode, the event on the host's calendar whose invitations were just sent.
    pub event_id: Option<&'a str>,
}

/// A new pending row.
#[derive(Debug, Clone)]
pub struct NewRow<'a> {
    /// externalId.
    pub external_id: &'a str,
    /// Program id.
    pub program_id: i64,
    /// Batch.
    pub batch_id: Option<i64>,
    /// Subject.
    pub subject: &'a str,
    /// Start (UTC text).
    pub start_utc: &'a str,
    /// End (UTC text).
    pub end_utc: &'a str,
    /// Zone.
    pub time_zone: &'a str,
    /// Creator.
    pub created_by: &'a str,
    /// Now.
    pub now: &'a str,
}

/// Filters for [`MeetingTable::meetings_page`].
#[derive(Debug, Clone, Default)]
pub struct MeetingFilter {
    /// Only this program code.
    pub program_code: Option<String>,
    /// Only this state, by its name ([`MeetingState::as_str`]; an unknown name matches nothing).
    pub state: Option<String>,
    /// Start at or after (UTC text).
    pub from: Option<String>,
    /// Start before (UTC text).
    pub to: Option<String>,
    /// Only meetings with this attendee address.
    pub participant: Option<String>,
    /// Page size; 0 means 100.
    pub limit: u32,
    /// Start after this cursor (the `next_cursor` of the previous page).
    pub after: Option<String>,
}

/// What Graph confirmed at creation.
#[derive(Debug, Clone)]
pub struct Confirmed<'a> {
    /// Graph id.
    pub graph_id: &'a str,
    /// Join link.
    pub join_web_url: Option<&'a str>,
    /// Join id.
    pub join_meeting_id: Option<&'a str>,
    /// Passcode.
    pub passcode: Option<&'a str>,
    /// Organizer.
    pub organizer_upn: Option<&'a str>,
    /// Start as Graph stored it.
    pub start_utc: &'a str,
    /// End as Graph stored it.
    pub end_utc: &'a str,
}

/// The columns [`meeting_from`] reads, in its order (`m` the meeting, `p` its program), as a
/// literal for `concat!`: each backend's statements select them.
macro_rules! meeting_columns {
    () => {
        "m.id, m.external_id, m.program_id, p.code, m.batch_id, m.subject,
    m.start_utc, m.end_utc, m.time_zone, m.state, m.graph_id, m.join_web_url, m.join_meeting_id,
    m.passcode, m.organizer_upn, m.sequence, m.last_error, m.created_by, m.created_at, m.updated_at,
    m.invitations, m.event_id, m.invitations_sent_at, m.invitations_updated_at,
    m.invitations_cancelled_at"
    };
}
pub(crate) use meeting_columns;

/// A meeting from the [`meeting_columns`] of a row, without its attendees.
pub(crate) fn meeting_from<R: Columns>(r: &R) -> Result<MeetingRow, R::Error> {
    Ok(MeetingRow {
        id: r.get(0)?,
        external_id: r.get(1)?,
        program_id: r.get(2)?,
        program_code: r.get(3)?,
        batch_id: r.get(4)?,
        subject: r.get(5)?,
        start_utc: r.get(6)?,
        end_utc: r.get(7)?,
        time_zone: r.get(8)?,
        state: r.state(9, "meeting", MeetingState::from_stored)?,
        graph_id: r.get(10)?,
        join_web_url: r.get(11)?,
        join_meeting_id: r.get(12)?,
        passcode: r.get(13)?,
        organizer_upn: r.get(14)?,
        sequence: r.get(15)?,
        last_error: r.get(16)?,
        created_by: r.get(17)?,
        created_at: r.get(18)?,
        updated_at: r.get(19)?,
        invitations: r.state(20, "invitation", InvitationMode::parse)?,
        event_id: r.get(21)?,
        invitations_sent_at: r.get(22)?,
        invitations_updated_at: r.get(23)?,
        invitations_cancelled_at: r.get(24)?,
        attendees: Vec::new(),
    })
}

/// An attendee from columns `first..first + 4` of a row (address, upn, object_id,
/// display_name).
pub(crate) fn attendee_from<R: Columns>(r: &R, first: usize) -> Result<AttendeeRow, R::Error> {
    Ok(AttendeeRow {
        address: r.get(first)?,
        upn: r.get(first + 1)?,
        object_id: r.get(first + 2)?,
        display_name: r.get(first + 3)?,
    })
}

/// Hands each meeting of a page its attendees, read for the whole page at once as
/// `(meeting id, attendee)` pairs in the order each meeting lists them.
pub(crate) fn attach_attendees(
    meetings: &mut [MeetingRow],
    rows: impl IntoIterator<Item = (i64, AttendeeRow)>,
) {
    let mut by_meeting: HashMap<i64, Vec<AttendeeRow>> = HashMap::new();
    for (id, a) in rows {
        by_meeting.entry(id).or_default().push(a);
    }
    for m in meetings {
        m.attendees = by_meeting.remove(&m.id).unwrap_or_default();
    }
}

/// The cursor's list name of [`MeetingTable::meetings_page`] (a page's sort key is the last
/// meeting's `(start_utc, id)`).
pub(crate) const PAGE_CURSOR: &str = "meetings";

/// The sort key `f.after` continues from.
pub(crate) fn page_after(f: &MeetingFilter) -> Result<Option<(String, i64)>, PageError> {
    f.after
        .as_deref()
        .map(|c| page::decode(PAGE_CURSOR, c))
        .transpose()
}

/// A page of meetings from the `limit + 1` rows its statement fetched.
pub(crate) fn finish_page(rows: Vec<MeetingRow>, limit: u32) -> Page<MeetingRow> {
    page::finish(PAGE_CURSOR, rows, limit, |m| (m.start_utc.clone(), m.id))
}

/// The constraints of a meetings page, as both backends write them: those on the meeting
/// (state; and program for a person's page) and those on the start range and cursor.
pub(crate) struct FilterConstraints {
    /// The constraints on the meeting, or empty.
    pub meeting: String,
    /// The start range and cursor constraints, or empty.
    pub range: String,
}

impl FilterConstraints {
    /// For a person's page: the join of the meeting `c` to its attendee rows `a`, needed only
    /// when something is checked on the meeting.
    pub(crate) fn person_join(&self) -> &'static str {
        if self.meeting.is_empty() {
            ""
        } else {
            " JOIN meetings c ON c.id = a.meeting_id"
        }
    }
}

/// Builds the [`FilterConstraints`] of `f` continuing `after`: the state on column `state`
/// (` AND state = …`), the start range and cursor on columns `start` and `id`
/// (` AND start >= … AND start < … AND (start, id) > (…, …)`). `bind` binds each argument in
/// turn (state, from, to, cursor) and returns its placeholder (`?N` or `$N`).
pub(crate) fn filter_constraints(
    f: &MeetingFilter,
    after: Option<(String, i64)>,
    (state, start, id): (&str, &str, &str),
    bind: &mut dyn FnMut(Arg) -> String,
) -> FilterConstraints {
    let mut c = FilterConstraints {
        meeting: String::new(),
        range: String::new(),
    };
    if let Some(s) = &f.state {
        let n = bind(Arg::Text(filter_state(s)));
        c.meeting.push_str(&format!(" AND {state} = {n}"));
    }
    if let Some(t) = &f.from {
        let n = bind(Arg::Text(t.clone()));
        c.range.push_str(&format!(" AND {start} >= {n}"));
    }
    if let Some(t) = &f.to {
        let n = bind(Arg::Text(t.clone()));
        c.range.push_str(&format!(" AND {start} < {n}"));
    }
    if let Some((t, row)) = after {
        let a = bind(Arg::Text(t));
        let b = bind(Arg::Int(row));
        c.range
            .push_str(&format!(" AND ({start}, {id}) > ({a}, {b})"));
    }
    c
}

/// What a person's page checks on the way, as both backends write it: on their meeting `c`
/// the program on column `program` (` AND program = (SELECT id FROM programs WHERE code = …)`,
/// the code compared on `code` with `key(code)`) and the state on column `state`; on their
/// attendee rows `a` the start range and cursor. `bind` binds each argument in turn (program,
/// state, from, to, cursor) and returns its placeholder.
pub(crate) fn person_constraints(
    f: &MeetingFilter,
    after: Option<(String, i64)>,
    (program, code, state): (&str, &str, &str),
    key: fn(&str) -> String,
    bind: &mut dyn FnMut(Arg) -> String,
) -> FilterConstraints {
    let mut on_program = String::new();
    if let Some(p) = &f.program_code {
        let n = bind(Arg::Text(key(p)));
        on_program = format!(" AND {program} = (SELECT id FROM programs WHERE {code} = {n})");
    }
    let mut c = filter_constraints(f, after, (state, "a.start_utc", "a.meeting_id"), bind);
    c.meeting.insert_str(0, &on_program);
    c
}

/// The queries of the `meetings` and `meeting_attendees` tables that the use cases call,
/// answered by each backend (`store::sqlite::meetings` for SQLite).
pub trait MeetingTable {
    /// Records meetings Graph has made (a batch's answers), each straight in its confirmed
    /// state with its attendees and, in calendar mode, its event: what
    /// [`MeetingTable::meeting_insert_pending`], [`MeetingTable::meeting_mark_created`] and the
    /// invitation methods record one by one. Returns each one's row id, in order, or `None`
    /// (nothing inserted for it) where its externalId is taken. A team store does it in two
    /// statements whatever their number.
    fn meetings_insert_created(
        &self,
        rows: &[NewCreated<'_>],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let mut ids = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(id) = self.meeting_insert_pending(&r.row, &r.attendees)? else {
                ids.push(None);
                continue;
            };
            self.meeting_mark_created(id, &r.confirmed, r.row.now)?;
            if let Some(event_id) = r.event_id {
                self.meeting_set_invitations(id, InvitationMode::Calendar)?;
                self.meeting_record_invitations(id, InvitationsSent::Sent { event_id }, r.row.now)?;
            }
            ids.push(Some(id));
        }
        Ok(ids)
    }

    /// Inserts a pending row with its attendees; returns its id, or `None` when the row breaks a
    /// constraint: its externalId is taken (another process recorded it since the caller looked).
    fn meeting_insert_pending(
        &self,
        row: &NewRow<'_>,
        attendees: &[AttendeeRow],
    ) -> Result<Option<i64>, StoreError>;

    /// Records how a (just inserted, pending) meeting's participants are invited.
    fn meeting_set_invitations(&self, id: i64, mode: InvitationMode) -> Result<usize, StoreError>;

    /// Records what the host's calendar sent, at `at`; returns the rows changed.
    fn meeting_record_invitations(
        &self,
        id: i64,
        sent: InvitationsSent<'_>,
        at: &str,
    ) -> Result<usize, StoreError>;

    /// Replaces the attendee list.
    fn meeting_replace_attendees(
        &self,
        meeting_id: i64,
        attendees: &[AttendeeRow],
    ) -> Result<(), StoreError>;

    /// The attendees of a meeting, by address.
    fn meeting_attendees(&self, meeting_id: i64) -> Result<Vec<AttendeeRow>, StoreError>;

    /// By row id.
    fn meeting_by_id(&self, id: i64) -> Result<Option<MeetingRow>, StoreError>;

    /// By externalId.
    fn meeting_by_external_id(&self, external_id: &str) -> Result<Option<MeetingRow>, StoreError>;

    /// The meetings whose last Graph call failed, most recently changed first, at most `limit`
    /// (what a diagnostics bundle reports). Without their attendees.
    fn meetings_recent_with_errors(&self, limit: u32) -> Result<Vec<MeetingRow>, StoreError>;

    /// Marks a row created with what Graph confirmed; returns the rows changed.
    fn meeting_mark_created(
        &self,
        id: i64,
        confirmed: &Confirmed<'_>,
        now: &str,
    ) -> Result<usize, StoreError>;

    /// Sets the state and last error; returns the rows changed.
    fn meeting_set_state(
        &self,
        id: i64,
        state: MeetingState,
        last_error: Option<&str>,
        now: &str,
    ) -> Result<usize, StoreError>;

    /// New times (and subject), bumping the SEQUENCE; returns the rows changed.
    fn meeting_reschedule(
        &self,
        id: i64,
        start_utc: &str,
        end_utc: &str,
        time_zone: &str,
        subject: &str,
        now: &str,
    ) -> Result<usize, StoreError>;

    /// Marks cancelled, bumping the SEQUENCE; returns the rows changed.
    fn meeting_mark_cancelled(&self, id: i64, now: &str) -> Result<usize, StoreError>;

    /// One page of meetings by start time (then id), with filters; `f.after` continues from the
    /// previous page's `next_cursor`. Each meeting comes with its attendees.
    fn meetings_page(&self, f: &MeetingFilter) -> Result<Page<MeetingRow>, PageError>;
}
