//! Row validation, pure: one CSV row plus the facts it is checked against (programs, directory
//! classes of addresses, the clock, the default zone, the DST choice) gives either a ready
//! [`MeetingRow`] or *every* reason it is not, each located by line and column. No I/O: `plan`
//! gathers the facts (store, membership checks in bulk) and calls this for every row.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, Utc};

use super::csv::{Column, CsvFile, CsvRow};
use super::{MeetingRow, Problem, ProblemCode};
use crate::tz::{self, DstChoice, TzProblem};

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
pub fn check_row(file: &CsvFile, row: &CsvRow, facts: &Facts) -> Result<MeetingRow, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut push = |col: Column, code: ProblemCode, msg: String| {
        problems.push(file.problem(row, col, code, msg));
    };

    // Program.
    let program = match file.get(row, Column::Program) {
        None => {
            push(
                Column::Program,
                ProblemCode::MissingValue,
                "the program is empty".into(),
            );
            None
        }
        Some(code) => match facts.programs.get(&code.to_lowercase()) {
            None => {
                push(
                    Column::Program,
                    ProblemCode::UnknownProgram,
                    format!("there is no program '{code}'"),
                );
                None
            }
            Some(p) => {
                if p.archived {
                    push(
                        Column::Program,
                        ProblemCode::ArchivedProgram,
                        format!("the program '{}' is archived", p.code),
                    );
                }
                if !p.teams_enabled {
                    push(
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
                    push(Column::Program, ProblemCode::Denied, why.clone());
                }
                Some(p)
            }
        },
    };

    // Subject.
    let subject = file.get(row, Column::Subject).map(str::to_string);
    match &subject {
        None => push(
            Column::Subject,
            ProblemCode::MissingValue,
            "the subject is empty".into(),
        ),
        Some(s) if s.chars().count() > MAX_SUBJECT_CHARS => push(
            Column::Subject,
            ProblemCode::BadSubject,
            format!("the subject is longer than {MAX_SUBJECT_CHARS} characters"),
        ),
        Some(s) if s.chars().any(|c| c.is_control() && c != '\n') => push(
            Column::Subject,
            ProblemCode::BadSubject,
            "the subject contains a control character".into(),
        ),
        _ => {}
    }

    // Zone.
    let zone_name = file
        .get(row, Column::TimeZone)
        .map(str::to_string)
        .or_else(|| facts.default_zone.clone());
    let zone = match zone_name.as_deref() {
        None => {
            push(
                Column::TimeZone,
                ProblemCode::MissingValue,
                "no time zone: fill time_zone or set a default time zone in the settings".into(),
            );
            None
        }
        Some(z) => match tz::parse_zone(z) {
            Ok(t) => Some(t),
            Err(e) => {
                push(Column::TimeZone, ProblemCode::BadTimeZone, e.to_string());
                None
            }
        },
    };

    // Start and end.
    let mut resolve = |col: Column, raw: Option<&str>, what: &str| -> Option<DateTime<Utc>> {
        let raw = match raw {
            None => {
                push(
                    col,
                    ProblemCode::MissingValue,
                    format!("the {what} is empty"),
                );
                return None;
            }
            Some(r) => r,
        };
        match parse_time(raw) {
            Err(e) => {
                push(col, ProblemCode::BadTime, e);
                None
            }
            Ok(WrittenTime::Instant(t)) => Some(t.with_timezone(&Utc)),
            Ok(WrittenTime::Local(n)) => {
                let z = zone?;
                match tz::resolve_local(n, z, facts.dst) {
                    Ok(t) => Some(t),
                    Err(e @ TzProblem::NonexistentLocalTime { .. }) => {
                        push(col, ProblemCode::DstGap, e.to_string());
                        None
                    }
                    Err(e @ TzProblem::Ambiguous { .. }) => {
                        push(
                            col,
                            ProblemCode::DstAmbiguous,
                            format!("{e} (--dst earlier|later)"),
                        );
                        None
                    }
                    Err(e) => {
                        push(col, ProblemCode::BadTimeZone, e.to_string());
                        None
                    }
                }
            }
        }
    };
    let start = resolve(Column::Start, file.get(row, Column::Start), "start");
    let end_raw = file.get(row, Column::End);
    let duration_raw = file.get(row, Column::DurationMinutes);
    let end = match (end_raw, duration_raw) {
        (Some(_), Some(_)) => {
            push(
                Column::DurationMinutes,
                ProblemCode::BadDuration,
                "give either end or duration_minutes, not both".into(),
            );
            None
        }
        (Some(e), None) => resolve(Column::End, Some(e), "end"),
        (None, Some(d)) => match d.parse::<i64>() {
            Ok(m) if m > 0 => {
                if Duration::minutes(m) > MAX_DURATION {
                    push(
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
                push(
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
            push(
                col,
                ProblemCode::MissingValue,
                "give an end or a duration_minutes".into(),
            );
            None
        }
    };
    if let Some(s) = start {
        if s < facts.now {
            push(
                Column::Start,
                ProblemCode::InPast,
                format!("the start ({}) is in the past", crate::time::to_db(s)),
            );
        }
    }
    if let (Some(s), Some(e)) = (start, end) {
        if e <= s {
            push(
                Column::End,
                ProblemCode::EndNotAfterStart,
                "the end is not after the start".into(),
            );
        } else if e - s > MAX_DURATION && end_raw.is_some() {
            push(
                Column::End,
                ProblemCode::TooLong,
                "the meeting is longer than 24 hours".into(),
            );
        }
    }

    // Participants.
    let mut addresses = BTreeSet::new();
    match file.get(row, Column::Participants) {
        None => push(
            Column::Participants,
            ProblemCode::MissingValue,
            "no participants".into(),
        ),
        Some(list) => {
            for raw in list.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                match crate::participants::validate_email(raw) {
                    Err(why) => push(Column::Participants, ProblemCode::BadAddress, why),
                    Ok(a) => {
                        addresses.insert(a.to_lowercase());
                    }
                }
            }
            if addresses.is_empty() && !list.split(';').any(|s| !s.trim().is_empty()) {
                push(
                    Column::Participants,
                    ProblemCode::MissingValue,
                    "no participants".into(),
                );
            }
        }
    }
    for a in &addresses {
        match facts.directory.get(a) {
            Some(AddressClass::Member { .. }) => {}
            Some(AddressClass::Guest) => push(
                Column::Participants,
                ProblemCode::Guest,
                format!("{a} is a guest account; Teams meetings here are for members"),
            ),
            Some(AddressClass::NotFound) => push(
                Column::Participants,
                ProblemCode::NotMember,
                format!("{a} is not a member of the tenant's directory"),
            ),
            Some(AddressClass::Ambiguous) => push(
                Column::Participants,
                ProblemCode::AmbiguousAddress,
                format!("{a} matches several directory accounts"),
            ),
            Some(AddressClass::Unknown(why)) => push(
                Column::Participants,
                ProblemCode::MembershipUnknown,
                format!("{a} could not be checked: {why}"),
            ),
            None => push(
                Column::Participants,
                ProblemCode::MembershipUnknown,
                format!("{a} was not checked against the directory"),
            ),
        }
        if let Some(p) = program {
            if !p.participants.contains(a) {
                push(
                    Column::Participants,
                    ProblemCode::NotParticipant,
                    format!("{a} is not a participant of the program '{}'", p.code),
                );
            }
        }
    }

    let external_ref = file.get(row, Column::ExternalRef).map(str::to_string);
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
    Ok(MeetingRow {
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
    })
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
