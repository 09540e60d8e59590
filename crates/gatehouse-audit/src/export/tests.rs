use super::*;
use crate::note_key::NoteSigner;

const ORIGIN: &str = "gatehouse.test/audit";

/// An export of `n` entries shaped like gatehouse's: each leaf holds its
/// index and the root before it.
fn export(n: u64, signer: &NoteSigner) -> Vec<String> {
    let mut frontier = Frontier::empty();
    let mut lines = vec![header_line(ORIGIN, &signer.verifier().encode())];
    for index in 0..n {
        let leaf = format!(r#"{{"action":"test","index":{index},"prev_root":"{}"}}"#, STANDARD.encode(frontier.root()));
        frontier.push(leaf_hash(leaf.as_bytes()));
        lines.push(entry_line(index, leaf.as_bytes()));
    }
    let checkpoint = Checkpoint { origin: ORIGIN.into(), size: n, root: frontier.root() };
    lines.push(checkpoint_line(&checkpoint.sign(signer)));
    lines
}

/// Runs both passes as `gatehouse audit verify` does.
fn verify(lines: &[String], trusted: Option<&str>) -> Result<Verified, VerifyError> {
    let mut verifier = Verifier::new(&lines[0], trusted)?;
    for line in &lines[1..] {
        verifier.line(line)?;
    }
    match verifier.finish() {
        Ok(verified) => Ok(verified),
        Err((error, false)) => Err(error),
        Err((_, true)) => {
            let mut locator = Locator::new();
            for line in &lines[1..] {
                locator.line(line);
            }
            Err(locator.finish())
        }
    }
}

fn leaf_of(line: &str) -> String {
    let parsed: serde_json::Value = serde_json::from_str(line).unwrap();
    String::from_utf8(STANDARD.decode(parsed["leaf"].as_str().unwrap()).unwrap()).unwrap()
}

fn with_leaf(index: u64, leaf: &str) -> String {
    entry_line(index, leaf.as_bytes())
}

#[track_caller]
fn check_bad(lines: &[String], index: Option<u64>, needle: &str) {
    let error = verify(lines, None).unwrap_err();
    assert_eq!(error.index, index, "{error}");
    assert!(error.message.contains(needle), "{error}");
}

#[test]
fn an_intact_export_verifies() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let lines = export(50, &signer);
    let verified = verify(&lines, Some(&signer.verifier().encode())).unwrap();
    assert_eq!(verified.size, 50);
    assert_eq!(verified.origin, ORIGIN);
    let empty = export(0, &signer);
    assert_eq!(verify(&empty, None).unwrap().size, 0);
}

#[test]
fn an_edited_leaf_is_named() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    for victim in [0u64, 17, 49] {
        let mut lines = export(50, &signer);
        let line = &lines[victim as usize + 1];
        let edited = leaf_of(line).replace("\"test\"", "\"tset\"");
        lines[victim as usize + 1] = with_leaf(victim, &edited);
        check_bad(&lines, Some(victim), &format!("entry {victim} was altered"));
    }
}

#[test]
fn a_deleted_entry_is_named() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let mut lines = export(50, &signer);
    lines.remove(21);
    check_bad(&lines, Some(20), "entry 20 is missing");
}

#[test]
fn swapped_entries_are_named() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    // Swapped lines, indexes and all.
    let mut lines = export(50, &signer);
    lines.swap(11, 31);
    check_bad(&lines, Some(10), "entry 10 is missing or out of order");
    // Swapped leaves under renumbered lines.
    let lines = export(50, &signer);
    let (a, b) = (leaf_of(&lines[11]), leaf_of(&lines[31]));
    let mut renumbered = lines.clone();
    renumbered[11] = with_leaf(10, &b);
    renumbered[31] = with_leaf(30, &a);
    check_bad(&renumbered, Some(10), "entry 10 holds entry 30");
}

#[test]
fn truncation_is_named() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let mut lines = export(50, &signer);
    let checkpoint = lines.pop().unwrap();
    lines.truncate(41);
    lines.push(checkpoint);
    check_bad(&lines, Some(40), "entries from 40 on are missing");

    let mut lines = export(50, &signer);
    lines.pop();
    check_bad(&lines, Some(50), "without its checkpoint");
}

#[test]
fn a_forged_checkpoint_is_refused() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let forger = NoteSigner::generate("gatehouse").unwrap();
    // The forger rewrites an entry and signs a matching checkpoint with
    // their own key; the header still names the real key.
    let mut lines = export(20, &signer);
    let honest_header = lines[0].clone();
    let mut forged = export(20, &forger);
    forged[0] = honest_header;
    check_bad(&forged, None, "not authentic");
    // Trusting the real key catches a forged header too.
    let forged_all = export(20, &forger);
    let error = verify(&forged_all, Some(&signer.verifier().encode())).unwrap_err();
    assert!(error.message.contains("not the trusted key"), "{error}");
    // A checkpoint whose text was changed after signing.
    let last = lines.len() - 1;
    lines[last] = lines[last].replace("\\n20\\n", "\\n19\\n");
    check_bad(&lines, None, "not authentic");
}

#[test]
fn garbage_lines_are_named() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let mut lines = export(10, &signer);
    lines[4] = "{\"index\":3,\"leaf\":\"***\"}".into();
    check_bad(&lines, Some(3), "not base64");
    lines[4] = "not json".into();
    check_bad(&lines, Some(3), "malformed");
    assert!(Verifier::new("{}", None).is_err());
}

#[test]
fn the_fast_line_reader_agrees_with_the_json_parser() {
    let line = entry_line(42, b"{\"x\":1}");
    assert_eq!(split_entry_line(line.as_bytes()).map(|(i, _)| i), Some(42));
    for odd in
        ["{\"index\": 42,\"leaf\":\"e30=\"}", "{\"leaf\":\"e30=\",\"index\":42}", "{\"index\":042,\"leaf\":\"e30=\"}"]
    {
        assert!(split_entry_line(odd.as_bytes()).is_none(), "{odd}");
    }
    // Lines the fast reader declines still verify through the parser.
    let HashedLine::Entry { index, leaf_hash: hashed } = hash_line(b"{\"leaf\":\"e30=\",\"index\":7}", 7).unwrap()
    else {
        panic!("an entry")
    };
    assert_eq!((index, hashed), (7, leaf_hash(b"{}")));
}
