//! `tsched members …` and `tsched meetings …` end to end with the real binary. Input refusals
//! (DST gap and fold, end before start, unknown program, not connected) need no tenant. The
//! Graph flows run against a sandbox with the host's refresh token in a private Secret Service
//! (a throwaway `dbus-daemon` + `gnome-keyring-daemon`), so a developer's keyring is never
//! touched; without those programs those tests say so and return.

use std::path::{Path, PathBuf};
use std::process::Output;

use tsched_core::programs::{self, MeetingMode, NewProgram};
use tsched_core::{participants, Actor, Store};
use tsched_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

const MEMBER: &str = "zoe.odegard1@contoso.example";
const GUEST: &str = "zoe0@fabrikam.com";
mod support;
use support::keyring::{connect_through_cli, private_keyring_or_skip, PrivateKeyring};
use support::Tsched;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn program(data: &Path, teams: bool, people: &[&str]) {
    let mut store = Store::open_in(data).expect("store");
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
    if teams {
        programs::set_mode(
            &mut store,
            &actor,
            "eng",
            MeetingMode::TeamsVideo,
            true,
            None,
        )
        .expect("teams on");
    }
    for p in people {
        participants::add(&mut store, &actor, "eng", p, "").expect("participant");
    }
}

#[test]
fn bad_times_and_unknown_programs_are_refused_with_the_exact_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    program(&data, false, &[MEMBER]);
    let cli = Tsched::new(&data);
    let create = |extra: &[&str]| {
        let mut args = vec![
            "meetings",
            "create",
            "--program",
            "eng",
            "--subject",
            "Intro",
            "--participant",
            MEMBER,
        ];
        args.extend_from_slice(extra);
        cli.run(&args)
    };
    const NY: &str = "America/New_York";
    let cases: [(&[&str], u8, &str); 6] = [
        (
            &[
                "--tz",
                NY,
                "--start",
                "2027-03-14 02:30",
                "--duration",
                "1h",
            ],
            3,
            "does not exist in America/New_York",
        ),
        (
            &[
                "--tz",
                NY,
                "--start",
                "2027-11-07 01:30",
                "--duration",
                "1h",
            ],
            3,
            "happens twice in America/New_York",
        ),
        (
            &[
                "--tz",
                NY,
                "--start",
                "2027-03-15 09:00",
                "--end",
                "2027-03-15 08:00",
            ],
            3,
            "is not after the start",
        ),
        (
            &[
                "--tz",
                NY,
                "--start",
                "2027-03-15 09:00",
                "--duration",
                "25h",
            ],
            3,
            "at most 24 hours",
        ),
        (
            &[
                "--tz",
                NY,
                "--start",
                "2020-03-15 09:00",
                "--duration",
                "1h",
            ],
            3,
            "in the past",
        ),
        (
            &[
                "--tz",
                "Mars/Base",
                "--start",
                "2027-03-15 09:00",
                "--duration",
                "1h",
            ],
            3,
            "unknown time zone 'Mars/Base'",
        ),
    ];
    for (extra, code, why) in cases {
        let out = create(extra);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code as i32), "{extra:?}: {err}");
        assert!(err.contains(why), "expected '{why}' for {extra:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");
    }
    let out = cli.run(&[
        "meetings",
        "create",
        "--program",
        "nope",
        "--subject",
        "x",
        "--start",
        "2027-03-15 09:00",
        "--duration",
        "1h",
        "--participant",
        MEMBER,
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "unknown program: {}",
        text(&out.stderr)
    );
    let out = cli.run(&[
        "meetings",
        "create",
        "--program",
        "eng",
        "--subject",
        "x",
        "--start",
        "2027-11-07 01:30",
        "--dst",
        "later",
        "--duration",
        "1h",
        "--tz",
        "America/New_York",
        "--participant",
        MEMBER,
    ]);
    assert_eq!(
        out.status.code(),
        Some(9),
        "a resolved fold passes validation and then needs the tenant: {}",
        text(&out.stderr)
    );
    let out = cli.run(&["meetings", "default-tz", "Mars/Base"]);
    assert_eq!(out.status.code(), Some(3), "unknown default zone refused");
    let out = cli.run(&["meetings", "default-tz", "America/New_York"]);
    assert!(
        text(&out.stdout).contains("America/New_York"),
        "default zone set: {}",
        text(&out.stderr)
    );
    let out = create(&["--start", "2027-03-14 02:30", "--duration", "1h"]);
    assert!(
        text(&out.stderr).contains("does not exist in America/New_York"),
        "the default zone applies without --tz: {}",
        text(&out.stderr)
    );
    let out = cli.run(&["members", "cache-ttl", "2"]);
    assert!(
        text(&out.stdout).contains("cached for 2 hours"),
        "TTL set: {}",
        text(&out.stderr)
    );
    let out = cli.run(&["members", "diagnose", MEMBER, "--program", "eng"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed diagnosis exits non-zero"
    );
    assert!(
        stdout.contains("[FAIL] integration connected") && stdout.contains("fix:"),
        "each failing check with its fix: {stdout}"
    );
    assert!(
        stdout.contains("[pass] participant of the program"),
        "passing checks shown too: {stdout}"
    );
}

struct World {
    sandbox: RunningSandbox,
    keyring: PrivateKeyring,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

async fn world() -> Option<World> {
    let keyring = private_keyring_or_skip()?;
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    connect_through_cli(dir.path(), &data, &keyring, &sandbox).await;
    program(
        &data,
        true,
        &[MEMBER, GUEST, "lukasz.garcia4@contoso.example"],
    );
    Some(World {
        sandbox,
        keyring,
        data,
        _dir: dir,
    })
}

async fn run(w: &World, args: &[&str]) -> Output {
    Tsched::new(&w.data)
        .bus(&w.keyring.address)
        .run_async(args)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_meetings_commands_against_the_sandbox() {
    let Some(w) = world().await else { return };

    let out = run(
        &w,
        &[
            "members",
            "check",
            MEMBER,
            GUEST,
            "nobody.x@contoso.example",
            "--json",
        ],
    )
    .await;
    assert!(out.status.success(), "check: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let classes: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["result"]["class"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        classes,
        ["member", "guest", "not_found"],
        "every input with its class"
    );

    let csv = w.data.join("people.csv");
    std::fs::write(
        &csv,
        format!("name,email\nZoe,{MEMBER}\nBad,not-an-address\n"),
    )
    .expect("csv");
    let out = run(
        &w,
        &["members", "check", "--csv", csv.to_str().expect("path")],
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a malformed row makes the run fail: {stdout}"
    );
    assert!(
        stdout.contains("member") && stdout.contains("not-an-address"),
        "every row listed: {stdout}"
    );
    assert!(
        stdout.contains("(cached)"),
        "the member came from the cache: {stdout}"
    );

    let out = run(&w, &["members", "diagnose", GUEST, "--program", "eng"]).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "a guest cannot be offered a meeting"
    );
    assert!(
        text(&out.stdout).contains("[FAIL] member of the tenant (not a guest)"),
        "the failing check is named: {}",
        text(&out.stdout)
    );

    let out = run(
        &w,
        &[
            "meetings",
            "create",
            "--program",
            "eng",
            "--subject",
            "Guest call",
            "--start",
            "2027-03-15 09:00",
            "--duration",
            "30m",
            "--participant",
            GUEST,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "guest refused");
    assert!(
        text(&out.stderr).contains(GUEST),
        "refusal names the guest: {}",
        text(&out.stderr)
    );

    let create = [
        "meetings",
        "create",
        "--program",
        "eng",
        "--subject",
        "Intro; week 1",
        "--start",
        "2027-03-15 09:00",
        "--duration",
        "45m",
        "--tz",
        "Europe/Berlin",
        "--participant",
        MEMBER,
        "--external-id",
        "cli-ext-1",
        "--json",
    ];
    let out = run(&w, &create).await;
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(created["outcome"], "created", "201 the first time");
    assert_eq!(
        created["meeting"]["start_utc"], "2027-03-15T08:00:00Z",
        "Berlin 09:00 = 08:00 UTC"
    );
    let join = created["meeting"]["join_web_url"]
        .as_str()
        .expect("join url")
        .to_string();
    let out = run(&w, &create).await;
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        again["outcome"], "existing",
        "same externalId: no second meeting"
    );
    assert_eq!(
        w.sandbox.handle().snapshot()["meetings"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "one meeting upstream"
    );

    let out = run(
        &w,
        &[
            "meetings",
            "reschedule",
            "cli-ext-1",
            "--start",
            "2027-03-16 10:00",
            "--end",
            "2027-03-16 11:00",
            "--json",
        ],
    )
    .await;
    assert!(out.status.success(), "reschedule: {}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(r["join_web_url"], join.as_str(), "join link kept");
    assert_eq!(
        r["start_utc"], "2027-03-16T09:00:00Z",
        "meeting's own zone used"
    );

    let out = run(
        &w,
        &[
            "meetings",
            "list",
            "--program",
            "eng",
            "--participant",
            MEMBER,
        ],
    )
    .await;
    assert!(
        text(&out.stdout).contains("Intro; week 1"),
        "listed: {}",
        text(&out.stdout)
    );
    let out = run(&w, &["meetings", "show", "cli-ext-1"]).await;
    assert!(
        text(&out.stdout).contains("2027-03-16 10:00 CET"),
        "local time shown: {}",
        text(&out.stdout)
    );

    let out = run(&w, &["meetings", "ics", "cli-ext-1"]).await;
    let ics = text(&out.stdout);
    assert!(
        ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.contains("METHOD:REQUEST\r\n"),
        "REQUEST ics: {ics}"
    );
    assert!(
        ics.contains("UID:cli-ext-1@teams-scheduler"),
        "stable UID: {ics}"
    );

    let out = run(&w, &["meetings", "cancel", "cli-ext-1"]).await;
    assert!(out.status.success(), "cancel: {}", text(&out.stderr));
    let out = run(&w, &["meetings", "cancel", "cli-ext-1"]).await;
    assert!(
        out.status.success() && text(&out.stdout).contains("already cancelled"),
        "cancel twice: {}",
        text(&out.stdout)
    );
    let out = run(&w, &["meetings", "ics", "cli-ext-1"]).await;
    assert!(
        text(&out.stdout).contains("METHOD:CANCEL\r\n")
            && text(&out.stdout).contains("SEQUENCE:2\r\n"),
        "CANCEL with a higher SEQUENCE: {}",
        text(&out.stdout)
    );
    assert_eq!(
        w.sandbox.handle().snapshot()["meetings"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "gone upstream"
    );
}

/// Seeds `n` created meetings of program `eng` straight into the store (no tenant needed: the
/// export reads only the store), in setup mode (no operator yet, so the local user may read).
fn seed_created_meetings(data: &Path, n: usize) {
    let mut store = Store::open_in(data).expect("store");
    programs::add(
        &mut store,
        &Actor::local(),
        NewProgram {
            name: "Engineering".into(),
            code: Some("eng".into()),
            description: None,
        },
    )
    .expect("program");
    let mut sql = String::from("BEGIN;");
    for i in 0..n {
        let (day, hour) = (1 + i / 24, i % 24);
        sql.push_str(&format!(
            "INSERT INTO meetings (external_id, program_id, subject, start_utc, end_utc, time_zone,
                 state, graph_id, join_web_url, organizer_upn, created_by, created_at, updated_at)
             VALUES ('seed-{i}', (SELECT id FROM programs WHERE code = 'eng'), 'Meeting {i}',
                 '2027-04-{day:02}T{hour:02}:00:00Z', '2027-04-{day:02}T{hour:02}:30:00Z', 'UTC',
                 'created', 'g-{i}', 'https://teams.example/j', 'host@contoso.example',
                 'local:test', 'now', 'now');"
        ));
    }
    sql.push_str("COMMIT;");
    store.conn().execute_batch(&sql).expect("seed meetings");
}

#[test]
fn meetings_ics_with_filters_exported_only_the_first_100_of_250_meetings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    seed_created_meetings(&data, 250);
    let cli = Tsched::new(&data);
    let out_file = dir.path().join("eng.ics");
    let out = cli.run(&[
        "meetings",
        "ics",
        "--program",
        "eng",
        "--from",
        "2027-04-01",
        "--out",
        out_file.to_str().expect("utf-8 path"),
    ]);
    assert!(
        out.status.success(),
        "the export runs: {}",
        text(&out.stderr)
    );
    let ics = std::fs::read_to_string(&out_file).expect("ics written");
    assert_eq!(
        ics.matches("BEGIN:VEVENT").count(),
        250,
        "an export holds every matching meeting, not the first page of 100"
    );
    for i in [0, 99, 100, 249] {
        assert!(
            ics.contains(&format!("UID:seed-{i}@teams-scheduler")),
            "meeting {i} is in the export"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&out_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "an .ics export is owner-only");
    }
}
