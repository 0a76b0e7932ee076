//! Tables `meetings` and `meeting_attendees`: row types and queries. The lifecycle rules
//! (pending → created → cancelling → cancelled; failed) live in `crate::meetings`; this module
//! only reads and writes. Times are UTC RFC 3339 text.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::Serialize;

use super::page::{self, Page, PageError, PageQuery};

/// Where a meeting stands, as stored in `meetings.state`.
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

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingState::Pending => "pending",
            MeetingState::Created => "created",
            MeetingState::Cancelling => "cancelling",
            MeetingState::Cancelled => "cancelled",
            MeetingState::Failed => "failed",
        }
    }

    /// From the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// Compares with a stored name (`state == "created"`), as tests and callers holding text do.
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

/// Filters for [`list`].
#[derive(Debug, Clone, Default)]
pub struct MeetingFilter {
    /// Only this program code.
    pub program_code: Option<String>,
    /// Only this state.
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

const SELECT: &str = "SELECT m.id, m.external_id, m.program_id, p.code, m.batch_id, m.subject,
    m.start_utc, m.end_utc, m.time_zone, m.state, m.graph_id, m.join_web_url, m.join_meeting_id,
    m.passcode, m.organizer_upn, m.sequence, m.last_error, m.created_by, m.created_at, m.updated_at
    FROM meetings m JOIN programs p ON p.id = m.program_id";

fn from_row(r: &Row<'_>) -> rusqlite::Result<MeetingRow> {
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
        state: {
            let name: String = r.get(9)?;
            MeetingState::parse(&name).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    9,
                    rusqlite::types::Type::Text,
                    format!("unknown meeting state '{name}'").into(),
                )
            })?
        },
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
        attendees: Vec::new(),
    })
}

fn with_attendees(conn: &Connection, mut m: MeetingRow) -> rusqlite::Result<MeetingRow> {
    m.attendees = attendees(conn, m.id)?;
    Ok(m)
}

/// Inserts a pending row with its attendees; returns its id.
pub fn insert_pending(
    conn: &Connection,
    row: &NewRow<'_>,
    attendees: &[AttendeeRow],
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO meetings (external_id, program_id, batch_id, subject, start_utc, end_utc,
            time_zone, state, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, ?9)",
        params![
            row.external_id,
            row.program_id,
            row.batch_id,
            row.subject,
            row.start_utc,
            row.end_utc,
            row.time_zone,
            row.created_by,
            row.now
        ],
    )?;
    let id = conn.last_insert_rowid();
    replace_attendees(conn, id, attendees)?;
    Ok(id)
}

/// Replaces the attendee list.
pub fn replace_attendees(
    conn: &Connection,
    meeting_id: i64,
    attendees: &[AttendeeRow],
) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM meeting_attendees WHERE meeting_id = ?1",
        [meeting_id],
    )?;
    for a in attendees {
        conn.execute(
            "INSERT INTO meeting_attendees (meeting_id, address, upn, object_id, display_name)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![meeting_id, a.address, a.upn, a.object_id, a.display_name],
        )?;
    }
    Ok(())
}

/// The attendees of a meeting, by address.
pub fn attendees(conn: &Connection, meeting_id: i64) -> rusqlite::Result<Vec<AttendeeRow>> {
    let mut st = conn.prepare_cached(
        "SELECT address, upn, object_id, display_name FROM meeting_attendees
         WHERE meeting_id = ?1 ORDER BY address",
    )?;
    let rows = st.query_map([meeting_id], |r| {
        Ok(AttendeeRow {
            address: r.get(0)?,
            upn: r.get(1)?,
            object_id: r.get(2)?,
            display_name: r.get(3)?,
        })
    })?;
    rows.collect()
}

/// By row id.
pub fn by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<MeetingRow>> {
    let m = conn
        .query_row(&format!("{SELECT} WHERE m.id = ?1"), [id], from_row)
        .optional()?;
    m.map(|m| with_attendees(conn, m)).transpose()
}

/// The meetings whose last Graph call failed, most recently changed first, at most `limit`
/// (what a diagnostics bundle reports). Without their attendees.
pub fn recent_with_errors(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<MeetingRow>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE m.last_error IS NOT NULL ORDER BY m.updated_at DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], from_row)?;
    rows.collect()
}

/// By externalId.
pub fn by_external_id(
    conn: &Connection,
    external_id: &str,
) -> rusqlite::Result<Option<MeetingRow>> {
    let m = conn
        .query_row(
            &format!("{SELECT} WHERE m.external_id = ?1"),
            [external_id],
            from_row,
        )
        .optional()?;
    m.map(|m| with_attendees(conn, m)).transpose()
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

/// Marks a row created with what Graph confirmed.
pub fn mark_created(
    conn: &Connection,
    id: i64,
    c: &Confirmed<'_>,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE meetings SET state = 'created', graph_id = ?2, join_web_url = ?3, join_meeting_id = ?4,
            passcode = ?5, organizer_upn = ?6, start_utc = ?7, end_utc = ?8, last_error = NULL, updated_at = ?9
         WHERE id = ?1",
        params![
            id,
            c.graph_id,
            c.join_web_url,
            c.join_meeting_id,
            c.passcode,
            c.organizer_upn,
            c.start_utc,
            c.end_utc,
            now
        ],
    )
}

/// Sets the state and last error.
pub fn set_state(
    conn: &Connection,
    id: i64,
    state: MeetingState,
    last_error: Option<&str>,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE meetings SET state = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, state.as_str(), last_error, now],
    )
}

/// New times (and subject), bumping the SEQUENCE.
pub fn reschedule(
    conn: &Connection,
    id: i64,
    start_utc: &str,
    end_utc: &str,
    time_zone: &str,
    subject: &str,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE meetings SET start_utc = ?2, end_utc = ?3, time_zone = ?4, subject = ?5,
            sequence = sequence + 1, last_error = NULL, updated_at = ?6 WHERE id = ?1",
        params![id, start_utc, end_utc, time_zone, subject, now],
    )
}

/// Marks cancelled, bumping the SEQUENCE.
pub fn mark_cancelled(conn: &Connection, id: i64, now: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE meetings SET state = 'cancelled', sequence = sequence + 1, last_error = NULL,
            updated_at = ?2 WHERE id = ?1",
        params![id, now],
    )
}

/// One page of meetings by start time (then id), with filters. Each filter present becomes a
/// plain constraint so SQLite can use the index that starts with it and already yields rows by
/// `(start_utc, id)`: program (and state), state, the start range; a participant's meetings
/// come from the attendee indexes, which hold each meeting's start.
pub fn list_page(conn: &Connection, f: &MeetingFilter) -> Result<Page<MeetingRow>, PageError> {
    let query = list_query(f)?;
    let rows = query.rows(conn, from_row)?;
    let mut page = page::finish(KIND, rows, query.limit, |m| (m.start_utc.clone(), m.id));
    attach_attendees(conn, &mut page.items)?;
    Ok(page)
}

const KIND: &str = "meetings";

/// The statement [`list_page`] runs for `f` (the attendees of the page's meetings are read by
/// [`ATTENDEES_OF_MANY`] after it).
pub fn list_query(f: &MeetingFilter) -> Result<PageQuery, PageError> {
    let after: Option<(String, i64)> = f
        .after
        .as_deref()
        .map(|c| page::decode(KIND, c))
        .transpose()?;
    let mut query = PageQuery::new(format!("{SELECT} WHERE 1 = 1"), f.limit);
    if let Some(person) = &f.participant {
        person_page(&mut query, f, person, after);
        return Ok(query);
    }
    if let Some(p) = &f.program_code {
        // On the join: SQLite looks the program up by code once, then seeks
        // `meetings_program_start` (or `meetings_program_state_start`).
        let n = query.arg(p.clone());
        query.push(&format!(" AND p.code = ?{n}"));
    }
    if let Some(s) = &f.state {
        let n = query.arg(s.clone());
        query.push(&format!(" AND m.state = ?{n}"));
    }
    if let Some(t) = &f.from {
        let n = query.arg(t.clone());
        query.push(&format!(" AND m.start_utc >= ?{n}"));
    }
    if let Some(t) = &f.to {
        let n = query.arg(t.clone());
        query.push(&format!(" AND m.start_utc < ?{n}"));
    }
    if let Some((start, id)) = after {
        let a = query.arg(start);
        let b = query.arg(id);
        query.push(&format!(" AND (m.start_utc, m.id) > (?{a}, ?{b})"));
    }
    query.push(" ORDER BY m.start_utc, m.id");
    query.push_limit();
    Ok(query)
}

/// The meetings of one person: their attendee rows by address, and by UPN where it differs
/// (`meeting_attendees_address_start`, `meeting_attendees_upn_start`), both already in
/// `(start_utc, meeting_id)` order, merged by SQLite, which stops after one page; the other
/// filters are checked on the way (a unary `+` keeps SQLite from seeking their indexes
/// instead). The outer query then reads only the page's meetings whole.
fn person_page(
    query: &mut PageQuery,
    f: &MeetingFilter,
    person: &str,
    after: Option<(String, i64)>,
) {
    let who = query.arg(person.to_string());
    let mut on_meeting = String::new();
    let mut on_attendee = String::new();
    if let Some(p) = &f.program_code {
        let n = query.arg(p.clone());
        on_meeting.push_str(&format!(
            " AND +c.program_id = (SELECT id FROM programs WHERE code = ?{n})"
        ));
    }
    if let Some(s) = &f.state {
        let n = query.arg(s.clone());
        on_meeting.push_str(&format!(" AND +c.state = ?{n}"));
    }
    if let Some(t) = &f.from {
        let n = query.arg(t.clone());
        on_attendee.push_str(&format!(" AND a.start_utc >= ?{n}"));
    }
    if let Some(t) = &f.to {
        let n = query.arg(t.clone());
        on_attendee.push_str(&format!(" AND a.start_utc < ?{n}"));
    }
    if let Some((start, id)) = after {
        let a = query.arg(start);
        let b = query.arg(id);
        on_attendee.push_str(&format!(" AND (a.start_utc, a.meeting_id) > (?{a}, ?{b})"));
    }
    let join = if on_meeting.is_empty() {
        ""
    } else {
        " JOIN meetings c ON c.id = a.meeting_id"
    };
    let branch = |by: &str| {
        format!(
            "SELECT a.meeting_id, a.start_utc FROM meeting_attendees a{join}
             WHERE {by}{on_attendee}{on_meeting}"
        )
    };
    let by_address = branch(&format!("a.address = ?{who}"));
    let by_upn = branch(&format!(
        "a.upn = ?{who} COLLATE NOCASE AND a.upn <> a.address COLLATE NOCASE"
    ));
    let n = query.arg(i64::from(query.limit) + 1);
    query.push(&format!(
        " AND m.id IN (SELECT meeting_id FROM ({by_address} UNION {by_upn} ORDER BY 2, 1 LIMIT ?{n}))
         ORDER BY +m.start_utc, m.id"
    ));
}

/// Reads the attendees of a page of meetings at once; `?1` is a JSON array of meeting ids.
pub const ATTENDEES_OF_MANY: &str =
    "SELECT meeting_id, address, upn, object_id, display_name FROM meeting_attendees
     WHERE meeting_id IN (SELECT value FROM json_each(?1)) ORDER BY meeting_id, address";

/// Fills in the attendees of many meetings with one query (not one per meeting).
fn attach_attendees(conn: &Connection, meetings: &mut [MeetingRow]) -> rusqlite::Result<()> {
    if meetings.is_empty() {
        return Ok(());
    }
    let ids =
        serde_json::Value::from(meetings.iter().map(|m| m.id).collect::<Vec<_>>()).to_string();
    let mut st = conn.prepare_cached(ATTENDEES_OF_MANY)?;
    let mut by_meeting: std::collections::HashMap<i64, Vec<AttendeeRow>> =
        std::collections::HashMap::new();
    let rows = st.query_map([ids], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            AttendeeRow {
                address: r.get(1)?,
                upn: r.get(2)?,
                object_id: r.get(3)?,
                display_name: r.get(4)?,
            },
        ))
    })?;
    for row in rows {
        let (id, a) = row?;
        by_meeting.entry(id).or_default().push(a);
    }
    for m in meetings {
        m.attendees = by_meeting.remove(&m.id).unwrap_or_default();
    }
    Ok(())
}

/// The queries of this table that the use cases call, answered by each backend
/// (`store::sqlite::meetings` for SQLite).
pub trait MeetingTable {}
