//! Programs page commands: list/search, add, show, rename, archive, meeting-mode toggles, and
//! the participants of a program (list, add, remove, CSV import).
//!
//! Each command is a thin `#[tauri::command]` over an `*_inner(&AppState, …)` function so the
//! mapping from core to `{ code, message }` is testable without a webview. Listing also says what
//! the acting operator may change ([`Allowed`], from `access::decide`) so the window can disable
//! what the core would refuse anyway.

use serde::{Deserialize, Serialize};
use tauri::State;
use tsched_core::access::{self, Action, Decision, Subject};
use tsched_core::participants::{self, ImportReport};
use tsched_core::programs::{
    self, ListQuery, MeetingMode, NewProgram, Program, ProgramChanges, ProgramView,
};
use tsched_core::store::page::Page;
use tsched_core::store::participants::ParticipantRow;

use super::CmdResult;
use crate::state::AppState;

/// One yes/no with the reason when no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permission {
    /// Whether the actor may.
    pub allowed: bool,
    /// Why not (names the roles held), when not.
    pub reason: Option<String>,
}

impl From<Decision> for Permission {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Allowed => Self {
                allowed: true,
                reason: None,
            },
            Decision::Denied { reason } => Self {
                allowed: false,
                reason: Some(reason),
            },
        }
    }
}

/// What the acting operator may change in one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allowed {
    /// Rename and describe.
    pub edit: Permission,
    /// Archive or unarchive.
    pub archive: Permission,
    /// Meeting-mode toggles.
    pub modes: Permission,
    /// Add, remove, import participants.
    pub participants: Permission,
}

/// Pure: what `subject` may change in `program`.
pub fn allowed(subject: &Subject, program: &str) -> Allowed {
    let d = |a: Action| Permission::from(access::decide(subject, a, Some(program)));
    Allowed {
        edit: d(Action::ProgramEdit),
        archive: d(Action::ProgramArchive),
        modes: d(Action::ModeToggle),
        participants: d(Action::ParticipantsEdit),
    }
}

/// A program with what the actor may change in it.
#[derive(Debug, Clone, Serialize)]
pub struct ProgramItem {
    /// The program and its mode states.
    #[serde(flatten)]
    pub view: ProgramView,
    /// What the actor may change.
    pub allowed: Allowed,
}

/// The query of a programs page as the window sends it (blank search and cursor mean none).
fn list_query(
    search: Option<String>,
    include_archived: bool,
    cursor: Option<String>,
    limit: Option<u32>,
) -> ListQuery {
    ListQuery {
        search: search.filter(|s| !s.trim().is_empty()),
        include_archived,
        after: cursor.filter(|c| !c.is_empty()),
        limit: limit.unwrap_or(0),
        ..Default::default()
    }
}

/// One page of the programs the actor may view, with search; `cursor` is the `next_cursor` of
/// the previous page (none for the first).
pub fn page_inner(
    state: &AppState,
    search: Option<String>,
    include_archived: bool,
    cursor: Option<String>,
    limit: Option<u32>,
) -> CmdResult<Page<ProgramItem>> {
    let q = list_query(search, include_archived, cursor, limit);
    Ok(state.with_actor(|s, actor| {
        let who = tsched_core::operators::whoami(s, actor)?;
        Ok(programs::list_page(s, actor, &q)?.map(|view| ProgramItem {
            allowed: allowed(&who.subject, &view.code),
            view,
        }))
    })?)
}

/// A program as a picker shows it. A [`ProgramItem`] carries every mode with its reason and what
/// the actor may change (about 700 bytes of JSON); a picker of 200 of them cost the Meetings page
/// ~145 KB of IPC for a name and a yes/no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramName {
    /// The program's code (the picker's value).
    pub code: String,
    /// Its display name.
    pub name: String,
    /// Archived programs get no new meetings.
    pub archived: bool,
    /// Whether the program chose Teams video calls (usable only when `teams_unavailable` of the
    /// page is none).
    pub teams: bool,
}

impl From<&Program> for ProgramName {
    fn from(p: &Program) -> Self {
        Self {
            code: p.code.clone(),
            name: p.name.clone(),
            archived: p.archived,
            teams: p
                .enabled_modes
                .iter()
                .any(|m| m == MeetingMode::TeamsVideo.as_str()),
        }
    }
}

/// One page of [`ProgramName`]s: `{ items, next_cursor, teams_unavailable }`.
#[derive(Debug, Clone, Serialize)]
pub struct NamesPage {
    /// The programs, in the list's order.
    pub items: Vec<ProgramName>,
    /// As in [`Page`].
    pub next_cursor: Option<String>,
    /// Why Teams video calls cannot be used by any program now (the integration's state: the
    /// same for every program, so said once), or none when they can.
    pub teams_unavailable: Option<String>,
}

/// What `programs_page` answers: full items for the Programs page, names for pickers.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ProgramsReply {
    /// See [`page_inner`].
    Full(Page<ProgramItem>),
    /// See [`names_inner`].
    Names(NamesPage),
}

/// The same page as [`page_inner`] (same visibility, search and cursor), as names for a picker.
pub fn names_inner(
    state: &AppState,
    search: Option<String>,
    include_archived: bool,
    cursor: Option<String>,
    limit: Option<u32>,
) -> CmdResult<NamesPage> {
    let q = list_query(search, include_archived, cursor, limit);
    Ok(state.with_actor(|s, actor| {
        let page = programs::list_page(s, actor, &q)?;
        let teams = programs::teams(s)?;
        Ok(NamesPage {
            items: page
                .items
                .iter()
                .map(|v| ProgramName::from(&v.program))
                .collect(),
            next_cursor: page.next_cursor,
            teams_unavailable: (!teams.available).then(|| teams.reason.unwrap_or_default()),
        })
    })?)
}

/// See [`page_inner`]: `{ items, next_cursor }`; with `names_only`, see [`names_inner`].
#[tauri::command(async)]
pub fn programs_page(
    state: State<'_, AppState>,
    search: Option<String>,
    include_archived: Option<bool>,
    cursor: Option<String>,
    limit: Option<u32>,
    names_only: Option<bool>,
) -> CmdResult<ProgramsReply> {
    let include_archived = include_archived.unwrap_or(false);
    if names_only.unwrap_or(false) {
        return names_inner(&state, search, include_archived, cursor, limit)
            .map(ProgramsReply::Names);
    }
    page_inner(&state, search, include_archived, cursor, limit).map(ProgramsReply::Full)
}

/// The add-program form.
#[derive(Debug, Deserialize)]
pub struct AddProgram {
    name: String,
    code: Option<String>,
    description: Option<String>,
}

/// Adds a program.
#[tauri::command(async)]
pub fn programs_add(state: State<'_, AppState>, input: AddProgram) -> CmdResult<ProgramView> {
    let new = NewProgram {
        name: input.name,
        code: input.code.filter(|c| !c.trim().is_empty()),
        description: input.description,
    };
    Ok(state.with_actor(|s, actor| programs::add(s, actor, new))?)
}

/// Shows one program.
#[tauri::command(async)]
pub fn programs_show(state: State<'_, AppState>, code: String) -> CmdResult<ProgramView> {
    Ok(state.with_actor(|s, actor| programs::show(s, actor, &code))?)
}

/// Renames a program and/or changes its description. `version` is the program's version the
/// page loaded (every change below takes it): a program changed since then is left alone and
/// the answer is a `conflict` whose message names who changed it and ends with
/// [`programs::RELOAD_HINT`], for the page to offer a reload. Without it, the change applies to
/// whatever the program holds now.
pub fn edit_inner(
    state: &AppState,
    code: &str,
    name: Option<String>,
    description: Option<String>,
    version: Option<i64>,
) -> CmdResult<ProgramView> {
    let changes = ProgramChanges {
        name: name.filter(|n| !n.trim().is_empty()),
        description,
    };
    Ok(state.with_actor(|s, actor| programs::edit(s, actor, code, changes, version))?)
}

/// See [`edit_inner`].
#[tauri::command(async)]
pub fn programs_edit(
    state: State<'_, AppState>,
    code: String,
    name: Option<String>,
    description: Option<String>,
    version: Option<i64>,
) -> CmdResult<ProgramView> {
    edit_inner(&state, &code, name, description, version)
}

/// Archives or unarchives a program (`version` as in [`edit_inner`]).
#[tauri::command(async)]
pub fn programs_archive(
    state: State<'_, AppState>,
    code: String,
    archived: bool,
    version: Option<i64>,
) -> CmdResult<ProgramView> {
    Ok(state.with_actor(|s, actor| programs::set_archived(s, actor, &code, archived, version))?)
}

/// Turns a meeting mode on or off (`version` as in [`edit_inner`]).
pub fn set_mode_inner(
    state: &AppState,
    code: &str,
    mode: &str,
    enabled: bool,
    version: Option<i64>,
) -> CmdResult<ProgramView> {
    let mode: MeetingMode = mode.parse()?;
    Ok(state.with_actor(|s, actor| programs::set_mode(s, actor, code, mode, enabled, version))?)
}

/// See [`set_mode_inner`].
#[tauri::command(async)]
pub fn programs_set_mode(
    state: State<'_, AppState>,
    code: String,
    mode: String,
    enabled: bool,
    version: Option<i64>,
) -> CmdResult<ProgramView> {
    set_mode_inner(&state, &code, &mode, enabled, version)
}

/// One page of the participants of a program, by email: `{ items, next_cursor }`; `cursor` is
/// the previous page's `next_cursor`.
#[tauri::command(async)]
pub fn participants_page(
    state: State<'_, AppState>,
    code: String,
    cursor: Option<String>,
    limit: Option<u32>,
) -> CmdResult<Page<ParticipantRow>> {
    let cursor = cursor.filter(|c| !c.is_empty());
    Ok(state.with_actor(|s, actor| {
        participants::list_page(s, actor, &code, cursor.as_deref(), limit.unwrap_or(0))
    })?)
}

/// Adds one participant.
#[tauri::command(async)]
pub fn participants_add(
    state: State<'_, AppState>,
    code: String,
    email: String,
    display_name: Option<String>,
) -> CmdResult<ParticipantRow> {
    Ok(state.with_actor(|s, actor| {
        participants::add(
            s,
            actor,
            &code,
            &email,
            display_name.as_deref().unwrap_or(""),
        )
    })?)
}

/// Removes one participant.
#[tauri::command(async)]
pub fn participants_remove(
    state: State<'_, AppState>,
    code: String,
    email: String,
) -> CmdResult<()> {
    Ok(state.with_actor(|s, actor| participants::remove(s, actor, &code, &email))?)
}

/// Imports participants from a CSV file's bytes (read in the window), all or nothing.
#[tauri::command(async)]
pub fn participants_import(
    state: State<'_, AppState>,
    code: String,
    file_name: String,
    bytes: Vec<u8>,
) -> CmdResult<ImportReport> {
    Ok(state
        .with_actor(|s, actor| participants::import_csv(s, actor, &code, &file_name, &bytes))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with_programs(n: usize) -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = tsched_core::Store::open_in(dir.path()).expect("store");
        for i in 0..n {
            let p = NewProgram {
                name: format!("Program {i:02}"),
                code: Some(format!("p{i:02}")),
                description: None,
            };
            programs::add(&mut s, &tsched_core::Actor::local(), p).expect("program added");
        }
        drop(s);
        let tokens = std::sync::Arc::new(tsched_core::auth::MemoryTokenStore::default());
        let state = AppState::with(Some(dir.path().to_path_buf()), None, tokens);
        (dir, state)
    }

    #[test]
    fn programs_page_walks_every_program_once_and_refuses_a_bad_cursor_as_input() {
        let (_dir, state) = state_with_programs(7);
        let mut codes = Vec::new();
        let mut cursor = None;
        loop {
            let page = page_inner(&state, None, false, cursor.take(), Some(3)).expect("page");
            assert!(page.items.len() <= 3, "a page holds at most the limit");
            codes.extend(page.items.iter().map(|p| p.view.code.clone()));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(
            codes,
            (0..7).map(|i| format!("p{i:02}")).collect::<Vec<_>>(),
            "pages of 3 hold the 7 programs once, by name"
        );
        let err = page_inner(&state, None, false, Some("not-a-cursor".into()), None)
            .expect_err("bad cursor");
        assert_eq!(
            err.code, "invalid_input",
            "a bad cursor is the caller's: {err:?}"
        );
        assert!(
            err.message.starts_with("cursor:"),
            "the message names the cursor: {}",
            err.message
        );
        let v = serde_json::to_value(page_inner(&state, None, false, None, Some(2)).expect("page"))
            .expect("json");
        assert!(
            v["items"].is_array() && v["next_cursor"].is_string(),
            "the window gets {{ items, next_cursor }}: {v}"
        );
    }

    #[test]
    fn picker_names_are_the_same_page_as_the_full_list_at_a_fraction_of_its_size() {
        let (_dir, state) = state_with_programs(7);
        let full = page_inner(&state, None, false, None, Some(5)).expect("full page");
        let names = names_inner(&state, None, false, None, Some(5)).expect("names page");
        assert_eq!(
            names
                .items
                .iter()
                .map(|n| n.code.as_str())
                .collect::<Vec<_>>(),
            full.items
                .iter()
                .map(|p| p.view.code.as_str())
                .collect::<Vec<_>>(),
            "the names page lists the same programs in the same order"
        );
        assert_eq!(
            names.next_cursor, full.next_cursor,
            "the names page continues where the full one does"
        );
        assert!(
            names.teams_unavailable.is_some(),
            "no integration here, so Teams is unavailable and the page says why once"
        );
        assert!(
            names.items.iter().all(|n| !n.teams && !n.archived),
            "new programs neither chose Teams nor are archived: {names:?}"
        );
        let json_len = |r: &ProgramsReply| serde_json::to_string(r).expect("serializes").len();
        let full_len = json_len(&ProgramsReply::Full(full));
        let names_len = json_len(&ProgramsReply::Names(names));
        assert!(
            names_len * 5 < full_len,
            "the picker's reply must be a small part of the list's ({names_len} against {full_len} bytes)"
        );
    }

    #[test]
    fn a_change_on_the_version_a_page_loaded_applies_once_and_a_stale_one_is_a_conflict() {
        let (_dir, state) = state_with_programs(1);
        let loaded = page_inner(&state, None, false, None, None).expect("page");
        let v = serde_json::to_value(&loaded).expect("json");
        assert_eq!(
            v["items"][0]["version"], 1,
            "the page carries each program's version to send back: {v}"
        );
        let first = set_mode_inner(&state, "p00", "phone", false, Some(1)).expect("on version 1");
        assert_eq!(first.version, 2, "the change bumps the version");
        let stale = edit_inner(&state, "p00", Some("Renamed".into()), None, Some(1))
            .expect_err("a second window still on version 1");
        assert_eq!(stale.code, "conflict", "{stale:?}");
        assert!(
            stale
                .message
                .starts_with("program 'p00' was changed by local:")
                && stale.message.ends_with(programs::RELOAD_HINT),
            "names who changed it and ends with the words the page offers a reload on: {}",
            stale.message
        );
        let now = edit_inner(&state, "p00", None, None, Some(2)).expect("reloaded: no change");
        assert_eq!(
            (now.name.as_str(), now.version),
            ("Program 00", 2),
            "the refused rename wrote nothing"
        );
    }
}
