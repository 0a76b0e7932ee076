//! The host agent's queue (issue 20), a table of the team store only: the team's Graph work as
//! rows, enqueued by any workstation and carried out by `tsched agent` on the one machine that
//! holds the host's token (`crate::agent`). The embedded store has no queue: one seat does its
//! Graph work itself. Claims are leases on the server's clock, so agents on machines whose
//! clocks disagree still agree on whose claim has lapsed.

use serde::Serialize;

use crate::store::StoreError;

/// What a job asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Create one meeting (`meetings::create`).
    MeetingCreate,
    /// Reschedule a meeting (`meetings::reschedule`).
    MeetingReschedule,
    /// Cancel a meeting (`meetings::cancel`).
    MeetingCancel,
    /// Validate, store and run a CSV file (`batch run`).
    BatchRun,
    /// Resume a stored batch (`batch resume`).
    BatchResume,
}

impl JobKind {
    /// The stored (and shown) name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::MeetingCreate => "meeting.create",
            JobKind::MeetingReschedule => "meeting.reschedule",
            JobKind::MeetingCancel => "meeting.cancel",
            JobKind::BatchRun => "batch.run",
            JobKind::BatchResume => "batch.resume",
        }
    }

    /// The kind of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            JobKind::MeetingCreate,
            JobKind::MeetingReschedule,
            JobKind::MeetingCancel,
            JobKind::BatchRun,
            JobKind::BatchResume,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for an agent.
    Queued,
    /// An agent works on it (its claim may have lapsed: then another agent takes it over).
    Claimed,
    /// Carried out; `result` says what came of it.
    Done,
    /// Refused or failed for good; `error` says why.
    Failed,
}

impl JobState {
    /// The stored (and shown) name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Claimed => "claimed",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    /// The state of a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            JobState::Queued,
            JobState::Claimed,
            JobState::Done,
            JobState::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether the job has ended.
    pub fn ended(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed)
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRow {
    /// Its id (what `--wait` and `agent status` name).
    pub id: i64,
    /// What it asks for.
    pub kind: JobKind,
    /// A meeting job's program.
    pub program_id: Option<i64>,
    /// A batch job's program codes, space-separated.
    pub programs: String,
    /// Its input (JSON).
    pub payload: String,
    /// Where it is.
    pub state: JobState,
    /// The login that asked (set by the server).
    pub requested_by: String,
    /// When (the server's clock, RFC 3339 UTC).
    pub requested_at: String,
    /// The agent that holds or held it (`pid@host#run`).
    pub claimed_by: Option<String>,
    /// Until when its claim holds.
    pub claim_until: Option<String>,
    /// How many times an agent took it.
    pub attempts: i64,
    /// The batch a batch job made or runs.
    pub batch_id: Option<i64>,
    /// What came of it (JSON), once done.
    pub result: Option<String>,
    /// Why it failed, once failed.
    pub error: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
}

/// A job to enqueue.
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    /// What it asks for.
    pub kind: JobKind,
    /// A meeting job's program (the policies check it).
    pub program_id: Option<i64>,
    /// A batch job's program codes, space-separated (the policies check them).
    pub programs: &'a str,
    /// Its input (JSON).
    pub payload: &'a str,
    /// The batch a `batch.resume` job runs.
    pub batch_id: Option<i64>,
}

/// A running (or lately running) agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRow {
    /// `pid@host#run`.
    pub name: String,
    /// The login it works as.
    pub login: String,
    /// Its machine.
    pub host: String,
    /// Its process.
    pub pid: i64,
    /// When it started (RFC 3339 UTC).
    pub started_at: String,
    /// Its last heartbeat (RFC 3339 UTC, the server's clock).
    pub heartbeat_at: String,
    /// Seconds since that heartbeat, by the server's clock.
    pub heartbeat_age_secs: f64,
    /// `running`, `paused` or `stopped`.
    pub state: String,
    /// Why it pauses the queue.
    pub pause_reason: Option<String>,
    /// The job it works on.
    pub current_job: Option<i64>,
}

/// How much work waits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueDepth {
    /// Jobs no agent holds yet.
    pub queued: i64,
    /// Jobs an agent holds.
    pub claimed: i64,
    /// When the oldest queued job was enqueued (RFC 3339 UTC).
    pub oldest_waiting_since: Option<String>,
    /// How long it has waited, in seconds, by the server's clock.
    pub oldest_waiting_secs: Option<f64>,
}

/// The queue's statements (PostgreSQL only). Every claim-holding call names the agent, and does
/// nothing (returns `false`) when that agent no longer holds the job: a claim taken over after
/// it lapsed belongs to the new holder.
pub trait QueueTable {
    /// Enqueues a job as this session's login; its id.
    fn queue_insert(&self, job: &NewJob<'_>) -> Result<i64, StoreError>;
    /// A job, if this session may see it.
    fn queue_job(&self, id: i64) -> Result<Option<JobRow>, StoreError>;
    /// The oldest job waiting (or whose claim lapsed), claimed by `agent` for `ttl_secs`;
    /// jobs other agents are claiming at this instant are skipped (`FOR UPDATE SKIP LOCKED`).
    fn queue_claim(&self, agent: &str, ttl_secs: i64) -> Result<Option<JobRow>, StoreError>;
    /// Extends `agent`'s claim on job `id`.
    fn queue_renew(&self, id: i64, agent: &str, ttl_secs: i64) -> Result<bool, StoreError>;
    /// Ends job `id` (`Done` or `Failed`) with its result or error.
    fn queue_finish(
        &self,
        id: i64,
        agent: &str,
        state: JobState,
        result: Option<&str>,
        error: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// Gives job `id` back to the queue untouched (the queue pauses).
    fn queue_release(&self, id: i64, agent: &str) -> Result<bool, StoreError>;
    /// Records the batch a batch job made (in the transaction that stored it).
    fn queue_set_batch(&self, id: i64, agent: &str, batch_id: i64) -> Result<bool, StoreError>;
    /// How much work waits.
    fn queue_depth(&self) -> Result<QueueDepth, StoreError>;
    /// The jobs of this session's login (or every job, for who sees all), newest first.
    fn queue_recent(&self, limit: u32) -> Result<Vec<JobRow>, StoreError>;
    /// Names the requester the next audit rows of this session are written for (`None`: the
    /// login itself). The server accepts it only while this login holds a claim on a job of
    /// that requester.
    fn queue_act_for(&self, requester: Option<&str>) -> Result<(), StoreError>;
    /// The batch stored with `uid`, if any.
    fn queue_batch_of_uid(&self, uid: &str) -> Result<Option<i64>, StoreError>;
    /// The UPN of the operator whose login is `login`.
    fn queue_operator_of_login(&self, login: &str) -> Result<Option<String>, StoreError>;
    /// Announces (or re-announces) agent `name`, running.
    fn agent_announce(&self, name: &str, host: &str, pid: i64) -> Result<(), StoreError>;
    /// `name`'s heartbeat with its state; `false` when its row is gone.
    fn agent_beat(
        &self,
        name: &str,
        state: &str,
        pause_reason: Option<&str>,
        current_job: Option<i64>,
    ) -> Result<bool, StoreError>;
    /// Every agent seen in the last `within_secs` seconds, newest heartbeat first.
    fn agents(&self, within_secs: i64) -> Result<Vec<AgentRow>, StoreError>;
}
