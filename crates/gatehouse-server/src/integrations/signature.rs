//! Checking that a webhook comes from the forge: GitHub's HMAC-SHA256 body
//! signature, GitLab's shared token. Both compare in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Mismatch,
}

impl SignatureError {
    pub fn reason(self, header: &str) -> String {
        match self {
            SignatureError::Missing => format!("the {header} header is missing"),
            SignatureError::Malformed => format!("the {header} header is not `sha256=<64 hex digits>`"),
            SignatureError::Mismatch => format!("the {header} signature does not match the body"),
        }
    }
}

/// Checks `X-Hub-Signature-256: sha256=<hex>` against `body` and `secret`.
pub fn check_github_signature(secret: &str, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header.strip_prefix("sha256=").ok_or(SignatureError::Malformed)?;
    let claimed = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    if claimed.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    if bool::from(expected.as_slice().ct_eq(&claimed)) { Ok(()) } else { Err(SignatureError::Mismatch) }
}

/// Checks GitLab's `X-Gitlab-Token`. Both sides are hashed first so the
/// comparison takes the same time whatever the lengths.
pub fn check_gitlab_token(expected: &str, header: Option<&str>) -> Result<(), SignatureError> {
    let presented = header.ok_or(SignatureError::Missing)?;
    let (a, b) = (Sha256::digest(expected.as_bytes()), Sha256::digest(presented.as_bytes()));
    if bool::from(a.as_slice().ct_eq(b.as_slice())) { Ok(()) } else { Err(SignatureError::Mismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in GitHub's "Validating webhook deliveries" documentation.
    #[test]
    fn githubs_documented_test_vector() {
        let secret = "It's a Secret to Everybody";
        let body = b"Hello, World!";
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(check_github_signature(secret, body, Some(header)), Ok(()));
        assert_eq!(check_github_signature(secret, b"Hello, World?", Some(header)), Err(SignatureError::Mismatch));
        assert_eq!(check_github_signature("another secret", body, Some(header)), Err(SignatureError::Mismatch));
    }

    #[test]
    fn malformed_or_missing_signatures() {
        assert_eq!(check_github_signature("s", b"x", None), Err(SignatureError::Missing));
        assert_eq!(check_github_signature("s", b"x", Some("sha1=abcd")), Err(SignatureError::Malformed));
        assert_eq!(check_github_signature("s", b"x", Some("sha256=zz")), Err(SignatureError::Malformed));
        assert_eq!(check_github_signature("s", b"x", Some("sha256=abcd")), Err(SignatureError::Malformed));
    }

    #[test]
    fn gitlab_tokens() {
        assert_eq!(check_gitlab_token("t0ken", Some("t0ken")), Ok(()));
        assert_eq!(check_gitlab_token("t0ken", Some("t0ken ")), Err(SignatureError::Mismatch));
        assert_eq!(check_gitlab_token("t0ken", Some("")), Err(SignatureError::Mismatch));
        assert_eq!(check_gitlab_token("t0ken", None), Err(SignatureError::Missing));
    }
}
