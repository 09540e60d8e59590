//! Printing answers: aligned tables for people, JSON for scripts.

use serde::Serialize;

use crate::args::OutputFormat;

/// Prints `rows` under `headers` as a table, or `json` as JSON.
pub fn print<T: Serialize>(format: OutputFormat, json: &T, headers: &[&str], rows: Vec<Vec<String>>) {
    match format {
        OutputFormat::Json => {
            println!("{}", serde_json::to_string_pretty(json).unwrap_or_default())
        }
        OutputFormat::Table => print!("{}", table(headers, &rows)),
    }
}

pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

pub fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_owned()
}

#[cfg(test)]
mod tests {
    use super::table;

    #[test]
    fn columns_align_to_the_widest_cell() {
        let rows = vec![vec!["1".to_owned(), "deploy-bot".to_owned()], vec!["22".to_owned(), "x".to_owned()]];
        assert_eq!(table(&["ID", "NAME"], &rows), "ID  NAME\n1   deploy-bot\n22  x\n");
    }
}
