//! Ed25519 keys in the C2SP `signed-note` encodings, as Go's
//! `golang.org/x/mod/sumdb/note` writes them:
//!
//! - verifier key: `<name>+<hex key id>+<base64(0x01 || public key)>`
//! - signer key: `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`
//!
//! The key id is the first four bytes of SHA-256(name || "\n" || 0x01 ||
//! public key), so the same seed under another name is another key.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type byte for Ed25519 in signed notes.
pub const ALGORITHM_ED25519: u8 = 0x01;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteKeyError {
    #[error("a key name must be non-empty, without spaces or `+`")]
    InvalidName,
    #[error("not a signed-note key: {0}")]
    Malformed(&'static str),
    #[error("the key id `{found}` does not match the key (expected `{expected}`)")]
    KeyIdMismatch { found: String, expected: String },
}

fn check_name(name: &str) -> Result<(), NoteKeyError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control()) {
        return Err(NoteKeyError::InvalidName);
    }
    Ok(())
}

pub fn key_id(name: &str, public_key: &VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ALGORITHM_ED25519]);
    hasher.update(public_key.as_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A named Ed25519 signing key. `Debug` never shows the seed.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl NoteSigner {
    pub fn generate(name: &str) -> Result<Self, NoteKeyError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        rand::fill(&mut seed);
        Ok(Self { name: name.to_owned(), key: SigningKey::from_bytes(&seed) })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64>`.
    pub fn parse(encoded: &str) -> Result<Self, NoteKeyError> {
        let rest =
            encoded.trim().strip_prefix("PRIVATE+KEY+").ok_or(NoteKeyError::Malformed("missing `PRIVATE+KEY+`"))?;
        let (name, id, key) = split_key(rest)?;
        check_name(name)?;
        let bytes = decode_key(key)?;
        let signer = Self { name: name.to_owned(), key: SigningKey::from_bytes(&bytes) };
        check_id(id, &signer.verifier())?;
        Ok(signer)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier { name: self.name.clone(), key: self.key.verifying_key() }
    }

    /// The signer key text, for the key file.
    pub fn encode(&self) -> String {
        let mut bytes = vec![ALGORITHM_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        let id = key_id(&self.name, &self.key.verifying_key());
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex::encode(id), STANDARD.encode(bytes))
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner").field("name", &self.name).field("key", &"<redacted>").finish()
    }
}

/// A named Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses `<name>+<hex id>+<base64>`.
    pub fn parse(encoded: &str) -> Result<Self, NoteKeyError> {
        let (name, id, key) = split_key(encoded.trim())?;
        check_name(name)?;
        let bytes = decode_key(key)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| NoteKeyError::Malformed("not an Ed25519 public key"))?;
        let verifier = Self { name: name.to_owned(), key };
        check_id(id, &verifier)?;
        Ok(verifier)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    pub fn key_id(&self) -> [u8; 4] {
        key_id(&self.name, &self.key)
    }

    pub fn encode(&self) -> String {
        let mut bytes = vec![ALGORITHM_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(self.key_id()), STANDARD.encode(bytes))
    }
}

fn split_key(text: &str) -> Result<(&str, &str, &str), NoteKeyError> {
    // Names have no `+`, but base64 keys may.
    let mut parts = text.splitn(3, '+');
    let name = parts.next().ok_or(NoteKeyError::Malformed("missing name"))?;
    let id = parts.next().ok_or(NoteKeyError::Malformed("missing key id"))?;
    let key = parts.next().ok_or(NoteKeyError::Malformed("missing key"))?;
    Ok((name, id, key))
}

fn decode_key(encoded: &str) -> Result<[u8; 32], NoteKeyError> {
    let bytes = STANDARD.decode(encoded).map_err(|_| NoteKeyError::Malformed("key is not base64"))?;
    match bytes.split_first() {
        Some((&ALGORITHM_ED25519, key)) => key.try_into().map_err(|_| NoteKeyError::Malformed("key is not 32 bytes")),
        _ => Err(NoteKeyError::Malformed("key is not of type Ed25519 (0x01)")),
    }
}

fn check_id(found: &str, verifier: &NoteVerifier) -> Result<(), NoteKeyError> {
    let expected = hex::encode(verifier.key_id());
    if found != expected {
        return Err(NoteKeyError::KeyIdMismatch { found: found.to_owned(), expected });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
