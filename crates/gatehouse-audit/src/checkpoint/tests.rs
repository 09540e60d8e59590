use super::*;
use crate::merkle::leaf_hash;

fn checkpoint() -> Checkpoint {
    Checkpoint { origin: "gatehouse.example/audit".into(), size: 42, root: leaf_hash(b"x") }
}

#[test]
fn a_checkpoint_body_has_three_lines() {
    let body = checkpoint().body();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines[0], "gatehouse.example/audit");
    assert_eq!(lines[1], "42");
    assert_eq!(lines.len(), 3);
    assert!(body.ends_with('\n'));
    assert_eq!(Checkpoint::parse_body(&body).unwrap(), checkpoint());
}

#[test]
fn a_signed_checkpoint_opens_with_its_key_only() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let note = checkpoint().sign(&signer);
    assert!(note.starts_with(&checkpoint().body()));
    assert!(note.contains("\n\n\u{2014} gatehouse "));
    assert_eq!(Checkpoint::open(&note, &signer.verifier()).unwrap(), checkpoint());

    let stranger = NoteSigner::generate("gatehouse").unwrap();
    assert_eq!(
        Checkpoint::open(&note, &stranger.verifier()),
        Err(CheckpointError::NoSignatureByKey("gatehouse".into()))
    );
}

#[test]
fn a_changed_checkpoint_fails_its_signature() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let note = checkpoint().sign(&signer);
    let forged = note.replacen("\n42\n", "\n43\n", 1);
    assert_eq!(Checkpoint::open(&forged, &signer.verifier()), Err(CheckpointError::BadSignature("gatehouse".into())));
}

#[test]
fn malformed_notes_and_bodies_are_refused() {
    let verifier = NoteSigner::generate("gatehouse").unwrap().verifier();
    for note in ["", "no blank line\n", "body\n\n", "body\n\nnot a signature\n"] {
        assert!(Checkpoint::open(note, &verifier).is_err(), "{note:?}");
    }
    for body in ["origin\n42\n", "origin\n042\nAA==\n", "origin\nx\nAA==\n", "\n1\nAA==\n", "origin\n1\nAA==\n"] {
        assert!(Checkpoint::parse_body(body).is_err(), "{body:?}");
    }
}

#[test]
fn go_signed_notes_verify() {
    // A note signed by golang.org/x/mod/sumdb/note with its documented test key.
    let verifier = NoteVerifier::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").unwrap();
    let note = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n\
                \n\
                \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    let text = open_note(note, &verifier).unwrap();
    assert!(text.starts_with("If you think cryptography"));
}
