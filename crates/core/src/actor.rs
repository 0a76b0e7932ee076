//! Who is acting. Every use case takes an [`Actor`] so that access checks and the audit trail
//! know whom to name. An actor is only a claim: `access::require` resolves it against the
//! operator roster inside each use case's transaction, so a removed or demoted operator loses
//! their rights at once. Until operators exist (setup mode) the local OS user acts.

use serde::Serialize;

/// The person on whose behalf a use case runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// How the audit trail names them: an operator's UPN, or `local:<os user>` in setup mode.
    pub label: String,
    /// The operator's UPN when a signed-in operator acts; `None` for the local user, who may act
    /// only while the store has no operators.
    pub operator_upn: Option<String>,
    /// Who really acts when the operator was only named, not proven (`--as` / `TSCHED_OPERATOR`
    /// under the test-only switch): `local:<os user>`. Every audit row of such an actor records
    /// it beside the operator's name.
    pub impersonated_by: Option<String>,
}

impl Actor {
    /// The local OS user, acting while the store has no operators (setup mode).
    pub fn local() -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".to_string());
        Self {
            label: format!("local:{user}"),
            operator_upn: None,
            impersonated_by: None,
        }
    }

    /// An operator identified by their sign-in name.
    pub fn operator(upn: impl Into<String>) -> Self {
        let upn = upn.into();
        Self {
            label: upn.clone(),
            operator_upn: Some(upn),
            impersonated_by: None,
        }
    }

    /// An operator named without proof by the local user (the test-only impersonation switch).
    pub fn impersonated(upn: impl Into<String>) -> Self {
        Self {
            impersonated_by: Some(Self::local().label),
            ..Self::operator(upn)
        }
    }
}
