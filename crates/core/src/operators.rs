//! Operators (the people who use the app) and their roles: the roster use cases over
//! `store::operators`, setup mode and the first global admin.
//!
//! - A store with no operators is in **setup mode**: the local user may do everything.
//! - The first operator — added by hand, or the first account to sign in
//!   ([`bootstrap_or_match`]) — becomes global admin, which ends setup mode. Both are audited.
//! - The last active global admin cannot be removed, deactivated or demoted.
//! - Operators are never tied to the integration row: removing the operator who connected the
//!   tenant leaves the integration as it is.
//!
//! Changing the roster needs [`Action::OperatorsManage`]; reading it [`Action::OperatorsView`].
//! Every change is one transaction with exactly one audit row. This module never signs anyone in:
//! the sign-in flow (in `auth`) calls [`bootstrap_or_match`] with the identity it verified.

use serde::Serialize;
use serde_json::json;

use crate::access::{self, Action, Role, RoleGrant};
use crate::actor::Actor;
use crate::error::Error;
use crate::participants::validate_email;
use crate::programs::load as load_program;
use crate::store::audit_log::AuditEntry;
use crate::store::page::Page;
use crate::store::prelude::*;
use crate::store::Store;

pub use crate::store::operators::OperatorRow as Operator;

/// What `operators list` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Roster {
    /// True while there are no operators: the local user may do everything.
    pub setup_mode: bool,
    /// Every operator, by UPN.
    pub operators: Vec<Operator>,
}

/// Input for [`add`].
#[derive(Debug, Clone, Default)]
pub struct NewOperator {
    /// Sign-in name (user principal name), e.g. `ann@contoso.com`.
    pub upn: String,
    /// Display name; may be empty until they sign in.
    pub display_name: String,
}

/// Whether the store is in setup mode (no operators yet).
pub fn is_setup_mode(store: &Store) -> Result<bool, Error> {
    Ok(store.tables().operator_count()? == 0)
}

/// The environment variable that turns on impersonation (`--as UPN` / `TSCHED_OPERATOR`):
/// acting as a roster operator without proving it. For tests and trusted automation on a test
/// machine only; every audit row written that way records the real local user beside the
/// operator's name.
pub const IMPERSONATION_SWITCH: &str = "TSCHED_TEST_IMPERSONATION";

/// Whether the test-only impersonation switch is on in this process's environment.
pub fn impersonation_allowed() -> bool {
    std::env::var(IMPERSONATION_SWITCH).is_ok_and(|v| v.trim() == "1")
}

/// Who acts when a front end names an operator (`--as` / `TSCHED_OPERATOR`) without a proven
/// sign-in: in setup mode the local user (who may do everything anyway); otherwise only with
/// the test-only switch ([`IMPERSONATION_SWITCH`]) on, and then as an impersonated actor whose
/// audit rows name the real local user too. Without the switch: `Denied`.
pub fn impersonated_actor(store: &Store, upn: &str, switch_on: bool) -> Result<Actor, Error> {
    let tables = store.tables();
    if tables.operator_count()? == 0 {
        return Ok(Actor::local());
    }
    if !switch_on {
        return Err(Error::Denied(format!(
            "acting as '{}' needs proof of who you are: sign in (`tsched login`, or Sign in in the window); naming an operator with --as / TSCHED_OPERATOR is a test-only switch ({IMPERSONATION_SWITCH}=1)",
            upn.trim()
        )));
    }
    match tables.operator_by_upn(upn.trim())? {
        Some(op) => Ok(Actor::impersonated(op.upn)),
        None => Err(Error::Denied(format!(
            "'{}' is not an operator of this store; a global admin can add them",
            upn.trim()
        ))),
    }
}

/// Decides who acts for a front end from a **proven** identity: the operator `upn` (signed in
/// and matched to the roster in this process, or proven by [`crate::signin::cli_actor`]) when
/// they are in the roster, else the local user while in setup mode, else `Denied` ("sign in
/// first"). Never pass a name the person merely typed: that is [`impersonated_actor`].
pub fn actor_for(store: &Store, upn: Option<&str>) -> Result<Actor, Error> {
    let tables = store.tables();
    let upn = upn.map(str::trim).filter(|u| !u.is_empty());
    if let Some(upn) = upn {
        if let Some(op) = tables.operator_by_upn(upn)? {
            return Ok(Actor::operator(op.upn));
        }
    }
    if tables.operator_count()? == 0 {
        return Ok(Actor::local());
    }
    Err(Error::Denied(match upn {
        Some(u) => format!("'{u}' is not an operator of this store; a global admin can add them"),
        None => "sign in first: this store has operators, so setup mode is over".into(),
    }))
}

/// The display name the roster holds for `upn`, if any (empty names count as none).
pub fn display_name(store: &Store, upn: &str) -> Result<Option<String>, Error> {
    Ok(store
        .tables()
        .operator_by_upn(upn)?
        .map(|o| o.display_name)
        .filter(|n| !n.is_empty()))
}

/// Who the actor is, resolved against the roster (roles, or setup mode).
pub fn whoami(store: &Store, actor: &Actor) -> Result<access::Resolved, Error> {
    access::resolve(store.tables(), actor)
}

/// The roster. Needs [`Action::OperatorsView`].
pub fn roster(store: &Store, actor: &Actor) -> Result<Roster, Error> {
    let conn = store.tables();
    access::require(conn, actor, Action::OperatorsView, None)?;
    let operators = conn.operators_list()?;
    Ok(Roster {
        setup_mode: operators.is_empty(),
        operators,
    })
}

/// One page of the roster, by UPN; `after` is the previous page's `next_cursor`. Needs
/// [`Action::OperatorsView`]. (The roster is small; [`roster`] returns it whole.)
pub fn list_page(
    store: &Store,
    actor: &Actor,
    after: Option<&str>,
    limit: u32,
) -> Result<Page<Operator>, Error> {
    let conn = store.tables();
    access::require(conn, actor, Action::OperatorsView, None)?;
    Ok(conn.operators_page(after, limit)?)
}

fn load(conn: &dyn Tables, upn: &str) -> Result<Operator, Error> {
    conn.operator_by_upn(upn)?.ok_or_else(|| Error::NotFound {
        what: "operator",
        key: upn.trim().to_string(),
    })
}

fn snapshot(op: &Operator) -> serde_json::Value {
    json!({
        "upn": op.upn, "display_name": op.display_name, "active": op.active,
        "roles": op.roles.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// Refuses a change that would leave no active global admin (call after making it, inside the
/// transaction, so the refusal rolls it back).
fn keep_a_global_admin(conn: &dyn Tables, upn: &str) -> Result<(), Error> {
    if conn.operator_count_active_global_admins()? == 0 {
        return Err(Error::Conflict(format!(
            "{upn} is the last global admin; grant global-admin to another operator first"
        )));
    }
    Ok(())
}

/// Adds an operator. Needs [`Action::OperatorsManage`]. In setup mode the first operator becomes
/// global admin (ending setup mode), so the store is never left without one.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label))]
pub fn add(store: &mut Store, actor: &Actor, input: NewOperator) -> Result<Operator, Error> {
    let upn = validate_email(&input.upn).map_err(|r| Error::invalid("upn", r))?;
    let display_name = crate::participants::validate_display_name(&input.display_name)
        .map_err(|r| Error::invalid("display_name", r))?;
    store.write(|tx| {
        let who = access::require(tx, actor, Action::OperatorsManage, None)?;
        if let Some(existing) = tx.operator_by_upn(&upn)? {
            return Err(Error::Conflict(format!(
                "operator '{}' already exists",
                existing.upn
            )));
        }
        let first = tx.operator_count()? == 0;
        let id = tx.operator_insert(&upn, None, &display_name)?;
        if first {
            tx.operator_grant(id, Role::GlobalAdmin, None)?;
        }
        let op = load(tx, &upn)?;
        let mut after = snapshot(&op);
        after["ends_setup_mode"] = json!(first);
        who.audit(
            tx,
            AuditEntry {
                action: "operator.add",
                target: &format!("operator:{}", op.upn),
                after: Some(after),
                ..Default::default()
            },
        )?;
        Ok(op)
    })
}

/// Removes an operator and their roles. Needs [`Action::OperatorsManage`]; refused for the last
/// active global admin. The integration is not touched, even if they connected it.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label))]
pub fn remove(store: &mut Store, actor: &Actor, upn: &str) -> Result<(), Error> {
    store.write(|tx| {
        let who = access::require(tx, actor, Action::OperatorsManage, None)?;
        let op = load(tx, upn)?;
        tx.operator_delete(op.id)?;
        keep_a_global_admin(tx, &op.upn)?;
        who.audit(
            tx,
            AuditEntry {
                action: "operator.remove",
                target: &format!("operator:{}", op.upn),
                before: Some(snapshot(&op)),
                ..Default::default()
            },
        )?;
        Ok(())
    })
}

/// Deactivates (`false`) or reactivates (`true`) an operator: they keep their roles but may not
/// act while inactive. Needs [`Action::OperatorsManage`]; refused for the last active global
/// admin. Already in that state: no change.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, active))]
pub fn set_active(
    store: &mut Store,
    actor: &Actor,
    upn: &str,
    active: bool,
) -> Result<Operator, Error> {
    store.write(|tx| {
        let who = access::require(tx, actor, Action::OperatorsManage, None)?;
        let before = load(tx, upn)?;
        if before.active == active {
            return Ok(before);
        }
        tx.operator_set_active(before.id, active)?;
        keep_a_global_admin(tx, &before.upn)?;
        let after = load(tx, &before.upn)?;
        who.audit(
            tx,
            AuditEntry {
                action: if active {
                    "operator.activate"
                } else {
                    "operator.deactivate"
                },
                target: &format!("operator:{}", after.upn),
                before: Some(json!({"active": before.active})),
                after: Some(json!({"active": after.active})),
                ..Default::default()
            },
        )?;
        Ok(after)
    })
}

/// Resolves the program of a role change: per-program roles need one, the others refuse one.
fn role_program(
    conn: &dyn Tables,
    role: Role,
    program: Option<&str>,
) -> Result<Option<(i64, String)>, Error> {
    match (role.is_per_program(), program) {
        (true, Some(code)) => {
            let p = load_program(conn, code)?;
            Ok(Some((p.id, p.code)))
        }
        (true, None) => Err(Error::invalid(
            "program",
            format!("a {role} role is granted for one program; name it with --program CODE"),
        )),
        (false, Some(_)) => Err(Error::invalid(
            "program",
            format!("{role} holds for every program; do not give --program"),
        )),
        (false, None) => Ok(None),
    }
}

/// Grants a role (per-program roles need `program`). Needs [`Action::OperatorsManage`];
/// `NotFound` for an unknown operator or program; `Conflict` when already held; `Denied` for a
/// grant to oneself (another global admin must make it), as the team database's roster
/// function refuses it too, so both stores give the same answer.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = program.unwrap_or("")))]
pub fn grant(
    store: &mut Store,
    actor: &Actor,
    upn: &str,
    role: Role,
    program: Option<&str>,
) -> Result<Operator, Error> {
    store.write(|tx| {
        let who = access::require(tx, actor, Action::OperatorsManage, None)?;
        let before = load(tx, upn)?;
        if matches!(who.subject, access::Subject::Operator { .. })
            && who.label.eq_ignore_ascii_case(&before.upn)
        {
            return Err(Error::Denied(format!(
                "{} may not grant themselves a role; another global admin must",
                before.upn
            )));
        }
        let prog = role_program(tx, role, program)?;
        let grant = RoleGrant {
            role,
            program: prog.as_ref().map(|(_, c)| c.clone()),
        };
        if before.roles.contains(&grant) {
            return Err(Error::Conflict(format!(
                "{} already holds {grant}",
                before.upn
            )));
        }
        tx.operator_grant(before.id, role, prog.as_ref().map(|(id, _)| *id))?;
        let after = load(tx, &before.upn)?;
        who.audit(
            tx,
            AuditEntry {
                action: "operator.grant",
                target: &format!("operator:{}", after.upn),
                program_code: grant.program.as_deref(),
                before: Some(snapshot(&before)),
                after: Some(snapshot(&after)),
                ..Default::default()
            },
        )?;
        Ok(after)
    })
}

/// Revokes a role. Needs [`Action::OperatorsManage`]; `NotFound` when not held; refused when it
/// would leave no active global admin.
#[tracing::instrument(skip_all, err(level = "warn"), fields(operator = %actor.label, program = program.unwrap_or("")))]
pub fn revoke(
    store: &mut Store,
    actor: &Actor,
    upn: &str,
    role: Role,
    program: Option<&str>,
) -> Result<Operator, Error> {
    store.write(|tx| {
        let who = access::require(tx, actor, Action::OperatorsManage, None)?;
        let before = load(tx, upn)?;
        let prog = role_program(tx, role, program)?;
        let grant = RoleGrant {
            role,
            program: prog.as_ref().map(|(_, c)| c.clone()),
        };
        if tx.operator_revoke(before.id, role, prog.as_ref().map(|(id, _)| *id))? == 0 {
            return Err(Error::NotFound {
                what: "role",
                key: format!("{grant}' of operator '{}", before.upn),
            });
        }
        keep_a_global_admin(tx, &before.upn)?;
        let after = load(tx, &before.upn)?;
        who.audit(
            tx,
            AuditEntry {
                action: "operator.revoke",
                target: &format!("operator:{}", after.upn),
                program_code: grant.program.as_deref(),
                before: Some(snapshot(&before)),
                after: Some(snapshot(&after)),
                ..Default::default()
            },
        )?;
        Ok(after)
    })
}

/// Inside a write transaction: when the store is in setup mode, makes the account that just
/// signed in (`via`: "operator sign-in" or "integration connect") the first global admin,
/// audited `operator.bootstrap`; `None` when operators already exist.
pub(crate) fn bootstrap_in(
    tx: &dyn Tables,
    object_id: &str,
    upn: &str,
    display_name: &str,
    via: &str,
) -> Result<Option<Operator>, Error> {
    if tx.operator_count()? != 0 {
        return Ok(None);
    }
    let upn = validate_email(upn).map_err(|r| Error::invalid("upn", r))?;
    let display_name = crate::participants::validate_display_name(display_name)
        .map_err(|r| Error::invalid("display_name", r))?;
    let id = tx.operator_insert(&upn, Some(object_id), &display_name)?;
    tx.operator_grant(id, Role::GlobalAdmin, None)?;
    let op = load(tx, &upn)?;
    let mut after = snapshot(&op);
    after["ends_setup_mode"] = json!(true);
    after["via"] = json!(via);
    tx.audit_append(&AuditEntry {
        operator: &op.upn,
        action: "operator.bootstrap",
        target: &format!("operator:{}", op.upn),
        after: Some(after),
        ..Default::default()
    })?;
    Ok(Some(op))
}

/// Called by the sign-in flow (operator sign-in, or the host while connecting the integration)
/// with the identity it verified. In setup mode the account becomes the first global admin
/// (audited `operator.bootstrap`). Otherwise it must match an active operator, by object id or
/// else by UPN; the first sign-in of an operator added by UPN records their object id (audited
/// `operator.link`). Anyone else is `Denied`.
pub fn bootstrap_or_match(
    store: &mut Store,
    object_id: &str,
    upn: &str,
    display_name: &str,
) -> Result<Operator, Error> {
    let object_id = object_id.trim();
    if object_id.is_empty() {
        return Err(Error::invalid(
            "object_id",
            "the signed-in account has no object id",
        ));
    }
    let upn = validate_email(upn).map_err(|r| Error::invalid("upn", r))?;
    let display_name = crate::participants::validate_display_name(display_name)
        .map_err(|r| Error::invalid("display_name", r))?;
    store.write(|tx| {
        if let Some(op) = bootstrap_in(tx, object_id, &upn, &display_name, "operator sign-in")? {
            return Ok(op);
        }
        let op = match tx.operator_by_object_id(object_id)? {
            Some(op) => op,
            None => match tx.operator_by_upn(&upn)? {
                Some(op) if op.object_id.is_none() => {
                    tx.operator_link_identity(op.id, object_id, &display_name)?;
                    let linked = load(tx, &op.upn)?;
                    tx.audit_append(&AuditEntry {
                            operator: &linked.upn,
                            action: "operator.link",
                            target: &format!("operator:{}", linked.upn),
                            before: Some(json!({"object_id": null, "display_name": op.display_name})),
                            after: Some(json!({"object_id": object_id, "display_name": linked.display_name})),
                            ..Default::default()
                        },
                    )?;
                    linked
                }
                Some(op) => {
                    return Err(Error::Denied(format!(
                        "the account that signed in is not the operator {} on record (a different directory object); a global admin must remove and re-add {}",
                        op.upn, op.upn
                    )))
                }
                None => {
                    return Err(Error::Denied(format!(
                        "{upn} is not an operator of this store; ask a global admin to add you"
                    )))
                }
            },
        };
        if !op.active {
            return Err(Error::Denied(format!(
                "operator '{}' is deactivated; a global admin can reactivate them",
                op.upn
            )));
        }
        Ok(op)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn audit_actions(store: &Store) -> Vec<String> {
        store
            .tables()
            .audit_list(&Default::default())
            .expect("audit")
            .into_iter()
            .rev()
            .map(|r| r.action)
            .collect()
    }

    fn new_op(upn: &str) -> NewOperator {
        NewOperator {
            upn: upn.into(),
            display_name: String::new(),
        }
    }

    #[test]
    fn first_operator_added_in_setup_mode_becomes_global_admin() {
        let mut store = Store::open_in_memory().expect("store");
        assert!(
            is_setup_mode(&store).expect("mode"),
            "an empty store is in setup mode"
        );
        let op = add(&mut store, &Actor::local(), new_op("ann@x.com")).expect("add");
        assert_eq!(
            op.roles,
            vec![RoleGrant::global(Role::GlobalAdmin)],
            "the first operator must be global admin so the store is never locked"
        );
        assert!(
            !is_setup_mode(&store).expect("mode"),
            "adding an operator ends setup mode"
        );
        let e = add(&mut store, &Actor::local(), new_op("bob@x.com")).expect_err("setup over");
        assert_eq!(
            e.code(),
            ErrorCode::Denied,
            "after setup mode the local user must sign in: {e}"
        );
        let bob = add(
            &mut store,
            &Actor::operator("ann@x.com"),
            new_op("bob@x.com"),
        )
        .expect("admin adds");
        assert!(bob.roles.is_empty(), "later operators start with no roles");
        assert_eq!(audit_actions(&store), vec!["operator.add", "operator.add"]);
    }

    #[test]
    fn bootstrap_makes_the_first_sign_in_global_admin_then_matches() {
        let mut store = Store::open_in_memory().expect("store");
        let op = bootstrap_or_match(&mut store, "oid-1", "ann@x.com", "Ann").expect("bootstrap");
        assert_eq!(op.roles, vec![RoleGrant::global(Role::GlobalAdmin)]);
        assert_eq!(audit_actions(&store), vec!["operator.bootstrap"]);
        let again = bootstrap_or_match(&mut store, "oid-1", "ann@x.com", "Ann").expect("match");
        assert_eq!(
            again.id, op.id,
            "signing in again matches the same operator"
        );
        assert_eq!(
            audit_actions(&store).len(),
            1,
            "a plain sign-in changes nothing and writes no audit row"
        );
        let e = bootstrap_or_match(&mut store, "oid-2", "eve@x.com", "Eve").expect_err("stranger");
        assert_eq!(e.code(), ErrorCode::Denied, "a stranger is refused: {e}");
        add(
            &mut store,
            &Actor::operator("ann@x.com"),
            new_op("bob@x.com"),
        )
        .expect("add bob");
        let bob = bootstrap_or_match(&mut store, "oid-3", "BOB@x.com", "Bob").expect("link");
        assert_eq!(
            bob.object_id.as_deref(),
            Some("oid-3"),
            "first sign-in links the object id"
        );
        assert_eq!(bob.display_name, "Bob");
        let e =
            bootstrap_or_match(&mut store, "oid-4", "bob@x.com", "Bob").expect_err("other object");
        assert_eq!(
            e.code(),
            ErrorCode::Denied,
            "another directory object with bob's UPN is not bob: {e}"
        );
    }

    #[test]
    fn a_global_admin_granting_themselves_a_role_is_denied_as_on_the_team_database() {
        let mut store = Store::open_in_memory().expect("store");
        add(&mut store, &Actor::local(), new_op("ann@x.com")).expect("ann");
        let ann = Actor::operator("ann@x.com");
        let before = audit_actions(&store).len();
        let e = grant(&mut store, &ann, "ANN@x.com", Role::Support, None).expect_err("self");
        assert_eq!(e.code(), ErrorCode::Denied, "a self-grant is refused: {e}");
        assert!(
            e.to_string().contains("may not grant themselves a role"),
            "the refusal says why, in the team database's words: {e}"
        );
        assert_eq!(
            audit_actions(&store).len(),
            before,
            "a refused self-grant writes nothing"
        );
        add(&mut store, &ann, new_op("bob@x.com")).expect("bob");
        grant(&mut store, &ann, "bob@x.com", Role::Support, None)
            .expect("granting someone else is still a global admin's right");
    }

    #[test]
    fn last_global_admin_cannot_be_removed_deactivated_or_demoted() {
        let mut store = Store::open_in_memory().expect("store");
        let me = Actor::local();
        add(&mut store, &me, new_op("ann@x.com")).expect("ann");
        let ann = Actor::operator("ann@x.com");
        let before = audit_actions(&store).len();
        for e in [
            remove(&mut store, &ann, "ann@x.com").expect_err("remove"),
            set_active(&mut store, &ann, "ann@x.com", false).expect_err("deactivate"),
            revoke(&mut store, &ann, "ann@x.com", Role::GlobalAdmin, None).expect_err("demote"),
        ] {
            assert_eq!(e.code(), ErrorCode::Conflict, "refused: {e}");
            assert!(
                e.to_string().contains("last global admin"),
                "the refusal says why: {e}"
            );
        }
        assert_eq!(
            audit_actions(&store).len(),
            before,
            "refusals write nothing"
        );
        add(&mut store, &ann, new_op("bob@x.com")).expect("bob");
        grant(&mut store, &ann, "bob@x.com", Role::GlobalAdmin, None).expect("grant");
        remove(&mut store, &ann, "ann@x.com").expect("now ann may go");
        let e = roster(&store, &ann).expect_err("ann is gone");
        assert_eq!(
            e.code(),
            ErrorCode::Denied,
            "a removed operator loses access at once"
        );
    }

    #[test]
    fn removing_the_operator_who_connected_the_integration_leaves_it_connected() {
        let mut store = Store::open_in_memory().expect("store");
        bootstrap_or_match(&mut store, "oid-1", "host@x.com", "Host").expect("bootstrap");
        store
            .conn()
            .execute(
                "INSERT INTO integration (id, cloud, authority_base, graph_base, tenant_id, client_id,
                 host_object_id, host_upn, granted_scopes, state, connected_at, connected_by)
                 VALUES (1, 'global', 'a', 'g', 't', 'c', 'oid-1', 'host@x.com', 's', 'connected', 'now', 'host@x.com')",
                [],
            )
            .expect("integration row");
        let host = Actor::operator("host@x.com");
        add(&mut store, &host, new_op("bob@x.com")).expect("bob");
        grant(&mut store, &host, "bob@x.com", Role::GlobalAdmin, None).expect("grant");
        remove(&mut store, &Actor::operator("bob@x.com"), "host@x.com").expect("remove host");
        let state: String = store
            .conn()
            .query_row("SELECT state FROM integration", [], |r| r.get(0))
            .expect("integration row still there");
        assert_eq!(
            state, "connected",
            "removing the operator who connected must not disturb the integration"
        );
    }

    #[test]
    fn grant_checks_operator_program_and_scope() {
        let mut store = Store::open_in_memory().expect("store");
        let me = Actor::local();
        crate::programs::add(
            &mut store,
            &me,
            crate::programs::NewProgram {
                name: "Eng".into(),
                code: Some("eng".into()),
                description: None,
            },
        )
        .expect("program");
        add(&mut store, &me, new_op("ann@x.com")).expect("ann");
        let ann = Actor::operator("ann@x.com");
        let e = grant(&mut store, &ann, "nobody@x.com", Role::Support, None).expect_err("unknown");
        assert_eq!(e.code(), ErrorCode::NotFound, "{e}");
        assert_eq!(e.to_string(), "operator 'nobody@x.com' does not exist");
        add(&mut store, &ann, new_op("bob@x.com")).expect("bob");
        let e =
            grant(&mut store, &ann, "bob@x.com", Role::TrackAdmin, None).expect_err("no program");
        assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}");
        let e =
            grant(&mut store, &ann, "bob@x.com", Role::Support, Some("eng")).expect_err("scoped");
        assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}");
        let e = grant(&mut store, &ann, "bob@x.com", Role::TrackAdmin, Some("zzz"))
            .expect_err("no such program");
        assert_eq!(e.code(), ErrorCode::NotFound, "{e}");
        let bob =
            grant(&mut store, &ann, "bob@x.com", Role::TrackAdmin, Some("ENG")).expect("grant");
        assert_eq!(bob.roles, vec![RoleGrant::of(Role::TrackAdmin, "eng")]);
        let e =
            grant(&mut store, &ann, "bob@x.com", Role::TrackAdmin, Some("eng")).expect_err("twice");
        assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
        let bob =
            revoke(&mut store, &ann, "bob@x.com", Role::TrackAdmin, Some("eng")).expect("revoke");
        assert!(bob.roles.is_empty(), "revoked");
        let e = revoke(&mut store, &ann, "bob@x.com", Role::TrackAdmin, Some("eng"))
            .expect_err("not held");
        assert_eq!(e.code(), ErrorCode::NotFound, "{e}");
    }
}
