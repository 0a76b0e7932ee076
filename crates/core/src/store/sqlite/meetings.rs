//! SQLite statements of the `meetings` and `meeting_attendees` tables, behind
//! [`MeetingTable`]; the one place that knows how a [`MeetingState`] is stored here.
//!
//! Must not: decide the lifecycle (which state may follow which), which `crate::meetings` owns.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{err, page_err};
use crate::store::integration::InvitationMode;
use crate::store::meetings::{
    self as shared, meeting_columns, AttendeeRow, Confirmed, InvitationsSent, MeetingFilter,
    MeetingRow, MeetingState, MeetingTable, NewRow,
};
use crate::store::page::{Page, PageError, PageQuery};
use crate::store::StoreError;

impl MeetingTable for Connection {
    fn meeting_insert_pending(
        &self,
        row: &NewRow<'_>,
        attendees: &[AttendeeRow],
    ) -> Result<Option<i64>, StoreError> {
        match insert_pending(self, row, attendees) {
            Ok(id) => Ok(Some(id)),
            Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) => {
                Ok(None)
            }
            Err(e) => Err(err(self, e)),
        }
    }

    fn meeting_set_invitations(&self, id: i64, mode: InvitationMode) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE meetings SET invitations = ?2 WHERE id = ?1",
            params![id, mode.as_str()],
        )
        .map_err(|e| err(self, e))
    }

    fn meeting_record_invitations(
        &self,
        id: i64,
        sent: InvitationsSent<'_>,
        at: &str,
    ) -> Result<usize, StoreError> {
        let r = match sent {
            InvitationsSent::Sent { event_id } => self.execute(
                "UPDATE meetings SET event_id = ?2, invitations_sent_at = ?3 WHERE id = ?1",
                params![id, event_id, at],
            ),
            InvitationsSent::Updated => self.execute(
                "UPDATE meetings SET invitations_updated_at = ?2 WHERE id = ?1",
                params![id, at],
            ),
            InvitationsSent::Cancelled => self.execute(
                "UPDATE meetings SET invitations_cancelled_at = ?2 WHERE id = ?1",
                params![id, at],
            ),
        };
        r.map_err(|e| err(self, e))
    }

    fn meeting_replace_attendees(
        &self,
        meeting_id: i64,
        attendees: &[AttendeeRow],
    ) -> Result<(), StoreError> {
        replace_attendees(self, meeting_id, attendees).map_err(|e| err(self, e))
    }

    fn meeting_attendees(&self, meeting_id: i64) -> Result<Vec<AttendeeRow>, StoreError> {
        attendees(self, meeting_id).map_err(|e| err(self, e))
    }

    fn meeting_by_id(&self, id: i64) -> Result<Option<MeetingRow>, StoreError> {
        by_id(self, id).map_err(|e| err(self, e))
    }

    fn meeting_by_external_id(&self, external_id: &str) -> Result<Option<MeetingRow>, StoreError> {
        by_external_id(self, external_id).map_err(|e| err(self, e))
    }

    fn meetings_recent_with_errors(&self, limit: u32) -> Result<Vec<MeetingRow>, StoreError> {
        recent_with_errors(self, limit).map_err(|e| err(self, e))
    }

    fn meeting_mark_created(
        &self,
        id: i64,
        confirmed: &Confirmed<'_>,
        now: &str,
    ) -> Result<usize, StoreError> {
        mark_created(self, id, confirmed, now).map_err(|e| err(self, e))
    }

    fn meeting_set_state(
        &self,
        id: i64,
        state: MeetingState,
        last_error: Option<&str>,
        now: &str,
    ) -> Result<usize, StoreError> {
        set_state(self, id, state, last_error, now).map_err(|e| err(self, e))
    }

    fn meeting_reschedule(
        &self,
        id: i64,
        start_utc: &str,
        end_utc: &str,
        time_zone: &str,
        subject: &str,
        now: &str,
    ) -> Result<usize, StoreError> {
        reschedule(self, id, start_utc, end_utc, time_zone, subject, now).map_err(|e| err(self, e))
    }

    fn meeting_mark_cancelled(&self, id: i64, now: &str) -> Result<usize, StoreError> {
        mark_cancelled(self, id, now).map_err(|e| err(self, e))
    }

    fn meetings_page(&self, f: &MeetingFilter) -> Result<Page<MeetingRow>, PageError> {
        list_page(self, f).map_err(|e| page_err(self, e))
    }
}

const SELECT: &str = concat!(
    "SELECT ",
    meeting_columns!(),
    "
    FROM meetings m JOIN programs p ON p.id = m.program_id"
);

fn from_row(r: &Row<'_>) -> rusqlite::Result<MeetingRow> {
    shared::meeting_from(r)
}

fn with_attendees(conn: &Connection, mut m: MeetingRow) -> rusqlite::Result<MeetingRow> {
    m.attendees = attendees(conn, m.id)?;
    Ok(m)
}

/// Inserts a pending row with its attendees; returns its id.
fn insert_pending(
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
fn replace_attendees(
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
fn attendees(conn: &Connection, meeting_id: i64) -> rusqlite::Result<Vec<AttendeeRow>> {
    let mut st = conn.prepare_cached(
        "SELECT address, upn, object_id, display_name FROM meeting_attendees
         WHERE meeting_id = ?1 ORDER BY address",
    )?;
    let rows = st.query_map([meeting_id], |r| shared::attendee_from(r, 0))?;
    rows.collect()
}

/// By row id.
fn by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<MeetingRow>> {
    let m = conn
        .query_row(&format!("{SELECT} WHERE m.id = ?1"), [id], from_row)
        .optional()?;
    m.map(|m| with_attendees(conn, m)).transpose()
}

/// The meetings whose last Graph call failed, most recently changed first, at most `limit`
/// (what a diagnostics bundle reports). Without their attendees.
fn recent_with_errors(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<MeetingRow>> {
    let mut stmt = conn.prepare(&format!(
        "{SELECT} WHERE m.last_error IS NOT NULL ORDER BY m.updated_at DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], from_row)?;
    rows.collect()
}

/// By externalId.
fn by_external_id(conn: &Connection, external_id: &str) -> rusqlite::Result<Option<MeetingRow>> {
    let m = conn
        .query_row(
            &format!("{SELECT} WHERE m.external_id = ?1"),
            [external_id],
            from_row,
        )
        .optional()?;
    m.map(|m| with_attendees(conn, m)).transpose()
}

/// Marks a row created with what Graph confirmed.
fn mark_created(
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
fn set_state(
    conn: &Connection,
    id: i64,
    state: MeetingState,
    last_error: Option<&str>,
    now: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE meetings SET state = ?2, last_error = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, state.stored_name(), last_error, now],
    )
}

/// New times (and subject), bumping the SEQUENCE.
fn reschedule(
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
fn mark_cancelled(conn: &Connection, id: i64, now: &str) -> rusqlite::Result<usize> {
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
fn list_page(conn: &Connection, f: &MeetingFilter) -> Result<Page<MeetingRow>, PageError> {
    let query = list_query(f)?;
    let rows = query.rows(conn, from_row)?;
    let mut page = shared::finish_page(rows, query.limit);
    attach_attendees(conn, &mut page.items)?;
    Ok(page)
}

/// The statement [`MeetingTable::meetings_page`] runs for `f` (the attendees of the page's meetings are read by
/// [`ATTENDEES_OF_MANY`] after it).
pub fn list_query(f: &MeetingFilter) -> Result<PageQuery, PageError> {
    let after = shared::page_after(f)?;
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
    let c = shared::filter_constraints(f, after, ("m.state", "m.start_utc", "m.id"), &mut |a| {
        query.bind(a)
    });
    query.push(&c.meeting);
    query.push(&c.range);
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
    let c = shared::person_constraints(
        f,
        after,
        ("+c.program_id", "code", "+c.state"),
        str::to_string,
        &mut |a| query.bind(a),
    );
    let (join, on_meeting, on_attendee) = (c.person_join(), &c.meeting, &c.range);
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
    let rows = st
        .query_map([ids], |r| Ok((r.get(0)?, shared::attendee_from(r, 1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    shared::attach_attendees(meetings, rows);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// A store with program 1 and one pending meeting `ext-1`; returns the meeting's id.
    fn one_meeting(store: &Store) -> i64 {
        let c = store.conn();
        c.execute(
            "INSERT INTO programs (code, name, created_at, updated_at) VALUES ('eng', 'Eng', 't', 't')",
            [],
        )
        .expect("program");
        c.meeting_insert_pending(&new_row(), &[])
            .expect("insert")
            .expect("a new externalId")
    }

    fn new_row() -> NewRow<'static> {
        NewRow {
            external_id: "ext-1",
            program_id: 1,
            batch_id: None,
            subject: "Kick-off",
            start_utc: "2027-01-01T09:00:00Z",
            end_utc: "2027-01-01T10:00:00Z",
            time_zone: "UTC",
            created_by: "admin@x.example",
            now: "t",
        }
    }

    #[test]
    fn every_state_is_stored_and_read_back_as_itself() {
        let store = Store::open_in_memory().expect("open in memory");
        let id = one_meeting(&store);
        let c = store.conn();
        for state in MeetingState::ALL {
            c.meeting_set_state(id, state, None, "t")
                .expect("set state");
            let row = c.meeting_by_id(id).expect("read").expect("row");
            assert_eq!(row.state, state, "a stored state reads back unchanged");
            let page = c
                .meetings_page(&MeetingFilter {
                    state: Some(state.as_str().to_string()),
                    ..Default::default()
                })
                .expect("page");
            assert_eq!(
                page.items.len(),
                1,
                "filtering by the state's name finds the meeting in {state}"
            );
        }
        let none = c
            .meetings_page(&MeetingFilter {
                state: Some("no-such-state".into()),
                ..Default::default()
            })
            .expect("an unknown state name is not an error");
        assert!(
            none.items.is_empty(),
            "an unknown state name matches nothing"
        );
    }

    #[test]
    fn a_second_insert_of_an_external_id_is_refused_as_taken_not_as_a_store_failure() {
        let store = Store::open_in_memory().expect("open in memory");
        one_meeting(&store);
        assert_eq!(
            store
                .conn()
                .meeting_insert_pending(&new_row(), &[])
                .expect("not an error"),
            None,
            "the use case turns a taken externalId into a conflict the person can act on"
        );
    }
}
