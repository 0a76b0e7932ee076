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
use crate::store::page::Page;
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

/// Lists the first page of audit rows matching `filter`, newest first (see [`list_page`]).
pub fn list(store: &Store, actor: &Actor, filter: &AuditFilter) -> Result<Vec<AuditRow>, Error> {
    Ok(list_page(store, actor, filter)?.items)
}

/// One page of the audit rows matching `filter`, newest first; `filter.after` continues from
/// the previous page's `next_cursor`. Needs [`Action::AuditView`] on the filtered program, or on
/// every program when no program is given.
pub fn list_page(
    store: &Store,
    actor: &Actor,
    filter: &AuditFilter,
) -> Result<Page<AuditRow>, Error> {
    let conn = store.tables();
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
    Ok(conn.audit_page(&filter)?)
}

/// Every audit row matching `filter`, newest first, page after page until the last (an export
/// is complete: it must not stop at the first page); `filter.after` is where it starts and
/// `filter.limit` only the page size. Same access rule as [`list_page`].
pub fn list_all(
    store: &Store,
    actor: &Actor,
    filter: &AuditFilter,
) -> Result<Vec<AuditRow>, Error> {
    crate::store::page::collect_all(filter.after.clone(), |after| {
        let f = AuditFilter {
            after,
            ..filter.clone()
        };
        list_page(store, actor, &f)
    })
}

/// The whole trail matching `filter` as `csv` or `json` text (see [`list_all`]).
pub fn export(
    store: &Store,
    actor: &Actor,
    filter: &AuditFilter,
    format: &str,
) -> Result<String, Error> {
    if !matches!(format, "csv" | "json") {
        return Err(Error::invalid(
            "format",
            format!("unknown export format '{format}'; use csv or json"),
        ));
    }
    let rows = list_all(store, actor, filter)?;
    if format == "json" {
        to_json(&rows)
    } else {
        to_csv(&rows)
    }
}

/// The cells of one CSV record, none of which may run as a spreadsheet formula (OWASP's rule,
/// see [`crate::batch::csv::neutralise_cell`]).
fn neutralised<const N: usize>(cells: [String; N]) -> [String; N] {
    cells.map(|c| crate::batch::csv::neutralise_cell(&c).into_owned())
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
        "real_actor",
    ])
    .map_err(io)?;
    for r in rows {
        let json =
            |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
        w.write_record(neutralised([
            r.id.to_string(),
            r.at.clone(),
            r.operator.clone(),
            r.action.clone(),
            r.target.clone(),
            r.program_code.clone().unwrap_or_default(),
            json(&r.before),
            json(&r.after),
            r.graph_request_id.clone().unwrap_or_default(),
            r.real_actor.clone().unwrap_or_default(),
        ]))
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
    use crate::store::Store;

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
            real_actor: None,
        };
        let csv = to_csv(&[row]).expect("csv");
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let rec = r.records().next().expect("one row").expect("valid csv");
        assert_eq!(
            &rec[6], r#"{"name":"A, B"}"#,
            "JSON with a comma survives the CSV round trip"
        );
    }

    fn connect_integration(store: &Store, state: &str) {
        store
            .conn()
            .execute(
                "INSERT INTO integration (id, cloud, authority_base, graph_base, tenant_id, client_id,
                 host_object_id, host_upn, granted_scopes, state, connected_at)
                 VALUES (1, 'global', 'a', 'g', 't', 'c', 'oid', 'host@x.com', 's', ?1, 'now')
                 ON CONFLICT (id) DO UPDATE SET state = excluded.state",
                [state],
            )
            .expect("integration row");
    }

    #[test]
    fn every_change_writes_exactly_one_audit_row_in_its_transaction() {
        use crate::access::Role;
        use crate::operators::{self, NewOperator};
        use crate::participants;
        use crate::programs::{self, MeetingMode, NewProgram, ProgramChanges};

        let mut store = Store::open_in_memory().expect("store");
        connect_integration(&store, "connected");
        let local = Actor::local();
        let root = Actor::operator("root@x.com");
        let mut last = 0;
        let mut step = |store: &mut Store, expect: &str, f: &dyn Fn(&mut Store)| {
            f(store);
            let rows = store
                .tables()
                .audit_list(&AuditFilter {
                    limit: 1000,
                    ..Default::default()
                })
                .expect("audit");
            assert_eq!(
                rows.len(),
                last + 1,
                "{expect} must write exactly one audit row"
            );
            assert_eq!(rows[0].action, expect, "the row names the action");
            let text = serde_json::to_string(&rows[0]).expect("json");
            assert!(
                !text.to_lowercase().contains("token"),
                "no secret-like field in an audit row: {text}"
            );
            last = rows.len();
        };
        step(&mut store, "program.create", &|s| {
            programs::add(
                s,
                &local,
                NewProgram {
                    name: "Eng".into(),
                    code: Some("eng".into()),
                    description: None,
                },
            )
            .expect("add");
        });
        step(&mut store, "operator.add", &|s| {
            operators::add(
                s,
                &local,
                NewOperator {
                    upn: "root@x.com".into(),
                    display_name: "Root".into(),
                },
            )
            .expect("first operator");
        });
        step(&mut store, "program.edit", &|s| {
            programs::edit(
                s,
                &root,
                "eng",
                ProgramChanges {
                    name: Some("Engineering".into()),
                    description: None,
                },
                None,
            )
            .expect("rename");
        });
        step(&mut store, "program.archive", &|s| {
            programs::set_archived(s, &root, "eng", true, None).expect("archive");
        });
        step(&mut store, "program.unarchive", &|s| {
            programs::set_archived(s, &root, "eng", false, None).expect("unarchive");
        });
        step(&mut store, "program.mode_enable", &|s| {
            programs::set_mode(s, &root, "eng", MeetingMode::TeamsVideo, true, None)
                .expect("teams");
        });
        step(&mut store, "program.mode_disable", &|s| {
            programs::set_mode(s, &root, "eng", MeetingMode::Phone, false, None)
                .expect("phone off");
        });
        step(&mut store, "participant.add", &|s| {
            participants::add(s, &root, "eng", "a@x.com", "A").expect("add");
        });
        step(&mut store, "participant.remove", &|s| {
            participants::remove(s, &root, "eng", "a@x.com").expect("remove");
        });
        step(&mut store, "participants.import", &|s| {
            participants::import_csv(
                s,
                &root,
                "eng",
                "p.csv",
                b"email,display_name\nb@x.com,B\nc@x.com,C\n",
            )
            .expect("import");
        });
        step(&mut store, "operator.add", &|s| {
            operators::add(
                s,
                &root,
                NewOperator {
                    upn: "bob@x.com".into(),
                    display_name: String::new(),
                },
            )
            .expect("bob");
        });
        step(&mut store, "operator.grant", &|s| {
            operators::grant(s, &root, "bob@x.com", Role::TrackAdmin, Some("eng")).expect("grant");
        });
        step(&mut store, "operator.revoke", &|s| {
            operators::revoke(s, &root, "bob@x.com", Role::TrackAdmin, Some("eng"))
                .expect("revoke");
        });
        step(&mut store, "operator.deactivate", &|s| {
            operators::set_active(s, &root, "bob@x.com", false).expect("deactivate");
        });
        step(&mut store, "operator.activate", &|s| {
            operators::set_active(s, &root, "bob@x.com", true).expect("activate");
        });
        step(&mut store, "operator.link", &|s| {
            operators::bootstrap_or_match(s, "oid-bob", "bob@x.com", "Bob").expect("first sign-in");
        });
        step(&mut store, "operator.remove", &|s| {
            operators::remove(s, &root, "bob@x.com").expect("remove");
        });

        let mut fresh = Store::open_in_memory().expect("store");
        let rows = |s: &Store| {
            s.tables()
                .audit_list(&AuditFilter::default())
                .expect("audit")
        };
        operators::bootstrap_or_match(&mut fresh, "oid-1", "ann@x.com", "Ann").expect("bootstrap");
        let r = rows(&fresh);
        assert_eq!(r.len(), 1, "the first sign-in writes exactly one row");
        assert_eq!(r[0].action, "operator.bootstrap");
        assert_eq!(
            r[0].operator, "ann@x.com",
            "the bootstrap row names who became admin"
        );
    }

    #[test]
    fn audit_filters_and_track_admin_scope() {
        use crate::access::Role;
        use crate::operators::{self, NewOperator};
        use crate::programs::{self, NewProgram};

        let mut store = Store::open_in_memory().expect("store");
        let local = Actor::local();
        for code in ["eng", "ops"] {
            programs::add(
                &mut store,
                &local,
                NewProgram {
                    name: code.into(),
                    code: Some(code.into()),
                    description: None,
                },
            )
            .expect("add");
        }
        operators::add(
            &mut store,
            &local,
            NewOperator {
                upn: "root@x.com".into(),
                display_name: String::new(),
            },
        )
        .expect("root");
        let root = Actor::operator("root@x.com");
        operators::add(
            &mut store,
            &root,
            NewOperator {
                upn: "ta@x.com".into(),
                display_name: String::new(),
            },
        )
        .expect("ta");
        operators::grant(&mut store, &root, "ta@x.com", Role::TrackAdmin, Some("eng"))
            .expect("grant");
        let all = list(&store, &root, &AuditFilter::default()).expect("all");
        assert_eq!(all.len(), 5, "2 programs, 2 operators, 1 grant");
        let by_program = list(
            &store,
            &root,
            &AuditFilter {
                program_code: Some("ENG".into()),
                ..Default::default()
            },
        )
        .expect("eng");
        assert_eq!(
            by_program.len(),
            2,
            "program.create and the grant in eng (codes fold case)"
        );
        let by_op = list(
            &store,
            &root,
            &AuditFilter {
                operator: Some("root@x.com".into()),
                ..Default::default()
            },
        )
        .expect("root");
        assert_eq!(by_op.len(), 2, "root added ta and granted");
        let by_action = list(
            &store,
            &root,
            &AuditFilter {
                action: Some("operator.add".into()),
                ..Default::default()
            },
        )
        .expect("action");
        assert_eq!(by_action.len(), 2);
        let future = list(
            &store,
            &root,
            &AuditFilter {
                since: Some("2999-01-01T00:00:00Z".into()),
                ..Default::default()
            },
        )
        .expect("since");
        assert!(future.is_empty(), "nothing happened after 2999");
        let ta = Actor::operator("ta@x.com");
        let e = list(&store, &ta, &AuditFilter::default()).expect_err("all programs");
        assert!(
            e.to_string().contains("filter by one of your programs"),
            "says how: {e}"
        );
        let own = list(
            &store,
            &ta,
            &AuditFilter {
                program_code: Some("eng".into()),
                ..Default::default()
            },
        )
        .expect("own program");
        assert_eq!(own.len(), 2, "a track admin reads their program's trail");
    }
}
