//! `tsched operators …`: the roster and roles. In setup mode (no operators yet) `list` says so;
//! the first operator added becomes global admin.

use clap::Subcommand;
use tsched_core::access::Role;
use tsched_core::operators::{self, NewOperator, Operator};

use super::Context;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum Operators {
    /// List operators and their roles (or say that the store is in setup mode).
    List {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Add an operator by sign-in name. The first one becomes global admin.
    Add {
        /// Their user principal name, e.g. ann@contoso.com.
        upn: String,
        /// Their display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Remove an operator (not the last global admin).
    Remove {
        /// Their UPN.
        upn: String,
    },
    /// Deactivate an operator: they keep their roles but may not act.
    Deactivate {
        /// Their UPN.
        upn: String,
    },
    /// Reactivate an operator.
    Activate {
        /// Their UPN.
        upn: String,
    },
    /// Grant a role: global-admin, support, or track-admin / coordinator with --program.
    Grant {
        /// Their UPN.
        upn: String,
        /// global-admin, track-admin, coordinator or support.
        role: String,
        /// The program, for track-admin and coordinator.
        #[arg(long)]
        program: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a role (not the last global admin's).
    Revoke {
        /// Their UPN.
        upn: String,
        /// global-admin, track-admin, coordinator or support.
        role: String,
        /// The program, for track-admin and coordinator.
        #[arg(long)]
        program: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: Operators, ctx: &Context) -> anyhow::Result<()> {
    let mut store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    match cmd {
        Operators::List { json } => {
            let roster = operators::roster(&store, &actor)?;
            if json {
                output::json(&roster)?;
            } else if roster.setup_mode {
                println!("setup mode: no operators yet, so the local user may do everything.");
                println!("The first operator you add (tsched operators add UPN) or the first account to sign in becomes global admin and ends setup mode.");
            } else {
                let rows: Vec<Vec<String>> = roster
                    .operators
                    .iter()
                    .map(|o| {
                        vec![
                            o.upn.clone(),
                            o.display_name.clone(),
                            roles(o),
                            if o.active { "active" } else { "deactivated" }.into(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    output::table(&["UPN", "NAME", "ROLES", "STATUS"], &rows)
                );
            }
        }
        Operators::Add { upn, name, json } => {
            let op = operators::add(
                &mut store,
                &actor,
                NewOperator {
                    upn,
                    display_name: name,
                },
            )?;
            let msg = if op.roles.is_empty() {
                format!(
                    "Added operator {} with no roles; grant one with: tsched operators grant {} ROLE",
                    op.upn, op.upn
                )
            } else {
                format!(
                    "Added operator {} as {}; setup mode is over, act as them with --as {}.",
                    op.upn,
                    roles(&op),
                    op.upn
                )
            };
            done(json, &op, msg)?;
        }
        Operators::Remove { upn } => {
            operators::remove(&mut store, &actor, &upn)?;
            println!("Removed operator {}.", upn.trim());
        }
        Operators::Deactivate { upn } => {
            let op = operators::set_active(&mut store, &actor, &upn, false)?;
            println!("Deactivated operator {}.", op.upn);
        }
        Operators::Activate { upn } => {
            let op = operators::set_active(&mut store, &actor, &upn, true)?;
            println!("Reactivated operator {}.", op.upn);
        }
        Operators::Grant {
            upn,
            role,
            program,
            json,
        } => {
            let role: Role = role.parse().map_err(tsched_core::Error::from)?;
            let op = operators::grant(&mut store, &actor, &upn, role, program.as_deref())?;
            done(json, &op, format!("{} now holds: {}.", op.upn, roles(&op)))?;
        }
        Operators::Revoke {
            upn,
            role,
            program,
            json,
        } => {
            let role: Role = role.parse().map_err(tsched_core::Error::from)?;
            let op = operators::revoke(&mut store, &actor, &upn, role, program.as_deref())?;
            done(json, &op, format!("{} now holds: {}.", op.upn, roles(&op)))?;
        }
    }
    Ok(())
}

fn done<T: serde::Serialize>(json: bool, value: &T, message: String) -> anyhow::Result<()> {
    if json {
        output::json(value)
    } else {
        println!("{message}");
        Ok(())
    }
}

fn roles(o: &Operator) -> String {
    if o.roles.is_empty() {
        "none".into()
    } else {
        o.roles
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
