//! Human and JSON output helpers shared by the subcommands.

use serde::Serialize;

/// Prints a value as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// After a page of a list: when more rows follow, says on stderr how to get them, so stdout
/// stays pure data (table, JSON or CSV) for scripts.
pub fn more(next_cursor: Option<&str>) {
    if let Some(c) = next_cursor {
        eprintln!("More rows: repeat with --after {c}");
    }
}

/// Renders rows as an aligned text table (columns padded to the widest cell).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = *w));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_columns_to_the_widest_cell() {
        let t = table(
            &["CODE", "NAME"],
            &[
                vec!["eng".into(), "Engineering".into()],
                vec!["longcode".into(), "X".into()],
            ],
        );
        assert_eq!(
            t, "CODE      NAME\neng       Engineering\nlongcode  X\n",
            "columns must line up"
        );
    }
}
