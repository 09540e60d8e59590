//! Signatures made by the real tools (`ssh-keygen`, `gpg`, `git commit -S`)
//! verify, and altered, expired or revoked ones do not.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;
use std::process::Command;

use gatehouse_signing::{
    KeyError, KeyKind, SignatureError, SignatureKind, keys::parse_openpgp, openpgp_issuers, parse_commit,
    parse_public_key, ssh_signer_fingerprint, verify_openpgp, verify_ssh,
};
use time::OffsetDateTime;

/// The test's temporary root: `dir` itself, or its parent for the repository.
fn root_of(dir: &Path) -> &Path {
    if dir.ends_with("repo") { dir.parent().unwrap() } else { dir }
}

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("GNUPGHOME", root_of(dir).join("gnupg"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", root_of(dir))
        .output()
        .unwrap();
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn repo(dir: &Path) {
    run(dir, "git", &["init", "-q", "repo"]);
    let repo = dir.join("repo");
    run(&repo, "git", &["config", "user.name", "Ana"]);
    run(&repo, "git", &["config", "user.email", "ana@example.com"]);
}

fn commit(dir: &Path, file: &str) -> String {
    let repo = dir.join("repo");
    std::fs::write(repo.join(file), file).unwrap();
    run(&repo, "git", &["add", file]);
    run(&repo, "git", &["commit", "-q", "-S", "-m", &format!("add {file}")]);
    run(&repo, "git", &["cat-file", "commit", "HEAD"])
}

#[test]
fn ssh_signed_commits_verify_and_altered_ones_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_ed25519");
    run(dir.path(), "ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-C", "ana", "-f", key.to_str().unwrap()]);
    repo(dir.path());
    let repo = dir.path().join("repo");
    run(&repo, "git", &["config", "gpg.format", "ssh"]);
    run(&repo, "git", &["config", "user.signingkey", key.to_str().unwrap()]);
    let raw = commit(dir.path(), "a.txt");

    let public = parse_public_key(&std::fs::read_to_string(key.with_extension("pub")).unwrap()).unwrap();
    assert_eq!(public.kind, KeyKind::Ssh);
    assert_eq!(public.algorithm, "ssh-ed25519");
    let parsed = parse_commit(raw.as_bytes()).unwrap();
    assert_eq!(parsed.signature_kind(), Some(SignatureKind::Ssh));
    let signature = parsed.signature.as_deref().unwrap();
    assert_eq!(ssh_signer_fingerprint(signature).unwrap(), public.fingerprint);
    let signer = verify_ssh(signature, &parsed.signed_payload, "git").unwrap();
    assert_eq!(signer.fingerprint, public.fingerprint);

    let altered = parse_commit(raw.replace("add a.txt", "add b.txt").as_bytes()).unwrap();
    assert_eq!(verify_ssh(signature, &altered.signed_payload, "git"), Err(SignatureError::Mismatch));
    assert!(matches!(
        verify_ssh(signature, &parsed.signed_payload, "file"),
        Err(SignatureError::WrongNamespace { .. })
    ));

    // A blob signed for gatehouse.
    let blob = dir.path().join("artifact.tar");
    std::fs::write(&blob, b"release bits").unwrap();
    run(
        dir.path(),
        "ssh-keygen",
        &["-q", "-Y", "sign", "-n", "gatehouse", "-f", key.to_str().unwrap(), blob.to_str().unwrap()],
    );
    let blob_signature = std::fs::read_to_string(dir.path().join("artifact.tar.sig")).unwrap();
    assert_eq!(verify_ssh(&blob_signature, b"release bits", "gatehouse").unwrap().fingerprint, public.fingerprint);
    assert_eq!(verify_ssh(&blob_signature, b"release bitz", "gatehouse"), Err(SignatureError::Mismatch));
}

#[test]
fn ssh_keys_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, bits, ok) in
        [("rsa", "1024", false), ("rsa", "2048", true), ("ecdsa", "256", true), ("ecdsa", "384", true)]
    {
        let path = dir.path().join(format!("{kind}{bits}"));
        run(dir.path(), "ssh-keygen", &["-q", "-t", kind, "-b", bits, "-N", "", "-f", path.to_str().unwrap()]);
        let result = parse_public_key(&std::fs::read_to_string(path.with_extension("pub")).unwrap());
        assert_eq!(result.is_ok(), ok, "{kind} {bits}: {result:?}");
        if !ok {
            assert!(matches!(result, Err(KeyError::Weak(_))), "{result:?}");
        }
    }
    // A hardware-key (sk-) public key line parses (the format is public).
    let sk = "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIKq0ENpJ0ZeNvQfCXOA7dJXE2vZB4/4D9Q8XxPq8Hm+rAAAABHNzaDo= ana@yubikey";
    assert_eq!(parse_public_key(sk).unwrap().algorithm, "sk-ssh-ed25519@openssh.com");
    for bad in [
        "",
        "ssh-ed25519",
        "ssh-ed25519 AAAA",
        "hello world",
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\nnope\n-----END PGP PUBLIC KEY BLOCK-----",
    ] {
        assert!(parse_public_key(bad).is_err(), "{bad}");
    }
}

fn gpg_key(dir: &Path, expiry: &str) -> String {
    std::fs::create_dir_all(dir.join("gnupg")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("gnupg"), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    run(
        dir,
        "gpg",
        &[
            "--batch",
            "--quiet",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Ana <ana@example.com>",
            "ed25519",
            "sign",
            expiry,
        ],
    );
    let listing = run(dir, "gpg", &["--batch", "--with-colons", "--list-keys", "ana@example.com"]);
    listing.lines().find(|l| l.starts_with("fpr:")).unwrap().split(':').nth(9).unwrap().to_owned()
}

#[test]
fn openpgp_signed_commits_verify_and_expiry_and_revocation_count() {
    let dir = tempfile::tempdir().unwrap();
    let fingerprint = gpg_key(dir.path(), "1d");
    let armored = run(dir.path(), "gpg", &["--batch", "--armor", "--export", &fingerprint]);
    let key = parse_public_key(&armored).unwrap();
    assert_eq!(key.kind, KeyKind::OpenPgp);
    assert_eq!(key.fingerprint, fingerprint);

    repo(dir.path());
    let repo = dir.path().join("repo");
    run(&repo, "git", &["config", "user.signingkey", &fingerprint]);
    let raw = commit(dir.path(), "a.txt");
    let parsed = parse_commit(raw.as_bytes()).unwrap();
    assert_eq!(parsed.signature_kind(), Some(SignatureKind::OpenPgp));
    let signature = parsed.signature.as_deref().unwrap();
    let issuers = openpgp_issuers(signature).unwrap();
    assert!(issuers.iter().any(|id| key.lookup_ids.contains(id)), "{issuers:?} {:?}", key.lookup_ids);
    let now = OffsetDateTime::now_utc();
    assert_eq!(verify_openpgp(signature, &parsed.signed_payload, &armored, now).unwrap().fingerprint, fingerprint);
    let altered = parse_commit(raw.replace("add a.txt", "add b.txt").as_bytes()).unwrap();
    assert_eq!(verify_openpgp(signature, &altered.signed_payload, &armored, now), Err(SignatureError::Mismatch));

    // Two days on, the key has expired.
    let later = now + time::Duration::days(2);
    assert!(matches!(
        verify_openpgp(signature, &parsed.signed_payload, &armored, later),
        Err(SignatureError::ExpiredKey(_))
    ));
    assert!(matches!(parse_openpgp(&armored, later), Err(KeyError::Expired(_))));

    // gpg leaves a revocation certificate beside every new key; import it.
    let certificate =
        std::fs::read_to_string(dir.path().join(format!("gnupg/openpgp-revocs.d/{fingerprint}.rev"))).unwrap();
    let certificate =
        certificate.replace(":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----");
    std::fs::write(dir.path().join("revoke.asc"), certificate).unwrap();
    run(dir.path(), "gpg", &["--batch", "--quiet", "--import", "revoke.asc"]);
    let revoked = run(dir.path(), "gpg", &["--batch", "--armor", "--export", &fingerprint]);
    assert_eq!(parse_public_key(&revoked), Err(KeyError::Revoked));
    assert_eq!(verify_openpgp(signature, &parsed.signed_payload, &revoked, now), Err(SignatureError::RevokedKey));
}
