//! Batch benchmark (not a timed test): `cargo bench -p tsched --bench batch`.
//!
//! For each ceiling (sandbox `throttle_rps` 50 then 200) it creates 1,000 meetings through the
//! batch executor (rate controller, concurrency 8) and through a naive baseline (one request at a
//! time, a fixed 1 s sleep on 429), each against a fresh in-process sandbox, and reports achieved
//! meetings/s ÷ ceiling, the share of createOrGet calls answered 429, duplicates in the sandbox,
//! and the ratio of the two. It repeats both with 50 ms of added latency per call (a Graph-like
//! round trip). Then it times the dry run of 10,000 rows, and runs `tsched batch run` on 1,000
//! rows as a child process, reading its peak memory (VmHWM) from /proc. Figures go to stdout as a
//! Markdown table for docs/BENCHMARKS.md.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, Utc};
use tsched_core::batch::run::{self as batch_run, Attempt, GraphTransport, Transport};
use tsched_core::batch::validate::{AddressClass, Facts, ProgramFacts};
use tsched_core::batch::{self, RunOptions};
use tsched_core::graph::meetings::CreateOrGet;
use tsched_core::graph::{BoxFuture, GraphClient, StaticToken};
use tsched_core::programs::{self, NewProgram};
use tsched_core::secret::Sensitive;
use tsched_core::{Actor, Store};
use tsched_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

const ROWS: usize = 1_000;
const ROUTE: &str = "POST /me/onlineMeetings/createOrGet";

/// Adds a fixed delay before each call, as a Graph round trip would.
#[derive(Debug)]
struct Delayed {
    inner: Arc<dyn Transport>,
    delay: Duration,
}

impl Transport for Delayed {
    fn create_or_get(&self, req: CreateOrGet) -> BoxFuture<'_, Attempt> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.inner.create_or_get(req).await
        })
    }
    fn delete(&self, id: String) -> BoxFuture<'_, Attempt> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.inner.delete(id).await
        })
    }
}

fn people(sb: &RunningSandbox) -> Vec<(String, String)> {
    let snap = sb.handle().snapshot();
    snap["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|u| u["userType"] == "Member" && u["isAdmin"] == false)
        .map(|u| {
            (
                u["userPrincipalName"].as_str().expect("upn").to_string(),
                u["id"].as_str().expect("id").to_string(),
            )
        })
        .filter(|(u, _)| !u.starts_with("teams.scheduler"))
        .take(20)
        .collect()
}

fn csv_text(n: usize, people: &[String]) -> String {
    let day0 = Utc::now() + ChronoDuration::days(3);
    let mut s = String::from("program,subject,start,duration_minutes,time_zone,participants\n");
    for i in 0..n {
        let day = (day0 + ChronoDuration::days((i / 96) as i64)).format("%Y-%m-%d");
        let slot = i % 96;
        s.push_str(&format!(
            "eng,Mentoring {i},{day} {:02}:{:02},15,UTC,{};{}\n",
            slot / 4,
            (slot % 4) * 15,
            people[i % people.len()],
            people[(i + 3) % people.len()]
        ));
    }
    s
}

fn facts(people: &[(String, String)]) -> Facts {
    let mut programs = HashMap::new();
    programs.insert(
        "eng".to_string(),
        ProgramFacts {
            code: "eng".into(),
            teams_enabled: true,
            participants: people.iter().map(|(u, _)| u.clone()).collect(),
            ..Default::default()
        },
    );
    let directory = people
        .iter()
        .map(|(u, id)| {
            (
                u.clone(),
                AddressClass::Member {
                    upn: u.clone(),
                    object_id: id.clone(),
                },
            )
        })
        .collect();
    Facts {
        programs,
        directory,
        now: Utc::now(),
        default_zone: Some("UTC".into()),
        dst: Default::default(),
    }
}

struct Measured {
    secs: f64,
    achieved: f64,
    share_429: f64,
    duplicates: i64,
    meetings: usize,
}

fn measure(sb: &RunningSandbox, secs: f64) -> Measured {
    let snap = sb.handle().snapshot();
    let ms = snap["meetings"].as_array().expect("meetings");
    let ext: HashSet<&str> = ms
        .iter()
        .filter_map(|m| m["external_id"].as_str())
        .collect();
    let log = sb.handle().request_log();
    let (mut total, mut throttled) = (0u64, 0u64);
    for c in log["counts"].as_array().expect("counts") {
        if c["route"] == ROUTE {
            let n = c["count"].as_u64().unwrap_or(0);
            total += n;
            if c["status"] == 429 {
                throttled += n;
            }
        }
    }
    Measured {
        secs,
        achieved: ms.len() as f64 / secs,
        share_429: throttled as f64 / total.max(1) as f64,
        duplicates: ms.len() as i64 - ext.len() as i64,
        meetings: ms.len(),
    }
}

async fn sandbox(rps: f64) -> (RunningSandbox, Arc<dyn Transport>, Vec<(String, String)>) {
    let sb = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        throttle_rps: Some(rps),
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let tokens = sb
        .handle()
        .mint_tokens("teams.scheduler@contoso.example", None, None)
        .expect("tokens");
    let access = tokens["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    let graph = GraphClient::new(
        &sb.graph_base_url(),
        Arc::new(StaticToken(Sensitive::new(access.clone()))),
    );
    let t: Arc<dyn Transport> = Arc::new(GraphTransport::over(
        &graph,
        Arc::new(StaticToken(Sensitive::new(access))),
    ));
    let p = people(&sb);
    (sb, t, p)
}

async fn ours(rps: f64, delay: Duration, concurrency: usize) -> Measured {
    let (sb, t, p) = sandbox(rps).await;
    let t: Arc<dyn Transport> = if delay.is_zero() {
        t
    } else {
        Arc::new(Delayed { inner: t, delay })
    };
    let upns: Vec<String> = p.iter().map(|(u, _)| u.clone()).collect();
    let text = csv_text(ROWS, &upns);
    let (_, plan) = batch::plan::plan_bytes(text.as_bytes(), &facts(&p));
    assert_eq!(
        plan.summary.ready as usize, ROWS,
        "every bench row is ready"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open_in(dir.path()).expect("store");
    let actor = Actor::local();
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
    let opts = RunOptions {
        concurrency,
        ..Default::default()
    };
    let id = batch_run::create(
        &mut store,
        &actor,
        "bench.csv",
        text.as_bytes(),
        &plan,
        &opts,
    )
    .expect("create");
    let t0 = Instant::now();
    let out = batch_run::execute(&mut store, t, &actor, id, &opts, &|_| {})
        .await
        .expect("execute");
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(out.batch.counts.done as usize, ROWS, "every row done");
    measure(&sb, secs)
}

async fn naive(rps: f64, delay: Duration) -> Measured {
    let (sb, t, p) = sandbox(rps).await;
    let upns: Vec<String> = p.iter().map(|(u, _)| u.clone()).collect();
    let text = csv_text(ROWS, &upns);
    let (_, plan) = batch::plan::plan_bytes(text.as_bytes(), &facts(&p));
    let t0 = Instant::now();
    for m in plan.ready() {
        loop {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let a = t
                .create_or_get(CreateOrGet {
                    external_id: m.external_id.clone(),
                    subject: m.subject.clone(),
                    start: m.start_utc,
                    end: m.end_utc,
                    attendees: m.attendees.clone(),
                })
                .await;
            match a {
                Attempt::Done { .. } => break,
                Attempt::Fatal { code, .. } => panic!("naive baseline failed: {code}"),
                _ => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }
    measure(&sb, t0.elapsed().as_secs_f64())
}

/// Dry run of 10,000 rows through `plan::validate` (store, directory cache, Graph $batch).
async fn validate_10k() -> f64 {
    let (sb, _, p) = sandbox(1_000.0).await;
    let upns: Vec<String> = p.iter().map(|(u, _)| u.clone()).collect();
    let text = csv_text(10_000, &upns);
    let (_, plan) = {
        let t0 = Instant::now();
        let r = batch::plan::plan_bytes(text.as_bytes(), &facts(&p));
        eprintln!(
            "pure plan of 10,000 rows: {:.3} s",
            t0.elapsed().as_secs_f64()
        );
        r
    };
    assert_eq!(plan.summary.ready, 10_000, "all ready");
    let tokens = sb
        .handle()
        .mint_tokens("teams.scheduler@contoso.example", None, None)
        .expect("tokens");
    let access = tokens["access_token"].as_str().expect("token").to_string();
    let graph = GraphClient::new(
        &sb.graph_base_url(),
        Arc::new(StaticToken(Sensitive::new(access))),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open_in(dir.path()).expect("store");
    let actor = Actor::local();
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
    let t0 = Instant::now();
    let (_, plan) = batch::plan::validate(
        &mut store,
        Some(&graph),
        &actor,
        text.as_bytes(),
        &Default::default(),
    )
    .await
    .expect("validate");
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(plan.summary.rows, 10_000, "every row judged");
    secs
}

/// A private session bus + Secret Service for the CLI child (never the developer's keyring).
struct Keyring {
    address: String,
    daemons: Vec<Child>,
    _home: tempfile::TempDir,
}

impl Keyring {
    fn start() -> Option<Keyring> {
        let home = tempfile::tempdir().ok()?;
        let mut dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!(
                "--address=unix:path={}",
                home.path().join("bus").display()
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut line = String::new();
        {
            use std::io::BufRead as _;
            std::io::BufReader::new(dbus.stdout.take()?)
                .read_line(&mut line)
                .ok()?;
        }
        let address = line.trim().to_string();
        std::fs::create_dir_all(home.path().join("run")).ok()?;
        let mut gk = Command::new("gnome-keyring-daemon")
            .args(["--unlock", "--components=secrets", "--foreground"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_RUNTIME_DIR", home.path().join("run"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        if let Some(mut s) = gk.stdin.take() {
            let _ = s.write_all(b"bench");
        }
        std::thread::sleep(Duration::from_millis(700));
        Some(Keyring {
            address,
            daemons: vec![gk, dbus],
            _home: home,
        })
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        for d in &mut self.daemons {
            let _ = d.kill();
            let _ = d.wait();
        }
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `tsched batch run` on 1,000 rows as a child; its peak resident memory in KiB and the wall time.
async fn cli_peak_memory() -> Option<(u64, f64)> {
    let kr = Keyring::start()?;
    let sb = Sandbox::spawn(SandboxConfig {
        auto_consent: true,
        throttle_rps: Some(200.0),
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let script = dir.path().join("follow.py");
    std::fs::write(
        &script,
        "import sys, urllib.request\nurllib.request.urlopen(sys.argv[1], timeout=20).read()\n",
    )
    .ok()?;
    let h = sb.handle().clone();
    let bin = env!("CARGO_BIN_EXE_tsched");
    let run = |args: Vec<String>| {
        let (d, bus, browser) = (
            data.clone(),
            kr.address.clone(),
            format!("python3 {}", script.display()),
        );
        tokio::task::spawn_blocking(move || {
            Command::new(bin)
                .arg("--data-dir")
                .arg(&d)
                .args(&args)
                .env("DBUS_SESSION_BUS_ADDRESS", bus)
                .env("BROWSER", browser)
                .output()
                .expect("tsched")
        })
    };
    let out = run(vec![
        "integration".into(),
        "connect".into(),
        "--tenant".into(),
        h.tenant_id(),
        "--client-id".into(),
        h.client_id(),
        "--sandbox".into(),
        sb.base_url().to_string(),
        "--timeout".into(),
        "30".into(),
    ])
    .await
    .ok()?;
    if !out.status.success() {
        eprintln!("connect failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let p = people(&sb);
    {
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
        .ok()?;
        programs::set_mode(
            &mut store,
            &actor,
            "eng",
            tsched_core::programs::MeetingMode::TeamsVideo,
            true,
            None,
        )
        .ok()?;
        for (u, _) in &p {
            tsched_core::participants::add(&mut store, &actor, "eng", u, "").ok()?;
        }
    }
    let upns: Vec<String> = p.iter().map(|(u, _)| u.clone()).collect();
    let file = dir.path().join("rows.csv");
    std::fs::write(&file, csv_text(ROWS, &upns)).ok()?;
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .arg("--data-dir")
        .arg(&data)
        .args(["batch", "run", file.to_str()?, "--json"])
        .env("DBUS_SESSION_BUS_ADDRESS", &kr.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let pid = child.id();
    let mut peak = 0;
    loop {
        if let Some(k) = vm_hwm_kib(pid) {
            peak = peak.max(k);
        }
        if child.try_wait().ok()?.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let meetings = sb.handle().snapshot()["meetings"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(meetings, ROWS, "the CLI run created every meeting");
    Some((peak, secs))
}

fn row(label: &str, rps: f64, m: &Measured) -> String {
    format!(
        "| {label} | {rps:.0} | {:.2} | {:.1} | {:.3} | {:.2} % | {} | {} |",
        m.secs,
        m.achieved,
        m.achieved / rps,
        m.share_429 * 100.0,
        m.duplicates,
        m.meetings
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        println!("| client | ceiling (req/s) | time (s) | meetings/s | ÷ ceiling | 429 share | duplicates | meetings |");
        println!("|---|---|---|---|---|---|---|---|");
        let mut ratios = Vec::new();
        for (delay, conc) in [(Duration::ZERO, 8usize), (Duration::from_millis(50), 16)] {
            for rps in [50.0, 200.0] {
                let a = ours(rps, delay, conc).await;
                let b = naive(rps, delay).await;
                let tag = if delay.is_zero() { "localhost".to_string() } else { format!("+{} ms/call", delay.as_millis()) };
                println!("{}", row(&format!("batch executor, concurrency {conc} ({tag})"), rps, &a));
                println!("{}", row(&format!("naive baseline ({tag})"), rps, &b));
                ratios.push(format!("{tag} @ {rps:.0}/s: executor ÷ naive = {:.2}×", a.achieved / b.achieved));
            }
        }
        println!();
        for r in ratios {
            println!("- {r}");
        }
        let v = validate_10k().await;
        println!("- dry run of 10,000 rows (store, membership via $batch, plan): {v:.2} s");
        match cli_peak_memory().await {
            Some((kib, secs)) => println!(
                "- `tsched batch run` of {ROWS} rows at 200 req/s: peak RSS (VmHWM) {:.1} MiB, {secs:.1} s wall",
                kib as f64 / 1024.0
            ),
            None => println!("- CLI peak memory: skipped (needs dbus-daemon and gnome-keyring-daemon)"),
        }
    });
}
