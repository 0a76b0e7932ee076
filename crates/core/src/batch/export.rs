//! Results of a batch as files: CSV (the input line first, then status, meeting id, join link,
//! error) and, for the created meetings, iCalendar through `crate::ics`. Also the dry run's
//! rows as CSV. Pure: rows in, text out. Never a token or passcode. Every CSV cell goes through
//! [`neutralise_cell`] (formula injection, docs/BATCH-CSV.md).

use super::csv::neutralise_cell;
use super::plan::{Plan, RowStatus};
use super::MeetingRow;
use crate::error::Error;
use crate::store::batches::{ItemRow, ItemState};

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn finish(w: csv::Writer<Vec<u8>>) -> Result<String, Error> {
    let bytes = w
        .into_inner()
        .map_err(|e| Error::invalid("export", e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| Error::invalid("export", e.to_string()))
}

fn csv_err(e: csv::Error) -> Error {
    Error::invalid("export", e.to_string())
}

/// Writes one data record, every cell through [`neutralise_cell`] (no formula runs when the
/// file is opened in a spreadsheet; our importer strips the quote again).
fn write_row<'a>(
    w: &mut csv::Writer<Vec<u8>>,
    cells: impl IntoIterator<Item = &'a str>,
) -> Result<(), Error> {
    let cells: Vec<_> = cells.into_iter().map(neutralise_cell).collect();
    w.write_record(cells.iter().map(|c| c.as_bytes()))
        .map_err(csv_err)
}

/// Items as CSV: `line,status,program,subject,start_utc,end_utc,meeting_id,join_web_url,error_code,error_message,attempts`.
pub fn items_csv(items: &[ItemRow]) -> Result<String, Error> {
    let mut w = writer();
    w.write_record([
        "line",
        "status",
        "program",
        "subject",
        "start_utc",
        "end_utc",
        "meeting_id",
        "join_web_url",
        "error_code",
        "error_message",
        "attempts",
    ])
    .map_err(csv_err)?;
    for i in items {
        let row: Option<MeetingRow> = serde_json::from_str(&i.row_json).ok();
        let line = i.line.to_string();
        let attempts = i.attempts.to_string();
        let (program, subject, start, end) = match &row {
            Some(r) => (
                r.program.clone(),
                r.subject.clone(),
                crate::time::to_db(r.start_utc),
                crate::time::to_db(r.end_utc),
            ),
            None => Default::default(),
        };
        write_row(
            &mut w,
            [
                line.as_str(),
                i.state.as_str(),
                &program,
                &subject,
                &start,
                &end,
                i.graph_id.as_deref().unwrap_or(""),
                i.join_web_url.as_deref().unwrap_or(""),
                i.error_code.as_deref().unwrap_or(""),
                i.error_message.as_deref().unwrap_or(""),
                &attempts,
            ],
        )?;
    }
    finish(w)
}

/// The dry run as CSV: `line,status,program,subject,start_utc,end_utc,external_id,problems`
/// (problems as `column N (name): code: message`, joined by ` | `).
pub fn plan_csv(plan: &Plan) -> Result<String, Error> {
    let mut w = writer();
    w.write_record([
        "line",
        "status",
        "program",
        "subject",
        "start_utc",
        "end_utc",
        "external_id",
        "problems",
    ])
    .map_err(csv_err)?;
    for p in &plan.file_problems {
        write_row(
            &mut w,
            [
                p.line.to_string().as_str(),
                "rejected",
                "",
                "",
                "",
                "",
                "",
                &p.to_string(),
            ],
        )?;
    }
    for r in &plan.rows {
        let problems = r
            .problems
            .iter()
            .map(|p| {
                format!(
                    "column {} ({}): {}: {}",
                    p.column,
                    p.field,
                    serde_json::to_value(p.code)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    p.message
                )
            })
            .collect::<Vec<_>>()
            .join(" | ");
        let (start, end, ext) = match &r.meeting {
            Some(m) => (
                crate::time::to_db(m.start_utc),
                crate::time::to_db(m.end_utc),
                m.external_id.clone(),
            ),
            None => Default::default(),
        };
        write_row(
            &mut w,
            [
                r.line.to_string().as_str(),
                if r.status == RowStatus::Ready {
                    "ready"
                } else {
                    "rejected"
                },
                &r.program,
                &r.subject,
                &start,
                &end,
                &ext,
                &problems,
            ],
        )?;
    }
    finish(w)
}

/// The created meetings of a batch as one iCalendar object (`METHOD:REQUEST`), through
/// `crate::ics`; meetings undone by a cancel are left out.
pub fn batch_ics(
    store: &crate::store::Store,
    actor: &crate::actor::Actor,
    id: i64,
) -> Result<String, Error> {
    let view = super::run::show(store, actor, id)?;
    let mut rows = Vec::new();
    for item in view.items.iter().filter(|i| i.state == ItemState::Done) {
        if let Some(m) = store.tables().meeting_by_external_id(&item.external_id)? {
            rows.push(m);
        }
    }
    let export = crate::ics::render_many(&rows, chrono::Utc::now());
    export.request.ok_or_else(|| {
        Error::invalid(
            "batch",
            format!("batch {id} has no created meeting to export"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_csv_puts_the_input_line_first_and_quotes_commas() {
        let item = ItemRow {
            batch_id: 1,
            line: 7,
            external_id: "e".into(),
            row_json: "{}".into(),
            state: ItemState::Failed,
            graph_id: None,
            join_web_url: None,
            created_now: None,
            error_code: Some("BadRequest".into()),
            error_message: Some("a, b".into()),
            attempts: 1,
            updated_at: "t".into(),
        };
        let out = items_csv(&[item]).expect("csv");
        let second = out.lines().nth(1).expect("a data line");
        assert!(
            second.starts_with("7,failed,"),
            "line number first: {second}"
        );
        assert!(second.contains("\"a, b\""), "commas quoted: {second}");
    }

    #[test]
    fn a_batch_export_cell_starting_with_a_formula_character_is_neutralised() {
        let item = ItemRow {
            batch_id: 1,
            line: 2,
            external_id: "e".into(),
            row_json: "{}".into(),
            state: ItemState::Failed,
            graph_id: None,
            join_web_url: None,
            created_now: None,
            error_code: Some("@SUM(A1)".into()),
            error_message: Some("=HYPERLINK(\"http://evil.example\",\"x\")".into()),
            attempts: 1,
            updated_at: "t".into(),
        };
        let out = items_csv(&[item]).expect("csv");
        let mut r = csv::Reader::from_reader(out.as_bytes());
        let rec = r.records().next().expect("a row").expect("valid csv");
        assert_eq!(&rec[8], "'@SUM(A1)", "a leading @ gets a quote");
        assert!(
            rec[9].starts_with("'=HYPERLINK"),
            "a formula is shown as text, not run: {}",
            &rec[9]
        );
        let plan = Plan {
            summary: Default::default(),
            rows: vec![super::super::plan::PlannedRow {
                line: 3,
                status: RowStatus::Rejected,
                meeting: None,
                problems: Vec::new(),
                program: "+eng".into(),
                subject: "-1+cmd|' /C calc'!A0".into(),
            }],
            file_problems: Vec::new(),
        };
        let out = plan_csv(&plan).expect("csv");
        let mut r = csv::Reader::from_reader(out.as_bytes());
        let rec = r.records().next().expect("a row").expect("valid csv");
        assert_eq!(&rec[2], "'+eng", "the dry run's cells are neutralised too");
        assert_eq!(&rec[3], "'-1+cmd|' /C calc'!A0");
        assert_eq!(
            crate::batch::csv::restore_cell(&rec[3]),
            "-1+cmd|' /C calc'!A0",
            "our importer reads the original value back"
        );
    }
}
