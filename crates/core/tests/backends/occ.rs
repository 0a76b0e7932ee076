//! Two workstations editing the same program (optimistic concurrency), on both backends: two
//! stores on one database (SQLite: two opens of one file; PostgreSQL: two logins' sessions) load
//! the program at the same version; the first change wins and bumps the version, the second,
//! decided on the old version, is refused naming who changed it and when, and writes nothing,
//! audit row included.

use tsched_core::operators::{self, NewOperator};
use tsched_core::programs::{self, MeetingMode, NewProgram, ProgramChanges, RELOAD_HINT};
use tsched_core::roles::Role;
use tsched_core::store::audit_log::{AuditFilter, AuditRow};
use tsched_core::store::programs::ProgramStamp;
use tsched_core::store::{Store, StoreError};
use tsched_core::{Actor, Error, ErrorCode};

use crate::support;

/// A global admin.
const ANA: &str = "ana@contoso.example";
const ANA_PW: &str = "ana-pw-1";
/// The track admin of `eng`.
const BO: &str = "bo@contoso.example";
const BO_PW: &str = "bo-pw-1";

/// As Ana on `store`: the program `eng` and Bo as its track admin.
fn team(backend: &str, store: &mut Store) {
    let ana = Actor::operator(ANA);
    programs::add(
        store,
        &ana,
        NewProgram {
            name: "Engineering".into(),
            code: Some("eng".into()),
            description: None,
        },
    )
    .unwrap_or_else(|e| panic!("{backend}: add eng: {e}"));
    operators::add(
        store,
        &ana,
        NewOperator {
            upn: BO.into(),
            display_name: "Bo".into(),
        },
    )
    .unwrap_or_else(|e| panic!("{backend}: add Bo: {e}"));
    operators::grant(store, &ana, BO, Role::TrackAdmin, Some("eng"))
        .unwrap_or_else(|e| panic!("{backend}: grant Bo: {e}"));
}

/// How the refusal names a moment: the minute, in UTC.
fn minute(db: &str) -> String {
    format!("{} {} UTC", &db[..10], &db[11..16])
}

/// The program rows of the trail, oldest first (read as Ana, who may read all of it).
fn program_trail(store: &Store) -> Vec<AuditRow> {
    let mut rows: Vec<AuditRow> = store
        .tables()
        .audit_list(&AuditFilter::default())
        .expect("audit")
        .into_iter()
        .filter(|r| r.action.starts_with("program."))
        .collect();
    rows.reverse();
    rows
}

fn conflict(backend: &str, what: &str, r: Result<programs::ProgramView, Error>) -> String {
    let e = r.expect_err(what);
    assert_eq!(e.code(), ErrorCode::Conflict, "{backend}: {what}: {e}");
    e.to_string()
}

/// The race: `a` is Ana's workstation, `b` Bo's, on one database.
fn race(backend: &str, a: &mut Store, b: &mut Store) {
    let (ana, bo) = (Actor::operator(ANA), Actor::operator(BO));
    let seen_a = programs::show(a, &ana, "eng").expect("Ana loads eng");
    let seen_b = programs::show(b, &bo, "eng").expect("Bo loads eng");
    assert_eq!(
        (seen_a.version, seen_b.version),
        (1, 1),
        "{backend}: both workstations load version 1 (granting Bo a role is no program change)"
    );
    let trail = program_trail(a).len();

    let won = programs::edit(
        b,
        &bo,
        "eng",
        ProgramChanges {
            name: Some("Engineering Guild".into()),
            description: None,
        },
        Some(seen_b.version),
    )
    .unwrap_or_else(|e| panic!("{backend}: Bo edits first and wins: {e}"));
    assert_eq!(
        won.version, 2,
        "{backend}: the winning edit bumps the version"
    );

    let lost = conflict(
        backend,
        "Ana's edit on version 1",
        programs::edit(
            a,
            &ana,
            "eng",
            ProgramChanges {
                name: None,
                description: Some("stale".into()),
            },
            Some(seen_a.version),
        ),
    );
    let row = programs::show(a, &ana, "eng").expect("reload");
    assert_eq!(
        lost,
        format!(
            "program 'eng' was changed by {BO} at {} — {RELOAD_HINT}",
            minute(&row.updated_at)
        ),
        "{backend}: the refusal names who changed the program first and when"
    );
    assert_eq!(
        (row.name.as_str(), row.description.as_str(), row.version),
        ("Engineering Guild", "", 2),
        "{backend}: the row keeps the first edit, nothing of the refused one"
    );
    assert_eq!(
        row.updated_by.as_deref(),
        Some(BO),
        "{backend}: Bo changed it last"
    );
    for (what, r) in [
        (
            "a mode change on version 1",
            programs::set_mode(
                a,
                &ana,
                "eng",
                MeetingMode::Phone,
                false,
                Some(seen_a.version),
            ),
        ),
        (
            "archiving on version 1",
            programs::set_archived(a, &ana, "eng", true, Some(seen_a.version)),
        ),
    ] {
        let e = conflict(backend, what, r);
        assert!(e.contains(BO), "{backend}: {what} names Bo: {e}");
    }
    let after = programs::show(a, &ana, "eng").expect("reload");
    assert_eq!(
        (after.version, after.archived, after.enabled_modes.clone()),
        (2, false, row.enabled_modes.clone()),
        "{backend}: the refused mode change and archive wrote nothing"
    );
    let edits = program_trail(a);
    assert_eq!(
        edits.len(),
        trail + 1,
        "{backend}: one audit row, the winner's: {edits:?}"
    );
    let last = edits.last().expect("the winner's row");
    assert_eq!(
        (last.action.as_str(), last.operator.as_str()),
        ("program.edit", BO),
        "{backend}: the audit row is Bo's edit"
    );

    // Ana reloaded: her change on version 2 applies, and now Bo's page is the stale one.
    let v = programs::set_mode(
        a,
        &ana,
        "eng",
        MeetingMode::Phone,
        false,
        Some(after.version),
    )
    .unwrap_or_else(|e| panic!("{backend}: after a reload the change applies: {e}"));
    assert_eq!(
        (v.version, v.updated_by.as_deref()),
        (3, Some(ANA)),
        "{backend}: a mode change is a change of the program"
    );
    let e = conflict(
        backend,
        "Bo's edit on version 2",
        programs::edit(
            b,
            &bo,
            "eng",
            ProgramChanges {
                name: None,
                description: Some("late".into()),
            },
            Some(won.version),
        ),
    );
    assert!(
        e.contains(&format!("changed by {ANA}")),
        "{backend}: names Ana: {e}"
    );
    let v = programs::edit(
        b,
        &bo,
        "eng",
        ProgramChanges {
            name: None,
            description: Some("one-shot".into()),
        },
        None,
    )
    .unwrap_or_else(|e| panic!("{backend}: without a version, the change applies: {e}"));
    assert_eq!(
        (v.description.as_str(), v.version),
        ("one-shot", 4),
        "{backend}: a one-shot change (no version seen) applies to the current version"
    );
}

#[test]
fn two_workstations_editing_one_program_the_first_wins_the_second_is_told_who_and_when() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("store.sqlite3");
    let mut a = Store::open(&path).expect("first open of the file");
    operators::add(
        &mut a,
        &Actor::local(),
        NewOperator {
            upn: ANA.into(),
            display_name: "Ana".into(),
        },
    )
    .expect("Ana, the first operator, is global admin");
    team("sqlite", &mut a);
    let mut b = Store::open(&path).expect("second open of the same file");
    race("sqlite", &mut a, &mut b);

    let mut pg = support::postgres_store();
    pg.cluster.create_login(ANA, ANA_PW);
    pg.cluster.create_login(BO, BO_PW);
    operators::add(
        &mut pg.store,
        &Actor::local(),
        NewOperator {
            upn: ANA.into(),
            display_name: "Ana".into(),
        },
    )
    .expect("the owner bootstraps Ana");
    let mut a = support::connect_as(&pg.cluster, ANA, ANA_PW);
    team("postgres", &mut a);
    let mut b = support::connect_as(&pg.cluster, BO, BO_PW);
    race("postgres", &mut a, &mut b);
}

/// PostgreSQL only (SQLite's write transaction holds the file's write lock from its start, so
/// a second writer waits): two transactions read version 1; the second workstation commits its
/// change while the first is still open; the first one's conditional write then changes nothing
/// and a read in the same transaction sees who got there first (READ COMMITTED).
#[test]
fn a_change_committed_between_read_and_write_is_not_overwritten_on_postgres() {
    let mut pg = support::postgres_store();
    pg.cluster.create_login(ANA, ANA_PW);
    pg.cluster.create_login(BO, BO_PW);
    operators::add(
        &mut pg.store,
        &Actor::local(),
        NewOperator {
            upn: ANA.into(),
            display_name: "Ana".into(),
        },
    )
    .expect("the owner bootstraps Ana");
    let mut a = support::connect_as(&pg.cluster, ANA, ANA_PW);
    team("postgres", &mut a);
    let mut b = support::connect_as(&pg.cluster, BO, BO_PW);
    let (rows, seen) = a
        .write(|tx| -> Result<_, StoreError> {
            let read = tx.program_by_code("eng")?.expect("eng");
            programs::edit(
                &mut b,
                &Actor::operator(BO),
                "eng",
                ProgramChanges {
                    name: Some("Bo's name".into()),
                    description: None,
                },
                Some(read.version),
            )
            .expect("Bo's change commits while Ana's transaction is open");
            let rows = tx.program_update_details(
                ProgramStamp {
                    id: read.id,
                    version: read.version,
                    by: ANA,
                },
                "Ana's name",
                "",
            )?;
            Ok((rows, tx.program_by_code("eng")?.expect("eng")))
        })
        .expect("Ana's transaction");
    assert_eq!(rows, 0, "Ana's write on version 1 changes nothing");
    assert_eq!(
        (seen.version, seen.updated_by.as_deref(), seen.name.as_str()),
        (2, Some(BO), "Bo's name"),
        "inside Ana's transaction the row is Bo's version 2, for the refusal to name him"
    );
}
