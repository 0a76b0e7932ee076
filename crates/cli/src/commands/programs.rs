//! `tsched programs …`: programs (tracks), their meeting modes and their participants. `run()`
//! hands each subcommand to one short function over `tsched_core::programs` / `participants`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use tsched_core::participants;
use tsched_core::programs::{
    self, ListQuery, MeetingMode, ModeStatus, NewProgram, ProgramChanges, ProgramView,
};
use tsched_core::{Actor, Store};

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
        /// Change it only if it is still at this version (as `programs show` printed it);
        /// another change since then is refused, naming who made it.
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
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
        /// Change it only if it is still at this version (as `programs show` printed it);
        /// another change since then is refused, naming who made it.
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Archive a program: it keeps everything but refuses changes.
    Archive {
        /// The program's code.
        code: String,
        /// Change it only if it is still at this version (as `programs show` printed it);
        /// another change since then is refused, naming who made it.
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Unarchive a program.
    Unarchive {
        /// The program's code.
        code: String,
        /// Change it only if it is still at this version (as `programs show` printed it);
        /// another change since then is refused, naming who made it.
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
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
        /// Change it only if it is still at this version (as `programs show` printed it);
        /// another change since then is refused, naming who made it.
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
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
        /// Change it only if it is still at this version (as `programs show` printed it);
        /// another change since then is refused, naming who made it.
        #[arg(long, value_name = "N")]
        if_version: Option<i64>,
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
    let (store, actor) = (&mut store, &actor);
    match cmd {
        Programs::Add {
            name,
            code,
            description,
            json,
        } => add(store, actor, name, code, description, json),
        Programs::List {
            search,
            all,
            limit,
            after,
            json,
        } => list(store, actor, search, all, limit, after, json),
        Programs::Show { code, json } => show(store, actor, &code, json),
        Programs::Rename {
            code,
            name,
            description,
            if_version,
            json,
        } => {
            let changes = ProgramChanges {
                name: Some(name),
                description,
            };
            let p = programs::edit(store, actor, &code, changes, if_version)?;
            let message = format!("Program {} is now named {}.", p.code, p.name);
            done(json, &p, message)
        }
        Programs::Describe {
            code,
            description,
            if_version,
            json,
        } => {
            let changes = ProgramChanges {
                name: None,
                description: Some(description),
            };
            let p = programs::edit(store, actor, &code, changes, if_version)?;
            done(json, &p, format!("Updated the description of {}.", p.code))
        }
        Programs::Archive {
            code,
            if_version,
            json,
        } => set_archived(store, actor, &code, true, if_version, json),
        Programs::Unarchive {
            code,
            if_version,
            json,
        } => set_archived(store, actor, &code, false, if_version, json),
        Programs::Modes(cmd) => modes(store, actor, cmd),
        Programs::Participants(cmd) => participants_cmd(store, actor, cmd),
    }
}

/// `programs modes …`.
fn modes(store: &mut Store, actor: &Actor, cmd: Modes) -> anyhow::Result<()> {
    match cmd {
        Modes::Enable {
            code,
            mode,
            if_version,
            json,
        } => set_mode(store, actor, &code, &mode, true, if_version, json),
        Modes::Disable {
            code,
            mode,
            if_version,
            json,
        } => set_mode(store, actor, &code, &mode, false, if_version, json),
    }
}

/// `programs participants …`.
fn participants_cmd(store: &mut Store, actor: &Actor, cmd: Participants) -> anyhow::Result<()> {
    match cmd {
        Participants::Add {
            code,
            email,
            name,
            json,
        } => participant_add(store, actor, &code, &email, &name, json),
        Participants::Remove { code, email } => participant_remove(store, actor, &code, &email),
        Participants::Import { code, file, json } => {
            participant_import(store, actor, &code, &file, json)
        }
        Participants::List {
            code,
            limit,
            after,
            json,
        } => participant_list(store, actor, &code, limit, after, json),
    }
}

/// `programs add`.
fn add(
    store: &mut Store,
    actor: &Actor,
    name: String,
    code: Option<String>,
    description: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let new = NewProgram {
        name,
        code,
        description,
    };
    let p = programs::add(store, actor, new)?;
    done(json, &p, format!("Added program {} ({}).", p.name, p.code))
}

/// `programs list`: one page.
fn list(
    store: &Store,
    actor: &Actor,
    search: Option<String>,
    all: bool,
    limit: u32,
    after: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let query = ListQuery {
        search,
        include_archived: all,
        limit,
        after,
        ..Default::default()
    };
    let page = programs::list_page(store, actor, &query)?;
    let list = page.items;
    if json {
        output::json(&list)?;
    } else if list.is_empty() {
        println!(
            "No programs yet. Add one with: tsched programs add \"Engineering Mentoring\" --code eng"
        );
    } else {
        print!("{}", programs_table(&list));
    }
    output::more(page.next_cursor.as_deref());
    Ok(())
}

fn programs_table(list: &[ProgramView]) -> String {
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
    output::table(&["CODE", "NAME", "MEETING MODES", "STATUS"], &rows)
}

/// `programs show`.
fn show(store: &Store, actor: &Actor, code: &str, json: bool) -> anyhow::Result<()> {
    let p = programs::show(store, actor, code)?;
    if json {
        output::json(&p)?;
    } else {
        print_program(&p);
    }
    Ok(())
}

/// `programs archive` and `programs unarchive`.
fn set_archived(
    store: &mut Store,
    actor: &Actor,
    code: &str,
    archived: bool,
    if_version: Option<i64>,
    json: bool,
) -> anyhow::Result<()> {
    let p = programs::set_archived(store, actor, code, archived, if_version)?;
    let verb = if archived { "Archived" } else { "Unarchived" };
    done(json, &p, format!("{verb} program {} ({}).", p.name, p.code))
}

/// `programs modes enable` and `programs modes disable`.
fn set_mode(
    store: &mut Store,
    actor: &Actor,
    code: &str,
    mode: &str,
    enabled: bool,
    if_version: Option<i64>,
    json: bool,
) -> anyhow::Result<()> {
    let mode: MeetingMode = mode.parse()?;
    let p = programs::set_mode(store, actor, code, mode, enabled, if_version)?;
    let verb = if enabled { "enabled" } else { "disabled" };
    done(json, &p, format!("{}: {} {verb}.", p.code, mode.label()))
}

/// `programs participants add`.
fn participant_add(
    store: &mut Store,
    actor: &Actor,
    code: &str,
    email: &str,
    name: &str,
    json: bool,
) -> anyhow::Result<()> {
    let row = participants::add(store, actor, code, email, name)?;
    done(
        json,
        &row,
        format!("Added {} to {}.", row.email, code.trim()),
    )
}

/// `programs participants remove`.
fn participant_remove(
    store: &mut Store,
    actor: &Actor,
    code: &str,
    email: &str,
) -> anyhow::Result<()> {
    participants::remove(store, actor, code, email)?;
    println!("Removed {} from {}.", email.trim(), code.trim());
    Ok(())
}

/// `programs participants import`: all or nothing.
fn participant_import(
    store: &mut Store,
    actor: &Actor,
    code: &str,
    file: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.display().to_string();
    let r = participants::import_csv(store, actor, code, &name, &bytes)?;
    done(
        json,
        &r,
        format!(
            "Imported {}: {} added, {} already in {}.",
            r.file, r.added, r.already_present, r.program
        ),
    )
}

/// `programs participants list`: all of them, or one page when `--limit` or `--after` is given.
fn participant_list(
    store: &Store,
    actor: &Actor,
    code: &str,
    limit: Option<u32>,
    after: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let (list, next) = if limit.is_some() || after.is_some() {
        let page =
            participants::list_page(store, actor, code, after.as_deref(), limit.unwrap_or(0))?;
        (page.items, page.next_cursor)
    } else {
        (participants::list(store, actor, code)?, None)
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
    let by = p.updated_by.as_deref().unwrap_or("(not recorded)");
    println!(
        "  version:       {} (changed {} by {by})",
        p.version, p.updated_at
    );
}

fn status(archived: bool) -> &'static str {
    if archived {
        "archived"
    } else {
        "active"
    }
}
