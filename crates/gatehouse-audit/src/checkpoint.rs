//! C2SP `tlog-checkpoint` bodies in C2SP `signed-note` envelopes.
//!
//! A checkpoint body is three lines — origin, tree size in decimal, root hash
//! in base64 — each ending in a newline. A signed note is the body, a blank
//! line, and one line per signature: `— <key name> <base64(key id ||
//! Ed25519 signature over the body)>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, Verifier};

use crate::merkle::Hash;
use crate::note_key::{NoteSigner, NoteVerifier};

const SIGNATURE_PREFIX: &str = "\u{2014} ";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a signed note: {0}")]
    MalformedNote(&'static str),
    #[error("not a checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    #[error("the note has no signature by `{0}`")]
    NoSignatureByKey(String),
    #[error("the signature by `{0}` does not verify")]
    BadSignature(String),
}

impl Checkpoint {
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root))
    }

    /// Parses a checkpoint body; extension lines after the root are allowed
    /// and ignored (they are covered by the signature all the same).
    pub fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let malformed = CheckpointError::MalformedCheckpoint;
        let mut lines = body.strip_suffix('\n').ok_or(malformed("missing final newline"))?.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or(malformed("missing origin"))?;
        let size_text = lines.next().ok_or(malformed("missing tree size"))?;
        if size_text.is_empty() || (size_text.len() > 1 && size_text.starts_with('0')) {
            return Err(malformed("tree size is not a canonical decimal"));
        }
        let size = size_text.parse().map_err(|_| malformed("tree size is not a number"))?;
        let root_text = lines.next().ok_or(malformed("missing root hash"))?;
        let root = STANDARD
            .decode(root_text)
            .ok()
            .and_then(|bytes| Hash::try_from(bytes).ok())
            .ok_or(malformed("root hash is not 32 bytes of base64"))?;
        Ok(Self { origin: origin.to_owned(), size, root })
    }

    /// The signed note for this checkpoint.
    pub fn sign(&self, signer: &NoteSigner) -> String {
        sign_note(&self.body(), signer)
    }

    /// Opens a signed note with `verifier` and parses its checkpoint.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Self, CheckpointError> {
        Self::parse_body(open_note(note, verifier)?)
    }
}

pub fn sign_note(text: &str, signer: &NoteSigner) -> String {
    let signature = signer.signing_key().sign(text.as_bytes());
    let mut blob = signer.verifier().key_id().to_vec();
    blob.extend_from_slice(&signature.to_bytes());
    format!("{text}\n{SIGNATURE_PREFIX}{} {}\n", signer.name(), STANDARD.encode(blob))
}

/// Returns the note's text if it carries a valid signature by `verifier`.
pub fn open_note<'a>(note: &'a str, verifier: &NoteVerifier) -> Result<&'a str, CheckpointError> {
    let split = note.rfind("\n\n").ok_or(CheckpointError::MalformedNote("no blank line before the signatures"))?;
    let (text, signatures) = (&note[..split + 1], &note[split + 2..]);
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(CheckpointError::MalformedNote("no signature lines"));
    }
    let key_id = verifier.key_id();
    for line in signatures.strip_suffix('\n').unwrap_or(signatures).split('\n') {
        let rest =
            line.strip_prefix(SIGNATURE_PREFIX).ok_or(CheckpointError::MalformedNote("a signature line lacks `— `"))?;
        let (name, encoded) =
            rest.split_once(' ').ok_or(CheckpointError::MalformedNote("a signature line lacks its key name"))?;
        let Ok(blob) = STANDARD.decode(encoded) else {
            continue;
        };
        if name != verifier.name() || blob.len() != 4 + 64 || blob[..4] != key_id {
            continue;
        }
        let signature =
            Signature::from_slice(&blob[4..]).map_err(|_| CheckpointError::BadSignature(name.to_owned()))?;
        return verifier
            .key()
            .verify(text.as_bytes(), &signature)
            .map(|()| text)
            .map_err(|_| CheckpointError::BadSignature(name.to_owned()));
    }
    Err(CheckpointError::NoSignatureByKey(verifier.name().to_owned()))
}

#[cfg(test)]
mod tests;
