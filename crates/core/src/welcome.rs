//! First run: whether a front end should greet the person with the welcome page, and the
//! "welcome dismissed" setting.
//!
//! A store is on its **first run** while nobody has used it yet: it holds no program (archived
//! ones included), no operator, has never had a tenant integration (a removed one still counts:
//! someone connected once), and nobody dismissed the welcome. A store that is in use never
//! counts, whatever its settings say, so the welcome cannot hijack the start of a working store.
//!
//! The dismissal lives in the `settings` table under [`SETTING_DISMISSED`] and is audited like
//! every other setting. This module reads the other tables only to count; it changes nothing but
//! that one setting.

use serde::Serialize;
use serde_json::json;

use crate::access;
use crate::actor::Actor;
use crate::error::Error;
use crate::store::audit_log::AuditEntry;
use crate::store::Store;

/// Settings key holding when the welcome was dismissed (RFC 3339 UTC).
pub const SETTING_DISMISSED: &str = "welcome.dismissed";

/// What the first-run decision is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Facts {
    /// The store holds at least one program (archived ones count).
    pub has_programs: bool,
    /// The store has at least one operator (setup mode is over).
    pub has_operators: bool,
    /// A tenant integration was connected at some point (also when removed since).
    pub ever_connected: bool,
    /// Someone dismissed the welcome.
    pub dismissed: bool,
}

impl Facts {
    /// Pure: the first-run rule (see the module doc).
    pub fn first_run(&self) -> bool {
        !(self.has_programs || self.has_operators || self.ever_connected || self.dismissed)
    }
}

/// The answer front ends ask for at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Welcome {
    /// True when the window should open on the welcome page.
    pub first_run: bool,
    /// The facts behind it.
    #[serde(flatten)]
    pub facts: Facts,
}

/// Reads the facts and decides. Reads only; needs no actor (the page shows nothing private).
pub fn status(store: &Store) -> Result<Welcome, Error> {
    let conn = store.tables();
    let facts = Facts {
        has_programs: conn.programs_any()?,
        has_operators: conn.operator_count()? > 0,
        ever_connected: conn.integration_ever_connected()?,
        dismissed: conn.setting(SETTING_DISMISSED)?.is_some(),
    };
    Ok(Welcome {
        first_run: facts.first_run(),
        facts,
    })
}

/// Records that the welcome was dismissed, so the next start opens on the usual page even while
/// the store is still empty. Anyone who may act in this store may do it. Audited once: a second
/// call changes nothing and returns false.
pub fn dismiss(store: &mut Store, actor: &Actor) -> Result<bool, Error> {
    store.write(|tx| {
        let who = access::resolve(tx, actor)?;
        if tx.setting(SETTING_DISMISSED)?.is_some() {
            return Ok(false);
        }
        let now = crate::time::now_db();
        tx.setting_put(SETTING_DISMISSED, &now)?;
        who.audit(
            tx,
            AuditEntry {
                action: "settings.welcome_dismissed",
                target: &format!("setting:{SETTING_DISMISSED}"),
                after: Some(json!(now)),
                ..Default::default()
            },
        )?;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::programs::{self, NewProgram};
    use crate::store::audit_log::AuditFilter;

    fn audit_actions(store: &Store) -> Vec<String> {
        store
            .tables()
            .audit_list(&AuditFilter::default())
            .expect("audit")
            .into_iter()
            .map(|r| r.action)
            .collect()
    }

    #[test]
    fn a_fresh_store_is_a_first_run() {
        let store = Store::open_in_memory().expect("store");
        let w = status(&store).expect("status");
        assert!(w.first_run, "nothing in the store yet: {w:?}");
    }

    #[test]
    fn each_sign_of_use_ends_the_first_run() {
        let base = Facts {
            has_programs: false,
            has_operators: false,
            ever_connected: false,
            dismissed: false,
        };
        assert!(base.first_run(), "all clear is a first run");
        for (what, f) in [
            (
                "a program",
                Facts {
                    has_programs: true,
                    ..base
                },
            ),
            (
                "an operator",
                Facts {
                    has_operators: true,
                    ..base
                },
            ),
            (
                "an integration, even removed",
                Facts {
                    ever_connected: true,
                    ..base
                },
            ),
            (
                "a dismissal",
                Facts {
                    dismissed: true,
                    ..base
                },
            ),
        ] {
            assert!(
                !f.first_run(),
                "{what} means the store is not on its first run"
            );
        }
    }

    #[test]
    fn a_store_with_an_archived_program_does_not_open_on_the_welcome() {
        let mut store = Store::open_in_memory().expect("store");
        let local = Actor::local();
        programs::add(
            &mut store,
            &local,
            NewProgram {
                name: "Old".into(),
                code: Some("old".into()),
                description: None,
            },
        )
        .expect("add");
        programs::set_archived(&mut store, &local, "old", true, None).expect("archive");
        let w = status(&store).expect("status");
        assert!(
            !w.first_run && w.facts.has_programs,
            "an archived program is still use: {w:?}"
        );
    }

    #[test]
    fn a_store_with_operators_does_not_open_on_the_welcome() {
        let mut store = Store::open_in_memory().expect("store");
        crate::operators::add(
            &mut store,
            &Actor::local(),
            crate::operators::NewOperator {
                upn: "admin@contoso.example".into(),
                display_name: String::new(),
            },
        )
        .expect("first operator");
        assert!(
            !status(&store).expect("status").first_run,
            "operators mean the store is in use"
        );
    }

    #[test]
    fn dismissing_is_remembered_and_audited_once() {
        let mut store = Store::open_in_memory().expect("store");
        assert!(
            dismiss(&mut store, &Actor::local()).expect("dismiss"),
            "the first dismissal writes"
        );
        assert!(
            !dismiss(&mut store, &Actor::local()).expect("dismiss again"),
            "a second dismissal changes nothing"
        );
        let w = status(&store).expect("status");
        assert!(
            !w.first_run && w.facts.dismissed,
            "a dismissed welcome stays away: {w:?}"
        );
        assert_eq!(
            audit_actions(&store),
            vec!["settings.welcome_dismissed".to_string()],
            "one audit row for one change"
        );
    }

    #[test]
    fn an_unknown_operator_may_not_dismiss_in_a_store_in_use() {
        let mut store = Store::open_in_memory().expect("store");
        crate::operators::add(
            &mut store,
            &Actor::local(),
            crate::operators::NewOperator {
                upn: "admin@contoso.example".into(),
                display_name: String::new(),
            },
        )
        .expect("first operator");
        let err = dismiss(&mut store, &Actor::operator("stranger@contoso.example"))
            .expect_err("a stranger cannot change settings");
        assert_eq!(
            err.code(),
            crate::ErrorCode::Denied,
            "the refusal keeps its code: {err}"
        );
    }
}
