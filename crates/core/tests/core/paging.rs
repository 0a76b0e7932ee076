//! Keyset paging of every list, on a real store file: walking the pages with a small page size
//! returns every matching row exactly once, in the list's order — with and without filters, and
//! with many rows sharing a sort key (same second in the audit trail, same start for meetings) —
//! and a malformed or foreign cursor is an `InvalidInput` error naming the cursor.

use std::collections::HashSet;
use std::fmt::Debug;

use rusqlite::params;
use tsched_core::access::Role;
use tsched_core::audit::{self, AuditFilter};
use tsched_core::batch::run as batch_run;
use tsched_core::meetings::{self, ListFilter};
use tsched_core::programs::{self, ListQuery};
use tsched_core::store::batches::ItemState;
use tsched_core::store::page::{Page, PageQuery};
use tsched_core::store::prelude::*;
use tsched_core::{operators as roster, participants, Actor, ErrorCode, Store};

const ADMIN: &str = "admin@contoso.example";
const COORD: &str = "coord@contoso.example";

/// A store file with rows whose sort keys tie on purpose.
fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open_in(dir.path()).expect("store file");
    store
        .write_sql(|tx| -> Result<(), tsched_core::Error> {
            let t = "2027-01-01T00:00:00Z";
            for i in 0..40 {
                // Mixed case so the NOCASE order differs from byte order; every 5th archived.
                let name = match i % 3 {
                    0 => format!("Alpha Mentoring {i:02}"),
                    1 => format!("beta coaching {i:02}"),
                    _ => format!("GAMMA Alpha {i:02}"),
                };
                tx.execute(
                    "INSERT INTO programs (code, name, archived, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                    params![format!("p{i:02}"), name, i % 5 == 4, t],
                )?;
            }
            for i in 0..25 {
                let email = if i % 2 == 0 {
                    format!("Person{i:02}@Contoso.example")
                } else {
                    format!("person{i:02}@contoso.example")
                };
                tx.participant_insert(1, &email, "")?;
            }
            tx.operator_insert(ADMIN, None, "Admin")?;
            tx.operator_grant(1, Role::GlobalAdmin, None)?;
            tx.operator_insert(COORD, None, "Coordinator")?;
            tx.operator_grant(2, Role::Coordinator, Some(1))?;
            for i in 0..10 {
                tx.operator_insert(&format!("op{i:02}@contoso.example"), None, "")?;
            }
            // 90 audit rows over 6 distinct seconds: most pages cut through a run of ties.
            for i in 0..90_i64 {
                tx.execute(
                    "INSERT INTO audit_log (at, operator, action, target, program_code)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        format!("2027-01-0{}T00:00:00Z", 1 + (i * 7) % 6),
                        format!("op{:02}@contoso.example", i % 3),
                        ["program.create", "meeting.create", "operator.grant"][(i % 4) as usize % 3],
                        format!("t:{i}"),
                        if i % 2 == 0 { Some("p00") } else { Some("p01") },
                    ],
                )?;
            }
            // 60 meetings over 4 distinct starts, in programs 1 and 2, three states.
            for i in 0..60_i64 {
                let start = format!("2027-03-{:02}T09:00:00Z", 10 + (i * 5) % 4);
                tx.execute(
                    "INSERT INTO meetings (external_id, program_id, subject, start_utc, end_utc,
                         time_zone, state, created_by, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?4, 'UTC', ?5, 'me', ?4, ?4)",
                    params![
                        format!("ext-{i}"),
                        1 + i % 2,
                        format!("M{i}"),
                        start,
                        ["created", "cancelled", "pending"][(i % 3) as usize],
                    ],
                )?;
                let id = tx.last_insert_rowid();
                for a in 0..(1 + i % 3) {
                    tx.execute(
                        "INSERT INTO meeting_attendees (meeting_id, address, upn) VALUES (?1, ?2, ?3)",
                        params![
                            id,
                            format!("a{}@contoso.example", (i + a) % 7),
                            format!("UPN{}@Contoso.example", (i + a) % 7),
                        ],
                    )?;
                }
            }
            // 13 batches, alternately of program p00 and p01; batch 3 has 23 items.
            for i in 0..13_i64 {
                let program = if i % 2 == 0 { "p00" } else { "p01" };
                tx.batch_insert(&format!("u{i}"), "f.csv", "sha", 4, &[program.to_string()], "me", t)?;
            }
            for line in 2..25_u64 {
                tx.batch_item_insert(3, line, &format!("x{line}"), "{}", t)?;
                if line % 3 == 0 {
                    tx.batch_item_mark_in_flight(3, line, t)?;
                    tx.batch_item_mark_failed(3, line, "E", "m", t)?;
                }
            }
            Ok(())
        })
        .expect("seed");
    (dir, store)
}

/// Walks every page with `next`, checking each page respects `limit`.
fn walk<T: Clone>(limit: usize, mut next: impl FnMut(Option<String>) -> Page<T>) -> Vec<T> {
    let mut all = Vec::new();
    let mut cursor = None;
    for _ in 0..10_000 {
        let page = next(cursor.take());
        assert!(page.items.len() <= limit, "a page holds at most the limit");
        if page.next_cursor.is_some() {
            assert_eq!(page.items.len(), limit, "only the last page may be short");
        }
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return all,
        }
    }
    panic!("paging did not end");
}

fn assert_same<K: Eq + std::hash::Hash + Debug + Clone>(what: &str, got: &[K], expected: &[K]) {
    let unique: HashSet<&K> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "{what}: a row came twice");
    assert_eq!(
        got, expected,
        "{what}: pages must hold every row once, in list order"
    );
}

#[test]
fn programs_pages_cover_every_row_once_with_search_archived_and_visibility() {
    let (_dir, store) = seeded();
    let admin = Actor::operator(ADMIN);
    let all: Vec<(bool, String, String)> = store
        .conn()
        .prepare("SELECT archived, name, code FROM programs")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    for (search, include_archived) in [
        (None, false),
        (None, true),
        (Some("alpha"), true),    // trigram index
        (Some("ALPHA 1"), false), // trigram index, case-insensitive
        (Some("3"), true),        // too short for trigrams: walks the list order
        (Some("p1"), true),       // matches codes
        (Some("nothing like it"), true),
    ] {
        let mut expected: Vec<&(bool, String, String)> = all
            .iter()
            .filter(|(archived, name, code)| {
                (include_archived || !archived)
                    && search.is_none_or(|s| {
                        let s = s.to_ascii_lowercase();
                        let (name, code) = (name.to_ascii_lowercase(), code.to_string());
                        if s.chars().count() < 3 {
                            name.starts_with(&s) || code.starts_with(&s)
                        } else {
                            name.contains(&s) || code.contains(&s)
                        }
                    })
            })
            .collect();
        expected.sort_by_key(|(archived, name, _)| (*archived, name.to_ascii_lowercase()));
        let expected: Vec<String> = expected.iter().map(|p| p.2.clone()).collect();
        for limit in [1, 3, 7] {
            let got = walk(limit, |after| {
                programs::list_page(
                    &store,
                    &admin,
                    &ListQuery {
                        search: search.map(str::to_string),
                        include_archived,
                        limit: limit as u32,
                        after,
                        ..Default::default()
                    },
                )
                .expect("page")
                .map(|p| p.program)
            });
            let codes: Vec<String> = got.into_iter().map(|p| p.code).collect();
            assert_same(
                &format!("programs search={search:?} archived={include_archived} limit={limit}"),
                &codes,
                &expected,
            );
        }
    }
    // A coordinator sees only their own program, on any page size.
    let coord = walk(2, |after| {
        programs::list_page(
            &store,
            &Actor::operator(COORD),
            &ListQuery {
                include_archived: true,
                limit: 2,
                after,
                ..Default::default()
            },
        )
        .expect("page")
    });
    let codes: Vec<&str> = coord.iter().map(|p| p.code.as_str()).collect();
    assert_eq!(
        codes,
        ["p00"],
        "a coordinator's pages hold only their programs"
    );
}

#[test]
fn participants_and_operators_pages_cover_every_row_once() {
    let (_dir, store) = seeded();
    let admin = Actor::operator(ADMIN);
    let mut expected: Vec<String> = store
        .tables()
        .participants(1)
        .expect("all")
        .into_iter()
        .map(|p| p.email)
        .collect();
    expected.sort_by_key(|e| e.to_ascii_lowercase());
    assert_eq!(expected.len(), 25, "seeded participants");
    for limit in [1, 4, 25, 26] {
        let got: Vec<String> = walk(limit, |after| {
            participants::list_page(&store, &admin, "P00", after.as_deref(), limit as u32)
                .expect("page")
        })
        .into_iter()
        .map(|p| p.email)
        .collect();
        assert_same(&format!("participants limit={limit}"), &got, &expected);
    }
    let mut upns: Vec<String> = roster::roster(&store, &admin)
        .expect("roster")
        .operators
        .into_iter()
        .map(|o| o.upn)
        .collect();
    upns.sort_by_key(|u| u.to_ascii_lowercase());
    for limit in [1, 5] {
        let got: Vec<String> = walk(limit, |after| {
            roster::list_page(&store, &admin, after.as_deref(), limit as u32).expect("page")
        })
        .into_iter()
        .map(|o| o.upn)
        .collect();
        assert_same(&format!("operators limit={limit}"), &got, &upns);
    }
    let first = roster::list_page(&store, &admin, None, 1).expect("first");
    assert!(
        !first.items[0].roles.is_empty(),
        "paged operators keep their roles"
    );
}

#[test]
fn audit_pages_keep_newest_first_through_rows_of_the_same_second() {
    let (_dir, store) = seeded();
    let admin = Actor::operator(ADMIN);
    let all: Vec<(i64, String, String, String, Option<String>)> = store
        .conn()
        .prepare("SELECT id, at, operator, action, program_code FROM audit_log")
        .expect("prepare")
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let filters = [
        AuditFilter::default(),
        AuditFilter {
            operator: Some("op01@contoso.example".into()),
            ..Default::default()
        },
        AuditFilter {
            program_code: Some("P01".into()),
            action: Some("meeting.create".into()),
            ..Default::default()
        },
        AuditFilter {
            since: Some("2027-01-02T00:00:00Z".into()),
            until: Some("2027-01-05T00:00:00Z".into()),
            ..Default::default()
        },
    ];
    for f in filters {
        let mut expected: Vec<&(i64, String, String, String, Option<String>)> = all
            .iter()
            .filter(|(_, at, op, action, program)| {
                f.operator.as_ref().is_none_or(|o| o == op)
                    && f.program_code
                        .as_ref()
                        .is_none_or(|p| Some(p.to_ascii_lowercase()) == *program)
                    && f.action.as_ref().is_none_or(|a| a == action)
                    && f.since.as_ref().is_none_or(|s| at >= s)
                    && f.until.as_ref().is_none_or(|u| at < u)
            })
            .collect();
        expected.sort_by(|a, b| (&b.1, b.0).cmp(&(&a.1, a.0)));
        let expected: Vec<i64> = expected.iter().map(|r| r.0).collect();
        assert!(expected.len() > 5, "the filter {f:?} keeps several rows");
        for limit in [1, 4, 9] {
            let got: Vec<i64> = walk(limit, |after| {
                audit::list_page(
                    &store,
                    &admin,
                    &AuditFilter {
                        limit: limit as u32,
                        after,
                        ..f.clone()
                    },
                )
                .expect("page")
            })
            .into_iter()
            .map(|r| r.id)
            .collect();
            assert_same(&format!("audit {f:?} limit={limit}"), &got, &expected);
        }
    }
}

#[test]
fn meeting_pages_keep_start_order_through_meetings_starting_together() {
    let (_dir, store) = seeded();
    let admin = Actor::operator(ADMIN);
    let all: Vec<(i64, String, String, i64)> = store
        .conn()
        .prepare("SELECT id, start_utc, state, program_id FROM meetings")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let attendee_of = |id: i64, who: usize| {
        let i = (id - 1) as usize;
        (0..=(i % 3)).any(|a| (i + a) % 7 == who)
    };
    type Keep = Box<dyn Fn(&(i64, String, String, i64)) -> bool>;
    let filters: [(ListFilter, Keep); 6] = [
        (ListFilter::default(), Box::new(|_| true)),
        (
            ListFilter {
                program_code: Some("p01".into()),
                ..Default::default()
            },
            Box::new(|m| m.3 == 2),
        ),
        (
            ListFilter {
                program_code: Some("p00".into()),
                state: Some("cancelled".into()),
                ..Default::default()
            },
            Box::new(|m| m.3 == 1 && m.2 == "cancelled"),
        ),
        (
            ListFilter {
                from: Some("2027-03-11T00:00:00Z".into()),
                to: Some("2027-03-13T00:00:00Z".into()),
                ..Default::default()
            },
            Box::new(|m| m.1.as_str() >= "2027-03-11" && m.1.as_str() < "2027-03-13"),
        ),
        (
            // By directory UPN, in another case than stored.
            ListFilter {
                participant: Some("upn3@contoso.EXAMPLE".into()),
                ..Default::default()
            },
            Box::new(move |m| attendee_of(m.0, 3)),
        ),
        (
            // A participant with other filters: the page is built from the person's meetings.
            ListFilter {
                participant: Some("a4@contoso.example".into()),
                program_code: Some("p00".into()),
                from: Some("2027-03-11T00:00:00Z".into()),
                ..Default::default()
            },
            Box::new(move |m| attendee_of(m.0, 4) && m.3 == 1 && m.1.as_str() >= "2027-03-11"),
        ),
    ];
    for (f, keep) in filters {
        let mut expected: Vec<&(i64, String, String, i64)> =
            all.iter().filter(|m| keep(m)).collect();
        expected.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
        let expected: Vec<i64> = expected.iter().map(|m| m.0).collect();
        assert!(expected.len() > 2, "the filter {f:?} keeps several rows");
        for limit in [1, 2, 11] {
            let got = walk(limit, |after| {
                meetings::list_page(
                    &store,
                    &admin,
                    &ListFilter {
                        limit: limit as u32,
                        after,
                        ..f.clone()
                    },
                )
                .expect("page")
            });
            assert!(
                got.iter().all(|m| !m.attendees.is_empty()),
                "paged meetings carry their attendees"
            );
            let ids: Vec<i64> = got.into_iter().map(|m| m.id).collect();
            assert_same(&format!("meetings {f:?} limit={limit}"), &ids, &expected);
        }
    }
}

#[test]
fn batch_and_item_pages_cover_every_row_once_and_skip_batches_out_of_reach() {
    let (_dir, store) = seeded();
    let admin = Actor::operator(ADMIN);
    let expected: Vec<i64> = (1..=13).rev().collect();
    for limit in [1, 5] {
        let got: Vec<i64> = walk(limit, |after| {
            batch_run::list_page(&store, &admin, after.as_deref(), limit as u32).expect("page")
        })
        .into_iter()
        .map(|b| b.id)
        .collect();
        assert_same(&format!("batches limit={limit}"), &got, &expected);
    }
    // The coordinator of p00 manages the batches of p00 only (odd ids here).
    let mine: Vec<i64> = expected.iter().copied().filter(|id| id % 2 == 1).collect();
    for limit in [1, 2, 4] {
        let got: Vec<i64> = walk(limit, |after| {
            batch_run::list_page(
                &store,
                &Actor::operator(COORD),
                after.as_deref(),
                limit as u32,
            )
            .expect("page")
        })
        .into_iter()
        .map(|b| b.id)
        .collect();
        assert_same(&format!("coordinator's batches limit={limit}"), &got, &mine);
    }
    let b3 = batch_run::list_page(&store, &admin, None, 13)
        .expect("page")
        .items
        .into_iter()
        .find(|b| b.id == 3)
        .expect("batch 3");
    assert_eq!(
        (b3.counts.total, b3.counts.failed, b3.counts.queued),
        (23, 8, 15),
        "counts kept by the triggers match the items"
    );
    for (state, expected) in [
        (None, (2..25).collect::<Vec<u64>>()),
        (Some("failed"), (2..25).filter(|l| l % 3 == 0).collect()),
        (Some("queued"), (2..25).filter(|l| l % 3 != 0).collect()),
    ] {
        for limit in [1, 6] {
            let got: Vec<u64> = walk(limit, |after| {
                batch_run::items_page(&store, &admin, 3, state, after.as_deref(), limit as u32)
                    .expect("page")
            })
            .into_iter()
            .map(|i| i.line)
            .collect();
            assert_same(&format!("items {state:?} limit={limit}"), &got, &expected);
        }
    }
    let e = batch_run::items_page(&store, &Actor::operator(COORD), 2, None, None, 5)
        .expect_err("batch 2 is of p01");
    assert_eq!(e.code(), ErrorCode::Denied, "items of another program: {e}");
    let e = batch_run::items_page(&store, &admin, 3, Some("lost"), None, 5).expect_err("state");
    assert_eq!(e.code(), ErrorCode::InvalidInput, "unknown state: {e}");
}

#[test]
fn a_malformed_or_foreign_cursor_is_invalid_input_not_a_panic() {
    let (_dir, store) = seeded();
    let admin = Actor::operator(ADMIN);
    let audit_cursor = audit::list_page(
        &store,
        &admin,
        &AuditFilter {
            limit: 2,
            ..Default::default()
        },
    )
    .expect("page")
    .next_cursor
    .expect("more audit rows");
    for bad in ["", "%%%", "e30", "bm90IGEgY3Vyc29y", audit_cursor.as_str()] {
        let errors = [
            programs::list_page(
                &store,
                &admin,
                &ListQuery {
                    after: Some(bad.into()),
                    ..Default::default()
                },
            )
            .map(|_| ())
            .expect_err("programs"),
            participants::list_page(&store, &admin, "p00", Some(bad), 5)
                .map(|_| ())
                .expect_err("participants"),
            roster::list_page(&store, &admin, Some(bad), 5)
                .map(|_| ())
                .expect_err("operators"),
            meetings::list_page(
                &store,
                &admin,
                &ListFilter {
                    after: Some(bad.into()),
                    ..Default::default()
                },
            )
            .map(|_| ())
            .expect_err("meetings"),
            batch_run::list_page(&store, &admin, Some(bad), 5)
                .map(|_| ())
                .expect_err("batches"),
            batch_run::items_page(&store, &admin, 3, None, Some(bad), 5)
                .map(|_| ())
                .expect_err("items"),
        ];
        for e in errors {
            assert_eq!(
                e.code(),
                ErrorCode::InvalidInput,
                "cursor {bad:?} must be refused as input: {e}"
            );
            assert!(
                e.to_string().starts_with("cursor: "),
                "the message names the cursor: {e}"
            );
        }
    }
    // The audit cursor itself still works for the audit trail.
    audit::list_page(
        &store,
        &admin,
        &AuditFilter {
            after: Some(audit_cursor),
            ..Default::default()
        },
    )
    .expect("an audit cursor continues the audit trail");
}

/// Fails on a step that reads a whole table (`SCAN t` without an index), and returns the plan.
fn seeks(store: &Store, what: &str, q: &PageQuery) -> String {
    let plan = q.plan(store.conn()).expect("explain").join("\n");
    for line in plan.lines().map(str::trim) {
        // `SCAN (subquery-1)` reads a subquery's result and `SCAN CONSTANT ROW` nothing; a
        // virtual table (full-text index, json_each) is searched by its own index.
        let full_scan = line.strip_prefix("SCAN ").is_some_and(|rest| {
            !rest.starts_with('(')
                && !rest.starts_with("CONSTANT ROW")
                && !rest.contains(" USING ")
                && !rest.contains("VIRTUAL TABLE")
        });
        assert!(!full_scan, "{what}: a step reads a whole table:\n{plan}");
    }
    plan
}

#[test]
fn every_list_query_seeks_an_index_that_yields_list_order() {
    use tsched_core::store::sqlite::batches;
    use tsched_core::store::sqlite::meetings as meeting_table;
    use tsched_core::store::sqlite::{audit_log, operators};
    use tsched_core::store::sqlite::{
        participants as participant_table, programs as program_table,
    };
    let (_dir, store) = seeded();
    let after = |kind: &str, key: serde_json::Value| {
        // A cursor as the list would hand it out (only its shape matters to the plan).
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::json!([kind, key]).to_string())
    };
    let cases: Vec<(&str, PageQuery, &str)> = vec![
        (
            "programs, first page",
            program_table::list_query(store.conn(), &ListQuery::default()).expect("q"),
            "programs_archived_name",
        ),
        (
            "programs with archived, deep page",
            program_table::list_query(
                store.conn(),
                &ListQuery {
                    include_archived: true,
                    after: Some(after("programs", serde_json::json!([false, "m"]))),
                    ..Default::default()
                },
            )
            .expect("q"),
            "programs_archived_name",
        ),
        (
            "programs, search with few matches",
            program_table::list_query(
                store.conn(),
                &ListQuery {
                    search: Some("mentor".into()),
                    ..Default::default()
                },
            )
            .expect("q"),
            "programs_search",
        ),
        (
            "programs, short search (few: name and code prefixes)",
            program_table::list_query(
                store.conn(),
                &ListQuery {
                    search: Some("al".into()),
                    ..Default::default()
                },
            )
            .expect("q"),
            "sqlite_autoindex_programs_2",
        ),
        (
            "programs, allow-list (few)",
            program_table::list_query(
                store.conn(),
                &ListQuery {
                    only_codes: Some(vec!["p01".into(), "p02".into()]),
                    ..Default::default()
                },
            )
            .expect("q"),
            "sqlite_autoindex_programs_1",
        ),
        (
            "participants, deep page",
            participant_table::list_query(1, Some(&after("participants", "m@x".into())), 50)
                .expect("q"),
            "sqlite_autoindex_participants_1",
        ),
        (
            "operators, deep page",
            operators::list_query(Some(&after("operators", "m@x".into())), 50).expect("q"),
            "sqlite_autoindex_operators_1",
        ),
        (
            "audit, deep page",
            audit_log::list_query(&AuditFilter {
                after: Some(after(
                    "audit",
                    serde_json::json!(["2027-01-01T00:00:00Z", 9]),
                )),
                ..Default::default()
            })
            .expect("q"),
            "audit_at",
        ),
        (
            "audit by operator, deep page",
            audit_log::list_query(&AuditFilter {
                operator: Some("op01@contoso.example".into()),
                after: Some(after(
                    "audit",
                    serde_json::json!(["2027-01-01T00:00:00Z", 9]),
                )),
                ..Default::default()
            })
            .expect("q"),
            "audit_operator_at",
        ),
        (
            "audit by program and dates",
            audit_log::list_query(&AuditFilter {
                program_code: Some("p00".into()),
                since: Some("2027-01-01T00:00:00Z".into()),
                until: Some("2027-02-01T00:00:00Z".into()),
                ..Default::default()
            })
            .expect("q"),
            "audit_program_at",
        ),
        (
            "audit by action",
            audit_log::list_query(&AuditFilter {
                action: Some("meeting.create".into()),
                ..Default::default()
            })
            .expect("q"),
            "audit_action_at",
        ),
        (
            "meetings, deep page",
            meeting_table::list_query(&ListFilter {
                after: Some(after(
                    "meetings",
                    serde_json::json!(["2027-03-11T09:00:00Z", 9]),
                )),
                ..Default::default()
            })
            .expect("q"),
            "meetings_start",
        ),
        (
            "meetings of a program",
            meeting_table::list_query(&ListFilter {
                program_code: Some("p00".into()),
                ..Default::default()
            })
            .expect("q"),
            "meetings_program_start",
        ),
        (
            "meetings of a program in a state",
            meeting_table::list_query(&ListFilter {
                program_code: Some("p00".into()),
                state: Some("failed".into()),
                ..Default::default()
            })
            .expect("q"),
            "meetings_program_state_start",
        ),
        (
            "meetings in a state",
            meeting_table::list_query(&ListFilter {
                state: Some("failed".into()),
                ..Default::default()
            })
            .expect("q"),
            "meetings_state_start",
        ),
        (
            "meetings of a participant",
            meeting_table::list_query(&ListFilter {
                participant: Some("a1@contoso.example".into()),
                ..Default::default()
            })
            .expect("q"),
            "meeting_attendees_upn_start",
        ),
        (
            "meetings of a participant in a program and state, deep page",
            meeting_table::list_query(&ListFilter {
                participant: Some("a1@contoso.example".into()),
                program_code: Some("p00".into()),
                state: Some("created".into()),
                from: Some("2027-01-01T00:00:00Z".into()),
                after: Some(after(
                    "meetings",
                    serde_json::json!(["2027-03-11T09:00:00Z", 9]),
                )),
                ..Default::default()
            })
            .expect("q"),
            "USING INTEGER PRIMARY KEY (rowid=?)",
        ),
        (
            "participants, first page",
            participant_table::list_query(1, None, 50).expect("q"),
            "sqlite_autoindex_participants_1",
        ),
        (
            "operators, first page",
            operators::list_query(None, 50).expect("q"),
            "sqlite_autoindex_operators_1",
        ),
        (
            "audit, first page",
            audit_log::list_query(&AuditFilter::default()).expect("q"),
            "audit_at",
        ),
        (
            "meetings, first page",
            meeting_table::list_query(&ListFilter::default()).expect("q"),
            "meetings_start",
        ),
        (
            "items of a batch, first page",
            batches::items_query(3, None, None, 5).expect("q"),
            "sqlite_autoindex_batch_items_1",
        ),
        (
            "batches, first page",
            batches::list_query(None, 5).expect("q"),
            "INTEGER PRIMARY KEY",
        ),
        (
            "batches, deep page",
            batches::list_query(Some(&after("batches", 7.into())), 5).expect("q"),
            "PRIMARY KEY",
        ),
        (
            "items of a batch, deep page",
            batches::items_query(3, None, Some(&after("batch-items", 7.into())), 5).expect("q"),
            "sqlite_autoindex_batch_items_1",
        ),
        (
            "items of a batch in a state",
            batches::items_query(3, Some(ItemState::Failed), None, 5).expect("q"),
            "batch_items_state_line",
        ),
    ];
    for (what, q, index) in cases {
        let plan = seeks(&store, what, &q);
        assert!(plan.contains(index), "{what} must use {index}:\n{plan}");
        // Every list reads its index in list order and stops after one page, so nothing big
        // is sorted. Programs sort the page itself (the outer query orders the page's rows),
        // and sort their candidates when few can match (a search here); a participant's
        // meetings are merged from two attendee indexes in order, and the page sorted.
        if what.starts_with("meetings of a participant") {
            assert!(
                plan.contains("MERGE (UNION)"),
                "{what} merges, not sorts:\n{plan}"
            );
        }
        let sorts = plan.matches("TEMP B-TREE FOR ORDER BY").count();
        let allowed = match what {
            w if w.starts_with("programs") && w.contains("few") => 2,
            w if w.starts_with("meetings of a participant") => 1,
            w if w.starts_with("programs") => 1,
            _ => 0,
        };
        assert!(sorts <= allowed, "{what} sorts more than expected:\n{plan}");
    }
    for (what, sql) in [
        ("attendees of a page", meeting_table::ATTENDEES_OF_MANY),
        ("counts of a page", batches::COUNTS_OF_MANY),
    ] {
        let q = PageQuery {
            sql: sql.to_string(),
            args: vec!["[1,2,3]".to_string().into()],
            limit: 3,
        };
        seeks(&store, what, &q);
    }
}
