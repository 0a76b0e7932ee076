//! The core's error type and the stable codes front ends show and scripts match on.

use serde::Serialize;

use crate::store::StoreError;

/// A stable, machine-readable error code. The Tauri layer sends it as `{ code, message }` and the
/// CLI maps it to an exit status; renaming one is a breaking change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The input was refused; the message says which field and why.
    InvalidInput,
    /// The named thing does not exist.
    NotFound,
    /// It would clash with something that exists (a duplicate code or name).
    Conflict,
    /// The acting operator may not do this.
    Denied,
    /// The store is busy with another process.
    StoreLocked,
    /// The store file is corrupt, foreign or from a newer version.
    StoreUnusable,
    /// The store or its directory cannot be written.
    StoreUnavailable,
    /// Anything else that went wrong inside.
    Internal,
    /// The tenant integration is not connected (or was removed).
    NotConnected,
    /// The host account must sign in again (refresh token expired, revoked or missing).
    ReconnectRequired,
    /// A global admin must grant organization-wide approval.
    ConsentRequired,
    /// The person cancelled the sign-in.
    SignInCancelled,
    /// Multi-factor authentication must be completed.
    MfaRequired,
    /// Sign-in failed for another reason; the message carries the AADSTS code.
    SignInFailed,
    /// Nobody answered in the browser in time.
    Timeout,
    /// The OS keyring is locked or unavailable.
    KeyringUnavailable,
    /// A network failure reaching Microsoft (or the sandbox).
    Network,
    /// Microsoft Graph refused or failed a request.
    Graph,
}

/// Errors of the core's use cases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input refused by validation; `field` names what to fix.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field or argument at fault.
        field: &'static str,
        /// Why it was refused, in words a person can act on.
        reason: String,
    },
    /// Something looked up by a key does not exist.
    #[error("{what} '{key}' does not exist")]
    NotFound {
        /// The kind of thing ("program").
        what: &'static str,
        /// The key that was looked up.
        key: String,
    },
    /// A uniqueness rule would be broken.
    #[error("{0}")]
    Conflict(String),
    /// The acting operator is not allowed to do this.
    #[error("not allowed: {0}")]
    Denied(String),
    /// A file (e.g. a participants CSV) was refused as a whole; every problem is listed with its
    /// line, and nothing was written.
    #[error("{file}: nothing was imported; {}", LineProblem::join(problems))]
    BadFile {
        /// The file's name as given.
        file: String,
        /// Every problem found, in line order.
        problems: Vec<LineProblem>,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sign-in, token refresh or the keyring failed; the message says what to do.
    #[error(transparent)]
    Auth(#[from] crate::auth::AuthError),
    /// A Microsoft Graph call failed.
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    /// The tenant integration is not connected.
    #[error("the Microsoft 365 tenant is not connected; connect it first (integration connect)")]
    NotConnected,
}

/// One problem in a file, with the 1-based line it is on (0 for the file as a whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineProblem {
    /// 1-based line number; 0 when the problem is the whole file.
    pub line: u64,
    /// What is wrong, in words a person can act on.
    pub message: String,
}

impl LineProblem {
    fn join(problems: &[LineProblem]) -> String {
        problems
            .iter()
            .map(|p| {
                if p.line == 0 {
                    p.message.clone()
                } else {
                    format!("line {}: {}", p.line, p.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Error {
    /// The stable code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Invalid { .. } | Error::BadFile { .. } => ErrorCode::InvalidInput,
            Error::NotFound { .. } => ErrorCode::NotFound,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::Denied(_) => ErrorCode::Denied,
            Error::Auth(a) => a.code(),
            Error::Graph(g) => g.code(),
            Error::NotConnected => ErrorCode::NotConnected,
            Error::Store(s) => match s {
                StoreError::Locked { .. } => ErrorCode::StoreLocked,
                StoreError::NotADatabase { .. }
                | StoreError::ForeignDatabase { .. }
                | StoreError::NewerVersion { .. }
                | StoreError::PgSchema { .. } => ErrorCode::StoreUnusable,
                StoreError::ReadOnly { .. } | StoreError::Open { .. } => {
                    ErrorCode::StoreUnavailable
                }
                StoreError::PgDenied { .. } => ErrorCode::Denied,
                // The team database refused a change that breaks one of its rules (a unique
                // name, a missing program, the last active global admin): the same answer the
                // use case gives when it finds the conflict itself.
                StoreError::Pg {
                    sqlstate: Some(code),
                    ..
                } if matches!(code.as_str(), "23505" | "23503" | "23514" | "40001") => {
                    ErrorCode::Conflict
                }
                // The same refusal from the embedded store (a UNIQUE, FOREIGN KEY or CHECK).
                StoreError::Sqlite { source, .. }
                    if source.sqlite_error_code()
                        == Some(rusqlite::ErrorCode::ConstraintViolation) =>
                {
                    ErrorCode::Conflict
                }
                StoreError::PgConfig { .. } => ErrorCode::InvalidInput,
                StoreError::PgUnreachable { .. }
                | StoreError::PgAuthFailed { .. }
                | StoreError::PgLoginRefused { .. }
                | StoreError::PgTls { .. }
                | StoreError::PgUnknownDatabase { .. }
                | StoreError::PgConnectionLost { .. } => ErrorCode::StoreUnavailable,
                _ => ErrorCode::Internal,
            },
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

impl From<crate::roles::UnknownRole> for Error {
    fn from(e: crate::roles::UnknownRole) -> Self {
        Error::invalid("role", e.to_string())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(crate::store::classify(std::path::Path::new("the store"), e))
    }
}

impl From<crate::store::page::PageError> for Error {
    fn from(e: crate::store::page::PageError) -> Self {
        use crate::store::page::PageError;
        match e {
            PageError::BadCursor(reason) => Error::Invalid {
                field: "cursor",
                reason,
            },
            PageError::Sqlite(e) => e.into(),
            PageError::Store(e) => Error::Store(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_team_database_rule_refusal_is_a_conflict_and_other_database_errors_are_not() {
        let pg = |sqlstate: &str| {
            Error::Store(StoreError::Pg {
                message: "refused".into(),
                sqlstate: Some(sqlstate.into()),
                constraint: None,
            })
        };
        for rule in ["23505", "23503", "23514", "40001"] {
            assert_eq!(
                pg(rule).code(),
                ErrorCode::Conflict,
                "SQLSTATE {rule} is the database refusing a conflicting change"
            );
        }
        assert_eq!(
            pg("XX000").code(),
            ErrorCode::Internal,
            "an internal server error stays internal"
        );
    }
}
