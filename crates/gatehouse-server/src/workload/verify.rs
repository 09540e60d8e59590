//! Verifying a CI job's OIDC token and finding the binding it meets.
//!
//! Order matters: nothing is fetched for an issuer no binding names, and the
//! signature is checked before any claim is believed. Each refusal names
//! the check that failed and never echoes the token.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::clock::to_unix_millis;
use gatehouse_domain::workload::{TrustBinding, select_binding};
use jsonwebtoken::jwk::KeyAlgorithm;
use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::jwks::{JwksCache, KeyLookup};
use gatehouse_domain::store::Store;

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: i64 = 60;
/// Longer tokens are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Asymmetric algorithms only: a shared-secret (HS*) algorithm would let
/// anyone holding the issuer's *public* key forge tokens.
const ACCEPTED: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// A verified CI token and the binding it meets.
#[derive(Debug, Clone)]
pub struct VerifiedWorkload {
    pub binding: TrustBinding,
    pub issuer: String,
    pub subject: String,
    pub expires_at: OffsetDateTime,
    pub claims: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The token is not acceptable: 401.
    Invalid(String),
    /// The issuer's keys cannot be had: 503.
    IssuerUnavailable(String),
}

/// Whether a bearer credential looks like a JWT (three base64url parts).
pub fn looks_like_jwt(presented: &str) -> bool {
    presented.len() <= MAX_TOKEN_BYTES
        && presented.split('.').count() == 3
        && presented.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub async fn verify(
    store: &dyn Store,
    jwks: &JwksCache,
    raw: &str,
    now: OffsetDateTime,
) -> Result<VerifiedWorkload, Refusal> {
    let invalid = |reason: &str| Refusal::Invalid(reason.to_owned());
    if !looks_like_jwt(raw) {
        return Err(invalid("the token is not a JWT"));
    }
    let mut parts = raw.split('.');
    let (header_part, payload_part) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let header: Map<String, Value> =
        decode_part(header_part).ok_or_else(|| invalid("the token's header is not base64url JSON"))?;
    let alg = header.get("alg").and_then(Value::as_str).ok_or_else(|| invalid("the token's header names no alg"))?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(invalid("unsigned tokens (alg none) are refused"));
    }
    let algorithm = ACCEPTED.into_iter().find(|a| format!("{a:?}") == alg).ok_or_else(|| {
        if alg.starts_with("HS") {
            Refusal::Invalid(format!("{alg} is a shared-secret algorithm; only asymmetric signatures are accepted"))
        } else {
            Refusal::Invalid(format!("algorithm `{alg}` is not accepted"))
        }
    })?;
    let kid =
        header.get("kid").and_then(Value::as_str).ok_or_else(|| invalid("the token's header names no key (kid)"))?;

    // Unverified, only to choose which issuer's keys to check against.
    let claimed: Map<String, Value> =
        decode_part(payload_part).ok_or_else(|| invalid("the token's payload is not base64url JSON"))?;
    let issuer =
        claimed.get("iss").and_then(Value::as_str).ok_or_else(|| invalid("the token has no iss claim"))?.to_owned();
    let bindings = store
        .trust_bindings_for_issuer(&issuer)
        .await
        .map_err(|e| Refusal::IssuerUnavailable(format!("cannot read trust bindings: {e}")))?;
    if bindings.is_empty() {
        return Err(Refusal::Invalid(format!("issuer `{issuer}` is not trusted by any binding")));
    }

    let key = match jwks.key(&issuer, kid).await {
        KeyLookup::Found(key) => key,
        KeyLookup::UnknownKid => {
            return Err(Refusal::Invalid(format!("issuer `{issuer}` publishes no key `{kid}`")));
        }
        KeyLookup::Unavailable(cause) => {
            return Err(Refusal::IssuerUnavailable(format!("cannot fetch the signing keys of `{issuer}`: {cause}")));
        }
    };
    if let Some(declared) = key.algorithm
        && !same_algorithm(declared, algorithm)
    {
        return Err(Refusal::Invalid(format!("key `{kid}` is declared for {declared:?}, the token says {alg}")));
    }

    let mut validation = Validation::new(algorithm);
    // Times are checked below against gatehouse's clock; the audience
    // against the bindings'.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.set_issuer(&[issuer.as_str()]);
    let verified = jsonwebtoken::decode::<Map<String, Value>>(raw, &key.key, &validation).map_err(|error| {
        Refusal::Invalid(match error.kind() {
            ErrorKind::InvalidSignature => format!("the signature does not verify with key `{kid}` of `{issuer}`"),
            ErrorKind::InvalidAlgorithm => format!("key `{kid}` cannot verify {alg} signatures"),
            ErrorKind::MissingRequiredClaim(claim) => format!("the token has no `{claim}` claim"),
            ErrorKind::InvalidIssuer => "the token's issuer does not match".into(),
            ErrorKind::InvalidClaimFormat(claim) => format!("claim `{claim}` has the wrong type"),
            _ => "the token cannot be decoded".into(),
        })
    })?;
    let claims = verified.claims;

    let now_seconds = to_unix_millis(now) / 1000;
    let time_claim = |name: &str| -> Result<Option<i64>, Refusal> {
        match claims.get(name) {
            None => Ok(None),
            Some(value) => value
                .as_i64()
                .or_else(|| value.as_f64().map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| Refusal::Invalid(format!("claim `{name}` is not a number"))),
        }
    };
    let exp = time_claim("exp")?.ok_or_else(|| invalid("the token has no `exp` claim"))?;
    // Saturating: a signed `exp` of i64::MAX is a claim, not a panic.
    if now_seconds >= exp.saturating_add(LEEWAY_SECONDS) {
        return Err(invalid("the token has expired"));
    }
    if time_claim("nbf")?.is_some_and(|nbf| now_seconds + LEEWAY_SECONDS < nbf) {
        return Err(invalid("the token is not valid yet (nbf)"));
    }
    if time_claim("iat")?.is_some_and(|iat| now_seconds + LEEWAY_SECONDS < iat) {
        return Err(invalid("the token was issued in the future (iat)"));
    }

    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let for_audience: Vec<TrustBinding> =
        bindings.into_iter().filter(|binding| audiences.contains(&binding.audience.as_str())).collect();
    if for_audience.is_empty() {
        return Err(Refusal::Invalid(format!(
            "no binding for `{issuer}` accepts audience {}",
            audiences.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ")
        )));
    }
    let binding = select_binding(&for_audience, &claims).map_err(Refusal::Invalid)?.clone();
    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
    let expires_at = OffsetDateTime::from_unix_timestamp(exp).map_err(|_| invalid("claim `exp` is out of range"))?;
    Ok(VerifiedWorkload { binding, issuer, subject, expires_at, claims })
}

fn decode_part(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn same_algorithm(declared: KeyAlgorithm, used: Algorithm) -> bool {
    format!("{declared:?}") == format!("{used:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_three_part_base64url_strings_look_like_jwts() {
        assert!(looks_like_jwt("eyJh.eyJi.c2ln"));
        assert!(!looks_like_jwt("gth_abc"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt("a.b.c d"));
        assert!(!looks_like_jwt(&"a.".repeat(9000)));
    }
}
