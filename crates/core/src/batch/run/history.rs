//! History of batches: list and show them (with paging), and cancel one, optionally deleting
//! every meeting it created (`cancel --undo`), resolving requests a dead run left in flight.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::{lease, load, now_db, require_programs, rows_of, Attempt, BatchView, Transport};
use crate::access::{self, Action};
use crate::actor::Actor;
use crate::batch::rate::{backoff, BackoffConfig};
use crate::error::Error;
use crate::store::audit_log::AuditEntry;
use crate::store::batches::{BatchRow, BatchState, ItemRow, ItemState, BATCHES_CURSOR};
use crate::store::page::{self, Page};
use crate::store::Store;

/// The batches the acting operator may manage (every program of the batch), newest first, with
/// counts (`tsched batch list`; resumable ones say so, and one whose run is gone reads
/// `interrupted`).
pub fn list(store: &Store, actor: &Actor) -> Result<Vec<BatchRow>, Error> {
    let who = access::resolve(store.tables(), actor)?;
    Ok(store
        .tables()
        .batches_list()?
        .into_iter()
        .filter(|b| {
            b.programs
                .iter()
                .all(|p| access::decide(&who.subject, Action::BatchesManage, Some(p)).is_allowed())
        })
        .map(lease::shown)
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
    let who = access::resolve(store.tables(), actor)?;
    let limit = page::limit(limit);
    let mut visible = Vec::new();
    let mut cursor = after.map(str::to_string);
    loop {
        let read = store
            .tables()
            .batches_page(cursor.as_deref(), limit.saturating_add(1))?;
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
    Ok(page::finish(BATCHES_CURSOR, visible, limit, |b| b.id).map(lease::shown))
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
    let state = state.map(item_state).transpose()?;
    let batch = load(store, id)?;
    if batch.programs.is_empty() {
        access::require(store.tables(), actor, Action::BatchesManage, None)?;
    }
    for p in &batch.programs {
        access::require(store.tables(), actor, Action::BatchesManage, Some(p))?;
    }
    Ok(store.tables().batch_items_page(id, state, after, limit)?)
}

/// An item state as a person types it (`In-Flight` is `in_flight`), or a located error naming
/// every state.
fn item_state(typed: &str) -> Result<ItemState, Error> {
    let name = typed.trim().to_ascii_lowercase().replace('-', "_");
    ItemState::parse(&name).ok_or_else(|| {
        let all: Vec<&str> = ItemState::ALL.iter().map(|s| s.as_str()).collect();
        Error::invalid(
            "state",
            format!("unknown item state '{name}'; use one of {}", all.join(", ")),
        )
    })
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
    let items = store.tables().batch_items(id, None)?;
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
    let items = store.tables().batch_items(id, None)?;
    let who = require_programs(store, actor, &rows_of(&items)?)?;
    let state = batch.state;
    let finished = matches!(state, BatchState::Cancelled | BatchState::Completed);
    if !finished || undo {
        store.write(|tx| -> Result<(), Error> {
            let at = now_db();
            if state != BatchState::Completed {
                tx.batch_set_state(id, BatchState::Cancelled, None, true, &at)?;
                tx.batch_items_cancel_queued(id, &at)?;
            }
            who.audit(
                tx,
                AuditEntry {
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
    let (undone, undo_failed) = if undo {
        let transport = transport.ok_or(Error::NotConnected)?;
        undo_all(store, &transport, id, &who.label).await?
    } else {
        close_orphans(store, id)?;
        (0, Vec::new())
    };
    Ok(Cancelled {
        batch: load(store, id)?,
        undone,
        undo_failed,
    })
}

/// Whether a run holds batch `id` now (its lease is live): that run records its own requests
/// in flight; those of a run that is gone are nobody's.
fn run_holds(store: &Store, id: i64) -> Result<bool, Error> {
    Ok(store
        .tables()
        .batch_by_id(id)?
        .and_then(|b| b.lease)
        .is_some_and(|l| lease::live(&l)))
}

/// Without undo: a live run records its own requests in flight; only those of a run that is
/// gone (its lease lapsed or released, or its process on this host exited) are closed here, at
/// once.
fn close_orphans(store: &mut Store, id: i64) -> Result<(), Error> {
    let flying = store.tables().batch_items(id, Some(ItemState::InFlight))?;
    if !flying.is_empty() && !run_holds(store, id)? {
        store.write(|tx| -> Result<(), Error> {
            tx.batch_items_cancel_in_flight(id, &now_db())?;
            Ok(())
        })?;
    }
    Ok(())
}

/// Undo: until nothing is done or in flight, deletes what is done; waits for a live run's
/// requests in flight to be answered (its answer may be a meeting); resolves requests orphaned
/// by a run that died with createOrGet (the same externalId: it returns the meeting if it was
/// made, else makes it) so that deleting it leaves nothing behind. Returns the meetings deleted
/// and the lines that could not be, with why.
async fn undo_all(
    store: &mut Store,
    transport: &Arc<dyn Transport>,
    id: i64,
    who: &str,
) -> Result<(u64, Vec<(u64, String)>), Error> {
    let mut undone = 0;
    let mut undo_failed = Vec::new();
    let deadline = std::time::Instant::now() + UNDO_SETTLE;
    // Lines this cancel gave up deleting: they stay `done` (the meeting may exist) and are not
    // tried again in this cancel.
    let mut gave_up = std::collections::HashSet::new();
    loop {
        // Read in flight first: once none is in flight (and the batch is cancelled, so none can
        // start), the done list read after it is final.
        let flying = store.tables().batch_items(id, Some(ItemState::InFlight))?;
        let to_delete: Vec<ItemRow> = store
            .tables()
            .batch_items(id, Some(ItemState::Done))?
            .into_iter()
            .filter(|i| !gave_up.contains(&i.line))
            .collect();
        if flying.is_empty() && to_delete.is_empty() {
            return Ok((undone, undo_failed));
        }
        for item in &to_delete {
            match undo_item(store, transport, id, item, who).await? {
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
        if std::time::Instant::now() < deadline && run_holds(store, id)? {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        resolve_in_flight(store, transport, id, who, &flying, &mut undo_failed).await?;
    }
}

/// Resolves requests left in flight by a run that is gone: `createOrGet` again records the
/// meeting as done (to be deleted next round); an answer that does not resolve it fails the
/// item and lists it in `undo_failed`.
async fn resolve_in_flight(
    store: &mut Store,
    transport: &Arc<dyn Transport>,
    id: i64,
    who: &str,
    flying: &[ItemRow],
    undo_failed: &mut Vec<(u64, String)>,
) -> Result<(), Error> {
    let rows = rows_of(flying)?;
    // In calendar mode the run sent events: the same transactionId finds the event (sending
    // nothing more), and its meeting row keeps the event id, so the undo cancels it.
    let calendar = store.tables().integration_invitation_mode()?.is_calendar();
    let mut known = super::executor::Known::default();
    for (item, row) in flying.iter().zip(rows) {
        // The run's own burst may still hold the tenant's rate: waited out, as every request
        // of a cancel is.
        let attempt = patiently(|| async {
            if calendar {
                transport.create_event(row.new_event()).await
            } else {
                transport.create_or_get(row.create_or_get()).await
            }
        })
        .await;
        match attempt {
            Attempt::Done {
                id: gid,
                join_web_url,
                created,
                event_id,
            } => {
                store.write(|tx| -> Result<(), Error> {
                    let at = now_db();
                    tx.batch_item_mark_done(id, item.line, &gid, &join_web_url, created, &at)?;
                    if let Some(eid) = event_id.as_deref() {
                        let m = super::executor::record_meeting(
                            tx,
                            &mut known,
                            id,
                            &row,
                            &super::executor::Confirmed {
                                graph_id: &gid,
                                join_web_url: &join_web_url,
                                event_id: Some(eid),
                            },
                            who,
                            &at,
                        )?;
                        tx.batch_item_set_meeting(id, item.line, m)?;
                    }
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
                    tx.batch_item_mark_failed(
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
    Ok(())
}

/// How long a cancel waits for a live run's requests in flight to be answered.
const UNDO_SETTLE: Duration = Duration::from_secs(30);

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
    // A meeting made in calendar mode: its event is cancelled first, once (Exchange sends the
    // cancellations), then its Teams meeting is deleted as any other.
    let meeting = store.tables().meeting_by_external_id(&item.external_id)?;
    if let Some(m) =
        meeting.filter(|m| m.event_id.is_some() && m.invitations_cancelled_at.is_none())
    {
        let eid = m.event_id.clone().expect("invariant: filtered on it");
        let comment = format!(
            "The meeting \"{}\" was cancelled by its coordinator.",
            m.subject
        );
        match patiently(|| transport.cancel_event(eid.clone(), comment.clone())).await {
            Attempt::Done { .. } => {
                store.write(|tx| -> Result<(), Error> {
                    tx.meeting_record_invitations(
                        m.id,
                        crate::store::meetings::InvitationsSent::Cancelled,
                        &now_db(),
                    )?;
                    Ok(())
                })?;
            }
            other => {
                return Ok(Some(format!(
                    "the calendar event could not be cancelled: {other:?}"
                )))
            }
        }
    }
    match patiently(|| transport.delete(gid.clone())).await {
        Attempt::Done { .. } => {
            store.write(|tx| -> Result<(), Error> {
                let at = now_db();
                tx.batch_item_mark_undone(id, item.line, &at)?;
                if let Some(m) = tx.meeting_by_external_id(&item.external_id)? {
                    tx.meeting_mark_cancelled(m.id, &at)?;
                }
                tx.audit_append(&AuditEntry {
                    operator: who,
                    action: "meeting.delete",
                    target: &format!("meeting:{}", item.external_id),
                    before: Some(json!({"batch": id, "line": item.line, "graph_id": gid})),
                    ..Default::default()
                })?;
                Ok(())
            })?;
            Ok(None)
        }
        other => Ok(Some(format!("the meeting could not be deleted: {other:?}"))),
    }
}

/// Sends a request of a cancel until it is answered for good: throttling (its `Retry-After`)
/// and transient failures (backoff) are waited out, at most 8 tries.
async fn patiently<F, Fut>(mut send: F) -> Attempt
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Attempt>,
{
    let mut tries = 0u32;
    loop {
        tries += 1;
        match send().await {
            Attempt::Throttled { retry_after } if tries < 8 => {
                tokio::time::sleep(retry_after.unwrap_or(Duration::from_secs(1))).await;
            }
            Attempt::Transient { retry_after, .. } if tries < 8 => {
                let wait = retry_after.unwrap_or_else(|| {
                    backoff(BackoffConfig::default(), tries, rand::random::<f64>())
                });
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}
