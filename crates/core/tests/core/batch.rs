//! Batch creation end to end against the sandbox: the plan (membership through `$batch`), the
//! run (one meeting per row, never two), faults and a low ceiling, access tokens expiring during
//! a run, a revoked refresh token pausing the batch until a reconnect, an interrupted run
//! resumed; and property tests of the CSV reader and validator (no panics, every rejection
//! located).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use proptest::prelude::*;
use tsched_core::batch::rate::BackoffConfig;
use tsched_core::batch::run::{self as batch_run, GraphTransport, Transport};
use tsched_core::batch::{self, BatchEvent, PlanOptions, ProblemCode, RowStatus, RunOptions};
use tsched_core::integration;
use tsched_core::programs::{self, MeetingMode, NewProgram};
use tsched_core::store::batches::BatchState;
use tsched_core::{participants, Actor};
use tsched_sandbox::SandboxConfig;

use crate::support::{host, Browser, Env};

/// A connected tenant with program `eng` (Teams on) whose participants are `people`.
async fn setup(cfg: SandboxConfig, people: usize) -> (Env, Vec<String>) {
    let mut env = Env::with(SandboxConfig {
        auto_consent: true,
        ..cfg
    })
    .await;
    env.connect(&Browser::default()).await.expect("connect");
    let actor = host();
    programs::add(
        &mut env.store,
        &actor,
        NewProgram {
            name: "Engineering".into(),
            code: Some("eng".into()),
            description: None,
        },
    )
    .expect("program");
    programs::set_mode(
        &mut env.store,
        &actor,
        "eng",
        MeetingMode::TeamsVideo,
        true,
        None,
    )
    .expect("teams on");
    let snap = env.sandbox.handle().snapshot();
    let members: Vec<String> = snap["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["userType"] == "Member" && u["isAdmin"] == false)
        .map(|u| u["userPrincipalName"].as_str().expect("upn").to_string())
        .filter(|u| !u.starts_with("teams.scheduler"))
        .take(people)
        .collect();
    for m in &members {
        participants::add(&mut env.store, &actor, "eng", m, "").expect("participant");
    }
    (env, members)
}

/// `n` ready rows: distinct starts tomorrow onwards, participants cycling through `people`.
fn csv_rows(n: usize, people: &[String]) -> String {
    let base = (Utc::now() + ChronoDuration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    let mut s = String::from("program,subject,start,duration_minutes,time_zone,participants\n");
    for i in 0..n {
        let minutes = i * 15;
        s.push_str(&format!(
            "eng,Mentoring {i},{base}T{:02}:{:02},30,UTC,{};{}\n",
            (minutes / 60) % 24,
            minutes % 60,
            people[i % people.len()],
            people[(i + 1) % people.len()],
        ));
        // keep every row distinct even past 24 h of slots
        if minutes / 60 >= 24 {
            s = s.replacen(
                &format!("Mentoring {i},"),
                &format!("Mentoring {i} (day {}),", minutes / 1440),
                1,
            );
        }
    }
    s
}

fn transport(env: &Env) -> (integration::HostSession, Arc<dyn Transport>) {
    let session = integration::session(&env.store, env.tokens.clone()).expect("session");
    let t: Arc<dyn Transport> = Arc::new(GraphTransport::new(&session));
    (session, t)
}

/// Meetings in the sandbox: total, and distinct externalIds.
fn sandbox_meetings(env: &Env) -> (usize, usize) {
    let snap = env.sandbox.handle().snapshot();
    let ms = snap["meetings"].as_array().expect("meetings");
    let ids: HashSet<&str> = ms
        .iter()
        .filter_map(|m| m["external_id"].as_str())
        .collect();
    (ms.len(), ids.len())
}

fn fast() -> RunOptions {
    RunOptions {
        concurrency: 8,
        backoff: BackoffConfig {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(800),
        },
        tick: Duration::from_millis(100),
        ..Default::default()
    }
}

async fn plan_and_create(
    env: &mut Env,
    session: &integration::HostSession,
    text: &str,
    opts: &RunOptions,
) -> i64 {
    let (_, plan) = batch::plan::validate(
        &mut env.store,
        Some(session.graph()),
        &host(),
        text.as_bytes(),
        &PlanOptions::default(),
    )
    .await
    .expect("validate");
    assert_eq!(
        plan.summary.rejected,
        0,
        "every row is ready: {:?}",
        plan.rows
            .iter()
            .flat_map(|r| r.problems.clone())
            .take(3)
            .collect::<Vec<_>>()
    );
    batch_run::create(
        &mut env.store,
        &host(),
        "t.csv",
        text.as_bytes(),
        &plan,
        opts,
    )
    .expect("create")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_lists_every_reason_and_sends_no_meeting() {
    let (mut env, people) = setup(SandboxConfig::default(), 3).await;
    let (session, _) = transport(&env);
    let tomorrow = (Utc::now() + ChronoDuration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let text = format!(
        "Program , Subject,START,end,time_zone,participants,external_ref\r\n\
         eng,Good,{tomorrow} 09:30,{tomorrow} 10:00,Europe/Berlin,{p0},r1\r\n\
         eng,Guest and strangers,{tomorrow} 11:00,{tomorrow} 10:00,Europe/Berlin,zoe0@fabrikam.com;nobody@contoso.example;{p1x},r2\r\n\
         nope,\"Quoted, subject\",2020-01-01 09:00,2020-01-01 10:00,Mars/Base,bad-address,r3\r\n\
         eng,Good,{tomorrow} 09:30,{tomorrow} 10:00,Europe/Berlin,{p0},r4\r\n",
        p0 = people[0],
        p1x = "lukasz.garcia4@contoso.example",
    );
    let (_, plan) = batch::plan::validate(
        &mut env.store,
        Some(session.graph()),
        &host(),
        text.as_bytes(),
        &PlanOptions::default(),
    )
    .await
    .expect("validate");
    assert_eq!(plan.summary.rows, 4, "four data rows");
    assert_eq!(
        plan.rows[0].status,
        RowStatus::Ready,
        "line 2 is ready: {:?}",
        plan.rows[0].problems
    );
    let codes = |i: usize| {
        plan.rows[i]
            .problems
            .iter()
            .map(|p| p.code)
            .collect::<Vec<_>>()
    };
    for want in [
        ProblemCode::Guest,
        ProblemCode::NotMember,
        ProblemCode::EndNotAfterStart,
    ] {
        assert!(
            codes(1).contains(&want),
            "line 3 must report {want:?}: {:?}",
            codes(1)
        );
    }
    for want in [
        ProblemCode::UnknownProgram,
        ProblemCode::BadTimeZone,
        ProblemCode::BadAddress,
    ] {
        assert!(
            codes(2).contains(&want),
            "line 4 must report {want:?}: {:?}",
            codes(2)
        );
    }
    assert_eq!(
        codes(3),
        vec![ProblemCode::DuplicateRow],
        "line 5 repeats line 2"
    );
    assert!(
        plan.rows
            .iter()
            .flat_map(|r| &r.problems)
            .all(|p| p.line >= 2 && p.column >= 1),
        "every rejection is located"
    );
    assert!(
        env.sandbox
            .handle()
            .request_log()
            .to_string()
            .contains("$batch"),
        "membership was checked in bulk through $batch"
    );
    assert_eq!(sandbox_meetings(&env).0, 0, "a dry run creates nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_creates_one_meeting_per_row_and_a_rerun_creates_none() {
    let (mut env, people) = setup(SandboxConfig::default(), 4).await;
    let (session, t) = transport(&env);
    let text = csv_rows(30, &people);
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let out = batch_run::run(
        &mut env.store,
        session.graph(),
        t.clone(),
        &host(),
        "t.csv",
        text.as_bytes(),
        &PlanOptions::default(),
        &fast(),
        &move |e| ev.lock().expect("lock").push(e),
    )
    .await
    .expect("run");
    assert_eq!(
        out.batch.state,
        BatchState::Completed,
        "the batch completes"
    );
    assert_eq!(out.batch.counts.done, 30, "every row done");
    assert_eq!(
        sandbox_meetings(&env),
        (30, 30),
        "one meeting per row, no duplicates"
    );
    {
        let evs = events.lock().expect("lock");
        assert!(
            matches!(evs.first(), Some(BatchEvent::Started { total: 30, .. })),
            "starts with Started"
        );
        assert!(
            matches!(evs.last(), Some(BatchEvent::Finished { done: 30, .. })),
            "ends with Finished"
        );
    }
    let view = batch_run::show(&env.store, &host(), out.batch.id).expect("show");
    assert!(
        view.items.iter().all(|i| i.graph_id.is_some()
            && i.join_web_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))),
        "every item has its meeting id and join link"
    );
    let audit = env
        .store
        .tables()
        .audit_list(&Default::default())
        .expect("audit");
    let created = audit
        .iter()
        .filter(|a| a.action == "meeting.create")
        .count();
    assert_eq!(created, 30, "each meeting created is audited once");
    assert!(
        audit.iter().any(|a| a.action == "batch.finish"),
        "the finish is audited with counts"
    );
    let ics = batch::export::batch_ics(&env.store, &host(), out.batch.id).expect("ics");
    assert_eq!(
        ics.matches("BEGIN:VEVENT").count(),
        30,
        "the ICS holds every created meeting"
    );
    let csv = batch::export::items_csv(&view.items).expect("csv");
    assert!(
        csv.lines().nth(1).is_some_and(|l| l.starts_with("2,done,")),
        "CSV export starts with the input line"
    );

    // The same file again: every row is already scheduled, nothing is sent.
    let again = batch_run::run(
        &mut env.store,
        session.graph(),
        t,
        &host(),
        "t.csv",
        text.as_bytes(),
        &PlanOptions::default(),
        &fast(),
        &|_| {},
    )
    .await;
    assert!(
        again.is_err(),
        "a re-run of the same file is refused, not doubled"
    );
    assert_eq!(
        sandbox_meetings(&env),
        (30, 30),
        "still one meeting per row"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_a_low_ceiling_still_finish_every_row_without_duplicates() {
    let (mut env, people) = setup(
        SandboxConfig {
            rng_seed: 7,
            ..Default::default()
        },
        4,
    )
    .await;
    let (session, t) = transport(&env);
    let text = csv_rows(80, &people);
    let opts = fast();
    let id = plan_and_create(&mut env, &session, &text, &opts).await;
    env.sandbox.handle().update_knobs(|k| {
        k.fault_rate = 0.2;
        k.throttle_rps = Some(20.0);
        k.slow_ms = 300;
    });
    let out = batch_run::execute(&mut env.store, t, &host(), id, &opts, &|_| {})
        .await
        .expect("execute");
    assert_eq!(
        out.batch.counts.done, 80,
        "every row done despite 20 % faults: {:?}",
        out.batch.counts
    );
    assert_eq!(
        out.batch.counts.failed, 0,
        "no item fails on transient faults"
    );
    assert_eq!(
        sandbox_meetings(&env),
        (80, 80),
        "no duplicates after retries of dropped answers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_expiring_during_a_run_cause_no_failure() {
    let (mut env, people) = setup(
        SandboxConfig {
            throttle_rps: Some(40.0),
            ..Default::default()
        },
        4,
    )
    .await;
    let (session, t) = transport(&env);
    let text = csv_rows(120, &people);
    let opts = fast();
    let id = plan_and_create(&mut env, &session, &text, &opts).await;
    let h = env.sandbox.handle().clone();
    let expirer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(400)).await;
            h.expire_access_tokens();
        }
    });
    let out = batch_run::execute(&mut env.store, t, &host(), id, &opts, &|_| {})
        .await
        .expect("execute");
    expirer.abort();
    assert_eq!(
        (out.batch.counts.done, out.batch.counts.failed),
        (120, 0),
        "refresh is transparent"
    );
    assert_eq!(sandbox_meetings(&env), (120, 120), "no duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_refresh_token_pauses_then_reconnect_and_resume_finish() {
    let (mut env, people) = setup(
        SandboxConfig {
            throttle_rps: Some(30.0),
            ..Default::default()
        },
        4,
    )
    .await;
    let (session, t) = transport(&env);
    let text = csv_rows(60, &people);
    let opts = fast();
    let id = plan_and_create(&mut env, &session, &text, &opts).await;
    let h = env.sandbox.handle().clone();
    let done = Arc::new(AtomicU64::new(0));
    let d = done.clone();
    let out = batch_run::execute(&mut env.store, t, &host(), id, &opts, &move |e| {
        if let BatchEvent::Done { .. } = e {
            if d.fetch_add(1, Ordering::SeqCst) + 1 == 15 {
                h.revoke_refresh_tokens("teams.scheduler@contoso.example");
                h.expire_access_tokens();
            }
        }
    })
    .await
    .expect("execute");
    assert_eq!(
        out.batch.state,
        BatchState::Paused,
        "a revoked sign-in pauses the batch"
    );
    assert!(
        out.batch
            .pause_reason
            .as_deref()
            .is_some_and(|r| r.contains("reconnect the host")),
        "the reason says what to do: {:?}",
        out.batch.pause_reason
    );
    assert_eq!(
        out.batch.counts.failed, 0,
        "no item fails because of the sign-in"
    );
    let listed = batch_run::list(&env.store, &host()).expect("list");
    assert!(
        listed.iter().any(|b| b.id == id && b.resumable()),
        "a paused batch is listed as resumable"
    );

    env.connect(&Browser::default()).await.expect("reconnect");
    let (_, t2) = transport(&env);
    let out = batch_run::resume(&mut env.store, t2, &host(), id, &opts, &|_| {})
        .await
        .expect("resume");
    assert_eq!(
        (out.batch.state, out.batch.counts.done),
        (BatchState::Completed, 60),
        "resume finishes it"
    );
    assert_eq!(
        sandbox_meetings(&env),
        (60, 60),
        "one meeting per row across the pause"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_dropped_midway_resumes_without_a_second_meeting() {
    let (mut env, people) = setup(
        SandboxConfig {
            throttle_rps: Some(50.0),
            ..Default::default()
        },
        4,
    )
    .await;
    let (session, t) = transport(&env);
    let text = csv_rows(100, &people);
    let opts = fast();
    let id = plan_and_create(&mut env, &session, &text, &opts).await;
    let mut dropped_midway = 0;
    for _round in 0..3u64 {
        // Dropping the future mid-flight is an in-process crash: requests may have reached the
        // sandbox while their answers were never recorded. Each run is dropped after 15 more
        // meetings are recorded, whatever the machine's speed.
        let seen = Arc::new(AtomicU64::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let tx = Mutex::new(Some(tx));
        let counter = seen.clone();
        let progress = move |e: BatchEvent| {
            if let BatchEvent::Done { .. } = e {
                if counter.fetch_add(1, Ordering::SeqCst) + 1 == 15 {
                    if let Some(tx) = tx.lock().expect("lock").take() {
                        let _ = tx.send(());
                    }
                }
            }
        };
        let actor = host();
        tokio::select! {
            _ = batch_run::resume(&mut env.store, t.clone(), &actor, id, &opts, &progress) => {}
            _ = rx => {}
        }
        let v = batch_run::show(&env.store, &host(), id).expect("show");
        if v.batch.state == BatchState::Completed {
            break;
        }
        dropped_midway += 1;
    }
    assert!(
        dropped_midway >= 1,
        "at least one run was dropped before the batch finished"
    );
    let state = batch_run::show(&env.store, &host(), id)
        .expect("show")
        .batch
        .state;
    let finished = if state == BatchState::Completed {
        batch_run::show(&env.store, &host(), id)
            .expect("show")
            .batch
    } else {
        batch_run::resume(&mut env.store, t, &host(), id, &opts, &|_| {})
            .await
            .expect("resume")
            .batch
    };
    assert_eq!(finished.counts.done, 100, "all rows done after resumes");
    assert_eq!(sandbox_meetings(&env), (100, 100), "never a second meeting");
    let ids: HashMap<String, String> = batch_run::show(&env.store, &host(), id)
        .expect("show")
        .items
        .into_iter()
        .map(|i| (i.external_id, i.graph_id.unwrap_or_default()))
        .collect();
    let snap = env.sandbox.handle().snapshot();
    for m in snap["meetings"].as_array().expect("meetings") {
        let ext = m["external_id"].as_str().expect("ext");
        assert_eq!(
            ids.get(ext).map(String::as_str),
            m["id"].as_str(),
            "the store agrees with the sandbox"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_with_undo_deletes_the_created_meetings() {
    let (mut env, people) = setup(SandboxConfig::default(), 3).await;
    let (session, t) = transport(&env);
    let text = csv_rows(10, &people);
    let out = batch_run::run(
        &mut env.store,
        session.graph(),
        t.clone(),
        &host(),
        "t.csv",
        text.as_bytes(),
        &PlanOptions::default(),
        &fast(),
        &|_| {},
    )
    .await
    .expect("run");
    let c = batch_run::cancel(&mut env.store, Some(t), &host(), out.batch.id, true)
        .await
        .expect("cancel");
    assert_eq!(c.undone, 10, "every created meeting is deleted");
    assert_eq!(sandbox_meetings(&env).0, 0, "the sandbox holds none");
    assert_eq!(c.batch.counts.undone, 10, "items say undone");

    // A coordinator of another program neither lists nor shows this batch.
    use tsched_core::access::Role;
    use tsched_core::operators::{self, NewOperator};
    let local = host();
    programs::add(
        &mut env.store,
        &local,
        NewProgram {
            name: "Operations".into(),
            code: Some("ops".into()),
            description: None,
        },
    )
    .expect("second program");
    for upn in ["admin@contoso.example", "coord@contoso.example"] {
        let actor = if upn.starts_with("admin") {
            local.clone()
        } else {
            host()
        };
        operators::add(
            &mut env.store,
            &actor,
            NewOperator {
                upn: upn.into(),
                display_name: String::new(),
            },
        )
        .expect("operator");
    }
    let admin = host();
    operators::grant(
        &mut env.store,
        &admin,
        "coord@contoso.example",
        Role::Coordinator,
        Some("ops"),
    )
    .expect("grant");
    let coord = Actor::operator("coord@contoso.example");
    assert!(
        batch_run::list(&env.store, &coord)
            .expect("list")
            .is_empty(),
        "a coordinator of ops does not see eng's batches"
    );
    assert_eq!(
        batch_run::show(&env.store, &coord, out.batch.id)
            .expect_err("denied")
            .code(),
        tsched_core::ErrorCode::Denied,
        "nor may open one"
    );
    assert_eq!(
        batch_run::list(&env.store, &admin).expect("list").len(),
        1,
        "a global admin sees it"
    );
}

fn fixed_facts() -> batch::validate::Facts {
    use batch::validate::{AddressClass, Facts, ProgramFacts};
    let mut programs = HashMap::new();
    programs.insert(
        "eng".to_string(),
        ProgramFacts {
            code: "eng".into(),
            teams_enabled: true,
            participants: ["a@x.example".to_string()].into_iter().collect(),
            ..Default::default()
        },
    );
    let mut directory = HashMap::new();
    directory.insert(
        "a@x.example".to_string(),
        AddressClass::Member {
            upn: "a@x.example".into(),
            object_id: "1".into(),
        },
    );
    Facts {
        programs,
        directory,
        now: Utc::now(),
        default_zone: Some("Europe/Berlin".into()),
        dst: Default::default(),
    }
}

fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("eng".to_string()),
        Just("a@x.example".to_string()),
        Just("2030-03-31 02:30".to_string()),
        Just("2030-10-27 02:30".to_string()),
        Just("30".to_string()),
        Just("Europe/Berlin".to_string()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
        "\"[a-z,\"\n]{0,6}\"",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn reader_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        match batch::csv::read(&bytes) {
            Ok(_) => {}
            Err(problems) => prop_assert!(
                problems.iter().all(|p| p.line >= 1 && p.column >= 1),
                "file problems are located: {:?}", problems
            ),
        }
    }

    #[test]
    fn every_rejection_is_located(rows in proptest::collection::vec(proptest::collection::vec(cell(), 0..9), 0..8), crlf in any::<bool>()) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("program,subject,start,duration_minutes,time_zone,participants,external_ref{nl}");
        for r in &rows {
            text.push_str(&r.join(","));
            text.push_str(nl);
        }
        let lines = text.matches('\n').count() as u64 + 1;
        let (_, plan) = batch::plan::plan_bytes(text.as_bytes(), &fixed_facts());
        for r in &plan.rows {
            if r.status == RowStatus::Rejected {
                prop_assert!(!r.problems.is_empty(), "a rejected row says why");
            }
            for p in &r.problems {
                prop_assert!(p.line >= 2 && p.line <= lines, "line {} within the file", p.line);
                prop_assert!(p.column >= 1 && !p.field.is_empty(), "column located: {:?}", p);
            }
        }
        for p in &plan.file_problems {
            prop_assert!(p.line >= 1 && p.column >= 1, "file problem located: {:?}", p);
        }
    }
}

/// 80 rows planned and stored against a sandbox throttled to 20 requests/s (so a run takes a
/// few seconds): the env, a transport, run options, the batch id and the store's path.
async fn slow_batch_of_80() -> (Env, Arc<dyn Transport>, RunOptions, i64, std::path::PathBuf) {
    let (mut env, people) = setup(
        SandboxConfig {
            throttle_rps: Some(20.0),
            ..Default::default()
        },
        3,
    )
    .await;
    let (session, t) = transport(&env);
    let text = csv_rows(80, &people);
    let opts = fast();
    let id = plan_and_create(&mut env, &session, &text, &opts).await;
    let path = env.store.path().to_path_buf();
    (env, t, opts, id, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_from_another_connection_stops_scheduling_new_items() {
    let (mut env, t, opts, id, path) = slow_batch_of_80().await;
    let done = Arc::new(AtomicU64::new(0));
    let d = done.clone();
    let out = batch_run::execute(&mut env.store, t, &host(), id, &opts, &move |e| {
        if let BatchEvent::Done { .. } = e {
            if d.fetch_add(1, Ordering::SeqCst) + 1 == 10 {
                // Another process (or the desktop window) cancels through its own connection.
                let mut other = tsched_core::Store::open(&path).expect("second connection");
                tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current().block_on(batch_run::cancel(
                        &mut other,
                        None,
                        &host(),
                        id,
                        false,
                    ))
                })
                .expect("cancel");
            }
        }
    })
    .await
    .expect("execute");
    assert_eq!(
        out.batch.state,
        BatchState::Cancelled,
        "the run noticed the cancel"
    );
    let c = out.batch.counts;
    assert!(
        c.cancelled > 0 && c.done < 80,
        "queued items were not scheduled: {c:?}"
    );
    assert_eq!(
        c.done + c.cancelled + c.failed,
        80,
        "every item has an end state: {c:?}"
    );
    assert_eq!(
        sandbox_meetings(&env).0 as u64,
        c.done,
        "the sandbox holds exactly the done items"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_while_another_run_is_live_leaves_no_meeting_behind() {
    let (env, t, opts, id, path) = slow_batch_of_80().await;
    let done = Arc::new(AtomicU64::new(0));
    let d = done.clone();
    // The run, in its own task with its own connection (as another process would).
    let (run_path, run_t, run_opts) = (path.clone(), t.clone(), opts.clone());
    let runner = tokio::spawn(async move {
        let mut store = tsched_core::Store::open(&run_path).expect("runner's connection");
        batch_run::execute(&mut store, run_t, &host(), id, &run_opts, &move |e| {
            if let BatchEvent::Done { .. } = e {
                d.fetch_add(1, Ordering::SeqCst);
            }
        })
        .await
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while done.load(Ordering::SeqCst) < 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "the run makes progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Cancel with undo through another connection while requests are in flight.
    let mut other = tsched_core::Store::open(&path).expect("second connection");
    let c = batch_run::cancel(&mut other, Some(t), &host(), id, true)
        .await
        .expect("cancel with undo");
    let out = runner.await.expect("join").expect("the run ends");
    assert_eq!(
        out.batch.state,
        BatchState::Cancelled,
        "the run noticed the cancel"
    );
    assert!(c.undo_failed.is_empty(), "{:?}", c.undo_failed);
    assert_eq!(
        sandbox_meetings(&env).0,
        0,
        "every meeting the run made, also those answered after the cancel, was deleted"
    );
    let counts = batch_run::show(&env.store, &host(), id)
        .expect("show")
        .batch
        .counts;
    assert_eq!(counts.done, 0, "nothing is left done: {counts:?}");
    assert_eq!(counts.in_flight, 0, "nothing is left in flight: {counts:?}");
    assert_eq!(
        counts.undone + counts.cancelled,
        80,
        "every row is undone or never sent: {counts:?}"
    );
    assert!(counts.undone >= 10, "{counts:?}");
}

/// A batch whose run is gone (its lease names a process of this host that does not exist) and
/// one whose run is here (this process holds its lease), each with two requests in flight.
async fn batch_with_requests_in_flight(holder_pid: u32) -> (Env, i64) {
    use tsched_core::store::batches::Holder;
    let (mut env, people) = setup(SandboxConfig::default(), 3).await;
    let (session, _t) = transport(&env);
    let id = plan_and_create(&mut env, &session, &csv_rows(4, &people), &fast()).await;
    let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    let holder = Holder::new(holder_pid, &host_name, "test").stored();
    let now = chrono::Utc::now();
    let at = now.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let until = (now + chrono::Duration::seconds(30))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    env.store
        .write(|tx| -> Result<(), tsched_core::Error> {
            assert_eq!(tx.batch_lease_take(id, &holder, None, &at, &until)?, 1);
            tx.batch_set_state(id, BatchState::Running, None, false, &at)?;
            assert_eq!(tx.batch_item_mark_in_flight(id, 2, &at)?, 1);
            assert_eq!(tx.batch_item_mark_in_flight(id, 3, &at)?, 1);
            Ok(())
        })
        .expect("a run sent two requests");
    (env, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_closes_at_once_what_a_dead_run_left_in_flight_and_leaves_a_live_runs_alone() {
    // The holder's process is gone: its requests in flight are nobody's, closed at once (they
    // were recent: the old rule waited two minutes for them).
    let (mut gone, id) = batch_with_requests_in_flight(u32::MAX - 7).await;
    let c = batch_run::cancel(&mut gone.store, None, &host(), id, false)
        .await
        .expect("cancel");
    assert_eq!(
        (c.batch.counts.in_flight, c.batch.counts.cancelled),
        (0, 4),
        "the dead run's requests in flight are closed with the queued items: {:?}",
        c.batch.counts
    );
    // This process holds the lease: its run records its own answers, the cancel leaves them.
    let (mut here, id) = batch_with_requests_in_flight(std::process::id()).await;
    let c = batch_run::cancel(&mut here.store, None, &host(), id, false)
        .await
        .expect("cancel");
    assert_eq!(
        (c.batch.counts.in_flight, c.batch.counts.cancelled),
        (2, 2),
        "a live run's requests in flight stay for it to record: {:?}",
        c.batch.counts
    );
}
