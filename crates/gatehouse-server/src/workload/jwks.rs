//! The signing keys of OIDC issuers: discovery document, then `jwks_uri`,
//! cached per issuer.
//!
//! - Keys are kept for the response's `Cache-Control: max-age` (clamped to
//!   [`JwksSettings::min_ttl`]..[`JwksSettings::max_ttl`]), else
//!   [`JwksSettings::default_ttl`].
//! - A token naming a key the cache lacks triggers a refresh, at most once
//!   per [`JwksSettings::refresh_interval`] per issuer (rotation is picked up
//!   at once; a flood of made-up `kid`s cannot hammer the issuer).
//! - Every fetch is bounded by timeouts and a size limit; when the issuer
//!   cannot be reached, keys fetched earlier stay usable until they are
//!   [`JwksSettings::max_stale`] old.
//! - Only issuers named by a trust binding are ever fetched (the caller
//!   checks that first), so a token cannot make gatehouse fetch arbitrary
//!   URLs, and only at addresses the outbound rules allow (`outbound.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse_domain::outbound::OutboundRules;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{JwkSet, KeyAlgorithm};
use serde::Deserialize;

use crate::outbound::{OutboundClient, describe};

#[derive(Debug, Clone)]
pub struct JwksSettings {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub default_ttl: Duration,
    pub min_ttl: Duration,
    pub max_ttl: Duration,
    pub refresh_interval: Duration,
    pub max_stale: Duration,
    pub max_document_bytes: usize,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            default_ttl: Duration::from_secs(300),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            refresh_interval: Duration::from_secs(10),
            max_stale: Duration::from_secs(24 * 3600),
            max_document_bytes: 512 * 1024,
        }
    }
}

/// A key ready to verify with, and the algorithm it declares (if any).
#[derive(Clone)]
pub struct VerifyingKey {
    pub key: Arc<DecodingKey>,
    pub algorithm: Option<KeyAlgorithm>,
}

pub enum KeyLookup {
    Found(VerifyingKey),
    UnknownKid,
    /// The issuer's keys could not be fetched (and none usable are cached).
    Unavailable(String),
}

struct IssuerKeys {
    keys: HashMap<String, VerifyingKey>,
    fetched_at: Instant,
    fresh_for: Duration,
}

#[derive(Default)]
struct IssuerSlot {
    keys: Option<IssuerKeys>,
    last_attempt: Option<Instant>,
}

pub struct JwksCache {
    client: OutboundClient,
    settings: JwksSettings,
    issuers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<IssuerSlot>>>>,
    /// Moves whenever an issuer's set of keys changes, so verifications
    /// made with a key since withdrawn are not reused.
    epoch: AtomicU64,
}

impl JwksCache {
    pub fn new(settings: JwksSettings, outbound: &OutboundRules) -> Self {
        let builder = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")));
        let client = OutboundClient::new(outbound, builder);
        Self { client, settings, issuers: Mutex::new(HashMap::new()), epoch: AtomicU64::new(0) }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The key `kid` of `issuer`.
    pub async fn key(&self, issuer: &str, kid: &str) -> KeyLookup {
        let slot = {
            let mut issuers = self.issuers.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            issuers.entry(issuer.to_owned()).or_default().clone()
        };
        let mut slot = slot.lock().await;
        let now = Instant::now();
        if let Some(cached) = &slot.keys
            && now.duration_since(cached.fetched_at) < cached.fresh_for
        {
            if let Some(key) = cached.keys.get(kid) {
                return KeyLookup::Found(key.clone());
            }
            let recently = slot.last_attempt.is_some_and(|at| now.duration_since(at) < self.settings.refresh_interval);
            if recently {
                return KeyLookup::UnknownKid;
            }
        }
        let throttled = slot.last_attempt.is_some_and(|at| now.duration_since(at) < self.settings.refresh_interval);
        if !throttled {
            slot.last_attempt = Some(now);
            match self.fetch(issuer).await {
                Ok(fresh) => {
                    let same_keys = slot.keys.as_ref().is_some_and(|old| {
                        old.keys.len() == fresh.keys.len() && old.keys.keys().all(|kid| fresh.keys.contains_key(kid))
                    });
                    if !same_keys {
                        self.epoch.fetch_add(1, Ordering::AcqRel);
                    }
                    slot.keys = Some(fresh);
                }
                Err(cause) => {
                    tracing::warn!(issuer, %cause, "cannot fetch the issuer's signing keys");
                    return match &slot.keys {
                        Some(stale) if now.duration_since(stale.fetched_at) < self.settings.max_stale => {
                            stale.keys.get(kid).cloned().map_or(KeyLookup::UnknownKid, KeyLookup::Found)
                        }
                        _ => KeyLookup::Unavailable(cause),
                    };
                }
            }
        }
        match &slot.keys {
            Some(keys) if now.duration_since(keys.fetched_at) < self.settings.max_stale => {
                keys.keys.get(kid).cloned().map_or(KeyLookup::UnknownKid, KeyLookup::Found)
            }
            _ => {
                KeyLookup::Unavailable("the issuer's keys were fetched too recently to retry and none are held".into())
            }
        }
    }

    async fn fetch(&self, issuer: &str) -> Result<IssuerKeys, String> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let discovery_url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let (discovery, _) = self.get_json::<Discovery>(&discovery_url).await?;
        if discovery.issuer != issuer {
            return Err(format!("the discovery document names another issuer than `{issuer}`"));
        }
        gatehouse_domain::workload::validate_issuer(&discovery.jwks_uri)
            .map_err(|_| "the discovery document's jwks_uri is not https (or loopback http)".to_owned())?;
        let (set, max_age) = self.get_json::<JwkSet>(&discovery.jwks_uri).await?;
        let keys = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((kid, VerifyingKey { key: Arc::new(key), algorithm: jwk.common.key_algorithm }))
            })
            .collect();
        let fresh_for =
            max_age.map_or(self.settings.default_ttl, |age| age.clamp(self.settings.min_ttl, self.settings.max_ttl));
        Ok(IssuerKeys { keys, fetched_at: Instant::now(), fresh_for })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<(T, Option<Duration>), String> {
        let mut response = self.client.get(url)?.send().await.map_err(|e| format!("GET {url}: {}", describe(&e)))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let max_age = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|value| value.to_str().ok())
            .and_then(max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("GET {url}: {}", describe(&e)))? {
            body.extend_from_slice(&chunk);
            if body.len() > self.settings.max_document_bytes {
                return Err(format!("GET {url}: the document exceeds {} bytes", self.settings.max_document_bytes));
            }
        }
        // Not serde's message: it would quote what the server sent.
        let value = serde_json::from_slice(&body).map_err(|_| format!("GET {url}: not the expected JSON"))?;
        Ok((value, max_age))
    }
}

/// `max-age` of a Cache-Control header, unless `no-store`/`no-cache` forbid
/// keeping it (then the minimum applies through clamping to zero).
pub(crate) fn max_age(header: &str) -> Option<Duration> {
    let mut age = None;
    for directive in header.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = lower.strip_prefix("max-age=") {
            age = seconds.trim_matches('"').parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age_is_read() {
        assert_eq!(max_age("public, max-age=3600"), Some(Duration::from_secs(3600)));
        assert_eq!(max_age("max-age=\"60\", must-revalidate"), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("private"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
