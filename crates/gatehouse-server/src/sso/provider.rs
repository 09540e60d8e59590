//! Talking to the identity provider: its discovery document (cached), the token
//! endpoint (authorization code + PKCE verifier, client_secret_basic), the
//! userinfo endpoint, and ID token verification against its JWKS.

use std::time::{Duration, Instant};

use gatehouse_domain::outbound::OutboundRules;

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::OidcSettings;
use crate::outbound::{OutboundClient, describe};
use crate::workload::JwksCache;
use crate::workload::jwks::{KeyLookup, max_age};

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: Option<String>,
}

/// How long a discovery document is kept: its `Cache-Control: max-age`,
/// held within these bounds, else [`DISCOVERY_DEFAULT_TTL`].
pub const DISCOVERY_MIN_TTL: Duration = Duration::from_secs(60);
pub const DISCOVERY_MAX_TTL: Duration = Duration::from_secs(3600);
pub const DISCOVERY_DEFAULT_TTL: Duration = Duration::from_secs(900);

/// The identity provider as gatehouse reaches it: one outbound client, and
/// the discovery document cached for a bounded time (one fetch per issuer
/// and lifetime, not one per login).
pub struct Provider {
    client: OutboundClient,
    discovery: tokio::sync::Mutex<Option<CachedDiscovery>>,
}

struct CachedDiscovery {
    issuer: String,
    document: Discovery,
    fetched_at: Instant,
    fresh_for: Duration,
}

impl Provider {
    pub fn new(outbound: &OutboundRules) -> Self {
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")));
        Self { client: OutboundClient::new(outbound, builder), discovery: tokio::sync::Mutex::new(None) }
    }

    /// The issuer's discovery document, from the cache while it is fresh.
    /// Concurrent logins wait for one fetch rather than each making their own.
    pub async fn discover(&self, settings: &OidcSettings) -> Result<Discovery, String> {
        let mut cached = self.discovery.lock().await;
        if let Some(held) = cached.as_ref()
            && held.issuer == settings.issuer
            && held.fetched_at.elapsed() < held.fresh_for
        {
            return Ok(held.document.clone());
        }
        let url = format!("{}/.well-known/openid-configuration", settings.issuer.trim_end_matches('/'));
        let response = self
            .client
            .get(&url)
            .map_err(|e| format!("cannot reach the identity provider: {e}"))?
            .send()
            .await
            .map_err(|e| format!("cannot reach the identity provider: {}", describe(&e)))?;
        if !response.status().is_success() {
            return Err(format!("the identity provider's discovery answered HTTP {}", response.status()));
        }
        let fresh_for = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age)
            .map_or(DISCOVERY_DEFAULT_TTL, |age| age.clamp(DISCOVERY_MIN_TTL, DISCOVERY_MAX_TTL));
        // Not serde's message: it would quote what the server sent.
        let document: Discovery =
            response.json().await.map_err(|_| "the discovery document is not valid".to_owned())?;
        if document.issuer != settings.issuer {
            return Err(format!("the discovery document names another issuer than `{}`", settings.issuer));
        }
        *cached = Some(CachedDiscovery {
            issuer: settings.issuer.clone(),
            document: document.clone(),
            fetched_at: Instant::now(),
            fresh_for,
        });
        Ok(document)
    }

    pub async fn exchange(
        &self,
        settings: &OidcSettings,
        discovery: &Discovery,
        code: &str,
        verifier: &str,
    ) -> Result<Tokens, String> {
        let response = self
            .client
            .post(&discovery.token_endpoint)
            .map_err(|e| format!("cannot reach the identity provider: {e}"))?
            .basic_auth(&settings.client_id, Some(settings.client_secret.expose()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", settings.redirect_url.as_str()),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(|e| format!("cannot reach the identity provider: {}", describe(&e)))?;
        if !response.status().is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            // An OAuth error code (RFC 6749 5.2) is short and plain; anything else is not repeated.
            let error = body
                .get("error")
                .and_then(Value::as_str)
                .filter(|code| code.len() <= 64 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
                .unwrap_or("an error");
            return Err(format!("the identity provider refused the code ({error})"));
        }
        response.json().await.map_err(|_| "the token answer is not valid".to_owned())
    }

    pub async fn userinfo(&self, discovery: &Discovery, access_token: &str) -> Result<Map<String, Value>, String> {
        let url = discovery.userinfo_endpoint.as_deref().ok_or("the identity provider has no userinfo endpoint")?;
        let response = self
            .client
            .get(url)
            .map_err(|e| format!("userinfo: {e}"))?
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| format!("userinfo: {}", describe(&e)))?;
        if !response.status().is_success() {
            return Err(format!("userinfo answered HTTP {}", response.status()));
        }
        response.json().await.map_err(|_| "userinfo is not JSON".to_owned())
    }
}

#[derive(Debug, Deserialize)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: Option<String>,
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
