//! Running a batch: store it with all its items before the first request, then create the
//! meetings concurrently through `createOrGet` under the [`RateController`], record every answer,
//! and survive anything: a kill leaves items `queued`/`in_flight` that [`resume`] sends again
//! (safe: the `externalId` makes `createOrGet` return the existing meeting), a revoked refresh
//! token pauses the batch ("reconnect the host"), a cancel stops scheduling.
//!
//! HTTP goes through a [`Transport`] that makes exactly ONE attempt per call (plus one silent
//! token refresh on 401): retries belong to this loop, so every 429 reaches the rate controller
//! and `Retry-After` holds every request, not only the one that got it
//! (https://learn.microsoft.com/en-us/graph/throttling#best-practices-to-handle-throttling).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use tokio::task::JoinSet;

use super::plan::{self, Plan, PlanOptions, RowStatus};
use super::rate::{backoff, BackoffConfig, RateConfig, RateController};
use super::{BatchEvent, MeetingRow};
use crate::access::{self, Action};
use crate::actor::Actor;
use crate::auth::AuthError;
use crate::error::Error;
use crate::graph::meetings::{create_or_get_request, CreateOrGet, OnlineMeeting};
use crate::graph::{BoxFuture, GraphClient, TokenSource};
use crate::store::audit_log::{self, AuditEntry};
use crate::store::batches::{self as table, BatchRow, ItemRow};
use crate::store::page::{self, Page};
use crate::store::Store;

/// The answer to one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The meeting exists: 201 (created now) or 200 (it already existed).
    Done {
        /// Graph id.
        id: String,
        /// Join link.
        join_web_url: String,
        /// 201.
        created: bool,
    },
    /// 429: hold everything for `retry_after`.
    Throttled {
        /// `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// 5xx, timeout, dropped connection: retry this item later.
    Transient {
        /// What happened.
        reason: String,
        /// `Retry-After`, when the answer had one (503).
        retry_after: Option<Duration>,
    },
    /// A non-retryable answer (4xx): the item fails with Graph's code and message.
    Fatal {
        /// Graph's error code.
        code: String,
        /// Graph's message.
        message: String,
    },
    /// The host's sign-in is gone (refresh token revoked or expired): pause the batch.
    Reconnect {
        /// What to do.
        reason: String,
    },
}

/// One attempt at a Graph call. Implemented over HTTP by [`GraphTransport`]; tests may fake it.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// `POST /me/onlineMeetings/createOrGet`, once.
    fn create_or_get(&self, req: CreateOrGet) -> BoxFuture<'_, Attempt>;
    /// `DELETE /me/onlineMeetings/{id}`, once; a 404 counts as done.
    fn delete(&self, id: String) -> BoxFuture<'_, Attempt>;
}

/// The HTTP transport: the host session's token source and Graph base, one attempt per call.
#[derive(Clone)]
pub struct GraphTransport {
    http: reqwest::Client,
    base: String,
    tokens: Arc<dyn TokenSource>,
    timeout: Duration,
}

impl std::fmt::Debug for GraphTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphTransport")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl GraphTransport {
    /// Over the host session (`integration::session`).
    pub fn new(session: &crate::integration::HostSession) -> Self {
        Self::over(session.graph(), session.tokens().clone())
    }

    /// Over a Graph client's base URL and a token source.
    pub fn over(graph: &GraphClient, tokens: Arc<dyn TokenSource>) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(64)
            .user_agent(concat!("TeamsScheduler/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("invariant: a rustls client with static options builds");
        Self {
            http,
            base: graph.base().to_string(),
            tokens,
            timeout: Duration::from_secs(30),
        }
    }

    async fn once(
        &self,
        req: crate::graph::GraphRequest,
    ) -> Result<(u16, Vec<u8>, reqwest::header::HeaderMap), Attempt> {
        let url = format!(
            "{}/{}",
            self.base,
            req.path_and_query.trim_start_matches('/')
        );
        let mut refreshed = false;
        loop {
            let token = match self.tokens.token().await {
                Ok(t) => t,
                Err(e) => return Err(auth_attempt(e)),
            };
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let call = crate::graph::trace::Call {
                method: &req.method,
                path_and_query: &req.path_and_query,
                client_request_id: &client_request_id,
                attempt: 1 + u32::from(refreshed),
                started: std::time::Instant::now(),
            };
            let mut b = self
                .http
                .request(req.method.clone(), &url)
                .bearer_auth(token.expose())
                .timeout(self.timeout)
                .header("Accept", "application/json")
                .header("client-request-id", client_request_id.as_str());
            if let Some(body) = &req.body {
                b = b
                    .header("Content-Type", "application/json")
                    .body(body.to_string());
            }
            let resp = match b.send().await {
                Ok(r) => r,
                Err(e) => {
                    let reason = crate::auth::tokens::describe_reqwest(&e);
                    call.failed(&reason);
                    return Err(Attempt::Transient {
                        reason,
                        retry_after: None,
                    });
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            call.answered(status, &headers);
            let body = match resp.bytes().await {
                Ok(b) => b.to_vec(),
                Err(e) => {
                    return Err(Attempt::Transient {
                        reason: format!(
                            "connection dropped: {}",
                            crate::auth::tokens::describe_reqwest(&e)
                        ),
                        retry_after: None,
                    })
                }
            };
            if status == 401 && !refreshed {
                // Transparent refresh: drop the token, get a fresh one, send again once.
                refreshed = true;
                self.tokens.reject(&token).await;
                continue;
            }
            return Ok((status, body, headers));
        }
    }
}

fn auth_attempt(e: AuthError) -> Attempt {
    let code = e.code();
    if matches!(code, crate::ErrorCode::Network) {
        Attempt::Transient {
            reason: e.to_string(),
            retry_after: None,
        }
    } else {
        Attempt::Reconnect {
            reason: format!("reconnect the host account: {e}"),
        }
    }
}

/// Pure: what an HTTP answer to an attempt means.
pub fn classify(status: u16, body: &[u8], headers: &reqwest::header::HeaderMap) -> Attempt {
    let retry_after = crate::graph::retry::retry_after(headers);
    match status {
        200..=299 => match crate::graph::decode_body::<OnlineMeeting>(body, None) {
            Ok(m) => Attempt::Done {
                id: m.id,
                join_web_url: m.join_web_url.unwrap_or_default(),
                created: status == 201,
            },
            Err(e) => Attempt::Transient {
                reason: e.to_string(),
                retry_after: None,
            },
        },
        429 => Attempt::Throttled { retry_after },
        // createOrGet is idempotent, so even a 500 is safe to repeat.
        500..=599 | 408 => {
            let (code, message, _) = crate::graph::error::parse_error_body(body);
            Attempt::Transient {
                reason: format!("HTTP {status} {code} {message}").trim().to_string(),
                retry_after,
            }
        }
        401 => Attempt::Reconnect {
            reason:
                "reconnect the host account: Microsoft Graph did not accept its sign-in (HTTP 401)"
                    .into(),
        },
        _ => {
            let (code, message, _) = crate::graph::error::parse_error_body(body);
            Attempt::Fatal {
                code: if code.is_empty() {
                    format!("http_{status}")
                } else {
                    code
                },
                message,
            }
        }
    }
}

impl Transport for GraphTransport {
    fn create_or_get(&self, req: CreateOrGet) -> BoxFuture<'_, Attempt> {
        Box::pin(async move {
            match self.once(create_or_get_request(&req)).await {
                Ok((status, body, headers)) => classify(status, &body, &headers),
                Err(a) => a,
            }
        })
    }

    fn delete(&self, id: String) -> BoxFuture<'_, Attempt> {
        Box::pin(async move {
            let req = crate::graph::GraphRequest {
                method: reqwest::Method::DELETE,
                path_and_query: format!(
                    "/me/onlineMeetings/{}",
                    crate::graph::users::encode_component(&id)
                ),
                headers: Vec::new(),
                body: None,
            };
            match self.once(req).await {
                Ok((204 | 200 | 404, _, _)) => Attempt::Done {
                    id,
                    join_web_url: String::new(),
                    created: false,
                },
                Ok((status, body, headers)) => classify(status, &body, &headers),
                Err(a) => a,
            }
        })
    }
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Rate controller tunables.
    pub rate: RateConfig,
    /// Per-item backoff of transient failures.
    pub backoff: BackoffConfig,
    /// Transient failures of one item before it fails (each wait capped by `backoff.cap`).
    pub max_transient_attempts: u32,
    /// How often `Progress` is emitted and a cancel is looked for.
    pub tick: Duration,
    /// Run even when some rows are rejected (only the ready rows become items).
    pub skip_rejected: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            rate: RateConfig::default(),
            backoff: BackoffConfig::default(),
            max_transient_attempts: 12,
            tick: Duration::from_millis(250),
            skip_rejected: false,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// The batch.
    pub batch: BatchRow,
    /// 429s seen in this run.
    pub throttled: u64,
    /// Attempts sent in this run.
    pub requests: u64,
}

/// A batch with its items.
#[derive(Debug, Clone, Serialize)]
pub struct BatchView {
    /// The batch and counts.
    pub batch: BatchRow,
    /// Items in line order.
    pub items: Vec<ItemRow>,
}

fn now_db() -> String {
    crate::time::now_db()
}

/// Stores a planned batch: the batch row, one `queued` item per ready row and an audit entry,
/// all in one transaction, before anything is sent. Refuses a plan with rejected rows unless
/// `skip_rejected`, and a plan with no ready row.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, source = %source_name))]
pub fn create(
    store: &mut Store,
    actor: &Actor,
    source_name: &str,
    bytes: &[u8],
    plan: &Plan,
    opts: &RunOptions,
) -> Result<i64, Error> {
    if !plan.file_problems.is_empty() {
        return Err(Error::Invalid {
            field: "file",
            reason: plan
                .file_problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    if plan.summary.rejected > 0 && !opts.skip_rejected {
        return Err(Error::invalid(
            "file",
            format!(
                "{} of {} rows are not ready (see `tsched batch validate`); fix them, or pass --skip-rejected to create only the {} ready rows",
                plan.summary.rejected, plan.summary.rows, plan.summary.ready
            ),
        ));
    }
    if plan.summary.ready == 0 {
        return Err(Error::invalid("file", "no row is ready; nothing to create"));
    }
    use sha2::Digest;
    let sha = hex(&sha2::Sha256::digest(bytes));
    let uid = uuid::Uuid::new_v4().to_string();
    store.write(|tx| -> Result<i64, Error> {
        let who = access::resolve(tx, actor)?;
        let now = now_db();
        let codes: std::collections::BTreeSet<String> =
            plan.ready().map(|m| m.program.clone()).collect();
        let codes: Vec<String> = codes.into_iter().collect();
        let id = table::insert(
            tx,
            &uid,
            source_name,
            &sha,
            opts.concurrency as i64,
            &codes,
            &who.label,
            &now,
        )?;
        let mut programs = std::collections::BTreeSet::new();
        for m in plan.ready() {
            // Re-checked inside the write lock: another batch may have taken the meeting meanwhile.
            access::require(tx, actor, Action::BatchesManage, Some(&m.program))?;
            if let Some((b, l)) = table::live_item(tx, &m.external_id)? {
                return Err(Error::Conflict(format!(
                    "line {}: this meeting is already scheduled by batch {b} (line {l})",
                    m.line
                )));
            }
            let row_json =
                serde_json::to_string(m).map_err(|e| Error::invalid("row", e.to_string()))?;
            table::insert_item(tx, id, m.line, &m.external_id, &row_json, &now)?;
            programs.insert(m.program.clone());
        }
        audit_log::append(
            tx,
            &AuditEntry {
                operator: &who.label,
                real_actor: who.real_actor.as_deref(),
                action: "batch.create",
                target: &format!("batch:{id}"),
                program_code: if programs.len() == 1 {
                    programs.iter().next().map(String::as_str)
                } else {
                    None
                },
                after: Some(json!({
                    "uid": uid, "source": source_name, "sha256": sha,
                    "rows": plan.summary.rows, "ready": plan.summary.ready,
                    "rejected": plan.summary.rejected, "programs": programs,
                })),
                ..Default::default()
            },
        )?;
        Ok(id)
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Validates, stores and runs a file (`tsched batch run`). Refuses (nothing stored) when rows
/// are rejected, unless `opts.skip_rejected`.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, source = %source_name))]
pub async fn run(
    store: &mut Store,
    graph: &GraphClient,
    transport: Arc<dyn Transport>,
    actor: &Actor,
    source_name: &str,
    bytes: &[u8],
    plan_opts: &PlanOptions,
    opts: &RunOptions,
    progress: &(dyn Fn(BatchEvent) + Send + Sync),
) -> Result<RunOutcome, Error> {
    let (_, plan) = plan::validate(store, Some(graph), actor, bytes, plan_opts).await?;
    let id = create(store, actor, source_name, bytes, &plan, opts)?;
    execute(store, transport, actor, id, opts, progress).await
}

/// Finishes an interrupted, paused or planned batch (`tsched batch resume ID`).
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, batch = id))]
pub async fn resume(
    store: &mut Store,
    transport: Arc<dyn Transport>,
    actor: &Actor,
    id: i64,
    opts: &RunOptions,
    progress: &(dyn Fn(BatchEvent) + Send + Sync),
) -> Result<RunOutcome, Error> {
    execute(store, transport, actor, id, opts, progress).await
}

fn load(store: &Store, id: i64) -> Result<BatchRow, Error> {
    table::get(store.conn(), id)?.ok_or(Error::NotFound {
        what: "batch",
        key: id.to_string(),
    })
}

fn rows_of(items: &[ItemRow]) -> Result<Vec<MeetingRow>, Error> {
    items
        .iter()
        .map(|i| {
            serde_json::from_str::<MeetingRow>(&i.row_json).map_err(|e| {
                Error::invalid(
                    "batch item",
                    format!("line {}: unreadable stored row: {e}", i.line),
                )
            })
        })
        .collect()
}

fn require_programs(
    store: &Store,
    actor: &Actor,
    rows: &[MeetingRow],
) -> Result<access::Resolved, Error> {
    let mut who = access::resolve(store.conn(), actor)?;
    let programs: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.program.as_str()).collect();
    for p in programs {
        who = access::require(store.conn(), actor, Action::BatchesManage, Some(p))?;
    }
    Ok(who)
}

/// Records a created meeting in the `meetings` table (shared with single meetings, so lists,
/// ICS exports and reschedules see batch meetings too); returns its row id.
fn record_meeting(
    tx: &rusqlite::Connection,
    batch_id: i64,
    row: &MeetingRow,
    graph_id: &str,
    join_web_url: &str,
    created_by: &str,
    now: &str,
) -> Result<i64, Error> {
    use crate::store::meetings as mt;
    let start = crate::time::to_db(row.start_utc);
    let end = crate::time::to_db(row.end_utc);
    let id = match mt::by_external_id(tx, &row.external_id)? {
        Some(m) => m.id,
        None => {
            let program =
                crate::store::programs::by_code(tx, &row.program)?.ok_or(Error::NotFound {
                    what: "program",
                    key: row.program.clone(),
                })?;
            let attendees: Vec<mt::AttendeeRow> = row
                .attendees
                .iter()
                .map(|a| mt::AttendeeRow {
                    address: a.upn.to_lowercase(),
                    upn: Some(a.upn.clone()),
                    object_id: Some(a.user_id.clone()),
                    display_name: None,
                })
                .collect();
            mt::insert_pending(
                tx,
                &mt::NewRow {
                    external_id: &row.external_id,
                    program_id: program.id,
                    batch_id: Some(batch_id),
                    subject: &row.subject,
                    start_utc: &start,
                    end_utc: &end,
                    time_zone: &row.time_zone,
                    created_by,
                    now,
                },
                &attendees,
            )?
        }
    };
    let host = crate::store::integration::get(tx)?.map(|r| r.host_upn);
    mt::mark_created(
        tx,
        id,
        &mt::Confirmed {
            graph_id,
            join_web_url: (!join_web_url.is_empty()).then_some(join_web_url),
            join_meeting_id: None,
            passcode: None,
            organizer_upn: host.as_deref(),
            start_utc: &start,
            end_utc: &end,
        },
        now,
    )?;
    Ok(id)
}

struct Inflight {
    line: u64,
    sent_at: Instant,
    attempt: Attempt,
}

/// The executor: runs every queued item of batch `id` to an end state (or until a cancel or a
/// pause). Idempotent and restartable at any instant.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, batch = id))]
pub async fn execute(
    store: &mut Store,
    transport: Arc<dyn Transport>,
    actor: &Actor,
    id: i64,
    opts: &RunOptions,
    progress: &(dyn Fn(BatchEvent) + Send + Sync),
) -> Result<RunOutcome, Error> {
    let batch = load(store, id)?;
    if !batch.resumable() {
        return Err(Error::Conflict(format!(
            "batch {id} is {}; there is nothing to resume",
            batch.state
        )));
    }
    let all = table::items(store.conn(), id, None)?;
    let all_rows = rows_of(&all)?;
    let who = require_programs(store, actor, &all_rows)?;
    let started_wall = Instant::now();
    let counts = store.write(|tx| -> Result<table::Counts, Error> {
        let now = now_db();
        table::requeue_in_flight(tx, id, &now)?;
        table::set_state(tx, id, "running", None, false, &now)?;
        let c = table::counts(tx, id)?;
        audit_log::append(
            tx,
            &AuditEntry {
                operator: &who.label,
                real_actor: who.real_actor.as_deref(),
                action: "batch.start",
                target: &format!("batch:{id}"),
                after: Some(json!({"total": c.total, "queued": c.queued, "done": c.done, "failed": c.failed})),
                ..Default::default()
            },
        )?;
        Ok(c)
    })?;
    let mut by_line: HashMap<u64, MeetingRow> = HashMap::new();
    let mut ready: VecDeque<u64> = VecDeque::new();
    for (item, row) in all.iter().zip(all_rows) {
        if matches!(item.state.as_str(), "queued" | "in_flight") {
            ready.push_back(item.line);
            by_line.insert(item.line, row);
        }
    }
    progress(BatchEvent::Started {
        batch: id,
        total: counts.total,
        queued: ready.len() as u64,
        already_done: counts.done,
    });

    let mut rate = RateController::new(opts.rate, Instant::now());
    let mut delayed: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut transient: HashMap<u64, u32> = HashMap::new();
    let mut attempts: HashMap<u64, u32> = HashMap::new();
    let mut set: JoinSet<Inflight> = JoinSet::new();
    let mut done = counts.done;
    let mut failed = counts.failed;
    let mut done_times: VecDeque<Instant> = VecDeque::new();
    let mut pause: Option<String> = None;
    let mut cancelled = false;
    let mut next_tick = Instant::now() + opts.tick;
    let mut requests = 0u64;
    let concurrency = opts.concurrency.max(1);
    let shared = transport;

    loop {
        let now = Instant::now();
        while let Some(Reverse((due, line))) = delayed.peek().copied() {
            if due > now {
                break;
            }
            delayed.pop();
            ready.push_back(line);
        }
        let mut wake = now + opts.tick;
        if !cancelled && pause.is_none() {
            while set.len() < concurrency {
                let Some(&line) = ready.front() else { break };
                match rate.acquire(Instant::now()) {
                    Ok(()) => {
                        ready.pop_front();
                        // Atomic with a cancel in another process: an item that is no longer
                        // queued (cancelled) is never sent, so an undo cannot miss its meeting.
                        if table::mark_in_flight(store.conn(), id, line, &now_db())? == 0 {
                            cancelled = true;
                            continue;
                        }
                        let row = by_line
                            .get(&line)
                            .cloned()
                            .expect("invariant: every queued line has its row");
                        let n = attempts.entry(line).or_insert(0);
                        *n += 1;
                        let attempt_no = *n;
                        progress(BatchEvent::InFlight {
                            line,
                            attempt: attempt_no,
                        });
                        requests += 1;
                        let t = shared.clone();
                        set.spawn(async move {
                            let sent_at = Instant::now();
                            let attempt = t.create_or_get(row.create_or_get()).await;
                            Inflight {
                                line,
                                sent_at,
                                attempt,
                            }
                        });
                    }
                    Err(w) => {
                        wake = wake.min(Instant::now() + w);
                        break;
                    }
                }
            }
        }
        if let Some(Reverse((due, _))) = delayed.peek() {
            wake = wake.min(*due);
        }
        let nothing_left = ready.is_empty() && delayed.is_empty();
        if set.is_empty() && (nothing_left || cancelled || pause.is_some()) {
            break;
        }
        let finished = tokio::select! {
            r = set.join_next(), if !set.is_empty() => r,
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => None,
        };
        if let Some(joined) = finished {
            let f = joined
                .map_err(|e| Error::invalid("batch", format!("a request task failed: {e}")))?;
            let now = Instant::now();
            match f.attempt {
                Attempt::Done {
                    id: gid,
                    join_web_url,
                    created,
                } => {
                    rate.on_success(now);
                    done += 1;
                    done_times.push_back(now);
                    let row = by_line
                        .get(&f.line)
                        .expect("invariant: in-flight line has its row");
                    store.write(|tx| -> Result<(), Error> {
                        let at = now_db();
                        table::mark_done(tx, id, f.line, &gid, &join_web_url, created, &at)?;
                        let meeting = record_meeting(tx, id, row, &gid, &join_web_url, &who.label, &at)?;
                        table::set_meeting(tx, id, f.line, meeting)?;
                        audit_log::append(
                            tx,
                            &AuditEntry {
                                operator: &who.label,
                                real_actor: who.real_actor.as_deref(),
                                action: "meeting.create",
                                target: &format!("meeting:{}", row.external_id),
                                program_code: Some(&row.program),
                                after: Some(json!({
                                    "batch": id, "line": f.line, "graph_id": gid,
                                    "subject": row.subject, "start": crate::time::to_db(row.start_utc),
                                    "end": crate::time::to_db(row.end_utc), "join_web_url": join_web_url,
                                    "created_now": created,
                                })),
                                ..Default::default()
                            },
                        )?;
                        Ok(())
                    })?;
                    progress(BatchEvent::Done {
                        line: f.line,
                        meeting_id: gid,
                        join_web_url,
                        created,
                    });
                }
                Attempt::Throttled { retry_after } => {
                    rate.on_throttled(now, f.sent_at, retry_after);
                    table::mark_queued(store.conn(), id, f.line, &now_db())?;
                    ready.push_front(f.line);
                    progress(BatchEvent::Throttled {
                        retry_after_ms: retry_after.unwrap_or(Duration::from_secs(1)).as_millis()
                            as u64,
                        rate: rate.rate(),
                    });
                }
                Attempt::Transient {
                    reason,
                    retry_after,
                } => {
                    let n = transient.entry(f.line).or_insert(0);
                    *n += 1;
                    if *n >= opts.max_transient_attempts {
                        failed += 1;
                        table::mark_failed(
                            store.conn(),
                            id,
                            f.line,
                            "transient",
                            &format!("gave up after {n} transient failures; last: {reason}"),
                            &now_db(),
                        )?;
                        progress(BatchEvent::Failed {
                            line: f.line,
                            code: "transient".into(),
                            message: reason,
                        });
                    } else {
                        let wait = retry_after
                            .unwrap_or_else(|| backoff(opts.backoff, *n, rand::random::<f64>()));
                        table::mark_queued(store.conn(), id, f.line, &now_db())?;
                        delayed.push(Reverse((now + wait, f.line)));
                        progress(BatchEvent::Retrying {
                            line: f.line,
                            attempt: *n,
                            wait_ms: wait.as_millis() as u64,
                            reason,
                        });
                    }
                }
                Attempt::Fatal { code, message } => {
                    failed += 1;
                    table::mark_failed(store.conn(), id, f.line, &code, &message, &now_db())?;
                    progress(BatchEvent::Failed {
                        line: f.line,
                        code,
                        message,
                    });
                }
                Attempt::Reconnect { reason } => {
                    table::mark_queued(store.conn(), id, f.line, &now_db())?;
                    ready.push_front(f.line);
                    if pause.is_none() {
                        pause = Some(reason);
                    }
                }
            }
        }
        let now = Instant::now();
        if now >= next_tick {
            next_tick = now + opts.tick;
            // A cancel from another process (or window) shows up as the batch's state.
            if table::state(store.conn(), id)?.as_deref() == Some("cancelled") {
                cancelled = true;
            }
            while done_times
                .front()
                .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(5))
            {
                done_times.pop_front();
            }
            let window = now
                .duration_since(started_wall)
                .min(Duration::from_secs(5))
                .as_secs_f64();
            let achieved = if window > 0.0 {
                done_times.len() as f64 / window
            } else {
                0.0
            };
            let remaining = (ready.len() + delayed.len() + set.len()) as u64;
            progress(BatchEvent::Progress {
                done,
                failed,
                in_flight: set.len() as u64,
                remaining,
                rate: rate.rate(),
                achieved,
                eta_secs: (achieved > 0.0).then(|| remaining as f64 / achieved),
            });
        }
    }

    let (state, reason) = if let Some(r) = &pause {
        ("paused", Some(r.as_str()))
    } else if cancelled {
        ("cancelled", None)
    } else {
        ("completed", None)
    };
    let batch = store.write(|tx| -> Result<BatchRow, Error> {
        let at = now_db();
        if cancelled {
            table::cancel_queued(tx, id, &at)?;
        }
        table::set_state(tx, id, state, reason, state != "paused", &at)?;
        let c = table::counts(tx, id)?;
        audit_log::append(
            tx,
            &AuditEntry {
                operator: &who.label,
                real_actor: who.real_actor.as_deref(),
                action: "batch.finish",
                target: &format!("batch:{id}"),
                after: Some(json!({
                    "state": state, "reason": reason, "total": c.total, "done": c.done,
                    "failed": c.failed, "cancelled": c.cancelled, "requests": requests,
                    "throttled": rate.throttles(),
                })),
                ..Default::default()
            },
        )?;
        table::get(tx, id)?.ok_or(Error::NotFound {
            what: "batch",
            key: id.to_string(),
        })
    })?;
    if let Some(r) = &pause {
        progress(BatchEvent::Paused { reason: r.clone() });
    }
    progress(BatchEvent::Finished {
        state: state.to_string(),
        done: batch.counts.done,
        failed: batch.counts.failed,
        cancelled: batch.counts.cancelled,
        elapsed_ms: started_wall.elapsed().as_millis() as u64,
    });
    Ok(RunOutcome {
        batch,
        throttled: rate.throttles(),
        requests,
    })
}

/// The batches the acting operator may manage (every program of the batch), newest first, with
/// counts (`tsched batch list`; resumable ones say so).
pub fn list(store: &Store, actor: &Actor) -> Result<Vec<BatchRow>, Error> {
    let who = access::resolve(store.conn(), actor)?;
    Ok(table::list(store.conn())?
        .into_iter()
        .filter(|b| {
            b.programs
                .iter()
                .all(|p| access::decide(&who.subject, Action::BatchesManage, Some(p)).is_allowed())
        })
        .collect())
}

/// One page of the batches the acting operator may manage, newest first, with counts;
/// `after` is the previous page's `next_cursor`. Batches the operator may not manage are
/// skipped, so a page may need several reads of the table to fill.
pub fn list_page(
    store: &Store,
    actor: &Actor,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<BatchRow>, Error> {
    let who = access::resolve(store.conn(), actor)?;
    let limit = page::limit(limit);
    let mut visible = Vec::new();
    let mut cursor = after.map(str::to_string);
    loop {
        let read = table::list_page(store.conn(), cursor.as_deref(), limit.saturating_add(1))?;
        visible.extend(read.items.into_iter().filter(|b| {
            b.programs
                .iter()
                .all(|p| access::decide(&who.subject, Action::BatchesManage, Some(p)).is_allowed())
        }));
        if visible.len() > limit as usize || read.next_cursor.is_none() {
            break;
        }
        cursor = read.next_cursor;
    }
    Ok(page::finish(table::BATCHES_CURSOR, visible, limit, |b| {
        b.id
    }))
}

/// One page of a batch's items in line order, optionally only those in `state`; `after` is the
/// previous page's `next_cursor`. Needs [`Action::BatchesManage`] on every program of the batch.
pub fn items_page(
    store: &Store,
    actor: &Actor,
    id: i64,
    state: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<ItemRow>, Error> {
    const STATES: [&str; 6] = [
        "queued",
        "in_flight",
        "done",
        "failed",
        "cancelled",
        "undone",
    ];
    let state = state.map(|s| s.trim().to_ascii_lowercase().replace('-', "_"));
    if let Some(s) = state.as_deref().filter(|s| !STATES.contains(s)) {
        return Err(Error::invalid(
            "state",
            format!("unknown item state '{s}'; use one of {}", STATES.join(", ")),
        ));
    }
    let batch = load(store, id)?;
    if batch.programs.is_empty() {
        access::require(store.conn(), actor, Action::BatchesManage, None)?;
    }
    for p in &batch.programs {
        access::require(store.conn(), actor, Action::BatchesManage, Some(p))?;
    }
    Ok(table::items_page(
        store.conn(),
        id,
        state.as_deref(),
        after,
        limit,
    )?)
}

/// One batch with one page of its items (`tsched batch show ID --limit N`), and the cursor of
/// the next page. Same access rule as [`items_page`].
pub fn show_page(
    store: &Store,
    actor: &Actor,
    id: i64,
    state: Option<&str>,
    after: Option<&str>,
    limit: u32,
) -> Result<(BatchView, Option<String>), Error> {
    let page = items_page(store, actor, id, state, after, limit)?;
    let batch = load(store, id)?;
    Ok((
        BatchView {
            batch,
            items: page.items,
        },
        page.next_cursor,
    ))
}

/// One batch with its items (`tsched batch show ID`).
pub fn show(store: &Store, actor: &Actor, id: i64) -> Result<BatchView, Error> {
    let batch = load(store, id)?;
    let items = table::items(store.conn(), id, None)?;
    require_programs(store, actor, &rows_of(&items)?)?;
    Ok(BatchView { batch, items })
}

/// What a cancel did.
#[derive(Debug, Clone, Serialize)]
pub struct Cancelled {
    /// The batch after the cancel.
    pub batch: BatchRow,
    /// Meetings deleted (`--undo`).
    pub undone: u64,
    /// Meetings that could not be deleted: (line, reason).
    pub undo_failed: Vec<(u64, String)>,
}

/// Cancels a batch: no new item is scheduled (a run in another process notices within a tick);
/// queued items become `cancelled`. With `undo`, every meeting the batch created is deleted too
/// (items become `undone`); a meeting that cannot be deleted is listed, not hidden.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, batch = id, undo))]
pub async fn cancel(
    store: &mut Store,
    transport: Option<Arc<dyn Transport>>,
    actor: &Actor,
    id: i64,
    undo: bool,
) -> Result<Cancelled, Error> {
    let batch = load(store, id)?;
    let items = table::items(store.conn(), id, None)?;
    let who = require_programs(store, actor, &rows_of(&items)?)?;
    if batch.state != "cancelled" && batch.state != "completed" || undo {
        store.write(|tx| -> Result<(), Error> {
            let at = now_db();
            if batch.state != "completed" {
                table::set_state(tx, id, "cancelled", None, true, &at)?;
                table::cancel_queued(tx, id, &at)?;
            }
            audit_log::append(
                tx,
                &AuditEntry {
                    operator: &who.label,
                    real_actor: who.real_actor.as_deref(),
                    action: "batch.cancel",
                    target: &format!("batch:{id}"),
                    before: Some(json!({"state": batch.state})),
                    after: Some(json!({"undo": undo})),
                    ..Default::default()
                },
            )?;
            Ok(())
        })?;
    }
    let mut undone = 0;
    let mut undo_failed = Vec::new();
    if !undo {
        // A live run records its own requests in flight; only those of a run that is gone
        // are closed here.
        let flying = table::items(store.conn(), id, Some("in_flight"))?;
        if !flying.is_empty() && !any_recent(&flying) {
            store.write(|tx| -> Result<(), Error> {
                table::cancel_in_flight(tx, id, &now_db())?;
                Ok(())
            })?;
        }
        return Ok(Cancelled {
            batch: load(store, id)?,
            undone,
            undo_failed,
        });
    }
    let transport = transport.ok_or(Error::NotConnected)?;
    // Until nothing is done or in flight: delete what is done; wait for a live run's requests in
    // flight to be answered (its answer may be a meeting); resolve requests orphaned by a run
    // that died with createOrGet (the same externalId: it returns the meeting if it was made,
    // else makes it) so that deleting it leaves nothing behind.
    let deadline = std::time::Instant::now() + UNDO_SETTLE;
    // Lines this cancel gave up deleting: they stay `done` (the meeting may exist) and are not
    // tried again in this cancel.
    let mut gave_up = std::collections::HashSet::new();
    loop {
        // Read in flight first: once none is in flight (and the batch is cancelled, so none can
        // start), the done list read after it is final.
        let flying = table::items(store.conn(), id, Some("in_flight"))?;
        let to_delete: Vec<ItemRow> = table::items(store.conn(), id, Some("done"))?
            .into_iter()
            .filter(|i| !gave_up.contains(&i.line))
            .collect();
        if flying.is_empty() && to_delete.is_empty() {
            break;
        }
        for item in &to_delete {
            match undo_item(store, &transport, id, item, &who.label).await? {
                None => undone += 1,
                Some(why) => {
                    gave_up.insert(item.line);
                    undo_failed.push((item.line, why));
                }
            }
        }
        if flying.is_empty() {
            continue;
        }
        if std::time::Instant::now() < deadline && any_recent(&flying) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let rows = rows_of(&flying)?;
        for (item, row) in flying.iter().zip(rows) {
            match transport.create_or_get(row.create_or_get()).await {
                Attempt::Done {
                    id: gid,
                    join_web_url,
                    created,
                } => {
                    store.write(|tx| -> Result<(), Error> {
                        table::mark_done(
                            tx,
                            id,
                            item.line,
                            &gid,
                            &join_web_url,
                            created,
                            &now_db(),
                        )?;
                        Ok(())
                    })?;
                }
                other => {
                    // Not resolvable now: record it and stop treating it as in flight.
                    undo_failed.push((
                        item.line,
                        format!("an interrupted request could not be resolved: {other:?}"),
                    ));
                    store.write(|tx| -> Result<(), Error> {
                        table::mark_failed(
                            tx,
                            id,
                            item.line,
                            "undo_unresolved",
                            "cancelled while a request was in flight; check the organizer's calendar",
                            &now_db(),
                        )?;
                        Ok(())
                    })?;
                }
            }
        }
    }
    Ok(Cancelled {
        batch: load(store, id)?,
        undone,
        undo_failed,
    })
}

/// How long a cancel waits for a live run's requests in flight to be answered.
const UNDO_SETTLE: Duration = Duration::from_secs(30);
/// An item in flight this long without news belongs to a run that is gone.
const IN_FLIGHT_STALE_SECS: i64 = 120;

fn any_recent(items: &[ItemRow]) -> bool {
    let now = chrono::Utc::now();
    items.iter().any(|i| {
        chrono::DateTime::parse_from_rfc3339(&i.updated_at)
            .map(|t| (now - t.with_timezone(&chrono::Utc)).num_seconds() < IN_FLIGHT_STALE_SECS)
            .unwrap_or(false)
    })
}

/// Deletes one done item's meeting (retrying throttling and transient failures); `Some(reason)`
/// when it could not.
async fn undo_item(
    store: &mut Store,
    transport: &Arc<dyn Transport>,
    id: i64,
    item: &ItemRow,
    who: &str,
) -> Result<Option<String>, Error> {
    let Some(gid) = item.graph_id.clone() else {
        return Ok(Some("no meeting id was recorded".into()));
    };
    let mut tries = 0u32;
    loop {
        tries += 1;
        match transport.delete(gid.clone()).await {
            Attempt::Done { .. } => {
                store.write(|tx| -> Result<(), Error> {
                    let at = now_db();
                    table::mark_undone(tx, id, item.line, &at)?;
                    if let Some(m) = crate::store::meetings::by_external_id(tx, &item.external_id)?
                    {
                        crate::store::meetings::mark_cancelled(tx, m.id, &at)?;
                    }
                    audit_log::append(
                        tx,
                        &AuditEntry {
                            operator: who,
                            action: "meeting.delete",
                            target: &format!("meeting:{}", item.external_id),
                            before: Some(json!({"batch": id, "line": item.line, "graph_id": gid})),
                            ..Default::default()
                        },
                    )?;
                    Ok(())
                })?;
                return Ok(None);
            }
            Attempt::Throttled { retry_after } if tries < 8 => {
                tokio::time::sleep(retry_after.unwrap_or(Duration::from_secs(1))).await;
            }
            Attempt::Transient { retry_after, .. } if tries < 8 => {
                let wait = retry_after.unwrap_or_else(|| {
                    backoff(BackoffConfig::default(), tries, rand::random::<f64>())
                });
                tokio::time::sleep(wait).await;
            }
            other => return Ok(Some(format!("the meeting could not be deleted: {other:?}"))),
        }
    }
}

/// The rejected rows of a plan, for front ends that list only what needs fixing.
pub fn rejected_rows(plan: &Plan) -> impl Iterator<Item = &plan::PlannedRow> {
    plan.rows.iter().filter(|r| r.status == RowStatus::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn answers_are_classified_for_the_loop() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(
            classify(429, b"{}", &h),
            Attempt::Throttled {
                retry_after: Some(Duration::from_secs(2))
            },
            "429 carries Retry-After to the controller"
        );
        assert!(
            matches!(
                classify(500, b"", &HeaderMap::new()),
                Attempt::Transient { .. }
            ),
            "createOrGet is idempotent, so a 500 is retried"
        );
        assert!(
            matches!(
                classify(503, b"", &h),
                Attempt::Transient {
                    retry_after: Some(_),
                    ..
                }
            ),
            "503 keeps its Retry-After"
        );
        let body = br#"{"error":{"code":"BadRequest","message":"subject too long"}}"#;
        assert_eq!(
            classify(400, body, &HeaderMap::new()),
            Attempt::Fatal {
                code: "BadRequest".into(),
                message: "subject too long".into()
            },
            "4xx fails the item with Graph's code and message"
        );
        let ok = br#"{"id":"m1","joinWebUrl":"https://teams.example/l/1"}"#;
        assert_eq!(
            classify(201, ok, &HeaderMap::new()),
            Attempt::Done {
                id: "m1".into(),
                join_web_url: "https://teams.example/l/1".into(),
                created: true
            },
            "201 is a new meeting"
        );
    }
}
