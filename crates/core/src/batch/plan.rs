//! Planning: a read file plus the facts becomes a [`Plan`] — every row "ready" or refused with
//! every reason — and each ready row gets its deterministic `externalId`. The pure part
//! ([`plan_file`], [`external_id`]) is separate from gathering the facts ([`gather`]: store
//! reads and the bulk membership check).

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use serde::Serialize;

use super::csv::{self, Column, CsvFile};
use super::validate::{self, AddressClass, Facts, ProgramFacts};
use super::{MeetingRow, Problem, ProblemCode};
use crate::access::{self, Action};
use crate::actor::Actor;
use crate::error::Error;
use crate::store::Store;
use crate::tz::DstChoice;

pub use super::ids::{external_id, EXTERNAL_ID_NAMESPACE};

/// A row's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// It can be created.
    Ready,
    /// It cannot; see the problems.
    Rejected,
}

/// One row of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedRow {
    /// 1-based line.
    pub line: u64,
    /// Verdict.
    pub status: RowStatus,
    /// The resolved meeting, when ready.
    pub meeting: Option<MeetingRow>,
    /// Every reason, when rejected.
    pub problems: Vec<Problem>,
    /// Program as written (for tables of rejected rows).
    pub program: String,
    /// Subject as written.
    pub subject: String,
}

/// Counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Data rows.
    pub rows: u64,
    /// Ready rows.
    pub ready: u64,
    /// Rejected rows.
    pub rejected: u64,
    /// Problems, by code.
    pub by_code: std::collections::BTreeMap<String, u64>,
}

/// The verdict on a whole file.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Counts.
    pub summary: Summary,
    /// Every row, in file order.
    pub rows: Vec<PlannedRow>,
    /// File-level problems (then `rows` is empty).
    pub file_problems: Vec<Problem>,
}

impl Plan {
    /// The ready meetings.
    pub fn ready(&self) -> impl Iterator<Item = &MeetingRow> {
        self.rows.iter().filter_map(|r| r.meeting.as_ref())
    }
}

/// Options of planning.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Zone for rows without `time_zone` (else the `batch.default_time_zone` setting).
    pub default_zone: Option<String>,
    /// What to do with ambiguous local times.
    pub dst: DstChoice,
}

/// Pure: checks every row, then marks duplicates (same program, start, participants, subject;
/// or the same `external_ref`) — the later row points at the earlier line.
pub fn plan_file(file: &CsvFile, facts: &Facts) -> Plan {
    let mut rows: Vec<PlannedRow> = file
        .rows
        .iter()
        .map(|row| {
            let program = file.get(row, Column::Program).unwrap_or("").to_string();
            let subject = file.get(row, Column::Subject).unwrap_or("").to_string();
            match validate::check_row(file, row, facts) {
                Ok(m) => PlannedRow {
                    line: row.line,
                    status: RowStatus::Ready,
                    meeting: Some(m),
                    problems: Vec::new(),
                    program,
                    subject,
                },
                Err(problems) => PlannedRow {
                    line: row.line,
                    status: RowStatus::Rejected,
                    meeting: None,
                    problems,
                    program,
                    subject,
                },
            }
        })
        .collect();
    let mut seen_key: HashMap<validate::DuplicateKey, u64> = HashMap::new();
    let mut seen_ref: HashMap<(String, String), u64> = HashMap::new();
    let mut seen_id: HashMap<String, u64> = HashMap::new();
    for (i, row) in file.rows.iter().enumerate() {
        let Some(m) = rows[i].meeting.clone() else {
            continue;
        };
        let mut problems = Vec::new();
        if let Some(first) = seen_key.get(&validate::duplicate_key(&m)) {
            problems.push(file.problem(
                row,
                Column::Start,
                ProblemCode::DuplicateRow,
                format!("the same meeting (program, start, participants, subject) as line {first}"),
            ));
        }
        if let Some(r) = &m.external_ref {
            if let Some(first) = seen_ref.get(&(m.program.to_lowercase(), r.clone())) {
                problems.push(file.problem(
                    row,
                    Column::ExternalRef,
                    ProblemCode::DuplicateRef,
                    format!("external_ref '{r}' is also on line {first}"),
                ));
            }
        }
        if problems.is_empty() {
            if let Some(first) = seen_id.get(&m.external_id) {
                problems.push(file.problem(
                    row,
                    Column::Start,
                    ProblemCode::DuplicateRow,
                    format!("the same meeting as line {first}"),
                ));
            }
        }
        seen_key
            .entry(validate::duplicate_key(&m))
            .or_insert(m.line);
        if let Some(r) = &m.external_ref {
            seen_ref
                .entry((m.program.to_lowercase(), r.clone()))
                .or_insert(m.line);
        }
        seen_id.entry(m.external_id.clone()).or_insert(m.line);
        if !problems.is_empty() {
            rows[i].status = RowStatus::Rejected;
            rows[i].meeting = None;
            rows[i].problems = problems;
        }
    }
    let mut summary = Summary {
        rows: rows.len() as u64,
        ..Default::default()
    };
    for r in &rows {
        match r.status {
            RowStatus::Ready => summary.ready += 1,
            RowStatus::Rejected => summary.rejected += 1,
        }
        for p in &r.problems {
            *summary
                .by_code
                .entry(
                    serde_json::to_value(p.code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                )
                .or_default() += 1;
        }
    }
    Plan {
        summary,
        rows,
        file_problems: Vec::new(),
    }
}

/// A plan for an unreadable file: only file-level problems.
pub fn file_rejected(problems: Vec<Problem>) -> Plan {
    let mut summary = Summary::default();
    for p in &problems {
        *summary
            .by_code
            .entry(
                serde_json::to_value(p.code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            )
            .or_default() += 1;
    }
    Plan {
        summary,
        rows: Vec::new(),
        file_problems: problems,
    }
}

/// Settings key of the default time zone for rows without `time_zone`.
pub const SETTING_DEFAULT_ZONE: &str = "batch.default_time_zone";

/// Reads the store's side of the facts: programs named in the file (with the acting operator's
/// right to manage batches in each), their participants and Teams availability, the default zone.
pub fn program_facts(
    store: &Store,
    actor: &Actor,
    file: &CsvFile,
) -> Result<HashMap<String, ProgramFacts>, Error> {
    let conn = store.tables();
    let codes: BTreeSet<String> = file
        .rows
        .iter()
        .filter_map(|r| file.get(r, Column::Program))
        .map(str::to_lowercase)
        .collect();
    let teams = crate::programs::teams_availability(conn)?;
    let mut out = HashMap::new();
    // What `access::require` answers for each program, with the actor resolved once (on the
    // first program the store has), not once per program.
    let mut who: Option<Result<access::Resolved, String>> = None;
    for code in codes {
        let Some(p) = conn.program_by_code(&code)? else {
            continue;
        };
        let mode_on = p.enabled_modes.iter().any(|m| m == "teams_video");
        if who.is_none() {
            who = Some(match access::resolve(conn, actor) {
                Ok(w) => Ok(w),
                Err(Error::Denied(m)) => Err(m),
                Err(e) => return Err(e),
            });
        }
        let denied = match who.as_ref() {
            Some(Ok(w)) => match w.may(Action::BatchesManage, Some(&p.code)) {
                Ok(()) => None,
                Err(Error::Denied(m)) => Some(m),
                Err(e) => return Err(e),
            },
            Some(Err(m)) => Some(m.clone()),
            None => None,
        };
        let participants = conn
            .participants(p.id)?
            .into_iter()
            .map(|x| x.email.to_lowercase())
            .collect();
        out.insert(
            code,
            ProgramFacts {
                code: p.code.clone(),
                archived: p.archived,
                teams_enabled: mode_on && teams.available,
                teams_reason: if !mode_on {
                    Some("turn the Teams video call mode on".into())
                } else {
                    teams.reason.clone()
                },
                denied,
                participants,
            },
        );
    }
    Ok(out)
}

/// The default zone: the option, else the `batch.default_time_zone` setting.
pub fn default_zone(store: &Store, opt: Option<&str>) -> Result<Option<String>, Error> {
    if let Some(z) = opt {
        return Ok(Some(z.to_string()));
    }
    Ok(store.tables().setting(SETTING_DEFAULT_ZONE)?)
}

/// Every distinct, well-formed address in the file (lower-cased): what the membership check asks.
pub fn addresses(file: &CsvFile) -> Vec<String> {
    let mut set = BTreeSet::new();
    for r in &file.rows {
        if let Some(list) = file.get(r, Column::Participants) {
            for a in list.split(';') {
                if let Ok(a) = crate::participants::validate_email(a) {
                    set.insert(a.to_lowercase());
                }
            }
        }
    }
    set.into_iter().collect()
}

/// Reads the file and plans it against `facts` (pure once the facts are in).
pub fn plan_bytes(bytes: &[u8], facts: &Facts) -> (Option<CsvFile>, Plan) {
    match csv::read(bytes) {
        Ok(f) => {
            let plan = plan_file(&f, facts);
            (Some(f), plan)
        }
        Err(problems) => (None, file_rejected(problems)),
    }
}

/// Marks every directory address as unknown with `why` (membership could not be checked).
pub fn unknown_directory(addresses: &[String], why: &str) -> HashMap<String, AddressClass> {
    addresses
        .iter()
        .map(|a| (a.clone(), AddressClass::Unknown(why.to_string())))
        .collect()
}

/// The dry run (`tsched batch validate`): reads the file, gathers the facts — programs from the
/// store, every distinct address through the membership check (cache first, then Graph
/// `$batch`) — and plans. Sends nothing that creates a meeting. Without a session (not
/// connected) every address is "could not be checked".
pub async fn validate(
    store: &mut Store,
    graph: Option<&crate::graph::GraphClient>,
    actor: &Actor,
    bytes: &[u8],
    opts: &PlanOptions,
) -> Result<(Option<CsvFile>, Plan), Error> {
    // Who acts must be known before anything is read for them.
    access::resolve(store.tables(), actor)?;
    let file = match csv::read(bytes) {
        Ok(f) => f,
        Err(problems) => return Ok((None, file_rejected(problems))),
    };
    let programs = program_facts(store, actor, &file)?;
    let addrs = addresses(&file);
    let directory = match graph {
        None => unknown_directory(&addrs, "the tenant is not connected"),
        Some(g) if !addrs.is_empty() => {
            match crate::membership::check_unchecked(store, g, &addrs, Default::default(), &|_| {})
                .await
            {
                Ok(checks) => directory_from(checks),
                Err(e) => unknown_directory(&addrs, &e.to_string()),
            }
        }
        Some(_) => HashMap::new(),
    };
    let facts = Facts {
        programs,
        directory,
        now: Utc::now(),
        default_zone: default_zone(store, opts.default_zone.as_deref())?,
        dst: opts.dst,
    };
    let mut plan = plan_file(&file, &facts);
    already_scheduled(store, &file, &mut plan)?;
    Ok((Some(file), plan))
}

/// Adapts the membership module's answers to validation's classes.
pub fn directory_from(
    checks: Vec<crate::membership::AddressCheck>,
) -> HashMap<String, AddressClass> {
    use crate::membership::MemberClass;
    let mut out = HashMap::new();
    for c in checks {
        let key = c.input.trim().to_lowercase();
        let class = match (c.result, c.error) {
            (Some(m), _) => match m.class {
                MemberClass::Member => match (m.upn, m.object_id) {
                    (Some(upn), Some(object_id)) => AddressClass::Member { upn, object_id },
                    _ => AddressClass::Unknown("the directory gave no object id".into()),
                },
                MemberClass::Guest => AddressClass::Guest,
                MemberClass::NotFound => AddressClass::NotFound,
                _ => AddressClass::Ambiguous,
            },
            (None, Some(why)) => AddressClass::Unknown(why),
            (None, None) => AddressClass::Unknown("not checked".into()),
        };
        out.insert(key, class);
    }
    out
}

/// Refuses ready rows whose meeting is already live in another batch (same `externalId`), and
/// rows whose `externalId` already names a stored meeting of another program (`denied`): a
/// batch never takes over, or adds to its program, another program's meeting.
///
/// Two reads for the whole file (the stored meetings and the live items of every ready row's
/// `externalId`), then each row is decided in memory.
pub fn already_scheduled(store: &Store, file: &CsvFile, plan: &mut Plan) -> Result<(), Error> {
    let ids: Vec<&str> = plan.ready().map(|m| m.external_id.as_str()).collect();
    let (stored, live) = if ids.is_empty() {
        (HashMap::new(), HashMap::new())
    } else {
        let conn = store.tables();
        (
            conn.batch_meeting_programs(&ids)?,
            conn.batch_live_items(&ids)?,
        )
    };
    for (i, row) in plan.rows.iter_mut().enumerate() {
        let Some(m) = &row.meeting else { continue };
        let foreign = stored
            .get(&m.external_id)
            .filter(|program| !program.eq_ignore_ascii_case(&m.program));
        let (code, key, message) = if let Some(program) = foreign {
            (
                ProblemCode::Denied,
                "denied",
                format!(
                    "externalId {} already names a meeting of program '{}'; a batch never takes \
                     over another program's meeting (change external_ref)",
                    m.external_id, program
                ),
            )
        } else if let Some((batch, line)) = live.get(&m.external_id).copied() {
            (
                ProblemCode::AlreadyScheduled,
                "already_scheduled",
                format!("this meeting is already scheduled by batch {batch} (line {line}); see tsched batch show {batch}"),
            )
        } else {
            continue;
        };
        let col = if m.external_ref.is_some() {
            Column::ExternalRef
        } else {
            Column::Start
        };
        row.problems
            .push(file.problem(&file.rows[i], col, code, message));
        row.status = RowStatus::Rejected;
        row.meeting = None;
        plan.summary.ready -= 1;
        plan.summary.rejected += 1;
        *plan.summary.by_code.entry(key.into()).or_default() += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use uuid::Uuid;

    #[test]
    fn external_ids_are_stable_and_distinct() {
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("t")
                .with_timezone(&Utc)
        };
        let p = vec!["a@x.example".to_string()];
        let a = external_id(
            "eng",
            None,
            t("2027-03-14T08:30:00Z"),
            t("2027-03-14T09:00:00Z"),
            "S",
            &p,
        );
        let b = external_id(
            "ENG",
            None,
            t("2027-03-14T08:30:00Z"),
            t("2027-03-14T09:00:00Z"),
            "S",
            &p,
        );
        assert_eq!(a, b, "the same row gives the same externalId in any run");
        let c = external_id(
            "eng",
            None,
            t("2027-03-14T08:30:00Z"),
            t("2027-03-14T09:00:00Z"),
            "T",
            &p,
        );
        assert_ne!(a, c, "another subject is another meeting");
        let r1 = external_id(
            "eng",
            Some("k1"),
            t("2027-03-14T08:30:00Z"),
            t("2027-03-14T09:00:00Z"),
            "S",
            &p,
        );
        let r2 = external_id(
            "eng",
            Some("k1"),
            t("2027-04-14T08:30:00Z"),
            t("2027-04-14T09:00:00Z"),
            "S2",
            &p,
        );
        assert_eq!(
            r1, r2,
            "with external_ref the key is the coordinator's, not the row's content"
        );
        assert!(Uuid::parse_str(&a).is_ok(), "externalId is a UUID");
    }

    #[test]
    fn a_batch_row_could_take_over_another_programs_meeting_by_its_external_id() {
        use crate::programs::{self, NewProgram};
        let mut store = Store::open_in_memory().expect("store");
        for code in ["eng", "ops"] {
            programs::add(
                &mut store,
                &crate::actor::Actor::local(),
                NewProgram {
                    name: code.into(),
                    code: Some(code.into()),
                    description: None,
                },
            )
            .expect("program");
        }
        // A meeting of ops holding the id an eng row derives (squatted before ids were reserved).
        store
            .conn()
            .execute(
                "INSERT INTO meetings (external_id, program_id, subject, start_utc, end_utc,
                     time_zone, state, created_by, created_at, updated_at)
                 VALUES ('squatted', (SELECT id FROM programs WHERE code = 'ops'), 's',
                     '2027-03-15T09:00:00Z', '2027-03-15T09:30:00Z', 'UTC', 'created', 'x',
                     'now', 'now')",
                [],
            )
            .expect("ops meeting");
        let file = super::super::csv::read(
            b"program,subject,start,duration_minutes,participants\n\
              eng,S,2027-03-15 09:00,30,a@x.com\n",
        )
        .expect("file");
        let t = chrono::DateTime::parse_from_rfc3339("2027-03-15T09:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        let mut plan = Plan {
            summary: Summary {
                rows: 1,
                ready: 1,
                ..Default::default()
            },
            rows: vec![PlannedRow {
                line: 2,
                status: RowStatus::Ready,
                meeting: Some(MeetingRow {
                    line: 2,
                    program: "eng".into(),
                    subject: "S".into(),
                    start_utc: t,
                    end_utc: t + chrono::Duration::minutes(30),
                    time_zone: "UTC".into(),
                    participants: vec!["a@x.com".into()],
                    attendees: Vec::new(),
                    external_ref: None,
                    external_id: "squatted".into(),
                }),
                problems: Vec::new(),
                program: "eng".into(),
                subject: "S".into(),
            }],
            file_problems: Vec::new(),
        };
        already_scheduled(&store, &file, &mut plan).expect("check");
        assert_eq!(
            plan.rows[0].status,
            RowStatus::Rejected,
            "a row never takes over another program's meeting"
        );
        assert_eq!(plan.rows[0].problems[0].code, ProblemCode::Denied);
        assert_eq!(plan.summary.rejected, 1, "counted as rejected");
    }
}
