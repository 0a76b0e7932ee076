//! Tables `meetings` and `meeting_attendees`: the row types, the filter and the
//! [`MeetingTable`] queries every backend answers (`store::sqlite::meetings` holds the SQLite
//! statements). The lifecycle rules (pending → created → cancelling → cancelled; failed) live in
//! `crate::meetings`; this module only reads and writes. Times are UTC RFC 3339 text.

use serde::Serialize;

use super::page::{Page, PageError};
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
    /// Attendees.
    pub attendees: Vec<AttendeeRow>,
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

/// The queries of the `meetings` and `meeting_attendees` tables that the use cases call,
/// answered by each backend (`store::sqlite::meetings` for SQLite).
pub trait MeetingTable {
    /// Inserts a pending row with its attendees; returns its id, or `None` when the row breaks a
    /// constraint: its externalId is taken (another process recorded it since the caller looked).
    fn meeting_insert_pending(
        &self,
        row: &NewRow<'_>,
        attendees: &[AttendeeRow],
    ) -> Result<Option<i64>, StoreError>;

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
