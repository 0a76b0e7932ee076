//! `tsched members`: is an address a member of our tenant (`check`, one or many, or a CSV), and
//! can a person be offered a Teams meeting in a program (`diagnose`). A few lines over
//! `tsched_core::membership`; progress of a bulk check goes to stderr.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use tsched_core::membership::{self, AddressCheck, CheckOptions, Diagnosis};

use super::Context;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum Members {
    /// Check addresses against the tenant's directory: member, guest, not found or ambiguous.
    Check {
        /// Addresses to check.
        #[arg(required_unless_present = "csv")]
        addresses: Vec<String>,
        /// Read addresses from a CSV file (column email/address/upn/mail, else the first).
        #[arg(long, value_name = "FILE", conflicts_with = "addresses")]
        csv: Option<PathBuf>,
        /// Ask the directory even when a cached answer is fresh.
        #[arg(long)]
        refresh: bool,
        /// Check for this program (lets its track admins and coordinators run it).
        #[arg(long, value_name = "CODE")]
        program: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Can ADDRESS be offered a Teams meeting in a program? Each check with pass/fail and the fix.
    Diagnose {
        /// The person's address.
        address: String,
        /// The program's code.
        #[arg(long, value_name = "CODE")]
        program: String,
        /// Ask the directory even when a cached answer is fresh.
        #[arg(long)]
        refresh: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show or set how long answers are cached (hours; default 24). Setting needs a global admin.
    CacheTtl {
        /// New lifetime in hours (0 = always ask the directory).
        hours: Option<i64>,
    },
}

pub fn run(cmd: Members, ctx: &Context) -> anyhow::Result<()> {
    match cmd {
        Members::Check {
            addresses,
            csv,
            refresh,
            program,
            json,
        } => {
            let addresses = match csv {
                Some(path) => {
                    let bytes = std::fs::read(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    membership::addresses_from_csv(&bytes)?
                }
                None => addresses,
            };
            let mut store = ctx.store()?;
            let actor = ctx.actor(&store)?;
            let s = ctx.host_session(&store)?;
            let many = addresses.len() > 1 && !json;
            let results = ctx.runtime()?.block_on(membership::check_many(
                &mut store,
                s.graph(),
                &actor,
                program.as_deref(),
                &addresses,
                CheckOptions { refresh },
                &move |p| {
                    if many {
                        eprint!("\rchecked {}/{}", p.done, p.total);
                    }
                },
            ))?;
            if many {
                eprintln!();
            }
            if json {
                output::json(&results)?;
            } else {
                print!("{}", check_table(&results));
            }
            let failed = results.iter().filter(|r| r.error.is_some()).count();
            if failed > 0 {
                anyhow::bail!(
                    "{failed} of {} addresses could not be checked (see the ERROR column)",
                    results.len()
                );
            }
        }
        Members::Diagnose {
            address,
            program,
            refresh,
            json,
        } => {
            let mut store = ctx.store()?;
            let actor = ctx.actor(&store)?;
            let s = ctx.host_session(&store).ok();
            let d = ctx.runtime()?.block_on(membership::diagnose(
                &mut store,
                s.as_ref().map(|s| s.graph()),
                &actor,
                &program,
                &address,
                CheckOptions { refresh },
            ))?;
            if json {
                output::json(&d)?;
            } else {
                print!("{}", diagnosis_text(&d));
            }
            if !d.ok() {
                anyhow::bail!(
                    "{} cannot be offered a Teams meeting in '{}': {} check(s) failed",
                    d.address,
                    d.program,
                    d.failures().count()
                );
            }
        }
        Members::CacheTtl { hours } => {
            let mut store = ctx.store()?;
            if let Some(h) = hours {
                let actor = ctx.actor(&store)?;
                membership::set_cache_ttl_hours(&mut store, &actor, h)?;
            }
            println!(
                "Membership answers are cached for {} hours.",
                membership::cache_ttl_hours(&store)?
            );
        }
    }
    Ok(())
}

fn check_table(results: &[AddressCheck]) -> String {
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| match &r.result {
            Some(m) => vec![
                r.input.trim().to_string(),
                m.class.as_str().to_string(),
                m.matched_by.map(|x| x.as_str()).unwrap_or("-").to_string(),
                m.upn.clone().unwrap_or_else(|| "-".into()),
                m.display_name.clone().unwrap_or_else(|| "-".into()),
                format!(
                    "{}{}",
                    m.checked_at,
                    if m.from_cache { " (cached)" } else { "" }
                ),
            ],
            None => vec![
                r.input.trim().to_string(),
                "error".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                r.error.clone().unwrap_or_default(),
            ],
        })
        .collect();
    output::table(
        &[
            "ADDRESS",
            "CLASS",
            "MATCHED BY",
            "UPN",
            "NAME",
            "CHECKED AT (UTC) / ERROR",
        ],
        &rows,
    )
}

fn diagnosis_text(d: &Diagnosis) -> String {
    let mut out = format!(
        "Can {} be offered a Teams meeting in '{}'?\n",
        d.address, d.program
    );
    for c in &d.checks {
        out.push_str(&format!(
            "  [{}] {}: {}\n",
            if c.passed { "pass" } else { "FAIL" },
            c.check.label(),
            c.detail
        ));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("         fix: {fix}\n"));
        }
    }
    out.push_str(if d.ok() {
        "Yes: every check passed.\n"
    } else {
        "No.\n"
    });
    out
}
