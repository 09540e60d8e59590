//! ID tokens from the identity provider are believed only when signed by
//! its published keys, for this client, unexpired, and for this login's
//! nonce: tampered, foreign and stale ones are refused.

use std::time::Duration;

use gatehouse_server::integrations::Secret;
use gatehouse_server::sso::OidcSettings;
use gatehouse_server::sso::provider::verify_id_token;
use gatehouse_server::workload::{JwksCache, JwksSettings};
use gatehouse_testkit::oidc_issuer::{TestIssuer, TestKey};
use serde_json::json;

#[tokio::test]
async fn id_tokens_are_verified_before_anything_in_them_is_believed() {
    let key = TestKey::rsa("idp", 0);
    let issuer = TestIssuer::start(&[&key]).await;
    let settings = OidcSettings {
        issuer: issuer.url.clone(),
        client_id: "gatehouse".into(),
        client_secret: Secret::new("s"),
        redirect_url: "http://127.0.0.1:1/auth/callback".into(),
        auto_provision: false,
        session_idle: Duration::from_secs(60),
        session_absolute: Duration::from_secs(3600),
    };
    let outbound = gatehouse_domain::outbound::OutboundRules { allow_loopback: true, ..Default::default() };
    let jwks = JwksCache::new(JwksSettings::default(), &outbound);
    let now = 1_800_000_000_i64;
    let claims = json!({"iss": issuer.url, "aud": "gatehouse", "sub": "ana", "email": "ana@example.com",
        "iat": now, "exp": now + 300, "nonce": "n-1"});
    let good = key.sign(&claims);
    let verified = verify_id_token(&settings, &jwks, &good, "n-1", now).await.unwrap();
    assert_eq!(verified["sub"], "ana");

    let with = |field: &str, value: serde_json::Value| {
        let mut changed = claims.clone();
        changed[field] = value;
        key.sign(&changed)
    };
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        json!({"iss": issuer.url, "aud": "gatehouse", "sub": "mallory", "exp": now + 300, "nonce": "n-1"}).to_string(),
    );
    let tampered = parts.join(".");
    for (name, token, nonce, fragment) in [
        ("tampered", tampered, "n-1", "does not verify"),
        ("another login's nonce", good.clone(), "n-2", "nonce"),
        ("another client", with("aud", json!("someone-else")), "n-1", "does not verify"),
        ("another issuer", with("iss", json!("http://127.0.0.1:9")), "n-1", "does not verify"),
        ("expired", with("exp", json!(now - 61)), "n-1", "expired"),
        ("another key", TestKey::rsa("idp", 1).sign(&claims), "n-1", "does not verify"),
        ("garbage", "not.a.token".to_owned(), "n-1", "cannot be read"),
    ] {
        let error = verify_id_token(&settings, &jwks, &token, nonce, now).await.unwrap_err();
        assert!(error.contains(fragment), "{name}: {error}");
    }
}
