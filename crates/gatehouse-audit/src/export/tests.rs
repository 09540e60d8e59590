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

mod properties {
    //! Whatever an export file holds, verification ends in `Verified` or a
    //! `VerifyError`, never a panic; and an export changed in any way does
    //! not verify.

    use proptest::prelude::*;

    use super::*;

    /// How a line of a valid export is spoiled.
    #[derive(Debug, Clone)]
    enum Mutation {
        FlipByte { line: usize, at: usize, xor: u8 },
        Drop(usize),
        Duplicate(usize),
        Swap(usize, usize),
        Insert { at: usize, text: String },
        Replace { line: usize, text: String },
        Truncate { line: usize, keep: usize },
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let text = prop_oneof![
            ".{0,40}",
            Just(String::new()),
            Just("{\"index\":0,\"leaf\":\"e30=\"}".to_owned()),
            Just("{\"checkpoint\":\"x\\n\\n\"}".to_owned()),
            Just("{\"index\":18446744073709551615,\"leaf\":\"\"}".to_owned()),
            Just("{\"index\":99999999999999999999,\"leaf\":\"\"}".to_owned()),
        ];
        prop_oneof![
            (any::<usize>(), any::<usize>(), 1..=255u8).prop_map(|(line, at, xor)| Mutation::FlipByte {
                line,
                at,
                xor
            }),
            any::<usize>().prop_map(Mutation::Drop),
            any::<usize>().prop_map(Mutation::Duplicate),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
            (any::<usize>(), text.clone()).prop_map(|(at, text)| Mutation::Insert { at, text }),
            (any::<usize>(), text).prop_map(|(line, text)| Mutation::Replace { line, text }),
            (any::<usize>(), any::<usize>()).prop_map(|(line, keep)| Mutation::Truncate { line, keep }),
        ]
    }

    /// Applies `mutation` to the bytes of `lines`; lines may stop being UTF-8.
    fn apply(lines: &[String], mutation: &Mutation) -> Vec<Vec<u8>> {
        let mut lines: Vec<Vec<u8>> = lines.iter().map(|l| l.clone().into_bytes()).collect();
        let n = lines.len();
        match mutation {
            Mutation::FlipByte { line, at, xor } => {
                let line = &mut lines[line % n];
                if !line.is_empty() {
                    let at = at % line.len();
                    line[at] ^= xor;
                }
            }
            Mutation::Drop(line) => {
                lines.remove(line % n);
            }
            Mutation::Duplicate(line) => {
                let copy = lines[line % n].clone();
                lines.insert(line % n, copy);
            }
            Mutation::Swap(a, b) => lines.swap(a % n, b % n),
            Mutation::Insert { at, text } => lines.insert(at % (n + 1), text.clone().into_bytes()),
            Mutation::Replace { line, text } => lines[line % n] = text.clone().into_bytes(),
            Mutation::Truncate { line, keep } => {
                let line = &mut lines[line % n];
                line.truncate(keep % (line.len() + 1));
            }
        }
        lines
    }

    /// Both passes over raw lines, as `gatehouse audit verify` runs them.
    fn verify_bytes(lines: &[Vec<u8>]) -> Result<Verified, VerifyError> {
        let Some((header, rest)) = lines.split_first() else {
            return Err(VerifyError::general("empty"));
        };
        let header = std::str::from_utf8(header).map_err(|_| VerifyError::general("the header is not UTF-8"))?;
        let mut verifier = Verifier::new(header, None)?;
        for line in rest {
            let hashed = hash_line(line, verifier.entries())?;
            verifier.accept(hashed)?;
        }
        match verifier.finish() {
            Ok(verified) => Ok(verified),
            Err((error, false)) => Err(error),
            Err((_, true)) => {
                let mut locator = Locator::new();
                for line in rest {
                    locator.line(std::str::from_utf8(line).unwrap());
                }
                Err(locator.finish())
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_bytes_as_a_line_hash_or_fail_cleanly(line in prop::collection::vec(any::<u8>(), 0..256), expected in any::<u64>()) {
            let _ = hash_line(&line, expected);
        }

        #[test]
        fn any_text_as_a_header_is_read_or_refused(header in ".{0,200}", trusted in proptest::option::of(".{0,60}")) {
            let _ = Verifier::new(&header, trusted.as_deref());
        }

        #[test]
        fn entry_like_lines_hash_or_fail_cleanly(
            index in prop_oneof![any::<u64>().prop_map(|i| i.to_string()), "[0-9]{0,25}", "-?[0-9.e+]{0,10}"],
            leaf in "[A-Za-z0-9+/=\"\\\\]{0,40}",
            tail in prop::sample::select(vec!["\"}", "}", "\"}\r", "", "\",\"x\":1}"]),
        ) {
            let line = format!("{{\"index\":{index},\"leaf\":\"{leaf}{tail}");
            let _ = hash_line(line.as_bytes(), 0);
        }

        #[test]
        fn any_text_as_a_checkpoint_note_opens_or_is_refused(note in "(.|\n|\u{2014} ){0,200}") {
            let signer = NoteSigner::generate("gatehouse").unwrap();
            let _ = Checkpoint::open(&note, &signer.verifier());
        }

        #[test]
        fn a_changed_export_never_verifies(n in 0u64..12, mutation in mutation()) {
            let signer = NoteSigner::generate("gatehouse").unwrap();
            let lines = export(n, &signer);
            let changed = apply(&lines, &mutation);
            let original: Vec<Vec<u8>> = lines.iter().map(|l| l.clone().into_bytes()).collect();
            match verify_bytes(&changed) {
                Ok(verified) => prop_assert_eq!(&changed, &original, "a changed export verified: {:?}", verified),
                Err(error) => {
                    prop_assert!(error.index.is_none_or(|index| index <= n + 1), "{:?}", error);
                    prop_assert!(!error.message.is_empty());
                }
            }
        }
    }
}
