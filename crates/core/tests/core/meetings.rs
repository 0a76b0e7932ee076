//! Meetings against the sandbox over real HTTP: create (201) with the local row and audit, the
//! same externalId again (200, no second meeting in the sandbox snapshot), reschedule keeping the
//! join link, cancel as lock → delete → 404 (request-log order), cancelling twice or a meeting
//! already gone, refusals (guest, DST gap/fold, bad windows), token expiry and revocation, and the
//! ICS export read back with an independent parser (the `ical` crate).

use chrono::Duration;
use tsched_core::graph::GraphClient;
use tsched_core::meetings::{self, EndSpec, NewMeeting, RescheduleInput};
use tsched_core::store::audit_log::AuditFilter;
use tsched_core::tz::{parse_local, DstChoice};
use tsched_core::{Actor, ErrorCode};
use tsched_sandbox::RunningSandbox;

use crate::membership::{connected, program_with};
use crate::support::{host, Env};

const MEMBER: &str = "zoe.odegard1@contoso.example";
const MEMBER2: &str = "lukasz.garcia4@contoso.example";
const GUEST: &str = "zoe0@fabrikam.com";
const HOST: &str = "teams.scheduler@contoso.example";

fn new_meeting(start: &str, people: &[&str]) -> NewMeeting {
    NewMeeting {
        program: "eng".into(),
        subject: "Mentoring; week 1, intro \\ kickoff".into(),
        start: parse_local(start).expect("local time"),
        end: EndSpec::Duration(Duration::minutes(45)),
        time_zone: Some("America/New_York".into()),
        dst: DstChoice::Refuse,
        participants: people.iter().map(|p| p.to_string()).collect(),
        external_id: None,
        batch_id: None,
    }
}

async fn setup() -> (Env, GraphClient) {
    let (mut env, graph) = connected().await;
    program_with(&mut env, "eng", &[MEMBER, MEMBER2, GUEST]);
    (env, graph)
}

fn sandbox_meetings(sb: &RunningSandbox) -> Vec<serde_json::Value> {
    sb.handle().snapshot()["meetings"]
        .as_array()
        .expect("meetings")
        .clone()
}

#[tokio::test]
async fn create_then_same_external_id_returns_the_same_meeting_not_a_second_one() {
    let (mut env, graph) = setup().await;
    let actor = host();
    let created = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        new_meeting("2027-03-15 09:00", &[MEMBER]),
    )
    .await
    .expect("create");
    assert_eq!(
        created.outcome,
        tsched_core::graph::meetings::CreateOrGetOutcome::Created,
        "201 first"
    );
    let m = &created.meeting;
    assert_eq!(m.state, "created", "Graph confirmed");
    assert_eq!(m.start_utc, "2027-03-15T13:00:00Z", "stored in UTC");
    assert_eq!(m.end_utc, "2027-03-15T13:45:00Z", "duration applied");
    assert_eq!(m.organizer_upn.as_deref(), Some(HOST), "host organizes");
    assert!(
        m.join_web_url.is_some() && m.join_meeting_id.is_some(),
        "join info stored: {m:?}"
    );
    assert_eq!(m.attendees.len(), 1, "one attendee");
    assert!(
        m.attendees[0].object_id.is_some() && m.attendees[0].upn.is_some(),
        "attendee upn + id"
    );
    assert_eq!(
        env.sandbox
            .handle()
            .request_count("POST /me/onlineMeetings/createOrGet", 201),
        1,
        "one createOrGet created it"
    );
    let snap = sandbox_meetings(&env.sandbox);
    assert_eq!(snap.len(), 1, "one meeting upstream");
    assert_eq!(
        snap[0]["external_id"],
        m.external_id.as_str(),
        "upstream carries our externalId"
    );
    assert_eq!(
        snap[0]["resource"]["lobbyBypassSettings"]["scope"], "organization",
        "org bypasses lobby"
    );
    assert_eq!(
        snap[0]["resource"]["subject"], "Mentoring; week 1, intro \\ kickoff",
        "subject as given"
    );

    let audit = env
        .store
        .tables()
        .audit_list(&AuditFilter {
            action: Some("meeting.create".into()),
            ..Default::default()
        })
        .expect("audit");
    assert_eq!(audit.len(), 1, "creation audited once");
    assert!(
        audit[0].graph_request_id.is_some(),
        "audit keeps Graph's request-id"
    );
    if let Some(p) = &m.passcode {
        assert!(
            !audit[0]
                .after
                .as_ref()
                .expect("after")
                .to_string()
                .contains(p.as_str()),
            "no passcode in audit"
        );
    }

    // A crash after Graph created it but before the row was marked: the row is still pending.
    env.store
        .conn()
        .execute(
            "UPDATE meetings SET state = 'pending', graph_id = NULL WHERE id = ?1",
            [m.id],
        )
        .expect("simulate crash");
    let again = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        NewMeeting {
            external_id: Some(m.external_id.clone()),
            ..new_meeting("2027-03-15 09:00", &[MEMBER])
        },
    )
    .await
    .expect("resume");
    assert_eq!(
        again.outcome,
        tsched_core::graph::meetings::CreateOrGetOutcome::Existing,
        "200 the second time"
    );
    assert_eq!(
        again.meeting.join_web_url, m.join_web_url,
        "the same meeting"
    );
    assert_eq!(
        env.sandbox
            .handle()
            .request_count("POST /me/onlineMeetings/createOrGet", 200),
        1,
        "the retry got 200 from createOrGet"
    );
    assert_eq!(
        sandbox_meetings(&env.sandbox).len(),
        1,
        "no second meeting upstream"
    );
    let rows: i64 = env
        .store
        .conn()
        .query_row("SELECT COUNT(*) FROM meetings", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 1, "no second local row");

    // A caller-supplied externalId (batch) is used as given.
    let ext = "batch-7-line-3";
    let b = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        NewMeeting {
            external_id: Some(ext.into()),
            ..new_meeting("2027-03-16 09:00", &[MEMBER2])
        },
    )
    .await
    .expect("create with externalId");
    assert_eq!(b.meeting.external_id, ext, "caller's externalId kept");
    assert!(
        sandbox_meetings(&env.sandbox)
            .iter()
            .any(|x| x["external_id"] == ext),
        "sent upstream"
    );
}

#[tokio::test]
async fn reschedule_keeps_the_join_link_and_cancel_locks_deletes_and_confirms() {
    let (mut env, graph) = setup().await;
    let actor = host();
    let m = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        new_meeting("2027-03-15 09:00", &[MEMBER]),
    )
    .await
    .expect("create")
    .meeting;
    let r = meetings::reschedule(
        &mut env.store,
        &graph,
        &actor,
        RescheduleInput {
            meeting: m.external_id.clone(),
            start: parse_local("2027-03-17 10:00").expect("time"),
            end: EndSpec::At(parse_local("2027-03-17 11:00").expect("time")),
            time_zone: None,
            dst: DstChoice::Refuse,
            subject: Some("Moved".into()),
            participants: Some(vec![MEMBER.into(), MEMBER2.into()]),
        },
    )
    .await
    .expect("reschedule");
    assert_eq!(
        r.join_web_url, m.join_web_url,
        "the join link stays the same"
    );
    assert_eq!(r.start_utc, "2027-03-17T14:00:00Z", "new start in UTC");
    assert_eq!(r.sequence, m.sequence + 1, "SEQUENCE bumped");
    assert_eq!(r.attendees.len(), 2, "attendees replaced");
    let up = &sandbox_meetings(&env.sandbox)[0]["resource"];
    assert_eq!(up["subject"], "Moved", "subject changed upstream");
    assert!(
        up["startDateTime"]
            .as_str()
            .is_some_and(|s| s.starts_with("2027-03-17T14:00:00")),
        "start moved upstream: {up}"
    );

    env.sandbox.handle().reset_request_log();
    let c = meetings::cancel(&mut env.store, &graph, &actor, &m.external_id)
        .await
        .expect("cancel");
    assert_eq!(c.meeting.state, "cancelled", "cancelled locally");
    assert!(sandbox_meetings(&env.sandbox).is_empty(), "gone upstream");
    let recent = env.sandbox.handle().request_log()["recent"]
        .as_array()
        .expect("recent")
        .clone();
    let seq: Vec<(String, u64)> = recent
        .iter()
        .filter(|e| {
            e["path"]
                .as_str()
                .is_some_and(|p| p.contains("/onlineMeetings/"))
        })
        .map(|e| {
            (
                e["method"].as_str().unwrap_or("").to_string(),
                e["status"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        seq,
        vec![
            ("PATCH".into(), 200),
            ("DELETE".into(), 204),
            ("GET".into(), 404)
        ],
        "lock the lobby, delete, then confirm 404 — in that order"
    );
    let patch_body_ok = recent.iter().any(|e| e["method"] == "PATCH");
    assert!(patch_body_ok, "lobby lock sent");
    let twice = meetings::cancel(&mut env.store, &graph, &actor, &m.external_id)
        .await
        .expect("cancel twice");
    assert!(
        twice.notes.iter().any(|n| n.contains("already cancelled")),
        "second cancel notes it: {:?}",
        twice.notes
    );
    let audit = env
        .store
        .tables()
        .audit_list(&AuditFilter::default())
        .expect("audit");
    for action in ["meeting.create", "meeting.reschedule", "meeting.cancel"] {
        assert!(
            audit
                .iter()
                .any(|a| a.action == action && a.graph_request_id.is_some()),
            "{action} audited with request-id"
        );
    }

    // Gone upstream already: still succeeds, with a note.
    let other = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        new_meeting("2027-03-18 09:00", &[MEMBER]),
    )
    .await
    .expect("create")
    .meeting;
    tsched_core::graph::meetings::delete(&graph, other.graph_id.as_deref().expect("id"))
        .await
        .expect("delete upstream");
    let c = meetings::cancel(&mut env.store, &graph, &actor, &other.id.to_string())
        .await
        .expect("cancel gone");
    assert_eq!(c.meeting.state, "cancelled", "cancelled locally");
    assert!(
        c.notes.iter().any(|n| n.contains("already gone")),
        "note about upstream: {:?}",
        c.notes
    );
}

#[tokio::test]
async fn refusals_name_the_participant_and_check_and_leave_nothing_behind() {
    let (mut env, graph) = setup().await;
    let actor = host();
    let e = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        new_meeting(
            "2027-03-15 09:00",
            &[MEMBER, GUEST, "nobody.x@contoso.example"],
        ),
    )
    .await
    .expect_err("guest refused");
    let msg = e.to_string();
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{msg}");
    assert!(
        msg.contains(GUEST) && msg.contains("guest"),
        "names the guest: {msg}"
    );
    assert!(
        msg.contains("nobody.x@contoso.example") && msg.contains("participant of the program"),
        "names the non-participant: {msg}"
    );
    assert!(
        !msg.contains(&format!("{MEMBER}:")),
        "the member passes: {msg}"
    );
    for (start, end, why) in [
        (
            "2027-03-14 02:30",
            EndSpec::Duration(Duration::hours(1)),
            "does not exist",
        ),
        (
            "2027-11-07 01:30",
            EndSpec::Duration(Duration::hours(1)),
            "happens twice",
        ),
        (
            "2027-03-15 09:00",
            EndSpec::At(parse_local("2027-03-15 08:00").expect("t")),
            "not after the start",
        ),
        (
            "2027-03-15 09:00",
            EndSpec::Duration(Duration::hours(30)),
            "at most 24 hours",
        ),
        (
            "2020-03-15 09:00",
            EndSpec::Duration(Duration::hours(1)),
            "in the past",
        ),
    ] {
        let e = meetings::create(
            &mut env.store,
            &graph,
            &actor,
            NewMeeting {
                end,
                ..new_meeting(start, &[MEMBER])
            },
        )
        .await
        .expect_err(why);
        assert!(e.to_string().contains(why), "expected '{why}': {e}");
    }
    let later = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        NewMeeting {
            dst: DstChoice::Later,
            ..new_meeting("2027-11-07 01:30", &[MEMBER])
        },
    )
    .await
    .expect("fold resolved by choosing later");
    assert_eq!(
        later.meeting.start_utc, "2027-11-07T06:30:00Z",
        "later = EST"
    );
    let e = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        NewMeeting {
            program: "nope".into(),
            ..new_meeting("2027-03-15 09:00", &[MEMBER])
        },
    )
    .await
    .expect_err("unknown program");
    assert_eq!(e.code(), ErrorCode::NotFound, "{e}");
    assert_eq!(
        sandbox_meetings(&env.sandbox).len(),
        1,
        "only the valid meeting exists upstream"
    );
}

#[tokio::test]
async fn expired_token_is_refreshed_once_and_revoked_host_must_reconnect() {
    let (mut env, graph) = setup().await;
    let actor = host();
    env.sandbox.handle().expire_access_tokens();
    meetings::create(
        &mut env.store,
        &graph,
        &actor,
        new_meeting("2027-03-15 09:00", &[MEMBER]),
    )
    .await
    .expect("an expired access token is refreshed transparently");
    env.sandbox.handle().revoke_refresh_tokens(HOST);
    env.sandbox.handle().expire_access_tokens();
    let e = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        NewMeeting {
            end: EndSpec::Duration(Duration::minutes(30)),
            ..new_meeting("2027-03-16 09:00", &[MEMBER])
        },
    )
    .await
    .expect_err("revoked host");
    assert_eq!(
        e.code(),
        ErrorCode::ReconnectRequired,
        "revocation asks to reconnect: {e}"
    );
    assert!(
        e.to_string().contains("reconnect the host"),
        "the message says what to do: {e}"
    );
    let created: i64 = env
        .store
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM meetings WHERE state = 'created'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(
        created, 1,
        "nothing recorded as created without Graph's confirmation"
    );
    assert_eq!(
        sandbox_meetings(&env.sandbox).len(),
        1,
        "and nothing extra upstream"
    );
}

#[tokio::test]
async fn ics_export_parses_with_an_independent_parser() {
    let (mut env, graph) = setup().await;
    let actor = host();
    let mut input = new_meeting("2027-03-15 09:00", &[MEMBER, MEMBER2]);
    input.subject = format!(
        "Ünïcödé mentoring, part 1; notes: a\\b {}",
        "long ".repeat(20).trim_end()
    );
    let m = meetings::create(&mut env.store, &graph, &actor, input.clone())
        .await
        .expect("create")
        .meeting;
    let text = meetings::ics_for(&env.store, &actor, &m.external_id).expect("ics");
    assert!(
        text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'),
        "CRLF line endings only"
    );
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "line folded at 75 octets: {line:?}");
    }
    let cal = parse(&text);
    assert_eq!(
        prop(&cal.properties, "METHOD"),
        "REQUEST",
        "a live meeting is a REQUEST"
    );
    let ev = &cal.events[0];
    assert_eq!(
        prop(&ev.properties, "UID"),
        format!("{}@teams-scheduler", m.external_id),
        "stable UID"
    );
    assert_eq!(
        prop(&ev.properties, "DTSTART"),
        "20270315T130000Z",
        "UTC start"
    );
    assert_eq!(
        prop(&ev.properties, "URL"),
        m.join_web_url.clone().expect("url"),
        "join URL"
    );
    assert_eq!(
        prop(&ev.properties, "ORGANIZER"),
        format!("mailto:{HOST}"),
        "host organizes"
    );
    assert_eq!(
        ev.properties
            .iter()
            .filter(|p| p.name == "ATTENDEE")
            .count(),
        2,
        "two attendees"
    );
    assert_eq!(
        unescape(&prop(&ev.properties, "SUMMARY")),
        input.subject,
        "summary round-trips through escaping and folding"
    );
    assert_eq!(prop(&ev.properties, "SEQUENCE"), "0", "first version");

    meetings::cancel(&mut env.store, &graph, &actor, &m.external_id)
        .await
        .expect("cancel");
    let cal = parse(&meetings::ics_for(&env.store, &actor, &m.external_id).expect("ics"));
    assert_eq!(
        prop(&cal.properties, "METHOD"),
        "CANCEL",
        "a cancelled meeting is a CANCEL"
    );
    assert_eq!(
        prop(&cal.events[0].properties, "SEQUENCE"),
        "1",
        "higher SEQUENCE"
    );
    assert_eq!(
        prop(&cal.events[0].properties, "UID"),
        format!("{}@teams-scheduler", m.external_id),
        "same UID"
    );

    meetings::create(
        &mut env.store,
        &graph,
        &actor,
        new_meeting("2027-03-20 09:00", &[MEMBER]),
    )
    .await
    .expect("create");
    let export = meetings::ics_for_range(
        &env.store,
        &actor,
        &meetings::ListFilter {
            program_code: Some("eng".into()),
            from: Some("2027-03-01T00:00:00Z".into()),
            to: Some("2027-04-01T00:00:00Z".into()),
            ..Default::default()
        },
    )
    .expect("range export");
    assert_eq!(
        parse(export.request.as_deref().expect("live")).events.len(),
        1,
        "one live meeting"
    );
    assert_eq!(
        parse(export.cancel.as_deref().expect("cancelled"))
            .events
            .len(),
        1,
        "one cancelled meeting"
    );
}

fn parse(text: &str) -> ical::parser::ical::component::IcalCalendar {
    let mut reader = ical::IcalParser::new(std::io::BufReader::new(text.as_bytes()));
    let cal = reader
        .next()
        .expect("one calendar")
        .expect("the ical crate parses it");
    assert!(reader.next().is_none(), "exactly one calendar object");
    cal
}

fn prop(props: &[ical::property::Property], name: &str) -> String {
    props
        .iter()
        .find(|p| p.name == name)
        .and_then(|p| p.value.clone())
        .unwrap_or_else(|| panic!("property {name} present"))
}

/// TEXT unescaping per RFC 5545 §3.3.11 (the parser returns raw values).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some('n') | Some('N') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Regression for "a dropped answer to createOrGet leaves a meeting upstream with no local
/// row": under injected faults (503/504/500, dropped connections, slow answers) every attempt
/// either confirms or leaves the row pending, and retrying with the same externalId converges
/// on exactly one meeting per row.
#[tokio::test]
async fn faults_never_leave_an_upstream_meeting_without_a_local_row() {
    let (mut env, graph) = setup().await;
    let actor = host();
    env.sandbox.handle().update_knobs(|k| {
        k.fault_rate = 0.35;
        k.slow_ms = 20;
    });
    let mut failures = 0;
    for i in 0..6 {
        let ext = format!("fault-{i}");
        let mut done = false;
        for _ in 0..8 {
            let input = NewMeeting {
                external_id: Some(ext.clone()),
                ..new_meeting(&format!("2027-04-{:02} 09:00", i + 1), &[MEMBER])
            };
            match meetings::create(&mut env.store, &graph, &actor, input).await {
                Ok(c) => {
                    assert_eq!(c.meeting.state, "created", "confirmed means created");
                    done = true;
                    break;
                }
                Err(e) => {
                    failures += 1;
                    let state: Option<String> = env
                        .store
                        .conn()
                        .query_row(
                            "SELECT state FROM meetings WHERE external_id = ?1",
                            [&ext],
                            |r| r.get(0),
                        )
                        .ok();
                    assert_ne!(
                        state.as_deref(),
                        Some("created"),
                        "never recorded as created after an error: {e}"
                    );
                }
            }
        }
        assert!(done, "{ext} converges within 8 attempts");
    }
    env.sandbox.handle().update_knobs(|k| k.fault_rate = 0.0);
    let upstream = sandbox_meetings(&env.sandbox);
    assert_eq!(upstream.len(), 6, "exactly one meeting per row upstream");
    for m in &upstream {
        let ext = m["external_id"].as_str().expect("externalId");
        let state: String = env
            .store
            .conn()
            .query_row(
                "SELECT state FROM meetings WHERE external_id = ?1",
                [ext],
                |r| r.get(0),
            )
            .expect("every upstream meeting has a local row");
        assert_eq!(state, "created", "{ext} is recorded as created");
    }
    eprintln!("{failures} failed attempts were retried");
}

#[tokio::test]
async fn throttled_calls_wait_for_retry_after_and_succeed() {
    let (mut env, graph) = setup().await;
    let actor = host();
    env.sandbox.handle().reset_request_log();
    env.sandbox
        .handle()
        .update_knobs(|k| k.throttle_rps = Some(2.0));
    for i in 0..3 {
        meetings::create(
            &mut env.store,
            &graph,
            &actor,
            NewMeeting {
                participants: vec![MEMBER.into(), MEMBER2.into()],
                ..new_meeting(&format!("2027-05-{:02} 09:00", i + 1), &[])
            },
        )
        .await
        .expect("throttling is waited out");
    }
    let log = env.sandbox.handle().request_log();
    let throttled: u64 = log["counts"]
        .as_array()
        .expect("counts")
        .iter()
        .filter(|c| c["status"] == 429)
        .map(|c| c["count"].as_u64().unwrap_or(0))
        .sum();
    assert!(throttled > 0, "the sandbox throttled some calls: {log}");
    assert_eq!(
        sandbox_meetings(&env.sandbox).len(),
        3,
        "three meetings, no duplicates"
    );
    let page = |after: Option<String>, limit| {
        meetings::list_page(
            &env.store,
            &actor,
            &meetings::ListFilter {
                program_code: Some("ENG".into()),
                limit,
                after,
                ..Default::default()
            },
        )
        .expect("list")
    };
    let first = page(None, 2);
    let rest = page(first.next_cursor.clone(), 2);
    assert_eq!(
        (first.items.len(), rest.items.len()),
        (2, 1),
        "paging splits 3 rows as 2 + 1"
    );
    assert!(
        first.next_cursor.is_some(),
        "a full first page has a next page"
    );
    assert_eq!(rest.next_cursor, None, "the last page says so");
    assert!(
        first.items[1].start_utc < rest.items[0].start_utc,
        "pages follow start order"
    );
    let ranged = meetings::list(
        &env.store,
        &actor,
        &meetings::ListFilter {
            program_code: Some("eng".into()),
            state: Some("created".into()),
            from: Some("2027-05-02T00:00:00Z".into()),
            to: Some("2027-05-03T00:00:00Z".into()),
            participant: Some(MEMBER2.to_uppercase()),
            ..Default::default()
        },
    )
    .expect("list");
    assert_eq!(
        ranged.len(),
        1,
        "date range, state and participant filter together"
    );
    assert!(
        ranged[0].start_utc.starts_with("2027-05-02"),
        "the meeting in range: {:?}",
        ranged[0].start_utc
    );
}

/// The desktop runs these use cases on Tauri's async runtime, which needs `Send` futures.
#[allow(dead_code)]
fn use_case_futures_are_send(store: &mut tsched_core::Store, graph: &GraphClient) {
    fn send<T: Send>(_: T) {}
    let actor = host();
    send(meetings::create(
        store,
        graph,
        &actor,
        new_meeting("2027-01-01 00:00", &[]),
    ));
    send(meetings::cancel(store, graph, &actor, "x"));
    send(tsched_core::membership::check_many(
        store,
        graph,
        &actor,
        None,
        &[],
        Default::default(),
        &|_| {},
    ));
    send(tsched_core::membership::diagnose(
        store,
        Some(graph),
        &actor,
        "eng",
        "a@b.c",
        Default::default(),
    ));
}

#[tokio::test]
async fn pending_meetings_resume_and_only_coordinators_of_the_program_may_act() {
    let (mut env, graph) = setup().await;
    let local = host();
    let m = meetings::create(
        &mut env.store,
        &graph,
        &local,
        new_meeting("2027-03-15 09:00", &[MEMBER]),
    )
    .await
    .expect("create")
    .meeting;
    env.store
        .conn()
        .execute(
            "UPDATE meetings SET state = 'pending' WHERE id = ?1",
            [m.id],
        )
        .expect("simulate an interrupted create");
    let r = meetings::resume(&mut env.store, &graph, &local, &m.external_id)
        .await
        .expect("resume");
    assert_eq!(
        r.outcome,
        tsched_core::graph::meetings::CreateOrGetOutcome::Existing,
        "resuming finds the meeting Graph already made"
    );
    assert_eq!(r.meeting.state, "created", "and records it");
    assert_eq!(sandbox_meetings(&env.sandbox).len(), 1, "no second meeting");

    use tsched_core::access::Role;
    use tsched_core::operators::{self, NewOperator};
    operators::add(
        &mut env.store,
        &local,
        NewOperator {
            upn: "admin@contoso.example".into(),
            display_name: String::new(),
        },
    )
    .expect("first operator");
    let admin = host();
    tsched_core::programs::add(
        &mut env.store,
        &admin,
        tsched_core::programs::NewProgram {
            name: "Operations".into(),
            code: Some("ops".into()),
            description: None,
        },
    )
    .expect("second program");
    for (upn, program) in [
        ("cora@contoso.example", "eng"),
        ("otto@contoso.example", "ops"),
    ] {
        operators::add(
            &mut env.store,
            &admin,
            NewOperator {
                upn: upn.into(),
                display_name: String::new(),
            },
        )
        .expect("operator");
        operators::grant(
            &mut env.store,
            &admin,
            upn,
            Role::Coordinator,
            Some(program),
        )
        .expect("grant");
    }
    let e = meetings::create(
        &mut env.store,
        &graph,
        &Actor::operator("otto@contoso.example"),
        new_meeting("2027-03-16 09:00", &[MEMBER]),
    )
    .await
    .expect_err("a coordinator of ops may not create in eng");
    assert_eq!(e.code(), ErrorCode::Denied, "{e}");
    let e = meetings::cancel(
        &mut env.store,
        &graph,
        &Actor::operator("otto@contoso.example"),
        &m.external_id,
    )
    .await
    .expect_err("nor cancel there");
    assert_eq!(e.code(), ErrorCode::Denied, "{e}");
    let c = meetings::create(
        &mut env.store,
        &graph,
        &Actor::operator("cora@contoso.example"),
        new_meeting("2027-03-16 09:00", &[MEMBER]),
    )
    .await
    .expect("the coordinator of eng may");
    assert_eq!(
        c.meeting.created_by, "cora@contoso.example",
        "created by is recorded"
    );
}

#[tokio::test]
async fn a_coordinator_could_pull_another_programs_meeting_in_by_its_external_id() {
    let (mut env, graph) = setup().await;
    crate::membership::program_with(&mut env, "ops", &[MEMBER]);
    let actor = host();
    let in_program = |program: &str, ext: &str| NewMeeting {
        program: program.into(),
        external_id: Some(ext.into()),
        ..new_meeting("2027-03-15 09:00", &[MEMBER])
    };
    let ops = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        in_program("ops", "ops-standup"),
    )
    .await
    .expect("ops' own meeting");

    // The same externalId named from another program is refused, and the meeting stays in ops.
    let e = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        in_program("eng", "ops-standup"),
    )
    .await
    .expect_err("another program's externalId");
    assert_eq!(e.code(), ErrorCode::Conflict, "a clear conflict: {e}");
    assert!(e.to_string().contains("another program"), "says why: {e}");
    let stored = meetings::find(&env.store, "ops-standup").expect("still there");
    assert_eq!(
        stored.program_code, "ops",
        "the meeting was not pulled into eng"
    );

    // Idempotency inside the program is kept: the same id in ops finds the same meeting.
    let again = meetings::create(
        &mut env.store,
        &graph,
        &actor,
        in_program("ops", "ops-standup"),
    )
    .await
    .expect("re-run in the same program");
    assert_eq!(
        again.outcome,
        tsched_core::graph::meetings::CreateOrGetOutcome::Existing,
        "the same meeting, not a second"
    );
    assert_eq!(again.meeting.id, ops.meeting.id, "the same row");

    // A meeting that exists upstream but not in this store (another installation's program
    // with the same host account) is not adopted by a fresh create.
    let t = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("t")
            .with_timezone(&chrono::Utc)
    };
    tsched_core::graph::meetings::create_or_get(
        &graph,
        &tsched_core::graph::meetings::CreateOrGet {
            external_id: "made-elsewhere-1".into(),
            subject: "Someone else's".into(),
            start: t("2027-03-16T09:00:00Z"),
            end: t("2027-03-16T09:30:00Z"),
            attendees: Vec::new(),
        },
    )
    .await
    .expect("a meeting made upstream by another store");
    tsched_core::operators::add(
        &mut env.store,
        &actor,
        tsched_core::operators::NewOperator {
            upn: "coord@contoso.example".into(),
            display_name: "Coordinator of eng".into(),
        },
    )
    .expect("coordinator added");
    tsched_core::operators::grant(
        &mut env.store,
        &actor,
        "coord@contoso.example",
        tsched_core::access::Role::Coordinator,
        Some("eng"),
    )
    .expect("coordinator of eng");
    let coordinator = tsched_core::Actor::operator("coord@contoso.example");
    let e = meetings::create(
        &mut env.store,
        &graph,
        &coordinator,
        in_program("eng", "made-elsewhere-1"),
    )
    .await
    .expect_err("an upstream meeting this store did not make");
    assert_eq!(e.code(), ErrorCode::Conflict, "refused: {e}");
    let row = meetings::find(&env.store, "made-elsewhere-1").expect("the attempt is recorded");
    assert_eq!(row.state, "failed", "recorded as failed, not created");
    assert!(
        row.join_web_url.is_none() && row.passcode.is_none(),
        "the other meeting's join link and passcode were not taken: {row:?}"
    );

    // A batch's derived externalId (predictable from program and external_ref) is reserved.
    let derived = tsched_core::batch::plan::external_id(
        "ops",
        Some("k1"),
        t("2027-03-16T09:00:00Z"),
        t("2027-03-16T09:30:00Z"),
        "S",
        &[],
    );
    let e = meetings::create(&mut env.store, &graph, &actor, in_program("eng", &derived))
        .await
        .expect_err("a batch-derived id");
    assert_eq!(e.code(), ErrorCode::InvalidInput, "reserved: {e}");
}
