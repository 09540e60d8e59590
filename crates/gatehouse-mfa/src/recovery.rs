//! One-time recovery codes: shown once, kept as SHA-256 hashes (each code
//! carries 100 random bits, so a fast hash is enough), each usable once.

use sha2::{Digest, Sha256};

const CODES: usize = 10;
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Codes to show, and the hashes to keep.
#[derive(Debug, Clone)]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
    pub hashes: Vec<String>,
}

impl RecoveryCodes {
    pub fn generate() -> Self {
        let codes: Vec<String> = (0..CODES)
            .map(|_| {
                let mut bytes = [0u8; 20];
                rand::fill(&mut bytes);
                let chars: String = bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
                format!("{}-{}-{}-{}", &chars[0..5], &chars[5..10], &chars[10..15], &chars[15..20])
            })
            .collect();
        let hashes = codes.iter().map(|code| hash_recovery_code(code)).collect();
        Self { codes, hashes }
    }
}

/// The stored form of a code as a person types it (case and dashes ignored).
pub fn hash_recovery_code(code: &str) -> String {
    let normalized: String = code.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_hash_as_typed() {
        let generated = RecoveryCodes::generate();
        assert_eq!(generated.codes.len(), 10);
        let unique: std::collections::HashSet<_> = generated.hashes.iter().collect();
        assert_eq!(unique.len(), 10);
        let code = &generated.codes[0];
        assert_eq!(hash_recovery_code(&code.to_uppercase()), generated.hashes[0]);
        assert_eq!(hash_recovery_code(&code.replace('-', "")), generated.hashes[0]);
        assert_ne!(hash_recovery_code("nope"), generated.hashes[0]);
    }
}
