//! Programs (tracks): validation and the use cases over `store::programs`. Every change is one
//! transaction that also appends its audit row.

use serde::Serialize;
use serde_json::json;

use crate::actor::Actor;
use crate::error::Error;
use crate::store::audit_log::{self, AuditEntry};
use crate::store::programs as table;
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

    /// Whether a new program starts with this mode enabled. Teams starts off: it needs the
    /// integration, and a track admin turns it on deliberately.
    fn default_enabled(self) -> bool {
        !matches!(self, MeetingMode::TeamsVideo)
    }
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

fn validate_description(raw: Option<&str>) -> Result<String, Error> {
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

/// Creates a program with the default meeting modes, audited, in one transaction.
pub fn add(store: &mut Store, actor: &Actor, input: NewProgram) -> Result<Program, Error> {
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
        if let Some(p) = table::by_code(tx, &code)? {
            return Err(Error::Conflict(format!(
                "a program with code '{}' already exists ({})",
                p.code, p.name
            )));
        }
        if let Some(p) = table::by_name(tx, &name)? {
            return Err(Error::Conflict(format!(
                "a program named '{}' already exists (code '{}')",
                p.name, p.code
            )));
        }
        table::insert(tx, &code, &name, &description, &modes)?;
        let program = table::by_code(tx, &code)?.ok_or_else(|| Error::NotFound {
            what: "program",
            key: code.clone(),
        })?;
        audit_log::append(
            tx,
            &AuditEntry {
                operator: &actor.label,
                action: "program.create",
                target: &format!("program:{code}"),
                program_code: Some(&code),
                after: Some(json!({
                    "code": program.code, "name": program.name,
                    "description": program.description, "enabled_modes": program.enabled_modes,
                })),
                ..Default::default()
            },
        )?;
        Ok(program)
    })
}

/// Lists programs.
pub fn list(store: &Store, query: &ListQuery) -> Result<Vec<Program>, Error> {
    table::list(store.conn(), query).map_err(|e| store.err(e).into())
}

/// Shows one program by code.
pub fn show(store: &Store, code: &str) -> Result<Program, Error> {
    let code = code.trim().to_ascii_lowercase();
    table::by_code(store.conn(), &code)
        .map_err(|e| Error::from(store.err(e)))?
        .ok_or(Error::NotFound {
            what: "program",
            key: code,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn add_named(store: &mut Store, name: &str, code: Option<&str>) -> Result<Program, Error> {
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
        let audit = audit_log::list(store.conn(), &Default::default()).expect("audit");
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
            list(&store, &Default::default()).expect("list").len(),
            1,
            "refused adds leave nothing behind"
        );
        let audit = audit_log::list(store.conn(), &Default::default()).expect("audit");
        assert_eq!(audit.len(), 1, "refused adds write no audit row");
    }

    #[test]
    fn show_unknown_code_is_not_found() {
        let store = Store::open_in_memory().expect("store");
        let e = show(&store, "nope").expect_err("missing");
        assert_eq!(e.code(), ErrorCode::NotFound);
        assert_eq!(e.to_string(), "program 'nope' does not exist");
    }
}
