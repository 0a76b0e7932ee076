//! Programs (tracks) and their meeting modes: validation and the use cases over
//! `store::programs`. Every change checks access (`access::require`), refuses archived programs,
//! and is one transaction that also appends exactly one audit row.
//!
//! Two workstations may edit the same program (a team's shared store): every change of a
//! program or its modes bumps the program's `version`, and a change states the version its
//! author saw (`expected_version`). A change decided on an older version is refused with who
//! changed it and when ([`changed_since`]), and writes nothing, not even an audit row. The store's
//! write is itself conditional on the version read inside the transaction, so two transactions
//! that both read the same version (PostgreSQL's READ COMMITTED) cannot both write.
//!
//! A program stores its *choice* per meeting mode; what the UI shows is the *effective* state,
//! which for Teams video also depends on the tenant integration (see [`teams_availability`]):
//! removing the integration keeps every program's choice, and reconnecting restores it.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::json;

use crate::access::{self, Action};
use crate::actor::Actor;
use crate::error::Error;
use crate::store::audit_log::AuditEntry;
use crate::store::page::Page;
use crate::store::prelude::*;
use crate::store::programs::ProgramStamp;
use crate::store::Store;

pub use crate::store::programs::{ListQuery, ProgramRow as Program};

/// Longest program name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 120;
/// Longest program code accepted.
pub const MAX_CODE_CHARS: usize = 32;
/// Longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;

/// Meeting modes a program can allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingMode {
    /// Meet in person.
    InPerson,
    /// A phone call.
    Phone,
    /// A Microsoft Teams video call created through Graph.
    TeamsVideo,
}

impl MeetingMode {
    /// Every mode, in display order.
    pub const ALL: [MeetingMode; 3] = [
        MeetingMode::InPerson,
        MeetingMode::Phone,
        MeetingMode::TeamsVideo,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingMode::InPerson => "in_person",
            MeetingMode::Phone => "phone",
            MeetingMode::TeamsVideo => "teams_video",
        }
    }

    /// Words for messages.
    pub fn label(self) -> &'static str {
        match self {
            MeetingMode::InPerson => "in person",
            MeetingMode::Phone => "phone",
            MeetingMode::TeamsVideo => "Teams video call",
        }
    }

    /// Whether a new program starts with this mode enabled. Teams starts off: it needs the
    /// integration, and a track admin turns it on deliberately.
    fn default_enabled(self) -> bool {
        !matches!(self, MeetingMode::TeamsVideo)
    }
}

impl FromStr for MeetingMode {
    type Err = Error;

    /// Accepts `in_person`/`in-person`, `phone`, `teams_video`/`teams-video`/`teams`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        if norm == "teams" {
            return Ok(MeetingMode::TeamsVideo);
        }
        MeetingMode::ALL
            .into_iter()
            .find(|m| m.as_str() == norm)
            .ok_or_else(|| {
                Error::invalid(
                    "mode",
                    format!(
                        "unknown meeting mode '{}'; use in-person, phone or teams-video",
                        s.trim()
                    ),
                )
            })
    }
}

impl fmt::Display for MeetingMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether Teams video calls can be used right now, and why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamsAvailability {
    /// True while the integration is connected in a cloud that offers online meetings.
    pub available: bool,
    /// Why not, when not.
    pub reason: Option<String>,
}

/// Reason shown when no tenant is connected.
pub const REASON_NOT_CONNECTED: &str = "not connected: a global admin must connect the tenant";
/// Reason shown after the integration was removed (programs keep their choice).
pub const REASON_REMOVED: &str = "unavailable: integration removed";
/// Reason shown in a cloud without Graph online meetings.
pub const REASON_CLOUD: &str = "Teams online meetings are not offered in this cloud";

/// Whether Teams video calls are available in `store` now (see [`teams_availability`]).
pub fn teams(store: &Store) -> Result<TeamsAvailability, Error> {
    teams_availability(store.tables())
}

/// Reads the `integration` row (owned by the integration module; only `state` and `cloud` are
/// read here) and says whether Teams video calls are available.
pub fn teams_availability(conn: &dyn Tables) -> Result<TeamsAvailability, Error> {
    use crate::store::integration::RowState;
    let row = conn
        .integration_get()?
        .map(|r| (r.state, r.cloud, r.attention_reason));
    let reason = match row {
        None => Some(REASON_NOT_CONNECTED.to_string()),
        Some((RowState::Removed, _, _)) => Some(REASON_REMOVED.to_string()),
        Some((_, cloud, _)) if cloud.eq_ignore_ascii_case("china") => {
            Some(REASON_CLOUD.to_string())
        }
        Some((RowState::NeedsAttention, _, why)) => Some(format!(
            "unavailable: the integration needs attention ({}); a global admin must repair it",
            why.as_deref().unwrap_or("see tsched integration status")
        )),
        Some(_) => None,
    };
    Ok(TeamsAvailability {
        available: reason.is_none(),
        reason,
    })
}

/// The effective state of a meeting mode, for rendering a toggle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeStatus {
    /// Chosen and usable.
    Enabled,
    /// Not chosen.
    Disabled,
    /// Cannot be used now whatever the choice (see `reason`); the choice is kept.
    Unavailable,
}

/// One meeting mode of a program: the stored choice and the effective state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModeState {
    /// The mode.
    pub mode: MeetingMode,
    /// What the program chose (kept while the mode is unavailable).
    pub chosen: bool,
    /// What it is now.
    pub status: ModeStatus,
    /// Why it is unavailable.
    pub reason: Option<String>,
}

/// A program as front ends show it: the row plus each mode's effective state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramView {
    /// The stored program; `enabled_modes` is the program's choice.
    #[serde(flatten)]
    pub program: Program,
    /// Every known mode, in display order, with its effective state.
    pub modes: Vec<ModeState>,
}

impl std::ops::Deref for ProgramView {
    type Target = Program;

    fn deref(&self) -> &Program {
        &self.program
    }
}

/// Pure: the effective mode states of a program given Teams availability.
pub fn mode_states(program: &Program, teams: &TeamsAvailability) -> Vec<ModeState> {
    MeetingMode::ALL
        .into_iter()
        .map(|mode| {
            let chosen = program.enabled_modes.iter().any(|m| m == mode.as_str());
            let unavailable = (mode == MeetingMode::TeamsVideo && !teams.available)
                .then(|| teams.reason.clone().unwrap_or_default());
            let status = match (&unavailable, chosen) {
                (Some(_), _) => ModeStatus::Unavailable,
                (None, true) => ModeStatus::Enabled,
                (None, false) => ModeStatus::Disabled,
            };
            ModeState {
                mode,
                chosen,
                status,
                reason: unavailable,
            }
        })
        .collect()
}

fn view(conn: &dyn Tables, program: Program) -> Result<ProgramView, Error> {
    let teams = teams_availability(conn)?;
    Ok(ProgramView {
        modes: mode_states(&program, &teams),
        program,
    })
}

/// Input for [`add`].
#[derive(Debug, Clone, Default)]
pub struct NewProgram {
    /// Display name.
    pub name: String,
    /// Short code; derived from the name when absent.
    pub code: Option<String>,
    /// Free text.
    pub description: Option<String>,
}

/// Input for [`edit`]: fields left `None` stay as they are.
#[derive(Debug, Clone, Default)]
pub struct ProgramChanges {
    /// New display name.
    pub name: Option<String>,
    /// New description (empty clears it).
    pub description: Option<String>,
}

/// Checks a program name: trimmed, not empty, at most [`MAX_NAME_CHARS`], no control characters.
pub fn validate_name(raw: &str) -> Result<String, Error> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "the program name is empty"));
    }
    let n = name.chars().count();
    if n > MAX_NAME_CHARS {
        return Err(Error::invalid(
            "name",
            format!(
                "the program name is {n} characters long; at most {MAX_NAME_CHARS} are allowed"
            ),
        ));
    }
    if let Some((i, c)) = name.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(Error::invalid(
            "name",
            format!(
                "the program name contains a control character (U+{:04X}) at position {}",
                c as u32,
                i + 1
            ),
        ));
    }
    Ok(name.to_string())
}

/// Checks a program code: 1–32 of `a-z 0-9 - _`, starting with a letter or digit. Upper case is
/// folded to lower case.
pub fn validate_code(raw: &str) -> Result<String, Error> {
    let code = raw.trim().to_ascii_lowercase();
    if code.is_empty() {
        return Err(Error::invalid("code", "the program code is empty"));
    }
    let n = code.chars().count();
    if n > MAX_CODE_CHARS {
        return Err(Error::invalid(
            "code",
            format!(
                "the program code is {n} characters long; at most {MAX_CODE_CHARS} are allowed"
            ),
        ));
    }
    if let Some((i, c)) = code
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(Error::invalid("code", format!("the program code may hold only a-z, 0-9, '-' and '_'; {c:?} at position {} is not allowed", i + 1)));
    }
    if !code.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            "code",
            "the program code must start with a letter or a digit",
        ));
    }
    Ok(code)
}

/// Derives a code from a name: ASCII letters and digits, words joined by '-', at most 32.
pub fn code_from_name(name: &str) -> Option<String> {
    let mut code = String::new();
    for word in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !code.is_empty() {
            code.push('-');
        }
        code.push_str(&word.to_ascii_lowercase());
    }
    code.truncate(MAX_CODE_CHARS);
    let code = code.trim_end_matches('-').to_string();
    (!code.is_empty()).then_some(code)
}

/// Checks a description: trimmed, at most [`MAX_DESCRIPTION_CHARS`], no control characters
/// except newline and tab.
pub fn validate_description(raw: Option<&str>) -> Result<String, Error> {
    let d = raw.unwrap_or("").trim();
    let n = d.chars().count();
    if n > MAX_DESCRIPTION_CHARS {
        return Err(Error::invalid("description", format!("the description is {n} characters long; at most {MAX_DESCRIPTION_CHARS} are allowed")));
    }
    if d.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(
            "description",
            "the description contains a control character",
        ));
    }
    Ok(d.to_string())
}

/// Loads a program by code inside a use case, or `NotFound`.
pub(crate) fn load(conn: &dyn Tables, code: &str) -> Result<Program, Error> {
    let code = code.trim().to_ascii_lowercase();
    conn.program_by_code(&code)?.ok_or(Error::NotFound {
        what: "program",
        key: code,
    })
}

/// Refuses changes to an archived program.
pub(crate) fn ensure_active(p: &Program) -> Result<(), Error> {
    if p.archived {
        return Err(Error::Conflict(format!(
            "program '{}' is archived; unarchive it first (tsched programs unarchive {})",
            p.code, p.code
        )));
    }
    Ok(())
}

/// The words ending every refusal of a change made on data that changed meanwhile: the window
/// offers to reload when a conflict's message ends with them.
pub const RELOAD_HINT: &str = "reload and try again";

/// Pure: the refusal of a change decided on an older version of the program, which is `now`:
/// "program 'eng' was changed by ana@x at 2026-12-04 18:20 UTC — reload and try again".
pub fn changed_since(now: &Program) -> Error {
    let by = now.updated_by.as_deref().unwrap_or("another operator");
    let at = chrono::DateTime::parse_from_rfc3339(&now.updated_at)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| now.updated_at.clone());
    Error::Conflict(format!(
        "program '{}' was changed by {by} at {at} — {RELOAD_HINT}",
        now.code
    ))
}

/// Refuses a change decided on another version than `p`'s. `None`: the caller saw no version
/// (a one-shot command), so the version just read is the one the change is decided on.
fn ensure_version(p: &Program, expected: Option<i64>) -> Result<(), Error> {
    match expected {
        Some(v) if v != p.version => Err(changed_since(p)),
        _ => Ok(()),
    }
}

/// The stamp of a change of `p` as read in this transaction, by `who`.
fn stamp<'a>(p: &Program, who: &'a access::Resolved) -> ProgramStamp<'a> {
    ProgramStamp {
        id: p.id,
        version: p.version,
        by: &who.label,
    }
}

/// Checks what a conditional store change answered: `0` rows means the program moved on since
/// this transaction read it (another workstation's change committed in between: PostgreSQL
/// reads committed data per statement) or the database kept it out of this session's reach.
fn ensure_written(tx: &dyn Tables, before: &Program, rows: usize) -> Result<(), Error> {
    if rows > 0 {
        return Ok(());
    }
    match tx.program_by_code(&before.code)? {
        None => Err(Error::NotFound {
            what: "program",
            key: before.code.clone(),
        }),
        Some(now) if now.version != before.version => Err(changed_since(&now)),
        Some(_) => Err(Error::Denied(format!(
            "the store did not let this session change program '{}'",
            before.code
        ))),
    }
}

/// The audit snapshot of a program (also used by `demo`, so both record the same shape).
pub(crate) fn snapshot(p: &Program) -> serde_json::Value {
    json!({
        "code": p.code, "name": p.name, "description": p.description,
        "archived": p.archived, "enabled_modes": p.enabled_modes,
    })
}

/// Creates a program with the default meeting modes, audited, in one transaction.
/// Needs [`Action::ProgramCreate`].
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label))]
pub fn add(store: &mut Store, actor: &Actor, input: NewProgram) -> Result<ProgramView, Error> {
    let name = validate_name(&input.name)?;
    let code = match input.code.as_deref() {
        Some(c) => validate_code(c)?,
        None => code_from_name(&name).ok_or_else(|| {
            Error::invalid(
                "code",
                "cannot derive a code from this name; give one with --code (a-z, 0-9, '-', '_')",
            )
        })?,
    };
    let description = validate_description(input.description.as_deref())?;
    let modes: Vec<(&str, bool)> = MeetingMode::ALL
        .iter()
        .map(|m| (m.as_str(), m.default_enabled()))
        .collect();
    store.write(|tx| {
        let who = access::require(tx, actor, Action::ProgramCreate, None)?;
        if let Some(p) = tx.program_by_code(&code)? {
            return Err(Error::Conflict(format!(
                "a program with code '{}' already exists ({})",
                p.code, p.name
            )));
        }
        if let Some(p) = tx.program_by_name(&name)? {
            return Err(Error::Conflict(format!(
                "a program named '{}' already exists (code '{}')",
                p.name, p.code
            )));
        }
        tx.program_insert(&code, &name, &description, &modes)?;
        let program = load(tx, &code)?;
        who.audit(
            tx,
            AuditEntry {
                action: "program.create",
                target: &format!("program:{code}"),
                program_code: Some(&code),
                after: Some(snapshot(&program)),
                ..Default::default()
            },
        )?;
        view(tx, program)
    })
}

/// Renames a program and/or changes its description. Needs [`Action::ProgramEdit`] on it;
/// refused on an archived program, and when `expected_version` (the version its author saw) is
/// no longer the program's (see [`changed_since`]). A change to nothing writes nothing.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = %code))]
pub fn edit(
    store: &mut Store,
    actor: &Actor,
    code: &str,
    changes: ProgramChanges,
    expected_version: Option<i64>,
) -> Result<ProgramView, Error> {
    let name = changes.name.as_deref().map(validate_name).transpose()?;
    let description = changes
        .description
        .as_deref()
        .map(|d| validate_description(Some(d)))
        .transpose()?;
    store.write(|tx| {
        let before = load(tx, code)?;
        let who = access::require(tx, actor, Action::ProgramEdit, Some(&before.code))?;
        ensure_version(&before, expected_version)?;
        ensure_active(&before)?;
        let name = name.unwrap_or_else(|| before.name.clone());
        let description = description.unwrap_or_else(|| before.description.clone());
        if name == before.name && description == before.description {
            return view(tx, before);
        }
        if let Some(other) = tx.program_by_name(&name)?.filter(|o| o.id != before.id) {
            return Err(Error::Conflict(format!(
                "a program named '{}' already exists (code '{}')",
                other.name, other.code
            )));
        }
        let rows = tx.program_update_details(stamp(&before, &who), &name, &description)?;
        ensure_written(tx, &before, rows)?;
        let after = load(tx, &before.code)?;
        who.audit(
            tx,
            AuditEntry {
                action: "program.edit",
                target: &format!("program:{}", before.code),
                program_code: Some(&before.code),
                before: Some(json!({"name": before.name, "description": before.description})),
                after: Some(json!({"name": after.name, "description": after.description})),
                ..Default::default()
            },
        )?;
        view(tx, after)
    })
}

/// Archives (`true`) or unarchives (`false`) a program. Needs [`Action::ProgramArchive`].
/// Archived programs keep everything but refuse changes. Already in that state: no change.
/// Refused when `expected_version` is no longer the program's (see [`edit`]).
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = %code, archived))]
pub fn set_archived(
    store: &mut Store,
    actor: &Actor,
    code: &str,
    archived: bool,
    expected_version: Option<i64>,
) -> Result<ProgramView, Error> {
    store.write(|tx| {
        let before = load(tx, code)?;
        let who = access::require(tx, actor, Action::ProgramArchive, Some(&before.code))?;
        ensure_version(&before, expected_version)?;
        if before.archived == archived {
            return view(tx, before);
        }
        let rows = tx.program_set_archived(stamp(&before, &who), archived)?;
        ensure_written(tx, &before, rows)?;
        let after = load(tx, &before.code)?;
        who.audit(
            tx,
            AuditEntry {
                action: if archived {
                    "program.archive"
                } else {
                    "program.unarchive"
                },
                target: &format!("program:{}", before.code),
                program_code: Some(&before.code),
                before: Some(json!({"archived": before.archived})),
                after: Some(json!({"archived": after.archived})),
                ..Default::default()
            },
        )?;
        view(tx, after)
    })
}

/// Enables or disables a meeting mode of a program. Needs [`Action::ModeToggle`]; refused on an
/// archived program. Enabling Teams video is refused, with the reason, unless
/// [`teams_availability`] says it is available; disabling is always allowed. Already in that
/// state: no change. Refused when `expected_version` is no longer the program's (see [`edit`]).
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = %code, enabled))]
pub fn set_mode(
    store: &mut Store,
    actor: &Actor,
    code: &str,
    mode: MeetingMode,
    enabled: bool,
    expected_version: Option<i64>,
) -> Result<ProgramView, Error> {
    store.write(|tx| {
        let before = load(tx, code)?;
        let who = access::require(tx, actor, Action::ModeToggle, Some(&before.code))?;
        ensure_version(&before, expected_version)?;
        ensure_active(&before)?;
        let was = before.enabled_modes.iter().any(|m| m == mode.as_str());
        if enabled && mode == MeetingMode::TeamsVideo {
            let teams = teams_availability(tx)?;
            if !teams.available {
                return Err(Error::Conflict(format!(
                    "cannot enable Teams video calls for program '{}': {}",
                    before.code,
                    teams.reason.unwrap_or_default()
                )));
            }
        }
        if was == enabled {
            return view(tx, before);
        }
        let rows = tx.program_set_mode(stamp(&before, &who), mode.as_str(), enabled)?;
        ensure_written(tx, &before, rows)?;
        let after = load(tx, &before.code)?;
        who.audit(
            tx,
            AuditEntry {
                action: if enabled {
                    "program.mode_enable"
                } else {
                    "program.mode_disable"
                },
                target: &format!("program:{}/mode:{}", before.code, mode.as_str()),
                program_code: Some(&before.code),
                before: Some(json!({"mode": mode.as_str(), "enabled": was})),
                after: Some(json!({"mode": mode.as_str(), "enabled": enabled})),
                ..Default::default()
            },
        )?;
        view(tx, after)
    })
}

/// Lists the first page of programs the actor may view (see [`list_page`]).
pub fn list(store: &Store, actor: &Actor, query: &ListQuery) -> Result<Vec<ProgramView>, Error> {
    Ok(list_page(store, actor, query)?.items)
}

/// One page of the programs the actor may view (every program for a global admin or support,
/// their own for a track admin or coordinator), with search; `query.after` continues from the
/// previous page's `next_cursor`.
pub fn list_page(
    store: &Store,
    actor: &Actor,
    query: &ListQuery,
) -> Result<Page<ProgramView>, Error> {
    let conn = store.tables();
    let who = access::resolve(conn, actor)?;
    let mut q = query.clone();
    if !access::decide(&who.subject, Action::ViewProgram, None).is_allowed() {
        let own: Vec<String> = match &who.subject {
            access::Subject::Operator { grants } => grants
                .iter()
                .filter_map(|g| g.program.clone())
                .filter(|p| access::decide(&who.subject, Action::ViewProgram, Some(p)).is_allowed())
                .collect(),
            access::Subject::Setup => Vec::new(),
        };
        q.only_codes = Some(match q.only_codes.take() {
            Some(asked) => asked
                .into_iter()
                .filter(|c| own.iter().any(|o| o.eq_ignore_ascii_case(c)))
                .collect(),
            None => own,
        });
    }
    let rows = conn.programs_page(&q)?;
    let teams = teams_availability(conn)?;
    Ok(rows.map(|program| ProgramView {
        modes: mode_states(&program, &teams),
        program,
    }))
}

/// Shows one program by code. Needs [`Action::ViewProgram`] on it.
pub fn show(store: &Store, actor: &Actor, code: &str) -> Result<ProgramView, Error> {
    let conn = store.tables();
    let program = load(conn, code)?;
    access::require(conn, actor, Action::ViewProgram, Some(&program.code))?;
    view(conn, program)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn add_named(store: &mut Store, name: &str, code: Option<&str>) -> Result<ProgramView, Error> {
        add(
            store,
            &Actor::operator("t@x"),
            NewProgram {
                name: name.into(),
                code: code.map(Into::into),
                description: None,
            },
        )
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            validate_name("  Eng  ").expect("valid"),
            "Eng",
            "surrounding spaces are dropped"
        );
        assert!(
            validate_name("   ").is_err(),
            "a blank name must be refused"
        );
        assert!(
            validate_name(&"x".repeat(121)).is_err(),
            "121 characters is over the limit"
        );
        assert!(
            validate_name(&"é".repeat(120)).is_ok(),
            "the limit counts characters, not bytes"
        );
        let e = validate_name("a\u{7}b").expect_err("bell is a control character");
        assert!(
            e.to_string().contains("position 2"),
            "the error must locate the character: {e}"
        );
    }

    #[test]
    fn codes_are_restricted_and_folded() {
        assert_eq!(
            validate_code("ENG-1").expect("valid"),
            "eng-1",
            "codes fold to lower case"
        );
        let e = validate_code("eng mentoring").expect_err("space not allowed");
        assert!(
            e.to_string().contains("position 4"),
            "the error must locate the bad character: {e}"
        );
        assert!(
            validate_code("-eng").is_err(),
            "a code must start with a letter or digit"
        );
        assert_eq!(
            code_from_name("Engineering Mentoring 2027!"),
            Some("engineering-mentoring-2027".into())
        );
        assert_eq!(
            code_from_name("Ünïcødé"),
            Some("n-c-d".into()),
            "non-ASCII letters are dropped"
        );
        assert_eq!(
            code_from_name("日本"),
            None,
            "no ASCII at all gives no code"
        );
    }

    #[test]
    fn add_writes_program_modes_and_one_audit_row() {
        let mut store = Store::open_in_memory().expect("store");
        let p = add_named(&mut store, "Engineering Mentoring", Some("eng")).expect("add");
        assert_eq!(p.code, "eng");
        assert_eq!(
            p.enabled_modes,
            vec!["in_person", "phone"],
            "Teams starts disabled until a track admin enables it"
        );
        let audit = store
            .tables()
            .audit_list(&Default::default())
            .expect("audit");
        assert_eq!(
            audit.len(),
            1,
            "creating a program writes exactly one audit row"
        );
        assert_eq!(audit[0].action, "program.create");
        assert_eq!(audit[0].program_code.as_deref(), Some("eng"));
    }

    #[test]
    fn duplicates_are_refused_and_nothing_is_half_written() {
        let mut store = Store::open_in_memory().expect("store");
        add_named(&mut store, "Engineering Mentoring", Some("eng")).expect("add");
        let e = add_named(&mut store, "Other", Some("ENG")).expect_err("duplicate code");
        assert_eq!(
            e.code(),
            ErrorCode::Conflict,
            "a duplicate code is a conflict: {e}"
        );
        let e = add_named(&mut store, "engineering mentoring", Some("eng2"))
            .expect_err("duplicate name");
        assert_eq!(
            e.code(),
            ErrorCode::Conflict,
            "names are unique case-insensitively: {e}"
        );
        assert_eq!(
            list(&store, &Actor::local(), &Default::default())
                .expect("list")
                .len(),
            1,
            "refused adds leave nothing behind"
        );
        let audit = store
            .tables()
            .audit_list(&Default::default())
            .expect("audit");
        assert_eq!(audit.len(), 1, "refused adds write no audit row");
    }

    #[test]
    fn show_unknown_code_is_not_found() {
        let store = Store::open_in_memory().expect("store");
        let e = show(&store, &Actor::local(), "nope").expect_err("missing");
        assert_eq!(e.code(), ErrorCode::NotFound);
        assert_eq!(e.to_string(), "program 'nope' does not exist");
    }

    fn set_integration(store: &Store, state: &str, cloud: &str) {
        store
            .conn()
            .execute(
                "INSERT INTO integration (id, cloud, authority_base, graph_base, tenant_id, client_id,
                 host_object_id, host_upn, granted_scopes, state, connected_at)
                 VALUES (1, ?2, 'a', 'g', 't', 'c', 'oid', 'host@x.com', 's', ?1, 'now')
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state, cloud = excluded.cloud",
                [state, cloud],
            )
            .expect("integration row");
    }

    fn teams(view: &ProgramView) -> &ModeState {
        view.modes
            .iter()
            .find(|m| m.mode == MeetingMode::TeamsVideo)
            .expect("teams_video is always listed")
    }

    #[test]
    fn teams_availability_follows_the_integration_row() {
        let store = Store::open_in_memory().expect("store");
        let a = teams_availability(store.conn()).expect("read");
        assert_eq!(
            a.reason.as_deref(),
            Some(REASON_NOT_CONNECTED),
            "no row means not connected"
        );
        set_integration(&store, "connected", "global");
        assert!(
            teams_availability(store.conn()).expect("read").available,
            "connected in the global cloud offers Teams"
        );
        set_integration(&store, "removed", "global");
        assert_eq!(
            teams_availability(store.conn())
                .expect("read")
                .reason
                .as_deref(),
            Some(REASON_REMOVED)
        );
        set_integration(&store, "connected", "china");
        assert_eq!(
            teams_availability(store.conn())
                .expect("read")
                .reason
                .as_deref(),
            Some(REASON_CLOUD),
            "the China cloud offers no online meetings"
        );
        set_integration(&store, "needs_attention", "global");
        let a = teams_availability(store.conn()).expect("read");
        assert!(
            !a.available
                && a.reason
                    .as_deref()
                    .unwrap_or("")
                    .contains("needs attention"),
            "an integration needing attention cannot create meetings: {a:?}"
        );
    }

    #[test]
    fn removing_the_integration_keeps_the_teams_choice_and_reconnecting_restores_it() {
        let mut store = Store::open_in_memory().expect("store");
        add_named(&mut store, "Eng", Some("eng")).expect("add");
        let me = Actor::local();
        let e = set_mode(&mut store, &me, "eng", MeetingMode::TeamsVideo, true, None)
            .expect_err("not connected");
        assert!(
            e.to_string().contains(REASON_NOT_CONNECTED),
            "refused with the reason: {e}"
        );
        set_integration(&store, "connected", "global");
        let v =
            set_mode(&mut store, &me, "eng", MeetingMode::TeamsVideo, true, None).expect("enable");
        assert_eq!(teams(&v).status, ModeStatus::Enabled);
        set_integration(&store, "removed", "global");
        let v = show(&store, &me, "eng").expect("show");
        assert_eq!(
            (
                teams(&v).chosen,
                teams(&v).status,
                teams(&v).reason.as_deref()
            ),
            (true, ModeStatus::Unavailable, Some(REASON_REMOVED)),
            "after removal the choice is kept and shown unavailable"
        );
        let e = set_mode(&mut store, &me, "eng", MeetingMode::TeamsVideo, true, None)
            .expect_err("removed");
        assert!(e.to_string().contains(REASON_REMOVED), "{e}");
        set_mode(&mut store, &me, "eng", MeetingMode::Phone, false, None)
            .expect("other modes still change while Teams is unavailable");
        set_integration(&store, "connected", "global");
        let v = show(&store, &me, "eng").expect("show");
        assert_eq!(
            teams(&v).status,
            ModeStatus::Enabled,
            "reconnecting restores the program's Teams choice"
        );
        let v =
            set_mode(&mut store, &me, "eng", MeetingMode::TeamsVideo, false, None).expect("off");
        assert_eq!(teams(&v).status, ModeStatus::Disabled);
    }

    #[test]
    fn rename_archive_and_paging() {
        let mut store = Store::open_in_memory().expect("store");
        let me = Actor::local();
        for (n, c) in [("Alpha", "a"), ("Beta", "b"), ("Gamma", "g")] {
            add_named(&mut store, n, Some(c)).expect("add");
        }
        let e = edit(
            &mut store,
            &me,
            "a",
            ProgramChanges {
                name: Some("beta".into()),
                description: None,
            },
            None,
        )
        .expect_err("name taken");
        assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
        let v = edit(
            &mut store,
            &me,
            "a",
            ProgramChanges {
                name: Some("Alef".into()),
                description: Some("d".into()),
            },
            None,
        )
        .expect("rename");
        assert_eq!((v.name.as_str(), v.description.as_str()), ("Alef", "d"));
        set_archived(&mut store, &me, "b", true, None).expect("archive");
        let e =
            set_mode(&mut store, &me, "b", MeetingMode::Phone, false, None).expect_err("archived");
        assert_eq!(
            e.code(),
            ErrorCode::Conflict,
            "archived programs refuse mode changes: {e}"
        );
        let active = list(&store, &me, &Default::default()).expect("list");
        assert_eq!(active.len(), 2, "archived programs are hidden by default");
        let page = list(
            &store,
            &me,
            &ListQuery {
                include_archived: true,
                limit: 2,
                after: list_page(
                    &store,
                    &me,
                    &ListQuery {
                        include_archived: true,
                        limit: 2,
                        ..Default::default()
                    },
                )
                .expect("page 1")
                .next_cursor,
                ..Default::default()
            },
        )
        .expect("page 2");
        assert_eq!(
            page.len(),
            1,
            "the second page of two holds the third program"
        );
        assert_eq!(page[0].code, "b", "archived programs sort last");
        let e = edit(&mut store, &me, "zz", ProgramChanges::default(), None).expect_err("unknown");
        assert_eq!(e.code(), ErrorCode::NotFound);
    }

    #[test]
    fn a_refusal_of_a_stale_change_names_who_and_when_to_the_minute() {
        let mut store = Store::open_in_memory().expect("store");
        let p = add_named(&mut store, "Eng", Some("eng")).expect("add");
        let now = Program {
            updated_by: Some("ana@x.example".into()),
            updated_at: "2026-12-04T18:20:59Z".into(),
            ..p.program.clone()
        };
        assert_eq!(
            changed_since(&now).to_string(),
            "program 'eng' was changed by ana@x.example at 2026-12-04 18:20 UTC — reload and try again"
        );
        let unknown = Program {
            updated_by: None,
            updated_at: "not a time".into(),
            ..now
        };
        assert_eq!(
            changed_since(&unknown).to_string(),
            "program 'eng' was changed by another operator at not a time — reload and try again",
            "a row from before versions (no updater) and an odd time still make a sentence"
        );
    }

    #[test]
    fn a_change_on_an_older_version_is_refused_and_writes_nothing() {
        let mut store = Store::open_in_memory().expect("store");
        let me = Actor::local();
        let v1 = add_named(&mut store, "Eng", Some("eng")).expect("add");
        assert_eq!(v1.version, 1, "a new program is at version 1");
        let v2 = set_mode(&mut store, &me, "eng", MeetingMode::Phone, false, Some(1))
            .expect("on the current version");
        assert_eq!(
            (v2.version, v2.updated_by.as_deref()),
            (2, Some(me.label.as_str())),
            "a change bumps the version and records who made it"
        );
        let audit = |s: &Store| {
            s.tables()
                .audit_list(&Default::default())
                .expect("audit")
                .len()
        };
        let rows = audit(&store);
        let stale = [
            edit(
                &mut store,
                &me,
                "eng",
                ProgramChanges {
                    name: Some("Other".into()),
                    description: None,
                },
                Some(1),
            ),
            set_archived(&mut store, &me, "eng", true, Some(1)),
            set_mode(&mut store, &me, "eng", MeetingMode::Phone, false, Some(1)),
            set_mode(&mut store, &me, "eng", MeetingMode::Phone, true, Some(3)),
        ];
        for r in stale {
            let e = r.expect_err("stale");
            assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
            assert!(e.to_string().ends_with(RELOAD_HINT), "says what to do: {e}");
        }
        let now = show(&store, &me, "eng").expect("show");
        assert_eq!(
            (now.name.as_str(), now.archived, now.version),
            ("Eng", false, 2),
            "refused changes leave the program as it was"
        );
        assert_eq!(audit(&store), rows, "refused changes write no audit row");
        let v = edit(
            &mut store,
            &me,
            "eng",
            ProgramChanges {
                name: Some("Engineering".into()),
                description: None,
            },
            None,
        )
        .expect("no version seen: a one-shot change");
        assert_eq!(v.version, 3, "and it bumps the version too");
    }
}
