//! `gatehouse audit verify` on export files changed in arbitrary ways: the
//! binary exits 1 ("does not verify") for any change to what is signed,
//! whatever bytes the file holds; never 2 (as for an unreadable file) or a
//! panic.

use gatehouse_audit::checkpoint::Checkpoint;
use gatehouse_audit::export::{checkpoint_line, entry_line, header_line};
use gatehouse_audit::merkle::{Frontier, leaf_hash};
use gatehouse_audit::note_key::NoteSigner;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::{gatehouse, run, stderr};

/// A small valid export, as bytes.
fn export(signer: &NoteSigner) -> Vec<u8> {
    let origin = "gatehouse.test/audit";
    let mut frontier = Frontier::empty();
    let mut lines = vec![header_line(origin, &signer.verifier().encode())];
    for index in 0..5u64 {
        let leaf = format!(r#"{{"action":"test","index":{index}}}"#);
        frontier.push(leaf_hash(leaf.as_bytes()));
        lines.push(entry_line(index, leaf.as_bytes()));
    }
    let checkpoint = Checkpoint { origin: origin.into(), size: 5, root: frontier.root() };
    lines.push(checkpoint_line(&checkpoint.sign(signer)));
    (lines.join("\n") + "\n").into_bytes()
}

#[derive(Debug, Clone)]
enum Change {
    Flip { at: usize, xor: u8 },
    Cut(usize),
    Insert { at: usize, bytes: Vec<u8> },
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, xor)| Change::Flip { at, xor }),
        any::<usize>().prop_map(Change::Cut),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, bytes)| Change::Insert { at, bytes }),
    ]
}

fn apply(mut file: Vec<u8>, change: &Change) -> Vec<u8> {
    match change {
        Change::Flip { at, xor } => {
            let at = at % file.len();
            file[at] ^= xor;
        }
        Change::Cut(keep) => file.truncate(keep % file.len()),
        Change::Insert { at, bytes } => {
            let at = at % (file.len() + 1);
            file.splice(at..at, bytes.iter().copied());
        }
    }
    file
}

/// The file without the bytes a JSON reader skips, and without its final
/// newline.
fn normalized(file: &[u8]) -> Vec<u8> {
    let mut bytes: Vec<u8> = file.iter().copied().filter(|b| !matches!(b, b' ' | b'\t' | b'\r')).collect();
    while bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    bytes
}

#[test]
fn any_change_to_an_export_file_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let original = export(&signer);
    let path = dir.path().join("export.jsonl");
    let verify = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        run(gatehouse(dir.path(), "sqlite::memory:").args(["audit", "verify", path.to_str().unwrap()]))
    };
    let intact = verify(&original);
    assert_eq!(intact.status.code(), Some(0), "{}", stderr(&intact));

    let mut runner = TestRunner::new(Config { cases: 96, failure_persistence: None, ..Config::default() });
    let outcome = runner.run(&change(), |change| {
        let changed = apply(original.clone(), &change);
        let output = verify(&changed);
        // Only the lines' entries and checkpoint are signed: their JSON may
        // gain blanks (or a line its CR, the file its final newline) and
        // still verify. Any other change is refused, and nothing is exit 2.
        let code = output.status.code();
        prop_assert!(matches!(code, Some(0 | 1)), "exit {:?}: {}", code, stderr(&output));
        if normalized(&changed) != normalized(&original) {
            prop_assert_eq!(code, Some(1), "a changed export verified");
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

/// Shrunk from `any_change_to_an_export_file_does_not_verify`: a byte
/// that is not UTF-8 in the header made `verify` fail reading the file
/// (exit 2, as for a missing file) instead of refusing the export (exit 1).
#[test]
fn a_header_that_is_not_utf8_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let changed = apply(export(&signer), &Change::Flip { at: 3, xor: 0x80 });
    let path = dir.path().join("export.jsonl");
    std::fs::write(&path, changed).unwrap();
    let output = run(gatehouse(dir.path(), "sqlite::memory:").args(["audit", "verify", path.to_str().unwrap()]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("does not verify"), "{}", stderr(&output));
}
