//! Time-zone resolution, pure: a wall-clock time a person typed plus an IANA zone becomes one UTC
//! instant, or an exact refusal. Daylight-saving transitions make this partial: in a spring-forward
//! gap the local time never happens (`NonexistentLocalTime`), in a fall-back fold it happens twice
//! (`Ambiguous`) and the person must say which one ([`DstChoice::Earlier`] / [`DstChoice::Later`]).
//! We never guess: a meeting an hour off is worse than a refusal. No I/O, no clock.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

/// What to do when a local time is ambiguous (it happens twice in a DST fold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DstChoice {
    /// Refuse an ambiguous time (the default).
    #[default]
    Refuse,
    /// The first occurrence (still on daylight time).
    Earlier,
    /// The second occurrence (back on standard time).
    Later,
}

impl FromStr for DstChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "refuse" | "" => Ok(DstChoice::Refuse),
            "earlier" | "first" => Ok(DstChoice::Earlier),
            "later" | "second" => Ok(DstChoice::Later),
            other => Err(format!(
                "unknown DST choice '{other}'; use earlier or later"
            )),
        }
    }
}

/// Why a local time could not be turned into an instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TzProblem {
    /// The clocks jump over this time (spring forward).
    #[error("{local} does not exist in {zone}: the clocks jump forward over it (daylight saving time starts); pick a time outside the gap")]
    NonexistentLocalTime {
        /// The local time as given.
        local: String,
        /// The IANA zone.
        zone: String,
    },
    /// The time happens twice (fall back).
    #[error("{local} happens twice in {zone} (daylight saving time ends): first at {earlier}, then at {later}; choose earlier or later")]
    Ambiguous {
        /// The local time as given.
        local: String,
        /// The IANA zone.
        zone: String,
        /// The first occurrence (UTC, RFC 3339).
        earlier: String,
        /// The second occurrence (UTC, RFC 3339).
        later: String,
    },
    /// Not an IANA zone name.
    #[error("unknown time zone '{0}'; use an IANA name such as Europe/Berlin or America/New_York")]
    UnknownZone(String),
}

/// Parses an IANA zone name (`Europe/Berlin`).
pub fn parse_zone(name: &str) -> Result<Tz, TzProblem> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| TzProblem::UnknownZone(name.trim().to_string()))
}

/// Resolves a wall-clock time in `tz` to a UTC instant. A gap is always refused; a fold is
/// refused unless `dst` picks an occurrence.
pub fn resolve_local(
    naive: NaiveDateTime,
    tz: Tz,
    dst: DstChoice,
) -> Result<DateTime<Utc>, TzProblem> {
    let local = naive.format("%Y-%m-%d %H:%M").to_string();
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => {
            let (earlier, later) = if a <= b { (a, b) } else { (b, a) };
            match dst {
                DstChoice::Earlier => Ok(earlier.with_timezone(&Utc)),
                DstChoice::Later => Ok(later.with_timezone(&Utc)),
                DstChoice::Refuse => Err(TzProblem::Ambiguous {
                    local,
                    zone: tz.name().to_string(),
                    earlier: crate::time::to_db(earlier.with_timezone(&Utc)),
                    later: crate::time::to_db(later.with_timezone(&Utc)),
                }),
            }
        }
        LocalResult::None => Err(TzProblem::NonexistentLocalTime {
            local,
            zone: tz.name().to_string(),
        }),
    }
}

/// Parses a local date-time as people type it: `2027-03-14 09:30`, `2027-03-14T09:30`, with or
/// without seconds.
pub fn parse_local(raw: &str) -> Result<NaiveDateTime, String> {
    let s = raw.trim();
    for f in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t);
        }
    }
    Err(format!(
        "'{s}' is not a local date and time; write it as YYYY-MM-DD HH:MM"
    ))
}

/// Formats a UTC instant (the store's text form) as wall-clock time in `zone`, e.g.
/// `2027-03-15 09:00 EDT`; falls back to the UTC text when either is unreadable.
pub fn format_local(utc: &str, zone: &str) -> String {
    match (DateTime::parse_from_rfc3339(utc), parse_zone(zone)) {
        (Ok(t), Ok(tz)) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
        _ => utc.to_string(),
    }
}

impl fmt::Display for DstChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DstChoice::Refuse => "refuse",
            DstChoice::Earlier => "earlier",
            DstChoice::Later => "later",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> Tz {
        parse_zone("America/New_York").expect("zone")
    }

    fn at(s: &str) -> NaiveDateTime {
        parse_local(s).expect("local time parses")
    }

    #[test]
    fn spring_forward_gap_is_refused_whatever_the_choice() {
        for dst in [DstChoice::Refuse, DstChoice::Earlier, DstChoice::Later] {
            let err = resolve_local(at("2027-03-14 02:30"), ny(), dst)
                .expect_err("02:30 does not exist on 2027-03-14 in New York");
            assert!(
                matches!(err, TzProblem::NonexistentLocalTime { .. }),
                "a gap is NonexistentLocalTime, got {err:?}"
            );
            assert!(
                err.to_string().contains("2027-03-14 02:30")
                    && err.to_string().contains("America/New_York"),
                "the message names the time and zone: {err}"
            );
        }
    }

    #[test]
    fn fall_back_fold_is_ambiguous_unless_earlier_or_later_is_picked() {
        let err = resolve_local(at("2027-11-07 01:30"), ny(), DstChoice::Refuse)
            .expect_err("01:30 happens twice on 2027-11-07 in New York");
        assert_eq!(
            err,
            TzProblem::Ambiguous {
                local: "2027-11-07 01:30".into(),
                zone: "America/New_York".into(),
                earlier: "2027-11-07T05:30:00Z".into(),
                later: "2027-11-07T06:30:00Z".into(),
            },
            "both occurrences are named (EDT -4 then EST -5)"
        );
        assert_eq!(
            crate::time::to_db(
                resolve_local(at("2027-11-07 01:30"), ny(), DstChoice::Earlier).expect("earlier")
            ),
            "2027-11-07T05:30:00Z",
            "earlier = daylight time"
        );
        assert_eq!(
            crate::time::to_db(
                resolve_local(at("2027-11-07T01:30"), ny(), DstChoice::Later).expect("later")
            ),
            "2027-11-07T06:30:00Z",
            "later = standard time"
        );
    }

    #[test]
    fn ordinary_times_resolve_and_bad_input_is_named() {
        let t = resolve_local(
            at("2027-03-15 09:00"),
            parse_zone("Europe/Berlin").expect("zone"),
            DstChoice::Refuse,
        )
        .expect("ordinary time");
        assert_eq!(
            crate::time::to_db(t),
            "2027-03-15T08:00:00Z",
            "CET is UTC+1 in March before the switch"
        );
        assert!(
            matches!(parse_zone("Mars/Olympus"), Err(TzProblem::UnknownZone(_))),
            "unknown zones are refused"
        );
        assert!(
            parse_local("14/03/2027 9am").is_err(),
            "unparseable times are refused"
        );
        assert_eq!(
            format_local("2027-03-15T13:00:00Z", "America/New_York"),
            "2027-03-15 09:00 EDT",
            "display in the meeting's zone"
        );
        assert_eq!(
            "Later".parse::<DstChoice>(),
            Ok(DstChoice::Later),
            "choice parses case-insensitively"
        );
    }
}
