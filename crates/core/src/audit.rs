//! The audit trail's use-case side: reading it with filters and exporting it as CSV or JSON.
//! Rows are appended by each use case inside the same transaction as the change they describe
//! (see `store::audit_log`), so a change and its audit row land together or not at all; the
//! table refuses UPDATE and DELETE.
//!
//! Reading needs [`Action::AuditView`]: global admins and support see everything, a track admin
//! only the rows of their own programs (they must filter by one). Rows never hold a secret, so
//! exports are safe to hand on.

use chrono::{DateTime, NaiveDate, Utc};

use crate::access::{self, Action};
use crate::actor::Actor;
use crate::error::Error;
use crate::store::audit_log;
use crate::store::Store;

pub use crate::store::audit_log::{AuditEntry, AuditFilter, AuditRow};

/// Parses a filter bound: an RFC 3339 instant or a plain `YYYY-MM-DD` date (midnight UTC), into
/// the store's text form.
pub fn parse_instant(field: &'static str, raw: &str) -> Result<String, Error> {
    let s = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(crate::time::to_db(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let t = d
            .and_hms_opt(0, 0, 0)
            .expect("invariant: midnight exists on every date")
            .and_utc();
        return Ok(crate::time::to_db(t));
    }
    Err(Error::invalid(
        field,
        format!("'{s}' is not a date (2027-03-14) or an RFC 3339 time (2027-03-14T09:30:00Z)"),
    ))
}

/// Lists audit rows matching `filter`, newest first. Needs [`Action::AuditView`] on the filtered
/// program, or on every program when no program is given.
pub fn list(store: &Store, actor: &Actor, filter: &AuditFilter) -> Result<Vec<AuditRow>, Error> {
    let conn = store.conn();
    let mut filter = filter.clone();
    if let Some(code) = filter.program_code.as_mut() {
        *code = code.trim().to_ascii_lowercase();
    }
    let who = access::resolve(conn, actor)?;
    if let access::Decision::Denied { reason } = access::decide(
        &who.subject,
        Action::AuditView,
        filter.program_code.as_deref(),
    ) {
        let hint = if filter.program_code.is_none() {
            "; filter by one of your programs"
        } else {
            ""
        };
        return Err(Error::Denied(format!("{} as {reason}{hint}", who.label)));
    }
    Ok(audit_log::list(conn, &filter)?)
}

/// The CSV export: a header row and one line per audit row; before/after as JSON text.
pub fn to_csv(rows: &[AuditRow]) -> Result<String, Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| Error::invalid("export", format!("cannot write CSV: {e}"));
    w.write_record([
        "id",
        "at",
        "operator",
        "action",
        "target",
        "program",
        "before",
        "after",
        "graph_request_id",
    ])
    .map_err(io)?;
    for r in rows {
        let json =
            |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
        w.write_record([
            r.id.to_string(),
            r.at.clone(),
            r.operator.clone(),
            r.action.clone(),
            r.target.clone(),
            r.program_code.clone().unwrap_or_default(),
            json(&r.before),
            json(&r.after),
            r.graph_request_id.clone().unwrap_or_default(),
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::invalid("export", format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::invalid("export", format!("CSV is not UTF-8: {e}")))
}

/// The JSON export: an array of rows (pretty-printed).
pub fn to_json(rows: &[AuditRow]) -> Result<String, Error> {
    serde_json::to_string_pretty(rows)
        .map_err(|e| Error::invalid("export", format!("cannot write JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_bounds_accept_dates_and_instants_in_utc() {
        assert_eq!(
            parse_instant("since", "2027-03-14").expect("date"),
            "2027-03-14T00:00:00Z"
        );
        assert_eq!(
            parse_instant("since", "2027-03-14T10:30:00+01:00").expect("instant"),
            "2027-03-14T09:30:00Z",
            "offsets are converted to UTC so text comparison works"
        );
        let e = parse_instant("until", "yesterday").expect_err("bad");
        assert!(e.to_string().starts_with("until:"), "names the flag: {e}");
    }

    #[test]
    fn csv_export_quotes_json_and_commas() {
        let row = AuditRow {
            id: 1,
            at: "2027-03-14T09:30:00Z".into(),
            operator: "ann@x.com".into(),
            action: "program.edit".into(),
            target: "program:eng".into(),
            program_code: Some("eng".into()),
            before: Some(serde_json::json!({"name": "A, B"})),
            after: None,
            graph_request_id: None,
        };
        let csv = to_csv(&[row]).expect("csv");
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let rec = r.records().next().expect("one row").expect("valid csv");
        assert_eq!(
            &rec[6], r#"{"name":"A, B"}"#,
            "JSON with a comma survives the CSV round trip"
        );
    }
}
