//! Demo data for exploring with the sandbox tenant: a few programs with their meeting modes
//! (Teams video calls among them) and participants who are real people of the sandbox's default
//! tenant (`contoso.example`, see `docs/SANDBOX.md`), so every page has something real to show.
//!
//! [`prefill`] adds them only to a store that is connected to the **sandbox** cloud and holds no
//! program at all: it never touches an existing store's programs, never writes into a store
//! connected to a real tenant, and running it again adds nothing. Everything it adds is one
//! transaction, audited with the same rows as adding by hand (`program.create`,
//! `participants.import`) plus one `demo.prefill` row saying where they came from.
//!
//! The addresses are plain data here (the core does not depend on the sandbox); a test checks
//! them against the sandbox's default seed.

use serde::Serialize;
use serde_json::json;

use crate::access::{self, Action};
use crate::actor::Actor;
use crate::error::Error;
use crate::participants::{validate_display_name, validate_email};
use crate::programs::{self, MeetingMode};
use crate::store::audit_log::AuditEntry;
use crate::store::prelude::*;
use crate::store::Store;

/// One demo program.
#[derive(Debug, Clone, Copy)]
pub struct DemoProgram {
    /// Its code.
    pub code: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Its description.
    pub description: &'static str,
    /// The meeting modes it allows.
    pub modes: &'static [MeetingMode],
    /// (email, display name) of its participants.
    pub participants: &'static [(&'static str, &'static str)],
}

/// The demo programs. `eng` and `ops` with their people match `docs/examples/batch-example.csv`,
/// so the example batch runs as it is; `leaders` includes a guest (the Members page's diagnosis
/// then shows a failing check); `design` does not offer Teams video calls (the Meetings page
/// says why).
pub const PROGRAMS: &[DemoProgram] = &[
    DemoProgram {
        code: "eng",
        name: "Engineering Mentoring",
        description: "Senior engineers mentor new engineers for six months.",
        modes: &[MeetingMode::InPerson, MeetingMode::TeamsVideo],
        participants: &[
            ("adele.vance0@contoso.example", "Adele Vance"),
            ("zoe.odegard1@contoso.example", "Zoë Ødegård"),
            ("lukasz.garcia4@contoso.example", "Łukasz García"),
            ("hiroshi.kowalski6@contoso.example", "Hiroshi Kowalski"),
            ("priya.celik9@contoso.example", "Priya Çelik"),
        ],
    },
    DemoProgram {
        code: "ops",
        name: "Operations Buddies",
        description: "Every new colleague in operations gets a buddy for the first weeks.",
        modes: &[
            MeetingMode::InPerson,
            MeetingMode::Phone,
            MeetingMode::TeamsVideo,
        ],
        participants: &[
            ("ngozi.nunez5@contoso.example", "Ngozi Núñez"),
            ("jose.muller2@contoso.example", "José Müller"),
            ("amelie.archie7@contoso.example", "Amélie Archie"),
            ("bjorn.okafor8@contoso.example", "Björn Okafor"),
        ],
    },
    DemoProgram {
        code: "leaders",
        name: "Leadership Circle",
        description: "Monthly peer coaching for team leads, with one partner from Fabrikam.",
        modes: &[MeetingMode::Phone, MeetingMode::TeamsVideo],
        participants: &[
            ("soren.sharma3@contoso.example", "Søren Sharma"),
            ("chloe.tanaka10@contoso.example", "Chloé Tanaka"),
            ("mateo.ivanova11@contoso.example", "Mateo Ivanova"),
            ("zoe0@fabrikam.com", "Zoë (fabrikam.com)"),
        ],
    },
    DemoProgram {
        code: "design",
        name: "Design Circle",
        description: "Designers meet in the studio to review each other's work.",
        modes: &[MeetingMode::InPerson],
        participants: &[
            ("fatima.dubois12@contoso.example", "Fatima Dubois"),
            ("grady.vance13@contoso.example", "Grady Vance"),
            ("umit.odegard14@contoso.example", "Ümit Ødegård"),
        ],
    },
];

/// The `file` the participants' audit rows name.
pub const SOURCE: &str = "sandbox tenant demo";

/// What [`prefill`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prefilled {
    /// Codes of the programs added (empty when skipped).
    pub programs: Vec<String>,
    /// Participants added, over all programs.
    pub participants: usize,
    /// Why nothing was added, when nothing was.
    pub skipped: Option<String>,
}

/// Refuses unless the store is connected to the sandbox cloud: the demo names the sandbox
/// tenant's people, who do not exist in a real tenant.
fn require_sandbox(conn: &dyn Tables) -> Result<(), Error> {
    let row = conn.integration_get()?;
    match row {
        None => Err(Error::Conflict(
            "no tenant is connected: demo programs are added only after connecting to the sandbox tenant (Explore with the sandbox tenant does both)".into(),
        )),
        Some(r) if !r.cloud.eq_ignore_ascii_case("sandbox") => Err(Error::Conflict(format!(
            "this store is connected to a real Microsoft 365 tenant ({} cloud); demo programs are added only for the sandbox tenant, whose people they name",
            r.cloud
        ))),
        Some(r) if r.state != crate::store::integration::RowState::Connected => Err(Error::Conflict(format!(
            "the sandbox tenant's connection is {}; connect to it again first (Explore with the sandbox tenant)",
            r.state.as_str().replace('_', " ")
        ))),
        Some(_) => Ok(()),
    }
}

/// Adds the demo [`PROGRAMS`] to a store connected to the sandbox tenant that has no program yet.
/// Needs [`Action::ProgramCreate`] (a global admin, or anyone in setup mode). A store that
/// already has programs (archived ones included) is left as it is: the result says so in
/// `skipped`.
pub fn prefill(store: &mut Store, actor: &Actor) -> Result<Prefilled, Error> {
    store.write(|tx| {
        let who = access::require(tx, actor, Action::ProgramCreate, None)?;
        require_sandbox(tx)?;
        let existing = tx.programs_count()?;
        if existing > 0 {
            return Ok(Prefilled {
                programs: Vec::new(),
                participants: 0,
                skipped: Some(format!(
                    "the store already has {existing} program{}; demo programs are added only to an empty store, so nothing was changed",
                    if existing == 1 { "" } else { "s" }
                )),
            });
        }
        let mut added = Prefilled {
            programs: Vec::new(),
            participants: 0,
            skipped: None,
        };
        for demo in PROGRAMS {
            let code = programs::validate_code(demo.code)?;
            let name = programs::validate_name(demo.name)?;
            let description = programs::validate_description(Some(demo.description))?;
            let modes: Vec<(&str, bool)> = MeetingMode::ALL
                .iter()
                .map(|m| (m.as_str(), demo.modes.contains(m)))
                .collect();
            let id = tx.program_insert(&code, &name, &description, &modes)?;
            let program = tx.program_by_code(&code)?.ok_or(Error::NotFound {
                what: "program",
                key: code.clone(),
            })?;
            who.audit(
                tx,
                AuditEntry {
                    action: "program.create",
                    target: &format!("program:{code}"),
                    program_code: Some(&code),
                    after: Some(programs::snapshot(&program)),
                    ..Default::default()
                },
            )?;
            for (email, display_name) in demo.participants {
                let email = validate_email(email).map_err(|r| Error::invalid("email", r))?;
                let display_name = validate_display_name(display_name)
                    .map_err(|r| Error::invalid("display_name", r))?;
                tx.participant_insert(id, &email, &display_name)?;
            }
            let n = demo.participants.len();
            who.audit(
                tx,
                AuditEntry {
                    action: "participants.import",
                    target: &format!("program:{code}"),
                    program_code: Some(&code),
                    after: Some(json!({
                        "file": SOURCE, "rows": n, "added": n, "already_present": 0,
                    })),
                    ..Default::default()
                },
            )?;
            added.programs.push(code);
            added.participants += n;
        }
        who.audit(
            tx,
            AuditEntry {
                action: "demo.prefill",
                target: "store",
                after: Some(json!({
                    "source": SOURCE,
                    "programs": added.programs,
                    "participants": added.participants,
                })),
                ..Default::default()
            },
        )?;
        Ok(added)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::programs::{ListQuery, NewProgram};
    use crate::store::audit_log::AuditFilter;
    use crate::store::integration::IntegrationRow;

    fn connected(store: &Store, cloud: &str, state: &str) {
        store
            .tables()
            .integration_put(&IntegrationRow {
                cloud: cloud.into(),
                authority_base: "http://127.0.0.1:1".into(),
                graph_base: "http://127.0.0.1:1/v1.0".into(),
                tenant_id: "4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f".into(),
                client_id: "c".into(),
                host_object_id: "o".into(),
                host_upn: "teams.scheduler@contoso.example".into(),
                host_display_name: "Teams Scheduler".into(),
                granted_scopes: "User.ReadBasic.All OnlineMeetings.ReadWrite".into(),
                state: crate::store::integration::RowState::parse(state).expect("a known state"),
                attention_reason: None,
                connected_at: "2027-01-01T00:00:00Z".into(),
                connected_by: None,
                last_refresh_at: None,
                removed_at: None,
            })
            .expect("integration row");
    }

    fn audit_count(store: &Store) -> usize {
        store
            .tables()
            .audit_list(&AuditFilter::default())
            .expect("audit")
            .len()
    }

    #[test]
    fn prefills_an_empty_sandbox_store_with_programs_modes_and_participants() {
        let mut store = Store::open_in_memory().expect("store");
        connected(&store, "sandbox", "connected");
        let local = Actor::local();
        let done = prefill(&mut store, &local).expect("prefill");
        assert_eq!(
            done.programs,
            vec!["eng", "ops", "leaders", "design"],
            "every demo program is added, in order"
        );
        assert_eq!(done.participants, 16, "every demo participant is added");
        assert!(done.skipped.is_none(), "nothing was skipped: {done:?}");

        let list = programs::list(&store, &local, &ListQuery::default()).expect("list");
        assert_eq!(list.len(), 4, "four programs are listed");
        let eng = programs::show(&store, &local, "eng").expect("eng");
        assert!(
            eng.enabled_modes.iter().any(|m| m == "teams_video"),
            "eng offers Teams video calls: {:?}",
            eng.enabled_modes
        );
        let teams = eng
            .modes
            .iter()
            .find(|m| m.mode == MeetingMode::TeamsVideo)
            .expect("teams mode");
        assert_eq!(
            teams.status,
            programs::ModeStatus::Enabled,
            "Teams is usable while the sandbox is connected"
        );
        let design = programs::show(&store, &local, "design").expect("design");
        assert_eq!(
            design.enabled_modes,
            vec!["in_person"],
            "design shows a program without Teams"
        );
        let people = crate::participants::list(&store, &local, "eng").expect("participants");
        assert!(
            people
                .iter()
                .any(|p| p.email == "adele.vance0@contoso.example"
                    && p.display_name == "Adele Vance"),
            "participants keep their display names: {people:?}"
        );
        let actions: Vec<String> = store
            .tables()
            .audit_list(&AuditFilter::default())
            .expect("audit")
            .into_iter()
            .map(|r| r.action)
            .collect();
        assert_eq!(
            actions.iter().filter(|a| *a == "program.create").count(),
            4,
            "each program's creation is audited like a hand-made one: {actions:?}"
        );
        assert_eq!(
            actions
                .iter()
                .filter(|a| *a == "participants.import")
                .count(),
            4,
            "each program's participants are audited as one import: {actions:?}"
        );
        assert_eq!(
            actions.iter().filter(|a| *a == "demo.prefill").count(),
            1,
            "one row says where the demo came from: {actions:?}"
        );
    }

    #[test]
    fn running_it_again_adds_nothing_and_writes_no_audit_row() {
        let mut store = Store::open_in_memory().expect("store");
        connected(&store, "sandbox", "connected");
        prefill(&mut store, &Actor::local()).expect("first run");
        let rows = audit_count(&store);
        let again = prefill(&mut store, &Actor::local()).expect("second run");
        assert!(
            again.programs.is_empty() && again.skipped.is_some(),
            "the second run is skipped: {again:?}"
        );
        assert_eq!(audit_count(&store), rows, "a skipped run writes nothing");
    }

    #[test]
    fn a_store_with_its_own_programs_is_left_untouched() {
        let mut store = Store::open_in_memory().expect("store");
        let local = Actor::local();
        programs::add(
            &mut store,
            &local,
            NewProgram {
                name: "Our Own".into(),
                code: Some("own".into()),
                description: None,
            },
        )
        .expect("add");
        programs::set_archived(&mut store, &local, "own", true, None).expect("archive");
        connected(&store, "sandbox", "connected");
        let done = prefill(&mut store, &local).expect("prefill");
        assert!(
            done.skipped
                .as_deref()
                .is_some_and(|s| s.contains("already has 1 program")),
            "the reason says why: {done:?}"
        );
        let all = programs::list(
            &store,
            &local,
            &ListQuery {
                include_archived: true,
                ..Default::default()
            },
        )
        .expect("list");
        assert_eq!(all.len(), 1, "no demo program was added next to ours");
        assert!(all[0].archived, "our program is as it was");
    }

    #[test]
    fn refuses_without_a_connection_or_with_a_real_tenant() {
        let mut store = Store::open_in_memory().expect("store");
        let err = prefill(&mut store, &Actor::local()).expect_err("not connected");
        assert_eq!(err.code(), ErrorCode::Conflict, "{err}");
        assert!(err.to_string().contains("sandbox tenant"), "{err}");

        connected(&store, "global", "connected");
        let err = prefill(&mut store, &Actor::local()).expect_err("a real tenant");
        assert!(
            err.to_string()
                .contains("real Microsoft 365 tenant (global cloud)"),
            "the refusal names the cloud: {err}"
        );
        assert_eq!(audit_count(&store), 0, "a refusal writes nothing");
    }

    #[test]
    fn refuses_a_removed_sandbox_connection() {
        let mut store = Store::open_in_memory().expect("store");
        connected(&store, "sandbox", "removed");
        let err = prefill(&mut store, &Actor::local()).expect_err("removed");
        assert!(err.to_string().contains("is removed"), "{err}");
    }

    #[test]
    fn only_a_global_admin_may_prefill_once_operators_exist() {
        let mut store = Store::open_in_memory().expect("store");
        let local = Actor::local();
        let new = |upn: &str| crate::operators::NewOperator {
            upn: upn.into(),
            display_name: String::new(),
        };
        crate::operators::add(&mut store, &local, new("admin@contoso.example")).expect("admin");
        let admin = Actor::operator("admin@contoso.example");
        crate::operators::add(&mut store, &admin, new("support@contoso.example")).expect("op");
        connected(&store, "sandbox", "connected");
        let err = prefill(&mut store, &Actor::operator("support@contoso.example"))
            .expect_err("an operator with no roles");
        assert_eq!(err.code(), ErrorCode::Denied, "{err}");
        let ok = prefill(&mut store, &admin).expect("the global admin may");
        assert_eq!(ok.programs.len(), 4, "added by the global admin");
    }

    #[test]
    fn demo_people_are_members_of_the_sandbox_default_tenant_and_one_is_a_guest() {
        let seed = tsched_sandbox::Seed::default_tenant();
        let find = |addr: &str| {
            seed.users.iter().find(|u| {
                u.user_principal_name.eq_ignore_ascii_case(addr)
                    || u.mail
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case(addr))
            })
        };
        let mut guests = Vec::new();
        for demo in PROGRAMS {
            for (email, name) in demo.participants {
                let user = find(email).unwrap_or_else(|| {
                    panic!("{email} must exist in the sandbox's default tenant")
                });
                if user.is_guest() {
                    guests.push(*email);
                } else {
                    assert_eq!(
                        &user.display_name, name,
                        "{email}: the demo shows the directory's display name"
                    );
                }
            }
        }
        assert_eq!(
            guests,
            vec!["zoe0@fabrikam.com"],
            "exactly one guest, so the diagnosis has a failure to show"
        );
    }
}
