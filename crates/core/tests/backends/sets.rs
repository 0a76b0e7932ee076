//! The set-at-a-time store methods that storing and validating a batch use
//! (`batch_items_insert`, `batch_live_items`, `batch_meeting_programs`, `directory_get_many`,
//! `directory_put_many`), and `batch::run::create` over them: on both backends they answer
//! exactly what the one-row methods answer row by row, for no input, for repeated input and, on
//! PostgreSQL, under an operator's policies.

use std::collections::HashMap;

use tsched_core::store::batches::{ItemRow, ItemState};
use tsched_core::store::directory_cache::CacheRow;
use tsched_core::store::meetings::NewRow;
use tsched_core::store::prelude::*;
use tsched_core::store::{Store, StoreError};

use crate::support::{self, write};

const T0: &str = "2027-01-01T00:00:00Z";
const T1: &str = "2027-01-01T00:01:00Z";

fn batch(backend: &str, store: &mut Store, uid: &str, programs: &[&str]) -> i64 {
    let programs: Vec<String> = programs.iter().map(|p| p.to_string()).collect();
    write(backend, store, |tx| {
        tx.batch_insert(uid, "f.csv", "sha", 2, &programs, "alice@example.com", T0)
    })
}

/// A batch's items with the batch id left out, to compare two batches' items.
fn items_of(backend: &str, store: &Store, id: i64) -> Vec<ItemRow> {
    store
        .tables()
        .batch_items(id, None)
        .unwrap_or_else(|e| panic!("{backend}: items: {e}"))
        .into_iter()
        .map(|i| ItemRow { batch_id: 0, ..i })
        .collect()
}

/// What `batch_live_item` answers for each of `ids`, one call each.
fn live_one_by_one(t: &dyn Tables, ids: &[&str]) -> HashMap<String, (i64, u64)> {
    ids.iter()
        .filter_map(|id| {
            t.batch_live_item(id)
                .expect("live item")
                .map(|found| (id.to_string(), found))
        })
        .collect()
}

/// What `meeting_by_external_id` answers as `program_code` for each of `ids`, one call each.
fn programs_one_by_one(t: &dyn Tables, ids: &[&str]) -> HashMap<String, String> {
    ids.iter()
        .filter_map(|id| {
            t.meeting_by_external_id(id)
                .expect("meeting")
                .map(|m| (id.to_string(), m.program_code))
        })
        .collect()
}

#[test]
fn items_inserted_at_once_are_the_items_inserted_one_by_one() {
    support::each_backend(|backend, store| {
        let items: [(u64, &str, &str); 3] = [
            (2, "x-2", r#"{"s":"a"}"#),
            (3, "x-3", r#"{"s":"b"}"#),
            (7, "x-2", r#"{"s":"c"}"#),
        ];
        let one = batch(backend, store, "one-by-one", &["eng"]);
        write(backend, store, |tx| {
            for (line, ext, json) in items {
                tx.batch_item_insert(one, line, ext, json, T1)?;
            }
            Ok(())
        });
        let all = batch(backend, store, "at-once", &["eng"]);
        write(backend, store, |tx| tx.batch_items_insert(all, &items, T1));
        let expected = items_of(backend, store, one);
        assert_eq!(expected.len(), 3, "{backend}: three items one by one");
        assert_eq!(
            items_of(backend, store, all),
            expected,
            "{backend}: the same items, in line order, queued, stamped alike"
        );
        assert_eq!(
            store.tables().batch_counts(all).expect("counts"),
            store.tables().batch_counts(one).expect("counts"),
            "{backend}: the kept counts follow"
        );
        assert!(
            items_of(backend, store, all)
                .iter()
                .all(|i| i.state == ItemState::Queued),
            "{backend}: every item queued"
        );

        // No input: nothing, and no error.
        let empty = batch(backend, store, "empty", &["eng"]);
        write(backend, store, |tx| tx.batch_items_insert(empty, &[], T1));
        assert_eq!(
            items_of(backend, store, empty),
            [],
            "{backend}: no items for no input"
        );

        // A line twice breaks the key, as a second single insert of it does; nothing is kept.
        let twice = batch(backend, store, "twice", &["eng"]);
        let r = store
            .write(|tx| tx.batch_items_insert(twice, &[(2, "y-2", "{}"), (2, "y-3", "{}")], T1));
        assert!(r.is_err(), "{backend}: a line twice is refused");
        let r = store.write(|tx| {
            tx.batch_item_insert(twice, 2, "y-2", "{}", T1)?;
            tx.batch_item_insert(twice, 2, "y-3", "{}", T1)
        });
        assert!(r.is_err(), "{backend}: as one by one");
        assert_eq!(
            items_of(backend, store, twice),
            [],
            "{backend}: the failed write left nothing"
        );
    });
}

#[test]
fn live_items_of_many_ids_are_those_of_each_id() {
    support::each_backend(|backend, store| {
        let first = batch(backend, store, "first", &["eng"]);
        write(backend, store, |tx| {
            tx.batch_items_insert(
                first,
                &[
                    (2, "x-2", "{}"),
                    (3, "x-3", "{}"),
                    (4, "x-4", "{}"),
                    (5, "x-5", "{}"),
                ],
                T0,
            )
        });
        let second = batch(backend, store, "second", &["eng"]);
        write(backend, store, |tx| {
            tx.batch_items_insert(second, &[(8, "x-2", "{}"), (9, "x-4", "{}")], T0)
        });
        let cancelled = batch(backend, store, "cancelled", &["eng"]);
        write(backend, store, |tx| {
            tx.batch_item_insert(cancelled, 2, "x-6", "{}", T0)?;
            tx.batch_items_cancel_queued(cancelled, T1)
        });
        let t = store.tables();
        // x-3 done, x-4 failed in the first batch (queued in the second), x-5 in flight.
        assert_eq!(t.batch_item_mark_in_flight(first, 3, T1).expect("m"), 1);
        assert_eq!(
            t.batch_item_mark_done(first, 3, "g-3", "https://join/3", true, T1)
                .expect("m"),
            1
        );
        assert_eq!(t.batch_item_mark_in_flight(first, 4, T1).expect("m"), 1);
        assert_eq!(
            t.batch_item_mark_failed(first, 4, "BadRequest", "no", T1)
                .expect("m"),
            1
        );
        assert_eq!(t.batch_item_mark_in_flight(first, 5, T1).expect("m"), 1);

        let asked = ["x-2", "x-3", "x-4", "x-5", "x-6", "nope", "x-2", "x-4"];
        let got = t.batch_live_items(&asked).expect("live items");
        assert_eq!(
            got,
            live_one_by_one(t, &asked),
            "{backend}: what each id answers alone"
        );
        let expected: HashMap<String, (i64, u64)> = [
            ("x-2", (first, 2)),
            ("x-3", (first, 3)),
            ("x-4", (second, 9)),
            ("x-5", (first, 5)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        assert_eq!(
            got, expected,
            "{backend}: queued, done and in flight are live; failed and cancelled are not"
        );
        assert_eq!(
            t.batch_live_items(&[]).expect("none"),
            HashMap::new(),
            "{backend}: nothing for no input"
        );
    });
}

#[test]
fn meeting_programs_of_many_ids_are_those_of_each_id() {
    support::each_backend(|backend, store| {
        let (eng, ops) = write(backend, store, |tx| {
            Ok((
                tx.program_insert("eng", "Engineering", "", &[])?,
                tx.program_insert("Ops", "Operations", "", &[])?,
            ))
        });
        for (ext, program) in [("m-1", eng), ("m-2", ops), ("m-3", eng)] {
            let row = NewRow {
                external_id: ext,
                program_id: program,
                batch_id: None,
                subject: "Kick-off",
                start_utc: T0,
                end_utc: T1,
                time_zone: "UTC",
                created_by: "alice@example.com",
                now: T0,
            };
            let id = write(backend, store, |tx| tx.meeting_insert_pending(&row, &[]));
            assert!(id.is_some(), "{backend}: {ext} recorded");
        }
        let t = store.tables();
        let asked = ["m-1", "m-2", "nope", "m-1", "M-1"];
        let got = t.batch_meeting_programs(&asked).expect("programs");
        assert_eq!(
            got,
            programs_one_by_one(t, &asked),
            "{backend}: what each id answers alone"
        );
        let expected: HashMap<String, String> = [("m-1", "eng"), ("m-2", "Ops")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            got, expected,
            "{backend}: the program's code as stored; ids are exact"
        );
        assert_eq!(
            t.batch_meeting_programs(&[]).expect("none"),
            HashMap::new(),
            "{backend}: nothing for no input"
        );
    });
}

const PW: &str = "batch-sets-pw-1";
const COORD: &str = "coord@x.test";

#[test]
fn on_postgres_the_set_methods_answer_under_the_operators_policies() {
    let mut pg = support::postgres_store();
    for login in ["admin@x.test", COORD] {
        pg.cluster.create_login(login, PW);
    }
    pg.cluster.superuser_sql(
        "tsched",
        &format!(
            "SET SESSION AUTHORIZATION {owner};
             SELECT tsched.tsched_bootstrap('admin@x.test', 'Admin');
             RESET SESSION AUTHORIZATION;
             SET SESSION AUTHORIZATION \"admin@x.test\";
             SELECT tsched.tsched_operator_add('{COORD}', 'Coordinator');",
            owner = support::OWNER
        ),
    );
    let b = "postgres";
    let (eng, ops) = write(b, &mut pg.store, |tx| {
        Ok((
            tx.program_insert("eng", "Eng", "", &[])?,
            tx.program_insert("ops", "Ops", "", &[])?,
        ))
    });
    pg.cluster.superuser_sql(
        "tsched",
        &format!(
            "SET SESSION AUTHORIZATION \"admin@x.test\";
             SELECT tsched.tsched_role_grant('{COORD}', 'coordinator', 'eng');"
        ),
    );
    let theirs = batch(b, &mut pg.store, "theirs", &["ops"]);
    write(b, &mut pg.store, |tx| {
        tx.batch_items_insert(theirs, &[(2, "o-2", "{}"), (3, "e-2", "{}")], T0)
    });
    for (ext, program) in [("o-m", ops), ("e-m", eng)] {
        let row = NewRow {
            external_id: ext,
            program_id: program,
            batch_id: None,
            subject: "S",
            start_utc: T0,
            end_utc: T1,
            time_zone: "UTC",
            created_by: "admin@x.test",
            now: T0,
        };
        write(b, &mut pg.store, |tx| tx.meeting_insert_pending(&row, &[]));
    }

    let mut coord = support::connect_as(&pg.cluster, COORD, PW);
    let mine = write(b, &mut coord, |tx| {
        let id = tx.batch_insert("mine", "m.csv", "sha", 2, &["eng".into()], COORD, T0)?;
        tx.batch_items_insert(id, &[(2, "e-2", "{}"), (3, "e-3", "{}")], T0)?;
        Ok(id)
    });
    assert_eq!(
        items_of(b, &coord, mine).len(),
        2,
        "{b}: a coordinator stores the items of their program's batch"
    );
    let refused = |e: &StoreError| {
        matches!(e, StoreError::PgDenied { .. }) || e.to_string().contains("row-level security")
    };
    let e = coord
        .write(|tx| tx.batch_items_insert(theirs, &[(9, "o-9", "{}")], T0))
        .expect_err("items of another program's batch");
    assert!(refused(&e), "{b}: refused by the policy: {e:?}");
    let e = coord
        .write(|tx| tx.batch_item_insert(theirs, 9, "o-9", "{}", T0))
        .expect_err("as one by one");
    assert!(refused(&e), "{b}: refused one by one too: {e:?}");
    assert_eq!(
        items_of(b, &pg.store, theirs).len(),
        2,
        "{b}: the other batch is untouched"
    );

    let t = coord.tables();
    let asked = ["o-2", "e-2", "e-3", "o-m", "e-m", "nope"];
    assert_eq!(
        t.batch_live_items(&asked).expect("live"),
        live_one_by_one(t, &asked),
        "{b}: the coordinator's live items are what they find one by one"
    );
    assert_eq!(
        t.batch_meeting_programs(&asked).expect("programs"),
        programs_one_by_one(t, &asked),
        "{b}: and the meetings they find one by one"
    );
    let owner = pg.store.tables();
    assert_eq!(
        owner.batch_live_items(&asked).expect("live"),
        live_one_by_one(owner, &asked),
        "{b}: the owner's too"
    );
    assert_eq!(
        owner.batch_meeting_programs(&asked).expect("programs"),
        programs_one_by_one(owner, &asked),
        "{b}: the owner's too"
    );
}

/// A plan of ready rows `(line, program, externalId)`, as validation hands it to `create`.
fn plan_of(rows: &[(u64, &str, &str)]) -> tsched_core::batch::Plan {
    use tsched_core::batch::{MeetingRow, Plan, PlannedRow, RowStatus, Summary};
    let start = chrono::DateTime::parse_from_rfc3339(T0)
        .expect("t")
        .with_timezone(&chrono::Utc);
    Plan {
        summary: Summary {
            rows: rows.len() as u64,
            ready: rows.len() as u64,
            ..Default::default()
        },
        rows: rows
            .iter()
            .map(|(line, program, ext)| PlannedRow {
                line: *line,
                status: RowStatus::Ready,
                meeting: Some(MeetingRow {
                    line: *line,
                    program: program.to_string(),
                    subject: format!("S{line}"),
                    start_utc: start,
                    end_utc: start + chrono::Duration::minutes(30),
                    time_zone: "UTC".into(),
                    participants: vec!["a@x.example".into()],
                    attendees: Vec::new(),
                    external_ref: None,
                    external_id: ext.to_string(),
                }),
                problems: Vec::new(),
                program: program.to_string(),
                subject: format!("S{line}"),
            })
            .collect(),
        file_problems: Vec::new(),
    }
}

#[test]
fn storing_a_batch_writes_every_ready_row_and_names_the_first_row_already_scheduled() {
    use tsched_core::batch::{self, RunOptions};
    use tsched_core::{Actor, Error};
    support::each_backend(|backend, store| {
        write(backend, store, |tx| {
            tx.program_insert("eng", "Engineering", "", &[])?;
            tx.program_insert("ops", "Operations", "", &[])
        });
        let actor = Actor::local();
        let opts = RunOptions::default();
        let plan = plan_of(&[(2, "eng", "a"), (3, "ops", "b"), (4, "eng", "c")]);
        let first = batch::run::create(store, &actor, "f.csv", b"file", &plan, &opts)
            .unwrap_or_else(|e| panic!("{backend}: create: {e}"));
        let items = items_of(backend, store, first);
        assert_eq!(
            items
                .iter()
                .map(|i| (i.line, i.external_id.as_str(), i.state))
                .collect::<Vec<_>>(),
            [
                (2, "a", ItemState::Queued),
                (3, "b", ItemState::Queued),
                (4, "c", ItemState::Queued)
            ],
            "{backend}: one queued item per ready row"
        );
        let stored: Vec<batch::MeetingRow> = items
            .iter()
            .map(|i| serde_json::from_str(&i.row_json).expect("row json"))
            .collect();
        assert_eq!(
            stored,
            plan.ready().cloned().collect::<Vec<_>>(),
            "{backend}: each item keeps its row"
        );
        let b = store
            .tables()
            .batch_by_id(first)
            .expect("q")
            .expect("batch");
        assert_eq!(
            b.programs,
            ["eng", "ops"],
            "{backend}: the batch names its programs"
        );

        let batches = |store: &Store| store.tables().batches_list().expect("list").len();
        // Rows 3 and 4 of this plan are live in the first batch: line 3 is named, with the
        // line of the first batch that holds it.
        let again = plan_of(&[(2, "eng", "z"), (3, "eng", "c"), (4, "ops", "b")]);
        match batch::run::create(store, &actor, "g.csv", b"file2", &again, &opts) {
            Err(Error::Conflict(m)) => assert_eq!(
                m,
                format!("line 3: this meeting is already scheduled by batch {first} (line 4)"),
                "{backend}: the first such line in line order"
            ),
            other => panic!("{backend}: expected a conflict, got {other:?}"),
        }
        assert_eq!(batches(store), 1, "{backend}: nothing of it is stored");

        // The same externalId twice in one plan: the later line is taken by the earlier one.
        let twice = plan_of(&[(2, "eng", "y"), (3, "eng", "x"), (5, "eng", "x")]);
        match batch::run::create(store, &actor, "h.csv", b"file3", &twice, &opts) {
            Err(Error::Conflict(m)) => assert!(
                m.starts_with("line 5: this meeting is already scheduled by batch ")
                    && m.ends_with(" (line 3)")
                    && !m.contains(&format!("batch {first} ")),
                "{backend}: named by this batch's own earlier line: {m}"
            ),
            other => panic!("{backend}: expected a conflict, got {other:?}"),
        }
        assert_eq!(batches(store), 1, "{backend}: nothing of it is stored");

        // Once the first batch's items are no longer live, the rows are free again.
        write(backend, store, |tx| tx.batch_items_cancel_queued(first, T1));
        let id = batch::run::create(store, &actor, "g.csv", b"file2", &again, &opts)
            .unwrap_or_else(|e| panic!("{backend}: create: {e}"));
        assert_eq!(
            items_of(backend, store, id).len(),
            3,
            "{backend}: stored once nothing else holds its meetings"
        );
    });
}

fn cached(address: &str, class: &str, checked_at: &str) -> CacheRow {
    CacheRow {
        address: address.into(),
        class: class.into(),
        matched_by: (class == "member").then(|| "upn".into()),
        object_id: (class == "member").then(|| format!("oid-{address}")),
        upn: (class == "member").then(|| address.to_string()),
        display_name: None,
        checked_at: checked_at.into(),
    }
}

/// What `directory_get` answers for each of `addresses`, one call each.
fn directory_one_by_one(t: &dyn Tables, addresses: &[&str]) -> HashMap<String, CacheRow> {
    addresses
        .iter()
        .filter_map(|a| {
            t.directory_get(a)
                .expect("get")
                .map(|row| (a.to_string(), row))
        })
        .collect()
}

#[test]
fn directory_rows_of_many_addresses_are_those_of_each_address() {
    support::each_backend(|backend, store| {
        let rows = [
            cached("ann@x.example", "member", T0),
            cached("Bob@x.example", "guest", T0),
            cached("émile@x.example", "not_found", T0),
        ];
        write(backend, store, |tx| tx.directory_put_many(&rows));
        let t = store.tables();
        let asked = [
            "ann@x.example",
            "ANN@x.example",
            "bob@x.example",
            "Émile@x.example",
            "émile@x.example",
            "nobody@x.example",
            "ann@x.example",
        ];
        let got = t.directory_get_many(&asked).expect("get many");
        assert_eq!(
            got,
            directory_one_by_one(t, &asked),
            "{backend}: what each address answers alone (ASCII case folded, keyed as asked)"
        );
        assert_eq!(
            {
                let mut k: Vec<&str> = got.keys().map(String::as_str).collect();
                k.sort_unstable();
                k
            },
            [
                "ANN@x.example",
                "ann@x.example",
                "bob@x.example",
                "émile@x.example"
            ],
            "{backend}: 'É' is not folded, nobody is not cached"
        );
        assert_eq!(
            got["bob@x.example"], rows[1],
            "{backend}: the row as put, its spelling kept"
        );
        assert_eq!(
            t.directory_get_many(&[]).expect("none"),
            HashMap::new(),
            "{backend}: nothing for no input"
        );
    });
}

#[test]
fn directory_rows_put_at_once_are_the_rows_put_one_by_one() {
    support::each_backend(|backend, store| {
        // Replaces a cached row (its spelling stays) and adds new ones.
        write(backend, store, |tx| {
            tx.directory_put(&cached("Ann@x.example", "guest", T0))
        });
        let rows = [
            cached("ann@x.example", "member", T1),
            cached("cy@x.example", "member", T1),
            cached("dee@x.example", "guest", T1),
        ];
        let asked = ["ann@x.example", "cy@x.example", "dee@x.example"];
        write(backend, store, |tx| tx.directory_put_many(&rows));
        let at_once = directory_one_by_one(store.tables(), &asked);
        write(backend, store, |tx| {
            for row in &rows {
                tx.directory_put(row)?;
            }
            Ok(())
        });
        assert_eq!(
            at_once,
            directory_one_by_one(store.tables(), &asked),
            "{backend}: the same rows as one put each"
        );
        assert_eq!(
            (
                at_once["ann@x.example"].address.as_str(),
                at_once["ann@x.example"].class.as_str(),
                at_once["ann@x.example"].checked_at.as_str()
            ),
            ("Ann@x.example", "member", T1),
            "{backend}: replaced, first spelling kept"
        );
        assert_eq!(
            at_once["cy@x.example"], rows[1],
            "{backend}: a new row as put"
        );

        // One address twice: the later row wins, as two puts in a row.
        write(backend, store, |tx| {
            tx.directory_put_many(&[
                cached("DEE@x.example", "ambiguous", T1),
                cached("dee@x.example", "not_found", T1),
            ])
        });
        let dee = store
            .tables()
            .directory_get("dee@x.example")
            .expect("get")
            .expect("cached");
        assert_eq!(
            (dee.address.as_str(), dee.class.as_str()),
            ("dee@x.example", "not_found"),
            "{backend}: the later of two puts of one address wins"
        );
        write(backend, store, |tx| tx.directory_put_many(&[]));
        let bad = store.write(|tx| {
            tx.directory_put_many(&[
                cached("eve@x.example", "member", T1),
                cached("fay@x.example", "friend", T1),
            ])
        });
        assert!(bad.is_err(), "{backend}: an unknown class is refused");
        assert_eq!(
            store.tables().directory_get("eve@x.example").expect("get"),
            None,
            "{backend}: and nothing of that write is kept"
        );
    });
}
