//! Operators page commands (global admins manage, support reads): the roster, add, grant and
//! revoke roles, deactivate/reactivate, remove. Thin over `tsched_core::operators`.

use tauri::State;
use tsched_core::access::Role;
use tsched_core::operators::{self, NewOperator, Operator};
use tsched_core::store::page::Page;

use super::CmdResult;
use crate::state::AppState;

fn program(p: Option<String>) -> Option<String> {
    p.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// One page of the roster, by UPN: `{ items, next_cursor }`; `cursor` is the previous page's
/// `next_cursor`. An empty first page is setup mode (no operators yet).
#[tauri::command(async)]
pub fn operators_page(
    state: State<'_, AppState>,
    cursor: Option<String>,
    limit: Option<u32>,
) -> CmdResult<Page<Operator>> {
    let cursor = cursor.filter(|c| !c.is_empty());
    Ok(state.with_actor(|s, actor| {
        operators::list_page(s, actor, cursor.as_deref(), limit.unwrap_or(0))
    })?)
}

/// Adds an operator; the first one becomes global admin.
#[tauri::command(async)]
pub fn operators_add(
    state: State<'_, AppState>,
    upn: String,
    display_name: Option<String>,
) -> CmdResult<Operator> {
    let input = NewOperator {
        upn,
        display_name: display_name.unwrap_or_default(),
    };
    Ok(state.with_actor(|s, actor| operators::add(s, actor, input))?)
}

/// Grants a role (`global_admin`, `track_admin`, `coordinator`, `support`); per-program roles
/// need `program`.
pub fn grant_inner(
    state: &AppState,
    upn: &str,
    role: &str,
    program_code: Option<String>,
) -> CmdResult<Operator> {
    let role: Role = role.parse().map_err(tsched_core::Error::from)?;
    let p = program(program_code);
    Ok(state.with_actor(|s, actor| operators::grant(s, actor, upn, role, p.as_deref()))?)
}

/// See [`grant_inner`].
#[tauri::command(async)]
pub fn operators_grant(
    state: State<'_, AppState>,
    upn: String,
    role: String,
    program: Option<String>,
) -> CmdResult<Operator> {
    grant_inner(&state, &upn, &role, program)
}

/// Revokes a role.
#[tauri::command(async)]
pub fn operators_revoke(
    state: State<'_, AppState>,
    upn: String,
    role: String,
    program: Option<String>,
) -> CmdResult<Operator> {
    let role: Role = role.parse().map_err(tsched_core::Error::from)?;
    let p = self::program(program);
    Ok(state.with_actor(|s, actor| operators::revoke(s, actor, &upn, role, p.as_deref()))?)
}

/// Deactivates (`active: false`) or reactivates an operator.
#[tauri::command(async)]
pub fn operators_set_active(
    state: State<'_, AppState>,
    upn: String,
    active: bool,
) -> CmdResult<Operator> {
    Ok(state.with_actor(|s, actor| operators::set_active(s, actor, &upn, active))?)
}

/// Removes an operator.
#[tauri::command(async)]
pub fn operators_remove(state: State<'_, AppState>, upn: String) -> CmdResult<()> {
    Ok(state.with_actor(|s, actor| operators::remove(s, actor, &upn))?)
}
