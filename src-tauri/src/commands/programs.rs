//! Programs page commands.

use serde::Deserialize;
use tauri::State;
use tsched_core::operators;
use tsched_core::programs::{self, ListQuery, NewProgram, ProgramView};

use super::CmdResult;
use crate::state::AppState;

/// Lists programs, optionally filtered by a search text.
#[tauri::command]
pub fn programs_list(state: State<'_, AppState>, search: Option<String>, include_archived: Option<bool>) -> CmdResult<Vec<ProgramView>> {
    let q = ListQuery { search: search.filter(|s| !s.trim().is_empty()), include_archived: include_archived.unwrap_or(false), ..Default::default() };
    Ok(state.with_store(|s| programs::list(s, &operators::actor_for(s, state.operator())?, &q))?)
}

/// The add-program form.
#[derive(Debug, Deserialize)]
pub struct AddProgram {
    name: String,
    code: Option<String>,
    description: Option<String>,
}

/// Adds a program.
#[tauri::command]
pub fn programs_add(state: State<'_, AppState>, input: AddProgram) -> CmdResult<ProgramView> {
    let new = NewProgram {
        name: input.name,
        code: input.code.filter(|c| !c.trim().is_empty()),
        description: input.description,
    };
    Ok(state.with_store(|s| programs::add(s, &operators::actor_for(s, state.operator())?, new))?)
}

/// Shows one program.
#[tauri::command]
pub fn programs_show(state: State<'_, AppState>, code: String) -> CmdResult<ProgramView> {
    Ok(state.with_store(|s| programs::show(s, &operators::actor_for(s, state.operator())?, &code))?)
}
