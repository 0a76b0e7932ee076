//! A batch meeting's identity: the deterministic `externalId` that makes `createOrGet` find the
//! meeting of an earlier run instead of making a second. Planning (`plan`) gives each ready row
//! its id and validation (`validate`) checks it; both import it from here, so neither imports the
//! other. Pure.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Namespace of every batch `externalId` (UUID v5, RFC 9562 §5.5). Never change it: it is what
/// makes a re-run find the meetings of an earlier run.
pub const EXTERNAL_ID_NAMESPACE: Uuid = Uuid::from_u128(0x3f1e_8a52_6c1d_4b7e_9a40_5d2c_7e61_b0a9);

/// The `externalId` of a row, deterministic: from `external_ref` when the coordinator gave one
/// (their key, stable across edits of the row), else from the row's meeting identity (program,
/// start, end, subject, participants) — the same meeting in any batch, any re-run or resume maps
/// to the same id, so `createOrGet` returns the existing meeting instead of making a second.
pub fn external_id(
    program: &str,
    external_ref: Option<&str>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    subject: &str,
    participants: &[String],
) -> String {
    let name = match external_ref {
        Some(r) => format!("ref\u{1f}{}\u{1f}{}", program.to_lowercase(), r.trim()),
        None => format!(
            "row\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
            program.to_lowercase(),
            crate::time::to_db(start),
            crate::time::to_db(end),
            subject.trim(),
            participants.join(";")
        ),
    };
    Uuid::new_v5(&EXTERNAL_ID_NAMESPACE, name.as_bytes()).to_string()
}
