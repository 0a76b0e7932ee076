//! The batch CSV reader: bytes in, rows with their line numbers out (docs/BATCH-CSV.md).
//!
//! Accepts UTF-8 with or without a BOM, LF or CRLF line ends, RFC 4180 quoting (commas, quotes
//! and line breaks inside quoted fields), header names in any case with surrounding spaces and
//! `_`, `-` or space between words. Columns it does not know are ignored (spreadsheets carry
//! notes). It only splits the file: what a value means is `validate`'s business. Pure, no I/O.
//!
//! It also owns the formula-injection rule of every CSV we write ([`neutralise_cell`], OWASP's
//! "CSV Injection" advice) and its inverse for every CSV we read ([`restore_cell`]), so an
//! export opened in a spreadsheet runs nothing and still imports back unchanged.

use std::borrow::Cow;
use std::collections::HashMap;

/// The first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV
/// Injection": `=`, `+`, `-`, `@`, tab, carriage return).
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn starts_like_a_formula(s: &str) -> bool {
    s.starts_with(FORMULA_START)
}

/// Pure: a cell as we write it into any CSV. A value starting with `=`, `+`, `-`, `@`, tab or
/// carriage return gets a single quote in front (OWASP's rule, applied exactly: a negative
/// number such as `-5` or a name such as `-Ann` is prefixed too), so Excel, LibreOffice and
/// Google Sheets show it as text instead of running it. Every other value is unchanged.
pub fn neutralise_cell(value: &str) -> Cow<'_, str> {
    if starts_like_a_formula(value) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// Pure: the inverse of [`neutralise_cell`], for every CSV we read: a cell of a single quote
/// followed by `=`, `+`, `-`, `@`, tab or carriage return loses that quote; anything else is
/// unchanged (a quote before other text is the user's own and stays).
pub fn restore_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if starts_like_a_formula(rest) => rest,
        _ => cell,
    }
}

use super::{Problem, ProblemCode};

/// A column the batch format knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// The program (track) code.
    Program,
    /// The meeting's subject.
    Subject,
    /// Local start date-time (or with an offset).
    Start,
    /// Local end date-time; alternative to `duration_minutes`.
    End,
    /// Length in minutes; alternative to `end`.
    DurationMinutes,
    /// IANA time zone of `start`/`end`; default from settings.
    TimeZone,
    /// Addresses separated by `;`.
    Participants,
    /// The coordinator's own stable key for the row.
    ExternalRef,
}

impl Column {
    /// Every column, in documentation order.
    pub const ALL: [Column; 8] = [
        Column::Program,
        Column::Subject,
        Column::Start,
        Column::End,
        Column::DurationMinutes,
        Column::TimeZone,
        Column::Participants,
        Column::ExternalRef,
    ];

    /// The header name as documented.
    pub fn name(self) -> &'static str {
        match self {
            Column::Program => "program",
            Column::Subject => "subject",
            Column::Start => "start",
            Column::End => "end",
            Column::DurationMinutes => "duration_minutes",
            Column::TimeZone => "time_zone",
            Column::Participants => "participants",
            Column::ExternalRef => "external_ref",
        }
    }

    fn from_header(raw: &str) -> Option<Column> {
        let norm: String = raw
            .trim()
            .to_lowercase()
            .chars()
            .map(|c| if c == ' ' || c == '-' { '_' } else { c })
            .collect();
        let norm = match norm.as_str() {
            "duration" | "duration_min" | "minutes" => "duration_minutes",
            "timezone" | "tz" => "time_zone",
            "externalref" | "external_id" | "ref" => "external_ref",
            other => other,
        };
        Column::ALL.into_iter().find(|c| c.name() == norm)
    }
}

/// One data row: its 1-based line and its fields as read (untrimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow {
    /// 1-based line where the record starts.
    pub line: u64,
    /// The fields in file order.
    pub fields: Vec<String>,
}

/// A read file: where each known column is, and the data rows.
#[derive(Debug, Clone, Default)]
pub struct CsvFile {
    /// Known column → 0-based field index.
    pub columns: HashMap<Column, usize>,
    /// Data rows, in file order; blank lines are skipped.
    pub rows: Vec<CsvRow>,
}

impl CsvFile {
    /// The trimmed value of `col` in `row`; `None` when the column is absent or the cell empty.
    pub fn get<'a>(&self, row: &'a CsvRow, col: Column) -> Option<&'a str> {
        let i = *self.columns.get(&col)?;
        row.fields
            .get(i)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    /// 1-based column number of `col` as it stands in the file (for locating problems); a
    /// missing column points past the last one.
    pub fn column_number(&self, col: Column) -> u32 {
        match self.columns.get(&col) {
            Some(i) => *i as u32 + 1,
            None => self.columns.values().max().map_or(1, |m| *m as u32 + 2),
        }
    }

    /// A problem located at `row`'s `col`.
    pub fn problem(
        &self,
        row: &CsvRow,
        col: Column,
        code: ProblemCode,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            line: row.line,
            column: self.column_number(col),
            field: col.name().to_string(),
            code,
            message: message.into(),
        }
    }
}

fn file_problem(line: u64, column: u32, code: ProblemCode, message: impl Into<String>) -> Problem {
    Problem {
        line,
        column,
        field: String::new(),
        code,
        message: message.into(),
    }
}

/// Reads a batch CSV. File-level problems (not UTF-8, no or bad header row, unreadable CSV)
/// come back as `Err` with their line and column; row-level ones are `validate`'s.
pub fn read(bytes: &[u8]) -> Result<CsvFile, Vec<Problem>> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(vec![file_problem(
            1,
            1,
            ProblemCode::NotUtf8,
            "the file is UTF-16 text; save it as CSV UTF-8 and try again",
        )]);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Err(e) = std::str::from_utf8(bytes) {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let line_start = bytes[..at]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        let column = bytes[line_start..at].iter().filter(|b| **b == b',').count() as u32 + 1;
        return Err(vec![file_problem(
            line,
            column,
            ProblemCode::NotUtf8,
            format!(
                "not UTF-8 text (byte 0x{:02X}); save the file as CSV UTF-8 and try again",
                bytes[at]
            ),
        )]);
    }
    // Line numbers come from byte offsets: csv's own counter drifts on CRLF, and a record's
    // offset may point at the line break before it.
    let line_at = |byte: u64| {
        let mut end = (byte as usize).min(bytes.len());
        while end < bytes.len() && matches!(bytes[end], b'\r' | b'\n') {
            end += 1;
        }
        bytes[..end].iter().filter(|b| **b == b'\n').count() as u64 + 1
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::None)
        .from_reader(bytes);
    let mut file = CsvFile::default();
    let mut header_seen = false;
    let mut problems = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(1, |p| line_at(p.byte()));
                problems.push(file_problem(
                    line,
                    1,
                    ProblemCode::Unreadable,
                    format!("unreadable CSV: {e}"),
                ));
                continue;
            }
        };
        let line = record.position().map_or(1, |p| line_at(p.byte()));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if !header_seen {
            header_seen = true;
            header(&record, line, &mut file, &mut problems);
            if !problems.is_empty() {
                return Err(problems);
            }
            continue;
        }
        file.rows.push(CsvRow {
            line,
            fields: record.iter().map(|f| restore_cell(f).to_string()).collect(),
        });
    }
    if !header_seen {
        problems.push(file_problem(
            1,
            1,
            ProblemCode::MissingHeader,
            "the file is empty; expected a header row: program,subject,start,end,time_zone,participants",
        ));
    }
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(problems)
    }
}

fn header(record: &csv::StringRecord, line: u64, file: &mut CsvFile, problems: &mut Vec<Problem>) {
    for (i, name) in record.iter().enumerate() {
        if let Some(col) = Column::from_header(name) {
            match file.columns.entry(col) {
                std::collections::hash_map::Entry::Occupied(_) => problems.push(file_problem(
                    line,
                    i as u32 + 1,
                    ProblemCode::BadHeader,
                    format!("the column '{}' appears twice", col.name()),
                )),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(i);
                }
            }
        }
    }
    let after = record.len() as u32 + 1;
    for col in [
        Column::Program,
        Column::Subject,
        Column::Start,
        Column::Participants,
    ] {
        if !file.columns.contains_key(&col) {
            problems.push(file_problem(
                line,
                after,
                ProblemCode::BadHeader,
                format!(
                    "the header row has no '{}' column (found: {})",
                    col.name(),
                    record.iter().map(str::trim).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    if !file.columns.contains_key(&Column::End)
        && !file.columns.contains_key(&Column::DurationMinutes)
    {
        problems.push(file_problem(
            line,
            after,
            ProblemCode::BadHeader,
            "the header row needs an 'end' or a 'duration_minutes' column",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_crlf_quotes_and_header_case_are_accepted() {
        let text = "\u{feff} Program ,SUBJECT,Start,Duration Minutes,time-zone,Participants,notes\r\n\
                    eng,\"Kick-off, \"\"round 1\"\"\nsecond line\",2027-03-14 09:30,30,Europe/Paris,a@x.example;b@x.example,n\r\n\
                    \r\n\
                    ops,Review,2027-03-15 10:00,45,,c@x.example,\r\n";
        let f = read(text.as_bytes()).expect("valid file");
        assert_eq!(f.rows.len(), 2, "two data rows, the blank line skipped");
        let r = &f.rows[0];
        assert_eq!(r.line, 2, "first data row is on line 2");
        assert_eq!(
            f.get(r, Column::Subject),
            Some("Kick-off, \"round 1\"\nsecond line"),
            "quoted comma, quotes and newline survive"
        );
        assert_eq!(
            f.get(r, Column::Program),
            Some("eng"),
            "trimmed header found"
        );
        assert_eq!(
            f.rows[1].line, 5,
            "line numbers count the quoted newline and the blank line"
        );
        assert_eq!(
            f.get(&f.rows[1], Column::TimeZone),
            None,
            "empty cell is None"
        );
        assert_eq!(
            f.column_number(Column::DurationMinutes),
            4,
            "1-based column"
        );
    }

    #[test]
    fn missing_columns_are_reported_on_the_header_line() {
        let e = read(b"program,subject\nx,y\n").expect_err("bad header");
        assert!(
            e.iter()
                .all(|p| p.line == 1 && p.code == ProblemCode::BadHeader),
            "every header problem is on line 1: {e:?}"
        );
        assert!(
            e.len() >= 3,
            "start, participants and end/duration missing: {e:?}"
        );
    }

    #[test]
    fn a_formula_cell_is_neutralised_on_export_and_read_back_unchanged() {
        for (value, written) in [
            (
                "=HYPERLINK(\"http://evil\")",
                "'=HYPERLINK(\"http://evil\")",
            ),
            ("+1+2", "'+1+2"),
            ("-5", "'-5"),
            ("-Ann", "'-Ann"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\rcmd", "'\rcmd"),
            ("'=already", "'=already"),
            ("Ann-Marie", "Ann-Marie"),
            ("'quoted", "'quoted"),
            ("", ""),
        ] {
            assert_eq!(
                neutralise_cell(value),
                written,
                "OWASP: only a leading = + - @ tab or CR gets a quote"
            );
            if value.starts_with('\'') {
                continue;
            }
            assert_eq!(
                restore_cell(&neutralise_cell(value)),
                value,
                "{value:?} reads back unchanged"
            );
        }
        assert_eq!(
            restore_cell("'quoted"),
            "'quoted",
            "a quote before plain text is the user's own"
        );
    }

    #[test]
    fn a_neutralised_batch_cell_reads_back_as_the_original_value() {
        let text = "program,subject,start,duration_minutes,participants\n\
                    eng,'=1+2,2027-03-15 09:00,30,a@x.com\n\
                    eng,'-Intro,2027-03-15 10:00,30,a@x.com\n";
        let f = read(text.as_bytes()).expect("valid file");
        assert_eq!(
            f.get(&f.rows[0], Column::Subject),
            Some("=1+2"),
            "the quote our export added is stripped"
        );
        assert_eq!(f.get(&f.rows[1], Column::Subject), Some("-Intro"));
    }

    #[test]
    fn non_utf8_is_located() {
        let e = read(b"program,subject,start,end,participants\nengineering,caf\xe9,x,y,z\n")
            .expect_err("latin-1");
        assert_eq!(
            (e[0].line, e[0].column),
            (2, 2),
            "points at line 2, column 2: {e:?}"
        );
    }
}
