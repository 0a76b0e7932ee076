//! Audit page commands: the filtered trail and its CSV/JSON export (the window saves the text
//! through a Blob download). Rows never hold a secret, so exports are safe to hand on.

use serde::Deserialize;
use tauri::State;
use tsched_core::audit::{self, AuditFilter, AuditRow};
use tsched_core::store::page::Page;

use super::{blank_none, CmdResult};
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

/// The whole trail matching the filter as `csv` or `json` text: every page, not only the first
/// (`limit` is only the page size of the reading).
pub fn export_inner(state: &AppState, filter: Filter, format: &str) -> CmdResult<String> {
    let f = to_core(filter, None)?;
    Ok(state.with_actor(|s, actor| audit::export(s, actor, &f, format))?)
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

/// The filtered trail as `csv` or `json` text (see [`export_inner`]).
#[tauri::command(async)]
pub fn audit_export(
    state: State<'_, AppState>,
    filter: Option<Filter>,
    format: String,
) -> CmdResult<String> {
    export_inner(&state, filter.unwrap_or_default(), &format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_audit_export_held_only_the_newest_500_of_600_rows() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = tsched_core::Store::open_in(dir.path()).expect("store");
            let mut sql = String::from("BEGIN;");
            for i in 0..600 {
                sql.push_str(&format!(
                    "INSERT INTO audit_log (at, operator, action, target)
                     VALUES ('2027-01-01T00:{:02}:{:02}Z', 'root@x.com', 'program.edit', 'p{i}');",
                    i / 60,
                    i % 60
                ));
            }
            sql.push_str("COMMIT;");
            store.conn().execute_batch(&sql).expect("seed");
        }
        let tokens = std::sync::Arc::new(tsched_core::auth::MemoryTokenStore::default());
        // Setup mode: no operator yet, the local user reads the trail.
        let state = AppState::with(Some(dir.path().to_path_buf()), None, tokens);
        let csv = export_inner(&state, Filter::default(), "csv").expect("export");
        assert_eq!(
            csv.lines().count(),
            601,
            "the window's export holds all 600 rows (and a header), not the first page of 500"
        );
        let err = export_inner(&state, Filter::default(), "pdf").expect_err("unknown format");
        assert_eq!(err.code, "invalid_input", "the format is checked: {err:?}");
    }
}
