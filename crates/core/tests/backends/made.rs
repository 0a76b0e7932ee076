//! The set-wide writes a batch run makes when Graph has answered (issue 20): meetings recorded
//! straight in their confirmed state, items marked done with their meetings, audit rows
//! appended together. On both backends each must leave exactly what the one-row methods leave
//! (SQLite runs the trait's one-by-one default, PostgreSQL its few set-wide statements), and
//! both backends must agree.

use std::cell::RefCell;

use tsched_core::store::audit_log::{AuditEntry, AuditFilter};
use tsched_core::store::batches::{ItemMade, ItemState};
use tsched_core::store::integration::InvitationMode;
use tsched_core::store::meetings::{
    AttendeeRow, Confirmed, InvitationsSent, MeetingRow, MeetingState, NewCreated, NewRow,
};
use tsched_core::store::Store;

use crate::support::{self, write};

const T0: &str = "2027-01-01T00:00:00Z";
const T1: &str = "2027-01-01T00:01:00Z";

fn people(n: usize) -> Vec<AttendeeRow> {
    (0..n)
        .map(|i| AttendeeRow {
            address: format!("p{i}@x.example"),
            upn: Some(format!("P{i}@x.example")),
            object_id: Some(format!("oid-{i}")),
            display_name: None,
        })
        .collect()
}

fn new_row(external_id: &str, program_id: i64, batch_id: Option<i64>) -> NewRow<'_> {
    NewRow {
        external_id,
        program_id,
        batch_id,
        subject: "Kick-off",
        start_utc: "2027-03-01T09:00:00Z",
        end_utc: "2027-03-01T10:00:00Z",
        time_zone: "Europe/Paris",
        created_by: "cory@example.com",
        now: T1,
    }
}

fn confirmed(graph_id: &str) -> Confirmed<'_> {
    Confirmed {
        graph_id,
        join_web_url: Some("https://teams.example/join"),
        join_meeting_id: None,
        passcode: None,
        organizer_upn: Some("host@x.example"),
        start_utc: "2027-03-01T09:00:00Z",
        end_utc: "2027-03-01T10:00:00Z",
    }
}

/// What a meeting row says apart from its identity (id, externalId, Graph id).
fn content(m: &MeetingRow) -> String {
    format!(
        "{} {:?} {} {} {} {} {:?} {:?} {:?} {:?} {:?} {} {} {} {:?} {:?} {:?} {:?}",
        m.program_code,
        m.batch_id.is_some(),
        m.subject,
        m.start_utc,
        m.end_utc,
        m.time_zone,
        m.state,
        m.join_web_url,
        m.organizer_upn,
        m.last_error,
        m.join_meeting_id,
        m.created_by,
        m.created_at,
        m.updated_at,
        m.invitations,
        m.invitations_sent_at,
        m.event_id.is_some(),
        m.attendees,
    )
}

#[test]
fn meetings_made_together_read_like_meetings_recorded_one_by_one() {
    let seen: RefCell<Vec<String>> = RefCell::new(Vec::new());
    support::each_backend(|backend, store: &mut Store| {
        let eng = write(backend, store, |tx| {
            tx.program_insert("eng", "Engineering", "", &[])
        });
        let attendees = people(3);
        // One by one, as a single meeting is recorded: a plain one and a calendar one.
        write(backend, store, |tx| {
            let a = tx
                .meeting_insert_pending(&new_row("one-plain", eng, None), &attendees)?
                .expect("inserted");
            tx.meeting_mark_created(a, &confirmed("g-one-plain"), T1)?;
            let b = tx
                .meeting_insert_pending(&new_row("one-cal", eng, None), &attendees)?
                .expect("inserted");
            tx.meeting_mark_created(b, &confirmed("g-one-cal"), T1)?;
            tx.meeting_set_invitations(b, InvitationMode::Calendar)?;
            tx.meeting_record_invitations(b, InvitationsSent::Sent { event_id: "ev-1" }, T1)?;
            Ok(())
        });
        // Together: the same two, plus one whose externalId is taken and one with nobody.
        let made =
            |ext: &'static str, graph: &'static str, ev: Option<&'static str>, n| NewCreated {
                row: new_row(ext, eng, None),
                attendees: people(n),
                confirmed: confirmed(graph),
                event_id: ev,
            };
        let ids = write(backend, store, |tx| {
            assert_eq!(tx.meetings_insert_created(&[])?, vec![], "{backend}");
            tx.meetings_insert_created(&[
                made("set-plain", "g-set-plain", None, 3),
                made("one-plain", "g-other", None, 3),
                made("set-cal", "g-set-cal", Some("ev-2"), 3),
                made("set-alone", "g-set-alone", None, 0),
            ])
        });
        assert!(
            ids[0].is_some() && ids[2].is_some() && ids[3].is_some(),
            "{backend}: {ids:?}"
        );
        assert_eq!(
            ids[1], None,
            "{backend}: a taken externalId inserts nothing"
        );
        let t = store.tables();
        let get = |ext: &str| {
            t.meeting_by_external_id(ext)
                .expect("read")
                .unwrap_or_else(|| panic!("{backend}: {ext} recorded"))
        };
        let (one_plain, one_cal) = (get("one-plain"), get("one-cal"));
        let (set_plain, set_cal, alone) = (get("set-plain"), get("set-cal"), get("set-alone"));
        assert_eq!(
            Some(set_plain.id),
            ids[0],
            "{backend}: ids in the given order"
        );
        assert_eq!(Some(set_cal.id), ids[2], "{backend}");
        assert_eq!(set_plain.state, MeetingState::Created, "{backend}");
        assert_eq!(
            set_plain.graph_id.as_deref(),
            Some("g-set-plain"),
            "{backend}"
        );
        assert_eq!(content(&set_plain), content(&one_plain), "{backend}: plain");
        assert_eq!(set_cal.event_id.as_deref(), Some("ev-2"), "{backend}");
        assert_eq!(content(&set_cal), content(&one_cal), "{backend}: calendar");
        assert_eq!(
            one_plain.graph_id.as_deref(),
            Some("g-one-plain"),
            "{backend}: untouched"
        );
        assert!(alone.attendees.is_empty(), "{backend}");
        seen.borrow_mut().push(format!(
            "{}\n{}\n{}",
            content(&set_plain),
            content(&set_cal),
            content(&alone)
        ));
    });
    let seen = seen.into_inner();
    assert_eq!(seen[0], seen[1], "SQLite and PostgreSQL agree");
}

#[test]
fn items_marked_made_together_and_audit_rows_appended_together() {
    let seen: RefCell<Vec<String>> = RefCell::new(Vec::new());
    support::each_backend(|backend, store: &mut Store| {
        let eng = write(backend, store, |tx| {
            tx.program_insert("eng", "Engineering", "", &[])
        });
        let (batch, meetings) = write(backend, store, |tx| {
            let batch = tx.batch_insert("u", "u.csv", "sha", 4, &["eng".into()], "cory", T0)?;
            for line in 2..6 {
                tx.batch_item_insert(batch, line, &format!("u-{line}"), "{}", T0)?;
                tx.batch_item_mark_in_flight(batch, line, T0)?;
            }
            let mut meetings = Vec::new();
            for ext in ["u-2", "u-4", "u-5"] {
                let id = tx
                    .meeting_insert_pending(&new_row(ext, eng, Some(batch)), &[])?
                    .expect("inserted");
                meetings.push(id);
            }
            Ok((batch, meetings))
        });
        let changed = write(backend, store, |tx| {
            assert_eq!(tx.batch_items_mark_made(batch, &[], T1)?, 0, "{backend}");
            tx.batch_items_mark_made(
                batch,
                &[
                    ItemMade {
                        line: 2,
                        graph_id: "g-2",
                        join_web_url: "https://join/2",
                        created_now: true,
                        meeting_id: meetings[0],
                    },
                    ItemMade {
                        line: 4,
                        graph_id: "g-4",
                        join_web_url: "",
                        created_now: false,
                        meeting_id: meetings[1],
                    },
                    // No such line: nothing changes for it.
                    ItemMade {
                        line: 9,
                        graph_id: "g-9",
                        join_web_url: "https://join/9",
                        created_now: true,
                        meeting_id: meetings[2],
                    },
                ],
                T1,
            )
        });
        assert_eq!(changed, 2, "{backend}: two items exist");
        let items = store.tables().batch_items(batch, None).expect("items");
        let summary: Vec<String> = items
            .iter()
            .map(|i| {
                format!(
                    "{} {:?} {:?} {:?} {:?} {}",
                    i.line, i.state, i.graph_id, i.join_web_url, i.created_now, i.updated_at
                )
            })
            .collect();
        assert_eq!(items[0].state, ItemState::Done, "{backend}");
        assert_eq!(
            items[1].state,
            ItemState::InFlight,
            "{backend}: line 3 untouched"
        );
        assert_eq!(items[2].state, ItemState::Done, "{backend}");
        assert_eq!(items[2].created_now, Some(false), "{backend}");
        assert_eq!(
            items[3].state,
            ItemState::InFlight,
            "{backend}: line 5 untouched"
        );
        // Each done item links its meeting: the items page of the meeting's batch shows it as
        // the one-row method would (checked through the link's foreign key: a bad id fails).
        let bad = store.write(|tx| {
            tx.batch_items_mark_made(
                batch,
                &[ItemMade {
                    line: 3,
                    graph_id: "g-3",
                    join_web_url: "",
                    created_now: true,
                    meeting_id: meetings[2] + 1000,
                }],
                T1,
            )
        });
        assert!(bad.is_err(), "{backend}: a link to no meeting is refused");
        assert_eq!(
            store.tables().batch_items(batch, None).expect("items")[1].state,
            ItemState::InFlight,
            "{backend}: and nothing of it is kept"
        );

        // Audit rows together, in order, stamped like single ones.
        write(backend, store, |tx| {
            tx.audit_append_all(&[])?;
            let entry = |target: &'static str, program: Option<&'static str>| AuditEntry {
                operator: "cory@example.com",
                action: "meeting.create",
                target,
                program_code: program,
                after: Some(serde_json::json!({ "target": target })),
                ..Default::default()
            };
            tx.audit_append_all(&[
                entry("meeting:u-2", Some("eng")),
                entry("meeting:u-4", None),
                entry("meeting:u-5", Some("eng")),
            ])
        });
        let rows = store
            .tables()
            .audit_list(&AuditFilter::default())
            .expect("audit");
        let audit: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{} {} {:?} {:?}",
                    r.action, r.target, r.program_code, r.after
                )
            })
            .collect();
        assert_eq!(rows.len(), 3, "{backend}: {audit:?}");
        assert_eq!(
            rows[0].target, "meeting:u-5",
            "{backend}: newest (last given) first"
        );
        assert_eq!(rows[2].target, "meeting:u-2", "{backend}");
        assert!(
            rows[0].id > rows[1].id && rows[1].id > rows[2].id,
            "{backend}: ids in order"
        );
        assert_eq!(rows[1].program_code, None, "{backend}");
        seen.borrow_mut()
            .push(format!("{}\n{}", summary.join("\n"), audit.join("\n")));
    });
    let seen = seen.into_inner();
    assert_eq!(seen[0], seen[1], "SQLite and PostgreSQL agree");
}

#[test]
fn attempts_start_together_only_for_queued_items_of_a_batch_not_cancelled() {
    let seen: RefCell<Vec<String>> = RefCell::new(Vec::new());
    support::each_backend(|backend, store: &mut Store| {
        let batch = write(backend, store, |tx| {
            let batch = tx.batch_insert("u", "u.csv", "sha", 4, &["eng".into()], "cory", T0)?;
            for line in 2..7 {
                tx.batch_item_insert(batch, line, &format!("u-{line}"), "{}", T0)?;
            }
            // Line 3 failed, line 4 done: neither starts again.
            tx.batch_item_mark_in_flight(batch, 3, T0)?;
            tx.batch_item_mark_failed(batch, 3, "BadRequest", "no", T0)?;
            tx.batch_item_mark_in_flight(batch, 4, T0)?;
            tx.batch_item_mark_done(batch, 4, "g-4", "", true, T0)?;
            Ok(batch)
        });
        let t = store.tables();
        assert_eq!(
            t.batch_items_mark_in_flight(batch, &[], T1).expect("none"),
            Vec::<u64>::new()
        );
        let marked = t
            .batch_items_mark_in_flight(batch, &[6, 3, 2, 4, 9], T1)
            .expect("mark");
        assert_eq!(
            marked,
            vec![6, 2],
            "{backend}: the queued ones, in the order given"
        );
        let items = t.batch_items(batch, None).expect("items");
        let summary: Vec<String> = items
            .iter()
            .map(|i| format!("{} {:?} {} {}", i.line, i.state, i.attempts, i.updated_at))
            .collect();
        assert_eq!(items[0].state, ItemState::InFlight, "{backend}");
        assert_eq!(items[0].attempts, 1, "{backend}");
        assert_eq!(
            items[3].state,
            ItemState::Queued,
            "{backend}: line 5 not asked"
        );
        write(backend, store, |tx| {
            tx.batch_set_state(
                batch,
                tsched_core::store::batches::BatchState::Cancelled,
                None,
                true,
                T1,
            )
        });
        assert_eq!(
            store
                .tables()
                .batch_items_mark_in_flight(batch, &[5], T1)
                .expect("mark"),
            Vec::<u64>::new(),
            "{backend}: nothing starts in a cancelled batch"
        );
        seen.borrow_mut().push(summary.join("\n"));
    });
    let seen = seen.into_inner();
    assert_eq!(seen[0], seen[1], "SQLite and PostgreSQL agree");
}
