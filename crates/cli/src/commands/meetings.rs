//! `tsched meetings`: create, reschedule, cancel, list, show and export (`ics`) Teams meetings of
//! a program. `run()` hands each subcommand to one short function over `tsched_core::meetings`;
//! times are typed as local wall-clock times in an IANA zone (default from settings) and shown
//! back in that zone and in UTC.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use tsched_core::meetings::{
    self, EndSpec, ListFilter, Meeting, NaiveLocal, NewMeeting, RescheduleInput,
};
use tsched_core::tz::{self, DstChoice};

use super::agent::{queued, Via};
use super::Context;
use crate::output;

/// When: start, end or duration, zone, and the DST choice.
#[derive(Debug, Args)]
pub struct When {
    /// Local start, e.g. "2027-03-15 09:00".
    #[arg(long)]
    start: String,
    /// Local end in the same zone.
    #[arg(
        long,
        conflicts_with = "duration",
        required_unless_present = "duration"
    )]
    end: Option<String>,
    /// Duration instead of an end: 45m, 1h, 1h30m, or minutes.
    #[arg(long)]
    duration: Option<String>,
    /// IANA time zone, e.g. Europe/Berlin (default: the meetings.default_time_zone setting, else UTC).
    #[arg(long = "tz", value_name = "ZONE")]
    time_zone: Option<String>,
    /// For a local time that happens twice (DST ends): earlier or later.
    #[arg(long, value_name = "earlier|later")]
    dst: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum MeetingsCmd {
    /// Create a Teams meeting in a program.
    Create {
        /// Program code.
        #[arg(long, value_name = "CODE")]
        program: String,
        /// Subject, as invitees will see it.
        #[arg(long)]
        subject: String,
        #[command(flatten)]
        when: When,
        /// Participant address (repeat for several).
        #[arg(long = "participant", value_name = "ADDRESS", required = true)]
        participants: Vec<String>,
        /// Idempotency key (default: a new UUID). The same key never makes a second meeting.
        #[arg(long, value_name = "ID")]
        external_id: Option<String>,
        #[command(flatten)]
        via: Via,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a meeting (the join link stays the same).
    Reschedule {
        /// Meeting id or externalId.
        meeting: String,
        #[command(flatten)]
        when: When,
        /// New subject.
        #[arg(long)]
        subject: Option<String>,
        /// New participant list (repeat; replaces the whole list).
        #[arg(long = "participant", value_name = "ADDRESS")]
        participants: Vec<String>,
        #[command(flatten)]
        via: Via,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a meeting: lock its lobby, delete it in Teams, confirm it is gone.
    Cancel {
        /// Meeting id or externalId.
        meeting: String,
        #[command(flatten)]
        via: Via,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List meetings.
    List {
        #[command(flatten)]
        filter: Filter,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one meeting.
    Show {
        /// Meeting id or externalId.
        meeting: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show or set the default time zone of new meetings (IANA name). Setting needs a global admin.
    DefaultTz {
        /// New default zone, e.g. Europe/Berlin.
        zone: Option<String>,
    },
    /// Export iCalendar (.ics): one meeting, or a program's meetings in a date range.
    Ics {
        /// Meeting id or externalId (else use the filters).
        meeting: Option<String>,
        #[command(flatten)]
        filter: Filter,
        /// Write to this file (default: stdout). For a range with cancellations, the CANCEL
        /// calendar goes to FILE with `-cancel` before the extension.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// Filters shared by `list` and `ics`.
#[derive(Debug, Args)]
pub struct Filter {
    /// Program code.
    #[arg(long, value_name = "CODE")]
    program: Option<String>,
    /// pending, created, cancelling, cancelled or failed.
    #[arg(long)]
    state: Option<String>,
    /// Starting at or after this date (2027-03-14) or time (RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Starting before this date or time.
    #[arg(long)]
    to: Option<String>,
    /// Only meetings with this participant.
    #[arg(long, value_name = "ADDRESS")]
    participant: Option<String>,
    /// Page size (default 100).
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    limit: u32,
    /// Continue after this cursor (printed on stderr when more rows follow).
    #[arg(long, value_name = "CURSOR")]
    after: Option<String>,
}

impl Filter {
    fn into_core(self) -> anyhow::Result<ListFilter> {
        Ok(ListFilter {
            program_code: self.program,
            state: self.state,
            from: self
                .from
                .map(|s| tsched_core::audit::parse_instant("from", &s))
                .transpose()?,
            to: self
                .to
                .map(|s| tsched_core::audit::parse_instant("to", &s))
                .transpose()?,
            participant: self.participant,
            limit: self.limit,
            after: self.after,
        })
    }
}

fn when(w: &When) -> Result<(NaiveLocal, EndSpec, DstChoice), tsched_core::Error> {
    meetings::parse_when(
        &w.start,
        w.end.as_deref(),
        w.duration.as_deref(),
        w.dst.as_deref(),
    )
}

fn describe(m: &Meeting) -> String {
    let mut s = format!(
        "Meeting {} (id {}) in '{}': {}\n  State:     {}\n  Start:     {} ({})\n  End:       {} ({})\n",
        m.external_id,
        m.id,
        m.program_code,
        m.subject,
        m.state,
        tz::format_local(&m.start_utc, &m.time_zone),
        m.start_utc,
        tz::format_local(&m.end_utc, &m.time_zone),
        m.end_utc,
    );
    if let Some(u) = &m.join_web_url {
        s.push_str(&format!("  Join:      {u}\n"));
    }
    if let Some(j) = &m.join_meeting_id {
        s.push_str(&format!(
            "  Meeting ID: {j}{}\n",
            m.passcode
                .as_deref()
                .map(|p| format!("  Passcode: {p}"))
                .unwrap_or_default()
        ));
    }
    if let Some(o) = &m.organizer_upn {
        s.push_str(&format!("  Organizer: {o}\n"));
    }
    s.push_str(&format!(
        "  Invitations: {}\n",
        meetings::invitations_summary(m)
    ));
    for a in &m.attendees {
        s.push_str(&format!(
            "  Attendee:  {}{}\n",
            a.upn.as_deref().unwrap_or(&a.address),
            a.display_name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ));
    }
    if let Some(e) = &m.last_error {
        s.push_str(&format!("  Last error: {e}\n"));
    }
    s
}

pub fn run(cmd: MeetingsCmd, ctx: &Context) -> anyhow::Result<()> {
    match cmd {
        MeetingsCmd::Create {
            program,
            subject,
            when,
            participants,
            external_id,
            via,
            json,
        } => create(
            ctx,
            program,
            subject,
            when,
            participants,
            external_id,
            via,
            json,
        ),
        MeetingsCmd::Reschedule {
            meeting,
            when,
            subject,
            participants,
            via,
            json,
        } => reschedule(ctx, meeting, when, subject, participants, via, json),
        MeetingsCmd::Cancel { meeting, via, json } => cancel(ctx, &meeting, via, json),
        MeetingsCmd::List { filter, json } => list(ctx, filter, json),
        MeetingsCmd::Show { meeting, json } => show(ctx, &meeting, json),
        MeetingsCmd::DefaultTz { zone } => default_tz(ctx, zone),
        MeetingsCmd::Ics {
            meeting,
            filter,
            out,
        } => ics(ctx, meeting, filter, out),
    }
}

/// `meetings create`: bad input is refused before the network is touched. In a team store the
/// meeting is queued for the host agent (`--wait` shows the result), unless `--direct`.
#[allow(clippy::too_many_arguments)]
fn create(
    ctx: &Context,
    program: String,
    subject: String,
    w: When,
    participants: Vec<String>,
    external_id: Option<String>,
    via: Via,
    json: bool,
) -> anyhow::Result<()> {
    let (start, end, dst) = when(&w)?;
    let mut store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    let input = NewMeeting {
        program,
        subject,
        start,
        end,
        time_zone: w.time_zone,
        dst,
        participants,
        external_id,
        batch_id: None,
    };
    if via.queues(&store) {
        let id = tsched_core::agent::enqueue_create(&store, &actor, &input)?;
        return queued(ctx, &store, id, via.wait, json, |v| {
            if v["outcome"] == "existing" {
                println!("Already created earlier (same externalId); nothing new was made.");
            } else {
                println!("Created by the host agent.");
            }
            print!("{}", describe_json(&v["meeting"]));
            Ok(())
        });
    }
    let created = ctx.runtime()?.block_on(meetings::create_as_host(
        &mut store,
        ctx.tokens(),
        &actor,
        input,
    ))?;
    if json {
        output::json(&created)?;
    } else {
        say_created(&created);
    }
    Ok(())
}

/// A meeting as a job's result carries it (the same fields as `--json`).
fn describe_json(m: &serde_json::Value) -> String {
    let f = |k: &str| m[k].as_str().unwrap_or("").to_string();
    let mut s = format!(
        "  Meeting {} ({}) in {}: {}\n  Starts {} UTC, ends {} UTC; {}\n",
        m["id"],
        f("external_id"),
        f("program_code"),
        f("subject"),
        f("start_utc"),
        f("end_utc"),
        f("state")
    );
    if let Some(url) = m["join_web_url"].as_str() {
        s.push_str(&format!("  Join: {url}\n"));
    }
    s
}

fn say_created(created: &meetings::Created) {
    if created.outcome == tsched_core::graph::meetings::CreateOrGetOutcome::Existing {
        println!("Already created earlier (same externalId); nothing new was made.");
    } else {
        println!("Created.");
    }
    print!("{}", describe(&created.meeting));
}

/// `meetings reschedule`: an empty participant list keeps the current one.
fn reschedule(
    ctx: &Context,
    meeting: String,
    w: When,
    subject: Option<String>,
    participants: Vec<String>,
    via: Via,
    json: bool,
) -> anyhow::Result<()> {
    let (start, end, dst) = when(&w)?;
    let mut store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    let input = RescheduleInput {
        meeting,
        start,
        end,
        time_zone: w.time_zone,
        dst,
        subject,
        participants: (!participants.is_empty()).then_some(participants),
    };
    if via.queues(&store) {
        let id = tsched_core::agent::enqueue_reschedule(&store, &actor, &input)?;
        return queued(ctx, &store, id, via.wait, json, |v| {
            println!("Rescheduled by the host agent; the join link is unchanged.");
            print!("{}", describe_json(&v["meeting"]));
            Ok(())
        });
    }
    let s = ctx.host_session(&store)?;
    let m = ctx
        .runtime()?
        .block_on(meetings::reschedule(&mut store, s.graph(), &actor, input))?;
    if json {
        output::json(&m)?;
    } else {
        println!("Rescheduled; the join link is unchanged.");
        print!("{}", describe(&m));
    }
    Ok(())
}

/// `meetings cancel`.
fn cancel(ctx: &Context, meeting: &str, via: Via, json: bool) -> anyhow::Result<()> {
    let mut store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    if via.queues(&store) {
        let id = tsched_core::agent::enqueue_cancel(&store, &actor, meeting)?;
        return queued(ctx, &store, id, via.wait, json, |v| {
            println!(
                "Cancelled meeting {}.",
                v["meeting"]["external_id"].as_str().unwrap_or(meeting)
            );
            for n in v["notes"].as_array().into_iter().flatten() {
                println!("  Note: {}", n.as_str().unwrap_or_default());
            }
            Ok(())
        });
    }
    let s = ctx.host_session(&store)?;
    let c = ctx
        .runtime()?
        .block_on(meetings::cancel(&mut store, s.graph(), &actor, meeting))?;
    if json {
        output::json(&c)?;
    } else {
        println!("Cancelled meeting {}.", c.meeting.external_id);
        for n in &c.notes {
            println!("  Note: {n}");
        }
    }
    Ok(())
}

/// `meetings list`: one page.
fn list(ctx: &Context, filter: Filter, json: bool) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    let page = meetings::list_page(&store, &actor, &filter.into_core()?)?;
    let rows = page.items;
    if json {
        output::json(&rows)?;
    } else if rows.is_empty() {
        println!("No meetings match.");
    } else {
        print!("{}", meetings_table(&rows));
    }
    output::more(page.next_cursor.as_deref());
    Ok(())
}

fn meetings_table(rows: &[Meeting]) -> String {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|m| {
            vec![
                m.id.to_string(),
                m.program_code.clone(),
                tz::format_local(&m.start_utc, &m.time_zone),
                m.state.to_string(),
                m.attendees.len().to_string(),
                m.subject.clone(),
            ]
        })
        .collect();
    output::table(
        &[
            "ID",
            "PROGRAM",
            "START (LOCAL)",
            "STATE",
            "PEOPLE",
            "SUBJECT",
        ],
        &table,
    )
}

/// `meetings show`.
fn show(ctx: &Context, meeting: &str, json: bool) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    let m = meetings::show(&store, &actor, meeting)?;
    if json {
        output::json(&m)?;
    } else {
        print!("{}", describe(&m));
    }
    Ok(())
}

/// `meetings default-tz [ZONE]`: sets the zone when given, then prints the one in force.
fn default_tz(ctx: &Context, zone: Option<String>) -> anyhow::Result<()> {
    let mut store = ctx.store()?;
    if let Some(z) = zone {
        let actor = ctx.actor(&store)?;
        meetings::set_default_time_zone(&mut store, &actor, &z)?;
    }
    println!(
        "New meetings default to the time zone {}.",
        meetings::default_time_zone(&store)?
    );
    Ok(())
}

/// `meetings ics`: one meeting, or the filtered range (its cancellations as a second calendar).
fn ics(
    ctx: &Context,
    meeting: Option<String>,
    filter: Filter,
    out: Option<PathBuf>,
) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let actor = ctx.actor(&store)?;
    let (main, cancel) = match meeting {
        Some(key) => (Some(meetings::ics_for(&store, &actor, &key)?), None),
        None => {
            let e = meetings::ics_for_range(&store, &actor, &filter.into_core()?)?;
            if e.request.is_none() && e.cancel.is_none() {
                anyhow::bail!("no created or cancelled meetings match; nothing to export");
            }
            (e.request, e.cancel)
        }
    };
    match out {
        None => {
            print!("{}", main.unwrap_or_default());
            print!("{}", cancel.unwrap_or_default());
            Ok(())
        }
        Some(path) => write_ics(&path, main.as_deref(), cancel.as_deref()),
    }
}

/// Writes the request calendar to `path` and the cancellations next to it with `-cancel` before
/// the extension, saying each file on stderr.
fn write_ics(path: &Path, main: Option<&str>, cancel: Option<&str>) -> anyhow::Result<()> {
    if let Some(text) = main {
        tsched_core::exports::write_private(path, text)?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(text) = cancel {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "meetings".into());
        let p = path.with_file_name(format!("{stem}-cancel.ics"));
        tsched_core::exports::write_private(&p, text)?;
        eprintln!("wrote {}", p.display());
    }
    Ok(())
}
