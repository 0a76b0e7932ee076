//! `tsched batch …` end to end with the real binary against a sandbox spawned in-process.
//!
//! The crash test runs `tsched batch run` on 200 rows, `kill -9`s it at seeded random moments,
//! resumes (`tsched batch resume ID`), repeats ten times, then lets it finish: the sandbox must
//! hold exactly one meeting per row and the local store must agree. The host's refresh token
//! lives in a private Secret Service (a throwaway `dbus-daemon` + `gnome-keyring-daemon` with a
//! temporary home), so a developer's real keyring is never touched; without those programs the
//! keyring tests say so and return.
//!
//! The lease test kills one run with `kill -9` mid-run: the batch must read `interrupted` (and
//! resumable) at once, a second resume while the first run lived must have been refused naming
//! it, and the resume after the kill finishes the batch without a second meeting.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, Utc};
use rand::{Rng, SeedableRng};
use tsched_core::programs::{self, MeetingMode, NewProgram};
use tsched_core::{participants, Actor, Store};
use tsched_sandbox::{RunningSandbox, Sandbox, SandboxConfig};
mod support;
use support::keyring::{connect_through_cli, private_keyring_or_skip, PrivateKeyring};
use support::Tsched;

/// Sandbox + private keyring + connected integration + program `eng` with Teams on.
struct World {
    sandbox: RunningSandbox,
    keyring: PrivateKeyring,
    data: PathBuf,
    people: Vec<String>,
    _dir: tempfile::TempDir,
}

async fn world(throttle: Option<f64>) -> Option<World> {
    let keyring = private_keyring_or_skip()?;
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        throttle_rps: throttle,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    connect_through_cli(dir.path(), &data, &keyring, &sandbox).await;
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
    Some(World {
        sandbox,
        keyring,
        data,
        people,
        _dir: dir,
    })
}

fn csv_rows(n: usize, people: &[String]) -> String {
    let day = (Utc::now() + ChronoDuration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let mut s = String::from(
        "program,subject,start,duration_minutes,time_zone,participants,external_ref\r\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "eng,\"Mentoring, session {i}\",{day} {:02}:{:02},25,Europe/Paris,{};{},row-{i}\r\n",
            (i / 12) % 24,
            (i % 12) * 5,
            people[i % people.len()],
            people[(i + 2) % people.len()],
        ));
    }
    s
}

fn batch_ids(cli: &Tsched) -> Vec<i64> {
    let out = cli.run(&["batch", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    v.as_array()
        .expect("array")
        .iter()
        .map(|b| b["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_at_random_moments_then_resume_makes_exactly_one_meeting_per_row() {
    let started = Instant::now();
    let Some(w) = world(Some(10.0)).await else {
        return;
    };
    let file = w.data.parent().expect("dir").join("rows.csv");
    std::fs::write(&file, csv_rows(200, &w.people)).expect("csv");
    let seed: u64 = std::env::var("TSCHED_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_271_127);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let cli = Tsched::new(&w.data).bus(&w.keyring.address);
    let mut kills = 0;
    while kills < 10 {
        let ids = batch_ids(&cli);
        let mut cmd = match ids.first() {
            None => cli.command(&["batch", "run", file.to_str().expect("utf-8 path"), "--json"]),
            Some(id) => cli.command(&["batch", "resume", &id.to_string(), "--json"]),
        };
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let wait = Duration::from_millis(rng.random_range(150..900));
        tokio::time::sleep(wait).await;
        if child.try_wait().expect("try_wait").is_some() {
            break; // it finished before the kill: nothing left to interrupt
        }
        child.kill().expect("kill -9"); // SIGKILL on Unix
        let _ = child.wait();
        kills += 1;
    }
    eprintln!("crash test: {kills} kills (seed {seed})");
    let ids = batch_ids(&cli);
    assert_eq!(
        ids.len(),
        1,
        "every resume continued the same batch, never a new one"
    );
    let id = ids[0].to_string();
    let listed = cli.run(&["batch", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    if kills > 0 && v[0]["state"] != "completed" {
        assert!(
            ["interrupted", "planned", "paused"].contains(&v[0]["state"].as_str().unwrap_or(""))
                && v[0]["resumable"] == true,
            "a killed batch is listed as resumable: {v}"
        );
    }
    let fin = cli.run(&["batch", "resume", &id, "--json"]);
    let stdout = String::from_utf8_lossy(&fin.stdout).to_string();
    for line in stdout.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).expect("--json prints one JSON object per line");
        assert!(
            v["event"].is_string(),
            "every line is a tagged event: {line}"
        );
    }
    let finished =
        stdout.contains("\"event\":\"finished\"") && stdout.contains("\"state\":\"completed\"");
    let already = String::from_utf8_lossy(&fin.stderr).contains("nothing to resume");
    assert!(
        finished || already,
        "the last resume completes the batch: {stdout} {}",
        String::from_utf8_lossy(&fin.stderr)
    );

    let snap = w.sandbox.handle().snapshot();
    let meetings = snap["meetings"].as_array().expect("meetings");
    let ext: HashSet<&str> = meetings
        .iter()
        .filter_map(|m| m["external_id"].as_str())
        .collect();
    assert_eq!(
        meetings.len(),
        200,
        "exactly one meeting per row after {kills} kills (seed {seed})"
    );
    assert_eq!(ext.len(), 200, "no externalId twice");
    let show = cli.run(&["batch", "show", &id, "--json"]);
    let view: serde_json::Value = serde_json::from_slice(&show.stdout).expect("show JSON");
    let items = view["items"].as_array().expect("items");
    let local: HashMap<&str, &str> = items
        .iter()
        .map(|i| {
            (
                i["external_id"].as_str().unwrap_or(""),
                i["graph_id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        items.iter().all(|i| i["state"] == "done"),
        "every item is done in the store"
    );
    for m in meetings {
        assert_eq!(
            local.get(m["external_id"].as_str().unwrap_or("")).copied(),
            m["id"].as_str(),
            "the store agrees with the sandbox on every meeting"
        );
    }
    let export = cli.run(&["batch", "export", &id, "--format", "csv"]);
    let text = String::from_utf8_lossy(&export.stdout);
    assert!(
        text.starts_with("line,status,"),
        "CSV export, input line first: {text:.80}"
    );
    assert_eq!(text.lines().count(), 201, "a header and one line per row");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "the crash test stays under 2 minutes"
    );
}

/// The one batch of the store as `batch list --json` shows it.
async fn the_batch(cli: &Tsched) -> Option<serde_json::Value> {
    let out = cli.run_async(&["batch", "list", "--json"]).await;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    v.as_array().and_then(|a| a.first().cloned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_with_kill_dash_nine_reads_interrupted_and_resumable_and_resume_finishes_it() {
    let Some(w) = world(Some(10.0)).await else {
        return;
    };
    let rows = 60;
    let file = w.data.parent().expect("dir").join("rows.csv");
    std::fs::write(&file, csv_rows(rows, &w.people)).expect("csv");
    let cli = Tsched::new(&w.data).bus(&w.keyring.address);
    let mut child = cli
        .command(&["batch", "run", file.to_str().expect("utf-8 path"), "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();

    // Mid-run: some meetings made, the run alive.
    let deadline = Instant::now() + Duration::from_secs(60);
    let live = loop {
        assert!(
            Instant::now() < deadline,
            "the run made 5 meetings within a minute"
        );
        assert!(
            child.try_wait().expect("try_wait").is_none(),
            "the run is still going (60 rows at 10 requests/s)"
        );
        match the_batch(&cli).await {
            Some(b) if b["counts"]["done"].as_u64().unwrap_or(0) >= 5 => break b,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert_eq!(
        (&live["state"], &live["resumable"]),
        (&serde_json::json!("running"), &serde_json::json!(false)),
        "a batch a live run holds reads running, not resumable: {live}"
    );
    let id = live["id"].as_i64().expect("id").to_string();
    let second = cli.run_async(&["batch", "resume", &id]).await;
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success()
            && err.contains(&format!("batch {id} is being run by pid {pid} on host ")),
        "a second resume while the run lives is refused, naming it: {err}"
    );

    child.kill().expect("kill -9"); // SIGKILL on Unix
    child.wait().expect("reap");
    let killed = the_batch(&cli).await.expect("the batch");
    assert_eq!(
        (&killed["state"], &killed["resumable"]),
        (&serde_json::json!("interrupted"), &serde_json::json!(true)),
        "right after kill -9 the batch reads interrupted and resumable, without waiting for the \
         lease to lapse: {killed}"
    );
    let table =
        String::from_utf8_lossy(&cli.run_async(&["batch", "list"]).await.stdout).to_string();
    assert!(
        table.contains("interrupted"),
        "the table says interrupted too: {table}"
    );
    let shown = cli.run_async(&["batch", "show", &id, "--json"]).await;
    let view: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("show JSON");
    assert_eq!(
        (&view["batch"]["state"], &view["batch"]["resumable"]),
        (&serde_json::json!("interrupted"), &serde_json::json!(true)),
        "batch show agrees: {}",
        view["batch"]
    );

    let fin = cli.run_async(&["batch", "resume", &id, "--json"]).await;
    let stdout = String::from_utf8_lossy(&fin.stdout);
    assert!(
        fin.status.success()
            && stdout.contains("\"event\":\"finished\"")
            && stdout.contains("\"state\":\"completed\""),
        "the resume after the kill completes the batch: {stdout} {}",
        String::from_utf8_lossy(&fin.stderr)
    );
    let done = the_batch(&cli).await.expect("the batch");
    assert_eq!(
        (&done["state"], &done["resumable"], &done["lease"]),
        (
            &serde_json::json!("completed"),
            &serde_json::json!(false),
            &serde_json::Value::Null
        ),
        "completed, and the finished run let go of its lease: {done}"
    );
    let snap = w.sandbox.handle().snapshot();
    let meetings = snap["meetings"].as_array().expect("meetings");
    let ext: HashSet<&str> = meetings
        .iter()
        .filter_map(|m| m["external_id"].as_str())
        .collect();
    assert_eq!(
        (meetings.len(), ext.len()),
        (rows, rows),
        "exactly one meeting per row, no externalId twice"
    );
}

#[test]
fn validate_locates_every_problem_and_exits_3_without_a_tenant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.csv");
    std::fs::write(
        &file,
        "\u{feff}program,subject,start,end,participants\r\nnope,,2020-01-01 09:00,2020-01-01 08:00,not-an-address\r\n",
    )
    .expect("write");
    let data = dir.path().join("data");
    let cli = Tsched::new(&data);
    let out = cli.run(&[
        "batch",
        "validate",
        file.to_str().expect("path"),
        "--time-zone",
        "UTC",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "rejected rows exit 3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let problems = plan["rows"][0]["problems"].as_array().expect("problems");
    let codes: Vec<&str> = problems.iter().filter_map(|p| p["code"].as_str()).collect();
    for want in [
        "unknown_program",
        "missing_value",
        "in_past",
        "end_not_after_start",
        "bad_address",
    ] {
        assert!(codes.contains(&want), "{want} reported: {codes:?}");
    }
    assert!(
        problems
            .iter()
            .all(|p| p["line"] == 2 && p["column"].as_u64().is_some_and(|c| c >= 1)),
        "every problem has line 2 and a column: {problems:?}"
    );
    let csv = cli.run(&["batch", "validate", file.to_str().expect("path"), "--csv"]);
    assert!(
        String::from_utf8_lossy(&csv.stdout).starts_with("line,status,"),
        "CSV output"
    );
}
