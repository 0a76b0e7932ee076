//! `tsched batch …`: create Teams meetings in bulk from a CSV file (docs/BATCH-CSV.md).
//! `validate` is the dry run; `run` stores the batch and creates the meetings with a progress bar
//! (or one JSON event per line with `--json`); `list`, `show`, `resume`, `cancel [--undo]` and
//! `export` work on stored batches. `run()` hands each subcommand to one short function over
//! `tsched_core::batch`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tsched_core::batch::run::{self as batch_run, GraphTransport, Transport};
use tsched_core::batch::{self, BatchEvent, Plan, PlanOptions, RowStatus, RunOptions};
use tsched_core::integration;
use tsched_core::store::batches::{BatchRow, BatchState, ItemRow};
use tsched_core::tz::DstChoice;

use super::Context;
use crate::output;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DstArg {
    /// The first occurrence of an ambiguous local time.
    Earlier,
    /// The second occurrence.
    Later,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// One row per item, the input line first.
    Csv,
    /// iCalendar of the created meetings.
    Ics,
}

#[derive(Debug, Subcommand)]
pub enum BatchCmd {
    /// Dry run: check every row and say what is wrong, with line and column. Creates nothing.
    Validate {
        /// The CSV file.
        file: PathBuf,
        /// Zone for rows without time_zone (else the settings' default).
        #[arg(long)]
        time_zone: Option<String>,
        /// Which occurrence of a local time that happens twice (DST fold).
        #[arg(long, value_enum)]
        dst: Option<DstArg>,
        /// Print the plan as JSON.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print the rows as CSV.
        #[arg(long)]
        csv: bool,
    },
    /// Store the batch and create its meetings.
    Run {
        /// The CSV file.
        file: PathBuf,
        /// Requests in flight at most.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Zone for rows without time_zone.
        #[arg(long)]
        time_zone: Option<String>,
        /// Which occurrence of a local time that happens twice (DST fold).
        #[arg(long, value_enum)]
        dst: Option<DstArg>,
        /// Create the ready rows even when others are rejected.
        #[arg(long)]
        skip_rejected: bool,
        #[command(flatten)]
        queue: Queue,
        /// One JSON event per line on stdout instead of a progress bar.
        #[arg(long)]
        json: bool,
    },
    /// List batches, newest first (interrupted and paused ones are resumable); all of them,
    /// unless --limit or --after asks for one page.
    List {
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Continue after this cursor (printed on stderr when more rows follow).
        #[arg(long, value_name = "CURSOR")]
        after: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a batch and its items (all of them, unless --state, --limit or --after asks for
    /// one page).
    Show {
        /// Batch id.
        id: i64,
        /// Only items in this state (queued, in_flight, done, failed, cancelled, undone).
        #[arg(long)]
        state: Option<String>,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Continue after this cursor (printed on stderr when more rows follow).
        #[arg(long, value_name = "CURSOR")]
        after: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Finish an interrupted or paused batch.
    Resume {
        /// Batch id.
        id: i64,
        /// Requests in flight at most.
        #[arg(long)]
        concurrency: Option<usize>,
        #[command(flatten)]
        queue: Queue,
        /// One JSON event per line.
        #[arg(long)]
        json: bool,
    },
    /// Stop scheduling new items; `--undo` also cancels the meetings the batch created.
    Cancel {
        /// Batch id.
        id: i64,
        /// Delete the meetings already created.
        #[arg(long)]
        undo: bool,
    },
    /// Export the results.
    Export {
        /// Batch id.
        id: i64,
        /// csv or ics.
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

fn dst(d: Option<DstArg>) -> DstChoice {
    match d {
        None => DstChoice::Refuse,
        Some(DstArg::Earlier) => DstChoice::Earlier,
        Some(DstArg::Later) => DstChoice::Later,
    }
}

fn read(file: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))
}

fn source_name(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string())
}

fn print_plan(plan: &Plan) {
    let s = &plan.summary;
    println!(
        "{} rows: {} ready, {} rejected",
        s.rows, s.ready, s.rejected
    );
    for p in &plan.file_problems {
        println!("  {p}");
    }
    let rows: Vec<Vec<String>> = plan
        .rows
        .iter()
        .map(|r| {
            let (start, problems) = match (&r.meeting, r.status == RowStatus::Ready) {
                (Some(m), _) => (tsched_core::time::to_db(m.start_utc), String::new()),
                _ => (
                    String::new(),
                    r.problems
                        .iter()
                        .map(|p| format!("col {} {}: {}", p.column, p.field, p.message))
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            };
            vec![
                r.line.to_string(),
                if r.status == RowStatus::Ready {
                    "ready"
                } else {
                    "rejected"
                }
                .into(),
                r.program.clone(),
                r.subject.replace('\n', " "),
                start,
                problems,
            ]
        })
        .collect();
    if !rows.is_empty() {
        print!(
            "{}",
            output::table(
                &[
                    "LINE",
                    "STATUS",
                    "PROGRAM",
                    "SUBJECT",
                    "START (UTC)",
                    "PROBLEMS"
                ],
                &rows
            )
        );
    }
}

fn print_batch(b: &BatchRow) {
    let c = &b.counts;
    println!(
        "batch {} [{}]{} {}: {} done, {} failed, {} queued, {} cancelled, {} undone of {}",
        b.id,
        b.state,
        b.pause_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        b.source_name,
        c.done,
        c.failed,
        c.queued + c.in_flight,
        c.cancelled,
        c.undone,
        c.total
    );
}

fn transport(
    ctx: &Context,
    store: &tsched_core::Store,
) -> anyhow::Result<(integration::HostSession, Arc<dyn Transport>)> {
    let session = ctx.host_session(store)?;
    let t: Arc<dyn Transport> = Arc::new(GraphTransport::new(&session));
    Ok((session, t))
}

/// The progress sink: a bar on stderr, or JSON lines on stdout.
fn reporter(json: bool) -> (Arc<dyn Fn(BatchEvent) + Send + Sync>, Option<ProgressBar>) {
    if json {
        let out = Mutex::new(std::io::stdout());
        let f = move |e: BatchEvent| {
            if let Ok(line) = serde_json::to_string(&e) {
                let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(o, "{line}");
                let _ = o.flush();
            }
        };
        return (Arc::new(f), None);
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let b = bar.clone();
    let f = move |e: BatchEvent| match e {
        BatchEvent::Started {
            total,
            already_done,
            ..
        } => {
            b.set_length(total);
            b.set_position(already_done);
        }
        BatchEvent::Done { .. } | BatchEvent::Failed { .. } => b.inc(1),
        BatchEvent::Progress {
            rate,
            achieved,
            eta_secs,
            failed,
            ..
        } => b.set_message(format!(
            "{achieved:.1}/s (rate {rate:.1}/s){}{}",
            if failed > 0 {
                format!(", {failed} failed")
            } else {
                String::new()
            },
            eta_secs
                .map(|s| format!(", ETA {s:.0}s"))
                .unwrap_or_default()
        )),
        BatchEvent::Throttled { retry_after_ms, .. } => {
            b.set_message(format!("throttled: waiting {} ms", retry_after_ms))
        }
        BatchEvent::Paused { reason } => b.println(format!("paused: {reason}")),
        _ => {}
    };
    (Arc::new(f), Some(bar))
}

/// Ends a run or resume: clears the bar, then (without `--json`) prints the batch and, when it
/// paused, how to go on.
fn finish(outcome: &batch_run::RunOutcome, bar: Option<ProgressBar>, json: bool) {
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !json {
        print_batch(&outcome.batch);
        if outcome.batch.state == BatchState::Paused {
            println!(
                "Reconnect the host (tsched integration connect …), then: tsched batch resume {}",
                outcome.batch.id
            );
        }
    }
}

fn plan_options(time_zone: Option<String>, d: Option<DstArg>) -> PlanOptions {
    PlanOptions {
        default_zone: time_zone,
        dst: dst(d),
    }
}

pub fn run(cmd: BatchCmd, ctx: &Context) -> anyhow::Result<()> {
    match cmd {
        BatchCmd::Validate {
            file,
            time_zone,
            dst,
            json,
            csv,
        } => validate(ctx, &file, plan_options(time_zone, dst), json, csv),
        BatchCmd::Run {
            file,
            concurrency,
            time_zone,
            dst,
            skip_rejected,
            queue,
            json,
        } => {
            let opts = RunOptions {
                concurrency,
                skip_rejected,
                ..Default::default()
            };
            run_file(ctx, &file, plan_options(time_zone, dst), &opts, queue, json)
        }
        BatchCmd::List { limit, after, json } => list(ctx, limit, after, json),
        BatchCmd::Show {
            id,
            state,
            limit,
            after,
            json,
        } => show(ctx, id, state, limit, after, json),
        BatchCmd::Resume {
            id,
            concurrency,
            queue,
            json,
        } => resume(ctx, id, concurrency, queue, json),
        BatchCmd::Cancel { id, undo } => cancel(ctx, id, undo),
        BatchCmd::Export {
            id,
            format,
            output: out,
        } => export(ctx, id, format, out),
    }
}

/// `batch validate`: the plan, and an error when any row is not ready.
fn validate(
    ctx: &Context,
    file: &Path,
    opts: PlanOptions,
    json: bool,
    csv: bool,
) -> anyhow::Result<()> {
    let bytes = read(file)?;
    let mut store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    let session = transport(ctx, &store).ok().map(|(s, _)| s);
    let (_, plan) = ctx.runtime()?.block_on(batch::plan::validate(
        &mut store,
        session.as_ref().map(|s| s.graph()),
        &actor,
        &bytes,
        &opts,
    ))?;
    if json {
        output::json(&plan)?;
    } else if csv {
        print!("{}", batch::export::plan_csv(&plan)?);
    } else {
        print_plan(&plan);
    }
    let bad = plan.summary.rejected + plan.file_problems.len() as u64;
    if bad > 0 {
        return Err(tsched_core::Error::Invalid {
            field: "file",
            reason: format!("{bad} of {} rows are not ready", plan.summary.rows.max(bad)),
        }
        .into());
    }
    Ok(())
}

/// `batch run`: plan the file, store the batch, create its meetings.
fn run_file(
    ctx: &Context,
    file: &Path,
    plan_opts: PlanOptions,
    opts: &RunOptions,
    queue: Queue,
    json: bool,
) -> anyhow::Result<()> {
    let bytes = read(file)?;
    let mut store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    if queue.queues(&store) {
        let id = tsched_core::agent::enqueue_batch_run(
            &store,
            &actor,
            &source_name(file),
            &bytes,
            plan_opts.default_zone.as_deref(),
            plan_opts.dst,
            opts.skip_rejected,
            opts.concurrency,
        )?;
        return follow_job(ctx, &store, &actor, id, queue.detach, json);
    }
    let (session, t) = transport(ctx, &store)?;
    let rt = ctx.runtime()?;
    let (_, plan) = rt.block_on(batch::plan::validate(
        &mut store,
        Some(session.graph()),
        &actor,
        &bytes,
        &plan_opts,
    ))?;
    if plan.summary.rejected > 0 && !opts.skip_rejected && !json {
        print_plan(&plan);
    }
    let id = batch_run::create(&mut store, &actor, &source_name(file), &bytes, &plan, opts)?;
    if !json {
        eprintln!(
            "batch {id} stored with {} items; creating meetings…",
            plan.summary.ready
        );
    }
    let (sink, bar) = reporter(json);
    let outcome = rt.block_on(batch_run::execute(&mut store, t, &actor, id, opts, &*sink))?;
    finish(&outcome, bar, json);
    Ok(())
}

/// How `batch run` and `batch resume` work in a team store: queued for the host agent and
/// followed here (the default), queued only (`--detach`), or from this machine (`--direct`).
#[derive(Debug, clap::Args, Clone, Copy, Default)]
pub struct Queue {
    /// In a team store: call Graph from this machine (it must hold the host's token) instead of
    /// queueing the batch for the host agent.
    #[arg(long, conflicts_with = "detach")]
    direct: bool,
    /// In a team store: queue the batch for the host agent and return at once (follow it with
    /// `tsched agent job ID --wait` or `tsched batch show`).
    #[arg(long)]
    detach: bool,
}

impl Queue {
    fn queues(self, store: &tsched_core::Store) -> bool {
        store.is_shared() && !self.direct
    }
}

/// A batch job queued for the host agent: followed to its end with the same progress (bar, or
/// `--json` events) as a run on this machine, fed from the shared database; or, with `detach`,
/// only named.
fn follow_job(
    ctx: &Context,
    store: &tsched_core::Store,
    actor: &tsched_core::Actor,
    job: i64,
    detach: bool,
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::json!({ "event": "queued", "job": job }));
    } else if detach {
        println!(
            "Queued as job {job} for the host agent; `tsched agent job {job} --wait` follows it."
        );
    } else {
        eprintln!("queued as job {job} for the host agent");
    }
    if detach {
        return Ok(());
    }
    let (sink, bar) = reporter(json);
    let outcome = ctx
        .runtime()?
        .block_on(tsched_core::agent::follow_batch(store, actor, job, &*sink));
    match outcome {
        Ok(o) => {
            finish(&o, bar, json);
            Ok(())
        }
        Err(e) => {
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            Err(e.into())
        }
    }
}

/// `batch list`: every batch, or one page when `--limit` or `--after` is given.
fn list(
    ctx: &Context,
    limit: Option<u32>,
    after: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    let (list, next) = if limit.is_some() || after.is_some() {
        let page = batch_run::list_page(&store, &actor, after.as_deref(), limit.unwrap_or(0))?;
        (page.items, page.next_cursor)
    } else {
        (batch_run::list(&store, &actor)?, None)
    };
    if json {
        output::json(&list)?;
    } else if list.is_empty() {
        println!("no batches");
    } else {
        print!("{}", batches_table(&list));
    }
    output::more(next.as_deref());
    Ok(())
}

fn batches_table(list: &[BatchRow]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|b| {
            vec![
                b.id.to_string(),
                b.state.to_string(),
                if b.resumable() { "yes" } else { "" }.into(),
                format!("{}/{}", b.counts.done, b.counts.total),
                b.counts.failed.to_string(),
                b.source_name.clone(),
                b.created_at.clone(),
            ]
        })
        .collect();
    output::table(
        &[
            "ID",
            "STATE",
            "RESUMABLE",
            "DONE",
            "FAILED",
            "FILE",
            "CREATED",
        ],
        &rows,
    )
}

/// `batch show`: the batch and all its items, or one page of them when a filter is given.
fn show(
    ctx: &Context,
    id: i64,
    state: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    let (view, next) = if state.is_some() || limit.is_some() || after.is_some() {
        batch_run::show_page(
            &store,
            &actor,
            id,
            state.as_deref(),
            after.as_deref(),
            limit.unwrap_or(0),
        )?
    } else {
        (batch_run::show(&store, &actor, id)?, None)
    };
    if json {
        output::json(&view)?;
    } else {
        print_batch(&view.batch);
        print!("{}", items_table(&view.items));
    }
    output::more(next.as_deref());
    Ok(())
}

fn items_table(items: &[ItemRow]) -> String {
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i.line.to_string(),
                i.state.to_string(),
                i.join_web_url.clone().unwrap_or_default(),
                i.error_message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::table(&["LINE", "STATE", "JOIN URL", "ERROR"], &rows)
}

/// `batch resume`: finish a batch, at its stored concurrency unless `--concurrency` says.
fn resume(
    ctx: &Context,
    id: i64,
    concurrency: Option<usize>,
    queue: Queue,
    json: bool,
) -> anyhow::Result<()> {
    let mut store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    if queue.queues(&store) {
        let job = tsched_core::agent::enqueue_batch_resume(&store, &actor, id, concurrency)?;
        return follow_job(ctx, &store, &actor, job, queue.detach, json);
    }
    let (_, t) = transport(ctx, &store)?;
    let opts = RunOptions::for_resume(&store, &actor, id, concurrency)?;
    let (sink, bar) = reporter(json);
    let outcome = ctx
        .runtime()?
        .block_on(batch_run::resume(&mut store, t, &actor, id, &opts, &*sink))?;
    finish(&outcome, bar, json);
    Ok(())
}

/// `batch cancel [--undo]`.
fn cancel(ctx: &Context, id: i64, undo: bool) -> anyhow::Result<()> {
    let mut store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    let t = if undo {
        Some(transport(ctx, &store)?.1)
    } else {
        None
    };
    let c = ctx
        .runtime()?
        .block_on(batch_run::cancel(&mut store, t, &actor, id, undo))?;
    print_batch(&c.batch);
    if undo {
        println!("{} meetings cancelled", c.undone);
    }
    for (line, why) in &c.undo_failed {
        println!("  line {line}: could not cancel: {why}");
    }
    Ok(())
}

/// `batch export`: the results as CSV or iCalendar, to a file or stdout.
fn export(
    ctx: &Context,
    id: i64,
    format: ExportFormat,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    let text = match format {
        ExportFormat::Csv => batch::export::items_csv(&batch_run::show(&store, &actor, id)?.items)?,
        ExportFormat::Ics => batch::export::batch_ics(&store, &actor, id)?,
    };
    match out {
        Some(path) => tsched_core::exports::write_private(&path, &text)?,
        None => print!("{text}"),
    }
    Ok(())
}
