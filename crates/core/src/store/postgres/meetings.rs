//! PostgreSQL statements of the `meetings` and `meeting_attendees` tables, behind
//! [`MeetingTable`]. The same answers as `store::sqlite::meetings`: states are stored by their
//! names, NOCASE comparisons and orders use the lower-case twins (`address_key`, `upn_key`,
//! `programs.code_key`), and a page's cursor is the one SQLite hands out ([`page`]).
//!
//! Must not: decide the lifecycle (which state may follow which), which `crate::meetings` owns.

use super::exec::typed_params;
use super::exec::{changed, get, Exec, PgRow};
use super::Row;
use crate::store::integration::InvitationMode;
use crate::store::meetings::{
    self as shared, meeting_columns, AttendeeRow, Confirmed, InvitationsSent, MeetingFilter,
    MeetingRow, MeetingState, MeetingTable, NewCreated, NewRow,
};
use crate::store::page::{self, Arg, Page, PageError};
use crate::store::StoreError;
use tokio_postgres::types::Type;

impl<T: Exec> MeetingTable for T {
    fn meetings_insert_created(
        &self,
        rows: &[NewCreated<'_>],
    ) -> Result<Vec<Option<i64>>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        fn col<'r, V>(rows: &'r [NewCreated<'_>], f: impl Fn(&'r NewCreated<'_>) -> V) -> Vec<V> {
            rows.iter().map(f).collect()
        }
        let external_id = col(rows, |r| r.row.external_id);
        let program_id = col(rows, |r| r.row.program_id);
        let batch_id = col(rows, |r| r.row.batch_id);
        let subject = col(rows, |r| r.row.subject);
        let time_zone = col(rows, |r| r.row.time_zone);
        let created_by = col(rows, |r| r.row.created_by);
        let now = col(rows, |r| r.row.now);
        let graph_id = col(rows, |r| r.confirmed.graph_id);
        let join_web_url = col(rows, |r| r.confirmed.join_web_url);
        let join_meeting_id = col(rows, |r| r.confirmed.join_meeting_id);
        let passcode = col(rows, |r| r.confirmed.passcode);
        let organizer = col(rows, |r| r.confirmed.organizer_upn);
        let start = col(rows, |r| r.confirmed.start_utc);
        let end = col(rows, |r| r.confirmed.end_utc);
        let event_id = col(rows, |r| r.event_id);
        // Straight in the confirmed state, as a pending row marked created would read; a taken
        // externalId inserts nothing (its row is the caller's to confirm).
        let inserted = self.query(
            "INSERT INTO meetings (external_id, program_id, batch_id, subject, start_utc, end_utc,
                 time_zone, state, created_by, created_at, updated_at, graph_id, join_web_url,
                 join_meeting_id, passcode, organizer_upn, invitations, event_id,
                 invitations_sent_at)
             SELECT t.external_id, t.program_id, t.batch_id, t.subject, t.start_utc, t.end_utc,
                 t.time_zone, 'created', t.created_by, t.now, t.now, t.graph_id, t.join_web_url,
                 t.join_meeting_id, t.passcode, t.organizer_upn,
                 CASE WHEN t.event_id IS NULL THEN 'none' ELSE 'calendar' END, t.event_id,
                 CASE WHEN t.event_id IS NULL THEN NULL ELSE t.now END
             FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[],
                 $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                 $12::text[], $13::text[], $14::text[], $15::text[])
                 WITH ORDINALITY
                 AS t (external_id, program_id, batch_id, subject, start_utc, end_utc,
                       time_zone, created_by, now, graph_id, join_web_url, join_meeting_id,
                       passcode, organizer_upn, event_id, n)
             ORDER BY t.n
             ON CONFLICT (external_id) DO NOTHING
             RETURNING id, external_id",
            &[
                &external_id,
                &program_id,
                &batch_id,
                &subject,
                &start,
                &end,
                &time_zone,
                &created_by,
                &now,
                &graph_id,
                &join_web_url,
                &join_meeting_id,
                &passcode,
                &organizer,
                &event_id,
            ],
        )?;
        let mut ids: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
        for r in &inserted {
            ids.insert(get::<String>(self, r, 1)?, get::<i64>(self, r, 0)?);
        }
        let out: Vec<Option<i64>> = rows
            .iter()
            .map(|r| ids.get(r.row.external_id).copied())
            .collect();
        // Every new row's attendees in one statement.
        let (mut meeting, mut address, mut upn, mut object_id, mut display_name) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (r, id) in rows.iter().zip(&out) {
            let Some(id) = id else { continue };
            for a in &r.attendees {
                meeting.push(*id);
                address.push(a.address.as_str());
                upn.push(a.upn.as_deref());
                object_id.push(a.object_id.as_deref());
                display_name.push(a.display_name.as_deref());
            }
        }
        if !meeting.is_empty() {
            self.execute(
                "INSERT INTO meeting_attendees (meeting_id, address, upn, object_id, display_name)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[])",
                &[&meeting, &address, &upn, &object_id, &display_name],
            )?;
        }
        Ok(out)
    }

    fn meeting_insert_pending(
        &self,
        row: &NewRow<'_>,
        attendees: &[AttendeeRow],
    ) -> Result<Option<i64>, StoreError> {
        // A taken externalId inserts nothing (no error, so the transaction stays usable, as
        // SQLite's does); any other constraint the row or its attendees break answers `None`
        // too, as SQLite's constraint errors do.
        let inserted = self.query_opt(
            "INSERT INTO meetings (external_id, program_id, batch_id, subject, start_utc, end_utc,
                time_zone, state, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $9)
             ON CONFLICT (external_id) DO NOTHING
             RETURNING id",
            &[
                &row.external_id,
                &row.program_id,
                &row.batch_id,
                &row.subject,
                &row.start_utc,
                &row.end_utc,
                &row.time_zone,
                &row.created_by,
                &row.now,
            ],
        );
        let id: i64 = match constraint_is_none(inserted)? {
            Some(Some(r)) => get(self, &r, 0)?,
            Some(None) | None => return Ok(None),
        };
        // A new meeting has no attendees to replace yet.
        match constraint_is_none(insert_attendees(self, id, attendees))? {
            Some(()) => Ok(Some(id)),
            None => Ok(None),
        }
    }

    fn meeting_set_invitations(&self, id: i64, mode: InvitationMode) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE meetings SET invitations = $2 WHERE id = $1",
            &[&id, &mode.as_str()],
        )
        .map(changed)
    }

    fn meeting_record_invitations(
        &self,
        id: i64,
        sent: InvitationsSent<'_>,
        at: &str,
    ) -> Result<usize, StoreError> {
        match sent {
            InvitationsSent::Sent { event_id } => self.execute(
                "UPDATE meetings SET event_id = $2, invitations_sent_at = $3 WHERE id = $1",
                &[&id, &event_id, &at],
            ),
            InvitationsSent::Updated => self.execute(
                "UPDATE meetings SET invitations_updated_at = $2 WHERE id = $1",
                &[&id, &at],
            ),
            InvitationsSent::Cancelled => self.execute(
                "UPDATE meetings SET invitations_cancelled_at = $2 WHERE id = $1",
                &[&id, &at],
            ),
        }
        .map(changed)
    }

    fn meeting_replace_attendees(
        &self,
        meeting_id: i64,
        attendees: &[AttendeeRow],
    ) -> Result<(), StoreError> {
        replace_attendees(self, meeting_id, attendees)
    }

    fn meeting_attendees(&self, meeting_id: i64) -> Result<Vec<AttendeeRow>, StoreError> {
        let rows = self.query(
            "SELECT address, upn, object_id, display_name FROM meeting_attendees
             WHERE meeting_id = $1 ORDER BY address_key",
            &[&meeting_id],
        )?;
        rows.iter()
            .map(|row| shared::attendee_from(&PgRow { db: self, row }, 0))
            .collect()
    }

    fn meeting_by_id(&self, id: i64) -> Result<Option<MeetingRow>, StoreError> {
        let row = self.query_opt(&format!("{SELECT} WHERE m.id = $1"), &[&id])?;
        row.map(|r| with_attendees(self, &r)).transpose()
    }

    fn meeting_by_external_id(&self, external_id: &str) -> Result<Option<MeetingRow>, StoreError> {
        let row = self.query_opt(
            &format!("{SELECT} WHERE m.external_id = $1"),
            &[&external_id],
        )?;
        row.map(|r| with_attendees(self, &r)).transpose()
    }

    fn meetings_recent_with_errors(&self, limit: u32) -> Result<Vec<MeetingRow>, StoreError> {
        // SQLite leaves the order of equal `updated_at` unspecified; here the newer row (higher
        // id) comes first.
        let rows = self.query(
            &format!(
                "{SELECT} WHERE m.last_error IS NOT NULL
                 ORDER BY m.updated_at DESC, m.id DESC LIMIT $1"
            ),
            &[&i64::from(limit)],
        )?;
        rows.iter().map(|r| from_row(self, r)).collect()
    }

    fn meeting_mark_created(
        &self,
        id: i64,
        c: &Confirmed<'_>,
        now: &str,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE meetings SET state = 'created', graph_id = $2, join_web_url = $3,
                join_meeting_id = $4, passcode = $5, organizer_upn = $6, start_utc = $7,
                end_utc = $8, last_error = NULL, updated_at = $9
             WHERE id = $1",
            &[
                &id,
                &c.graph_id,
                &c.join_web_url,
                &c.join_meeting_id,
                &c.passcode,
                &c.organizer_upn,
                &c.start_utc,
                &c.end_utc,
                &now,
            ],
        )
        .map(changed)
    }

    fn meeting_set_state(
        &self,
        id: i64,
        state: MeetingState,
        last_error: Option<&str>,
        now: &str,
    ) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE meetings SET state = $2, last_error = $3, updated_at = $4 WHERE id = $1",
            &[&id, &state.stored_name(), &last_error, &now],
        )
        .map(changed)
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
        self.execute(
            "UPDATE meetings SET start_utc = $2, end_utc = $3, time_zone = $4, subject = $5,
                sequence = sequence + 1, last_error = NULL, updated_at = $6 WHERE id = $1",
            &[&id, &start_utc, &end_utc, &time_zone, &subject, &now],
        )
        .map(changed)
    }

    fn meeting_mark_cancelled(&self, id: i64, now: &str) -> Result<usize, StoreError> {
        self.execute(
            "UPDATE meetings SET state = 'cancelled', sequence = sequence + 1, last_error = NULL,
                updated_at = $2 WHERE id = $1",
            &[&id, &now],
        )
        .map(changed)
    }

    fn meetings_page(&self, f: &MeetingFilter) -> Result<Page<MeetingRow>, PageError> {
        // A program filter's id is read first and bound as a value: the planner then plans with
        // that program's own row count (a program of 25,000 meetings seeks its start order on
        // meetings_program_start) instead of the average one an init plan gets (which sorted all
        // 25,000 rows: 50 ms; store_scale bench). A person's page too: their rows in that
        // program are then read through the meetings they are in, not through all of the
        // program's meetings.
        let mut program = None;
        if let Some(code) = &f.program_code {
            // Each statement of the page goes with its parameters' types, in one round trip
            // instead of two (a statement's types asked first, then its rows): the busy
            // participant's page spent more waiting on those than in the server.
            let key = nocase_key(code);
            let found = self.query_typed(
                "SELECT id FROM programs WHERE code_key = $1",
                &[(&key, Type::TEXT)],
            )?;
            match found.first() {
                Some(r) => program = Some(get::<i64>(self, r, 0)?),
                None => return Ok(shared::finish_page(Vec::new(), page::limit(f.limit))),
            }
        }
        let query = list_query(f, program)?;
        let rows = self.query_typed(&query.sql, &typed_params(&query.args))?;
        let rows = rows
            .iter()
            .map(|r| from_row(self, r))
            .collect::<Result<Vec<_>, _>>()?;
        let mut page = shared::finish_page(rows, query.limit);
        attach_attendees(self, &mut page.items)?;
        Ok(page)
    }
}

/// `Ok(None)` for an integrity-constraint violation (SQLSTATE class 23: unique, foreign key,
/// check, not null), as SQLite's `meeting_insert_pending` answers any constraint error.
fn constraint_is_none<V>(r: Result<V, StoreError>) -> Result<Option<V>, StoreError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::Pg {
            sqlstate: Some(code),
            ..
        }) if code.starts_with("23") => Ok(None),
        Err(e) => Err(e),
    }
}

/// A NOCASE key as the schema's `lower(x)` under "C" computes it: ASCII letters folded only.
fn nocase_key(s: &str) -> String {
    s.to_ascii_lowercase()
}

const SELECT: &str = concat!(
    "SELECT ",
    meeting_columns!(),
    "
    FROM meetings m JOIN programs p ON p.id = m.program_id"
);

fn from_row(db: &impl Exec, row: &Row) -> Result<MeetingRow, StoreError> {
    shared::meeting_from(&PgRow { db, row })
}

fn with_attendees<T: Exec>(db: &T, r: &Row) -> Result<MeetingRow, StoreError> {
    let mut m = from_row(db, r)?;
    m.attendees = db.meeting_attendees(m.id)?;
    Ok(m)
}

/// Replaces the attendee list: one DELETE, one INSERT of every attendee (the server copies the
/// meeting's start into each row).
fn replace_attendees(
    db: &impl Exec,
    meeting_id: i64,
    attendees: &[AttendeeRow],
) -> Result<(), StoreError> {
    db.execute(
        "DELETE FROM meeting_attendees WHERE meeting_id = $1",
        &[&meeting_id],
    )?;
    insert_attendees(db, meeting_id, attendees)
}

/// Adds `attendees` to meeting `meeting_id` in one statement.
fn insert_attendees(
    db: &impl Exec,
    meeting_id: i64,
    attendees: &[AttendeeRow],
) -> Result<(), StoreError> {
    if attendees.is_empty() {
        return Ok(());
    }
    let address: Vec<&str> = attendees.iter().map(|a| a.address.as_str()).collect();
    let upn: Vec<Option<&str>> = attendees.iter().map(|a| a.upn.as_deref()).collect();
    let object_id: Vec<Option<&str>> = attendees.iter().map(|a| a.object_id.as_deref()).collect();
    let display_name: Vec<Option<&str>> = attendees
        .iter()
        .map(|a| a.display_name.as_deref())
        .collect();
    db.execute(
        "INSERT INTO meeting_attendees (meeting_id, address, upn, object_id, display_name)
         SELECT $1, t.address, t.upn, t.object_id, t.display_name
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
             AS t (address, upn, object_id, display_name)",
        &[&meeting_id, &address, &upn, &object_id, &display_name],
    )?;
    Ok(())
}

/// A page's statement with its `$n` arguments.
struct PgPageQuery {
    sql: String,
    args: Vec<Arg>,
    limit: u32,
}

impl PgPageQuery {
    /// Binds one more argument; returns its number, for `$N` in the SQL.
    fn arg(&mut self, value: Arg) -> usize {
        self.args.push(value);
        self.args.len()
    }

    /// Binds a shared builder's argument; returns its placeholder (`$N`).
    fn bind(&mut self, a: Arg) -> String {
        format!("${}", self.arg(a))
    }

    fn push(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }
}

/// The statement [`MeetingTable::meetings_page`] runs for `f`: SQLite's (`list_query` there),
/// with the NOCASE comparisons on the lower-case twins. The page's attendees are read after it.
/// `program` is the id of `f.program_code`, read beforehand.
fn list_query(f: &MeetingFilter, program: Option<i64>) -> Result<PgPageQuery, PageError> {
    let after = shared::page_after(f)?;
    let mut query = PgPageQuery {
        sql: format!("{SELECT} WHERE true"),
        args: Vec::new(),
        limit: page::limit(f.limit),
    };
    if let Some(person) = &f.participant {
        person_page(&mut query, f, program, person, after);
        return Ok(query);
    }
    if let Some(id) = program {
        let n = query.arg(Arg::Int(id));
        query.push(&format!(" AND m.program_id = ${n}"));
    }
    let c = shared::filter_constraints(f, after, ("m.state", "m.start_utc", "m.id"), &mut |a| {
        query.bind(a)
    });
    query.push(&c.meeting);
    query.push(&c.range);
    let n = query.arg(Arg::Int(i64::from(query.limit) + 1));
    query.push(&format!(" ORDER BY m.start_utc, m.id LIMIT ${n}"));
    Ok(query)
}

/// The meetings of one person: their attendee rows by address, and by UPN where it differs
/// (`meeting_attendees_address_start`, `meeting_attendees_upn_start`, both in
/// `(start_utc, meeting_id)` order), one page of them; the outer query reads those meetings.
/// The other filters are checked on the way (program and state on the joined meeting; the
/// program by its id `program`, read beforehand, as in [`list_query`]).
fn person_page(
    query: &mut PgPageQuery,
    f: &MeetingFilter,
    program: Option<i64>,
    person: &str,
    after: Option<(String, i64)>,
) {
    let who = query.arg(Arg::Text(nocase_key(person)));
    let mut c = shared::filter_constraints(
        f,
        after,
        ("c.state", "a.start_utc", "a.meeting_id"),
        &mut |a| query.bind(a),
    );
    if let Some(id) = program {
        let n = query.arg(Arg::Int(id));
        c.meeting
            .insert_str(0, &format!(" AND c.program_id = ${n}"));
    }
    // What is checked on the meeting is a scalar subquery, so a SubPlan per attendee row read:
    // the person's rows are read in page order and each one's meeting looked up by id until a
    // page passes (the cost follows the person's rows). As a join, the planner read every
    // meeting of the program in that state instead (20,000 for the big program: 33 ms, 98
    // under RLS; store_scale bench).
    let on_meeting = if c.meeting.is_empty() {
        String::new()
    } else {
        format!(
            " AND (SELECT true FROM meetings c WHERE c.id = a.meeting_id{})",
            c.meeting
        )
    };
    let on_attendee = &c.range;
    // Each branch is its own ordered, limited read of its index: PostgreSQL stops after one
    // page of rows that pass the filters and the attendees' policy, where one UNION over both
    // would read every attendee row of the person (and check its policy) before sorting. The
    // page is among the first `limit + 1` meetings of either branch.
    let n = query.arg(Arg::Int(i64::from(query.limit) + 1));
    let branch = |by: &str| {
        format!(
            "(SELECT DISTINCT a.start_utc, a.meeting_id FROM meeting_attendees a
              WHERE {by}{on_attendee}{on_meeting}
              ORDER BY 1, 2 LIMIT ${n})"
        )
    };
    let by_address = branch(&format!("a.address_key = ${who}"));
    let by_upn = branch(&format!(
        "a.upn_key = ${who} AND a.upn_key <> a.address_key"
    ));
    query.push(&format!(
        " AND m.id IN (SELECT s.meeting_id FROM ({by_address} UNION {by_upn} ORDER BY 1, 2 LIMIT ${n}) s)
         ORDER BY m.start_utc, m.id"
    ));
}

/// Fills in the attendees of many meetings with one query (not one per meeting).
fn attach_attendees(db: &impl Exec, meetings: &mut [MeetingRow]) -> Result<(), StoreError> {
    if meetings.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = meetings.iter().map(|m| m.id).collect();
    let rows = db.query_typed(
        "SELECT meeting_id, address, upn, object_id, display_name FROM meeting_attendees
         WHERE meeting_id = ANY($1) ORDER BY meeting_id, address_key",
        &[(&ids, Type::INT8_ARRAY)],
    )?;
    let rows = rows
        .iter()
        .map(|row| {
            let r = PgRow { db, row };
            Ok((get(db, row, 0)?, shared::attendee_from(&r, 1)?))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    shared::attach_attendees(meetings, rows);
    Ok(())
}
