//! `OperatorTable`, `AuditTable` and `IntegrationTable` on both backends.
//!
//! The roster on PostgreSQL changes only through roles.sql's functions: the owner (the store
//! `support::postgres_store` hands out) may only bootstrap the first global admin while the
//! roster is empty; every later change needs an active global admin's session. So the roster
//! tests bootstrap `admin@x.test` as the owner and then work in a second store connected as that
//! login ([`with_admin`]); on SQLite the same store does both.

use serde_json::json;
use tsched_core::operators::{self, NewOperator};
use tsched_core::roles::{Role, RoleGrant};
use tsched_core::store::audit_log::{AuditEntry, AuditFilter, AuditRow};
use tsched_core::store::integration::{IntegrationRow, RowState};
use tsched_core::store::page::PageError;
use tsched_core::store::prelude::*;
use tsched_core::store::{Store, StoreError};
use tsched_core::Actor;
use tsched_pgtest::Cluster;

use crate::support::{self, write};

const ADMIN: &str = "admin@x.test";
const ADMIN_PW: &str = "admin-pw-1";
const DB: &str = "tsched";

/// Runs `f` in one write that must fail; returns the error (the write is rolled back).
fn refused<T: std::fmt::Debug>(
    backend: &str,
    store: &mut Store,
    what: &str,
    f: impl FnOnce(&dyn Tables) -> Result<T, StoreError>,
) -> StoreError {
    match store.write(f) {
        Ok(v) => panic!("{backend}: {what} must be refused, got {v:?}"),
        Err(e) => e,
    }
}

fn sqlstate(e: &StoreError) -> Option<&str> {
    match e {
        StoreError::Pg { sqlstate, .. } => sqlstate.as_deref(),
        StoreError::PgDenied { .. } => Some("42501"),
        _ => None,
    }
}

/// Where a roster test runs: the backend's name, and the cluster for PostgreSQL.
struct Ctx<'a> {
    backend: &'static str,
    cluster: Option<&'a Cluster>,
}

impl Ctx<'_> {
    /// Adds a program (the PostgreSQL programs table is another part's: seeded as the
    /// superuser) and returns its id.
    fn program(&self, store: &mut Store, code: &str) -> i64 {
        match self.cluster {
            None => write(self.backend, store, |tx| {
                tx.program_insert(code, &format!("{code} name"), "", &[])
            }),
            Some(c) => c
                .superuser_sql(
                    DB,
                    &format!(
                        "INSERT INTO tsched.programs (code, name, created_at, updated_at) \
                         VALUES ('{code}', '{code} name', '2027-01-01T00:00:00Z', \
                         '2027-01-01T00:00:00Z') RETURNING id;"
                    ),
                )
                .lines()
                .next()
                .and_then(|l| l.trim().parse().ok())
                .expect("the program's id"),
        }
    }

    /// `login`'s LOGIN attribute and `tsched_*` groups (PostgreSQL only).
    fn login_state(&self, login: &str) -> String {
        let c = self.cluster.expect("PostgreSQL only");
        c.superuser_sql(
            "postgres",
            &format!(
                "SELECT r.rolcanlogin || ':' || coalesce((SELECT string_agg(g.rolname, ',' \
                 ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid \
                 WHERE m.member = r.oid), '') FROM pg_roles r WHERE r.rolname = '{login}';"
            ),
        )
        .trim()
        .to_string()
    }
}

/// The first global admin, as setup makes them: inserted while the roster is empty, then granted
/// global admin (on PostgreSQL the insert is `tsched_bootstrap`, which grants it at once).
fn bootstrap_admin(backend: &str, store: &mut Store) -> i64 {
    write(backend, store, |tx| {
        assert_eq!(tx.operator_count()?, 0, "{backend}: an empty roster");
        let id = tx.operator_insert(ADMIN, None, "Admin")?;
        assert_eq!(
            tx.operator_grant(id, Role::GlobalAdmin, None)?,
            1,
            "{backend}: the first grant"
        );
        Ok(id)
    })
}

/// Runs `test` on SQLite (one store) and on PostgreSQL as a bootstrapped global admin's session.
fn with_admin(test: impl Fn(&Ctx<'_>, &mut Store)) {
    let mut sqlite = Store::open_in_memory().expect("in-memory store");
    bootstrap_admin("sqlite", &mut sqlite);
    test(
        &Ctx {
            backend: "sqlite",
            cluster: None,
        },
        &mut sqlite,
    );
    let mut pg = support::postgres_store();
    pg.cluster.create_login(ADMIN, ADMIN_PW);
    bootstrap_admin("postgres", &mut pg.store);
    let mut admin = support::connect_as(&pg.cluster, ADMIN, ADMIN_PW);
    test(
        &Ctx {
            backend: "postgres",
            cluster: Some(&pg.cluster),
        },
        &mut admin,
    );
}

fn grant(role: Role, program: Option<&str>) -> RoleGrant {
    RoleGrant {
        role,
        program: program.map(str::to_string),
    }
}

fn upns(ops: &[tsched_core::store::operators::OperatorRow]) -> Vec<&str> {
    ops.iter().map(|o| o.upn.as_str()).collect()
}

#[test]
fn roster_reads_in_nocase_order_pages_and_finds_by_upn_and_object_id() {
    with_admin(|ctx, store| {
        let b = ctx.backend;
        for upn in [
            "bob@x.test",
            "Carol@X.test",
            "_dan@x.test",
            "Zed@x.test",
            "BETTY@x.test",
        ] {
            write(b, store, |tx| tx.operator_insert(upn, None, "Someone"));
        }
        let e = refused(b, store, "a UPN taken in another letter case", |tx| {
            tx.operator_insert("BOB@X.TEST", None, "")
        });
        if b == "postgres" {
            assert_eq!(sqlstate(&e), Some("23505"), "{b}: a unique violation: {e}");
        }
        let t = store.tables();
        assert_eq!(t.operator_count().expect("count"), 6, "{b}: six operators");
        let want = vec![
            "_dan@x.test",
            "admin@x.test",
            "BETTY@x.test",
            "bob@x.test",
            "Carol@X.test",
            "Zed@x.test",
        ];
        assert_eq!(
            upns(&t.operators_list().expect("list")),
            want,
            "{b}: by UPN, case-insensitively"
        );
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let p = t.operators_page(after.as_deref(), 2).expect("page");
            pages += 1;
            paged.extend(p.items.into_iter().map(|o| o.upn));
            match p.next_cursor {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(paged, want, "{b}: the pages together are the list");
        assert_eq!(pages, 3, "{b}: three pages of two");
        // A cursor made by one backend means the same on the other: it holds the UPN shown.
        let from_bob = t
            .operators_page(
                Some(&tsched_core::store::page::encode(
                    "operators",
                    &"BOB@x.test",
                )),
                10,
            )
            .expect("page after bob");
        assert_eq!(
            upns(&from_bob.items),
            vec!["Carol@X.test", "Zed@x.test"],
            "{b}: after a cursor in another letter case"
        );
        assert!(
            matches!(
                t.operators_page(Some("garbage!"), 2),
                Err(PageError::BadCursor(_))
            ),
            "{b}: a bad cursor"
        );
        let carol = t
            .operator_by_upn("  carol@x.TEST ")
            .expect("by upn")
            .expect("found");
        assert_eq!(
            (
                carol.upn.as_str(),
                carol.active,
                carol.display_name.as_str()
            ),
            ("Carol@X.test", true, "Someone"),
            "{b}: found whatever the case, trimmed"
        );
        assert!(carol.roles.is_empty(), "{b}: no roles yet");
        assert_eq!(carol.object_id, None, "{b}: not signed in yet");
        assert!(
            carol.created_at.ends_with('Z') && carol.created_at.len() == 20,
            "{b}: created_at in the store's form: {}",
            carol.created_at
        );
        assert_eq!(
            t.operator_by_upn("nobody@x.test").expect("by upn"),
            None,
            "{b}: unknown"
        );
        let admin = t.operator_by_upn(ADMIN).expect("by upn").expect("admin");
        assert_eq!(
            admin.roles,
            vec![grant(Role::GlobalAdmin, None)],
            "{b}: the bootstrapped admin"
        );
        assert_eq!(
            t.operator_roles(admin.id).expect("roles"),
            admin.roles,
            "{b}: roles by id"
        );
        assert_eq!(
            t.operator_roles(999_999).expect("roles"),
            vec![],
            "{b}: no operator, no roles"
        );

        // The admin's own sign-in records their object id; an empty name keeps the name.
        let n = write(b, store, |tx| {
            tx.operator_link_identity(admin.id, "oid-admin", "Admin Person")
        });
        assert_eq!(n, 1, "{b}: linked");
        let n = write(b, store, |tx| {
            tx.operator_link_identity(admin.id, "oid-admin", "")
        });
        assert_eq!(n, 1, "{b}: linked again with the same id");
        let n = write(b, store, |tx| {
            tx.operator_link_identity(999_999, "oid-x", "")
        });
        assert_eq!(n, 0, "{b}: no such operator");
        let t = store.tables();
        let by_oid = t
            .operator_by_object_id("oid-admin")
            .expect("by oid")
            .expect("found");
        assert_eq!(
            (
                by_oid.upn.as_str(),
                by_oid.display_name.as_str(),
                by_oid.object_id.as_deref()
            ),
            (ADMIN, "Admin Person", Some("oid-admin")),
            "{b}: found by object id, named at sign-in"
        );
        assert_eq!(by_oid.roles, admin.roles, "{b}: with roles");
        assert_eq!(
            t.operator_by_object_id("OID-ADMIN").expect("by oid"),
            None,
            "{b}: object ids match exactly"
        );
    });
}

#[test]
fn roles_are_granted_revoked_and_checked_like_sqlites_constraints() {
    with_admin(|ctx, store| {
        let b = ctx.backend;
        let eng = ctx.program(store, "eng");
        let ops = ctx.program(store, "Ops");
        let bob = write(b, store, |tx| tx.operator_insert("bob@x.test", None, "Bob"));
        write(b, store, |tx| {
            assert_eq!(tx.operator_grant(bob, Role::Coordinator, Some(ops))?, 1);
            assert_eq!(tx.operator_grant(bob, Role::TrackAdmin, Some(eng))?, 1);
            assert_eq!(tx.operator_grant(bob, Role::Coordinator, Some(eng))?, 1);
            assert_eq!(tx.operator_grant(bob, Role::Support, None)?, 1);
            Ok(())
        });
        let want = vec![
            grant(Role::TrackAdmin, Some("eng")),
            grant(Role::Coordinator, Some("Ops")),
            grant(Role::Coordinator, Some("eng")),
            grant(Role::Support, None),
        ];
        let mut want_sorted = want.clone();
        want_sorted.sort();
        let t = store.tables();
        assert_eq!(
            t.operator_roles(bob).expect("roles"),
            want_sorted,
            "{b}: sorted by role then program"
        );
        assert_eq!(
            t.operator_by_upn("BOB@x.test")
                .expect("by upn")
                .expect("bob")
                .roles,
            want_sorted,
            "{b}: the row carries them"
        );
        if ctx.cluster.is_some() {
            assert_eq!(
                ctx.login_state("bob@x.test"),
                "true:tsched_coordinator,tsched_operator,tsched_support,tsched_track_admin",
                "{b}: the login's groups follow the roles"
            );
        }

        // What the schema refuses on both backends.
        let e = refused(b, store, "a role held already", |tx| {
            tx.operator_grant(bob, Role::Support, None)
        });
        if ctx.cluster.is_some() {
            assert_eq!(sqlstate(&e), Some("23505"), "{b}: unique: {e}");
        }
        let e = refused(b, store, "a track admin without a program", |tx| {
            tx.operator_grant(bob, Role::TrackAdmin, None)
        });
        if ctx.cluster.is_some() {
            assert_eq!(sqlstate(&e), Some("23514"), "{b}: check: {e}");
        }
        refused(b, store, "a global admin bound to a program", |tx| {
            tx.operator_grant(bob, Role::GlobalAdmin, Some(eng))
        });
        let e = refused(b, store, "a grant to nobody", |tx| {
            tx.operator_grant(999_999, Role::Support, None)
        });
        if ctx.cluster.is_some() {
            assert_eq!(sqlstate(&e), Some("23503"), "{b}: foreign key: {e}");
        }
        refused(b, store, "a grant on no program", |tx| {
            tx.operator_grant(bob, Role::Coordinator, Some(999_999))
        });
        assert_eq!(
            store.tables().operator_roles(bob).expect("roles"),
            want_sorted,
            "{b}: the refusals changed nothing"
        );

        let revoked = write(b, store, |tx| {
            Ok([
                tx.operator_revoke(bob, Role::Coordinator, Some(eng))?,
                tx.operator_revoke(bob, Role::Coordinator, Some(eng))?,
                tx.operator_revoke(bob, Role::Support, None)?,
                tx.operator_revoke(bob, Role::GlobalAdmin, None)?,
                tx.operator_revoke(999_999, Role::Support, None)?,
                tx.operator_revoke(bob, Role::TrackAdmin, Some(999_999))?,
            ])
        });
        assert_eq!(
            revoked,
            [1, 0, 1, 0, 0, 0],
            "{b}: revoked once; not held, nobody, no program: 0"
        );
        assert_eq!(
            store.tables().operator_roles(bob).expect("roles"),
            vec![
                grant(Role::TrackAdmin, Some("eng")),
                grant(Role::Coordinator, Some("Ops")),
            ],
            "{b}: what is left"
        );
        if ctx.cluster.is_some() {
            assert_eq!(
                ctx.login_state("bob@x.test"),
                "true:tsched_coordinator,tsched_operator,tsched_track_admin",
                "{b}: support went with its last grant; coordinator stays for Ops"
            );
        }

        // A second global admin: the count is of active operators holding it.
        write(b, store, |tx| {
            tx.operator_grant(bob, Role::GlobalAdmin, None)
        });
        let t = store.tables();
        assert_eq!(
            t.operator_count_active_global_admins().expect("count"),
            2,
            "{b}: two global admins"
        );
        let n = write(b, store, |tx| tx.operator_set_active(bob, false));
        assert_eq!(n, 1, "{b}: deactivated");
        assert_eq!(
            store
                .tables()
                .operator_count_active_global_admins()
                .expect("count"),
            1,
            "{b}: an inactive admin does not count"
        );
    });
}

#[test]
fn operators_are_deactivated_and_removed_with_their_logins_following() {
    with_admin(|ctx, store| {
        let b = ctx.backend;
        let eng = ctx.program(store, "eng");
        let (bob, eve) = write(b, store, |tx| {
            let bob = tx.operator_insert("Bob@x.test", None, "Bob")?;
            let eve = tx.operator_insert("eve@x.test", None, "")?;
            tx.operator_grant(bob, Role::Coordinator, Some(eng))?;
            Ok((bob, eve))
        });
        assert_eq!(
            write(b, store, |tx| tx.operator_set_active(bob, false)),
            1,
            "{b}: deactivated"
        );
        let row = store
            .tables()
            .operator_by_upn("bob@x.test")
            .expect("by upn")
            .expect("kept");
        assert!(!row.active, "{b}: inactive");
        assert_eq!(
            row.roles,
            vec![grant(Role::Coordinator, Some("eng"))],
            "{b}: keeps their roles"
        );
        if ctx.cluster.is_some() {
            assert_eq!(
                ctx.login_state("bob@x.test"),
                "false:",
                "{b}: NOLOGIN and no groups while inactive"
            );
        }
        assert_eq!(
            write(b, store, |tx| tx.operator_set_active(bob, true)),
            1,
            "{b}: reactivated"
        );
        if ctx.cluster.is_some() {
            assert_eq!(
                ctx.login_state("bob@x.test"),
                "true:tsched_coordinator,tsched_operator",
                "{b}: back with their groups"
            );
        }
        assert_eq!(
            write(b, store, |tx| tx.operator_set_active(999_999, false)),
            0,
            "{b}: nobody to deactivate"
        );
        assert_eq!(
            write(b, store, |tx| tx.operator_delete(bob)),
            1,
            "{b}: removed"
        );
        assert_eq!(
            write(b, store, |tx| tx.operator_delete(bob)),
            0,
            "{b}: already gone"
        );
        let t = store.tables();
        assert_eq!(
            t.operator_by_upn("bob@x.test").expect("by upn"),
            None,
            "{b}: gone"
        );
        assert_eq!(
            t.operator_roles(bob).expect("roles"),
            vec![],
            "{b}: roles too"
        );
        assert_eq!(
            upns(&t.operators_list().expect("list")),
            vec![ADMIN, "eve@x.test"],
            "{b}: the rest"
        );
        assert!(eve > bob, "{b}: ids increase");
        if ctx.cluster.is_some() {
            assert_eq!(
                ctx.login_state("bob@x.test"),
                "false:",
                "{b}: the login stays, NOLOGIN, in no group"
            );
            assert_eq!(
                ctx.login_state("eve@x.test"),
                "true:tsched_operator",
                "{b}: a new operator's login"
            );
        }
    });
}

/// Where the backends differ, by design of roles.sql: the database refuses what the use cases
/// would refuse a moment later (the last global admin) and what SQLite allows (a self-grant).
#[test]
fn the_database_keeps_a_global_admin_and_refuses_self_grants() {
    with_admin(|ctx, store| {
        let b = ctx.backend;
        let admin = store
            .tables()
            .operator_by_upn(ADMIN)
            .expect("by upn")
            .expect("admin")
            .id;
        for (what, change) in [
            (
                "revoking the last global admin",
                Box::new(move |tx: &dyn Tables| tx.operator_revoke(admin, Role::GlobalAdmin, None))
                    as Box<dyn Fn(&dyn Tables) -> Result<usize, StoreError>>,
            ),
            (
                "deactivating the last global admin",
                Box::new(move |tx: &dyn Tables| tx.operator_set_active(admin, false)) as Box<_>,
            ),
            (
                "removing the last global admin",
                Box::new(move |tx: &dyn Tables| tx.operator_delete(admin)) as Box<_>,
            ),
        ] {
            let r = store.write(|tx| -> Result<i64, StoreError> {
                change(tx)?;
                // The use case's check; failing here rolls SQLite back.
                let left = tx.operator_count_active_global_admins()?;
                Err(StoreError::Pg {
                    message: format!("{left} active global admins left"),
                    sqlstate: Some("check".into()),
                    constraint: None,
                })
            });
            let e = r.expect_err("refused either way");
            match ctx.backend {
                "sqlite" => assert_eq!(
                    e.to_string(),
                    "team database error: 0 active global admins left",
                    "{b}: {what}: SQLite leaves it to the use case's check"
                ),
                _ => assert_eq!(
                    sqlstate(&e),
                    Some("23514"),
                    "{b}: {what}: the database refuses it itself: {e}"
                ),
            }
        }
        assert_eq!(
            store
                .tables()
                .operator_count_active_global_admins()
                .expect("count"),
            1,
            "{b}: still one global admin"
        );
        let r = store.write(|tx| tx.operator_grant(admin, Role::Support, None));
        match ctx.backend {
            "sqlite" => assert_eq!(r.expect("SQLite allows it"), 1, "{b}: self-grant"),
            _ => assert_eq!(
                sqlstate(&r.expect_err("refused")),
                Some("42501"),
                "{b}: nobody grants themselves a role"
            ),
        }
    });
}

/// The owner may bootstrap the first global admin only; it manages no roster afterwards.
#[test]
fn the_owner_bootstraps_once_and_manages_nothing_after() {
    let mut pg = support::postgres_store();
    let b = "postgres";
    let id = bootstrap_admin(b, &mut pg.store);
    let admin = pg
        .store
        .tables()
        .operator_by_upn(ADMIN)
        .expect("by upn")
        .expect("the owner reads the roster");
    assert_eq!(admin.id, id, "{b}: the id bootstrap returned");
    assert_eq!(
        admin.roles,
        vec![grant(Role::GlobalAdmin, None)],
        "{b}: global admin"
    );
    let e = refused(b, &mut pg.store, "the owner adding an operator", |tx| {
        tx.operator_insert("bob@x.test", None, "")
    });
    assert_eq!(sqlstate(&e), Some("42501"), "{b}: not a global admin: {e}");
    let e = refused(b, &mut pg.store, "the owner granting", |tx| {
        tx.operator_grant(id, Role::Support, None)
    });
    assert_eq!(sqlstate(&e), Some("42501"), "{b}: not a global admin: {e}");
    // The owner writes the table directly: it may link any row (the setup's object id).
    assert_eq!(
        write(b, &mut pg.store, |tx| tx
            .operator_link_identity(id, "oid-1", "A")),
        1,
        "{b}: the owner links"
    );
    let ctx = Ctx {
        backend: b,
        cluster: Some(&pg.cluster),
    };
    assert_eq!(
        ctx.login_state(ADMIN),
        "true:tsched_global_admin,tsched_operator",
        "{b}: bootstrap made the login and its groups"
    );
}

/// The roster use cases over both backends: add (audited), deactivate, remove, the roster.
#[test]
fn the_roster_use_cases_run_on_both_backends() {
    with_admin(|ctx, store| {
        let b = ctx.backend;
        let actor = Actor::operator(ADMIN);
        let op = operators::add(
            store,
            &actor,
            NewOperator {
                upn: "Fay@x.test".into(),
                display_name: "Fay".into(),
            },
        )
        .unwrap_or_else(|e| panic!("{b}: add: {e}"));
        assert_eq!((op.upn.as_str(), op.active), ("Fay@x.test", true), "{b}");
        let dup = operators::add(
            store,
            &actor,
            NewOperator {
                upn: "fay@X.test".into(),
                display_name: String::new(),
            },
        );
        assert_eq!(
            dup.expect_err("taken").code(),
            tsched_core::ErrorCode::Conflict,
            "{b}: the use case finds the UPN taken"
        );
        let off = operators::set_active(store, &actor, "fay@x.test", false)
            .unwrap_or_else(|e| panic!("{b}: deactivate: {e}"));
        assert!(!off.active, "{b}: inactive");
        operators::remove(store, &actor, "FAY@x.test").unwrap_or_else(|e| panic!("{b}: {e}"));
        let roster = operators::roster(store, &actor).unwrap_or_else(|e| panic!("{b}: {e}"));
        assert!(!roster.setup_mode, "{b}: not setup mode");
        assert_eq!(upns(&roster.operators), vec![ADMIN], "{b}: Fay is gone");
        let trail = store
            .tables()
            .audit_list(&AuditFilter::default())
            .expect("audit");
        let actions: Vec<&str> = trail.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(
            actions,
            vec!["operator.remove", "operator.deactivate", "operator.add"],
            "{b}: one audit row per change, newest first"
        );
        assert!(
            trail.iter().all(|r| r.operator == ADMIN),
            "{b}: by the admin: {trail:?}"
        );
    });
}

fn integration_row() -> IntegrationRow {
    IntegrationRow {
        cloud: "global".into(),
        authority_base: "https://login.microsoftonline.com".into(),
        graph_base: "https://graph.microsoft.com/v1.0".into(),
        tenant_id: "t".into(),
        client_id: "c".into(),
        host_object_id: "o".into(),
        host_upn: "host@contoso.com".into(),
        host_display_name: "Teams Scheduler".into(),
        granted_scopes: "User.ReadBasic.All".into(),
        state: RowState::Connected,
        attention_reason: None,
        connected_at: "2027-01-01T00:00:00Z".into(),
        connected_by: Some("local:me".into()),
        last_refresh_at: None,
        removed_at: None,
    }
}

#[test]
fn the_integration_row_is_put_replaced_refreshed_and_removed() {
    support::each_backend(|b, store| {
        let t = store.tables();
        assert_eq!(
            t.integration_get().expect("get"),
            None,
            "{b}: none at first"
        );
        assert!(!t.integration_ever_connected().expect("ever"), "{b}: never");
        write(b, store, |tx| tx.integration_put(&integration_row()));
        assert_eq!(
            store.tables().integration_get().expect("get"),
            Some(integration_row()),
            "{b}: round trip"
        );
        let mut again = integration_row();
        again.host_upn = "other@contoso.com".into();
        again.state = RowState::NeedsAttention;
        again.attention_reason = Some("consent".into());
        again.connected_by = None;
        again.last_refresh_at = Some("2027-01-02T00:00:00Z".into());
        write(b, store, |tx| tx.integration_put(&again));
        assert_eq!(
            store.tables().integration_get().expect("get"),
            Some(again.clone()),
            "{b}: a reconnect replaces every column"
        );
        let n = write(b, store, |tx| {
            tx.integration_record_refresh("2027-01-03T00:00:00Z", "A B", RowState::Connected, None)
        });
        assert_eq!(n, 1, "{b}: refreshed");
        let r = store.tables().integration_get().expect("get").expect("row");
        assert_eq!(
            (
                r.last_refresh_at.as_deref(),
                r.granted_scopes.as_str(),
                r.state,
                r.attention_reason.as_deref()
            ),
            (
                Some("2027-01-03T00:00:00Z"),
                "A B",
                RowState::Connected,
                None
            ),
            "{b}: the refresh bookkeeping; attention cleared"
        );
        assert_eq!(
            write(b, store, |tx| tx.integration_set_attention("token revoked")),
            1,
            "{b}: attention"
        );
        let r = store.tables().integration_get().expect("get").expect("row");
        assert_eq!(
            (r.state, r.attention_reason.as_deref()),
            (RowState::NeedsAttention, Some("token revoked")),
            "{b}: needs attention, why"
        );
        assert_eq!(
            write(b, store, |tx| tx
                .integration_mark_removed("2027-02-01T00:00:00Z")),
            1,
            "{b}: removed"
        );
        let changes = write(b, store, |tx| {
            Ok([
                tx.integration_mark_removed("2027-03-01T00:00:00Z")?,
                tx.integration_set_attention("x")?,
                tx.integration_record_refresh(
                    "2027-03-01T00:00:00Z",
                    "X",
                    RowState::Connected,
                    None,
                )?,
            ])
        });
        assert_eq!(changes, [0, 0, 0], "{b}: a removed row is left as it is");
        let r = store
            .tables()
            .integration_get()
            .expect("get")
            .expect("kept");
        assert_eq!(
            (
                r.state,
                r.removed_at.as_deref(),
                r.attention_reason.as_deref(),
                r.granted_scopes.as_str()
            ),
            (RowState::Removed, Some("2027-02-01T00:00:00Z"), None, "A B"),
            "{b}: removed once, the record kept"
        );
        assert!(
            store.tables().integration_ever_connected().expect("ever"),
            "{b}: ever connected"
        );
    });
}

/// What each backend writes in `operator` / `real_actor`: SQLite what the entry says;
/// PostgreSQL the session's login and never an impersonator (the server stamps both).
fn stamped<'a>(b: &str, login: &'a str, entry_operator: &'a str) -> &'a str {
    if b == "postgres" {
        login
    } else {
        entry_operator
    }
}

fn shape(
    r: &AuditRow,
) -> (
    String,
    String,
    Option<String>,
    Option<serde_json::Value>,
    Option<serde_json::Value>,
    Option<String>,
) {
    (
        r.action.clone(),
        r.target.clone(),
        r.program_code.clone(),
        r.before.clone(),
        r.after.clone(),
        r.graph_request_id.clone(),
    )
}

#[test]
fn audit_rows_are_appended_filtered_and_paged_newest_first() {
    support::each_backend(|b, store| {
        let entries = [
            (
                "program.create",
                "program:eng",
                Some("eng"),
                None,
                Some(json!({"code": "eng"})),
                None,
            ),
            (
                "program.create",
                "program:ops",
                Some("ops"),
                None,
                Some(json!({"code": "ops"})),
                None,
            ),
            (
                "program.edit",
                "program:eng",
                Some("eng"),
                Some(json!({"name": "a"})),
                Some(json!({"name": "b"})),
                None,
            ),
            (
                "meeting.create",
                "meeting:1",
                Some("ENG"),
                None,
                Some(json!([1, "x", null])),
                Some("req-1"),
            ),
            ("settings.set", "setting:k", None, None, None, None),
        ];
        let ids = write(b, store, |tx| {
            let mut ids = Vec::new();
            for (action, target, program_code, before, after, graph) in entries.clone() {
                ids.push(tx.audit_append(&AuditEntry {
                    operator: "someone@x.test",
                    action,
                    target,
                    program_code,
                    before,
                    after,
                    graph_request_id: graph,
                    real_actor: Some("local:me"),
                })?);
            }
            Ok(ids)
        });
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "{b}: increasing ids: {ids:?}"
        );
        let all = store
            .tables()
            .audit_list(&AuditFilter::default())
            .expect("list");
        assert_eq!(all.len(), 5, "{b}: five rows");
        assert_eq!(
            all.iter().map(|r| r.id).collect::<Vec<_>>(),
            ids.iter().rev().copied().collect::<Vec<_>>(),
            "{b}: newest first, the ids append returned"
        );
        let want: Vec<_> = entries
            .iter()
            .rev()
            .map(|(a, t, p, be, af, g)| {
                (
                    a.to_string(),
                    t.to_string(),
                    p.map(str::to_string),
                    be.clone(),
                    af.clone(),
                    g.map(str::to_string),
                )
            })
            .collect();
        assert_eq!(
            all.iter().map(shape).collect::<Vec<_>>(),
            want,
            "{b}: what was appended"
        );
        let who = stamped(b, support::OWNER, "someone@x.test");
        for r in &all {
            assert_eq!(r.operator, who, "{b}: operator");
            assert_eq!(
                r.real_actor.as_deref(),
                if b == "postgres" {
                    None
                } else {
                    Some("local:me")
                },
                "{b}: real actor"
            );
            assert!(r.at.ends_with('Z') && r.at.len() == 20, "{b}: at: {}", r.at);
        }

        // Pages of two, following the cursors, are the list.
        let mut paged = Vec::new();
        let mut f = AuditFilter {
            limit: 2,
            ..Default::default()
        };
        loop {
            let p = store.tables().audit_page(&f).expect("page");
            assert!(p.items.len() <= 2, "{b}: at most the limit");
            paged.extend(p.items);
            match p.next_cursor {
                Some(c) => f.after = Some(c),
                None => break,
            }
        }
        assert_eq!(paged, all, "{b}: the pages together are the list");

        let ids_of = |f: AuditFilter| -> Vec<i64> {
            store
                .tables()
                .audit_list(&f)
                .expect("filtered")
                .iter()
                .map(|r| r.id)
                .collect()
        };
        assert_eq!(
            ids_of(AuditFilter {
                action: Some("program.create".into()),
                ..Default::default()
            }),
            vec![ids[1], ids[0]],
            "{b}: by action"
        );
        assert_eq!(
            ids_of(AuditFilter {
                program_code: Some("eng".into()),
                ..Default::default()
            }),
            vec![ids[2], ids[0]],
            "{b}: by program code, exactly (ENG is another code here)"
        );
        assert_eq!(
            ids_of(AuditFilter {
                operator: Some(who.into()),
                limit: 1,
                ..Default::default()
            }),
            vec![ids[4]],
            "{b}: by operator, limited"
        );
        assert_eq!(
            ids_of(AuditFilter {
                operator: Some("nobody".into()),
                ..Default::default()
            }),
            Vec::<i64>::new(),
            "{b}: nobody's"
        );
        let oldest = all.last().expect("rows").at.clone();
        assert_eq!(
            ids_of(AuditFilter {
                since: Some(oldest.clone()),
                until: Some("9999-01-01T00:00:00Z".into()),
                ..Default::default()
            })
            .len(),
            5,
            "{b}: since is inclusive"
        );
        assert_eq!(
            ids_of(AuditFilter {
                until: Some(oldest),
                ..Default::default()
            }),
            Vec::<i64>::new(),
            "{b}: until is exclusive"
        );
        let bad = AuditFilter {
            after: Some("not-a-cursor".into()),
            ..Default::default()
        };
        assert!(
            matches!(
                store.tables().audit_page(&bad),
                Err(PageError::BadCursor(_))
            ),
            "{b}: a bad cursor"
        );
        let e = store.tables().audit_list(&bad).expect_err("bad cursor");
        assert!(e.to_string().contains("cursor"), "{b}: says so: {e}");
        let other = tsched_core::store::page::encode("operators", &"x");
        assert!(
            matches!(
                store.tables().audit_page(&AuditFilter {
                    after: Some(other),
                    ..Default::default()
                }),
                Err(PageError::BadCursor(_))
            ),
            "{b}: another list's cursor"
        );
    });
}

/// A coordinator may append audit rows they may not read (no RETURNING for them), and the
/// server names them whatever the entry says.
#[test]
fn an_operator_who_cannot_read_the_trail_still_appends_to_it() {
    let mut pg = support::postgres_store();
    let b = "postgres";
    pg.cluster.create_login(ADMIN, ADMIN_PW);
    bootstrap_admin(b, &mut pg.store);
    let mut admin = support::connect_as(&pg.cluster, ADMIN, ADMIN_PW);
    let ctx = Ctx {
        backend: b,
        cluster: Some(&pg.cluster),
    };
    let eng = ctx.program(&mut admin, "eng");
    write(b, &mut admin, |tx| {
        let id = tx.operator_insert("coord@x.test", None, "C")?;
        tx.operator_grant(id, Role::Coordinator, Some(eng))
    });
    pg.cluster.superuser_sql(
        "postgres",
        "ALTER ROLE \"coord@x.test\" PASSWORD 'coord-pw-1';",
    );
    let mut coord = support::connect_as(&pg.cluster, "coord@x.test", "coord-pw-1");
    let id = write(b, &mut coord, |tx| {
        tx.audit_append(&AuditEntry {
            operator: "mallory@x.test",
            action: "meeting.create",
            target: "meeting:1",
            program_code: Some("eng"),
            real_actor: Some("local:mallory"),
            ..Default::default()
        })
    });
    assert_eq!(id, 0, "{b}: the id is not readable to a coordinator");
    assert_eq!(
        coord
            .tables()
            .audit_list(&AuditFilter::default())
            .expect("list")
            .len(),
        0,
        "{b}: a coordinator reads no audit rows"
    );
    let rows = admin
        .tables()
        .audit_list(&AuditFilter::default())
        .expect("list");
    assert_eq!(rows.len(), 1, "{b}: the admin reads it");
    assert_eq!(
        (rows[0].operator.as_str(), rows[0].real_actor.as_deref()),
        ("coord@x.test", None),
        "{b}: stamped with the coordinator's login"
    );
    // As an admin, RETURNING works and gives the id.
    let id = write(b, &mut admin, |tx| {
        tx.audit_append(&AuditEntry {
            operator: ADMIN,
            action: "settings.set",
            target: "setting:k",
            ..Default::default()
        })
    });
    assert!(id > rows[0].id, "{b}: the admin's append returns its id");
    // The coordinator's own roster read: their row only.
    let t = coord.tables();
    assert_eq!(
        upns(&t.operators_list().expect("list")),
        vec!["coord@x.test"],
        "{b}: a coordinator sees their own row"
    );
    assert_eq!(
        t.operator_by_upn("coord@x.test")
            .expect("me")
            .expect("me")
            .roles,
        vec![grant(Role::Coordinator, Some("eng"))],
        "{b}: and their roles, with the program's code"
    );
}

/// Setup mode through the use case: the local user adds the first operator, who becomes global
/// admin (on PostgreSQL the owner's `tsched_bootstrap`), audited.
#[test]
fn the_first_operator_added_in_setup_mode_is_global_admin() {
    support::each_backend(|b, store| {
        let op = operators::add(
            store,
            &Actor::local(),
            NewOperator {
                upn: "Ann@x.test".into(),
                display_name: "Ann".into(),
            },
        )
        .unwrap_or_else(|e| panic!("{b}: add in setup mode: {e}"));
        assert_eq!(
            (op.upn.as_str(), op.roles.clone()),
            ("Ann@x.test", vec![grant(Role::GlobalAdmin, None)]),
            "{b}: the first operator is global admin"
        );
        let t = store.tables();
        assert_eq!(t.operator_count().expect("count"), 1, "{b}: setup over");
        assert_eq!(
            t.operator_count_active_global_admins().expect("count"),
            1,
            "{b}: one global admin"
        );
        let trail = t.audit_list(&AuditFilter::default()).expect("audit");
        assert_eq!(trail.len(), 1, "{b}: audited once");
        assert_eq!(
            (trail[0].action.as_str(), trail[0].target.as_str()),
            ("operator.add", "operator:Ann@x.test"),
            "{b}: the add"
        );
        assert_eq!(
            trail[0]
                .after
                .as_ref()
                .map(|a| a["ends_setup_mode"].clone()),
            Some(json!(true)),
            "{b}: says it ended setup mode"
        );
    });
}

/// Any operator records the token refresh bookkeeping of a live connection; removing it is a
/// global admin's.
#[test]
fn any_operator_records_refreshes_but_only_an_admin_removes_the_integration() {
    let mut pg = support::postgres_store();
    let b = "postgres";
    pg.cluster.create_login(ADMIN, ADMIN_PW);
    bootstrap_admin(b, &mut pg.store);
    let mut admin = support::connect_as(&pg.cluster, ADMIN, ADMIN_PW);
    write(b, &mut admin, |tx| {
        tx.operator_insert("sup@x.test", None, "S")?;
        let id = tx.operator_by_upn("sup@x.test")?.expect("sup").id;
        tx.operator_grant(id, Role::Support, None)?;
        tx.integration_put(&integration_row())
    });
    pg.cluster
        .superuser_sql("postgres", "ALTER ROLE \"sup@x.test\" PASSWORD 'sup-pw-1';");
    let mut sup = support::connect_as(&pg.cluster, "sup@x.test", "sup-pw-1");
    assert_eq!(
        sup.tables().integration_get().expect("get"),
        Some(integration_row()),
        "{b}: every operator reads the row"
    );
    let n = write(b, &mut sup, |tx| {
        tx.integration_record_refresh("2027-01-05T00:00:00Z", "S1", RowState::Connected, None)
    });
    assert_eq!(n, 1, "{b}: support records a refresh");
    assert_eq!(
        write(b, &mut sup, |tx| tx.integration_set_attention("expired")),
        1,
        "{b}: and the need for attention"
    );
    let e = refused(b, &mut sup, "support removing the integration", |tx| {
        tx.integration_mark_removed("2027-02-01T00:00:00Z")
    });
    assert_eq!(sqlstate(&e), Some("42501"), "{b}: denied: {e}");
    let e = refused(b, &mut sup, "support replacing the integration", |tx| {
        tx.integration_put(&integration_row())
    });
    assert!(matches!(sqlstate(&e), Some("42501")), "{b}: denied: {e}");
    let r = admin.tables().integration_get().expect("get").expect("row");
    assert_eq!(
        (
            r.granted_scopes.as_str(),
            r.state,
            r.attention_reason.as_deref()
        ),
        ("S1", RowState::NeedsAttention, Some("expired")),
        "{b}: what support recorded, nothing else"
    );
    assert_eq!(
        write(b, &mut admin, |tx| tx
            .integration_mark_removed("2027-02-01T00:00:00Z")),
        1,
        "{b}: the admin removes it"
    );
    assert_eq!(
        write(b, &mut sup, |tx| tx.integration_record_refresh(
            "2027-02-02T00:00:00Z",
            "S2",
            RowState::Connected,
            None
        )),
        0,
        "{b}: a removed row takes no refresh"
    );
}

/// NOCASE folds ASCII letters only, on both backends: `Éva` and `éva` are two operators.
#[test]
fn upns_fold_ascii_letters_only() {
    with_admin(|ctx, store| {
        let b = ctx.backend;
        write(b, store, |tx| tx.operator_insert("Éva@x.test", None, ""));
        assert_eq!(
            store
                .tables()
                .operator_by_upn("éva@X.TEST")
                .expect("by upn"),
            None,
            "{b}: É is not é"
        );
        assert!(
            store
                .tables()
                .operator_by_upn("Éva@X.TEST")
                .expect("by upn")
                .is_some(),
            "{b}: ASCII letters fold"
        );
        write(b, store, |tx| tx.operator_insert("éva@x.test", None, ""));
        assert_eq!(
            upns(&store.tables().operators_list().expect("list")),
            vec![ADMIN, "Éva@x.test", "éva@x.test"],
            "{b}: by bytes after folding ASCII"
        );
    });
}
