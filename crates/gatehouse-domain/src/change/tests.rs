//! Commit ids and the authors known of the commits a decision names.

use super::*;

const SHA1: &str = "0123456789abcdef0123456789abcdef01234567";

#[test]
fn commit_ids_are_40_or_64_hex_digits_kept_lowercase() {
    let table: &[(&str, Option<&str>)] = &[
        (SHA1, Some(SHA1)),
        ("0123456789ABCDEF0123456789ABCDEF01234567", Some(SHA1)),
        (&"a".repeat(64), Some(&"a".repeat(64))),
        ("", None),
        ("0123456", None),
        (&"a".repeat(41), None),
        (&"a".repeat(63), None),
        ("g123456789abcdef0123456789abcdef01234567", None),
        (" 0123456789abcdef0123456789abcdef0123456", None),
        ("main", None),
    ];
    for (raw, expected) in table {
        let parsed = raw.parse::<CommitSha>().ok();
        assert_eq!(parsed.as_ref().map(CommitSha::as_str), *expected, "{raw:?}");
    }
}

#[test]
fn known_authors_are_those_of_the_commits_named() {
    let (a, b, other) = (SHA1.parse::<CommitSha>().unwrap(), "b".repeat(40).parse().unwrap(), "c".repeat(40));
    let (ana, bob, cy) = (IdentityId::new(), IdentityId::new(), IdentityId::new());
    let fact = |commit: &CommitSha, identity_id| CommitAuthor {
        commit: commit.clone(),
        repository: None,
        identity_id,
        key_fingerprint: "SHA256:k".into(),
        verification: AuditAction::CommitVerify,
        recorded_at: OffsetDateTime::UNIX_EPOCH,
    };
    let other: CommitSha = other.parse().unwrap();
    let recorded = [fact(&a, ana), fact(&a, ana), fact(&b, bob), fact(&other, cy)];
    let mut both = vec![ana, bob];
    both.sort();
    assert_eq!(KnownAuthors::of(&[a.clone(), b.clone()], &recorded), KnownAuthors { authors: both, all_known: true });
    assert_eq!(
        KnownAuthors::of(std::slice::from_ref(&a), &recorded),
        KnownAuthors { authors: vec![ana], all_known: true }
    );
    let unknown: CommitSha = "d".repeat(64).parse().unwrap();
    assert_eq!(
        KnownAuthors::of(&[a, unknown.clone()], &recorded),
        KnownAuthors { authors: vec![ana], all_known: false },
        "one commit without a record: the authors are not all known"
    );
    assert_eq!(KnownAuthors::of(&[unknown], &recorded), KnownAuthors::default());
    assert_eq!(KnownAuthors::of(&[], &recorded), KnownAuthors::default());
}

#[test]
fn repository_paths_are_relative_printable_and_bounded() {
    let long = "a/".repeat(MAX_PATH_BYTES / 2) + "b";
    let table: &[(&str, Result<(), InvalidPath>)] = &[
        (".github/workflows/deploy.yml", Ok(())),
        ("Jenkinsfile", Ok(())),
        ("docs/caf\u{e9} menu.md", Ok(())),
        ("", Err(InvalidPath::Empty)),
        (&long, Err(InvalidPath::TooLong)),
        ("ci/deploy\n.yml", Err(InvalidPath::ControlCharacter)),
        ("ci/\u{1b}[2Jdeploy.yml", Err(InvalidPath::ControlCharacter)),
        ("a\u{7f}b", Err(InvalidPath::ControlCharacter)),
        ("/etc/passwd", Err(InvalidPath::NotRelative)),
        ("a//b", Err(InvalidPath::NotRelative)),
        ("./a", Err(InvalidPath::NotRelative)),
        ("a/../../b", Err(InvalidPath::NotRelative)),
        ("a/", Err(InvalidPath::NotRelative)),
    ];
    for (path, expected) in table {
        assert_eq!(check_repository_path(path), *expected, "{path:?}");
    }
}
