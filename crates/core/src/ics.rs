//! iCalendar export (RFC 5545 objects carrying iTIP methods, RFC 5546), pure: meetings in,
//! text out. `METHOD:REQUEST` for live meetings, `METHOD:CANCEL` with a higher `SEQUENCE` for
//! cancelled ones; a stable `UID` from the externalId, `ORGANIZER` = the host, one `ATTENDEE`
//! each, the join link in `URL`, `LOCATION` and `DESCRIPTION`, times in UTC.
//! Formatting rules: CRLF line ends (RFC 5545 §3.1), lines folded at 75 octets without splitting
//! a UTF-8 character (§3.1), TEXT escaping of `\`, `;`, `,` and newlines (§3.3.11), quoted
//! parameter values when they hold `:;,` (§3.2). No I/O.

use chrono::{DateTime, Utc};

use crate::store::meetings::{MeetingRow, MeetingState};

/// PRODID of our exports.
pub const PRODID: &str = "-//Teams Scheduler//tsched//EN";

/// Escapes a TEXT value (RFC 5545 §3.3.11).
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A parameter value: DQUOTE is not allowed inside, so it is dropped; quoted when needed.
fn param_value(s: &str) -> String {
    let clean: String = s.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    if clean.contains([':', ';', ',']) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}

/// A value written raw (a `mailto:` address, a URI, the UID): control characters, CR and LF
/// above all, are dropped, so a value Graph or an import supplied cannot end the line and add
/// properties of its own (RFC 5545 §3.1: a content line ends at CRLF).
fn raw_value(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Folds one content line at 75 octets (continuations start with one space, which counts).
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3);
    let mut width = 0usize;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
    out
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn stamp_db(s: &str) -> String {
    DateTime::parse_from_rfc3339(s)
        .map(|t| stamp(t.with_timezone(&Utc)))
        .unwrap_or_else(|_| s.replace(['-', ':'], ""))
}

/// Pure: the `UID` of a meeting (stable across exports, reschedules and cancellation).
pub fn uid(m: &MeetingRow) -> String {
    format!("{}@teams-scheduler", raw_value(&m.external_id))
}

fn event(m: &MeetingRow, now: DateTime<Utc>, out: &mut String) {
    let cancelled = m.state == MeetingState::Cancelled;
    let mut lines: Vec<String> = vec![
        "BEGIN:VEVENT".into(),
        format!("UID:{}", uid(m)),
        format!("DTSTAMP:{}", stamp(now)),
        format!("SEQUENCE:{}", m.sequence),
        format!("DTSTART:{}", stamp_db(&m.start_utc)),
        format!("DTEND:{}", stamp_db(&m.end_utc)),
        format!("SUMMARY:{}", escape_text(&m.subject)),
    ];
    if let Some(org) = &m.organizer_upn {
        let org = raw_value(org);
        lines.push(format!("ORGANIZER;CN=Teams Scheduler:mailto:{org}"));
    }
    for a in &m.attendees {
        let cn = a
            .display_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(|n| format!(";CN={}", param_value(n)))
            .unwrap_or_default();
        // The address the coordinator typed is where the person reads mail (a UPN may not be).
        let addr = raw_value(&a.address);
        lines.push(format!(
            "ATTENDEE{cn};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{addr}"
        ));
    }
    let join_url = m.join_web_url.as_deref().map(raw_value);
    if let Some(url) = &join_url {
        lines.push(format!("URL:{url}"));
    }
    lines.push(format!(
        "LOCATION:{}",
        escape_text("Microsoft Teams meeting")
    ));
    let mut desc = String::new();
    if let Some(url) = &join_url {
        desc.push_str(&format!("Join the Microsoft Teams meeting: {url}\n"));
    }
    if let Some(id) = &m.join_meeting_id {
        desc.push_str(&format!("Meeting ID: {id}\n"));
    }
    if let Some(p) = &m.passcode {
        desc.push_str(&format!("Passcode: {p}\n"));
    }
    desc.push_str(&format!("Program: {}", m.program_code));
    lines.push(format!("DESCRIPTION:{}", escape_text(&desc)));
    lines.push(format!(
        "STATUS:{}",
        if cancelled { "CANCELLED" } else { "CONFIRMED" }
    ));
    lines.push("END:VEVENT".into());
    for l in lines {
        out.push_str(&fold(&l));
    }
}

/// Pure: one calendar object with `method` holding `meetings`.
pub fn calendar(method: &str, meetings: &[&MeetingRow], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    for l in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        &format!("PRODID:{PRODID}"),
        "CALSCALE:GREGORIAN",
        &format!("METHOD:{method}"),
    ] {
        out.push_str(&fold(l));
    }
    for m in meetings {
        event(m, now, &mut out);
    }
    out.push_str(&fold("END:VCALENDAR"));
    out
}

/// Pure: the `.ics` of one meeting (CANCEL once cancelled, else REQUEST).
pub fn render_one(m: &MeetingRow, now: DateTime<Utc>) -> String {
    let method = if m.state == MeetingState::Cancelled {
        "CANCEL"
    } else {
        "REQUEST"
    };
    calendar(method, &[m], now)
}

/// The export of several meetings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Export {
    /// `METHOD:REQUEST` with the created meetings (None when there are none).
    pub request: Option<String>,
    /// `METHOD:CANCEL` with the cancelled meetings (None when there are none).
    pub cancel: Option<String>,
    /// Meetings left out (pending, failed).
    pub skipped: usize,
}

/// Pure: live meetings in a REQUEST calendar, cancelled ones in a CANCEL calendar.
pub fn render_many(rows: &[MeetingRow], now: DateTime<Utc>) -> Export {
    let live: Vec<&MeetingRow> = rows
        .iter()
        .filter(|m| matches!(m.state, MeetingState::Created | MeetingState::Cancelling))
        .collect();
    let gone: Vec<&MeetingRow> = rows
        .iter()
        .filter(|m| m.state == MeetingState::Cancelled)
        .collect();
    Export {
        skipped: rows.len() - live.len() - gone.len(),
        request: (!live.is_empty()).then(|| calendar("REQUEST", &live, now)),
        cancel: (!gone.is_empty()).then(|| calendar("CANCEL", &gone, now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escaping_covers_backslash_semicolon_comma_and_newlines() {
        assert_eq!(
            escape_text("a\\b;c,d\ne\r\nf"),
            "a\\\\b\\;c\\,d\\ne\\nf",
            "RFC 5545 §3.3.11 escapes"
        );
    }

    #[test]
    fn folding_keeps_lines_within_75_octets_without_splitting_utf8() {
        let long = format!("SUMMARY:{}", "Zoë Ødegård ".repeat(20));
        let folded = fold(&long);
        for l in folded.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "line of {} octets: {l:?}", l.len());
        }
        let unfolded = folded.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, long, "unfolding restores the line");
    }

    #[test]
    fn a_graph_organizer_or_join_url_with_crlf_cannot_inject_ics_properties() {
        let m = MeetingRow {
            id: 1,
            external_id: "ext-1".into(),
            program_id: 1,
            program_code: "eng".into(),
            batch_id: None,
            subject: "s".into(),
            start_utc: "2027-03-14T09:00:00Z".into(),
            end_utc: "2027-03-14T10:00:00Z".into(),
            time_zone: "UTC".into(),
            state: MeetingState::Created,
            graph_id: Some("g".into()),
            join_web_url: Some("https://teams.example/j\r\nATTACH:https://evil.example/x".into()),
            join_meeting_id: None,
            passcode: None,
            organizer_upn: Some("host@x.com\r\nATTENDEE:mailto:spy@evil.example".into()),
            sequence: 0,
            last_error: None,
            created_by: "a@x.com".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
            invitations: Default::default(),
            event_id: None,
            invitations_sent_at: None,
            invitations_updated_at: None,
            invitations_cancelled_at: None,
            attendees: Vec::new(),
        };
        let text = render_one(&m, Utc::now());
        let unfolded = text.replace("\r\n ", "");
        for line in unfolded.split("\r\n") {
            assert!(
                !line.starts_with("ATTACH") && !line.starts_with("ATTENDEE"),
                "a CR/LF in a Graph-supplied value must not start a property: {line:?}"
            );
        }
        assert!(
            unfolded.contains("ORGANIZER;CN=Teams Scheduler:mailto:host@x.comATTENDEE:mailto:spy"),
            "the organizer stays one line: {unfolded}"
        );
        assert!(
            !unfolded.contains('\n') || unfolded.split("\r\n").all(|l| !l.contains('\n')),
            "no bare LF inside a line"
        );
    }
}
