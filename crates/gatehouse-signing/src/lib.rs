//! What a signature proves, and about whom: git commit objects parsed into
//! the exact payload that was signed and the signature over it; SSH and
//! OpenPGP public keys checked and fingerprinted; signatures verified.
//! No I/O: callers bring the bytes (from `git cat-file`, an HTTP body) and
//! the registered keys.

pub mod commit;
pub mod keys;
pub mod verify;

pub use commit::{Commit, CommitError, SignatureKind, parse_commit};
pub use keys::{KeyError, KeyKind, ParsedKey, parse_public_key};
pub use verify::{SignatureError, Signer, openpgp_issuers, ssh_signer_fingerprint, verify_openpgp, verify_ssh};
