//! Storing a planned batch ([`create`]: the batch and all its items in one transaction, before
//! the first request) and the one-call path that validates, stores and runs a file ([`run`]).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use super::executor::execute;
use super::{now_db, RunOptions, RunOutcome, Transport};
use crate::access::{self, Action};
use crate::actor::Actor;
use crate::batch::plan::{self, Plan, PlanOptions};
use crate::batch::{BatchEvent, MeetingRow};
use crate::error::Error;
use crate::graph::GraphClient;
use crate::store::audit_log::AuditEntry;
use crate::store::Store;

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
    let uid = opts
        .batch_uid
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    store.write(|tx| -> Result<i64, Error> {
        let who = access::resolve(tx, actor)?;
        let now = now_db();
        let codes: std::collections::BTreeSet<String> =
            plan.ready().map(|m| m.program.clone()).collect();
        let codes: Vec<String> = codes.into_iter().collect();
        let id = tx.batch_insert(
            &uid,
            source_name,
            &sha,
            opts.concurrency as i64,
            &codes,
            &who.label,
            &now,
        )?;
        // A handful of statements for the whole batch, not several per row: the actor was
        // resolved once above (what `access::require` would resolve again for each row), and
        // the live items of every row are read at once. Re-checked inside the write lock:
        // another batch may have taken a meeting meanwhile.
        let ready: Vec<&MeetingRow> = plan.ready().collect();
        let ids: Vec<&str> = ready.iter().map(|m| m.external_id.as_str()).collect();
        let live = tx.batch_live_items(&ids)?;
        let mut taken_here: HashMap<&str, u64> = HashMap::new();
        let mut rows = Vec::with_capacity(ready.len());
        let mut programs = std::collections::BTreeSet::new();
        for m in &ready {
            who.may(Action::BatchesManage, Some(&m.program))?;
            // The first live item, as `batch_live_item` would answer once this batch's earlier
            // rows are stored.
            let earlier_here = taken_here.get(m.external_id.as_str()).map(|l| (id, *l));
            let first = match (live.get(&m.external_id).copied(), earlier_here) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if let Some((b, l)) = first {
                return Err(Error::Conflict(format!(
                    "line {}: this meeting is already scheduled by batch {b} (line {l})",
                    m.line
                )));
            }
            let row_json =
                serde_json::to_string(m).map_err(|e| Error::invalid("row", e.to_string()))?;
            taken_here.insert(&m.external_id, m.line);
            rows.push((m.line, m.external_id.as_str(), row_json));
            programs.insert(m.program.clone());
        }
        let items: Vec<(u64, &str, &str)> = rows
            .iter()
            .map(|(line, eid, json)| (*line, *eid, json.as_str()))
            .collect();
        tx.batch_items_insert(id, &items, &now)?;
        who.audit(
            tx,
            AuditEntry {
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
