//! Members page commands: look up one address (member, guest, not found or ambiguous; cached or
//! fresh) and diagnose whether a person can be offered a Teams meeting in a program. Both call
//! Microsoft Graph, so they run on a worker with their own store (see [`super::work`]).

use serde::{Deserialize, Serialize};
use tauri::State;
use tsched_core::membership::{self, AddressCheck, CheckOptions, Membership};

use super::work::{self, Work};
use super::{blank_none, CmdResult, CommandError};
use crate::state::AppState;

/// The lookup form.
#[derive(Debug, Clone, Deserialize)]
pub struct LookupInput {
    /// The address to check.
    pub address: String,
    /// Check for this program (lets its track admins and coordinators run it).
    pub program: Option<String>,
    /// Ask the directory even when a cached answer is fresh.
    #[serde(default)]
    pub refresh: bool,
}

/// Checks one address; a malformed address or a directory failure is an error.
pub fn check_inner(work: &Work, input: LookupInput) -> CmdResult<Membership> {
    let (mut store, actor) = work.open()?;
    let session = work.session(&store)?;
    let program = blank_none(input.program);
    let mut results = work::block_on(membership::check_many(
        &mut store,
        session.graph(),
        &actor,
        program.as_deref(),
        std::slice::from_ref(&input.address),
        CheckOptions {
            refresh: input.refresh,
        },
        &|_| {},
    ))?;
    one_result(results.pop(), &input.address)
}

/// Pure: the one result of a one-address check, or its error for the window.
fn one_result(check: Option<AddressCheck>, address: &str) -> CmdResult<Membership> {
    match check {
        Some(AddressCheck {
            result: Some(m), ..
        }) => Ok(m),
        Some(AddressCheck { error, .. }) => Err(CommandError {
            code: "invalid_input".into(),
            message: format!(
                "{}: {}",
                address.trim(),
                error.unwrap_or_else(|| "could not be checked".into())
            ),
        }),
        None => Err(CommandError {
            code: "invalid_input".into(),
            message: "give an address to check".into(),
        }),
    }
}

/// Checks one address against the tenant's directory.
#[tauri::command]
pub async fn members_check(
    state: State<'_, AppState>,
    input: LookupInput,
) -> CmdResult<Membership> {
    let w = Work::from_state(&state)?;
    work::off_thread(move || check_inner(&w, input)).await
}

/// One check of a diagnosis, with its label.
#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    /// Stable name.
    pub check: membership::CheckName,
    /// Words for people.
    pub label: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub detail: String,
    /// How to fix it, when it failed.
    pub fix: Option<String>,
}

/// "Can this person be offered a Teams meeting in this program?"
#[derive(Debug, Clone, Serialize)]
pub struct DiagnosisView {
    /// The address.
    pub address: String,
    /// The program's code.
    pub program: String,
    /// Whether every check passed.
    pub ok: bool,
    /// Each check in display order.
    pub checks: Vec<CheckView>,
    /// The directory's answer, when there was one.
    pub membership: Option<Membership>,
}

impl From<membership::Diagnosis> for DiagnosisView {
    fn from(d: membership::Diagnosis) -> Self {
        Self {
            ok: d.ok(),
            checks: d
                .checks
                .iter()
                .map(|c| CheckView {
                    check: c.check,
                    label: c.check.label().to_string(),
                    passed: c.passed,
                    detail: c.detail.clone(),
                    fix: c.fix.clone(),
                })
                .collect(),
            address: d.address,
            program: d.program,
            membership: d.membership,
        }
    }
}

/// Diagnoses one address for a program; without a session the membership check fails with why.
pub fn diagnose_inner(work: &Work, input: LookupInput) -> CmdResult<DiagnosisView> {
    let program = blank_none(input.program).ok_or_else(|| {
        super::invalid("program", "choose the program to diagnose the address for")
    })?;
    let (mut store, actor) = work.open()?;
    let session = work.session(&store).ok();
    let d = work::block_on(membership::diagnose(
        &mut store,
        session.as_ref().map(|s| s.graph()),
        &actor,
        &program,
        &input.address,
        CheckOptions {
            refresh: input.refresh,
        },
    ))?;
    Ok(d.into())
}

/// See [`diagnose_inner`].
#[tauri::command]
pub async fn members_diagnose(
    state: State<'_, AppState>,
    input: LookupInput,
) -> CmdResult<DiagnosisView> {
    let w = Work::from_state(&state)?;
    work::off_thread(move || diagnose_inner(&w, input)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_the_core_could_not_check_reaches_the_window_as_an_error() {
        let bad = AddressCheck {
            input: "not an address".into(),
            result: None,
            error: Some("not an email address".into()),
        };
        let err = one_result(Some(bad), " not an address ").expect_err("no result is an error");
        assert_eq!(
            err.code, "invalid_input",
            "a bad address is the caller's to fix"
        );
        assert!(
            err.message.contains("not an address") && err.message.contains("not an email"),
            "the message names the address and the reason: {}",
            err.message
        );
        assert!(
            one_result(None, "").is_err(),
            "no check at all is reported, not a blank card"
        );
    }

    #[test]
    fn diagnose_needs_a_program_and_lookup_without_connection_says_not_connected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = std::sync::Arc::new(tsched_core::auth::MemoryTokenStore::default());
        let state = AppState::with(Some(dir.path().to_path_buf()), None, tokens);
        let w = Work::from_state(&state).expect("data dir is set");
        let input = |program: Option<&str>| LookupInput {
            address: "adele@contoso.example".into(),
            program: program.map(str::to_string),
            refresh: false,
        };
        let err = diagnose_inner(&w, input(Some("  "))).expect_err("a program is required");
        assert_eq!(
            err.code, "invalid_input",
            "blank program is refused: {err:?}"
        );
        let err = check_inner(&w, input(None)).expect_err("no integration yet");
        assert_eq!(
            err.code, "not_connected",
            "the card can tell support to connect the tenant first: {err:?}"
        );
    }
}
