use proptest::prelude::*;

use super::*;

const SIGNED: &str = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
parent 1111111111111111111111111111111111111111\n\
author Ana <ana@example.com> 1700000000 +0000\n\
committer Ana <ana@example.com> 1700000000 +0000\n\
gpgsig -----BEGIN SSH SIGNATURE-----\n \
U1NIU0lHAAAAAQ\n \
-----END SSH SIGNATURE-----\n\
\n\
Add the deploy job\n\
\n\
With a body.\n";

#[test]
fn the_signature_is_cut_out_of_the_payload_exactly() {
    let commit = parse_commit(SIGNED.as_bytes()).unwrap();
    assert_eq!(commit.tree, "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
    assert_eq!(commit.parents, vec!["1111111111111111111111111111111111111111"]);
    assert_eq!(commit.author_email(), Some("ana@example.com"));
    assert_eq!(
        commit.signature.as_deref(),
        Some("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ\n-----END SSH SIGNATURE-----\n")
    );
    assert_eq!(commit.signature_kind(), Some(SignatureKind::Ssh));
    let expected = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
parent 1111111111111111111111111111111111111111\n\
author Ana <ana@example.com> 1700000000 +0000\n\
committer Ana <ana@example.com> 1700000000 +0000\n\
\n\
Add the deploy job\n\
\n\
With a body.\n";
    assert_eq!(String::from_utf8(commit.signed_payload).unwrap(), expected);
}

#[test]
fn unsigned_and_odd_commits() {
    let unsigned = "tree abc\nauthor A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\nmsg\n";
    let commit = parse_commit(unsigned.as_bytes()).unwrap();
    assert_eq!(commit.signature, None);
    assert_eq!(commit.signed_payload, unsigned.as_bytes());

    // A merge tag header's continuation lines stay in the payload.
    let mergetag = "tree abc\nmergetag object 123\n type commit\n\nmsg\n";
    assert_eq!(parse_commit(mergetag.as_bytes()).unwrap().signed_payload, mergetag.as_bytes());

    // An object without a message.
    assert_eq!(parse_commit(b"tree abc\n").unwrap().tree, "abc");
    assert_eq!(parse_commit(b""), Err(CommitError::Empty));
    assert_eq!(parse_commit(b"parent abc\n\nmsg"), Err(CommitError::NoTree));
    assert_eq!(parse_commit(b" leading\n"), Err(CommitError::MalformedHeader(1)));
    assert_eq!(parse_commit(b"tree abc\nnospace\n\nm"), Err(CommitError::MalformedHeader(2)));
    assert_eq!(parse_commit(b"tree \xff\n\nm"), Err(CommitError::NotText));
    let pgp = SIGNED.replace("BEGIN SSH SIGNATURE", "BEGIN PGP SIGNATURE");
    assert_eq!(parse_commit(pgp.as_bytes()).unwrap().signature_kind(), Some(SignatureKind::OpenPgp));
}

proptest! {
    /// Whatever the bytes, parsing ends in a result, never a panic; and a
    /// successful parse never keeps signature text in the payload.
    #[test]
    fn any_bytes_parse_or_fail_cleanly(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(commit) = parse_commit(&raw) {
            let payload = String::from_utf8_lossy(&commit.signed_payload);
            let headers = payload.split("\n\n").next().unwrap_or_default();
            prop_assert!(!headers.lines().any(|line| line.starts_with("gpgsig ")));
        }
    }

    #[test]
    fn commit_like_text_parses_or_fails_cleanly(
        lines in proptest::collection::vec("(tree|parent|author|gpgsig|gpgsig-sha256| )[ a-z0-9<>@.-]{0,20}", 0..12),
        message in "[ -~\n]{0,50}",
    ) {
        let raw = format!("{}\n\n{message}", lines.join("\n"));
        let _ = parse_commit(raw.as_bytes());
    }
}
