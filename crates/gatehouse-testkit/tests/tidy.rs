//! House rules that a reviewer should not have to check by eye.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn workspace_sources() -> Vec<PathBuf> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap() {
        let src = krate.unwrap().path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    assert!(files.len() > 20, "found only {} files", files.len());
    files
}

/// Every source file opens with a `//!` line saying what it is for, except
/// unit-test files (`tests.rs`), which belong to the module beside them.
#[test]
fn every_source_file_says_what_it_is_for() {
    let missing: Vec<String> = workspace_sources()
        .into_iter()
        .filter(|path| path.file_name().is_some_and(|n| n != "tests.rs"))
        .filter(|path| !std::fs::read_to_string(path).unwrap().starts_with("//!"))
        .map(|path| path.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a leading `//!` comment: {missing:#?}");
}

/// No placeholder macros in shipped code.
#[test]
fn no_placeholders_in_shipped_code() {
    let needles = [concat!("todo", "!("), concat!("unimplemented", "!("), concat!("dbg", "!(")];
    let offenders: Vec<String> = workspace_sources()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            needles.iter().any(|needle| text.contains(needle))
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "{offenders:#?}");
}
