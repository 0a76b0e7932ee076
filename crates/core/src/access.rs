//! Access levels: the one pure function, [`decide`], that says who may do what, and the thin
//! adapter, [`require`], that every use case calls inside its transaction to resolve the acting
//! [`Actor`] against the operator roster and apply that decision.
//!
//! Both front ends (the desktop app and the CLI) go through the use cases, so they cannot
//! disagree about permissions. [`decide`] does no I/O; it must stay that way so the whole
//! role × action × program matrix can be tested exhaustively.
//!
//! The rules:
//! - setup mode (no operators yet): the local user may do everything;
//! - **global admin**: everything;
//! - **support**: reads everything (programs, operators, audit) and runs membership checks;
//!   changes nothing;
//! - **track admin** of P: views P, edits P's settings (name, description, meeting modes,
//!   participants), runs membership checks and reads the audit trail of P. Creating and archiving
//!   programs is a global admin's decision: archiving ends a program for its coordinators too;
//! - **coordinator** of P: views P, manages meetings and batches in P, runs membership checks for P.
//!
//! Roles add up: an operator holding several roles may do what any one of them allows.

use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::error::Error;
pub use crate::roles::{Role, RoleGrant};
use crate::store::prelude::*;

/// Everything a use case can ask permission for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Create a program.
    ProgramCreate,
    /// Rename a program or change its description.
    ProgramEdit,
    /// Archive or unarchive a program.
    ProgramArchive,
    /// Enable or disable a meeting mode of a program.
    ModeToggle,
    /// Add, remove or import participants.
    ParticipantsEdit,
    /// See a program, its modes and participants.
    ViewProgram,
    /// Add, remove, (de)activate operators and grant or revoke roles.
    OperatorsManage,
    /// See the operator roster.
    OperatorsView,
    /// Connect, repair or remove the tenant integration.
    IntegrationManage,
    /// Check whether addresses are members of the tenant.
    MembershipCheck,
    /// Create, change and cancel meetings.
    MeetingsManage,
    /// Run, pause and cancel batches of meetings.
    BatchesManage,
    /// Read and export the audit trail.
    AuditView,
}

impl Action {
    /// Every action, for exhaustive tests and for the UI's permission table.
    pub const ALL: [Action; 13] = [
        Action::ProgramCreate,
        Action::ProgramEdit,
        Action::ProgramArchive,
        Action::ModeToggle,
        Action::ParticipantsEdit,
        Action::ViewProgram,
        Action::OperatorsManage,
        Action::OperatorsView,
        Action::IntegrationManage,
        Action::MembershipCheck,
        Action::MeetingsManage,
        Action::BatchesManage,
        Action::AuditView,
    ];

    /// What the action does, for "may not …" messages.
    pub fn describe(self) -> &'static str {
        match self {
            Action::ProgramCreate => "create programs",
            Action::ProgramEdit => "edit program settings",
            Action::ProgramArchive => "archive or unarchive programs",
            Action::ModeToggle => "change meeting modes",
            Action::ParticipantsEdit => "change participants",
            Action::ViewProgram => "view programs",
            Action::OperatorsManage => "manage operators",
            Action::OperatorsView => "view operators",
            Action::IntegrationManage => "manage the integration",
            Action::MembershipCheck => "run membership checks",
            Action::MeetingsManage => "manage meetings",
            Action::BatchesManage => "manage batches",
            Action::AuditView => "view the audit trail",
        }
    }
}

/// Who is asking, as [`decide`] sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// The store has no operators yet: the local user may do everything.
    Setup,
    /// An active operator with these roles.
    Operator {
        /// Their roles (possibly none).
        grants: Vec<RoleGrant>,
    },
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Go ahead.
    Allowed,
    /// Refused; `reason` names the roles held and what they may not do.
    Denied {
        /// E.g. "coordinator of 'eng' may not edit program settings in program 'ops'".
        reason: String,
    },
}

impl Decision {
    /// Whether it is [`Decision::Allowed`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allowed)
    }
}

/// THE access rule. `program` is the code of the program the action touches, or `None` for an
/// action on no particular program (creating a program, operators, the integration) or on all
/// of them (listing everything). Pure: no I/O, no clock.
pub fn decide(who: &Subject, action: Action, program: Option<&str>) -> Decision {
    let grants = match who {
        Subject::Setup => return Decision::Allowed,
        Subject::Operator { grants } => grants,
    };
    if grants.iter().any(|g| permits(g, action, program)) {
        return Decision::Allowed;
    }
    let held = if grants.is_empty() {
        "an operator with no roles".to_string()
    } else {
        let mut sorted = grants.clone();
        sorted.sort();
        sorted
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let scope = match program {
        Some(p) => format!(" in program '{p}'"),
        None => String::new(),
    };
    let hint = if Role::ALL
        .iter()
        .filter(|r| **r != Role::GlobalAdmin)
        .all(|r| !role_ever_permits(*r, action))
    {
        "; only a global admin may"
    } else {
        ""
    };
    Decision::Denied {
        reason: format!("{held} may not {}{scope}{hint}", action.describe()),
    }
}

/// Whether one grant allows `action` on `program`.
fn permits(g: &RoleGrant, action: Action, program: Option<&str>) -> bool {
    use Action as A;
    let own = match (&g.program, program) {
        (Some(mine), Some(p)) => mine.eq_ignore_ascii_case(p),
        _ => false,
    };
    match g.role {
        Role::GlobalAdmin => true,
        Role::Support => matches!(
            action,
            A::ViewProgram | A::OperatorsView | A::MembershipCheck | A::AuditView
        ),
        Role::TrackAdmin => {
            own && matches!(
                action,
                A::ViewProgram
                    | A::ProgramEdit
                    | A::ModeToggle
                    | A::ParticipantsEdit
                    | A::MembershipCheck
                    | A::AuditView
            )
        }
        Role::Coordinator => {
            own && matches!(
                action,
                A::ViewProgram | A::MeetingsManage | A::BatchesManage | A::MembershipCheck
            )
        }
    }
}

/// Whether `role` allows `action` anywhere (for the "only a global admin may" hint).
fn role_ever_permits(role: Role, action: Action) -> bool {
    let g = RoleGrant {
        role,
        program: role.is_per_program().then(|| "p".to_string()),
    };
    permits(&g, action, Some("p")) || permits(&g, action, None)
}

/// The acting person resolved against the roster, returned by [`require`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// How the audit trail names them.
    pub label: String,
    /// Who really acts when the operator was named without proof (see
    /// [`Actor::impersonated_by`]); the audit trail records it beside `label`.
    pub real_actor: Option<String>,
    /// Their roles, or setup mode.
    pub subject: Subject,
}

impl Resolved {
    /// [`decide`] for this actor: what [`require`] answers once the actor is resolved (no I/O,
    /// so a use case that resolved them once can check many programs without asking again).
    pub fn may(&self, action: Action, program: Option<&str>) -> Result<(), Error> {
        match decide(&self.subject, action, program) {
            Decision::Allowed => Ok(()),
            Decision::Denied { reason } => {
                Err(Error::Denied(format!("{} as {reason}", self.label)))
            }
        }
    }

    /// Appends the audit row of a change this actor made, inside the change's transaction:
    /// `entry` says what changed; the row names the actor (`operator`) and, when they were
    /// impersonated, who really acted (`real_actor`) — filled in here so no use case can forget
    /// either.
    pub fn audit(
        &self,
        conn: &dyn Tables,
        entry: crate::store::audit_log::AuditEntry<'_>,
    ) -> Result<i64, crate::store::StoreError> {
        conn.audit_append(&crate::store::audit_log::AuditEntry {
            operator: &self.label,
            real_actor: self.real_actor.as_deref(),
            ..entry
        })
    }

    /// [`Resolved::audit`] for several changes at once, in order (their ids are not returned).
    pub fn audit_all(
        &self,
        conn: &dyn Tables,
        entries: Vec<crate::store::audit_log::AuditEntry<'_>>,
    ) -> Result<(), crate::store::StoreError> {
        let entries: Vec<_> = entries
            .into_iter()
            .map(|entry| crate::store::audit_log::AuditEntry {
                operator: &self.label,
                real_actor: self.real_actor.as_deref(),
                ..entry
            })
            .collect();
        conn.audit_append_all(&entries)
    }
}

/// Resolves `actor` against the roster in `conn` (call it inside the use case's transaction).
///
/// - an operator actor must be an active operator of this store;
/// - the local actor acts only while the store has no operators (setup mode).
pub fn resolve(conn: &dyn Tables, actor: &Actor) -> Result<Resolved, Error> {
    match actor.operator_upn.as_deref() {
        Some(upn) => match conn.operator_by_upn(upn)? {
            Some(op) if op.active => Ok(Resolved {
                label: op.upn,
                real_actor: actor.impersonated_by.clone(),
                subject: Subject::Operator { grants: op.roles },
            }),
            Some(op) => Err(Error::Denied(format!(
                "operator '{}' is deactivated; a global admin can reactivate them",
                op.upn
            ))),
            None if conn.operator_count()? == 0 => Ok(Resolved {
                label: actor.label.clone(),
                real_actor: None,
                subject: Subject::Setup,
            }),
            None => Err(Error::Denied(format!(
                "'{upn}' is not an operator of this store; a global admin can add them"
            ))),
        },
        None if conn.operator_count()? == 0 => Ok(Resolved {
            label: actor.label.clone(),
            real_actor: None,
            subject: Subject::Setup,
        }),
        None => Err(Error::Denied(
            "sign in first: this store has operators, so setup mode is over and the local user may no longer act unsigned".into(),
        )),
    }
}

/// Resolves `actor` and applies [`decide`]; `Error::Denied` names who, their roles, and what
/// they may not do.
pub fn require(
    conn: &dyn Tables,
    actor: &Actor,
    action: Action,
    program: Option<&str>,
) -> Result<Resolved, Error> {
    let who = resolve(conn, actor)?;
    who.may(action, program)?;
    Ok(who)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "eng";
    const OTHER: &str = "ops";

    /// The expected matrix, written out by hand (not derived from `permits`): for each action,
    /// whether the role may do it on its own program, on another program, and on no program.
    fn expected(role: Role, action: Action) -> (bool, bool, bool) {
        use Action as A;
        const ALL: (bool, bool, bool) = (true, true, true);
        const NONE: (bool, bool, bool) = (false, false, false);
        const OWN_ONLY: (bool, bool, bool) = (true, false, false);
        match (role, action) {
            (Role::GlobalAdmin, _) => ALL,
            (Role::Support, A::ViewProgram) => ALL,
            (Role::Support, A::OperatorsView) => ALL,
            (Role::Support, A::MembershipCheck) => ALL,
            (Role::Support, A::AuditView) => ALL,
            (Role::Support, _) => NONE,
            (Role::TrackAdmin, A::ViewProgram) => OWN_ONLY,
            (Role::TrackAdmin, A::ProgramEdit) => OWN_ONLY,
            (Role::TrackAdmin, A::ModeToggle) => OWN_ONLY,
            (Role::TrackAdmin, A::ParticipantsEdit) => OWN_ONLY,
            (Role::TrackAdmin, A::MembershipCheck) => OWN_ONLY,
            (Role::TrackAdmin, A::AuditView) => OWN_ONLY,
            (Role::TrackAdmin, _) => NONE,
            (Role::Coordinator, A::ViewProgram) => OWN_ONLY,
            (Role::Coordinator, A::MeetingsManage) => OWN_ONLY,
            (Role::Coordinator, A::BatchesManage) => OWN_ONLY,
            (Role::Coordinator, A::MembershipCheck) => OWN_ONLY,
            (Role::Coordinator, _) => NONE,
        }
    }

    fn holder(role: Role) -> Subject {
        let grant = if role.is_per_program() {
            RoleGrant::of(role, OWN)
        } else {
            RoleGrant::global(role)
        };
        Subject::Operator {
            grants: vec![grant],
        }
    }

    #[test]
    fn decide_matches_the_whole_role_action_program_matrix() {
        let mut checked = 0;
        for role in Role::ALL {
            let who = holder(role);
            for action in Action::ALL {
                let (own, other, none) = expected(role, action);
                for (scope, program, want) in [
                    ("own program", Some(OWN), own),
                    ("other program", Some(OTHER), other),
                    ("no program", None, none),
                ] {
                    let got = decide(&who, action, program);
                    assert_eq!(
                        got.is_allowed(),
                        want,
                        "{role} doing {action:?} on {scope}: expected allowed={want}, got {got:?}"
                    );
                    if let Decision::Denied { reason } = got {
                        assert!(
                            reason.contains(role.label()),
                            "a denial must name the role held: {reason}"
                        );
                        if let Some(p) = program {
                            assert!(
                                reason.contains(&format!("'{p}'")),
                                "a denial must name the program: {reason}"
                            );
                        }
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 4 * 13 * 3, "every cell of the matrix is checked");
    }

    #[test]
    fn setup_mode_allows_everything_and_no_roles_allows_nothing() {
        let none = Subject::Operator { grants: vec![] };
        for action in Action::ALL {
            for program in [Some(OWN), None] {
                assert!(
                    decide(&Subject::Setup, action, program).is_allowed(),
                    "setup mode lets the local user do {action:?}"
                );
                let d = decide(&none, action, program);
                assert!(
                    !d.is_allowed(),
                    "an operator with no roles may not {action:?}"
                );
            }
        }
    }

    #[test]
    fn roles_add_up_and_program_codes_compare_case_insensitively() {
        let who = Subject::Operator {
            grants: vec![
                RoleGrant::of(Role::Coordinator, "eng"),
                RoleGrant::of(Role::TrackAdmin, "ops"),
            ],
        };
        assert!(
            decide(&who, Action::MeetingsManage, Some("ENG")).is_allowed(),
            "coordinator of eng manages meetings in eng whatever the case of the code"
        );
        assert!(
            decide(&who, Action::ModeToggle, Some("ops")).is_allowed(),
            "track admin of ops toggles modes in ops"
        );
        assert!(
            !decide(&who, Action::ModeToggle, Some("eng")).is_allowed(),
            "being coordinator of eng does not make one its track admin"
        );
        let Decision::Denied { reason } = decide(&who, Action::ModeToggle, Some("eng")) else {
            panic!("expected a denial");
        };
        assert_eq!(
            reason, "track admin of 'ops', coordinator of 'eng' may not change meeting modes in program 'eng'",
            "the reason lists every role held and the program"
        );
    }

    #[test]
    fn global_only_actions_say_so() {
        let Decision::Denied { reason } =
            decide(&holder(Role::Support), Action::OperatorsManage, None)
        else {
            panic!("support may not manage operators");
        };
        assert!(
            reason.ends_with("only a global admin may"),
            "a global-admin-only action must say who can: {reason}"
        );
    }

    #[test]
    fn roles_parse_from_cli_spellings() {
        assert_eq!(
            "global-admin".parse::<Role>().expect("valid"),
            Role::GlobalAdmin
        );
        assert_eq!(
            "Track_Admin".parse::<Role>().expect("valid"),
            Role::TrackAdmin
        );
        let e = "owner".parse::<Role>().expect_err("unknown role");
        assert!(
            e.to_string().contains("global-admin"),
            "the error lists the valid roles: {e}"
        );
    }

    /// The same matrix through the use cases on a real store: every action that has a use case
    /// runs it; the others (owned by later issues) go through `require` on the same store.
    mod through_use_cases {
        use super::*;
        use crate::error::ErrorCode;
        use crate::operators::{self, NewOperator};
        use crate::programs::{self, MeetingMode, NewProgram, ProgramChanges};
        use crate::store::Store;
        use crate::{audit, participants};

        const ROOT: &str = "root@x.com";

        fn setup() -> Store {
            let mut store = Store::open_in_memory().expect("store");
            let local = Actor::local();
            for (name, code) in [("Engineering", OWN), ("Operations", OTHER)] {
                programs::add(
                    &mut store,
                    &local,
                    NewProgram {
                        name: name.into(),
                        code: Some(code.into()),
                        description: None,
                    },
                )
                .expect("program");
            }
            let new = |upn: &str| NewOperator {
                upn: upn.into(),
                display_name: String::new(),
            };
            operators::add(&mut store, &local, new(ROOT)).expect("root is the first global admin");
            let root = Actor::operator(ROOT);
            for role in Role::ALL {
                let upn = format!("{}@x.com", role.as_str());
                operators::add(&mut store, &root, new(&upn)).expect("add");
                let program = role.is_per_program().then_some(OWN);
                operators::grant(&mut store, &root, &upn, role, program).expect("grant");
            }
            store
        }

        /// Runs the use case for `action` on `program`; `None` when the action has no use case
        /// for that scope.
        fn run(
            store: &mut Store,
            actor: &Actor,
            action: Action,
            program: Option<&str>,
            n: usize,
        ) -> Option<Result<(), Error>> {
            let root = Actor::operator(ROOT);
            let r = match (action, program) {
                (Action::ProgramCreate, None) => programs::add(
                    store,
                    actor,
                    NewProgram {
                        name: format!("New {n}"),
                        code: Some(format!("new{n}")),
                        description: None,
                    },
                )
                .map(drop),
                (Action::ProgramEdit, Some(p)) => programs::edit(
                    store,
                    actor,
                    p,
                    ProgramChanges {
                        name: None,
                        description: Some(format!("text {n}")),
                    },
                    None,
                )
                .map(drop),
                (Action::ProgramArchive, Some(p)) => {
                    let r = programs::set_archived(store, actor, p, true, None).map(drop);
                    programs::set_archived(store, &root, p, false, None).expect("root unarchives");
                    r
                }
                (Action::ModeToggle, Some(p)) => programs::set_mode(
                    store,
                    actor,
                    p,
                    MeetingMode::Phone,
                    n.is_multiple_of(2),
                    None,
                )
                .map(drop),
                (Action::ParticipantsEdit, Some(p)) => {
                    participants::add(store, actor, p, &format!("p{n}@x.com"), "").map(drop)
                }
                (Action::ViewProgram, Some(p)) => programs::show(store, actor, p)
                    .and_then(|_| participants::list(store, actor, p))
                    .map(drop),
                (Action::AuditView, p) => audit::list(
                    store,
                    actor,
                    &audit::AuditFilter {
                        program_code: p.map(Into::into),
                        ..Default::default()
                    },
                )
                .map(drop),
                (Action::OperatorsManage, None) => operators::add(
                    store,
                    actor,
                    NewOperator {
                        upn: format!("new{n}@x.com"),
                        display_name: String::new(),
                    },
                )
                .map(drop),
                (Action::OperatorsView, None) => operators::roster(store, actor).map(drop),
                (
                    Action::IntegrationManage
                    | Action::MembershipCheck
                    | Action::MeetingsManage
                    | Action::BatchesManage,
                    p,
                ) => require(store.conn(), actor, action, p).map(drop),
                _ => return None,
            };
            Some(r)
        }

        #[test]
        fn use_cases_on_a_real_store_enforce_the_same_matrix() {
            let mut store = setup();
            let mut n = 0;
            let mut ran = 0;
            for role in Role::ALL {
                let upn = format!("{}@x.com", role.as_str());
                let actor = Actor::operator(&upn);
                let who = holder(role);
                for action in Action::ALL {
                    for program in [Some(OWN), Some(OTHER), None] {
                        n += 1;
                        let Some(got) = run(&mut store, &actor, action, program, n) else {
                            continue;
                        };
                        ran += 1;
                        let want = decide(&who, action, program);
                        match (&want, got) {
                            (Decision::Allowed, Ok(())) => {}
                            (Decision::Denied { .. }, Err(e)) => {
                                assert_eq!(
                                    e.code(),
                                    ErrorCode::Denied,
                                    "{role} {action:?} {program:?}: refused as denied: {e}"
                                );
                                let msg = e.to_string();
                                assert!(
                                    msg.contains(&upn) && msg.contains(role.label()),
                                    "the denial names the operator and the role: {msg}"
                                );
                                if let Some(p) = program {
                                    assert!(
                                        msg.contains(&format!("'{p}'")),
                                        "the denial names the program: {msg}"
                                    );
                                }
                            }
                            (want, got) => panic!(
                                "{role} {action:?} {program:?}: core rule says {want:?}, use case gave {got:?}"
                            ),
                        }
                    }
                }
            }
            assert!(
                ran >= 4 * 13 * 2,
                "own and other program ran for every role and action: {ran}"
            );
        }

        #[test]
        fn program_list_shows_only_what_the_operator_may_view() {
            let store = setup();
            let codes = |upn: &str| -> Vec<String> {
                programs::list(&store, &Actor::operator(upn), &Default::default())
                    .expect("list")
                    .into_iter()
                    .map(|p| p.program.code)
                    .collect()
            };
            assert_eq!(
                codes("support@x.com"),
                vec!["eng", "ops"],
                "support sees everything"
            );
            assert_eq!(
                codes("track_admin@x.com"),
                vec!["eng"],
                "a track admin sees their own programs"
            );
            assert_eq!(
                codes("coordinator@x.com"),
                vec!["eng"],
                "a coordinator sees their own programs"
            );
        }

        #[test]
        fn removed_or_deactivated_operators_lose_access_at_once() {
            let mut store = setup();
            let root = Actor::operator(ROOT);
            let ta = Actor::operator("track_admin@x.com");
            operators::set_active(&mut store, &root, "track_admin@x.com", false)
                .expect("deactivate");
            let e = programs::show(&store, &ta, OWN).expect_err("deactivated");
            assert!(e.to_string().contains("deactivated"), "says why: {e}");
            operators::remove(&mut store, &root, "track_admin@x.com").expect("remove");
            let e = programs::show(&store, &ta, OWN).expect_err("removed");
            assert!(e.to_string().contains("not an operator"), "says why: {e}");
            let e = programs::show(&store, &Actor::local(), OWN).expect_err("local after setup");
            assert!(e.to_string().contains("sign in first"), "says why: {e}");
        }
    }
}
