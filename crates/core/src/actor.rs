//! Who is acting. Every use case takes an [`Actor`] so that access checks and the audit trail
//! know whom to name. Until operators exist (setup mode) the local OS user acts.

use serde::Serialize;

/// The person on whose behalf a use case runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// How the audit trail names them: an operator's UPN, or `local:<os user>` in setup mode.
    pub label: String,
}

impl Actor {
    /// The local OS user, acting while the store has no operators (setup mode).
    pub fn local() -> Self {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".to_string());
        Self {
            label: format!("local:{user}"),
        }
    }

    /// An operator identified by their sign-in name.
    pub fn operator(upn: impl Into<String>) -> Self {
        Self { label: upn.into() }
    }
}
