//! The host agent (issue 20): in a team, the host's token stays on one machine, and the team's
//! Graph work travels to it as rows of the shared database's queue (`store::queue`).
//!
//! Two sides:
//! - **Workstations enqueue** ([`enqueue_create`], [`enqueue_reschedule`], [`enqueue_cancel`],
//!   [`enqueue_batch_run`], [`enqueue_batch_resume`]) after the same local checks a direct call
//!   makes (bad input is refused at once, not by the agent later); the database's policies decide
//!   again whether this login may ask for that program. [`wait`] follows a job to its end.
//! - **The agent** ([`Agent::run`]) claims the oldest waiting job (`FOR UPDATE SKIP LOCKED`, a
//!   claim that lapses unless renewed), carries it out through the same use cases as a direct
//!   call (`meetings::create`, `batch::run::execute`, …) in the requester's name: the requester's
//!   role is checked again against the roster, and the audit rows name the requester (the
//!   server accepts that only while this login holds the requester's job). A job is exactly
//!   once in effect: a meeting job carries its externalId from the start and a batch job stores
//!   its batch under a uid derived from the job, so a job taken over after its agent died
//!   resumes what was begun (`createOrGet` returns a meeting already made).
//!
//! The host's token revoked or the integration gone pauses the agent ("reconnect the host"):
//! the job goes back to the queue, every workstation sees the pause in `agent status`, and the
//! agent tries the host's session again every [`PAUSED_RETRY`] and resumes by itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::{self, Action};
use crate::actor::Actor;
use crate::batch::run::{self as batch_run, GraphTransport, RunOptions};
use crate::batch::BatchEvent;
use crate::error::{Error, ErrorCode};
use crate::meetings::{self, EndSpec, NewMeeting, RescheduleInput};
use crate::store::batches::BatchState;
use crate::store::queue::{AgentRow, JobKind, JobRow, JobState, NewJob, QueueDepth, QueueTable};
use crate::store::Store;
use crate::tz::DstChoice;

/// How long a claim holds unless renewed (on the server's clock).
pub const CLAIM_TTL_SECS: i64 = 30;
/// How often a working agent renews its claim and beats.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How often an idle agent looks at the queue when no notification woke it.
pub const POLL: Duration = Duration::from_secs(10);
/// How often a paused agent tries the host's session again.
pub const PAUSED_RETRY: Duration = Duration::from_secs(15);
/// An agent whose last heartbeat is older than this is shown offline.
pub const ONLINE_SECS: i64 = 30;

fn no_queue() -> Error {
    Error::invalid(
        "store",
        "the host agent's queue lives in a team's shared database; this is the embedded store, \
         where Graph work runs directly",
    )
}

fn queue(store: &Store) -> Result<&dyn QueueTable, Error> {
    store.queue().ok_or_else(no_queue)
}

// ---------------------------------------------------------------------------------------------
// Payloads: what a job carries (JSON in `work_queue.payload`, never a secret).

/// The end of a meeting, as a job carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum EndPayload {
    At(NaiveDateTime),
    Minutes(i64),
}

impl From<EndSpec> for EndPayload {
    fn from(e: EndSpec) -> Self {
        match e {
            EndSpec::At(t) => EndPayload::At(t),
            EndSpec::Duration(d) => EndPayload::Minutes(d.num_minutes()),
        }
    }
}

impl From<EndPayload> for EndSpec {
    fn from(e: EndPayload) -> Self {
        match e {
            EndPayload::At(t) => EndSpec::At(t),
            EndPayload::Minutes(m) => EndSpec::Duration(chrono::Duration::minutes(m)),
        }
    }
}

fn dst_name(d: DstChoice) -> &'static str {
    match d {
        DstChoice::Refuse => "refuse",
        DstChoice::Earlier => "earlier",
        DstChoice::Later => "later",
    }
}

fn dst_of(s: &str) -> DstChoice {
    s.parse().unwrap_or_default()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CreatePayload {
    program: String,
    subject: String,
    start: NaiveDateTime,
    end: EndPayload,
    time_zone: Option<String>,
    dst: String,
    participants: Vec<String>,
    external_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReschedulePayload {
    meeting: String,
    start: NaiveDateTime,
    end: EndPayload,
    time_zone: Option<String>,
    dst: String,
    subject: Option<String>,
    participants: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CancelPayload {
    meeting: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BatchRunPayload {
    source_name: String,
    /// The file's bytes, base64 (a CSV need not be UTF-8 to be refused with a located error).
    csv_base64: String,
    default_zone: Option<String>,
    dst: String,
    skip_rejected: bool,
    concurrency: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct BatchResumePayload {
    batch: i64,
    concurrency: Option<usize>,
}

fn to_json<T: Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|e| Error::invalid("job", e.to_string()))
}

fn from_json<T: for<'de> Deserialize<'de>>(job: &JobRow) -> Result<T, Error> {
    serde_json::from_str(&job.payload).map_err(|e| {
        Error::invalid(
            "job",
            format!(
                "job {} ({}) has an unreadable payload: {e}",
                job.id, job.kind
            ),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Workstations: enqueue and wait.

fn enqueue(store: &Store, job: NewJob<'_>) -> Result<i64, Error> {
    let id = queue(store)?.queue_insert(&job)?;
    tracing::info!(job = id, kind = %job.kind, "job enqueued for the host agent");
    Ok(id)
}

/// Enqueues a meeting to create: refuses bad input and a program this actor may not schedule
/// first (as a direct create does), gives the meeting its externalId now (so a retried job
/// never makes a second one), then enqueues. The job's id.
pub fn enqueue_create(store: &Store, actor: &Actor, input: &NewMeeting) -> Result<i64, Error> {
    let v = meetings::validate(store, actor, input)?;
    if let Some(ext) = &input.external_id {
        if meetings::reserved_for_batches(ext) {
            return Err(Error::invalid(
                "external_id",
                format!("'{ext}' has the form of a batch's derived externalId (a UUID v5), which is reserved for batches; use a key of your own"),
            ));
        }
    }
    let payload = CreatePayload {
        program: v.program_code.clone(),
        subject: input.subject.clone(),
        start: input.start,
        end: input.end.into(),
        time_zone: input.time_zone.clone(),
        dst: dst_name(input.dst).into(),
        participants: input.participants.clone(),
        external_id: input
            .external_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
    };
    enqueue(
        store,
        NewJob {
            kind: JobKind::MeetingCreate,
            program_id: Some(v.program_id),
            programs: "",
            payload: &to_json(&payload)?,
            batch_id: None,
        },
    )
}

/// Enqueues a reschedule of a meeting this actor may manage.
pub fn enqueue_reschedule(
    store: &Store,
    actor: &Actor,
    input: &RescheduleInput,
) -> Result<i64, Error> {
    let row = meetings::find(store, &input.meeting)?;
    access::require(
        store.tables(),
        actor,
        Action::MeetingsManage,
        Some(&row.program_code),
    )?;
    let program = crate::programs::load(store.tables(), &row.program_code)?;
    let payload = ReschedulePayload {
        meeting: row.external_id.clone(),
        start: input.start,
        end: input.end.into(),
        time_zone: input.time_zone.clone(),
        dst: dst_name(input.dst).into(),
        subject: input.subject.clone(),
        participants: input.participants.clone(),
    };
    enqueue(
        store,
        NewJob {
            kind: JobKind::MeetingReschedule,
            program_id: Some(program.id),
            programs: "",
            payload: &to_json(&payload)?,
            batch_id: None,
        },
    )
}

/// Enqueues the cancellation of a meeting this actor may manage.
pub fn enqueue_cancel(store: &Store, actor: &Actor, key: &str) -> Result<i64, Error> {
    let row = meetings::find(store, key)?;
    access::require(
        store.tables(),
        actor,
        Action::MeetingsManage,
        Some(&row.program_code),
    )?;
    let program = crate::programs::load(store.tables(), &row.program_code)?;
    enqueue(
        store,
        NewJob {
            kind: JobKind::MeetingCancel,
            program_id: Some(program.id),
            programs: "",
            payload: &to_json(&CancelPayload {
                meeting: row.external_id,
            })?,
            batch_id: None,
        },
    )
}

/// The program codes a CSV file names (lower-cased, sorted, space-separated): what the
/// database's policies check for a batch job. A file that cannot be read at all names none.
fn programs_of(bytes: &[u8]) -> String {
    let Ok(file) = crate::batch::csv::read(bytes) else {
        return String::new();
    };
    let codes: std::collections::BTreeSet<String> = file
        .rows
        .iter()
        .filter_map(|r| file.get(r, crate::batch::csv::Column::Program))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .collect();
    codes.into_iter().collect::<Vec<_>>().join(" ")
}

/// Enqueues a CSV file to validate, store and run. Checks locally what needs no Graph (the
/// file can be read, and this actor may manage batches in every program it names); the agent
/// validates the rows against the tenant's directory.
#[allow(clippy::too_many_arguments)]
pub fn enqueue_batch_run(
    store: &Store,
    actor: &Actor,
    source_name: &str,
    bytes: &[u8],
    default_zone: Option<&str>,
    dst: DstChoice,
    skip_rejected: bool,
    concurrency: usize,
) -> Result<i64, Error> {
    if let Err(problems) = crate::batch::csv::read(bytes) {
        return Err(Error::invalid(
            "file",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    let programs = programs_of(bytes);
    if programs.is_empty() {
        return Err(Error::invalid(
            "file",
            "no row names a program; nothing to run",
        ));
    }
    for code in programs.split(' ') {
        access::require(store.tables(), actor, Action::BatchesManage, Some(code))?;
    }
    let payload = BatchRunPayload {
        source_name: source_name.to_string(),
        csv_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        default_zone: default_zone.map(str::to_string),
        dst: dst_name(dst).into(),
        skip_rejected,
        concurrency: concurrency.max(1),
    };
    enqueue(
        store,
        NewJob {
            kind: JobKind::BatchRun,
            program_id: None,
            programs: &programs,
            payload: &to_json(&payload)?,
            batch_id: None,
        },
    )
}

/// Enqueues the resumption of stored batch `id` (this actor must manage it).
pub fn enqueue_batch_resume(
    store: &Store,
    actor: &Actor,
    id: i64,
    concurrency: Option<usize>,
) -> Result<i64, Error> {
    let view = batch_run::show(store, actor, id)?;
    for code in view.batch.programs.iter() {
        access::require(store.tables(), actor, Action::BatchesManage, Some(code))?;
    }
    enqueue(
        store,
        NewJob {
            kind: JobKind::BatchResume,
            program_id: None,
            programs: &view.batch.programs.join(" "),
            payload: &to_json(&BatchResumePayload {
                batch: id,
                concurrency,
            })?,
            batch_id: Some(id),
        },
    )
}

/// Job `id` as this login may see it.
pub fn job(store: &Store, id: i64) -> Result<JobRow, Error> {
    queue(store)?.queue_job(id)?.ok_or(Error::NotFound {
        what: "job",
        key: id.to_string(),
    })
}

/// Follows job `id` until it ends (or `timeout` passes: then the job as it stands), calling
/// `on_change` whenever its state or batch changes.
pub async fn wait(
    store: &Store,
    id: i64,
    timeout: Option<Duration>,
    on_change: &(dyn Fn(&JobRow) + Send + Sync),
) -> Result<JobRow, Error> {
    let started = tokio::time::Instant::now();
    let mut last: Option<(JobState, Option<i64>)> = None;
    // A meeting is usually carried out within tens of ms of its queuing: look again soon, then
    // less often (25, 50, 100, then every 200 ms; one small query each).
    let mut every = WAIT_FIRST_LOOK;
    loop {
        let j = job(store, id)?;
        if last != Some((j.state, j.batch_id)) {
            last = Some((j.state, j.batch_id));
            on_change(&j);
        }
        if j.state.ended() || timeout.is_some_and(|t| started.elapsed() >= t) {
            return Ok(j);
        }
        tokio::time::sleep(every).await;
        every = (every * 2).min(WAIT_LOOK_EVERY);
    }
}

/// How soon [`wait`] looks at a job again first, and how often at most.
const WAIT_FIRST_LOOK: Duration = Duration::from_millis(25);
const WAIT_LOOK_EVERY: Duration = Duration::from_millis(200);

/// A change feed that wakes `wake` at once whenever the queue changes (no coalescing): how
/// `tsched agent run` and the window's agent learn of new work. `None` for the embedded store,
/// or (with a warning logged) when the feed cannot log in: the agent then polls.
pub fn work_feed(
    store: &Store,
    password: Option<&crate::secret::Sensitive<String>>,
    wake: &Arc<tokio::sync::Notify>,
) -> Option<crate::store::postgres::ChangeFeed> {
    let wake = Arc::clone(wake);
    let feed = store.queue_feed(password, move |e| {
        if let crate::store::postgres::FeedEvent::Changed(c) = e {
            if c.table == "work_queue" {
                wake.notify_one();
            }
        }
    });
    feed.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "no change feed; the agent polls the queue");
        None
    })
}

/// The error a job that failed ends its follower with.
fn job_failed(j: &JobRow) -> Error {
    Error::Conflict(format!(
        "the host agent could not carry out job {}: {}",
        j.id,
        j.error.as_deref().unwrap_or("no reason recorded")
    ))
}

/// Follows meeting job `id` to its end (at most `timeout`) and returns its result: a failed job
/// is an error with the agent's reason; a job still waiting at the timeout says so.
pub async fn result_of(
    store: &Store,
    id: i64,
    timeout: Duration,
) -> Result<serde_json::Value, Error> {
    let j = wait(store, id, Some(timeout), &|_| {}).await?;
    match j.state {
        JobState::Done => Ok(j
            .result
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
            .unwrap_or(serde_json::Value::Null)),
        JobState::Failed => Err(job_failed(&j)),
        _ => Err(Error::Conflict(format!(
            "queued as job {id} for the host agent, which has not carried it out yet; it will \
             be done when an agent runs (see Integration > Host agents)"
        ))),
    }
}

/// Follows batch job `id` and reports it as a direct run does: `Started` once the agent has
/// stored the batch, `Progress` as its counts change (read from the shared database), `Paused`
/// while the agents pause the queue, `Finished` at the end. The batch as it ended.
pub async fn follow_batch(
    store: &Store,
    actor: &Actor,
    id: i64,
    progress: &(dyn Fn(BatchEvent) + Send + Sync),
) -> Result<batch_run::RunOutcome, Error> {
    let began = tokio::time::Instant::now();
    let mut started = false;
    let mut last: Option<(u64, u64, u64)> = None;
    let mut said_pause: Option<String> = None;
    let mut last_look = tokio::time::Instant::now();
    loop {
        let j = job(store, id)?;
        if let Some(b) = j.batch_id {
            let row = batch_run::show_page(store, actor, b, Some("in_flight"), None, 1)?
                .0
                .batch;
            let c = row.counts;
            if !started {
                started = true;
                progress(BatchEvent::Started {
                    batch: b,
                    total: c.total,
                    queued: c.queued,
                    already_done: c.done,
                });
            }
            let now = (c.done, c.failed, c.in_flight);
            if last != Some(now) {
                let secs = began.elapsed().as_secs_f64().max(0.001);
                let remaining = c.total.saturating_sub(c.done + c.failed + c.cancelled);
                let achieved = c.done as f64 / secs;
                progress(BatchEvent::Progress {
                    done: c.done,
                    failed: c.failed,
                    in_flight: c.in_flight,
                    remaining,
                    rate: 0.0,
                    achieved,
                    eta_secs: (achieved > 0.0).then(|| remaining as f64 / achieved),
                });
                last = Some(now);
            }
            if j.state.ended() {
                if j.state == JobState::Failed {
                    return Err(job_failed(&j));
                }
                progress(BatchEvent::Finished {
                    state: row.state.to_string(),
                    done: c.done,
                    failed: c.failed,
                    cancelled: c.cancelled,
                    elapsed_ms: u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX),
                });
                return Ok(batch_run::RunOutcome {
                    batch: row,
                    throttled: 0,
                    requests: 0,
                });
            }
        } else if j.state == JobState::Failed {
            return Err(job_failed(&j));
        }
        // The agents' pause, looked at now and then (it is one more query).
        if last_look.elapsed() >= Duration::from_secs(2) {
            last_look = tokio::time::Instant::now();
            let paused = status(store)?.paused;
            if paused != said_pause {
                if let Some(r) = &paused {
                    progress(BatchEvent::Paused { reason: r.clone() });
                }
                said_pause = paused;
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// What `agent status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Agents whose heartbeat is recent (within [`ONLINE_SECS`]).
    pub online: Vec<AgentRow>,
    /// The queue's depth and its oldest waiting job.
    pub queue: QueueDepth,
    /// Set when every online agent pauses the queue: why (e.g. "reconnect the host").
    pub paused: Option<String>,
}

/// Agents online, queue depth, oldest waiting job.
pub fn status(store: &Store) -> Result<Status, Error> {
    let q = queue(store)?;
    let online = q.agents(ONLINE_SECS)?;
    let paused = if !online.is_empty() && online.iter().all(|a| a.state == "paused") {
        online.iter().find_map(|a| a.pause_reason.clone())
    } else {
        None
    };
    Ok(Status {
        online,
        queue: q.queue_depth()?,
        paused,
    })
}

// ---------------------------------------------------------------------------------------------
// The agent.

/// Options of [`Agent::run`].
#[derive(Clone)]
pub struct AgentOptions {
    /// Stop once the queue is empty (tests, benchmarks, a cron-style run).
    pub until_idle: bool,
    /// How long a claim holds without a heartbeat (seconds, on the server's clock): how soon
    /// another agent takes over the job of an agent that died. Heartbeats come five times per
    /// claim.
    pub claim_ttl_secs: i64,
    /// How often an idle agent polls without a notification.
    pub poll: Duration,
    /// Options of the batches it runs (concurrency from each job).
    pub run: RunOptions,
    /// Opens the team store again after the database went away (the agent then waits with a
    /// backoff and carries on); without it, a lost database ends [`Agent::run`] with its error.
    pub reopen: Option<Opener>,
}

/// Opens the team store (a new connection as the agent's login).
pub type Opener = Arc<dyn Fn() -> Result<Store, Error> + Send + Sync>;

impl std::fmt::Debug for AgentOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentOptions")
            .field("until_idle", &self.until_idle)
            .field("claim_ttl_secs", &self.claim_ttl_secs)
            .field("poll", &self.poll)
            .field("reopen", &self.reopen.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for AgentOptions {
    fn default() -> Self {
        Self {
            until_idle: false,
            claim_ttl_secs: CLAIM_TTL_SECS,
            poll: POLL,
            run: RunOptions::default(),
            reopen: None,
        }
    }
}

/// What an agent reports as it works.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AgentEvent {
    /// It announced itself.
    Started {
        /// `pid@host#run`.
        name: String,
    },
    /// It took a job.
    Claimed {
        /// The job.
        job: i64,
        /// Its kind.
        kind: JobKind,
        /// Who asked.
        requested_by: String,
        /// How many times it was taken (more than 1: taken over from a dead agent).
        attempt: i64,
    },
    /// A job ended.
    Finished {
        /// The job.
        job: i64,
        /// `done` or `failed`.
        state: JobState,
        /// Why it failed.
        error: Option<String>,
    },
    /// It pauses the queue.
    Paused {
        /// Why, with the fix.
        reason: String,
    },
    /// It works again.
    Resumed,
    /// It gave a job back for later.
    Released {
        /// The job.
        job: i64,
        /// Why.
        reason: String,
    },
    /// The team database went away; it reconnects.
    DatabaseLost {
        /// What the connection said.
        reason: String,
    },
    /// It is connected again.
    DatabaseRestored,
}

/// What the heartbeat thread reports for this agent.
#[derive(Debug, Clone, Default)]
struct Beat {
    paused: Option<String>,
    job: Option<i64>,
    stop: bool,
}

/// One agent: its name and the heartbeat that keeps its claim and its row alive.
pub struct Agent {
    name: String,
    beat: Arc<Mutex<Beat>>,
    heart: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(mut b) = self.beat.lock() {
            b.stop = true;
        }
        if let Some(h) = self.heart.take() {
            let _ = h.join();
        }
    }
}

/// How a job ended, as the agent records it.
enum Outcome {
    Done(serde_json::Value),
    Failed(String),
    /// The host cannot act: give the job back and pause.
    Pause(String),
    /// Not now (the batch is still leased by a run that ended uncleanly): give it back.
    Retry(String),
    /// The database went away mid-job: reconnect; the claim lapses or is renewed.
    Lost(Error),
}

/// What a turn of the loop says next.
enum Step {
    Again,
    Stop,
}

/// Whether `e` means the team database is out of reach (reconnect and go on).
fn lost(e: &Error) -> bool {
    e.code() == ErrorCode::StoreUnavailable
}

/// How a job's error ends it.
fn outcome_of(e: Error) -> Outcome {
    if let Some(r) = pause_reason(&e) {
        return Outcome::Pause(r);
    }
    if lost(&e) {
        return Outcome::Lost(e);
    }
    match &e {
        Error::Conflict(m) if m.contains("is being run by") => Outcome::Retry(m.clone()),
        _ => Outcome::Failed(e.to_string()),
    }
}

fn pause_reason(e: &Error) -> Option<String> {
    match e.code() {
        ErrorCode::NotConnected | ErrorCode::ReconnectRequired | ErrorCode::ConsentRequired => {
            Some(format!(
                "reconnect the host: {e} (a global admin runs `tsched integration connect` on \
                 the agent's machine; the queue resumes by itself)"
            ))
        }
        _ => None,
    }
}

impl Agent {
    /// Announces a new agent on `store` and starts its heartbeat on `heart_store` (a second
    /// connection of the same login, so a long Graph call never lets the claim lapse).
    pub fn start(store: &Store, heart_store: Store, opts: &AgentOptions) -> Result<Self, Error> {
        let q = queue(store)?;
        let who = q
            .queue_operator_of_login(&login_of(store)?)?
            .ok_or_else(|| Error::Denied("the agent's login is not an operator".into()))?;
        access::require(
            store.tables(),
            &Actor::operator(who),
            Action::IntegrationManage,
            None,
        )
        .map_err(|_| {
            Error::Denied(
                "only a global admin runs the host agent (it acts with the host's token for the \
                 whole team)"
                    .into(),
            )
        })?;
        let host = crate::batch::run::this_host().to_string();
        let name = format!(
            "{}@{}#{:08x}",
            std::process::id(),
            host,
            rand::random::<u32>()
        );
        q.agent_announce(&name, &host, i64::from(std::process::id()))?;
        let beat = Arc::new(Mutex::new(Beat::default()));
        let ttl = opts.claim_ttl_secs.max(1);
        let reopen = opts.reopen.clone();
        let heart = {
            let beat = Arc::clone(&beat);
            let name = name.clone();
            std::thread::Builder::new()
                .name("tsched-agent-heartbeat".into())
                .spawn(move || heartbeat(heart_store, &name, &beat, ttl, reopen))
                .map_err(|e| Error::invalid("agent", format!("cannot start the heartbeat: {e}")))?
        };
        Ok(Self {
            name,
            beat,
            heart: Some(heart),
        })
    }

    /// This agent's name (`pid@host#run`).
    pub fn name(&self) -> &str {
        &self.name
    }

    fn set(&self, f: impl FnOnce(&mut Beat)) {
        if let Ok(mut b) = self.beat.lock() {
            f(&mut b);
        }
    }

    /// Works the queue until `stop` says so (or, with `until_idle`, until it is empty).
    /// `wake` is notified when the queue may have new work (the change feed); without it the
    /// agent polls every `opts.poll`.
    pub async fn run(
        &self,
        store: &mut Store,
        tokens: Arc<dyn crate::auth::TokenStore>,
        opts: &AgentOptions,
        wake: Arc<tokio::sync::Notify>,
        stop: tokio::sync::watch::Receiver<bool>,
        on_event: &(dyn Fn(AgentEvent) + Send + Sync),
    ) -> Result<(), Error> {
        on_event(AgentEvent::Started {
            name: self.name.clone(),
        });
        let mut paused: Option<String> = None;
        let mut failures = 0u32;
        loop {
            if *stop.borrow() {
                break;
            }
            match self
                .step(store, &tokens, opts, &wake, &stop, &mut paused, on_event)
                .await
            {
                Ok(Step::Again) => failures = 0,
                Ok(Step::Stop) => break,
                // The database went away: wait, reconnect, go on (a claim this agent held
                // lapses meanwhile and may be taken over; nothing is lost either way).
                Err(e) if lost(&e) && opts.reopen.is_some() => {
                    failures += 1;
                    on_event(AgentEvent::DatabaseLost {
                        reason: e.to_string(),
                    });
                    let wait = crate::store::postgres::backoff(failures);
                    if sleep_or_stop(wait, &wake, stop.clone(), false).await {
                        break;
                    }
                    if let Some(open) = &opts.reopen {
                        match open() {
                            Ok(fresh) => {
                                *store = fresh;
                                on_event(AgentEvent::DatabaseRestored);
                            }
                            Err(e) => tracing::warn!(error = %e, "cannot reconnect yet"),
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// One turn of the loop: while paused, try the host again; else claim a job and carry it
    /// out, or wait for work.
    #[allow(clippy::too_many_arguments)]
    async fn step(
        &self,
        store: &mut Store,
        tokens: &Arc<dyn crate::auth::TokenStore>,
        opts: &AgentOptions,
        wake: &tokio::sync::Notify,
        stop: &tokio::sync::watch::Receiver<bool>,
        paused: &mut Option<String>,
        on_event: &(dyn Fn(AgentEvent) + Send + Sync),
    ) -> Result<Step, Error> {
        if let Some(reason) = paused.clone() {
            let works = match crate::integration::session(store, Arc::clone(tokens)) {
                Ok(s) => matches!(s.verify().await, crate::integration::Verified::Ok { .. }),
                Err(e) if lost(&e) => return Err(e),
                Err(_) => false,
            };
            if works {
                *paused = None;
                self.set(|b| b.paused = None);
                // Said at once, not at the next heartbeat: every workstation shows the pause.
                if let Err(e) = queue(store)?.agent_beat(&self.name, "running", None, None) {
                    tracing::warn!(error = %e, "cannot record that the agent resumed");
                }
                on_event(AgentEvent::Resumed);
                return Ok(Step::Again);
            }
            tracing::info!(%reason, "agent paused");
            let every = PAUSED_RETRY.min(opts.poll);
            return Ok(if sleep_or_stop(every, wake, stop.clone(), false).await {
                Step::Stop
            } else {
                Step::Again
            });
        }
        let ttl = opts.claim_ttl_secs.max(1);
        let Some(job) = queue(store)?.queue_claim(&self.name, ttl)? else {
            if opts.until_idle && queue(store)?.queue_depth()?.claimed == 0 {
                return Ok(Step::Stop);
            }
            // A claim of a dead agent lapses without a notification: look again by then.
            let lapse = Duration::from_secs(ttl.unsigned_abs());
            return Ok(
                if sleep_or_stop(opts.poll.min(lapse), wake, stop.clone(), true).await {
                    Step::Stop
                } else {
                    Step::Again
                },
            );
        };
        self.set(|b| b.job = Some(job.id));
        on_event(AgentEvent::Claimed {
            job: job.id,
            kind: job.kind,
            requested_by: job.requested_by.clone(),
            attempt: job.attempts,
        });
        let outcome = self.carry_out(store, tokens, opts, &job).await;
        self.set(|b| b.job = None);
        let q = queue(store)?;
        q.queue_act_for(None)?;
        match outcome {
            Outcome::Done(result) => {
                let result = result.to_string();
                q.queue_finish(job.id, &self.name, JobState::Done, Some(&result), None)?;
                on_event(AgentEvent::Finished {
                    job: job.id,
                    state: JobState::Done,
                    error: None,
                });
            }
            Outcome::Failed(error) => {
                q.queue_finish(job.id, &self.name, JobState::Failed, None, Some(&error))?;
                on_event(AgentEvent::Finished {
                    job: job.id,
                    state: JobState::Failed,
                    error: Some(error),
                });
            }
            Outcome::Pause(reason) => {
                q.queue_release(job.id, &self.name)?;
                self.set(|b| b.paused = Some(reason.clone()));
                // Said at once, not at the next heartbeat (up to 5 s later): every workstation's
                // `agent status` and Host agents card show the pause from its own row.
                if let Err(e) = q.agent_beat(&self.name, "paused", Some(&reason), None) {
                    tracing::warn!(error = %e, "cannot record the agent's pause");
                }
                on_event(AgentEvent::Paused {
                    reason: reason.clone(),
                });
                *paused = Some(reason);
            }
            Outcome::Retry(why) => {
                // Given back for a later turn (this agent's or another's), after a pause so a
                // job that cannot go on yet is not taken again at once.
                q.queue_release(job.id, &self.name)?;
                on_event(AgentEvent::Released {
                    job: job.id,
                    reason: why,
                });
                let lapse = Duration::from_secs(ttl.unsigned_abs());
                if sleep_or_stop(opts.poll.min(lapse), wake, stop.clone(), false).await {
                    return Ok(Step::Stop);
                }
            }
            Outcome::Lost(e) => return Err(e),
        }
        Ok(Step::Again)
    }

    /// Carries out one claimed job in its requester's name.
    async fn carry_out(
        &self,
        store: &mut Store,
        tokens: &Arc<dyn crate::auth::TokenStore>,
        opts: &AgentOptions,
        job: &JobRow,
    ) -> Outcome {
        let requester =
            match queue(store).and_then(|q| Ok(q.queue_operator_of_login(&job.requested_by)?)) {
                Ok(Some(upn)) => upn,
                Ok(None) => {
                    return Outcome::Failed(format!(
                        "{} is no longer an operator of this store",
                        job.requested_by
                    ))
                }
                Err(e) => return outcome_of(e),
            };
        if let Err(e) = queue(store).and_then(|q| Ok(q.queue_act_for(Some(&job.requested_by))?)) {
            return outcome_of(e);
        }
        let actor = Actor::operator(requester);
        let session = match crate::integration::session(store, Arc::clone(tokens)) {
            Ok(s) => s,
            Err(e) => return outcome_of(e),
        };
        let done = match job.kind {
            JobKind::MeetingCreate => self.create(store, &session, &actor, job).await,
            JobKind::MeetingReschedule => self.reschedule(store, &session, &actor, job).await,
            JobKind::MeetingCancel => self.cancel(store, &session, &actor, job).await,
            JobKind::BatchRun | JobKind::BatchResume => {
                return self.batch(store, &session, &actor, opts, job).await
            }
        };
        match done {
            Ok(v) => Outcome::Done(v),
            Err(e) => outcome_of(e),
        }
    }

    async fn create(
        &self,
        store: &mut Store,
        session: &crate::integration::HostSession,
        actor: &Actor,
        job: &JobRow,
    ) -> Result<serde_json::Value, Error> {
        let p: CreatePayload = from_json(job)?;
        let input = NewMeeting {
            program: p.program,
            subject: p.subject,
            start: p.start,
            end: p.end.into(),
            time_zone: p.time_zone,
            dst: dst_of(&p.dst),
            participants: p.participants,
            external_id: Some(p.external_id),
            batch_id: None,
        };
        let c = meetings::create(store, session.graph(), actor, input).await?;
        Ok(json!({ "meeting": c.meeting, "outcome": c.outcome }))
    }

    async fn reschedule(
        &self,
        store: &mut Store,
        session: &crate::integration::HostSession,
        actor: &Actor,
        job: &JobRow,
    ) -> Result<serde_json::Value, Error> {
        let p: ReschedulePayload = from_json(job)?;
        let input = RescheduleInput {
            meeting: p.meeting,
            start: p.start,
            end: p.end.into(),
            time_zone: p.time_zone,
            dst: dst_of(&p.dst),
            subject: p.subject,
            participants: p.participants,
        };
        let m = meetings::reschedule(store, session.graph(), actor, input).await?;
        Ok(json!({ "meeting": m }))
    }

    async fn cancel(
        &self,
        store: &mut Store,
        session: &crate::integration::HostSession,
        actor: &Actor,
        job: &JobRow,
    ) -> Result<serde_json::Value, Error> {
        let p: CancelPayload = from_json(job)?;
        let c = meetings::cancel(store, session.graph(), actor, &p.meeting).await?;
        Ok(json!({ "meeting": c.meeting, "notes": c.notes }))
    }

    /// A batch job: store the file's batch under the job's uid (or find the one a dead agent
    /// stored), then run it to an end state.
    async fn batch(
        &self,
        store: &mut Store,
        session: &crate::integration::HostSession,
        actor: &Actor,
        opts: &AgentOptions,
        job: &JobRow,
    ) -> Outcome {
        match self.batch_inner(store, session, actor, opts, job).await {
            Ok(o) => o,
            Err(e) => outcome_of(e),
        }
    }

    async fn batch_inner(
        &self,
        store: &mut Store,
        session: &crate::integration::HostSession,
        actor: &Actor,
        opts: &AgentOptions,
        job: &JobRow,
    ) -> Result<Outcome, Error> {
        let uid = format!("queue-job-{}", job.id);
        let (id, run_opts) = match job.kind {
            JobKind::BatchResume => {
                let p: BatchResumePayload = from_json(job)?;
                let o = RunOptions {
                    batch_uid: None,
                    ..RunOptions::for_resume(store, actor, p.batch, p.concurrency)?
                };
                (p.batch, o)
            }
            _ => {
                let p: BatchRunPayload = from_json(job)?;
                let run_opts = RunOptions {
                    concurrency: p.concurrency.max(1),
                    skip_rejected: p.skip_rejected,
                    batch_uid: Some(uid.clone()),
                    ..opts.run.clone()
                };
                let existing = queue(store)?.queue_batch_of_uid(&uid)?;
                let id = match existing {
                    Some(id) => id,
                    None => {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(&p.csv_base64)
                            .map_err(|e| Error::invalid("job", format!("unreadable file: {e}")))?;
                        let plan_opts = crate::batch::plan::PlanOptions {
                            default_zone: p.default_zone.clone(),
                            dst: dst_of(&p.dst),
                        };
                        let (_, plan) = crate::batch::plan::validate(
                            store,
                            Some(session.graph()),
                            actor,
                            &bytes,
                            &plan_opts,
                        )
                        .await?;
                        if plan.summary.rejected > 0 && !p.skip_rejected {
                            let rejected: Vec<serde_json::Value> = batch_run::rejected_rows(&plan)
                                .map(|r| {
                                    json!({
                                        "line": r.line,
                                        "problems": r.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
                                    })
                                })
                                .collect();
                            return Ok(Outcome::Failed(format!(
                                "{} of {} rows are not ready: {}",
                                plan.summary.rejected,
                                plan.summary.rows,
                                serde_json::Value::Array(rejected)
                            )));
                        }
                        batch_run::create(store, actor, &p.source_name, &bytes, &plan, &run_opts)?
                    }
                };
                (id, run_opts)
            }
        };
        queue(store)?.queue_set_batch(job.id, &self.name, id)?;
        // A job taken over after its agent died may find its batch already ended.
        let now = batch_run::show_page(store, actor, id, Some("in_flight"), None, 1)?
            .0
            .batch;
        if matches!(now.state, BatchState::Completed | BatchState::Cancelled) {
            return Ok(Outcome::Done(json!({
                "batch": now.id, "state": now.state, "counts": now.counts,
                "requests": 0, "throttled": 0,
            })));
        }
        let transport = Arc::new(GraphTransport::new(session));
        let ran =
            batch_run::execute(store, transport, actor, id, &run_opts, &|_: BatchEvent| {}).await?;
        let b = &ran.batch;
        if b.state == BatchState::Paused {
            let reason = b
                .pause_reason
                .clone()
                .unwrap_or_else(|| "the batch paused".into());
            if reason.contains("reconnect") {
                return Ok(Outcome::Pause(format!(
                    "reconnect the host: {reason} (a global admin runs `tsched integration \
                     connect` on the agent's machine; the queue resumes by itself)"
                )));
            }
        }
        Ok(Outcome::Done(json!({
            "batch": b.id,
            "state": b.state,
            "counts": b.counts,
            "requests": ran.requests,
            "throttled": ran.throttled,
        })))
    }
}

/// The login `store` works as.
fn login_of(store: &Store) -> Result<String, Error> {
    store
        .shared_login()
        .map(str::to_string)
        .ok_or_else(no_queue)
}

/// Waits `d`, a wake-up (when `wakeable`) or a stop; true when told to stop.
async fn sleep_or_stop(
    d: Duration,
    wake: &tokio::sync::Notify,
    mut stop: tokio::sync::watch::Receiver<bool>,
    wakeable: bool,
) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = wake.notified(), if wakeable => {}
        _ = stop.changed() => {}
    }
    *stop.borrow()
}

/// The heartbeat thread: five times per claim (at most every [`HEARTBEAT`]), renews the claim
/// on the current job and the agent's row (with its pause), on a connection of its own; marks
/// the agent stopped at the end.
fn heartbeat(
    mut store: Store,
    name: &str,
    beat: &Mutex<Beat>,
    ttl_secs: i64,
    reopen: Option<Opener>,
) {
    let every = HEARTBEAT.min(Duration::from_millis(ttl_secs.unsigned_abs() * 200));
    loop {
        let b = beat.lock().map(|b| b.clone()).unwrap_or_default();
        let Some(q) = store.queue() else { return };
        if b.stop {
            let _ = q.agent_beat(name, "stopped", None, None);
            return;
        }
        let state = if b.paused.is_some() {
            "paused"
        } else {
            "running"
        };
        let mut failed = q
            .agent_beat(name, state, b.paused.as_deref(), b.job)
            .err()
            .map(Error::from);
        if let Some(job) = b.job {
            match q.queue_renew(job, name, ttl_secs) {
                Ok(true) => {}
                Ok(false) => tracing::warn!(job, "the claim on this job was taken over"),
                Err(e) => failed = Some(e.into()),
            }
        }
        if let Some(e) = failed {
            tracing::warn!(error = %e, "agent heartbeat failed");
            // The database went away: a new connection for the next beat.
            if let (true, Some(open)) = (lost(&e), &reopen) {
                if let Ok(fresh) = open() {
                    store = fresh;
                }
            }
        }
        // Sleep in small steps so a stop is quick.
        let until = std::time::Instant::now() + every;
        while std::time::Instant::now() < until {
            if beat.lock().map(|b| b.stop).unwrap_or(true) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
