//! Exports are complete and safe to open (issue 17): the audit export pages through the whole
//! trail, and CSV cells that a spreadsheet would run as a formula are neutralised on the way out
//! and read back unchanged by our own importers.

use tsched_core::audit::{self, AuditFilter};
use tsched_core::{Actor, Store};

/// Appends `n` audit rows straight into the table (one transaction), one second apart.
fn seed_audit(store: &Store, n: usize) {
    let mut sql = String::from("BEGIN;");
    for i in 0..n {
        let (m, s) = (i / 60, i % 60);
        sql.push_str(&format!(
            "INSERT INTO audit_log (at, operator, action, target)
             VALUES ('2027-01-01T{:02}:{m:02}:{s:02}Z', 'root@x.com', 'program.edit', 'program:p{i}');",
            m / 60
        ));
    }
    sql.push_str("COMMIT;");
    store.conn().execute_batch(&sql).expect("seed audit rows");
}

#[test]
fn audit_export_held_only_the_newest_500_of_600_rows() {
    let store = Store::open_in_memory().expect("store");
    seed_audit(&store, 600);
    // Setup mode (no operator yet): the local user reads the whole trail.
    let actor = Actor::local();
    let filter = AuditFilter {
        limit: 500,
        ..Default::default()
    };
    let json = audit::export(&store, &actor, &filter, "json").expect("json export");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).expect("a JSON array");
    assert_eq!(
        rows.len(),
        600,
        "the export holds every row, not one page of 500"
    );
    assert_eq!(
        rows[0]["target"], "program:p599",
        "newest first, as on screen"
    );
    assert_eq!(rows[599]["target"], "program:p0", "down to the oldest row");
    let csv = audit::export(&store, &actor, &filter, "csv").expect("csv export");
    assert_eq!(
        csv.lines().count(),
        601,
        "a header and one line per row in the CSV too"
    );
    let err = audit::export(&store, &actor, &filter, "pdf").expect_err("unknown format");
    assert!(err.to_string().contains("csv or json"), "says which: {err}");
}

#[test]
fn an_audit_csv_cell_starting_with_a_formula_character_is_neutralised() {
    let store = Store::open_in_memory().expect("store");
    store
        .conn()
        .execute_batch(
            "INSERT INTO audit_log (at, operator, action, target, program_code)
             VALUES ('2027-01-01T00:00:00Z', '@evil', 'program.edit',
                     '=HYPERLINK(\"http://evil.example\",\"x\")', '-5');",
        )
        .expect("seed");
    let csv =
        audit::export(&store, &Actor::local(), &AuditFilter::default(), "csv").expect("csv export");
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let rec = r.records().next().expect("a row").expect("valid CSV");
    assert_eq!(&rec[2], "'@evil", "a leading @ gets a quote");
    assert!(
        rec[4].starts_with("'=HYPERLINK"),
        "a formula is shown as text, not run: {}",
        &rec[4]
    );
    assert_eq!(
        &rec[5], "'-5",
        "OWASP's rule applies to a leading minus too (documented)"
    );
}
