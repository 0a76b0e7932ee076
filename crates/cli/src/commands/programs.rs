//! `tsched programs …`: add, list and show programs (tracks).

use clap::Subcommand;
use tsched_core::programs::{self, ListQuery, NewProgram};
use tsched_core::Actor;

use super::Context;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum Programs {
    /// Add a program.
    Add {
        /// Display name, e.g. "Engineering Mentoring".
        name: String,
        /// Short unique code (a-z, 0-9, '-', '_'); derived from the name when omitted.
        #[arg(long)]
        code: Option<String>,
        /// Free-text description.
        #[arg(long)]
        description: Option<String>,
        /// Print the created program as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List programs.
    List {
        /// Only programs whose name or code contains this text.
        #[arg(long)]
        search: Option<String>,
        /// Include archived programs.
        #[arg(long)]
        all: bool,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show one program.
    Show {
        /// The program's code.
        code: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: Programs, ctx: &Context) -> anyhow::Result<()> {
    match cmd {
        Programs::Add {
            name,
            code,
            description,
            json,
        } => {
            let mut store = ctx.store()?;
            let p = programs::add(
                &mut store,
                &Actor::local(),
                NewProgram {
                    name,
                    code,
                    description,
                },
            )?;
            if json {
                output::json(&p)?;
            } else {
                println!("Added program {} ({}).", p.name, p.code);
            }
        }
        Programs::List { search, all, json } => {
            let store = ctx.store()?;
            let list = programs::list(
                &store,
                &ListQuery {
                    search,
                    include_archived: all,
                    ..Default::default()
                },
            )?;
            if json {
                output::json(&list)?;
            } else if list.is_empty() {
                println!("No programs yet. Add one with: tsched programs add \"Engineering Mentoring\" --code eng");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|p| {
                        vec![
                            p.code.clone(),
                            p.name.clone(),
                            p.enabled_modes.join(", "),
                            status(p.archived).into(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    output::table(&["CODE", "NAME", "MEETING MODES", "STATUS"], &rows)
                );
            }
        }
        Programs::Show { code, json } => {
            let store = ctx.store()?;
            let p = programs::show(&store, &code)?;
            if json {
                output::json(&p)?;
            } else {
                println!("{} ({})", p.name, p.code);
                println!("  status:        {}", status(p.archived));
                println!(
                    "  meeting modes: {}",
                    if p.enabled_modes.is_empty() {
                        "none".into()
                    } else {
                        p.enabled_modes.join(", ")
                    }
                );
                if !p.description.is_empty() {
                    println!("  description:   {}", p.description);
                }
                println!("  created:       {}", p.created_at);
            }
        }
    }
    Ok(())
}

fn status(archived: bool) -> &'static str {
    if archived {
        "archived"
    } else {
        "active"
    }
}
