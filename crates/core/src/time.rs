//! The clock seam and the one text form of instants the store uses (UTC RFC 3339, seconds).

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats an instant the way every table stores it: `2027-03-14T09:30:00Z`.
pub fn to_db(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Current time in the store's text form.
pub fn now_db() -> String {
    to_db(Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn db_form_is_utc_with_z_and_sorts_chronologically() {
        let a = Utc
            .with_ymd_and_hms(2027, 3, 14, 9, 30, 0)
            .single()
            .expect("valid date");
        let b = Utc
            .with_ymd_and_hms(2027, 11, 2, 8, 0, 0)
            .single()
            .expect("valid date");
        assert_eq!(
            to_db(a),
            "2027-03-14T09:30:00Z",
            "stored instants must be UTC with a Z suffix"
        );
        assert!(
            to_db(a) < to_db(b),
            "text order must equal time order for range queries"
        );
    }
}
