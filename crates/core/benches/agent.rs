//! Host agent benchmark (issue 20, not a timed test): `cargo bench -p tsched-core --bench agent`.
//!
//! For each sandbox ceiling (`throttle_rps` 50 then 200) it sets up a team as `tsched` would: a
//! throwaway PostgreSQL cluster (tsched-pgtest) initialised by `store init`'s core call with a
//! first global admin, the tenant connected by that admin through the sandbox (auto-consent; the
//! "browser" is a plain GET that follows the redirects, the host's refresh token goes to an
//! in-memory token store), a program with 20 participants and a coordinator of it. Then, in one
//! run, side by side against the same sandbox:
//!
//! 1. **direct**: what `tsched batch run --direct` does on the admin's machine — validate 1,000
//!    rows against the directory, store the batch, execute it (concurrency 8);
//! 2. **agent**: the coordinator's workstation queues the same kind of file
//!    (`agent::enqueue_batch_run`, its own login and connection) and an agent already running
//!    in-process (`Agent::start` + `Agent::run`, on a thread and runtime of its own, woken by the
//!    team database's change feed exactly as `tsched agent run` wires it) carries it out; timed
//!    from the enqueue to the agent's `Finished` event, and to `agent::wait` returning;
//! 3. **single meetings**: the coordinator queues meetings one after another
//!    (`agent::enqueue_create` then `agent::wait`, as `tsched meetings create --wait`), and the
//!    enqueue→claimed, enqueue→finished (the Graph call made and recorded) and enqueue→`wait`
//!    returned latencies are reported as p50/p95.
//!
//! Each run's meetings/s is rows ÷ wall time (validation included on both sides), reported ÷ the
//! ceiling, with the 429s on createOrGet and the duplicates found in the sandbox. Two controls say
//! where the time goes: the direct run's phases, the same direct run on an embedded store (SQLite)
//! at each ceiling, and the round trip of one small query on the team store.
//!
//! The sandbox, the direct run and the agent each get a tokio runtime (2 workers) of their own, as
//! separate processes would; the workstation side runs on the main one. The report goes to stdout
//! and `$CARGO_TARGET_DIR/bench-reports/agent.md`.
//!
//! To look closer: `AGENT_BENCH_CEILINGS=50` (comma-separated) runs only those ceilings, and
//! `AGENT_BENCH_TRACE=1` prints every 429 of the direct runs on stderr with the rate the
//! controller paces at after it.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Duration as ChronoDuration, NaiveDateTime, Utc};
use tsched_core::agent::{self, Agent, AgentEvent, AgentOptions};
use tsched_core::auth::{AuthError, Cloud, FnOpener, MemoryTokenStore, TokenStore};
use tsched_core::batch::plan::PlanOptions;
use tsched_core::batch::run::{self as batch_run, GraphTransport, RunOptions};
use tsched_core::batch::BatchEvent;
use tsched_core::integration::{self, ConnectRequest};
use tsched_core::meetings::{EndSpec, NewMeeting};
use tsched_core::operators::{self, NewOperator};
use tsched_core::programs::{self, MeetingMode, NewProgram};
use tsched_core::roles::Role;
use tsched_core::secret::Sensitive;
use tsched_core::store::location::init_team_database;
use tsched_core::store::postgres::{FeedEvent, PgConfig};
use tsched_core::store::queue::JobState;
use tsched_core::{participants, Actor, Store};
use tsched_pgtest::Cluster;
use tsched_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

const ROWS: usize = 1_000;
/// Single meetings queued back to back, then with an idle gap before each.
const SINGLES: usize = 50;
const SPACED: usize = 30;
const GAP: Duration = Duration::from_millis(500);
/// The ceiling at which the single meetings are queued (one Graph call each: the ceiling does
/// not bind).
const SINGLES_AT: f64 = 200.0;
const CONCURRENCY: usize = 8;
const CEILINGS: [f64; 2] = [50.0, 200.0];
const ROUTE: &str = "POST /me/onlineMeetings/createOrGet";

const OWNER: &str = "tsched_owner";
const OWNER_PW: &str = "owner-Pw-9";
const DB: &str = "tsched";
const ADMIN: &str = "ana@contoso.com";
const ADMIN_PW: &str = "Ana-S3cret-pw";
const COORD: &str = "cory@contoso.com";
const COORD_PW: &str = "Cory-S3cret-pw";

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// A team on one cluster and one sandbox.
struct Team {
    sandbox: RunningSandbox,
    /// The sandbox's own runtime, so neither side's blocking store calls slow its server.
    sandbox_rt: Option<tokio::runtime::Runtime>,
    cluster: Cluster,
    tokens: Arc<MemoryTokenStore>,
    people: Vec<String>,
}

impl Team {
    fn cfg(&self, login: &str, password: &str) -> Res<PgConfig> {
        let url = format!(
            "{}&sslrootcert={}",
            self.cluster.url(login, password, DB, "verify-full"),
            self.cluster.ca_file().display()
        );
        Ok(PgConfig::parse(&url)?)
    }

    fn admin_store(&self) -> Res<Store> {
        Ok(Store::open_postgres(&self.cfg(ADMIN, ADMIN_PW)?, None)?)
    }

    fn coord_store(&self) -> Res<Store> {
        Ok(Store::open_postgres(&self.cfg(COORD, COORD_PW)?, None)?)
    }

    fn tokens(&self) -> Arc<dyn TokenStore> {
        self.tokens.clone()
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        // Dropped inside the main runtime, where a runtime may not block on its shutdown.
        if let Some(rt) = self.sandbox_rt.take() {
            rt.shutdown_background();
        }
    }
}

fn set_password(cluster: &Cluster, login: &str, pw: &str) {
    cluster.superuser_sql(
        "postgres",
        &format!(
            "SET password_encryption = 'scram-sha-256'; ALTER ROLE \"{login}\" PASSWORD '{pw}';"
        ),
    );
}

/// The browser of an auto-consent sandbox: follow the authorize URL's redirects to the loopback.
fn following_opener() -> FnOpener<impl Fn(&str) -> Result<(), AuthError> + Send + Sync> {
    FnOpener(|url: &str| {
        let url = url.to_string();
        tokio::spawn(async move {
            if let Err(e) = reqwest::get(&url).await {
                eprintln!("the scripted browser failed: {e}");
            }
        });
        Ok(())
    })
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// A sandbox served by a runtime of its own (a separate process in real life).
async fn sandbox(rps: f64) -> Res<(RunningSandbox, tokio::runtime::Runtime)> {
    let rt = runtime()?;
    let sb = rt
        .spawn(Sandbox::spawn(SandboxConfig {
            auto_consent: true,
            throttle_rps: Some(rps),
            ..Default::default()
        }))
        .await??;
    Ok((sb, rt))
}

fn sandbox_people(sb: &RunningSandbox) -> Res<Vec<String>> {
    let snap = sb.handle().snapshot();
    Ok(snap["users"]
        .as_array()
        .ok_or("no users in the sandbox")?
        .iter()
        .filter(|u| u["userType"] == "Member" && u["isAdmin"] == false)
        .filter_map(|u| u["userPrincipalName"].as_str().map(str::to_string))
        .filter(|u| !u.starts_with("teams.scheduler"))
        .take(20)
        .collect())
}

fn connect_request(sb: &RunningSandbox) -> Res<ConnectRequest> {
    let h = sb.handle();
    Ok(ConnectRequest {
        client_id: Some(h.client_id()),
        timeout: Duration::from_secs(30),
        ..ConnectRequest::new(h.tenant_id(), Cloud::sandbox(sb.base_url())?)
    })
}

/// Program `eng` with Teams video calls and `people`.
fn program(store: &mut Store, actor: &Actor, people: &[String]) -> Res<()> {
    programs::add(
        store,
        actor,
        NewProgram {
            name: "Engineering".into(),
            code: Some("eng".into()),
            description: None,
        },
    )?;
    programs::set_mode(store, actor, "eng", MeetingMode::TeamsVideo, true, None)?;
    for p in people {
        participants::add(store, actor, "eng", p, "")?;
    }
    Ok(())
}

async fn team(rps: f64) -> Res<Team> {
    let (sandbox, sandbox_rt) = sandbox(rps).await?;
    let cluster = Cluster::start();
    cluster.create_login(OWNER, OWNER_PW);
    cluster.superuser_sql("postgres", &format!("ALTER ROLE {OWNER} CREATEROLE;"));
    cluster.create_database(DB, Some(OWNER));
    let team = Team {
        sandbox,
        sandbox_rt: Some(sandbox_rt),
        cluster,
        tokens: Arc::new(MemoryTokenStore::default()),
        people: Vec::new(),
    };
    let owner = PgConfig::parse(&team.cluster.url(OWNER, OWNER_PW, DB, "verify-full"))?
        .with_ca_file(team.cluster.ca_file());
    init_team_database(
        &owner,
        Some(&Sensitive::new(OWNER_PW.to_string())),
        Some((ADMIN, "Ana")),
    )?;
    set_password(&team.cluster, ADMIN, ADMIN_PW);

    let mut store = team.admin_store()?;
    let ana = Actor::operator(ADMIN);
    integration::connect(
        &mut store,
        team.tokens.as_ref(),
        &ana,
        &connect_request(&team.sandbox)?,
        &following_opener(),
        tsched_core::auth::CancelToken::never(),
        &|_| {},
    )
    .await?;
    let people = sandbox_people(&team.sandbox)?;
    program(&mut store, &ana, &people)?;
    operators::add(
        &mut store,
        &ana,
        NewOperator {
            upn: COORD.into(),
            display_name: "Cory".into(),
        },
    )?;
    operators::grant(&mut store, &ana, COORD, Role::Coordinator, Some("eng"))?;
    drop(store);
    set_password(&team.cluster, COORD, COORD_PW);
    let mut team = team;
    team.people = people;
    Ok(team)
}

/// `n` rows from `day0` on (96 quarter-hour slots a day; two participants each, never the same
/// two at once), subjects tagged so two runs never look like duplicates.
fn csv_text(n: usize, people: &[String], day0: i64, tag: &str) -> String {
    let day0 = Utc::now() + ChronoDuration::days(day0);
    let mut s = String::from("program,subject,start,duration_minutes,time_zone,participants\n");
    for i in 0..n {
        let day = (day0 + ChronoDuration::days((i / 96) as i64)).format("%Y-%m-%d");
        let slot = i % 96;
        let _ = writeln!(
            s,
            "eng,{tag} {i},{day} {:02}:{:02},15,UTC,{};{}",
            slot / 4,
            (slot % 4) * 15,
            people[i % people.len()],
            people[(i + 3) % people.len()]
        );
    }
    s
}

/// What the sandbox holds and has answered.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    meetings: usize,
    distinct: usize,
    create_calls: u64,
    throttled: u64,
    graph_calls: u64,
}

fn tally(sb: &RunningSandbox) -> Tally {
    let snap = sb.handle().snapshot();
    let ms = snap["meetings"].as_array().cloned().unwrap_or_default();
    let ext: HashSet<&str> = ms
        .iter()
        .filter_map(|m| m["external_id"].as_str())
        .collect();
    let log = sb.handle().request_log();
    let mut t = Tally {
        meetings: ms.len(),
        distinct: ext.len(),
        ..Default::default()
    };
    for c in log["counts"].as_array().cloned().unwrap_or_default() {
        let n = c["count"].as_u64().unwrap_or(0);
        let route = c["route"].as_str().unwrap_or("");
        if !route.starts_with("/oauth2") && !route.contains("/oauth2/") {
            t.graph_calls += n;
        }
        if route == ROUTE {
            t.create_calls += n;
            if c["status"] == 429 {
                t.throttled += n;
            }
        }
    }
    t
}

struct Measured {
    secs: f64,
    meetings: usize,
    duplicates: i64,
    create_calls: u64,
    throttled: u64,
    graph_calls: u64,
    /// Agent only: enqueue → claimed, and enqueue → `wait` returned.
    claimed_after: Option<f64>,
    waited: Option<f64>,
    /// Direct only: validate, store the batch, execute (s).
    phases: Option<[f64; 3]>,
    /// The job (agent only).
    job: Option<i64>,
}

fn delta(before: Tally, after: Tally, secs: f64) -> Measured {
    Measured {
        secs,
        meetings: after.meetings - before.meetings,
        duplicates: (after.meetings - before.meetings) as i64
            - (after.distinct - before.distinct) as i64,
        create_calls: after.create_calls - before.create_calls,
        throttled: after.throttled - before.throttled,
        graph_calls: after.graph_calls - before.graph_calls,
        claimed_after: None,
        waited: None,
        phases: None,
        job: None,
    }
}

/// `tsched batch run --direct`: validate, store, execute, as `actor` on `store` with the host's
/// token in `tokens`; on a thread and runtime of its own, as a `tsched` process would be.
fn direct(
    sb: &RunningSandbox,
    store: Store,
    actor: Actor,
    tokens: Arc<dyn TokenStore>,
    text: &str,
) -> Res<Measured> {
    std::thread::scope(|scope| {
        scope
            .spawn(move || -> Result<Measured, String> {
                let rt = runtime().map_err(|e| e.to_string())?;
                rt.block_on(direct_run(sb, store, actor, tokens, text))
                    .map_err(|e| e.to_string())
            })
            .join()
            .map_err(|_| "the direct run panicked")?
            .map_err(Into::into)
    })
}

async fn direct_run(
    sb: &RunningSandbox,
    mut store: Store,
    actor: Actor,
    tokens: Arc<dyn TokenStore>,
    text: &str,
) -> Res<Measured> {
    let session = integration::session(&store, tokens)?;
    let transport = Arc::new(GraphTransport::new(&session));
    let opts = RunOptions {
        concurrency: CONCURRENCY,
        ..Default::default()
    };
    let before = tally(sb);
    let t0 = Instant::now();
    let (_, plan) = tsched_core::batch::plan::validate(
        &mut store,
        Some(session.graph()),
        &actor,
        text.as_bytes(),
        &PlanOptions::default(),
    )
    .await?;
    if plan.summary.ready as usize != ROWS {
        return Err(format!("{} of {ROWS} rows ready", plan.summary.ready).into());
    }
    let t1 = Instant::now();
    let id = batch_run::create(
        &mut store,
        &actor,
        "direct.csv",
        text.as_bytes(),
        &plan,
        &opts,
    )?;
    let t2 = Instant::now();
    // AGENT_BENCH_TRACE=1: every 429 on stderr with the rate the controller paces at after it
    // (where a run at a ceiling loses its time).
    let trace = std::env::var_os("AGENT_BENCH_TRACE").is_some();
    let done = std::sync::atomic::AtomicU64::new(0);
    let out = batch_run::execute(&mut store, transport, &actor, id, &opts, &|e| match e {
        BatchEvent::Done { .. } => {
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        BatchEvent::Throttled { retry_after_ms, rate } if trace => eprintln!(
            "  direct {:7.3} s: 429 (Retry-After {retry_after_ms} ms) after {} done, rate now {rate:.1} req/s",
            t2.elapsed().as_secs_f64(),
            done.load(std::sync::atomic::Ordering::Relaxed)
        ),
        _ => {}
    })
    .await?;
    let t3 = Instant::now();
    if out.batch.counts.done as usize != ROWS {
        return Err(format!("direct: {} of {ROWS} rows done", out.batch.counts.done).into());
    }
    let mut m = delta(before, tally(sb), t3.duration_since(t0).as_secs_f64());
    m.phases = Some([
        t1.duration_since(t0).as_secs_f64(),
        t2.duration_since(t1).as_secs_f64(),
        t3.duration_since(t2).as_secs_f64(),
    ]);
    Ok(m)
}

/// The control: the same direct run on the embedded store (SQLite) of a fresh data directory,
/// connected to the same sandbox, so the store's part in the time shows.
async fn direct_sqlite(team: &Team, text: &str) -> Res<Measured> {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open_in(dir.path())?;
    let tokens = Arc::new(MemoryTokenStore::default());
    // Setup mode: the first connect makes the host the first global admin.
    integration::connect(
        &mut store,
        tokens.as_ref(),
        &Actor::operator("admin@contoso.example"),
        &connect_request(&team.sandbox)?,
        &following_opener(),
        tsched_core::auth::CancelToken::never(),
        &|_| {},
    )
    .await?;
    let host = Actor::operator("teams.scheduler@contoso.example");
    program(&mut store, &host, &team.people)?;
    direct(&team.sandbox, store, host, tokens, text)
}

/// Round trips of one small query on the team store (the coordinator's `agent::job`), in ms.
fn round_trips(team: &Team, job: i64) -> Res<Vec<f64>> {
    let coord = team.coord_store()?;
    let mut v = Vec::with_capacity(200);
    for _ in 0..200 {
        let t = Instant::now();
        agent::job(&coord, job)?;
        v.push(t.elapsed().as_secs_f64());
    }
    Ok(v)
}

/// When the agent claimed and finished each job (this process's clock).
#[derive(Default)]
struct Seen {
    /// When the change feed reported `work_queue` (and woke the agent).
    fed: Vec<Instant>,
    claimed: HashMap<i64, Instant>,
    finished: HashMap<i64, (Instant, JobState, Option<String>)>,
}

/// An agent on a thread and runtime of its own, as `tsched agent run` is a process of its own.
struct RunningAgent {
    seen: Arc<Mutex<Seen>>,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl RunningAgent {
    fn start(team: &Team) -> Res<Self> {
        let mut store = team.admin_store()?;
        let heart = team.admin_store()?;
        let opts = AgentOptions {
            run: RunOptions {
                concurrency: CONCURRENCY,
                ..Default::default()
            },
            ..AgentOptions::default()
        };
        let agent = Agent::start(&store, heart, &opts)?;
        let wake = Arc::new(tokio::sync::Notify::new());
        let seen = Arc::new(Mutex::new(Seen::default()));
        // Woken by the database when a job is queued, as `tsched agent run` is.
        let feed = {
            let wake = Arc::clone(&wake);
            let seen = Arc::clone(&seen);
            store.queue_feed(None, move |e| {
                if let FeedEvent::Changed(c) = e {
                    if c.table == "work_queue" {
                        seen.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .fed
                            .push(Instant::now());
                        wake.notify_one();
                    }
                }
            })?
        };
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let tokens = team.tokens();
        let thread = {
            let seen = Arc::clone(&seen);
            std::thread::Builder::new()
                .name("bench-agent".into())
                .spawn(move || -> Result<(), String> {
                    let _feed = feed;
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    let on_event = move |e: AgentEvent| {
                        let now = Instant::now();
                        let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                        match e {
                            AgentEvent::Claimed { job, .. } => {
                                s.claimed.entry(job).or_insert(now);
                            }
                            AgentEvent::Finished { job, state, error } => {
                                s.finished.insert(job, (now, state, error));
                            }
                            other => eprintln!("agent: {other:?}"),
                        }
                    };
                    rt.block_on(agent.run(&mut store, tokens, &opts, wake, stop_rx, &on_event))
                        .map_err(|e| e.to_string())
                })?
        };
        Ok(Self {
            seen,
            stop,
            thread: Some(thread),
        })
    }

    /// Waits (up to `limit`) for the agent's `Finished` of `job`.
    /// The first time the feed reported `work_queue` at or after `t`.
    fn fed_after(&self, t: Instant) -> Option<Instant> {
        let s = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        s.fed.iter().copied().find(|&f| f >= t)
    }

    async fn finished(&self, job: i64, limit: Duration) -> Res<(Instant, Instant)> {
        let until = Instant::now() + limit;
        loop {
            {
                let s = self.seen.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((at, state, error)) = s.finished.get(&job) {
                    if *state != JobState::Done {
                        return Err(format!("job {job} {state:?}: {error:?}").into());
                    }
                    let claimed = s.claimed.get(&job).copied().unwrap_or(*at);
                    return Ok((claimed, *at));
                }
            }
            if Instant::now() > until {
                return Err(format!("job {job} did not finish within {limit:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn stop(mut self) -> Res<()> {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            t.join().map_err(|_| "the agent thread panicked")??;
        }
        Ok(())
    }
}

/// The coordinator queues the file; the running agent carries it out.
async fn via_agent(team: &Team, running: &RunningAgent, text: &str) -> Res<Measured> {
    let coord = team.coord_store()?;
    let cory = Actor::operator(COORD);
    let before = tally(&team.sandbox);
    let t0 = Instant::now();
    let job = agent::enqueue_batch_run(
        &coord,
        &cory,
        "agent.csv",
        text.as_bytes(),
        None,
        Default::default(),
        false,
        CONCURRENCY,
    )?;
    let (claimed_at, finished_at) = running.finished(job, Duration::from_secs(120)).await?;
    let secs = finished_at.duration_since(t0).as_secs_f64();
    let waited = agent::wait(&coord, job, Some(Duration::from_secs(30)), &|_| {}).await?;
    let waited_secs = t0.elapsed().as_secs_f64();
    if waited.state != JobState::Done {
        return Err(format!("agent job {job}: {:?} {:?}", waited.state, waited.error).into());
    }
    let mut m = delta(before, tally(&team.sandbox), secs);
    m.claimed_after = Some(claimed_at.duration_since(t0).as_secs_f64());
    m.waited = Some(waited_secs);
    m.job = Some(job);
    Ok(m)
}

/// Latencies of single meetings, in seconds.
#[derive(Default)]
struct Singles {
    enqueue: Vec<f64>,
    fed: Vec<f64>,
    claimed: Vec<f64>,
    finished: Vec<f64>,
    waited: Vec<f64>,
    carry_out: Vec<f64>,
}

/// `n` single meetings from `day0` on, one after another; with `gap`, the workstation idles that
/// long before each (the agent idle too, its change feed quiet), else each follows the last at
/// once.
async fn singles(
    team: &Team,
    running: &RunningAgent,
    day0: i64,
    n: usize,
    gap: Option<Duration>,
) -> Res<Singles> {
    let coord = team.coord_store()?;
    let cory = Actor::operator(COORD);
    let base: NaiveDateTime = (Utc::now() + ChronoDuration::days(day0))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .ok_or("midnight")?;
    let mut out = Singles::default();
    for i in 0..n {
        if let Some(g) = gap {
            tokio::time::sleep(g).await;
        }
        let input = NewMeeting {
            program: "eng".into(),
            subject: format!("Single {i}"),
            start: base + ChronoDuration::minutes(15 * i as i64),
            end: EndSpec::Duration(ChronoDuration::minutes(15)),
            time_zone: Some("UTC".into()),
            dst: Default::default(),
            participants: vec![
                team.people[i % team.people.len()].clone(),
                team.people[(i + 3) % team.people.len()].clone(),
            ],
            external_id: None,
            batch_id: None,
        };
        let t_call = Instant::now();
        let job = agent::enqueue_create(&coord, &cory, &input)?;
        let t0 = Instant::now();
        // What `meetings create --wait` sees first; then when the agent claimed and finished.
        let j = agent::wait(&coord, job, Some(Duration::from_secs(30)), &|_| {}).await?;
        let waited = t0.elapsed().as_secs_f64();
        let (claimed, finished) = running.finished(job, Duration::from_secs(5)).await?;
        if j.state != JobState::Done {
            return Err(format!("single job {job}: {:?} {:?}", j.state, j.error).into());
        }
        out.enqueue.push(t0.duration_since(t_call).as_secs_f64());
        // The feed may have spoken during the call (after the commit): from the call's start.
        if let Some(f) = running.fed_after(t_call) {
            out.fed.push(f.saturating_duration_since(t0).as_secs_f64());
        }
        out.claimed
            .push(claimed.saturating_duration_since(t0).as_secs_f64());
        out.finished.push(finished.duration_since(t0).as_secs_f64());
        out.carry_out
            .push(finished.duration_since(claimed).as_secs_f64());
        out.waited.push(waited);
    }
    Ok(out)
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
    s[i]
}

fn row(label: &str, rps: f64, m: &Measured) -> String {
    let achieved = m.meetings as f64 / m.secs;
    format!(
        "| {label} | {rps:.0} | {:.2} | {achieved:.1} | {:.3} | {} | {:.2} % | {} | {} | {} | {} |",
        m.secs,
        achieved / rps,
        m.create_calls,
        m.throttled as f64 * 100.0 / m.create_calls.max(1) as f64,
        m.graph_calls,
        m.duplicates,
        m.meetings,
        match (m.claimed_after, m.waited, m.phases) {
            (Some(c), Some(w), _) => format!(
                "claimed {:.0} ms after the enqueue; `wait` returned at {w:.2} s",
                c * 1e3
            ),
            (_, _, Some([v, c, e])) => {
                format!("validate {v:.2} s, store the batch {c:.2} s, execute {e:.2} s")
            }
            _ => "—".into(),
        }
    )
}

fn single_row(label: &str, rps: f64, n: usize, s: &Singles) -> String {
    let pp = |v: &[f64]| format!("{} / {}", ms(pct(v, 0.5)), ms(pct(v, 0.95)));
    format!(
        "| {label} | {rps:.0} | {n} | {} | {} | {} | {} | {} | {} |",
        pp(&s.enqueue),
        pp(&s.fed),
        pp(&s.claimed),
        pp(&s.carry_out),
        pp(&s.finished),
        pp(&s.waited)
    )
}

fn ms(v: f64) -> String {
    format!("{:.0}", v * 1e3)
}

fn main() -> std::process::ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agent bench: no runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(bench()) {
        Ok(md) => {
            let dir = target_dir().join("bench-reports");
            let file = dir.join("agent.md");
            if let Err(e) = std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&file, &md)) {
                eprintln!("agent bench: cannot write {}: {e}", file.display());
            }
            println!("{md}");
            eprintln!("agent bench: report written to {}", file.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("agent bench failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn bench() -> Res<String> {
    let started = Instant::now();
    let mut md = String::new();
    let mut batch_rows = Vec::new();
    let mut single_rows = Vec::new();
    let mut verdicts = Vec::new();
    let mut round_trip_rows = Vec::new();
    let mut controls = Vec::new();
    // AGENT_BENCH_CEILINGS=50 (comma-separated) runs only those ceilings, to look at one.
    let ceilings: Vec<f64> = match std::env::var("AGENT_BENCH_CEILINGS") {
        Ok(v) => v
            .split(',')
            .map(|c| c.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("AGENT_BENCH_CEILINGS={v:?}: {e}"))?,
        Err(_) => CEILINGS.to_vec(),
    };
    for rps in ceilings {
        let t_setup = Instant::now();
        let team = team(rps).await?;
        eprintln!(
            "{rps:.0} req/s: team set up in {:.1} s",
            t_setup.elapsed().as_secs_f64()
        );
        let d = direct(
            &team.sandbox,
            team.admin_store()?,
            Actor::operator(ADMIN),
            team.tokens(),
            &csv_text(ROWS, &team.people, 3, "Direct"),
        )?;
        eprintln!("{rps:.0} req/s: direct {:.1} s", d.secs);
        let running = RunningAgent::start(&team)?;
        // Let the agent announce itself and go idle, as one that was already running would.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let a = via_agent(&team, &running, &csv_text(ROWS, &team.people, 20, "Agent")).await?;
        eprintln!("{rps:.0} req/s: agent {:.1} s", a.secs);
        if rps == SINGLES_AT {
            for (label, n, gap, day0) in [
                ("back to back", SINGLES, None, 40),
                ("500 ms apart", SPACED, Some(GAP), 50),
            ] {
                let s = singles(&team, &running, day0, n, gap).await?;
                single_rows.push(single_row(label, rps, n, &s));
            }
        }
        running.stop()?;
        if let Some(job) = a.job {
            let rtt = round_trips(&team, job)?;
            round_trip_rows.push(format!(
                "- {rps:.0} req/s run: one small query on the team store (`agent::job`, 200 times): p50 {:.2} ms, p95 {:.2} ms",
                pct(&rtt, 0.5) * 1e3,
                pct(&rtt, 0.95) * 1e3
            ));
        }
        // At every ceiling: what the same executor reaches without a team store's round trips.
        let c = direct_sqlite(&team, &csv_text(ROWS, &team.people, 60, "Control")).await?;
        eprintln!("{rps:.0} req/s: SQLite control {:.1} s", c.secs);
        controls.push(row(
            "control: direct on the embedded store (SQLite)",
            rps,
            &c,
        ));
        let ratio = (a.meetings as f64 / a.secs) / rps;
        let vs_direct = (a.meetings as f64 / a.secs) / (d.meetings as f64 / d.secs);
        verdicts.push(format!(
            "- {rps:.0} req/s: agent ÷ ceiling = {ratio:.3} ({}), agent ÷ direct = {vs_direct:.3}",
            if ratio >= 0.95 {
                "meets ≥ 0.95"
            } else {
                "misses 0.95"
            }
        ));
        batch_rows.push(row("direct (`batch run --direct`)", rps, &d));
        batch_rows.push(row("host agent (queued by a coordinator)", rps, &a));
    }
    let _ = writeln!(md, "Batches of {ROWS} rows (concurrency {CONCURRENCY}; time includes validation against the directory, storing the batch and running it):\n");
    let _ = writeln!(md, "| run | ceiling (req/s) | time (s) | meetings/s | ÷ ceiling | createOrGet calls | 429 share | Graph calls | duplicates | meetings | where the time went |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in batch_rows.iter().chain(controls.iter()) {
        let _ = writeln!(md, "{r}");
    }
    let _ = writeln!(md);
    for v in verdicts.iter().chain(round_trip_rows.iter()) {
        let _ = writeln!(md, "{v}");
    }
    let _ = writeln!(md, "\nSingle meetings queued one after another by the coordinator (`enqueue_create`, then `wait` as `meetings create --wait` does), the agent woken by the change feed; p50 / p95 in ms, from the moment the job row is committed (the enqueue call itself before that):\n");
    let _ = writeln!(md, "| queued | ceiling (req/s) | meetings | enqueue call | → feed woke the agent | → claimed | claimed → done (Graph + store) | → done | → `wait` returned |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for r in &single_rows {
        let _ = writeln!(md, "{r}");
    }
    let _ = writeln!(
        md,
        "\nWhole bench: {:.0} s.",
        started.elapsed().as_secs_f64()
    );
    Ok(md)
}
