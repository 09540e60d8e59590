//! TOTP secrets sealed for storage: XChaCha20-Poly1305 under a 256-bit key
//! kept in the data dir, a random nonce per secret, and the owner's id as
//! associated data, so a sealed secret cannot be moved to another person.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const VERSION: u8 = 1;
const NONCE_BYTES: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealed secret is malformed")]
    Malformed,
    #[error("the sealed secret does not open with this key and owner")]
    Tampered,
}

#[derive(Clone)]
pub struct SealingKey([u8; 32]);

// The key is wiped from memory when dropped.
impl zeroize::Zeroize for SealingKey {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for SealingKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self);
    }
}

impl zeroize::ZeroizeOnDrop for SealingKey {}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl SealingKey {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        Self(key)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn seal(&self, secret: &[u8], owner: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::fill(&mut nonce);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let sealed =
            cipher.encrypt(&XNonce::from(nonce), Payload { msg: secret, aad: owner.as_bytes() }).unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_BYTES + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn open(&self, sealed: &[u8], owner: &str) -> Result<Vec<u8>, SealError> {
        if sealed.len() < 1 + NONCE_BYTES + 16 || sealed[0] != VERSION {
            return Err(SealError::Malformed);
        }
        let (nonce, body) = sealed[1..].split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| SealError::Malformed)?;
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: body, aad: owner.as_bytes() })
            .map_err(|_| SealError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_wiped_from_memory() {
        fn wiped_when_dropped<T: zeroize::ZeroizeOnDrop>() {}
        wiped_when_dropped::<SealingKey>();
        let mut key = SealingKey::generate();
        zeroize::Zeroize::zeroize(&mut key);
        assert_eq!(key.as_bytes(), &[0u8; 32]);
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_owner() {
        let key = SealingKey::generate();
        let sealed = key.seal(b"totp secret", "ana");
        assert!(!sealed.windows(11).any(|w| w == b"totp secret"), "never in the clear");
        assert_eq!(key.open(&sealed, "ana").unwrap(), b"totp secret");
        assert_eq!(key.open(&sealed, "bob"), Err(SealError::Tampered));
        assert_eq!(SealingKey::generate().open(&sealed, "ana"), Err(SealError::Tampered));
        let mut flipped = sealed.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(key.open(&flipped, "ana"), Err(SealError::Tampered));
        assert_eq!(key.open(&sealed[..10], "ana"), Err(SealError::Malformed));
        assert_ne!(key.seal(b"x", "ana"), key.seal(b"x", "ana"), "a fresh nonce each time");
    }
}
