//! Talking to the identity provider: its discovery document, the token
//! endpoint (authorization code + PKCE verifier, client_secret_basic), the
//! userinfo endpoint, and ID token verification against its JWKS.

use std::time::Duration;

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::OidcSettings;
use crate::workload::JwksCache;
use crate::workload::jwks::KeyLookup;

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

pub async fn discover(settings: &OidcSettings) -> Result<Discovery, String> {
    let url = format!("{}/.well-known/openid-configuration", settings.issuer.trim_end_matches('/'));
    let response = client().get(&url).send().await.map_err(|e| format!("cannot reach the identity provider: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("the identity provider's discovery answered HTTP {}", response.status()));
    }
    let discovery: Discovery =
        response.json().await.map_err(|e| format!("the discovery document is not valid: {e}"))?;
    if discovery.issuer != settings.issuer {
        return Err(format!("the discovery document names issuer `{}`, not `{}`", discovery.issuer, settings.issuer));
    }
    Ok(discovery)
}

#[derive(Debug, Deserialize)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: Option<String>,
}

pub async fn exchange(
    settings: &OidcSettings,
    discovery: &Discovery,
    code: &str,
    verifier: &str,
) -> Result<Tokens, String> {
    let response = client()
        .post(&discovery.token_endpoint)
        .basic_auth(&settings.client_id, Some(settings.client_secret.expose()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", settings.redirect_url.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|e| format!("cannot reach the identity provider: {e}"))?;
    if !response.status().is_success() {
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let error = body.get("error").and_then(Value::as_str).unwrap_or("an error");
        return Err(format!("the identity provider refused the code ({error})"));
    }
    response.json().await.map_err(|e| format!("the token answer is not valid: {e}"))
}

pub async fn userinfo(discovery: &Discovery, access_token: &str) -> Result<Map<String, Value>, String> {
    let url = discovery.userinfo_endpoint.as_deref().ok_or("the identity provider has no userinfo endpoint")?;
    let response = client().get(url).bearer_auth(access_token).send().await.map_err(|e| format!("userinfo: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("userinfo answered HTTP {}", response.status()));
    }
    response.json().await.map_err(|e| format!("userinfo is not JSON: {e}"))
}

/// Verifies the ID token: signature by the issuer's key, issuer, audience
/// (our client id), expiry (60 s leeway), and the nonce of this login.
pub async fn verify_id_token(
    settings: &OidcSettings,
    jwks: &JwksCache,
    id_token: &str,
    nonce: &str,
    now_unix: i64,
) -> Result<Map<String, Value>, String> {
    let header = jsonwebtoken::decode_header(id_token).map_err(|_| "the ID token cannot be read".to_owned())?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 | Algorithm::PS256 | Algorithm::ES256 | Algorithm::ES384
    ) {
        return Err(format!("the ID token's algorithm {:?} is not accepted", header.alg));
    }
    let kid = header.kid.ok_or("the ID token names no key")?;
    let key = match jwks.key(&settings.issuer, &kid).await {
        KeyLookup::Found(key) => key,
        KeyLookup::UnknownKid => return Err(format!("the identity provider publishes no key `{kid}`")),
        KeyLookup::Unavailable(cause) => return Err(format!("cannot fetch the identity provider's keys: {cause}")),
    };
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.set_issuer(&[settings.issuer.as_str()]);
    validation.set_audience(&[settings.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key.key, &validation)
        .map_err(|e| format!("the ID token does not verify: {e}"))?
        .claims;
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or("the ID token has no exp")?;
    if now_unix >= exp + 60 {
        return Err("the ID token has expired".into());
    }
    if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
        return Err("the ID token's nonce is not this login's".into());
    }
    Ok(claims)
}
