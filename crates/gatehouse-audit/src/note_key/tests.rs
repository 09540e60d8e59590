use super::*;

// From golang.org/x/mod/sumdb/note's documentation and tests: the key
// "PeterNeumann" with a known seed.
const GO_SIGNER: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VERIFIER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

#[test]
fn go_keys_parse_and_re_encode_identically() {
    let signer = NoteSigner::parse(GO_SIGNER).unwrap();
    assert_eq!(signer.encode(), GO_SIGNER);
    assert_eq!(signer.verifier().encode(), GO_VERIFIER);
    assert_eq!(NoteVerifier::parse(GO_VERIFIER).unwrap(), signer.verifier());
}

#[test]
fn generated_keys_round_trip() {
    let signer = NoteSigner::generate("gatehouse").unwrap();
    let reparsed = NoteSigner::parse(&signer.encode()).unwrap();
    assert_eq!(reparsed.verifier(), signer.verifier());
    assert!(signer.verifier().encode().starts_with("gatehouse+"));
    assert!(!format!("{signer:?}").contains(&signer.encode()[20..]));
}

#[test]
fn a_wrong_key_id_or_type_is_refused() {
    let tampered = GO_VERIFIER.replace("c74f20a3", "c74f20a4");
    assert!(matches!(NoteVerifier::parse(&tampered), Err(NoteKeyError::KeyIdMismatch { .. })));
    assert!(NoteVerifier::parse("PeterNeumann+c74f20a3+AhpjZA==").is_err());
    assert!(NoteVerifier::parse("no-plus-signs").is_err());
    assert!(NoteSigner::generate("two words").is_err());
}
