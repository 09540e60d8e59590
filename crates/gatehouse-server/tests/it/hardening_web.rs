//! Issue 24: each test performs an attack against the HTTP API (both
//! engines) and asserts it is refused and changes nothing. Hole 6: open
//! redirects after SSO login.

use axum::body::Body;
use axum::http::Request;
use axum::http::header::{LOCATION, SET_COOKIE};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_mfa::SealingKey;
use gatehouse_server::integrations::Secret;
use gatehouse_server::sso::OidcSettings;
use gatehouse_server::sso::cookies::LOGIN;
use gatehouse_server::{MfaSettings, Settings};
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_database};
use serde_json::{Value, json};

// ---- hole 6: open redirect after SSO login --------------------------------

const SEALING_KEY: [u8; 32] = [7; 32];

/// Percent-encodes every byte but unreserved ones, as a link would carry
/// the attacker's `return_to`.
fn query_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Where the login in flight will send the browser after the callback: the
/// `return_to` sealed into the login cookie.
fn sealed_return_to(response: &TestResponse) -> String {
    let cookie = response
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{LOGIN}=")))
        .unwrap_or_else(|| panic!("no login cookie: {:?}", response.headers));
    let sealed = URL_SAFE_NO_PAD.decode(cookie.split(';').next().unwrap()).unwrap();
    let pending = SealingKey::from_bytes(SEALING_KEY).open(&sealed, "gatehouse-oidc-login").unwrap();
    serde_json::from_slice::<Value>(&pending).unwrap()["return_to"].as_str().unwrap().to_owned()
}

/// An identity provider that only publishes its discovery document: the
/// login's first leg needs nothing else.
async fn identity_provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let document = json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "jwks_uri": format!("{url}/jwks"),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", axum::routing::get(move || async move { axum::Json(document) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

engine_test!(sso_login_return_to_cannot_send_the_browser_to_another_host, |engine| with_database(
    engine,
    |db| async move {
        let issuer = identity_provider().await;
        let settings = Settings {
            oidc: Some(OidcSettings {
                issuer: issuer.clone(),
                client_id: "gatehouse".into(),
                client_secret: Secret::new("s"),
                redirect_url: "http://127.0.0.1:9/auth/callback".into(),
                auto_provision: false,
                session_idle: std::time::Duration::from_secs(60),
                session_absolute: std::time::Duration::from_secs(3600),
            }),
            mfa: MfaSettings { sealing_key: SealingKey::from_bytes(SEALING_KEY), ..MfaSettings::default() },
            ..Settings::default()
        };
        let app = TestApp::with_settings(&db, settings).await;
        let login = |return_to: &str| {
            let uri = format!("/auth/login?return_to={}", query_encode(return_to));
            app.send(Request::get(uri).body(Body::empty()).unwrap())
        };
        // Each of these is a `Location` a browser resolves to another host
        // (`\` is `/`, tabs and newlines are dropped), or could become one.
        for attack in [
            "/\\evil.example/phish",
            "/\t/evil.example/",
            "//evil.example/",
            "/%2F%2Fevil.example",
            "/%5Cevil.example",
            "https://evil.example/",
            "//gatehouse@evil.example/",
            "/\r\nLocation: https://evil.example/",
        ] {
            let response = login(attack).await;
            assert_eq!(response.status.as_u16(), 303, "{attack:?}: {}", response.text);
            let location = response.headers[LOCATION].to_str().unwrap();
            assert!(location.starts_with(&format!("{issuer}/authorize?")), "{attack:?} went to {location}");
            assert!(!location.contains("evil"), "{attack:?} echoed in {location}");
            assert_eq!(sealed_return_to(&response), "/api/v1/whoami", "{attack:?}");
        }
        // A path on this server is kept.
        let kept = login("/ui/audit?action=deployment.execute").await;
        assert_eq!(sealed_return_to(&kept), "/ui/audit?action=deployment.execute");
    }
));
