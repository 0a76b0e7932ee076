//! Row validation, pure: one CSV row plus the facts it is checked against (programs, directory
//! classes of addresses, the clock, the default zone, the DST choice) gives either a ready
//! [`MeetingRow`] or *every* reason it is not, each located by line and column. No I/O: `plan`
//! gathers the facts (store, membership checks in bulk) and calls this for every row.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Utc};

use super::csv::{Column, CsvFile, CsvRow};
use super::{MeetingRow, Problem, ProblemCode};
use crate::tz::{self, DstChoice, TzProblem};
use chrono_tz::Tz;

/// Longest meeting accepted.
pub const MAX_DURATION: Duration = Duration::hours(24);
/// Longest subject accepted, in characters.
pub const MAX_SUBJECT_CHARS: usize = 255;

/// What validation needs to know about a program.
#[derive(Debug, Clone, Default)]
pub struct ProgramFacts {
    /// The code as stored.
    pub code: String,
    /// Archived programs take no meetings.
    pub archived: bool,
    /// Teams video calls effectively available in the program (mode on and integration up).
    pub teams_enabled: bool,
    /// Why not, when not.
    pub teams_reason: Option<String>,
    /// Whether the acting operator may manage batches in it (and the reason when not).
    pub denied: Option<String>,
    /// The program's participants, lower-cased.
    pub participants: HashSet<String>,
}

/// What the directory said about an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressClass {
    /// A member of the tenant: UPN and object id for the attendee list.
    Member {
        /// userPrincipalName.
        upn: String,
        /// Object id.
        object_id: String,
    },
    /// A B2B guest.
    Guest,
    /// No such account.
    NotFound,
    /// Several accounts answer to it.
    Ambiguous,
    /// The directory could not be asked (the reason).
    Unknown(String),
}

/// Everything a row is checked against.
#[derive(Debug, Clone)]
pub struct Facts {
    /// Programs by lower-cased code.
    pub programs: HashMap<String, ProgramFacts>,
    /// Directory classes by lower-cased address.
    pub directory: HashMap<String, AddressClass>,
    /// Now (rows starting before it are refused).
    pub now: DateTime<Utc>,
    /// Zone for rows without `time_zone`.
    pub default_zone: Option<String>,
    /// What to do with ambiguous local times.
    pub dst: DstChoice,
}

/// A start or end as written: with an offset (an instant) or local (needs the zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrittenTime {
    /// `2027-03-14T09:30:00+01:00`, `…Z`.
    Instant(DateTime<FixedOffset>),
    /// `2027-03-14 09:30`.
    Local(NaiveDateTime),
}

/// Parses a date-time as written in the file: local (`2027-03-14 09:30`, `2027-03-14T09:30:00`)
/// or with an offset (`2027-03-14T09:30+01:00`, `2027-03-14 09:30:00Z`).
pub fn parse_time(raw: &str) -> Result<WrittenTime, String> {
    let s = raw.trim();
    let mut norm = s.to_string();
    if norm.len() > 10 && norm.is_char_boundary(10) && norm.is_char_boundary(11) {
        if let Some(b' ' | b't') = norm.as_bytes().get(10) {
            norm.replace_range(10..11, "T");
        }
    }
    let norm = norm.replace('z', "Z");
    if let Ok(t) = DateTime::parse_from_rfc3339(&norm) {
        return Ok(WrittenTime::Instant(t));
    }
    for f in [
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%dT%H:%M:%S%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(&norm, f) {
            return Ok(WrittenTime::Instant(t));
        }
    }
    if let Some(local) = norm.strip_suffix('Z') {
        if let Ok(n) = tz::parse_local(local) {
            return Ok(WrittenTime::Instant(n.and_utc().fixed_offset()));
        }
    }
    if let Ok(n) = NaiveDateTime::parse_from_str(&norm, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(WrittenTime::Local(n));
    }
    tz::parse_local(&norm).map(WrittenTime::Local).map_err(|_| {
        format!("'{s}' is not a date and time; write 2027-03-14 09:30 (local) or 2027-03-14T09:30+01:00")
    })
}

/// The duplicate key of a row: program, start, participants, subject.
pub type DuplicateKey = (String, DateTime<Utc>, Vec<String>, String);

/// Checks one row. `Ok` is ready to create; `Err` holds every problem found, located.
///
/// Each group of checks (program, subject, zone, times, participants) returns its own problems;
/// they are kept in this order, the order a coordinator reads the row in.
pub fn check_row(file: &CsvFile, row: &CsvRow, facts: &Facts) -> Result<MeetingRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let program = keep(&mut problems, check_program(file, row, facts));
    let subject = keep(&mut problems, check_subject(file, row));
    let (zone_name, zone) = keep(&mut problems, check_zone(file, row, facts));
    let (start, end) = keep(&mut problems, check_times(file, row, facts, zone));
    let addresses = keep(&mut problems, check_participants(file, row, facts, program));
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(p), Some(subject), Some(start), Some(end), Some(zone)) =
        (program, subject, start, end, zone_name)
    else {
        // Every None above pushed a problem; this is unreachable in practice.
        return Err(vec![file.problem(
            row,
            Column::Program,
            ProblemCode::MissingValue,
            "the row is incomplete",
        )]);
    };
    Ok(ready_row(
        file, row, facts, p, subject, start, end, &zone, addresses,
    ))
}

/// What one group of checks found: its value (when it could be read) and its problems.
type Checked<T> = (T, Vec<Problem>);

/// Start and end in UTC, each when it could be read.
type Span = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Adds a group's problems to the row's and hands back its value.
fn keep<T>(all: &mut Vec<Problem>, (value, found): Checked<T>) -> T {
    all.extend(found);
    value
}

/// The problems of one group of checks on one row, located as they are pushed.
struct Found<'a> {
    file: &'a CsvFile,
    row: &'a CsvRow,
    problems: Vec<Problem>,
}

impl<'a> Found<'a> {
    fn new(file: &'a CsvFile, row: &'a CsvRow) -> Self {
        Self {
            file,
            row,
            problems: Vec::new(),
        }
    }

    fn push(&mut self, col: Column, code: ProblemCode, msg: impl Into<String>) {
        self.problems
            .push(self.file.problem(self.row, col, code, msg));
    }

    fn with<T>(self, value: T) -> Checked<T> {
        (value, self.problems)
    }
}

/// The program: known, not archived, Teams on, and the operator may manage batches in it.
fn check_program<'f>(
    file: &CsvFile,
    row: &CsvRow,
    facts: &'f Facts,
) -> Checked<Option<&'f ProgramFacts>> {
    let mut found = Found::new(file, row);
    let Some(code) = file.get(row, Column::Program) else {
        found.push(
            Column::Program,
            ProblemCode::MissingValue,
            "the program is empty",
        );
        return found.with(None);
    };
    let Some(p) = facts.programs.get(&code.to_lowercase()) else {
        found.push(
            Column::Program,
            ProblemCode::UnknownProgram,
            format!("there is no program '{code}'"),
        );
        return found.with(None);
    };
    if p.archived {
        found.push(
            Column::Program,
            ProblemCode::ArchivedProgram,
            format!("the program '{}' is archived", p.code),
        );
    }
    if !p.teams_enabled {
        found.push(
            Column::Program,
            ProblemCode::TeamsOff,
            format!(
                "Teams video calls are off in the program '{}'{}",
                p.code,
                p.teams_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        );
    }
    if let Some(why) = &p.denied {
        found.push(Column::Program, ProblemCode::Denied, why.clone());
    }
    found.with(Some(p))
}

/// The subject: present, not too long, no control character but a newline.
fn check_subject(file: &CsvFile, row: &CsvRow) -> Checked<Option<String>> {
    let mut found = Found::new(file, row);
    let subject = file.get(row, Column::Subject).map(str::to_string);
    match &subject {
        None => found.push(
            Column::Subject,
            ProblemCode::MissingValue,
            "the subject is empty",
        ),
        Some(s) if s.chars().count() > MAX_SUBJECT_CHARS => found.push(
            Column::Subject,
            ProblemCode::BadSubject,
            format!("the subject is longer than {MAX_SUBJECT_CHARS} characters"),
        ),
        Some(s) if s.chars().any(|c| c.is_control() && c != '\n') => found.push(
            Column::Subject,
            ProblemCode::BadSubject,
            "the subject contains a control character",
        ),
        _ => {}
    }
    found.with(subject)
}

/// The zone: the row's `time_zone`, else the default; a known IANA name. Gives the name as
/// written and the zone.
fn check_zone(
    file: &CsvFile,
    row: &CsvRow,
    facts: &Facts,
) -> Checked<(Option<String>, Option<Tz>)> {
    let mut found = Found::new(file, row);
    let zone_name = file
        .get(row, Column::TimeZone)
        .map(str::to_string)
        .or_else(|| facts.default_zone.clone());
    let zone = match zone_name.as_deref() {
        None => {
            found.push(
                Column::TimeZone,
                ProblemCode::MissingValue,
                "no time zone: fill time_zone or set a default time zone in the settings",
            );
            None
        }
        Some(z) => match tz::parse_zone(z) {
            Ok(t) => Some(t),
            Err(e) => {
                found.push(Column::TimeZone, ProblemCode::BadTimeZone, e.to_string());
                None
            }
        },
    };
    found.with((zone_name, zone))
}

/// Start and end (from `end` or `duration_minutes`) in UTC, not in the past, the end after the
/// start and at most [`MAX_DURATION`] later.
fn check_times(file: &CsvFile, row: &CsvRow, facts: &Facts, zone: Option<Tz>) -> Checked<Span> {
    let mut found = Found::new(file, row);
    let start = resolve_time(
        &mut found,
        Column::Start,
        file.get(row, Column::Start),
        "start",
        zone,
        facts.dst,
    );
    let end_raw = file.get(row, Column::End);
    let end = end_of(&mut found, file, row, start, zone, facts.dst);
    if let Some(s) = start {
        if s < facts.now {
            found.push(
                Column::Start,
                ProblemCode::InPast,
                format!("the start ({}) is in the past", crate::time::to_db(s)),
            );
        }
    }
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            found.push(
                Column::End,
                ProblemCode::EndNotAfterStart,
                "the end is not after the start",
            );
        } else if e - s > MAX_DURATION && end_raw.is_some() {
            found.push(
                Column::End,
                ProblemCode::TooLong,
                "the meeting is longer than 24 hours",
            );
        }
    }
    found.with((start, end))
}

/// The end: from `end`, or `start` plus `duration_minutes` (exactly one of them given).
fn end_of(
    found: &mut Found<'_>,
    file: &CsvFile,
    row: &CsvRow,
    start: Option<DateTime<Utc>>,
    zone: Option<Tz>,
    dst: DstChoice,
) -> Option<DateTime<Utc>> {
    match (
        file.get(row, Column::End),
        file.get(row, Column::DurationMinutes),
    ) {
        (Some(_), Some(_)) => {
            found.push(
                Column::DurationMinutes,
                ProblemCode::BadDuration,
                "give either end or duration_minutes, not both",
            );
            None
        }
        (Some(e), None) => resolve_time(found, Column::End, Some(e), "end", zone, dst),
        (None, Some(d)) => match d.parse::<i64>() {
            Ok(m) if m > 0 => {
                if Duration::minutes(m) > MAX_DURATION {
                    found.push(
                        Column::DurationMinutes,
                        ProblemCode::TooLong,
                        format!("{m} minutes is longer than 24 hours"),
                    );
                    None
                } else {
                    start.map(|s| s + Duration::minutes(m))
                }
            }
            _ => {
                found.push(
                    Column::DurationMinutes,
                    ProblemCode::BadDuration,
                    format!("'{d}' is not a positive whole number of minutes"),
                );
                None
            }
        },
        (None, None) => {
            let col = if file.columns.contains_key(&Column::End) {
                Column::End
            } else {
                Column::DurationMinutes
            };
            found.push(
                col,
                ProblemCode::MissingValue,
                "give an end or a duration_minutes",
            );
            None
        }
    }
}

/// One date-time cell in UTC: an instant as written, or a local time in `zone` (nothing, and no
/// problem of its own, when the zone is already refused).
fn resolve_time(
    found: &mut Found<'_>,
    col: Column,
    raw: Option<&str>,
    what: &str,
    zone: Option<Tz>,
    dst: DstChoice,
) -> Option<DateTime<Utc>> {
    let Some(raw) = raw else {
        found.push(
            col,
            ProblemCode::MissingValue,
            format!("the {what} is empty"),
        );
        return None;
    };
    match parse_time(raw) {
        Err(e) => {
            found.push(col, ProblemCode::BadTime, e);
            None
        }
        Ok(WrittenTime::Instant(t)) => Some(t.with_timezone(&Utc)),
        Ok(WrittenTime::Local(n)) => match tz::resolve_local(n, zone?, dst) {
            Ok(t) => Some(t),
            Err(e @ TzProblem::NonexistentLocalTime { .. }) => {
                found.push(col, ProblemCode::DstGap, e.to_string());
                None
            }
            Err(e @ TzProblem::Ambiguous { .. }) => {
                found.push(
                    col,
                    ProblemCode::DstAmbiguous,
                    format!("{e} (--dst earlier|later)"),
                );
                None
            }
            Err(e) => {
                found.push(col, ProblemCode::BadTimeZone, e.to_string());
                None
            }
        },
    }
}

/// The participants: at least one, each an email address, a member of the directory and a
/// participant of the program. Gives the addresses read, lower-cased and sorted.
fn check_participants(
    file: &CsvFile,
    row: &CsvRow,
    facts: &Facts,
    program: Option<&ProgramFacts>,
) -> Checked<BTreeSet<String>> {
    let mut found = Found::new(file, row);
    let mut addresses = BTreeSet::new();
    match file.get(row, Column::Participants) {
        None => found.push(
            Column::Participants,
            ProblemCode::MissingValue,
            "no participants",
        ),
        Some(list) => {
            for raw in list.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                match crate::participants::validate_email(raw) {
                    Err(why) => found.push(Column::Participants, ProblemCode::BadAddress, why),
                    Ok(a) => {
                        addresses.insert(a.to_lowercase());
                    }
                }
            }
            if addresses.is_empty() && !list.split(';').any(|s| !s.trim().is_empty()) {
                found.push(
                    Column::Participants,
                    ProblemCode::MissingValue,
                    "no participants",
                );
            }
        }
    }
    for a in &addresses {
        if let Some((code, msg)) = directory_problem(a, facts.directory.get(a)) {
            found.push(Column::Participants, code, msg);
        }
        if let Some(p) = program.filter(|p| !p.participants.contains(a)) {
            found.push(
                Column::Participants,
                ProblemCode::NotParticipant,
                format!("{a} is not a participant of the program '{}'", p.code),
            );
        }
    }
    found.with(addresses)
}

/// Why the directory's answer about `a` refuses it (`None` for a member).
fn directory_problem(a: &str, class: Option<&AddressClass>) -> Option<(ProblemCode, String)> {
    match class {
        Some(AddressClass::Member { .. }) => None,
        Some(AddressClass::Guest) => Some((
            ProblemCode::Guest,
            format!("{a} is a guest account; Teams meetings here are for members"),
        )),
        Some(AddressClass::NotFound) => Some((
            ProblemCode::NotMember,
            format!("{a} is not a member of the tenant's directory"),
        )),
        Some(AddressClass::Ambiguous) => Some((
            ProblemCode::AmbiguousAddress,
            format!("{a} matches several directory accounts"),
        )),
        Some(AddressClass::Unknown(why)) => Some((
            ProblemCode::MembershipUnknown,
            format!("{a} could not be checked: {why}"),
        )),
        None => Some((
            ProblemCode::MembershipUnknown,
            format!("{a} was not checked against the directory"),
        )),
    }
}

/// The ready row of a row that passed every check: attendees from the directory and the
/// deterministic `externalId`.
#[allow(clippy::too_many_arguments)]
fn ready_row(
    file: &CsvFile,
    row: &CsvRow,
    facts: &Facts,
    p: &ProgramFacts,
    subject: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    zone: &str,
    addresses: BTreeSet<String>,
) -> MeetingRow {
    let external_ref = file.get(row, Column::ExternalRef).map(str::to_string);
    let participants: Vec<String> = addresses.into_iter().collect();
    let attendees = participants
        .iter()
        .filter_map(|a| match facts.directory.get(a) {
            Some(AddressClass::Member { upn, object_id }) => {
                Some(crate::graph::meetings::Attendee {
                    upn: upn.clone(),
                    user_id: object_id.clone(),
                })
            }
            _ => None,
        })
        .collect();
    let external_id = super::ids::external_id(
        &p.code,
        external_ref.as_deref(),
        start,
        end,
        &subject,
        &participants,
    );
    MeetingRow {
        line: row.line,
        program: p.code.clone(),
        subject,
        start_utc: start,
        end_utc: end,
        time_zone: zone.trim().to_string(),
        participants,
        attendees,
        external_ref,
        external_id,
    }
}

/// The key two rows are duplicates by.
pub fn duplicate_key(r: &MeetingRow) -> DuplicateKey {
    (
        r.program.to_lowercase(),
        r.start_utc,
        r.participants.clone(),
        r.subject.trim().to_lowercase(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::csv;

    fn facts() -> Facts {
        let mut programs = HashMap::new();
        programs.insert(
            "eng".into(),
            ProgramFacts {
                code: "eng".into(),
                teams_enabled: true,
                participants: ["a@x.example".to_string(), "b@x.example".to_string()]
                    .into_iter()
                    .collect(),
                ..Default::default()
            },
        );
        programs.insert(
            "old".into(),
            ProgramFacts {
                code: "old".into(),
                archived: true,
                teams_enabled: false,
                ..Default::default()
            },
        );
        let mut directory = HashMap::new();
        directory.insert(
            "a@x.example".into(),
            AddressClass::Member {
                upn: "a@x.example".into(),
                object_id: "id-a".into(),
            },
        );
        directory.insert("b@x.example".into(), AddressClass::Guest);
        Facts {
            programs,
            directory,
            now: DateTime::parse_from_rfc3339("2027-01-01T00:00:00Z")
                .expect("time")
                .with_timezone(&Utc),
            default_zone: Some("Europe/Berlin".into()),
            dst: DstChoice::Refuse,
        }
    }

    fn check(line: &str) -> Result<MeetingRow, Vec<Problem>> {
        let text =
            format!("program,subject,start,end,duration_minutes,time_zone,participants\n{line}\n");
        let f = csv::read(text.as_bytes()).expect("file");
        check_row(&f, &f.rows[0], &facts())
    }

    fn codes(r: Result<MeetingRow, Vec<Problem>>) -> Vec<ProblemCode> {
        r.expect_err("must be refused")
            .iter()
            .map(|p| p.code)
            .collect()
    }

    #[test]
    fn a_good_row_resolves_to_utc_in_its_zone() {
        let r = check("ENG,Kick-off,2027-03-14 09:30,,30,,A@x.example").expect("ready");
        assert_eq!(
            crate::time::to_db(r.start_utc),
            "2027-03-14T08:30:00Z",
            "Berlin is UTC+1 in March"
        );
        assert_eq!(
            crate::time::to_db(r.end_utc),
            "2027-03-14T09:00:00Z",
            "30 minutes later"
        );
        assert_eq!(r.participants, vec!["a@x.example"], "addresses lower-cased");
        assert_eq!(r.program, "eng", "program as stored");
    }

    #[test]
    fn every_reason_is_listed_not_just_the_first() {
        let c = codes(check(
            "old,,2026-03-14 09:30,2026-03-14 09:00,,,b@x.example;nope;c@x.example",
        ));
        for want in [
            ProblemCode::ArchivedProgram,
            ProblemCode::TeamsOff,
            ProblemCode::MissingValue,
            ProblemCode::InPast,
            ProblemCode::EndNotAfterStart,
            ProblemCode::BadAddress,
            ProblemCode::Guest,
            ProblemCode::MembershipUnknown,
            ProblemCode::NotParticipant,
        ] {
            assert!(c.contains(&want), "{want:?} must be reported among {c:?}");
        }
    }

    #[test]
    fn dst_gap_and_fold_are_refused_unless_a_choice_is_given() {
        assert_eq!(
            codes(check(
                "eng,S,2027-03-28 02:30,,30,Europe/Berlin,a@x.example"
            )),
            vec![ProblemCode::DstGap],
            "02:30 does not exist on the spring-forward day"
        );
        assert_eq!(
            codes(check(
                "eng,S,2027-10-31 02:30,,30,Europe/Berlin,a@x.example"
            )),
            vec![ProblemCode::DstAmbiguous],
            "02:30 happens twice on the fall-back day"
        );
        let text = "program,subject,start,duration_minutes,time_zone,participants\neng,S,2027-10-31 02:30,30,Europe/Berlin,a@x.example\n";
        let f = csv::read(text.as_bytes()).expect("file");
        let mut fx = facts();
        fx.dst = DstChoice::Later;
        let r = check_row(&f, &f.rows[0], &fx).expect("later chosen");
        assert_eq!(
            crate::time::to_db(r.start_utc),
            "2027-10-31T01:30:00Z",
            "the later 02:30 is on CET"
        );
    }

    #[test]
    fn offsets_and_durations_over_a_day() {
        let r = check("eng,S,2027-03-14T09:30+05:00,2027-03-14T10:00:00Z,,,a@x.example")
            .expect("ready");
        assert_eq!(
            crate::time::to_db(r.start_utc),
            "2027-03-14T04:30:00Z",
            "offset honoured"
        );
        assert_eq!(
            codes(check("eng,S,2027-03-14 09:30,,1441,,a@x.example")),
            vec![ProblemCode::TooLong],
            "a day and a minute is too long"
        );
        assert_eq!(
            codes(check(
                "eng,S,2027-03-14 09:30,2027-03-14 10:00,30,,a@x.example"
            )),
            vec![ProblemCode::BadDuration],
            "end and duration together are refused"
        );
    }
}
