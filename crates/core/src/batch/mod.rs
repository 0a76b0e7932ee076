//! Batch creation of Teams meetings from a CSV file: read (`csv`), check every row (`validate`),
//! plan and store the batch before anything is sent (`plan`), create the meetings through
//! `createOrGet` under a rate controller (`rate`, `run`), and report (`export`).
//!
//! Guarantees: a dry run sends nothing that creates a meeting; every rejected row lists every
//! reason with its line and column; the batch and all its items are in SQLite before the first
//! meeting is created; each item's `externalId` is derived deterministically from its row, so a
//! retried, resumed or concurrently re-run item can never make a second meeting
//! (https://learn.microsoft.com/en-us/graph/api/application-post-onlinemeetings-createorget).
//! The core never prints: progress goes out as [`BatchEvent`]s through a callback.

pub mod csv;
pub mod export;
pub mod ids;
pub mod plan;
pub mod rate;
pub mod run;
pub mod validate;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use plan::{external_id, plan_file, Plan, PlanOptions, PlannedRow, RowStatus, Summary};
pub use run::{cancel, list, resume, run, show, BatchView, RunOptions, RunOutcome};

/// Why a row (or the file) is refused. Stable snake_case names: scripts match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemCode {
    /// The file is not UTF-8.
    NotUtf8,
    /// The file has no header row.
    MissingHeader,
    /// The header row lacks a required column or repeats one.
    BadHeader,
    /// The CSV itself cannot be read at this point.
    Unreadable,
    /// A required value is empty.
    MissingValue,
    /// No program with this code.
    UnknownProgram,
    /// The program is archived.
    ArchivedProgram,
    /// Teams video calls are off in the program (or unavailable).
    TeamsOff,
    /// The acting operator may not manage batches in the program.
    Denied,
    /// A subject that is too long or has control characters.
    BadSubject,
    /// A date-time that cannot be read.
    BadTime,
    /// An unknown IANA time zone.
    BadTimeZone,
    /// The local time does not exist (DST gap).
    DstGap,
    /// The local time happens twice (DST fold) and no `--dst` choice was given.
    DstAmbiguous,
    /// `end` is not after `start`.
    EndNotAfterStart,
    /// Longer than 24 hours.
    TooLong,
    /// `duration_minutes` is not a positive whole number, or both `end` and it are given.
    BadDuration,
    /// The start is in the past.
    InPast,
    /// An address that is not an email address.
    BadAddress,
    /// Not a member of the tenant's directory.
    NotMember,
    /// A guest (B2B) account.
    Guest,
    /// The directory has several accounts for the address.
    AmbiguousAddress,
    /// The directory could not be asked about the address.
    MembershipUnknown,
    /// Not a participant of the program.
    NotParticipant,
    /// The same program, start, participants and subject as another row.
    DuplicateRow,
    /// The same `external_ref` as another row.
    DuplicateRef,
    /// The row's meeting is already scheduled by another batch.
    AlreadyScheduled,
}

/// One problem, located: 1-based line and column, the column's name, a stable code and words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// 1-based line in the file (where the record starts).
    pub line: u64,
    /// 1-based column in the file.
    pub column: u32,
    /// The column's documented name (empty for file-level problems).
    pub field: String,
    /// Stable code.
    pub code: ProblemCode,
    /// What is wrong, in words a coordinator can act on.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(
                f,
                "line {}, column {}: {}",
                self.line, self.column, self.message
            )
        } else {
            write!(
                f,
                "line {}, column {} ({}): {}",
                self.line, self.column, self.field, self.message
            )
        }
    }
}

/// A row that is ready: everything needed to create its meeting, resolved to UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingRow {
    /// 1-based line in the file.
    pub line: u64,
    /// Program code (as stored).
    pub program: String,
    /// Subject.
    pub subject: String,
    /// Start (UTC).
    pub start_utc: DateTime<Utc>,
    /// End (UTC).
    pub end_utc: DateTime<Utc>,
    /// IANA time zone the times were given in.
    pub time_zone: String,
    /// Participant addresses, lower-cased, sorted, unique.
    pub participants: Vec<String>,
    /// The attendees as the directory knows them (UPN and object id), in `participants` order.
    pub attendees: Vec<crate::graph::meetings::Attendee>,
    /// The coordinator's key, when given.
    pub external_ref: Option<String>,
    /// The `externalId` sent to `createOrGet`.
    pub external_id: String,
}

impl MeetingRow {
    /// The `createOrGet` request that makes (or finds) this row's meeting.
    pub fn create_or_get(&self) -> crate::graph::meetings::CreateOrGet {
        crate::graph::meetings::CreateOrGet {
            external_id: self.external_id.clone(),
            subject: self.subject.clone(),
            start: self.start_utc,
            end: self.end_utc,
            attendees: self.attendees.clone(),
        }
    }

    /// The calendar event that makes this row's meeting in the `calendar` invitation mode: its
    /// `transactionId` derives from the externalId (as the externalId from the row), so a
    /// resumed or re-run batch never sends a second invitation.
    pub fn new_event(&self) -> crate::graph::events::NewEvent {
        crate::graph::events::NewEvent {
            transaction_id: crate::graph::events::transaction_id(&self.external_id),
            subject: self.subject.clone(),
            start: self.start_utc,
            end: self.end_utc,
            attendees: self
                .attendees
                .iter()
                .map(|a| crate::graph::events::EventAttendee {
                    address: a.upn.clone(),
                    name: None,
                })
                .collect(),
        }
    }
}

/// Progress of a running batch, emitted by [`run::run`]/[`run::resume`] through a callback.
/// The CLI draws a bar or prints one JSON object per line; the desktop app forwards them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BatchEvent {
    /// Work begins: how many items, how many were already finished (a resume).
    Started {
        /// Batch id.
        batch: i64,
        /// Items in the batch.
        total: u64,
        /// Items queued now.
        queued: u64,
        /// Items done before this run.
        already_done: u64,
    },
    /// A request for the item is on its way.
    InFlight {
        /// Line of the row.
        line: u64,
        /// 1-based attempt.
        attempt: u32,
    },
    /// The meeting exists (created now, or found by `createOrGet`).
    Done {
        /// Line of the row.
        line: u64,
        /// Graph meeting id.
        meeting_id: String,
        /// The join link.
        join_web_url: String,
        /// True for 201 (created now), false for 200 (it already existed).
        created: bool,
    },
    /// The item will not be created: a non-retryable answer.
    Failed {
        /// Line of the row.
        line: u64,
        /// Graph's error code (or ours).
        code: String,
        /// Graph's message.
        message: String,
    },
    /// A transient failure; the item is retried after `wait_ms`.
    Retrying {
        /// Line of the row.
        line: u64,
        /// Attempt that failed.
        attempt: u32,
        /// Wait before the next attempt.
        wait_ms: u64,
        /// What happened.
        reason: String,
    },
    /// Graph answered 429: everything waits `retry_after_ms`.
    Throttled {
        /// The hold.
        retry_after_ms: u64,
        /// The new sending rate (requests/s).
        rate: f64,
    },
    /// Periodic figures.
    Progress {
        /// Items done.
        done: u64,
        /// Items failed.
        failed: u64,
        /// Items in flight.
        in_flight: u64,
        /// Items not yet done or failed.
        remaining: u64,
        /// Controller's sending rate (requests/s).
        rate: f64,
        /// Achieved meetings/s over the last seconds.
        achieved: f64,
        /// Estimated seconds to finish.
        eta_secs: Option<f64>,
    },
    /// The batch stopped and waits for a person (e.g. "reconnect the host").
    Paused {
        /// Why.
        reason: String,
    },
    /// The run ended.
    Finished {
        /// Final batch state (`completed`, `cancelled`, `paused`).
        state: String,
        /// Items done.
        done: u64,
        /// Items failed.
        failed: u64,
        /// Items cancelled.
        cancelled: u64,
        /// Wall time of this run.
        elapsed_ms: u64,
    },
}
