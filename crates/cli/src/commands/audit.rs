//! `tsched audit`: read the audit trail with filters, or export it as CSV or JSON.

use clap::Args;
use tsched_core::audit::{self, AuditFilter};

use super::Context;
use crate::output;

#[derive(Debug, Args)]
pub struct Audit {
    /// Only changes in this program (its code).
    #[arg(long)]
    program: Option<String>,
    /// Only changes by this operator (UPN, or local:<user> for setup mode).
    #[arg(long)]
    operator: Option<String>,
    /// Only this action, e.g. program.create, operator.grant.
    #[arg(long)]
    action: Option<String>,
    /// From this date (2027-03-14) or time (RFC 3339), inclusive.
    #[arg(long)]
    since: Option<String>,
    /// Up to this date or time, exclusive.
    #[arg(long)]
    until: Option<String>,
    /// At most this many rows, newest first (default 100).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    limit: u32,
    /// Continue after this cursor (printed on stderr when more rows follow).
    #[arg(long, value_name = "CURSOR")]
    after: Option<String>,
    /// Export as JSON.
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Export as CSV.
    #[arg(long)]
    csv: bool,
    /// Every matching row, page after page, instead of one page (for a complete export).
    #[arg(long, conflicts_with = "after")]
    all: bool,
}

pub fn run(cmd: Audit, ctx: &Context) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    let filter = AuditFilter {
        operator: cmd.operator,
        program_code: cmd.program,
        action: cmd.action,
        since: cmd
            .since
            .map(|s| audit::parse_instant("since", &s))
            .transpose()?,
        until: cmd
            .until
            .map(|s| audit::parse_instant("until", &s))
            .transpose()?,
        limit: cmd.limit,
        after: cmd.after,
    };
    let (rows, next_cursor) = if cmd.all {
        (audit::list_all(&store, &actor, &filter)?, None)
    } else {
        let page = audit::list_page(&store, &actor, &filter)?;
        (page.items, page.next_cursor)
    };
    if cmd.json {
        println!("{}", audit::to_json(&rows)?);
    } else if cmd.csv {
        print!("{}", audit::to_csv(&rows)?);
    } else if rows.is_empty() {
        println!("No audit rows match.");
    } else {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.at.clone(),
                    r.operator.clone(),
                    r.action.clone(),
                    r.target.clone(),
                    r.program_code.clone().unwrap_or_default(),
                ]
            })
            .collect();
        print!(
            "{}",
            output::table(
                &["AT (UTC)", "OPERATOR", "ACTION", "TARGET", "PROGRAM"],
                &table
            )
        );
    }
    output::more(next_cursor.as_deref());
    Ok(())
}
