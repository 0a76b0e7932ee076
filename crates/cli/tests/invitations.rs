//! Invitations (issue 22) end to end with the real binary: `tsched integration invitations
//! calendar`, then a 100-row `tsched batch run` killed with `kill -9` mid-run and resumed. Every
//! participant of every row must have exactly one invitation (iTIP REQUEST) in their sandbox
//! mailbox, carrying the meeting's join link, and `meetings show --json` records when it went
//! out. The host's refresh token lives in a private Secret Service (see `tests/batch.rs`);
//! without one the test says so and returns.

use std::collections::{BTreeMap, HashSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, Utc};
use tsched_core::programs::{self, MeetingMode, NewProgram};
use tsched_core::{participants, Actor, Store};
use tsched_sandbox::{Sandbox, SandboxConfig, Seed};
mod support;
use support::keyring::{connect_through_cli, private_keyring_or_skip};
use support::Tsched;

fn csv_rows(n: usize, people: &[String]) -> String {
    let day = (Utc::now() + ChronoDuration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let mut s = String::from(
        "program,subject,start,duration_minutes,time_zone,participants,external_ref\r\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "eng,Mentoring {i},{day} {:02}:{:02},25,Europe/Paris,{};{},row-{i}\r\n",
            (i / 12) % 24,
            (i % 12) * 5,
            people[i % people.len()],
            people[(i + 2) % people.len()],
        ));
    }
    s
}

async fn the_batch(cli: &Tsched) -> Option<serde_json::Value> {
    let out = cli.run_async(&["batch", "list", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    v.as_array().and_then(|a| a.first().cloned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calendar_batch_killed_with_kill_dash_nine_and_resumed_invites_each_participant_once_per_row(
) {
    let Some(keyring) = private_keyring_or_skip() else {
        return;
    };
    // The app registration lists Calendars.ReadWrite, so the auto-consented grant holds it.
    let mut seed = Seed::default_tenant();
    seed.clients[0]
        .api_permissions
        .push("Calendars.ReadWrite".into());
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        throttle_rps: Some(20.0),
        seed,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    connect_through_cli(dir.path(), &data, &keyring, &sandbox).await;
    let people: Vec<String> = {
        let mut store = Store::open_in(&data).expect("store");
        let actor = Actor::operator("teams.scheduler@contoso.example");
        programs::add(
            &mut store,
            &actor,
            NewProgram {
                name: "Engineering".into(),
                code: Some("eng".into()),
                description: None,
            },
        )
        .expect("program");
        programs::set_mode(
            &mut store,
            &actor,
            "eng",
            MeetingMode::TeamsVideo,
            true,
            None,
        )
        .expect("teams on");
        let snap = sandbox.handle().snapshot();
        let people: Vec<String> = snap["users"]
            .as_array()
            .expect("users")
            .iter()
            .filter(|u| u["userType"] == "Member" && u["isAdmin"] == false)
            .map(|u| u["userPrincipalName"].as_str().expect("upn").to_string())
            .filter(|u| !u.starts_with("teams.scheduler"))
            .take(5)
            .collect();
        for p in &people {
            participants::add(&mut store, &actor, "eng", p, "").expect("participant");
        }
        people
    };
    let cli = Tsched::new(&data).bus(&keyring.address);

    let set = cli
        .run_async(&["integration", "invitations", "calendar", "--json"])
        .await;
    let status: serde_json::Value = serde_json::from_slice(&set.stdout)
        .unwrap_or_else(|_| panic!("invitations JSON: {}", String::from_utf8_lossy(&set.stderr)));
    assert_eq!(
        (&status["invitation_mode"], &status["calendar_granted"]),
        (&serde_json::json!("calendar"), &serde_json::json!(true)),
        "the host (a global admin) sets calendar mode, and Calendars.ReadWrite is granted: {status}"
    );

    let rows = 100;
    let file = dir.path().join("rows.csv");
    std::fs::write(&file, csv_rows(rows, &people)).expect("csv");
    let mut child = cli
        .command(&["batch", "run", file.to_str().expect("utf-8 path"), "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(90);
    let live = loop {
        assert!(
            Instant::now() < deadline,
            "the run made 10 meetings within 90 s"
        );
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "the run is still going (100 rows, two requests each, at 20 requests/s)"
        );
        match the_batch(&cli).await {
            Some(b) if b["counts"]["done"].as_u64().unwrap_or(0) >= 10 => break b,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    child.kill().expect("kill -9"); // SIGKILL on Unix
    child.wait().expect("reap");
    let id = live["id"].as_i64().expect("id").to_string();
    let killed = the_batch(&cli).await.expect("the batch");
    assert_eq!(killed["state"], "interrupted", "killed mid-run: {killed}");
    let fin = cli.run_async(&["batch", "resume", &id, "--json"]).await;
    let stdout = String::from_utf8_lossy(&fin.stdout);
    assert!(
        fin.status.success() && stdout.contains("\"state\":\"completed\""),
        "the resume completes the batch: {stdout} {}",
        String::from_utf8_lossy(&fin.stderr)
    );

    // Exactly one invitation per participant per row.
    let boxes = sandbox.handle().mailboxes();
    let mut per: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (who, items) in boxes["mailboxes"].as_object().expect("mailboxes") {
        for i in items.as_array().expect("items") {
            assert_eq!(i["method"], "REQUEST", "nothing but invitations: {i}");
            *per.entry((who.clone(), i["eventId"].as_str().expect("event").into()))
                .or_default() += 1;
        }
    }
    let events: HashSet<&String> = per.keys().map(|(_, e)| e).collect();
    assert_eq!(events.len(), rows, "one calendar event per row");
    assert_eq!(
        per.len(),
        rows * 2,
        "both participants of every row invited"
    );
    let twice: Vec<_> = per.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "kill -9 and resume never send a second invitation: {twice:?}"
    );

    // The meeting records its invitation; the invitation carries its join link.
    let shown = cli.run_async(&["meetings", "show", "1", "--json"]).await;
    let m: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("show JSON");
    assert!(
        m["invitations"] == "calendar" && m["invitations_sent_at"].is_string(),
        "meetings show --json records when the invitations went out: {m}"
    );
    let who = m["attendees"][0]["address"].as_str().expect("attendee");
    let mail = sandbox.handle().mailbox(who);
    assert!(
        mail["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| i["joinUrl"] == m["join_web_url"] && i["eventId"] == m["event_id"]),
        "the invitation carries the meeting's join link: {mail}"
    );
    let text = cli.ok(&["meetings", "show", "1"]);
    assert!(
        text.contains("Invitations: from the host's calendar: sent "),
        "meetings show says when they were sent: {text}"
    );
}
