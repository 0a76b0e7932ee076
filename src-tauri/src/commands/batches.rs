//! Batches page commands: validate a CSV (every row with its problems), run it with progress on
//! an `ipc::Channel`, cancel a running batch, the history with resume, and the export of a
//! batch's results (CSV or `.ics`). Graph work runs on a worker with its own store (see
//! [`super::work`]); a cancel from the window marks the batch in the store, and the running
//! executor notices within a tick.

use std::sync::Arc;

use serde::Deserialize;
use tauri::ipc::Channel;
use tauri::State;
use tsched_core::batch::run::{self as batch_run, GraphTransport, Transport};
use tsched_core::batch::{self, BatchEvent, Plan, PlanOptions, RunOptions, RunOutcome};
use tsched_core::store::batches::{BatchRow, ItemRow};
use tsched_core::store::page::Page;
use tsched_core::tz::DstChoice;

use super::work::{self, Work};
use super::CmdResult;
use crate::state::AppState;

/// A picked file.
#[derive(Debug, Clone, Deserialize)]
pub struct FileInput {
    /// The file's name, as picked.
    pub file_name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Zone for rows without one (default: the setting).
    pub time_zone: Option<String>,
}

fn plan_options(input: &FileInput) -> PlanOptions {
    PlanOptions {
        default_zone: input
            .time_zone
            .as_ref()
            .map(|z| z.trim().to_string())
            .filter(|z| !z.is_empty()),
        dst: DstChoice::Refuse,
    }
}

/// Checks every row (directory lookups included when connected); nothing is stored or sent.
pub fn validate_inner(work: &Work, input: &FileInput) -> CmdResult<Plan> {
    let (mut store, actor) = work.open()?;
    let session = work.session(&store).ok();
    let (_, plan) = work::block_on(batch::plan::validate(
        &mut store,
        session.as_ref().map(|s| s.graph()),
        &actor,
        &input.bytes,
        &plan_options(input),
    ))?;
    Ok(plan)
}

/// See [`validate_inner`].
#[tauri::command]
pub async fn batches_validate(state: State<'_, AppState>, input: FileInput) -> CmdResult<Plan> {
    let w = Work::from_state(&state)?;
    work::off_thread(move || validate_inner(&w, &input)).await
}

/// Validates, stores and runs a file; every event goes to `progress`.
pub fn run_inner(
    work: &Work,
    input: &FileInput,
    skip_rejected: bool,
    progress: &(dyn Fn(BatchEvent) + Send + Sync),
) -> CmdResult<RunOutcome> {
    let (mut store, actor) = work.open()?;
    let opts = RunOptions {
        skip_rejected,
        ..Default::default()
    };
    if store.is_shared() {
        // A team store: the host agent validates, stores and runs it; progress comes from the
        // shared database.
        let plan = plan_options(input);
        let job = tsched_core::agent::enqueue_batch_run(
            &store,
            &actor,
            &input.file_name,
            &input.bytes,
            plan.default_zone.as_deref(),
            plan.dst,
            skip_rejected,
            opts.concurrency,
        )?;
        return Ok(work::block_on(tsched_core::agent::follow_batch(
            &store, &actor, job, progress,
        ))?);
    }
    let session = work.session(&store)?;
    let transport: Arc<dyn Transport> = Arc::new(GraphTransport::new(&session));
    Ok(work::block_on(batch_run::run(
        &mut store,
        session.graph(),
        transport,
        &actor,
        &input.file_name,
        &input.bytes,
        &plan_options(input),
        &opts,
        progress,
    ))?)
}

/// See [`run_inner`].
#[tauri::command]
pub async fn batches_run(
    state: State<'_, AppState>,
    input: FileInput,
    skip_rejected: bool,
    on_progress: Channel<BatchEvent>,
) -> CmdResult<RunOutcome> {
    let w = Work::from_state(&state)?;
    work::off_thread(move || {
        let send = move |e: BatchEvent| {
            // A closed window just stops listening; the batch carries on.
            let _ = on_progress.send(e);
        };
        run_inner(&w, &input, skip_rejected, &send)
    })
    .await
}

/// Finishes an interrupted, paused or planned batch with its stored concurrency.
pub fn resume_inner(
    work: &Work,
    id: i64,
    progress: &(dyn Fn(BatchEvent) + Send + Sync),
) -> CmdResult<RunOutcome> {
    let (mut store, actor) = work.open()?;
    if store.is_shared() {
        let job = tsched_core::agent::enqueue_batch_resume(&store, &actor, id, None)?;
        return Ok(work::block_on(tsched_core::agent::follow_batch(
            &store, &actor, job, progress,
        ))?);
    }
    let session = work.session(&store)?;
    let transport: Arc<dyn Transport> = Arc::new(GraphTransport::new(&session));
    let opts = RunOptions::for_resume(&store, &actor, id, None)?;
    Ok(work::block_on(batch_run::resume(
        &mut store, transport, &actor, id, &opts, progress,
    ))?)
}

/// See [`resume_inner`].
#[tauri::command]
pub async fn batches_resume(
    state: State<'_, AppState>,
    id: i64,
    on_progress: Channel<BatchEvent>,
) -> CmdResult<RunOutcome> {
    let w = Work::from_state(&state)?;
    work::off_thread(move || {
        let send = move |e: BatchEvent| {
            let _ = on_progress.send(e);
        };
        resume_inner(&w, id, &send)
    })
    .await
}

/// Cancels a batch: nothing new is scheduled; queued items become cancelled (meetings already
/// made stay).
pub fn cancel_inner(work: &Work, id: i64) -> CmdResult<BatchRow> {
    let (mut store, actor) = work.open()?;
    let c = work::block_on(batch_run::cancel(&mut store, None, &actor, id, false))?;
    Ok(c.batch)
}

/// See [`cancel_inner`].
#[tauri::command]
pub async fn batches_cancel(state: State<'_, AppState>, id: i64) -> CmdResult<BatchRow> {
    let w = Work::from_state(&state)?;
    work::off_thread(move || cancel_inner(&w, id)).await
}

/// One page of the batches the actor may see, newest first: `{ items, next_cursor }`; `cursor`
/// is the previous page's `next_cursor`. Each batch carries `resumable`, and one whose run is
/// gone reads `state: "interrupted"` (`BatchRow`'s serialization).
pub fn page_inner(
    state: &AppState,
    cursor: Option<String>,
    limit: Option<u32>,
) -> CmdResult<Page<BatchRow>> {
    let cursor = cursor.filter(|c| !c.is_empty());
    Ok(state.with_actor(|s, actor| {
        batch_run::list_page(s, actor, cursor.as_deref(), limit.unwrap_or(0))
    })?)
}

/// See [`page_inner`].
#[tauri::command(async)]
pub fn batches_page(
    state: State<'_, AppState>,
    cursor: Option<String>,
    limit: Option<u32>,
) -> CmdResult<Page<BatchRow>> {
    page_inner(&state, cursor, limit)
}

/// One page of a batch's items in line order, optionally only those in `item_state`:
/// `{ items, next_cursor }`; `cursor` is the previous page's `next_cursor`.
#[tauri::command(async)]
pub fn batch_items_page(
    state: State<'_, AppState>,
    id: i64,
    item_state: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
) -> CmdResult<Page<ItemRow>> {
    let item_state = item_state.filter(|s| !s.trim().is_empty());
    let cursor = cursor.filter(|c| !c.is_empty());
    Ok(state.with_actor(|s, actor| {
        batch_run::items_page(
            s,
            actor,
            id,
            item_state.as_deref(),
            cursor.as_deref(),
            limit.unwrap_or(0),
        )
    })?)
}

/// Exports a batch's results: `csv` (one line per item) or `ics` (its created meetings).
pub fn export_inner(state: &AppState, id: i64, format: &str) -> CmdResult<String> {
    Ok(state.with_actor(|s, actor| match format {
        "csv" => batch::export::items_csv(&batch_run::show(s, actor, id)?.items),
        "ics" => batch::export::batch_ics(s, actor, id),
        other => Err(super::invalid(
            "format",
            format!("unknown export format '{other}'; use csv or ics"),
        )),
    })?)
}

/// See [`export_inner`].
#[tauri::command(async)]
pub fn batches_export(state: State<'_, AppState>, id: i64, format: String) -> CmdResult<String> {
    export_inner(&state, id, &format)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = Arc::new(tsched_core::auth::MemoryTokenStore::default());
        let st = AppState::with(Some(dir.path().to_path_buf()), None, tokens);
        (dir, st)
    }

    #[test]
    fn a_file_with_an_unknown_program_is_rejected_row_by_row_without_a_tenant() {
        let (_dir, state) = state();
        let w = Work::from_state(&state).expect("data dir");
        let csv = "program,subject,start,duration_minutes,time_zone,participants\n\
                   nope,Intro,2099-03-15 09:00,30,UTC,adele@contoso.example\n";
        let input = FileInput {
            file_name: "b.csv".into(),
            bytes: csv.as_bytes().to_vec(),
            time_zone: None,
        };
        let plan = validate_inner(&w, &input).expect("validation reports, it does not fail");
        assert_eq!(plan.summary.rows, 1, "one data row: {plan:?}");
        assert_eq!(plan.summary.rejected, 1, "the row is rejected: {plan:?}");
        assert!(
            plan.rows[0]
                .problems
                .iter()
                .any(|p| p.code == batch::ProblemCode::UnknownProgram),
            "the problem names the unknown program: {:?}",
            plan.rows[0].problems
        );
        assert!(
            page_inner(&state, None, None)
                .expect("list")
                .items
                .is_empty(),
            "validation stores nothing"
        );
        let err = export_inner(&state, 1, "pdf").expect_err("unknown format");
        assert_eq!(err.code, "invalid_input", "the format is checked: {err:?}");
    }
}
