//! The host agent (issue 20) over a real PostgreSQL 15 cluster (tsched-pgtest), the sandbox over
//! HTTP and a private Secret Service: a global admin connects the tenant on workstation A and
//! runs `tsched agent` there; a coordinator on workstation B (its own data directory, no host
//! token, no keyring at all) queues meetings and a 200-row batch; the agent carries them out.
//! Two agents killed with `kill -9` at seeded random moments still make exactly one meeting per
//! row; a coordinator cannot queue work for another program, through the CLI or raw psql.
//!
//! Run with the keyring tests: `scripts/test-in-session.sh -p tsched --test agent`.

mod support;

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, Utc};
use rand::{Rng, SeedableRng};
use support::keyring::{private_keyring_or_skip, with_following_browser, PrivateKeyring};
use support::Tsched;
use tsched_core::operators::{self, NewOperator};
use tsched_core::programs::{self, MeetingMode, NewProgram};
use tsched_core::roles::Role;
use tsched_core::store::postgres::PgConfig;
use tsched_core::{participants, Actor, Store};
use tsched_pgtest::Cluster;
use tsched_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

const OWNER: &str = "tsched_owner";
const OWNER_PW: &str = "owner-Pw-9";
const DB: &str = "tsched";
const ADMIN: &str = "ana@contoso.com";
const ADMIN_PW: &str = "Ana-S3cret-pw";
const COORD: &str = "cory@contoso.com";
const COORD_PW: &str = "Cory-S3cret-pw";

/// A team: the database with programs `eng` and `ops`, a coordinator of `eng`, the tenant
/// connected on the admin's workstation (A), and the coordinator's workstation (B).
struct Team {
    sandbox: RunningSandbox,
    keyring: PrivateKeyring,
    cluster: Cluster,
    /// Workstation A: the global admin, with the host's token in the private keyring.
    admin: Tsched,
    admin_url: String,
    /// Workstation B: the coordinator; no keyring reachable.
    coord: Tsched,
    coord_url: String,
    people: Vec<String>,
    dir: tempfile::TempDir,
}

fn url(cluster: &Cluster, login: &str, password: &str) -> String {
    format!(
        "{}&sslrootcert={}",
        cluster.url(login, password, DB, "verify-full"),
        cluster.ca_file().display()
    )
}

fn run_stdin(t: &Tsched, args: &[&str], input: &str) -> Output {
    let mut child = t
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tsched starts");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("tsched ends")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn team(throttle: Option<f64>) -> Option<Team> {
    let keyring = private_keyring_or_skip()?;
    let sandbox = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        throttle_rps: throttle,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let cluster = Cluster::start();
    cluster.create_login(OWNER, OWNER_PW);
    cluster.superuser_sql("postgres", &format!("ALTER ROLE {OWNER} CREATEROLE;"));
    cluster.create_database(DB, Some(OWNER));
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = cluster.ca_file().display().to_string();

    let owner = Tsched::new(dir.path().join("owner"));
    let owner_url = format!(
        "postgres://{OWNER}@{}:{}/{DB}?sslmode=verify-full",
        cluster.host(),
        cluster.port()
    );
    let init = run_stdin(
        &owner,
        &[
            "store",
            "init",
            &owner_url,
            "--admin",
            ADMIN,
            "--admin-name",
            "Ana",
            "--ca-file",
            &ca,
            "--password-stdin",
        ],
        &format!("{OWNER_PW}\n"),
    );
    assert!(init.status.success(), "store init: {}", text(&init));
    cluster.superuser_sql(
        "postgres",
        &format!("SET password_encryption = 'scram-sha-256'; ALTER ROLE \"{ADMIN}\" PASSWORD '{ADMIN_PW}';"),
    );
    let admin_url = url(&cluster, ADMIN, ADMIN_PW);

    // Workstation A connects the tenant: the host's token goes to A's keyring only.
    let admin_dir = dir.path().join("ana");
    let h = sandbox.handle();
    let connect = with_following_browser(
        dir.path(),
        &admin_dir,
        &keyring.address,
        &[
            "--database-url",
            &admin_url,
            "integration",
            "connect",
            "--tenant",
            &h.tenant_id(),
            "--client-id",
            &h.client_id(),
            "--sandbox",
            sandbox.base_url(),
            "--timeout",
            "30",
        ],
    )
    .await;
    assert!(
        connect.status.success(),
        "the admin connects the tenant on workstation A: {}",
        text(&connect)
    );
    // The admin sets up the programs and the coordinator through the core, as the window would.
    let cfg = PgConfig::parse(&admin_url).expect("admin URL");
    let mut store = Store::open_postgres(&cfg, None).expect("the admin opens the team store");
    let ana = Actor::operator(ADMIN);
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
    for (code, name) in [("eng", "Engineering"), ("ops", "Operations")] {
        programs::add(
            &mut store,
            &ana,
            NewProgram {
                name: name.into(),
                code: Some(code.into()),
                description: None,
            },
        )
        .expect("program");
        programs::set_mode(&mut store, &ana, code, MeetingMode::TeamsVideo, true, None)
            .expect("teams on");
        for p in &people {
            participants::add(&mut store, &ana, code, p, "").expect("participant");
        }
    }
    operators::add(
        &mut store,
        &ana,
        NewOperator {
            upn: COORD.into(),
            display_name: "Cory".into(),
        },
    )
    .expect("coordinator added");
    operators::grant(&mut store, &ana, COORD, Role::Coordinator, Some("eng"))
        .expect("coordinator of eng");
    drop(store);
    cluster.superuser_sql(
        "postgres",
        &format!("SET password_encryption = 'scram-sha-256'; ALTER ROLE \"{COORD}\" PASSWORD '{COORD_PW}';"),
    );

    let admin = Tsched::new(&admin_dir).bus(&keyring.address);
    let coord = Tsched::new(dir.path().join("cory"));
    let coord_url = url(&cluster, COORD, COORD_PW);
    Some(Team {
        sandbox,
        keyring,
        cluster,
        admin,
        admin_url,
        coord,
        coord_url,
        people,
        dir,
    })
}

impl Team {
    /// `tsched agent run` on workstation A (output in a file, for a failure's message).
    fn agent(&self, n: usize, claim_ttl: &str) -> Child {
        let log = std::fs::File::create(self.dir.path().join(format!("agent-{n}.log")))
            .expect("agent log");
        self.admin
            .command(&[
                "--database-url",
                &self.admin_url,
                "agent",
                "run",
                "--json",
                "--claim-ttl",
                claim_ttl,
            ])
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("agent starts")
    }

    fn agent_logs(&self) -> String {
        (0..4)
            .filter_map(|n| {
                std::fs::read_to_string(self.dir.path().join(format!("agent-{n}.log"))).ok()
            })
            .collect::<Vec<_>>()
            .join("\n---\n")
    }

    /// `tsched --database-url <coordinator> ARGS` on workstation B.
    fn coord(&self, args: &[&str]) -> Output {
        let mut all = vec!["--database-url", &self.coord_url];
        all.extend_from_slice(args);
        self.coord.run(&all)
    }

    fn sql(&self, sql: &str) -> String {
        self.cluster.superuser_sql(DB, sql).trim().to_string()
    }

    fn csv(&self, n: usize, program: &str) -> PathBuf {
        let day = (Utc::now() + ChronoDuration::days(3))
            .format("%Y-%m-%d")
            .to_string();
        let mut s = String::from(
            "program,subject,start,duration_minutes,time_zone,participants,external_ref\r\n",
        );
        for i in 0..n {
            s.push_str(&format!(
                "{program},\"Mentoring, session {i}\",{day} {:02}:{:02},25,Europe/Paris,{};{},row-{i}\r\n",
                (i / 12) % 24,
                (i % 12) * 5,
                self.people[i % self.people.len()],
                self.people[(i + 2) % self.people.len()],
            ));
        }
        let path = self.dir.path().join(format!("{program}-{n}.csv"));
        std::fs::write(&path, s).expect("csv");
        path
    }

    fn sandbox_meetings(&self) -> (usize, usize) {
        let snap = self.sandbox.handle().snapshot();
        let meetings = snap["meetings"].as_array().expect("meetings");
        let ext: HashSet<&str> = meetings
            .iter()
            .filter_map(|m| m["external_id"].as_str())
            .collect();
        (meetings.len(), ext.len())
    }
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_without_the_host_token_queues_work_that_the_agent_on_another_workstation_carries_out(
) {
    let Some(t) = team(None).await else {
        return;
    };
    // Queued before any agent runs: the job waits, and B is told so.
    let day = (Utc::now() + ChronoDuration::days(4))
        .format("%Y-%m-%d")
        .to_string();
    let start = format!("{day} 10:00");
    let single = [
        "meetings",
        "create",
        "--program",
        "eng",
        "--subject",
        "Kick-off",
        "--start",
        &start,
        "--duration",
        "30m",
        "--tz",
        "Europe/Paris",
        "--participant",
        &t.people[0],
    ];
    let out = t.coord(&single);
    assert!(out.status.success(), "enqueue: {}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("Queued as job 1") && said.contains("no host agent is online"),
        "without --wait, B gets the job id and learns no agent runs yet: {said}"
    );
    let status = t.coord(&["agent", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    assert_eq!(v["online"].as_array().map(Vec::len), Some(0), "{v}");
    assert_eq!(v["queue"]["queued"], 1, "one job waits: {v}");
    assert!(
        v["queue"]["oldest_waiting_since"].is_string(),
        "status names the oldest waiting job's time: {v}"
    );

    let agent = t.agent(0, "30");
    // The queued job is carried out once the agent runs.
    let job = t.coord(&["agent", "job", "1", "--wait", "--json"]);
    assert!(
        job.status.success(),
        "job 1: {} {}",
        text(&job),
        t.agent_logs()
    );
    let v: serde_json::Value = serde_json::from_slice(&job.stdout).expect("job result JSON");
    let join = v["meeting"]["join_web_url"].as_str().unwrap_or("");
    assert!(
        join.starts_with("https://"),
        "the result carries the join link: {v}"
    );
    assert_eq!(t.sandbox_meetings(), (1, 1), "one meeting in the tenant");

    // --wait on create: the result as a direct create shows it.
    let mut waited: Vec<&str> = single
        .iter()
        .map(|a| if *a == "Kick-off" { "Follow-up" } else { a })
        .collect();
    waited.push("--wait");
    let out = t.coord(&waited);
    assert!(out.status.success(), "create --wait: {}", text(&out));
    assert!(
        text(&out).contains("Created by the host agent") && text(&out).contains("Join: https://"),
        "{}",
        text(&out)
    );

    // The agent is online for every workstation.
    let status = t.coord(&["agent", "status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    let online = v["online"].as_array().expect("online");
    assert_eq!(online.len(), 1, "one agent online: {v}");
    assert_eq!(online[0]["login"], ADMIN, "{v}");
    assert_eq!(v["queue"]["queued"], 0, "nothing waits: {v}");

    // A 200-row batch from B: followed here with progress, results from the shared store.
    let file = t.csv(200, "eng");
    let out = t.coord(&["batch", "run", path(&file), "--json"]);
    assert!(
        out.status.success(),
        "batch run through the agent: {} {}",
        text(&out),
        t.agent_logs()
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
        .collect();
    assert_eq!(events[0]["event"], "queued", "{stdout}");
    assert_eq!(
        events[1]["event"], "started",
        "then the events of a direct run: {stdout}"
    );
    assert_eq!(events[1]["total"], 200, "{stdout}");
    assert!(
        events.iter().filter(|e| e["event"] == "progress").count() > 1,
        "B sees progress: {stdout}"
    );
    let last = events.last().expect("events");
    assert_eq!(last["event"], "finished", "{stdout}");
    assert_eq!(last["state"], "completed", "{stdout}");
    assert_eq!(last["done"], 200, "{stdout}");
    let batch = events[1]["batch"].as_i64().expect("batch id").to_string();
    assert_eq!(
        t.sandbox_meetings(),
        (202, 202),
        "one meeting per row plus the two single ones"
    );
    let export = t.coord(&["batch", "export", &batch, "--format", "csv"]);
    let csv = String::from_utf8_lossy(&export.stdout);
    assert_eq!(csv.lines().count(), 201, "B exports every row: {csv:.200}");
    assert!(
        csv.lines().skip(1).all(|l| l.contains("https://")),
        "every exported row has its join link"
    );

    // The audit trail names the requester, with the agent's login beside it.
    let audit = t.sql(
        "SELECT operator || '|' || coalesce(real_actor, '') FROM tsched.audit_log \
         WHERE action = 'batch.create'",
    );
    assert_eq!(audit, format!("{COORD}|{ADMIN}"), "batch.create is Cory's");
    let creates = t.sql(
        "SELECT count(*) FILTER (WHERE operator = 'cory@contoso.com' \
                                 AND real_actor = 'ana@contoso.com') || '/' || count(*) \
         FROM tsched.audit_log WHERE action = 'meeting.create'",
    );
    assert_eq!(
        creates, "202/202",
        "every meeting created for Cory is audited as Cory's, the agent beside"
    );

    // Cancel through the queue: the meeting is gone upstream.
    let out = t.coord(&["meetings", "cancel", "1", "--wait"]);
    assert!(out.status.success(), "cancel --wait: {}", text(&out));
    assert_eq!(t.sandbox_meetings().0, 201, "the cancelled meeting is gone");
    kill(agent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_cannot_queue_work_for_another_program_through_the_cli_or_psql() {
    let Some(t) = team(None).await else {
        return;
    };
    let day = (Utc::now() + ChronoDuration::days(4))
        .format("%Y-%m-%d")
        .to_string();
    let start = format!("{day} 10:00");
    let out = t.coord(&[
        "meetings",
        "create",
        "--program",
        "ops",
        "--subject",
        "Not mine",
        "--start",
        &start,
        "--duration",
        "30m",
        "--participant",
        &t.people[0],
    ]);
    // The team database shows a coordinator only their programs: 'ops' is not found (4) for
    // them, or not allowed (6); either way nothing is queued.
    let refused = |o: &Output| matches!(o.status.code(), Some(4 | 6)) && text(o).contains("'ops'");
    assert!(refused(&out), "refused: {}", text(&out));
    let file = t.csv(3, "ops");
    let out = t.coord(&["batch", "run", path(&file)]);
    assert!(refused(&out), "refused: {}", text(&out));
    assert_eq!(t.sql("SELECT count(*) FROM tsched.work_queue"), "0");

    let ops = t.sql("SELECT id FROM tsched.programs WHERE code = 'ops'");
    let eng = t.sql("SELECT id FROM tsched.programs WHERE code = 'eng'");
    for (sql, what) in [
        (
            format!("INSERT INTO tsched.work_queue (kind, program_id, payload) VALUES ('meeting.create', {ops}, '{{}}')"),
            "a meeting job for ops",
        ),
        (
            "INSERT INTO tsched.work_queue (kind, programs, payload) VALUES ('batch.run', 'ops', '{}')".to_string(),
            "a batch job for ops",
        ),
        (
            "INSERT INTO tsched.work_queue (kind, programs, payload) VALUES ('batch.run', 'eng ops', '{}')".to_string(),
            "a batch job for eng and ops",
        ),
    ] {
        let r = t.cluster.psql_as(COORD, COORD_PW, DB, &sql);
        assert!(
            !r.success && r.stderr.contains("row-level security"),
            "{what} is refused by the database: {r:?}"
        );
    }
    // Nobody names another requester or a state: those columns are the server's.
    let r = t.cluster.psql_as(
        COORD,
        COORD_PW,
        DB,
        &format!(
            "INSERT INTO tsched.work_queue (kind, program_id, payload, requested_by) \
             VALUES ('meeting.create', {eng}, '{{}}', 'ana@contoso.com')"
        ),
    );
    assert!(
        !r.success && r.stderr.contains("permission denied"),
        "a job in another's name is refused: {r:?}"
    );
    // Their own program: allowed, and stamped with their login.
    let r = t.cluster.psql_as(
        COORD,
        COORD_PW,
        DB,
        &format!(
            "INSERT INTO tsched.work_queue (kind, program_id, payload) \
             VALUES ('meeting.create', {eng}, '{{}}') RETURNING requested_by || ' ' || state"
        ),
    );
    assert!(r.success, "{r:?}");
    assert_eq!(
        r.stdout.lines().next().unwrap_or("").trim(),
        "cory@contoso.com queued",
        "the server stamps who asked and that it waits"
    );
    // Only agents (global admins) claim or finish jobs.
    let r = t.cluster.psql_as(
        COORD,
        COORD_PW,
        DB,
        "UPDATE tsched.work_queue SET state = 'done'",
    );
    assert!(
        !r.success && r.stderr.contains("permission denied"),
        "a coordinator cannot mark a job done: {r:?}"
    );
    assert_eq!(
        t.sql("SELECT count(*) FROM tsched.work_queue"),
        "1",
        "only the allowed job is queued"
    );
    // And a coordinator does not run an agent.
    let out = t.coord(&["agent", "run", "--until-idle"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        text(&out).contains("only a global admin runs the host agent"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_killed_at_random_moments_still_make_exactly_one_meeting_per_row() {
    let started = Instant::now();
    let Some(t) = team(Some(10.0)).await else {
        return;
    };
    let file = t.csv(200, "eng");
    let out = t.coord(&["batch", "run", path(&file), "--detach"]);
    assert!(out.status.success(), "queue the batch: {}", text(&out));
    let seed: u64 = std::env::var("TSCHED_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_205);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut agents = [Some(t.agent(0, "2")), Some(t.agent(1, "2"))];
    let mut kills = 0;
    let mut holder_kills = 0;
    let job_state = || t.sql("SELECT state FROM tsched.work_queue WHERE id = 1");
    while kills < 12 && job_state() != "done" {
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..1500))).await;
        // Every other round the agent holding the job dies; else one at random.
        let holder = t.sql(
            "SELECT split_part(claimed_by, '@', 1) FROM tsched.work_queue \
             WHERE id = 1 AND state = 'claimed'",
        );
        let victim = agents
            .iter()
            .position(|a| {
                kills % 2 == 0 && a.as_ref().is_some_and(|c| c.id().to_string() == holder)
            })
            .unwrap_or_else(|| rng.random_range(0..2));
        if let Some(c) = agents[victim].take() {
            if c.id().to_string() == holder {
                holder_kills += 1;
            }
            kill(c);
            kills += 1;
        }
        agents[victim] = Some(t.agent(victim, "2"));
    }
    eprintln!("agent crash test: {kills} kills, {holder_kills} of the holder (seed {seed})");
    let deadline = Instant::now() + Duration::from_secs(120);
    while job_state() != "done" {
        assert!(
            Instant::now() < deadline,
            "the job ends after the kills: {} {}",
            t.sql("SELECT state || ' ' || coalesce(error, '') FROM tsched.work_queue"),
            t.agent_logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for a in agents.into_iter().flatten() {
        kill(a);
    }
    assert!(kills >= 10, "at least ten kills happened mid-run: {kills}");
    assert_eq!(
        t.sandbox_meetings(),
        (200, 200),
        "exactly one meeting per row, no externalId twice, after {kills} kills (seed {seed})"
    );
    assert_eq!(
        t.sql("SELECT count(*) FROM tsched.batches"),
        "1",
        "every agent continued the one batch the job stored"
    );
    assert_eq!(
        t.sql("SELECT count(*) FROM tsched.batch_items WHERE state = 'done'"),
        "200",
        "every item is done"
    );
    let attempts: i64 = t
        .sql("SELECT attempts FROM tsched.work_queue WHERE id = 1")
        .parse()
        .expect("attempts");
    if holder_kills > 0 {
        assert!(
            attempts > 1,
            "the job was taken over after its holder died ({attempts} attempts)"
        );
    }
    let _ = &t.keyring;
    assert!(
        started.elapsed() < Duration::from_secs(240),
        "the crash test stays under 4 minutes"
    );
}

impl Team {
    /// `tsched agent run` with a quick poll (and claim lapse), for the fault tests.
    fn quick_agent(&self, n: usize) -> Child {
        let log = std::fs::File::create(self.dir.path().join(format!("agent-{n}.log")))
            .expect("agent log");
        self.admin
            .command(&[
                "--database-url",
                &self.admin_url,
                "agent",
                "run",
                "--json",
                "--claim-ttl",
                "3",
                "--poll",
                "1",
            ])
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("agent starts")
    }

    async fn until(&self, what: &str, sql: &str, want: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.sql(sql);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: still '{got}' after {secs} s; agents: {}",
                self.agent_logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_reconnects_after_losing_the_database_and_finishes_the_batch() {
    let Some(t) = team(Some(20.0)).await else {
        return;
    };
    let agent = t.quick_agent(0);
    let file = t.csv(100, "eng");
    let out = t.coord(&["batch", "run", path(&file), "--detach"]);
    assert!(out.status.success(), "queue the batch: {}", text(&out));
    // Mid-run, the server drops every session of the agent's login.
    t.until(
        "the batch gets going",
        "SELECT (count(*) > 10)::text FROM tsched.batch_items WHERE state = 'done'",
        "true",
        60,
    )
    .await;
    let dropped = t.sql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE usename = 'ana@contoso.com'",
    );
    assert_ne!(dropped, "0", "the agent's sessions were dropped");
    t.until(
        "the job ends after the reconnect",
        "SELECT state FROM tsched.work_queue WHERE id = 1",
        "done",
        120,
    )
    .await;
    kill(agent);
    let log = t.agent_logs();
    assert!(
        log.contains("\"event\":\"database_lost\"")
            && log.contains("\"event\":\"database_restored\""),
        "the agent said it lost the database and reconnected: {log}"
    );
    assert_eq!(
        t.sandbox_meetings(),
        (100, 100),
        "exactly one meeting per row across the reconnect"
    );
    assert_eq!(
        t.sql("SELECT count(*) FROM tsched.batch_items WHERE state = 'done'"),
        "100"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_host_pauses_the_queue_for_everyone_until_the_host_reconnects() {
    let Some(t) = team(None).await else {
        return;
    };
    let agent = t.quick_agent(0);
    let h = t.sandbox.handle();
    let host = h.host_upn().expect("the sandbox's host account");
    h.revoke_refresh_tokens(&host);
    h.expire_access_tokens();
    let day = (Utc::now() + ChronoDuration::days(4))
        .format("%Y-%m-%d")
        .to_string();
    let start = format!("{day} 10:00");
    let out = t.coord(&[
        "meetings",
        "create",
        "--program",
        "eng",
        "--subject",
        "After the revocation",
        "--start",
        &start,
        "--duration",
        "30m",
        "--participant",
        &t.people[0],
    ]);
    assert!(out.status.success(), "enqueue: {}", text(&out));
    // Every workstation sees the pause, and the job waits (given back, not failed).
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let out = t.coord(&["agent", "status", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
        if v["paused"].is_string() {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the agent pauses: {v} {}",
            t.agent_logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        status["paused"]
            .as_str()
            .is_some_and(|r| r.contains("reconnect the host")),
        "the pause names the fix: {status}"
    );
    let human = text(&t.coord(&["agent", "status"]));
    assert!(human.contains("Paused: reconnect the host"), "{human}");
    assert_eq!(
        t.sql("SELECT state FROM tsched.work_queue WHERE id = 1"),
        "queued",
        "the job is given back, not failed"
    );
    assert_eq!(t.sandbox_meetings().0, 0, "nothing was made meanwhile");

    // The admin reconnects on workstation A; the agent resumes by itself.
    let connect = with_following_browser(
        t.dir.path(),
        &t.dir.path().join("ana"),
        &t.keyring.address,
        &[
            "--database-url",
            &t.admin_url,
            "integration",
            "connect",
            "--tenant",
            &h.tenant_id(),
            "--client-id",
            &h.client_id(),
            "--sandbox",
            t.sandbox.base_url(),
            "--timeout",
            "30",
        ],
    )
    .await;
    assert!(connect.status.success(), "reconnect: {}", text(&connect));
    t.until(
        "the job is carried out after the reconnect",
        "SELECT state FROM tsched.work_queue WHERE id = 1",
        "done",
        60,
    )
    .await;
    kill(agent);
    assert_eq!(t.sandbox_meetings(), (1, 1), "the meeting was made once");
    assert!(
        t.agent_logs().contains("\"event\":\"resumed\""),
        "{}",
        t.agent_logs()
    );
}
