use proptest::prelude::*;

use super::*;

const OLD: &str = "1111111111111111111111111111111111111111";
const NEW: &str = "2222222222222222222222222222222222222222";

#[test]
fn what_git_sends_is_read() {
    let line = format!("{OLD} {NEW} refs/heads/main");
    let update = parse_ref_update(&line).unwrap();
    assert_eq!(update, RefUpdate { old: OLD, new: NEW, reference: "refs/heads/main" });
    assert!(!update.is_deletion());
    let zero = "0".repeat(40);
    assert!(parse_ref_update(&format!("{OLD} {zero} refs/tags/v1")).unwrap().is_deletion());
    let sha256 = "a".repeat(64);
    assert!(parse_ref_update(&format!("{sha256} {sha256} refs/heads/x")).is_ok());
}

/// Before, a line that was not three fields was skipped, so the push went
/// through unchecked; and `new` went to `git rev-list` as given.
#[test]
fn anything_else_refuses_the_push() {
    for line in [
        String::new(),
        format!("{OLD} {NEW}"),
        format!("{OLD} {NEW} refs/heads/main extra"),
        format!("{OLD} --output=/tmp/x refs/heads/main"),
        format!("{OLD} {} refs/heads/main", "A".repeat(40)),
        format!("{OLD} {} refs/heads/main", "a".repeat(64)),
        format!("{OLD} {NEW} main"),
        format!("{OLD} {NEW} refs/"),
        format!("{OLD} {NEW} refs/heads/a\u{1b}[2J"),
        format!("{OLD}  {NEW} refs/heads/main"),
    ] {
        let error = parse_ref_update(&line).unwrap_err();
        assert_eq!(error.code, 1, "{line}: {error}");
        assert!(error.message.contains("is not `<old-id> <new-id> <ref>`"), "{error}");
    }
}

fn object_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{40}",
        "[0-9a-f]{64}",
        Just("0".repeat(40)),
        "[0-9a-fA-F-]{0,66}",
        Just("--all".to_owned()),
        Just("HEAD~1".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_line_is_an_update_or_a_refusal(line in "(.|\t| ){0,140}") {
        match parse_ref_update(&line) {
            Ok(update) => prop_assert!(is_object_id(update.new) && update.reference.starts_with("refs/")),
            Err(error) => prop_assert_eq!(error.code, 1),
        }
    }

    #[test]
    fn near_valid_lines_are_updates_only_when_every_field_is(
        old in object_id(),
        new in object_id(),
        reference in prop_oneof!["refs/(heads|tags)/[a-z0-9/._-]{1,20}", ".{0,20}"],
        gap in prop::sample::select(vec![" ", "  ", "\t", ""]),
    ) {
        let line = format!("{old}{gap}{new}{gap}{reference}");
        match parse_ref_update(&line) {
            Ok(update) => {
                prop_assert_eq!(gap, " ");
                prop_assert_eq!((update.old, update.new, update.reference), (old.as_str(), new.as_str(), reference.as_str()));
                prop_assert!(!update.new.starts_with('-'));
            }
            Err(error) => prop_assert_eq!(error.code, 1),
        }
    }
}
