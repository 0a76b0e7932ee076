//! `tsched programs …`: programs (tracks), their meeting modes and their participants.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use tsched_core::participants;
use tsched_core::programs::{
    self, ListQuery, MeetingMode, ModeStatus, NewProgram, ProgramChanges, ProgramView,
};

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
        /// Page size (default 100).
        #[arg(long, default_value_t = 0, hide_default_value = true)]
        limit: u32,
        /// Continue after this cursor (printed on stderr when more rows follow).
        #[arg(long, value_name = "CURSOR")]
        after: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show one program, its meeting modes and how many participants it has.
    Show {
        /// The program's code.
        code: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Rename a program (and optionally change its description).
    Rename {
        /// The program's code.
        code: String,
        /// The new display name.
        name: String,
        /// A new description ("" clears it).
        #[arg(long)]
        description: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Change a program's description.
    Describe {
        /// The program's code.
        code: String,
        /// The new description ("" clears it).
        description: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Archive a program: it keeps everything but refuses changes.
    Archive {
        /// The program's code.
        code: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Unarchive a program.
    Unarchive {
        /// The program's code.
        code: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Enable or disable meeting modes (in-person, phone, teams-video).
    #[command(subcommand)]
    Modes(Modes),
    /// Participants of a program.
    #[command(subcommand)]
    Participants(Participants),
}

#[derive(Debug, Subcommand)]
pub enum Modes {
    /// Enable a meeting mode. Teams video needs the integration connected.
    Enable {
        /// The program's code.
        code: String,
        /// in-person, phone or teams-video.
        mode: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Disable a meeting mode.
    Disable {
        /// The program's code.
        code: String,
        /// in-person, phone or teams-video.
        mode: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Participants {
    /// Add one participant.
    Add {
        /// The program's code.
        code: String,
        /// Their email address.
        email: String,
        /// Their display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Remove one participant.
    Remove {
        /// The program's code.
        code: String,
        /// Their email address.
        email: String,
    },
    /// Import participants from a CSV file with the header row `email,display_name` (UTF-8,
    /// with or without BOM). All or nothing: any bad row and nothing is imported.
    Import {
        /// The program's code.
        code: String,
        /// The CSV file.
        file: PathBuf,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// List participants (all of them, unless --limit or --after asks for one page).
    List {
        /// The program's code.
        code: String,
        /// Page size.
        #[arg(long)]
        limit: Option<u32>,
        /// Continue after this cursor (printed on stderr when more rows follow).
        #[arg(long, value_name = "CURSOR")]
        after: Option<String>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: Programs, ctx: &Context) -> anyhow::Result<()> {
    let mut store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    match cmd {
        Programs::Add {
            name,
            code,
            description,
            json,
        } => {
            let p = programs::add(
                &mut store,
                &actor,
                NewProgram {
                    name,
                    code,
                    description,
                },
            )?;
            done(json, &p, format!("Added program {} ({}).", p.name, p.code))?;
        }
        Programs::List {
            search,
            all,
            limit,
            after,
            json,
        } => {
            let page = programs::list_page(
                &store,
                &actor,
                &ListQuery {
                    search,
                    include_archived: all,
                    limit,
                    after,
                    ..Default::default()
                },
            )?;
            let list = page.items;
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
                            modes_summary(p),
                            status(p.archived).into(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    output::table(&["CODE", "NAME", "MEETING MODES", "STATUS"], &rows)
                );
            }
            output::more(page.next_cursor.as_deref());
        }
        Programs::Show { code, json } => {
            let p = programs::show(&store, &actor, &code)?;
            if json {
                output::json(&p)?;
            } else {
                print_program(&p);
            }
        }
        Programs::Rename {
            code,
            name,
            description,
            json,
        } => {
            let p = programs::edit(
                &mut store,
                &actor,
                &code,
                ProgramChanges {
                    name: Some(name),
                    description,
                },
            )?;
            done(
                json,
                &p,
                format!("Program {} is now named {}.", p.code, p.name),
            )?;
        }
        Programs::Describe {
            code,
            description,
            json,
        } => {
            let p = programs::edit(
                &mut store,
                &actor,
                &code,
                ProgramChanges {
                    name: None,
                    description: Some(description),
                },
            )?;
            done(json, &p, format!("Updated the description of {}.", p.code))?;
        }
        Programs::Archive { code, json } => {
            let p = programs::set_archived(&mut store, &actor, &code, true)?;
            done(
                json,
                &p,
                format!("Archived program {} ({}).", p.name, p.code),
            )?;
        }
        Programs::Unarchive { code, json } => {
            let p = programs::set_archived(&mut store, &actor, &code, false)?;
            done(
                json,
                &p,
                format!("Unarchived program {} ({}).", p.name, p.code),
            )?;
        }
        Programs::Modes(Modes::Enable { code, mode, json }) => {
            let mode: MeetingMode = mode.parse()?;
            let p = programs::set_mode(&mut store, &actor, &code, mode, true)?;
            done(json, &p, format!("{}: {} enabled.", p.code, mode.label()))?;
        }
        Programs::Modes(Modes::Disable { code, mode, json }) => {
            let mode: MeetingMode = mode.parse()?;
            let p = programs::set_mode(&mut store, &actor, &code, mode, false)?;
            done(json, &p, format!("{}: {} disabled.", p.code, mode.label()))?;
        }
        Programs::Participants(Participants::Add {
            code,
            email,
            name,
            json,
        }) => {
            let row = participants::add(&mut store, &actor, &code, &email, &name)?;
            done(
                json,
                &row,
                format!("Added {} to {}.", row.email, code.trim()),
            )?;
        }
        Programs::Participants(Participants::Remove { code, email }) => {
            participants::remove(&mut store, &actor, &code, &email)?;
            println!("Removed {} from {}.", email.trim(), code.trim());
        }
        Programs::Participants(Participants::Import { code, file, json }) => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let name = file.display().to_string();
            let r = participants::import_csv(&mut store, &actor, &code, &name, &bytes)?;
            done(
                json,
                &r,
                format!(
                    "Imported {}: {} added, {} already in {}.",
                    r.file, r.added, r.already_present, r.program
                ),
            )?;
        }
        Programs::Participants(Participants::List {
            code,
            limit,
            after,
            json,
        }) => {
            let (list, next) = if limit.is_some() || after.is_some() {
                let page = participants::list_page(
                    &store,
                    &actor,
                    &code,
                    after.as_deref(),
                    limit.unwrap_or(0),
                )?;
                (page.items, page.next_cursor)
            } else {
                (participants::list(&store, &actor, &code)?, None)
            };
            if json {
                output::json(&list)?;
            } else if list.is_empty() {
                println!("No participants in {} yet.", code.trim());
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|p| vec![p.email.clone(), p.display_name.clone(), p.added_at.clone()])
                    .collect();
                print!(
                    "{}",
                    output::table(&["EMAIL", "DISPLAY NAME", "ADDED"], &rows)
                );
            }
            output::more(next.as_deref());
        }
    }
    Ok(())
}

/// Prints the result as JSON, or the one-line human message.
fn done<T: serde::Serialize>(json: bool, value: &T, message: String) -> anyhow::Result<()> {
    if json {
        output::json(value)
    } else {
        println!("{message}");
        Ok(())
    }
}

fn modes_summary(p: &ProgramView) -> String {
    let parts: Vec<String> = p
        .modes
        .iter()
        .filter(|m| m.chosen)
        .map(|m| match m.status {
            ModeStatus::Unavailable => format!("{} (unavailable)", m.mode.as_str()),
            _ => m.mode.as_str().to_string(),
        })
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

fn print_program(p: &ProgramView) {
    println!("{} ({})", p.name, p.code);
    println!("  status:        {}", status(p.archived));
    println!("  meeting modes:");
    for m in &p.modes {
        let state = match (m.status, &m.reason) {
            (ModeStatus::Enabled, _) => "enabled".to_string(),
            (ModeStatus::Disabled, _) => "disabled".to_string(),
            (ModeStatus::Unavailable, reason) => format!(
                "{} ({})",
                if m.chosen {
                    "chosen but unavailable"
                } else {
                    "unavailable"
                },
                reason.as_deref().unwrap_or("")
            ),
        };
        println!("    {:<12} {state}", m.mode.as_str());
    }
    if !p.description.is_empty() {
        println!("  description:   {}", p.description);
    }
    println!("  created:       {}", p.created_at);
}

fn status(archived: bool) -> &'static str {
    if archived {
        "archived"
    } else {
        "active"
    }
}
