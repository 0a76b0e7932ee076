//! Audit page commands: the filtered trail and its CSV/JSON export (the window saves the text
//! through a Blob download). Rows never hold a secret, so exports are safe to hand on.

use serde::Deserialize;
use tauri::State;
use tsched_core::audit::{self, AuditFilter, AuditRow};
use tsched_core::store::page::Page;

use super::CmdResult;
use crate::state::AppState;

/// The filters of the Audit page; blank fields are ignored. Dates are `YYYY-MM-DD` or RFC 3339;
/// `until` is exclusive (the window passes the day after the last day shown).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filter {
    operator: Option<String>,
    program: Option<String>,
    action: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
}

fn blank_none(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn to_core(f: Filter, cursor: Option<String>) -> CmdResult<AuditFilter> {
    Ok(AuditFilter {
        operator: blank_none(f.operator),
        program_code: blank_none(f.program),
        action: blank_none(f.action),
        since: blank_none(f.since)
            .map(|s| audit::parse_instant("since", &s))
            .transpose()?,
        until: blank_none(f.until)
            .map(|s| audit::parse_instant("until", &s))
            .transpose()?,
        limit: f.limit.unwrap_or(500),
        after: cursor.filter(|c| !c.is_empty()),
    })
}

/// Every audit row matching the filter, newest first (for an export).
pub fn list_inner(state: &AppState, filter: Filter) -> CmdResult<Vec<AuditRow>> {
    let f = to_core(filter, None)?;
    Ok(state.with_actor(|s, actor| audit::list(s, actor, &f))?)
}

/// One page of the rows matching the filter, newest first: `{ items, next_cursor }`; `cursor` is
/// the previous page's `next_cursor`. The page size is the filter's `limit` (default 500).
pub fn page_inner(
    state: &AppState,
    filter: Filter,
    cursor: Option<String>,
) -> CmdResult<Page<AuditRow>> {
    let f = to_core(filter, cursor)?;
    Ok(state.with_actor(|s, actor| audit::list_page(s, actor, &f))?)
}

/// See [`page_inner`].
#[tauri::command(async)]
pub fn audit_page(
    state: State<'_, AppState>,
    filter: Option<Filter>,
    cursor: Option<String>,
) -> CmdResult<Page<AuditRow>> {
    page_inner(&state, filter.unwrap_or_default(), cursor)
}

/// The filtered trail as `csv` or `json` text.
#[tauri::command(async)]
pub fn audit_export(
    state: State<'_, AppState>,
    filter: Option<Filter>,
    format: String,
) -> CmdResult<String> {
    let rows = list_inner(&state, filter.unwrap_or_default())?;
    Ok(match format.as_str() {
        "json" => audit::to_json(&rows)?,
        "csv" => audit::to_csv(&rows)?,
        other => {
            return Err(super::invalid(
                "format",
                format!("unknown export format '{other}'; use csv or json"),
            )
            .into())
        }
    })
}
