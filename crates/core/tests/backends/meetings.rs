//! `MeetingTable` on both backends: a pending meeting with its attendees, read back by id and
//! externalId; the state changes; the taken-externalId and other constraint answers; the
//! recent failures; and the meetings list with every filter, NOCASE matching and cursors across
//! pages. Each test also checks that both backends gave exactly the same answers (rows, ids,
//! cursors).

use std::cell::RefCell;

use tsched_core::store::meetings::{
    AttendeeRow, Confirmed, MeetingFilter, MeetingRow, MeetingState, NewRow,
};
use tsched_core::store::page::{self, Page, PageError};
use tsched_core::store::prelude::*;
use tsched_core::store::{Store, StoreError};

use crate::support::{self, write};

const T0: &str = "2027-01-01T00:00:00Z";
const T1: &str = "2027-01-01T00:01:00Z";
const T2: &str = "2027-01-01T00:02:00Z";
const T3: &str = "2027-01-01T00:03:00Z";

fn attendee(address: &str, upn: Option<&str>) -> AttendeeRow {
    AttendeeRow {
        address: address.to_string(),
        upn: upn.map(str::to_string),
        object_id: upn.map(|u| format!("oid-{u}")),
        display_name: None,
    }
}

fn new_row<'a>(external_id: &'a str, program_id: i64, start: &'a str, end: &'a str) -> NewRow<'a> {
    NewRow {
        external_id,
        program_id,
        batch_id: None,
        subject: "Kick-off",
        start_utc: start,
        end_utc: end,
        time_zone: "Europe/Paris",
        created_by: "alice@example.com",
        now: T0,
    }
}

/// Inserts a pending meeting and panics unless it was recorded.
fn insert(backend: &str, store: &mut Store, row: &NewRow<'_>, attendees: &[AttendeeRow]) -> i64 {
    write(backend, store, |tx| {
        tx.meeting_insert_pending(row, attendees)
    })
    .unwrap_or_else(|| panic!("{backend}: {} was not recorded", row.external_id))
}

/// Programs `eng` and `Ops`; returns their ids.
fn programs(backend: &str, store: &mut Store) -> (i64, i64) {
    write(backend, store, |tx| {
        Ok((
            tx.program_insert("eng", "Engineering", "", &[])?,
            tx.program_insert("Ops", "Operations", "", &[])?,
        ))
    })
}

/// Keeps what the first backend answered and checks the second answered the same.
struct Same<T>(RefCell<Option<T>>);

impl<T: PartialEq + std::fmt::Debug> Same<T> {
    fn new() -> Self {
        Self(RefCell::new(None))
    }

    fn check(&self, backend: &str, answers: T) {
        let mut first = self.0.borrow_mut();
        match first.as_ref() {
            None => *first = Some(answers),
            Some(sqlite) => assert_eq!(&answers, sqlite, "{backend}: answers differ from SQLite's"),
        }
    }
}

#[test]
fn meetings_insert_read_back_and_change_state() {
    let same = Same::new();
    support::each_backend(|backend, store| {
        let (eng, _) = programs(backend, store);
        // NOCASE order: 'A' folds to 'a', which sorts after '_' (SQLite's BINARY would not).
        let people = [
            attendee("b@x.example", Some("B@x.example")),
            attendee("A@x.example", None),
            attendee("_u@x.example", Some("u@x.example")),
        ];
        let id = insert(
            backend,
            store,
            &new_row("ext-1", eng, "2027-03-01T09:00:00Z", "2027-03-01T10:00:00Z"),
            &people,
        );
        let t = store.tables();
        let row = t.meeting_by_id(id).expect("by id").expect("found");
        assert_eq!(row.external_id, "ext-1", "{backend}");
        assert_eq!(row.program_id, eng, "{backend}");
        assert_eq!(row.program_code, "eng", "{backend}");
        assert_eq!(row.batch_id, None, "{backend}");
        assert_eq!(row.state, MeetingState::Pending, "{backend}");
        assert_eq!(row.sequence, 0, "{backend}");
        assert_eq!(row.created_at, T0, "{backend}");
        assert_eq!(row.updated_at, T0, "{backend}");
        assert_eq!(row.created_by, "alice@example.com", "{backend}");
        assert_eq!(row.graph_id, None, "{backend}");
        let addresses: Vec<&str> = row.attendees.iter().map(|a| a.address.as_str()).collect();
        assert_eq!(
            addresses,
            ["_u@x.example", "A@x.example", "b@x.example"],
            "{backend}: attendees by address, case-insensitively"
        );
        assert_eq!(
            t.meeting_attendees(id).expect("attendees"),
            row.attendees,
            "{backend}: the same list alone"
        );
        assert_eq!(
            t.meeting_by_external_id("ext-1").expect("by ext"),
            Some(row.clone()),
            "{backend}: by externalId"
        );
        assert_eq!(
            t.meeting_by_external_id("EXT-1").expect("by ext"),
            None,
            "{backend}: externalId is case-sensitive"
        );
        assert_eq!(t.meeting_by_id(id + 100).expect("by id"), None, "{backend}");
        assert_eq!(
            t.meeting_attendees(id + 100).expect("none"),
            vec![],
            "{backend}"
        );

        let mut seen: Vec<MeetingRow> = vec![row];

        // Graph confirmed it.
        let n = write(backend, store, |tx| {
            tx.meeting_mark_created(
                id,
                &Confirmed {
                    graph_id: "g-1",
                    join_web_url: Some("https://teams.example/j/1"),
                    join_meeting_id: Some("123 456"),
                    passcode: Some("pw"),
                    organizer_upn: Some("host@x.example"),
                    start_utc: "2027-03-01T09:00:00Z",
                    end_utc: "2027-03-01T10:00:00Z",
                },
                T1,
            )
        });
        assert_eq!(n, 1, "{backend}: one row marked created");
        let row = store
            .tables()
            .meeting_by_id(id)
            .expect("read")
            .expect("row");
        assert_eq!(row.state, MeetingState::Created, "{backend}");
        assert_eq!(row.graph_id.as_deref(), Some("g-1"), "{backend}");
        assert_eq!(row.passcode.as_deref(), Some("pw"), "{backend}");
        assert_eq!(
            row.organizer_upn.as_deref(),
            Some("host@x.example"),
            "{backend}"
        );
        assert_eq!(row.updated_at, T1, "{backend}");
        seen.push(row);

        // Every state is stored and read back as itself.
        for state in MeetingState::ALL {
            let n = write(backend, store, |tx| {
                tx.meeting_set_state(id, state, Some("boom"), T2)
            });
            assert_eq!(n, 1, "{backend}: set {state}");
            let row = store
                .tables()
                .meeting_by_id(id)
                .expect("read")
                .expect("row");
            assert_eq!(row.state, state, "{backend}");
            assert_eq!(row.last_error.as_deref(), Some("boom"), "{backend}");
        }

        // A reschedule clears the error, bumps the sequence and moves the attendees' copy.
        let n = write(backend, store, |tx| {
            tx.meeting_reschedule(
                id,
                "2027-04-01T09:00:00Z",
                "2027-04-01T11:00:00Z",
                "UTC",
                "Moved",
                T3,
            )
        });
        assert_eq!(n, 1, "{backend}: rescheduled");
        let row = store
            .tables()
            .meeting_by_id(id)
            .expect("read")
            .expect("row");
        assert_eq!(
            (
                row.start_utc.as_str(),
                row.end_utc.as_str(),
                row.time_zone.as_str()
            ),
            ("2027-04-01T09:00:00Z", "2027-04-01T11:00:00Z", "UTC"),
            "{backend}"
        );
        assert_eq!(row.subject, "Moved", "{backend}");
        assert_eq!(row.sequence, 1, "{backend}");
        assert_eq!(row.last_error, None, "{backend}");
        assert_eq!(row.updated_at, T3, "{backend}");
        seen.push(row);
        let moved = store
            .tables()
            .meetings_page(&MeetingFilter {
                participant: Some("B@X.EXAMPLE".into()),
                from: Some("2027-04-01T00:00:00Z".into()),
                ..Default::default()
            })
            .expect("page");
        assert_eq!(
            moved.items.len(),
            1,
            "{backend}: a participant's list follows the new start"
        );

        // Cancelled.
        write(backend, store, |tx| {
            tx.meeting_set_state(id, MeetingState::Cancelling, Some("later"), T3)
        });
        let n = write(backend, store, |tx| tx.meeting_mark_cancelled(id, T3));
        assert_eq!(n, 1, "{backend}: cancelled");
        let row = store
            .tables()
            .meeting_by_id(id)
            .expect("read")
            .expect("row");
        assert_eq!(row.state, MeetingState::Cancelled, "{backend}");
        assert_eq!(row.sequence, 2, "{backend}");
        assert_eq!(row.last_error, None, "{backend}");
        seen.push(row);

        // Nothing to change: 0 rows.
        let none = write(backend, store, |tx| {
            Ok([
                tx.meeting_set_state(999, MeetingState::Failed, None, T3)?,
                tx.meeting_mark_cancelled(999, T3)?,
                tx.meeting_reschedule(999, T0, T1, "UTC", "x", T3)?,
                tx.meeting_mark_created(
                    999,
                    &Confirmed {
                        graph_id: "g-9",
                        join_web_url: None,
                        join_meeting_id: None,
                        passcode: None,
                        organizer_upn: None,
                        start_utc: T0,
                        end_utc: T1,
                    },
                    T3,
                )?,
            ])
        });
        assert_eq!(
            none,
            [0, 0, 0, 0],
            "{backend}: an unknown id changes nothing"
        );

        // The attendee list is replaced whole.
        write(backend, store, |tx| {
            tx.meeting_replace_attendees(id, &[attendee("Zoe@x.example", Some("zoe@x.example"))])
        });
        let list = store.tables().meeting_attendees(id).expect("attendees");
        assert_eq!(
            list,
            vec![attendee("Zoe@x.example", Some("zoe@x.example"))],
            "{backend}"
        );
        write(backend, store, |tx| tx.meeting_replace_attendees(id, &[]));
        assert_eq!(
            store.tables().meeting_attendees(id).expect("a"),
            vec![],
            "{backend}"
        );
        same.check(backend, seen);
    });
}

#[test]
fn meetings_constraint_conflicts() {
    let same = Same::new();
    support::each_backend(|backend, store| {
        let (eng, ops) = programs(backend, store);
        let first = insert(
            backend,
            store,
            &new_row("ext-1", eng, T1, T2),
            &[attendee("a@x.example", None)],
        );

        // A taken externalId is `None`, and the write goes on (nothing failed).
        let (taken, next) = write(backend, store, |tx| {
            let taken = tx.meeting_insert_pending(&new_row("ext-1", ops, T2, T3), &[])?;
            let next = tx.meeting_insert_pending(&new_row("ext-2", ops, T2, T3), &[])?;
            Ok((taken, next))
        });
        assert_eq!(
            taken, None,
            "{backend}: a taken externalId is refused as taken"
        );
        let next = next.expect("a new externalId is recorded after a refused one");
        let kept = store
            .tables()
            .meeting_by_external_id("ext-1")
            .expect("read");
        assert_eq!(
            kept.as_ref().map(|m| (m.id, m.program_id)),
            Some((first, eng)),
            "{backend}: the first row is unchanged"
        );

        // Other constraints are refused the same way (the caller turns `None` into a conflict
        // and its write is rolled back).
        let refused = |store: &mut Store, row: NewRow<'_>, people: Vec<AttendeeRow>| {
            let r = store.write(|tx| -> Result<(), tsched_core::Error> {
                match tx.meeting_insert_pending(&row, &people)? {
                    None => Err(tsched_core::Error::Conflict("refused".into())),
                    Some(id) => panic!("{backend}: recorded as {id}"),
                }
            });
            assert!(
                matches!(r, Err(tsched_core::Error::Conflict(_))),
                "{backend}: refused as a constraint, not a store failure: {r:?}"
            );
            assert_eq!(
                store
                    .tables()
                    .meeting_by_external_id(row.external_id)
                    .expect("read"),
                None,
                "{backend}: nothing left behind"
            );
        };
        refused(store, new_row("ext-3", 999, T1, T2), vec![]);
        refused(
            store,
            new_row("ext-4", eng, T1, T2),
            vec![
                attendee("dup@x.example", None),
                attendee("DUP@x.example", None),
            ],
        );

        // A Graph id belongs to one meeting: a second is a store error.
        let confirmed = |g: &'static str| Confirmed {
            graph_id: g,
            join_web_url: None,
            join_meeting_id: None,
            passcode: None,
            organizer_upn: None,
            start_utc: T1,
            end_utc: T2,
        };
        write(backend, store, |tx| {
            tx.meeting_mark_created(first, &confirmed("g-1"), T1)
        });
        let dup = store.write(|tx| tx.meeting_mark_created(next, &confirmed("g-1"), T1));
        assert!(
            dup.is_err(),
            "{backend}: a second meeting with Graph id g-1"
        );
        let next_row = store
            .tables()
            .meeting_by_id(next)
            .expect("read")
            .expect("row");
        assert_eq!(next_row.graph_id, None, "{backend}: and nothing changed");
        // Ids are not compared: PostgreSQL spends an identity value on every refused insert.
        same.check(
            backend,
            (
                next_row.external_id,
                next_row.program_code,
                next_row.graph_id,
            ),
        );
    });
}

#[test]
fn meetings_recent_with_errors_newest_first() {
    let same = Same::new();
    support::each_backend(|backend, store| {
        let (eng, _) = programs(backend, store);
        let mut ids = Vec::new();
        for n in 1..=4 {
            let ext = format!("ext-{n}");
            ids.push(insert(
                backend,
                store,
                &new_row(&ext, eng, T1, T2),
                &[attendee("a@x.example", None)],
            ));
        }
        write(backend, store, |tx| {
            tx.meeting_set_state(ids[0], MeetingState::Failed, Some("first"), T2)?;
            tx.meeting_set_state(ids[1], MeetingState::Pending, Some("second"), T3)?;
            tx.meeting_set_state(ids[2], MeetingState::Created, None, "2027-01-01T00:09:00Z")?;
            tx.meeting_set_state(ids[3], MeetingState::Failed, Some("third"), T1)?;
            Ok(())
        });
        let t = store.tables();
        let all = t.meetings_recent_with_errors(10).expect("recent");
        let errors: Vec<(&str, Option<&str>)> = all
            .iter()
            .map(|m| (m.external_id.as_str(), m.last_error.as_deref()))
            .collect();
        assert_eq!(
            errors,
            [
                ("ext-2", Some("second")),
                ("ext-1", Some("first")),
                ("ext-4", Some("third"))
            ],
            "{backend}: only failures, most recently changed first"
        );
        assert!(
            all.iter().all(|m| m.attendees.is_empty()),
            "{backend}: without their attendees"
        );
        let two = t.meetings_recent_with_errors(2).expect("recent");
        assert_eq!(two.len(), 2, "{backend}: at most the limit");
        same.check(backend, (all, two));
    });
}

/// The externalIds of every page of `f` (pages of `limit`), and the cursors handed out.
fn walk(
    backend: &str,
    t: &dyn Tables,
    f: &MeetingFilter,
    limit: u32,
) -> (Vec<Vec<String>>, Vec<String>) {
    let mut pages = Vec::new();
    let mut cursors = Vec::new();
    let mut after = None;
    loop {
        let p: Page<MeetingRow> = t
            .meetings_page(&MeetingFilter {
                limit,
                after: after.clone(),
                ..f.clone()
            })
            .unwrap_or_else(|e| panic!("{backend}: page of {f:?}: {e}"));
        assert!(
            p.items.len() <= limit as usize,
            "{backend}: a page holds at most its limit"
        );
        pages.push(p.items.iter().map(|m| m.external_id.clone()).collect());
        match p.next_cursor {
            Some(c) => {
                cursors.push(c.clone());
                after = Some(c);
            }
            None => return (pages, cursors),
        }
    }
}

fn flat(pages: &[Vec<String>]) -> Vec<String> {
    pages.concat()
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn meetings_page_filters_nocase_and_cursors() {
    let same = Same::new();
    support::each_backend(|backend, store| {
        let (eng, ops) = programs(backend, store);
        let day = |d: u32, h: u32| format!("2027-05-{d:02}T{h:02}:00:00Z");
        // (externalId, program, start, attendees, state)
        let ana = || attendee("ana@x.example", Some("Ana.Lima@x.example"));
        let bob = || attendee("Bob@X.example", Some("bob@x.example"));
        let emile = || attendee("émile@x.example", None);
        let plan: Vec<(&str, i64, String, Vec<AttendeeRow>, MeetingState)> = vec![
            (
                "m1",
                eng,
                day(3, 9),
                vec![ana(), bob()],
                MeetingState::Created,
            ),
            ("m2", ops, day(1, 9), vec![bob()], MeetingState::Pending),
            ("m3", eng, day(2, 9), vec![ana()], MeetingState::Failed),
            (
                "m4",
                eng,
                day(2, 9),
                vec![emile(), bob()],
                MeetingState::Created,
            ),
            (
                "m5",
                ops,
                day(4, 9),
                vec![ana(), emile()],
                MeetingState::Cancelled,
            ),
            ("m6", eng, day(1, 8), vec![], MeetingState::Created),
            (
                "m7",
                eng,
                day(5, 9),
                vec![attendee("ANA@x.example", None)],
                MeetingState::Created,
            ),
            (
                "m8",
                ops,
                day(2, 9),
                vec![bob(), ana()],
                MeetingState::Created,
            ),
        ];
        for (ext, program, start, people, state) in &plan {
            let end = start.replace(":00:00Z", ":30:00Z");
            let id = insert(backend, store, &new_row(ext, *program, start, &end), people);
            write(backend, store, |tx| {
                tx.meeting_set_state(id, *state, None, T1)
            });
        }
        let t = store.tables();
        let mut answers = Vec::new();
        let mut check = |f: MeetingFilter, limit: u32, want: &[&str]| {
            let (pages, cursors) = walk(backend, t, &f, limit);
            assert_eq!(flat(&pages), ids(want), "{backend}: {f:?} by {limit}");
            answers.push((pages, cursors));
        };
        let all = ["m6", "m2", "m3", "m4", "m8", "m1", "m5", "m7"];
        // By start, then id (m3, m4, m8 start together), a page boundary inside the tie.
        for limit in [1, 2, 3, 8, 100] {
            check(MeetingFilter::default(), limit, &all);
        }
        let f = |p: Option<&str>, s: Option<&str>| MeetingFilter {
            program_code: p.map(str::to_string),
            state: s.map(str::to_string),
            ..Default::default()
        };
        check(f(Some("ENG"), None), 2, &["m6", "m3", "m4", "m1", "m7"]);
        check(f(Some("ops"), None), 2, &["m2", "m8", "m5"]);
        check(f(Some("nope"), None), 2, &[]);
        check(f(None, Some("created")), 2, &["m6", "m4", "m8", "m1", "m7"]);
        check(
            f(Some("Eng"), Some("created")),
            2,
            &["m6", "m4", "m1", "m7"],
        );
        check(f(None, Some("no-such-state")), 2, &[]);
        check(f(None, Some("Created")), 2, &[]);
        check(
            MeetingFilter {
                from: Some(day(2, 9)),
                to: Some(day(4, 9)),
                ..Default::default()
            },
            2,
            &["m3", "m4", "m8", "m1"],
        );
        // A person: by address (any case) and by UPN where it differs, each meeting once.
        let who = |p: &str| MeetingFilter {
            participant: Some(p.to_string()),
            ..Default::default()
        };
        check(who("ana@x.example"), 2, &["m3", "m8", "m1", "m5", "m7"]);
        check(who("ANA.LIMA@X.EXAMPLE"), 2, &["m3", "m8", "m1", "m5"]);
        check(who("bob@x.example"), 1, &["m2", "m4", "m8", "m1"]);
        check(who("BOB@x.EXAMPLE"), 3, &["m2", "m4", "m8", "m1"]);
        // NOCASE folds ASCII only.
        check(who("émile@x.example"), 2, &["m4", "m5"]);
        check(who("ÉMILE@x.example"), 2, &[]);
        check(who("nobody@x.example"), 2, &[]);
        check(
            MeetingFilter {
                participant: Some("Ana@X.example".into()),
                program_code: Some("ENG".into()),
                state: Some("created".into()),
                from: Some(day(2, 0)),
                to: Some(day(6, 0)),
                ..Default::default()
            },
            1,
            &["m1", "m7"],
        );
        check(
            MeetingFilter {
                participant: Some("bob@x.example".into()),
                program_code: Some("ops".into()),
                ..Default::default()
            },
            1,
            &["m2", "m8"],
        );

        // A page carries its meetings' attendees, by address.
        let p = t
            .meetings_page(&MeetingFilter {
                limit: 3,
                ..Default::default()
            })
            .expect("page");
        let people: Vec<(String, Vec<String>)> = p
            .items
            .iter()
            .map(|m| {
                (
                    m.external_id.clone(),
                    m.attendees.iter().map(|a| a.address.clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            people,
            vec![
                ("m6".to_string(), vec![]),
                ("m2".to_string(), vec!["Bob@X.example".to_string()]),
                ("m3".to_string(), vec!["ana@x.example".to_string()]),
            ],
            "{backend}"
        );
        let m4 = t.meeting_by_external_id("m4").expect("read").expect("m4");
        let full = t
            .meetings_page(&MeetingFilter {
                participant: Some("émile@x.example".into()),
                ..Default::default()
            })
            .expect("page");
        assert_eq!(
            full.items[0], m4,
            "{backend}: a page's row is the whole row"
        );

        // Cursors: another list's, a made-up one.
        for bad in [
            page::encode("audit", &("2027-05-01T00:00:00Z", 1_i64)),
            "not-a-cursor!".to_string(),
        ] {
            let e = t
                .meetings_page(&MeetingFilter {
                    after: Some(bad),
                    ..Default::default()
                })
                .expect_err("refused");
            assert!(matches!(e, PageError::BadCursor(_)), "{backend}: {e:?}");
        }
        // A cursor made by hand from a key resumes after that key.
        let resume = t
            .meetings_page(&MeetingFilter {
                after: Some(page::encode("meetings", &(day(2, 9), 3_i64))),
                ..Default::default()
            })
            .expect("page");
        let rest: Vec<&str> = resume
            .items
            .iter()
            .map(|m| m.external_id.as_str())
            .collect();
        assert_eq!(rest, ["m4", "m8", "m1", "m5", "m7"], "{backend}");
        answers.push((vec![rest.iter().map(|s| s.to_string()).collect()], vec![]));
        same.check(backend, (answers, full.items));
    });
}

/// What only PostgreSQL has: a coordinator's own session, under row-level security. They record
/// and change their program's meetings (RETURNING, the attendees' second statement and the
/// server-kept start copy pass the policies), see nothing of another program, are refused a
/// meeting in it, and an externalId taken by a meeting they cannot see still answers `None`
/// without failing their write.
#[test]
fn a_coordinator_schedules_their_program_only() {
    use tsched_core::roles::Role;

    const ADMIN: &str = "admin@x.test";
    let pg = support::postgres_store();
    let b = "postgres";
    let mut owner = pg.store;
    pg.cluster.create_login(ADMIN, "admin-pw-1");
    write(b, &mut owner, |tx| {
        let id = tx.operator_insert(ADMIN, None, "Admin")?;
        tx.operator_grant(id, Role::GlobalAdmin, None)
    });
    let mut admin = support::connect_as(&pg.cluster, ADMIN, "admin-pw-1");
    let (eng, ops) = programs(b, &mut admin);
    write(b, &mut admin, |tx| {
        let id = tx.operator_insert("coord@x.test", None, "C")?;
        tx.operator_grant(id, Role::Coordinator, Some(eng))
    });
    pg.cluster.superuser_sql(
        "postgres",
        "ALTER ROLE \"coord@x.test\" PASSWORD 'coord-pw-1';",
    );
    let theirs = insert(
        b,
        &mut admin,
        &new_row("ops-1", ops, T1, T2),
        &[attendee("ana@x.example", None)],
    );
    let mut coord = support::connect_as(&pg.cluster, "coord@x.test", "coord-pw-1");

    let (mine, taken, second) = write(b, &mut coord, |tx| {
        let mine = tx.meeting_insert_pending(
            &new_row("eng-1", eng, T2, T3),
            &[
                attendee("Ana@x.example", Some("ana.lima@x.example")),
                attendee("bob@x.example", None),
            ],
        )?;
        let taken = tx.meeting_insert_pending(&new_row("ops-1", eng, T2, T3), &[])?;
        let second = tx.meeting_insert_pending(&new_row("eng-2", eng, T3, T3), &[])?;
        Ok((mine, taken, second))
    });
    let mine = mine.expect("recorded");
    assert_eq!(
        taken, None,
        "{b}: taken by a meeting the coordinator cannot see"
    );
    assert!(second.is_some(), "{b}: and the write went on");

    let t = coord.tables();
    let row = t.meeting_by_id(mine).expect("read").expect("their meeting");
    assert_eq!(row.attendees.len(), 2, "{b}: with its attendees");
    assert_eq!(t.meeting_by_id(theirs).expect("read"), None, "{b}");
    assert_eq!(
        t.meeting_by_external_id("ops-1").expect("read"),
        None,
        "{b}"
    );
    assert_eq!(t.meeting_attendees(theirs).expect("read"), vec![], "{b}");
    let listed = |t: &dyn Tables, f: MeetingFilter| -> Vec<String> {
        t.meetings_page(&f)
            .expect("page")
            .items
            .into_iter()
            .map(|m| m.external_id)
            .collect()
    };
    assert_eq!(
        listed(t, MeetingFilter::default()),
        ["eng-1", "eng-2"],
        "{b}: only their program's meetings"
    );
    let ana = || MeetingFilter {
        participant: Some("ANA@x.example".into()),
        ..Default::default()
    };
    assert_eq!(
        listed(t, ana()),
        ["eng-1"],
        "{b}: a person, in their program"
    );
    assert_eq!(
        listed(admin.tables(), ana()),
        ["ops-1", "eng-1"],
        "{b}: the admin sees both"
    );

    let refused = coord.write(|tx| tx.meeting_insert_pending(&new_row("ops-2", ops, T1, T2), &[]));
    assert!(
        matches!(refused, Err(StoreError::PgDenied { .. })),
        "{b}: another program's meeting is refused by the database: {refused:?}"
    );

    let changed = write(b, &mut coord, |tx| {
        Ok([
            tx.meeting_mark_created(
                mine,
                &Confirmed {
                    graph_id: "g-1",
                    join_web_url: None,
                    join_meeting_id: None,
                    passcode: None,
                    organizer_upn: None,
                    start_utc: T2,
                    end_utc: T3,
                },
                T3,
            )?,
            tx.meeting_set_state(mine, MeetingState::Cancelling, Some("x"), T3)?,
            tx.meeting_reschedule(
                mine,
                "2027-02-01T00:00:00Z",
                "2027-02-01T01:00:00Z",
                "UTC",
                "s",
                T3,
            )?,
            tx.meeting_mark_cancelled(mine, T3)?,
            tx.meeting_set_state(theirs, MeetingState::Failed, Some("x"), T3)?,
            tx.meeting_mark_cancelled(theirs, T3)?,
        ])
    });
    assert_eq!(
        changed,
        [1, 1, 1, 1, 0, 0],
        "{b}: their meeting changes; another program's matches nothing"
    );
    write(b, &mut coord, |tx| {
        tx.meeting_replace_attendees(mine, &[attendee("zoe@x.example", None)])
    });
    let t = coord.tables();
    assert_eq!(
        listed(
            t,
            MeetingFilter {
                participant: Some("zoe@x.example".into()),
                from: Some("2027-02-01T00:00:00Z".into()),
                ..Default::default()
            }
        ),
        ["eng-1"],
        "{b}: the new attendee, at the new start"
    );
    let theirs_row = admin
        .tables()
        .meeting_by_id(theirs)
        .expect("read")
        .expect("row");
    assert_eq!(
        (theirs_row.state, theirs_row.attendees.len()),
        (MeetingState::Pending, 1),
        "{b}: another program's meeting is untouched"
    );
}

/// A person found by address in some meetings, by UPN in others, by both in one: each meeting
/// once, in order, across pages of every size and with the other filters.
#[test]
fn meetings_page_person_by_address_and_upn_each_once() {
    let same = Same::new();
    support::each_backend(|backend, store| {
        let (eng, ops) = programs(backend, store);
        let lee = || attendee("lee@x.example", None);
        let alias = || attendee("l.chen@x.example", Some("LEE@x.example"));
        let other = || attendee("kim@x.example", Some("kim@x.example"));
        let plan = [
            ("p1", eng, "2027-06-01T09:00:00Z", vec![lee(), other()]),
            ("p2", ops, "2027-06-01T09:00:00Z", vec![alias()]),
            ("p3", eng, "2027-06-02T09:00:00Z", vec![lee(), alias()]),
            ("p4", eng, "2027-06-03T09:00:00Z", vec![alias(), other()]),
            ("p5", ops, "2027-06-03T09:00:00Z", vec![other()]),
            ("p6", ops, "2027-06-04T09:00:00Z", vec![lee()]),
            ("p7", eng, "2027-06-05T09:00:00Z", vec![alias()]),
        ];
        for (ext, program, start, people) in &plan {
            insert(
                backend,
                store,
                &new_row(ext, *program, start, start),
                people,
            );
        }
        let t = store.tables();
        let mut answers = Vec::new();
        let who = |p: &str, program: Option<&str>, from: Option<&str>| MeetingFilter {
            participant: Some(p.to_string()),
            program_code: program.map(str::to_string),
            from: from.map(str::to_string),
            ..Default::default()
        };
        let cases: [(MeetingFilter, &[&str]); 5] = [
            (
                who("Lee@X.example", None, None),
                &["p1", "p2", "p3", "p4", "p6", "p7"],
            ),
            (
                who("lee@x.example", Some("ENG"), None),
                &["p1", "p3", "p4", "p7"],
            ),
            (
                who("lee@x.example", None, Some("2027-06-02T09:00:00Z")),
                &["p3", "p4", "p6", "p7"],
            ),
            (
                who("L.CHEN@x.example", None, None),
                &["p2", "p3", "p4", "p7"],
            ),
            (who("kim@x.example", Some("ops"), None), &["p5"]),
        ];
        for (f, want) in cases {
            for limit in [1, 2, 3, 10] {
                let (pages, cursors) = walk(backend, t, &f, limit);
                assert_eq!(flat(&pages), ids(want), "{backend}: {f:?} by {limit}");
                answers.push((pages, cursors));
            }
        }
        same.check(backend, answers);
    });
}
