//! CSV cells as spreadsheets read them.

use super::csv_cell;

#[track_caller]
fn check(input: &str, expected: &str) {
    assert_eq!(csv_cell(input), expected);
}

#[test]
fn cells_are_quoted_only_when_needed_and_never_formulas() {
    check("Acme Scan", "Acme Scan");
    check("a, b", "\"a, b\"");
    check("say \"hi\"", "\"say \"\"hi\"\"\"");
    check("line\nbreak", "\"line\nbreak\"");
    check("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"");
    check("-", "'-");
}
