//! The executor: runs every queued item of a batch to an end state (or until a cancel or a
//! pause), with at most `concurrency` requests in flight under the rate controller, and records
//! every answer as it comes. Idempotent and restartable at any instant: a resume requeues what a
//! dead run left in flight, and the `externalId` makes `createOrGet` return a meeting that was
//! already made. It holds the batch's lease from the start (taken in the same write that marks
//! the batch running, so a live run's items are never requeued under it) to the end state,
//! renewing it every [`lease::HEARTBEAT`].
//!
//! The loop is an [`Executor`]: one small step per job (release due retries, send what the
//! rate allows, record an answer, tick), each a method over the state the loop keeps.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;

use super::{
    lease, load, now_db, require_programs, rows_of, Attempt, RunOptions, RunOutcome, Transport,
};
use crate::access;
use crate::actor::Actor;
use crate::batch::rate::{backoff, RateController};
use crate::batch::{BatchEvent, MeetingRow};
use crate::error::Error;
use crate::store::audit_log::AuditEntry;
use crate::store::batches::{BatchRow, BatchState, Counts, ItemMade, Lease};
use crate::store::prelude::*;
use crate::store::Store;

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

/// What recording a meeting looks up beyond its row, kept for a run: program ids by code and
/// the host's UPN. A run records every meeting of its batch; on the team store each look-up is
/// a round trip to the server, so each is made once per run, not once per meeting.
#[derive(Debug, Default)]
pub(super) struct Known {
    programs: HashMap<String, i64>,
    host: Option<Option<String>>,
}

impl Known {
    /// The id of program `code` (it must exist: the batch was checked against it).
    fn program(&mut self, tx: &dyn Tables, code: &str) -> Result<i64, Error> {
        if let Some(id) = self.programs.get(code) {
            return Ok(*id);
        }
        let program = tx.program_by_code(code)?.ok_or(Error::NotFound {
            what: "program",
            key: code.to_string(),
        })?;
        self.programs.insert(code.to_string(), program.id);
        Ok(program.id)
    }

    /// The connected host's UPN, the organizer of every meeting the run makes.
    fn host(&mut self, tx: &dyn Tables) -> Result<Option<String>, Error> {
        if let Some(h) = &self.host {
            return Ok(h.clone());
        }
        let h = tx.integration_get()?.map(|r| r.host_upn);
        self.host = Some(h.clone());
        Ok(h)
    }
}

/// One meeting Graph confirmed for a batch row: what [`record_meeting`] stores.
pub(super) struct Confirmed<'a> {
    pub graph_id: &'a str,
    pub join_web_url: &'a str,
    pub event_id: Option<&'a str>,
}

/// Records a created meeting in the `meetings` table (shared with single meetings, so lists,
/// ICS exports and reschedules see batch meetings too); returns its row id. A meeting already
/// recorded under the row's externalId (a resumed run's) is confirmed, not recorded twice.
pub(super) fn record_meeting(
    tx: &dyn Tables,
    known: &mut Known,
    batch_id: i64,
    row: &MeetingRow,
    made: &Confirmed<'_>,
    created_by: &str,
    now: &str,
) -> Result<i64, Error> {
    use crate::store::meetings as mt;
    let start = crate::time::to_db(row.start_utc);
    let end = crate::time::to_db(row.end_utc);
    let attendees = attendee_rows(row);
    // Inserted first (the usual case, one statement); a taken externalId inserts nothing and
    // the recorded meeting is looked up instead.
    let inserted = tx.meeting_insert_pending(
        &mt::NewRow {
            external_id: &row.external_id,
            program_id: known.program(tx, &row.program)?,
            batch_id: Some(batch_id),
            subject: &row.subject,
            start_utc: &start,
            end_utc: &end,
            time_zone: &row.time_zone,
            created_by,
            now,
        },
        &attendees,
    )?;
    let id = match inserted {
        Some(id) => id,
        None => tx
            .meeting_by_external_id(&row.external_id)?
            .map(|m| m.id)
            // Not taken by its externalId: another of the row's constraints refused it.
            .ok_or_else(|| {
                Error::Conflict(format!(
                    "the meeting with externalId '{}' could not be recorded",
                    row.external_id
                ))
            })?,
    };
    let host = known.host(tx)?;
    tx.meeting_mark_created(
        id,
        &mt::Confirmed {
            graph_id: made.graph_id,
            join_web_url: (!made.join_web_url.is_empty()).then_some(made.join_web_url),
            join_meeting_id: None,
            passcode: None,
            organizer_upn: host.as_deref(),
            start_utc: &start,
            end_utc: &end,
        },
        now,
    )?;
    if let Some(eid) = made.event_id {
        tx.meeting_set_invitations(id, crate::store::integration::InvitationMode::Calendar)?;
        let m = tx.meeting_by_id(id)?;
        if m.and_then(|m| m.event_id).as_deref() != Some(eid) {
            tx.meeting_record_invitations(id, mt::InvitationsSent::Sent { event_id: eid }, now)?;
        }
    }
    Ok(id)
}

/// A request task that panicked or was aborted.
fn task_failed(e: tokio::task::JoinError) -> Error {
    Error::invalid("batch", format!("a request task failed: {e}"))
}

/// An attempt that made (or found) its meeting.
struct Made {
    line: u64,
    graph_id: String,
    join_web_url: String,
    created: bool,
    event_id: Option<String>,
}

/// Records the meetings Graph made for `rows` (`made`, in the same order) at once; returns
/// their row ids in order. A meeting already recorded under its externalId (a resumed run's)
/// is confirmed by [`record_meeting`].
fn record_meetings(
    tx: &dyn Tables,
    known: &mut Known,
    batch_id: i64,
    rows: &[&MeetingRow],
    made: &[Made],
    created_by: &str,
    now: &str,
) -> Result<Vec<i64>, Error> {
    use crate::store::meetings as mt;
    let host = known.host(tx)?;
    let mut times = Vec::with_capacity(rows.len());
    let mut programs = Vec::with_capacity(rows.len());
    for row in rows {
        times.push((
            crate::time::to_db(row.start_utc),
            crate::time::to_db(row.end_utc),
        ));
        programs.push(known.program(tx, &row.program)?);
    }
    let new: Vec<mt::NewCreated<'_>> = rows
        .iter()
        .zip(made)
        .zip(times.iter().zip(&programs))
        .map(|((row, m), ((start, end), program))| mt::NewCreated {
            row: mt::NewRow {
                external_id: &row.external_id,
                program_id: *program,
                batch_id: Some(batch_id),
                subject: &row.subject,
                start_utc: start,
                end_utc: end,
                time_zone: &row.time_zone,
                created_by,
                now,
            },
            attendees: attendee_rows(row),
            confirmed: mt::Confirmed {
                graph_id: &m.graph_id,
                join_web_url: (!m.join_web_url.is_empty()).then_some(m.join_web_url.as_str()),
                join_meeting_id: None,
                passcode: None,
                organizer_upn: host.as_deref(),
                start_utc: start,
                end_utc: end,
            },
            event_id: m.event_id.as_deref(),
        })
        .collect();
    let ids = tx.meetings_insert_created(&new)?;
    let mut out = Vec::with_capacity(ids.len());
    for ((id, row), m) in ids.into_iter().zip(rows).zip(made) {
        out.push(match id {
            Some(id) => id,
            None => record_meeting(
                tx,
                known,
                batch_id,
                row,
                &Confirmed {
                    graph_id: &m.graph_id,
                    join_web_url: &m.join_web_url,
                    event_id: m.event_id.as_deref(),
                },
                created_by,
                now,
            )?,
        });
    }
    Ok(out)
}

/// A batch row's participants as the meeting's attendee rows.
fn attendee_rows(row: &MeetingRow) -> Vec<crate::store::meetings::AttendeeRow> {
    row.attendees
        .iter()
        .map(|a| crate::store::meetings::AttendeeRow {
            address: a.upn.to_lowercase(),
            upn: Some(a.upn.clone()),
            object_id: Some(a.user_id.clone()),
            display_name: None,
        })
        .collect()
}

/// One answered attempt, handed back by its request task.
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
    let mut run = Executor::start(store, transport, actor, id, opts, progress)?;
    run.drive().await?;
    run.finish()
}

/// Why the executor stops scheduling new attempts (both can hold: a pause wins the end state,
/// a cancel still cancels the queued items).
#[derive(Debug, Default)]
struct Halt {
    /// The batch was cancelled (here or in another process).
    cancelled: bool,
    /// The host must reconnect first (the reason).
    pause: Option<String>,
}

impl Halt {
    fn any(&self) -> bool {
        self.cancelled || self.pause.is_some()
    }
}

/// The running state of one execution: the queues, the requests in flight and the figures.
struct Executor<'a> {
    store: &'a mut Store,
    transport: Arc<dyn Transport>,
    id: i64,
    who: access::Resolved,
    opts: &'a RunOptions,
    progress: &'a (dyn Fn(BatchEvent) + Send + Sync),
    /// This run's name in the batch's lease (`pid@host#run`).
    holder: String,
    /// Whether meetings are made as events on the host's calendar (the invitation mode).
    calendar: bool,
    /// When the lease is renewed next.
    next_renew: Instant,
    /// The end state's write released the lease (else dropping the executor does).
    released: bool,
    rate: RateController,
    /// The stored row of every line still to send.
    by_line: HashMap<u64, MeetingRow>,
    /// Lines to send now, in order.
    ready: VecDeque<u64>,
    /// Lines waiting out a transient failure's backoff, by due time.
    delayed: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Transient failures per line.
    transient: HashMap<u64, u32>,
    /// Attempts per line in this run.
    attempts: HashMap<u64, u32>,
    set: JoinSet<Inflight>,
    /// Program ids and the host, looked up once for every meeting this run records.
    known: Known,
    halt: Halt,
    done: u64,
    failed: u64,
    /// When recent items were done (the last 5 s), for the achieved rate.
    done_times: VecDeque<Instant>,
    requests: u64,
    started_wall: Instant,
    next_tick: Instant,
}

impl<'a> Executor<'a> {
    /// Checks the batch may run (a batch another live run holds is refused, naming it), takes
    /// its lease, requeues what a dead run left in flight, marks it running (audited) and emits
    /// `Started`.
    fn start(
        store: &'a mut Store,
        transport: Arc<dyn Transport>,
        actor: &Actor,
        id: i64,
        opts: &'a RunOptions,
        progress: &'a (dyn Fn(BatchEvent) + Send + Sync),
    ) -> Result<Self, Error> {
        let batch = load(store, id)?;
        if let (BatchState::Running, Some(l)) = (batch.state, &batch.lease) {
            return Err(being_run(id, l));
        }
        if !batch.resumable() {
            return Err(Error::Conflict(format!(
                "batch {id} is {}; there is nothing to resume",
                batch.state
            )));
        }
        let all = store.tables().batch_items(id, None)?;
        let all_rows = rows_of(&all)?;
        let who = require_programs(store, actor, &all_rows)?;
        // The invitation mode in force; calendar mode without its permission is refused before
        // anything is marked or sent.
        let calendar = crate::meetings::invitation_mode_for_new(store)?.is_calendar();
        let started_wall = Instant::now();
        let holder = lease::this_run().stored();
        // A lease whose run is gone (`load` judged it) may be replaced.
        let gone = (batch.lease.as_ref())
            .filter(|l| !lease::live(l))
            .map(|l| l.holder.as_str());
        let counts = mark_running(store, &who, id, &holder, gone)?;
        let mut by_line: HashMap<u64, MeetingRow> = HashMap::new();
        let mut ready: VecDeque<u64> = VecDeque::new();
        for (item, row) in all.iter().zip(all_rows) {
            if item.state.pending() {
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
        Ok(Self {
            store,
            transport,
            id,
            who,
            opts,
            progress,
            holder,
            calendar,
            next_renew: Instant::now() + lease::HEARTBEAT,
            released: false,
            rate: RateController::new(opts.rate, Instant::now()),
            by_line,
            ready,
            delayed: BinaryHeap::new(),
            transient: HashMap::new(),
            attempts: HashMap::new(),
            set: JoinSet::new(),
            known: Known::default(),
            halt: Halt::default(),
            done: counts.done,
            failed: counts.failed,
            done_times: VecDeque::new(),
            requests: 0,
            started_wall,
            next_tick: Instant::now() + opts.tick,
        })
    }

    /// The loop: send, wait for an answer or the next wake-up, record, tick; until nothing is
    /// left or a halt has drained the requests in flight.
    async fn drive(&mut self) -> Result<(), Error> {
        loop {
            let now = Instant::now();
            self.release_due(now);
            let mut wake = now + self.opts.tick;
            if !self.halt.any() {
                wake = wake.min(self.send_allowed()?);
            }
            if let Some(Reverse((due, _))) = self.delayed.peek() {
                wake = wake.min(*due);
            }
            let nothing_left = self.ready.is_empty() && self.delayed.is_empty();
            if self.set.is_empty() && (nothing_left || self.halt.any()) {
                return Ok(());
            }
            if let Some(answer) = self.next_answer(wake).await? {
                // Every answer already in is recorded with it: the meetings in one write.
                let mut answers = vec![answer];
                while let Some(more) = self.set.try_join_next() {
                    answers.push(more.map_err(task_failed)?);
                }
                self.record_all(answers)?;
            }
            self.tick()?;
        }
    }

    /// Moves the lines whose backoff is over to the ready queue.
    fn release_due(&mut self, now: Instant) {
        while let Some(Reverse((due, line))) = self.delayed.peek().copied() {
            if due > now {
                break;
            }
            self.delayed.pop();
            self.ready.push_back(line);
        }
    }

    /// Sends ready lines while the concurrency and the rate allow; returns when the rate
    /// allows the next one (or a tick away when it is the concurrency that stops).
    fn send_allowed(&mut self) -> Result<Instant, Error> {
        let concurrency = self.opts.concurrency.max(1);
        let mut wake = Instant::now() + self.opts.tick;
        let mut lines = Vec::new();
        while self.set.len() + lines.len() < concurrency {
            let Some(&line) = self.ready.front() else {
                break;
            };
            match self.rate.acquire(Instant::now()) {
                Ok(()) => {
                    self.ready.pop_front();
                    lines.push(line);
                }
                Err(w) => {
                    wake = wake.min(Instant::now() + w);
                    break;
                }
            }
        }
        if lines.is_empty() {
            return Ok(wake);
        }
        // Marked in flight together, before any is sent. Atomic with a cancel in another
        // process: an item that is no longer queued (cancelled) is never sent, so an undo
        // cannot miss its meeting.
        let marked = self
            .store
            .tables()
            .batch_items_mark_in_flight(self.id, &lines, &now_db())?;
        if marked.len() < lines.len() {
            self.halt.cancelled = true;
        }
        for line in marked {
            self.send(line);
        }
        Ok(wake)
    }

    /// Spawns one attempt for `line` (already marked in flight).
    fn send(&mut self, line: u64) {
        let row = self
            .by_line
            .get(&line)
            .cloned()
            .expect("invariant: every queued line has its row");
        let n = self.attempts.entry(line).or_insert(0);
        *n += 1;
        (self.progress)(BatchEvent::InFlight { line, attempt: *n });
        self.requests += 1;
        let t = self.transport.clone();
        let calendar = self.calendar;
        // When the executor let it go, not when the task first runs: a spawned task may start
        // after a 429 was recorded, and a request let go before that 429 belongs to its episode.
        let sent_at = Instant::now();
        self.set.spawn(async move {
            let attempt = if calendar {
                t.create_event(row.new_event()).await
            } else {
                t.create_or_get(row.create_or_get()).await
            };
            Inflight {
                line,
                sent_at,
                attempt,
            }
        });
    }

    /// The next answered attempt, or `None` when `wake` comes first.
    async fn next_answer(&mut self, wake: Instant) -> Result<Option<Inflight>, Error> {
        let finished = tokio::select! {
            r = self.set.join_next(), if !self.set.is_empty() => r,
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => None,
        };
        finished.transpose().map_err(task_failed)
    }

    /// Records answers and decides what becomes of their items: the meetings made are stored
    /// together in one write ([`Executor::on_done`]), the rest one by one.
    fn record_all(&mut self, answers: Vec<Inflight>) -> Result<(), Error> {
        let now = Instant::now();
        let mut made = Vec::new();
        for f in answers {
            made.extend(self.record(f, now)?);
        }
        if !made.is_empty() {
            self.on_done(now, made)?;
        }
        Ok(())
    }

    /// Records one answer and decides what becomes of its item; a meeting made is handed back
    /// to be stored with the others that came in together.
    fn record(&mut self, f: Inflight, now: Instant) -> Result<Option<Made>, Error> {
        match f.attempt {
            Attempt::Done {
                id,
                join_web_url,
                created,
                event_id,
            } => {
                return Ok(Some(Made {
                    line: f.line,
                    graph_id: id,
                    join_web_url,
                    created,
                    event_id,
                }))
            }
            Attempt::Throttled { retry_after } => {
                self.rate.on_throttled(now, f.sent_at, retry_after);
                self.requeue_now(f.line)?;
                (self.progress)(BatchEvent::Throttled {
                    retry_after_ms: retry_after.unwrap_or(Duration::from_secs(1)).as_millis()
                        as u64,
                    rate: self.rate.rate(),
                });
            }
            Attempt::Transient {
                reason,
                retry_after,
            } => self.on_transient(f.line, now, reason, retry_after)?,
            Attempt::Fatal { code, message } => {
                self.fail(f.line, code, &message, message.clone())?
            }
            Attempt::Reconnect { reason } => {
                self.requeue_now(f.line)?;
                if self.halt.pause.is_none() {
                    self.halt.pause = Some(reason);
                }
            }
        }
        Ok(None)
    }

    /// The meetings exist: their items are done, the meetings recorded and audited, all in
    /// one write of a few set-wide statements (on a team store each statement is a round trip
    /// to the server: per meeting they would not keep up with the rate).
    fn on_done(&mut self, now: Instant, made: Vec<Made>) -> Result<(), Error> {
        let (id, who, by_line, known) = (self.id, &self.who, &self.by_line, &mut self.known);
        let rows: Vec<&MeetingRow> = made
            .iter()
            .map(|m| {
                by_line
                    .get(&m.line)
                    .expect("invariant: in-flight line has its row")
            })
            .collect();
        self.store.write(|tx| -> Result<(), Error> {
            let at = now_db();
            let meetings = record_meetings(tx, known, id, &rows, &made, &who.label, &at)?;
            let items: Vec<ItemMade<'_>> = made
                .iter()
                .zip(&meetings)
                .map(|(m, meeting)| ItemMade {
                    line: m.line,
                    graph_id: &m.graph_id,
                    join_web_url: &m.join_web_url,
                    created_now: m.created,
                    meeting_id: *meeting,
                })
                .collect();
            tx.batch_items_mark_made(id, &items, &at)?;
            let targets: Vec<String> = rows
                .iter()
                .map(|r| format!("meeting:{}", r.external_id))
                .collect();
            let entries = made
                .iter()
                .zip(&rows)
                .zip(&targets)
                .map(|((m, row), target)| AuditEntry {
                    action: "meeting.create",
                    target,
                    program_code: Some(&row.program),
                    after: Some(json!({
                        "batch": id, "line": m.line, "graph_id": m.graph_id,
                        "subject": row.subject, "start": crate::time::to_db(row.start_utc),
                        "end": crate::time::to_db(row.end_utc),
                        "join_web_url": m.join_web_url, "created_now": m.created,
                        "event_id": m.event_id,
                    })),
                    ..Default::default()
                })
                .collect();
            who.audit_all(tx, entries)?;
            Ok(())
        })?;
        for m in made {
            self.rate.on_success(now);
            self.done += 1;
            self.done_times.push_back(now);
            (self.progress)(BatchEvent::Done {
                line: m.line,
                meeting_id: m.graph_id,
                join_web_url: m.join_web_url,
                created: m.created,
            });
        }
        Ok(())
    }

    /// A transient failure: retried after a backoff (or `Retry-After`), until
    /// `max_transient_attempts` make it fail.
    fn on_transient(
        &mut self,
        line: u64,
        now: Instant,
        reason: String,
        retry_after: Option<Duration>,
    ) -> Result<(), Error> {
        let n = self.transient.entry(line).or_insert(0);
        *n += 1;
        let n = *n;
        if n >= self.opts.max_transient_attempts {
            let stored = format!("gave up after {n} transient failures; last: {reason}");
            return self.fail(line, "transient".into(), &stored, reason);
        }
        let wait =
            retry_after.unwrap_or_else(|| backoff(self.opts.backoff, n, rand::random::<f64>()));
        self.store
            .tables()
            .batch_item_mark_queued(self.id, line, &now_db())?;
        self.delayed.push(Reverse((now + wait, line)));
        (self.progress)(BatchEvent::Retrying {
            line,
            attempt: n,
            wait_ms: wait.as_millis() as u64,
            reason,
        });
        Ok(())
    }

    /// The item fails: `stored` is the message kept with it, `message` the one in the event.
    fn fail(
        &mut self,
        line: u64,
        code: String,
        stored: &str,
        message: String,
    ) -> Result<(), Error> {
        self.failed += 1;
        self.store
            .tables()
            .batch_item_mark_failed(self.id, line, &code, stored, &now_db())?;
        (self.progress)(BatchEvent::Failed {
            line,
            code,
            message,
        });
        Ok(())
    }

    /// Back to the front of the queue, to be sent as soon as the hold (or the halt) allows.
    fn requeue_now(&mut self, line: u64) -> Result<(), Error> {
        self.store
            .tables()
            .batch_item_mark_queued(self.id, line, &now_db())?;
        self.ready.push_front(line);
        Ok(())
    }

    /// Every `tick`: notice a cancel from another process (or window) and emit `Progress`.
    fn tick(&mut self) -> Result<(), Error> {
        let now = Instant::now();
        if now < self.next_tick {
            return Ok(());
        }
        self.next_tick = now + self.opts.tick;
        if now >= self.next_renew {
            self.renew_lease()?;
            self.next_renew = now + lease::HEARTBEAT;
        }
        // A cancel from another process (or window) shows up as the batch's state.
        if self.store.tables().batch_state(self.id)? == Some(BatchState::Cancelled) {
            self.halt.cancelled = true;
        }
        let achieved = self.achieved(now);
        let remaining = (self.ready.len() + self.delayed.len() + self.set.len()) as u64;
        (self.progress)(BatchEvent::Progress {
            done: self.done,
            failed: self.failed,
            in_flight: self.set.len() as u64,
            remaining,
            rate: self.rate.rate(),
            achieved,
            eta_secs: (achieved > 0.0).then(|| remaining as f64 / achieved),
        });
        Ok(())
    }

    /// The heartbeat: extends this run's lease. A lease another run took over (this one let it
    /// lapse, e.g. while the machine slept) stops this run with an error naming the new holder.
    fn renew_lease(&mut self) -> Result<(), Error> {
        let t = self.store.tables();
        if t.batch_lease_renew(self.id, &self.holder, &lease::until_from_now())? == 1 {
            return Ok(());
        }
        let now = t.batch_by_id(self.id)?.and_then(|b| b.lease);
        Err(Error::Conflict(match now {
            Some(l) => format!(
                "batch {} was taken over by {l} after this run's lease lapsed; this run stopped",
                self.id
            ),
            None => format!(
                "batch {} lost this run's lease after it lapsed; this run stopped",
                self.id
            ),
        }))
    }

    /// Meetings done per second over the last 5 seconds (or since the start, when shorter).
    fn achieved(&mut self, now: Instant) -> f64 {
        while self
            .done_times
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(5))
        {
            self.done_times.pop_front();
        }
        let window = now
            .duration_since(self.started_wall)
            .min(Duration::from_secs(5))
            .as_secs_f64();
        if window > 0.0 {
            self.done_times.len() as f64 / window
        } else {
            0.0
        }
    }

    /// Stores the end state (paused, cancelled or completed) with an audit entry, and emits
    /// `Paused` and `Finished`.
    fn finish(mut self) -> Result<RunOutcome, Error> {
        let (state, reason) = if let Some(r) = &self.halt.pause {
            (BatchState::Paused, Some(r.as_str()))
        } else if self.halt.cancelled {
            (BatchState::Cancelled, None)
        } else {
            (BatchState::Completed, None)
        };
        let cancelled = self.halt.cancelled;
        let (id, who, requests, holder) = (self.id, &self.who, self.requests, &self.holder);
        let throttled = self.rate.throttles();
        let batch = self.store.write(|tx| -> Result<BatchRow, Error> {
            let at = now_db();
            if cancelled {
                tx.batch_items_cancel_queued(id, &at)?;
            }
            tx.batch_set_state(id, state, reason, state != BatchState::Paused, &at)?;
            tx.batch_lease_release(id, holder)?;
            let c = tx.batch_counts(id)?;
            who.audit(
                tx,
                AuditEntry {
                    action: "batch.finish",
                    target: &format!("batch:{id}"),
                    after: Some(json!({
                        "state": state.as_str(), "reason": reason, "total": c.total,
                        "done": c.done, "failed": c.failed, "cancelled": c.cancelled,
                        "requests": requests, "throttled": throttled,
                    })),
                    ..Default::default()
                },
            )?;
            tx.batch_by_id(id)?.ok_or(Error::NotFound {
                what: "batch",
                key: id.to_string(),
            })
        })?;
        self.released = true;
        if let Some(r) = &self.halt.pause {
            (self.progress)(BatchEvent::Paused { reason: r.clone() });
        }
        (self.progress)(BatchEvent::Finished {
            state: state.to_string(),
            done: batch.counts.done,
            failed: batch.counts.failed,
            cancelled: batch.counts.cancelled,
            elapsed_ms: self.started_wall.elapsed().as_millis() as u64,
        });
        Ok(RunOutcome {
            batch,
            throttled,
            requests,
        })
    }
}

/// A run that stops without an end state (an error, or its future dropped: an in-process
/// crash) lets go of its lease, so its batch reads `interrupted` at once and a resume in this
/// same process may take it. Best effort: when the store is what failed, the lease lapses.
impl Drop for Executor<'_> {
    fn drop(&mut self) {
        if !self.released {
            let _ = self
                .store
                .tables()
                .batch_lease_release(self.id, &self.holder);
        }
    }
}

/// "batch 3 is being run by pid 1234 on host X since …": why a second run is refused.
fn being_run(id: i64, lease: &Lease) -> Error {
    Error::Conflict(format!(
        "batch {id} is being run by {lease}; wait for it to finish, or cancel it"
    ))
}

/// Takes the batch's lease for `holder` (replacing `gone`, a holder found gone), requeues what
/// a dead run left in flight and marks the batch running, with an audit entry, in one write;
/// returns the item counts. Refused, changing nothing, when another live run took the lease
/// first.
fn mark_running(
    store: &mut Store,
    who: &access::Resolved,
    id: i64,
    holder: &str,
    gone: Option<&str>,
) -> Result<Counts, Error> {
    store.write(|tx| -> Result<Counts, Error> {
        let now = now_db();
        if tx.batch_lease_take(id, holder, gone, &now, &lease::until_from_now())? == 0 {
            let lease = tx.batch_by_id(id)?.and_then(|b| b.lease);
            return Err(match lease {
                Some(l) => being_run(id, &l),
                None => Error::NotFound {
                    what: "batch",
                    key: id.to_string(),
                },
            });
        }
        tx.batch_items_requeue_in_flight(id, &now)?;
        tx.batch_set_state(id, BatchState::Running, None, false, &now)?;
        let c = tx.batch_counts(id)?;
        who.audit(
            tx,
            AuditEntry {
                action: "batch.start",
                target: &format!("batch:{id}"),
                after: Some(json!({"total": c.total, "queued": c.queued, "done": c.done, "failed": c.failed})),
                ..Default::default()
            },
        )?;
        Ok(c)
    })
}
