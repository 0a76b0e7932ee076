//! The roles an operator can hold ([`Role`]) and one held role with its program
//! ([`RoleGrant`]): plain values shared by the access rules (`access`) and the roster's table
//! (`store::operators`), so that neither has to import the other. No I/O, no rules: what each
//! role may do is decided in `access::decide`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A role an operator can hold. `GlobalAdmin` and `Support` hold for every program;
/// `TrackAdmin` and `Coordinator` are granted per program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything: the integration, every program, the operators.
    GlobalAdmin,
    /// Settings of their own programs.
    TrackAdmin,
    /// Meetings and batches in their programs.
    Coordinator,
    /// Reads everything and runs membership checks; changes nothing.
    Support,
}

impl Role {
    /// Every role, in display order.
    pub const ALL: [Role; 4] = [
        Role::GlobalAdmin,
        Role::TrackAdmin,
        Role::Coordinator,
        Role::Support,
    ];

    /// The stored name (`global_admin`, …), as in the `operator_roles.role` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::GlobalAdmin => "global_admin",
            Role::TrackAdmin => "track_admin",
            Role::Coordinator => "coordinator",
            Role::Support => "support",
        }
    }

    /// Words for messages ("track admin").
    pub fn label(self) -> &'static str {
        match self {
            Role::GlobalAdmin => "global admin",
            Role::TrackAdmin => "track admin",
            Role::Coordinator => "coordinator",
            Role::Support => "support",
        }
    }

    /// Whether the role is granted for one program (and so needs one).
    pub fn is_per_program(self) -> bool {
        matches!(self, Role::TrackAdmin | Role::Coordinator)
    }
}

/// A role name that is none of the four (becomes an invalid-input [`crate::Error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}'; use global-admin, track-admin, coordinator or support")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    /// Accepts `global-admin`, `global_admin`, `track-admin`, `coordinator`, `support`
    /// (case-insensitive).
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| UnknownRole(s.trim().to_string()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One role held by an operator, with its program for per-program roles.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RoleGrant {
    /// The role.
    pub role: Role,
    /// The program's code for `TrackAdmin`/`Coordinator`; `None` for the others.
    pub program: Option<String>,
}

impl RoleGrant {
    /// A role that holds everywhere (`GlobalAdmin`, `Support`).
    pub fn global(role: Role) -> Self {
        Self {
            role,
            program: None,
        }
    }

    /// A per-program role.
    pub fn of(role: Role, program: impl Into<String>) -> Self {
        Self {
            role,
            program: Some(program.into()),
        }
    }
}

impl fmt::Display for RoleGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.program {
            Some(p) => write!(f, "{} of '{p}'", self.role),
            None => write!(f, "{}", self.role),
        }
    }
}
