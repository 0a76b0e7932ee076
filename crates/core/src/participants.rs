//! Participants of a program: email validation, CSV parsing (pure) and the use cases over
//! `store::participants`.
//!
//! Adding, removing and importing need [`Action::ParticipantsEdit`] on the program and are
//! refused on an archived program. An import is all or nothing: if any row is bad, nothing is
//! written and every bad row is reported with its line number. A successful import writes ONE
//! audit row (`participants.import`) with the file name and counts, not one per participant, so
//! the trail stays readable; single adds and removes write one row each.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;

use crate::access::{self, Action};
use crate::actor::Actor;
use crate::error::{Error, LineProblem};
use crate::programs::{ensure_active, load};
use crate::store::audit_log::AuditEntry;
use crate::store::page::Page;
use crate::store::Store;

pub use crate::store::participants::ParticipantRow as Participant;

/// Longest display name accepted, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;
/// Longest email address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The header row a participants CSV must have (either order; `name` and `display name` are
/// accepted for the second column).
pub const CSV_HEADER: &str = "email,display_name";

/// Checks an email address the way a person would expect: one `@`, a non-empty local part, a
/// domain with a dot made of letters, digits and hyphens, no spaces. Returns it trimmed.
pub fn validate_email(raw: &str) -> Result<String, String> {
    let email = raw.trim();
    if email.is_empty() {
        return Err("the email is empty".into());
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(format!(
            "'{email}' is longer than {MAX_EMAIL_CHARS} characters"
        ));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "'{email}' is not a valid email address (it contains a space or control character)"
        ));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(format!("'{email}' is not a valid email address (no '@')"));
    };
    if domain.contains('@') {
        return Err(format!(
            "'{email}' is not a valid email address (more than one '@')"
        ));
    }
    if local.is_empty() || local.len() > 64 {
        return Err(format!(
            "'{email}' is not a valid email address (the part before '@' must be 1 to 64 characters)"
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(format!(
            "'{email}' is not a valid email address (the domain '{domain}' is not like example.com)"
        ));
    }
    Ok(email.to_string())
}

/// Checks a display name: trimmed, at most [`MAX_DISPLAY_NAME_CHARS`], no control characters.
/// Empty is allowed (the directory's name is used).
pub fn validate_display_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    let n = name.chars().count();
    if n > MAX_DISPLAY_NAME_CHARS {
        return Err(format!(
            "the display name is {n} characters long; at most {MAX_DISPLAY_NAME_CHARS} are allowed"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the display name contains a control character".into());
    }
    Ok(name.to_string())
}

/// One valid row of a participants CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CsvParticipant {
    /// 1-based line of the row in the file.
    pub line: u64,
    /// Validated email.
    pub email: String,
    /// Validated display name (may be empty).
    pub display_name: String,
}

fn problem(line: u64, message: impl Into<String>) -> LineProblem {
    LineProblem {
        line,
        message: message.into(),
    }
}

/// Parses and validates a participants CSV: UTF-8 with or without BOM, LF or CRLF, a header row
/// naming `email` and `display_name`. Returns every row, or every problem (with line numbers).
/// Pure: no I/O.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<CsvParticipant>, Vec<LineProblem>> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(vec![problem(
            0,
            "the file is UTF-16 text; save it as CSV UTF-8 and try again",
        )]);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() as u64 + 1;
        return Err(vec![problem(
            line,
            format!(
                "not UTF-8 text (byte 0x{:02X}); save the file as CSV UTF-8 and try again",
                bytes[at]
            ),
        )]);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    // Line numbers are counted from the byte offset: csv's own line counter drifts on CRLF,
    // and a record's offset may point at the line break (or blank lines) before it.
    let line_at = |byte: u64| {
        let mut end = (byte as usize).min(bytes.len());
        while end < bytes.len() && matches!(bytes[end], b'\r' | b'\n') {
            end += 1;
        }
        bytes[..end].iter().filter(|b| **b == b'\n').count() as u64 + 1
    };
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mut columns: Option<(usize, usize)> = None;
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| line_at(p.byte())).unwrap_or(0);
                problems.push(problem(line, format!("unreadable CSV: {e}")));
                continue;
            }
        };
        let line = record.position().map(|p| line_at(p.byte())).unwrap_or(0);
        let Some((email_col, name_col)) = columns else {
            match header_columns(&record) {
                Some(cols) => {
                    columns = Some(cols);
                    continue;
                }
                None => {
                    let found: Vec<&str> = record.iter().collect();
                    return Err(vec![problem(
                        line,
                        format!(
                            "wrong headers: expected '{CSV_HEADER}', found '{}'",
                            found.join(",")
                        ),
                    )]);
                }
            }
        };
        if record.iter().all(str::is_empty) {
            problems.push(problem(line, "empty row"));
            continue;
        }
        if record.len() != 2 {
            problems.push(problem(
                line,
                format!(
                    "expected 2 fields (email, display name), found {}",
                    record.len()
                ),
            ));
            continue;
        }
        // A cell our own CSV export neutralised ('=…, '-…) reads back as the original value.
        let cell = |i: usize| crate::batch::csv::restore_cell(record.get(i).unwrap_or(""));
        let email = match validate_email(cell(email_col)) {
            Ok(e) => e,
            Err(why) => {
                problems.push(problem(line, why));
                continue;
            }
        };
        let display_name = match validate_display_name(cell(name_col)) {
            Ok(n) => n,
            Err(why) => {
                problems.push(problem(line, why));
                continue;
            }
        };
        if let Some(first) = seen.get(&email.to_lowercase()) {
            problems.push(problem(
                line,
                format!("duplicate: {email} is already on line {first}"),
            ));
            continue;
        }
        seen.insert(email.to_lowercase(), line);
        rows.push(CsvParticipant {
            line,
            email,
            display_name,
        });
    }
    if columns.is_none() && problems.is_empty() {
        problems.push(problem(
            0,
            format!("the file is empty; expected a header row '{CSV_HEADER}'"),
        ));
    } else if rows.is_empty() && problems.is_empty() {
        problems.push(problem(0, "the file has a header row but no participants"));
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// Positions of the email and display-name columns, when the record is a valid header row.
fn header_columns(record: &csv::StringRecord) -> Option<(usize, usize)> {
    if record.len() != 2 {
        return None;
    }
    let norm = |s: &str| s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    let is_email = |s: &str| matches!(norm(s).as_str(), "email" | "e_mail" | "email_address");
    let is_name = |s: &str| matches!(norm(s).as_str(), "display_name" | "displayname" | "name");
    match (record.get(0)?, record.get(1)?) {
        (a, b) if is_email(a) && is_name(b) => Some((0, 1)),
        (a, b) if is_name(a) && is_email(b) => Some((1, 0)),
        _ => None,
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The program's code.
    pub program: String,
    /// The file name as given.
    pub file: String,
    /// Participant rows in the file.
    pub rows: usize,
    /// Rows added.
    pub added: usize,
    /// Rows whose email was already a participant (left as they were).
    pub already_present: usize,
}

/// Adds one participant. Needs [`Action::ParticipantsEdit`]; refused on an archived program or
/// when the email is already a participant.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = %program))]
pub fn add(
    store: &mut Store,
    actor: &Actor,
    program: &str,
    email: &str,
    display_name: &str,
) -> Result<Participant, Error> {
    let email = validate_email(email).map_err(|r| Error::invalid("email", r))?;
    let display_name =
        validate_display_name(display_name).map_err(|r| Error::invalid("display_name", r))?;
    store.write(|tx| {
        let p = load(tx, program)?;
        let who = access::require(tx, actor, Action::ParticipantsEdit, Some(&p.code))?;
        ensure_active(&p)?;
        if let Some(existing) = tx.participant_by_email(p.id, &email)? {
            return Err(Error::Conflict(format!(
                "{} is already a participant of program '{}'",
                existing.email, p.code
            )));
        }
        tx.participant_insert(p.id, &email, &display_name)?;
        let row = tx
            .participant_by_email(p.id, &email)?
            .ok_or_else(|| Error::NotFound {
                what: "participant",
                key: email.clone(),
            })?;
        who.audit(
            tx,
            AuditEntry {
                action: "participant.add",
                target: &format!("participant:{}/{}", p.code, row.email),
                program_code: Some(&p.code),
                after: Some(json!({"email": row.email, "display_name": row.display_name})),
                ..Default::default()
            },
        )?;
        Ok(row)
    })
}

/// Removes one participant. Needs [`Action::ParticipantsEdit`]; refused on an archived program;
/// `NotFound` when the email is not a participant.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = %program))]
pub fn remove(store: &mut Store, actor: &Actor, program: &str, email: &str) -> Result<(), Error> {
    let email = email.trim().to_string();
    store.write(|tx| {
        let p = load(tx, program)?;
        let who = access::require(tx, actor, Action::ParticipantsEdit, Some(&p.code))?;
        ensure_active(&p)?;
        let row = tx
            .participant_by_email(p.id, &email)?
            .ok_or_else(|| Error::NotFound {
                what: "participant",
                key: format!("{email}' in program '{}", p.code),
            })?;
        tx.participant_delete(p.id, &row.email)?;
        who.audit(
            tx,
            AuditEntry {
                action: "participant.remove",
                target: &format!("participant:{}/{}", p.code, row.email),
                program_code: Some(&p.code),
                before: Some(json!({"email": row.email, "display_name": row.display_name})),
                ..Default::default()
            },
        )?;
        Ok(())
    })
}

/// Lists the participants of a program. Needs [`Action::ViewProgram`] on it.
pub fn list(store: &Store, actor: &Actor, program: &str) -> Result<Vec<Participant>, Error> {
    let conn = store.tables();
    let p = load(conn, program)?;
    access::require(conn, actor, Action::ViewProgram, Some(&p.code))?;
    Ok(conn.participants(p.id)?)
}

/// One page of the participants of a program, by email; `after` is the previous page's
/// `next_cursor`. Needs [`Action::ViewProgram`] on it.
pub fn list_page(
    store: &Store,
    actor: &Actor,
    program: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<Participant>, Error> {
    let conn = store.tables();
    let p = load(conn, program)?;
    access::require(conn, actor, Action::ViewProgram, Some(&p.code))?;
    Ok(conn.participants_page(p.id, after, limit)?)
}

/// Imports participants from CSV bytes (see [`parse_csv`]), all or nothing, with one audit row.
/// `file` is only for messages and the audit row. Emails already in the program are left alone
/// and counted, so re-running an import is harmless.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = %program, file = %file))]
pub fn import_csv(
    store: &mut Store,
    actor: &Actor,
    program: &str,
    file: &str,
    bytes: &[u8],
) -> Result<ImportReport, Error> {
    let parsed = parse_csv(bytes);
    store.write(|tx| {
        let p = load(tx, program)?;
        let who = access::require(tx, actor, Action::ParticipantsEdit, Some(&p.code))?;
        ensure_active(&p)?;
        let rows = parsed.map_err(|problems| Error::BadFile {
            file: file.to_string(),
            problems,
        })?;
        let mut added = 0;
        for row in &rows {
            if tx.participant_by_email(p.id, &row.email)?.is_none() {
                tx.participant_insert(p.id, &row.email, &row.display_name)?;
                added += 1;
            }
        }
        let report = ImportReport {
            program: p.code.clone(),
            file: file.to_string(),
            rows: rows.len(),
            added,
            already_present: rows.len() - added,
        };
        who.audit(
            tx,
            AuditEntry {
                action: "participants.import",
                target: &format!("program:{}", p.code),
                program_code: Some(&p.code),
                after: Some(json!({
                    "file": report.file, "rows": report.rows,
                    "added": report.added, "already_present": report.already_present,
                })),
                ..Default::default()
            },
        )?;
        Ok(report)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::programs::{self, NewProgram};

    fn lines(r: Result<Vec<CsvParticipant>, Vec<LineProblem>>) -> Vec<(u64, String)> {
        r.expect_err("expected problems")
            .into_iter()
            .map(|p| (p.line, p.message))
            .collect()
    }

    #[test]
    fn emails_are_checked_like_a_person_would() {
        assert_eq!(
            validate_email(" a.b@example.com ").expect("valid"),
            "a.b@example.com"
        );
        for bad in [
            "",
            "ab",
            "a@b",
            "a@@b.com",
            "a b@x.com",
            "@x.com",
            "a@-x.com",
            "a@x..com",
        ] {
            assert!(validate_email(bad).is_err(), "'{bad}' must be refused");
        }
    }

    #[test]
    fn crlf_and_blank_lines_do_not_shift_reported_line_numbers() {
        let rows = parse_csv(
            b"\xEF\xBB\xBFemail,display_name\r\na@x.com,Ann\r\n\r\n\"b@x.com\",\"Bo, Jr\"\r\n",
        )
        .expect("valid file");
        assert_eq!(
            rows.len(),
            2,
            "two participant rows; the blank line is skipped"
        );
        assert_eq!(rows[0].line, 2, "the first data row is line 2");
        assert_eq!(
            rows[1].line, 4,
            "line numbers stay right after CRLF and a blank line"
        );
        assert_eq!(
            rows[1].display_name, "Bo, Jr",
            "quoted commas belong to the field"
        );
    }

    #[test]
    fn csv_headers_in_either_order_and_common_spellings() {
        let rows = parse_csv(b"Display Name,E-mail\nAnn,a@x.com\n").expect("valid");
        assert_eq!(
            rows[0].email, "a@x.com",
            "columns are found by header, not position"
        );
    }

    #[test]
    fn a_display_name_neutralised_by_a_csv_export_imports_unchanged() {
        let rows = parse_csv(b"email,display_name\na@x.com,'-Ann\nb@x.com,'Bob\n").expect("valid");
        assert_eq!(
            rows[0].display_name, "-Ann",
            "the quote an export put before '-' is stripped (OWASP rule, docs/BATCH-CSV.md)"
        );
        assert_eq!(
            rows[1].display_name, "'Bob",
            "a quote before plain text is the user's own and stays"
        );
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let got = lines(parse_csv(
            b"email,display_name\na@x.com,Ann\nnot-an-email,Bob\n,\nA@X.com,Ann again\nc@x.com,C,extra\n",
        ));
        assert_eq!(got.len(), 4, "four bad rows: {got:?}");
        assert_eq!(got[0].0, 3, "bad email on line 3: {got:?}");
        assert!(got[0].1.contains("not-an-email"), "names the bad value");
        assert_eq!(
            got[1],
            (4, "empty row".to_string()),
            "an empty row is reported"
        );
        assert_eq!(got[2].0, 5, "duplicate on line 5");
        assert!(
            got[2].1.contains("line 2"),
            "a duplicate points at the first occurrence: {}",
            got[2].1
        );
        assert!(
            got[3].1.contains("found 3"),
            "a wrong field count is reported: {}",
            got[3].1
        );
    }

    #[test]
    fn wrong_headers_encoding_and_empty_files_are_refused() {
        let got = lines(parse_csv(b"mail,who\na@x.com,A\n"));
        assert_eq!(got.len(), 1);
        assert!(
            got[0].0 == 1 && got[0].1.contains("wrong headers"),
            "headers are line 1: {got:?}"
        );
        let got = lines(parse_csv(b"email,display_name\na@x.com,Jos\xE9\n"));
        assert_eq!(got[0].0, 2, "latin-1 byte on line 2: {got:?}");
        assert!(got[0].1.contains("UTF-8"), "says to save as UTF-8");
        let got = lines(parse_csv(b"\xFF\xFEe\0m\0"));
        assert!(got[0].1.contains("UTF-16"), "UTF-16 is named: {got:?}");
        let got = lines(parse_csv(b""));
        assert!(got[0].1.contains("empty"), "an empty file: {got:?}");
        let got = lines(parse_csv(b"email,display_name\r\n"));
        assert!(got[0].1.contains("no participants"), "header only: {got:?}");
    }

    fn store_with_program() -> Store {
        let mut store = Store::open_in_memory().expect("store");
        programs::add(
            &mut store,
            &Actor::local(),
            NewProgram {
                name: "Eng".into(),
                code: Some("eng".into()),
                description: None,
            },
        )
        .expect("program");
        store
    }

    fn audit_count(store: &Store) -> usize {
        store
            .tables()
            .audit_list(&Default::default())
            .expect("audit")
            .len()
    }

    #[test]
    fn import_is_all_or_nothing_and_writes_one_audit_row() {
        let mut store = store_with_program();
        let me = Actor::local();
        let before = audit_count(&store);
        let e = import_csv(
            &mut store,
            &me,
            "eng",
            "p.csv",
            b"email,display_name\na@x.com,A\nbad,B\n",
        )
        .expect_err("one bad row");
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        assert!(
            e.to_string()
                .starts_with("p.csv: nothing was imported; line 3:"),
            "the message names the file and the line: {e}"
        );
        assert!(
            list(&store, &me, "eng").expect("list").is_empty(),
            "a refused import adds nobody"
        );
        assert_eq!(
            audit_count(&store),
            before,
            "a refused import writes no audit row"
        );
        let csv = b"email,display_name\na@x.com,A\nb@x.com,B\n";
        let r = import_csv(&mut store, &me, "eng", "p.csv", csv).expect("import");
        assert_eq!((r.added, r.already_present), (2, 0));
        assert_eq!(
            audit_count(&store),
            before + 1,
            "an import writes exactly one audit row"
        );
        let r = import_csv(&mut store, &me, "eng", "p.csv", csv).expect("re-import");
        assert_eq!(
            (r.added, r.already_present),
            (0, 2),
            "re-importing the same file is harmless"
        );
    }

    #[test]
    fn add_remove_and_archived_programs() {
        let mut store = store_with_program();
        let me = Actor::local();
        add(&mut store, &me, "eng", "a@x.com", "Ann").expect("add");
        let e = add(&mut store, &me, "eng", "A@X.COM", "Ann").expect_err("duplicate");
        assert_eq!(
            e.code(),
            ErrorCode::Conflict,
            "emails are unique per program case-insensitively: {e}"
        );
        let e = add(&mut store, &me, "eng", "nope", "").expect_err("bad email");
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        let e = add(&mut store, &me, "zzz", "b@x.com", "").expect_err("unknown program");
        assert_eq!(e.code(), ErrorCode::NotFound);
        programs::set_archived(&mut store, &me, "eng", true, None).expect("archive");
        let e = remove(&mut store, &me, "eng", "a@x.com").expect_err("archived");
        assert!(
            e.to_string().contains("archived"),
            "archived programs refuse changes: {e}"
        );
        programs::set_archived(&mut store, &me, "eng", false, None).expect("unarchive");
        remove(&mut store, &me, "eng", "A@x.com").expect("remove, any case");
        let e = remove(&mut store, &me, "eng", "a@x.com").expect_err("gone");
        assert_eq!(e.code(), ErrorCode::NotFound);
    }
}
