//! The web console over HTTP (both engines): sign-in redirects, security
//! headers, the embedded files, the inbox, a request's whole page, the
//! approval with its step-up in place, enrolment through the pages, and
//! what an attacker tries (no Origin, another's request, one's own
//! request, a stale digest, a wrong code, malformed and oversized forms),
//! each refused with a page and nothing changed.

use std::time::Duration as StdDuration;

use axum::body::Body;
use axum::http::{Method, Request};
use base64::Engine as _;
use gatehouse_domain::audit::{Actor, AuditRecord};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::SessionId;
use gatehouse_domain::session::NewSession;
use gatehouse_domain::token::TokenHash;
use gatehouse_mfa::TotpSecret;
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_server::Settings;
use gatehouse_server::integrations::Secret;
use gatehouse_server::sso::OidcSettings;
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_database};
use serde_json::{Value, json};
use sha2::Digest;
use time::Duration;

use crate::people::{Directory, ci_service, grant};

pub(crate) const ORIGIN: &str = "http://localhost:9";

const RULES: &str = r#"
[[rule]]
id = "production-deploys"
action = "deployment.execute"
resources = ["environment:acme/*:production"]
require = { quorum = 1, of = "role:release-approver" }
request_ttl = "4h"

[[rule]]
id = "maintainer-access"
action = "access"
resources = ["project:acme/*"]
require = { quorum = 1, of = "role:release-approver" }
max_duration = "8h"
"#;

pub(crate) fn settings() -> Settings {
    Settings {
        oidc: Some(OidcSettings {
            issuer: "http://127.0.0.1:8".into(),
            client_id: "gatehouse".into(),
            client_secret: Secret::new("s"),
            redirect_url: format!("{ORIGIN}/auth/callback"),
            auto_provision: false,
            session_idle: StdDuration::from_secs(30 * 60),
            session_absolute: StdDuration::from_secs(8 * 3600),
        }),
        ..gatehouse_testkit::test_settings()
    }
}

pub(crate) fn policies() -> Policies {
    let mut source = PolicySetSource::defaults();
    source.files.insert("approvals.toml".into(), RULES.into());
    Policies::from_source(&source).expect("valid policies")
}

pub(crate) async fn start_session(app: &TestApp, identity: &str, secret: &str) {
    let now = app.clock.now();
    let session = NewSession {
        id: SessionId::new(),
        hash: TokenHash::of(secret),
        identity_id: identity.parse().unwrap(),
        created_at: now,
        expires_at: now + Duration::hours(8),
        source_ip: None,
    };
    app.store.create_session(session, None, AuditRecord::new(now, Actor::System, "auth.login", "test")).await.unwrap();
}

/// A browser's request: the session cookie, the Origin it sends, a form.
pub(crate) async fn browse(
    app: &TestApp,
    method: Method,
    path: &str,
    cookie: &str,
    origin: Option<&str>,
    form: &str,
) -> TestResponse {
    let mut request = Request::builder().method(method.clone()).uri(path);
    if !cookie.is_empty() {
        request = request.header("cookie", format!("gatehouse_session={cookie}"));
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let request = if method == Method::POST {
        request.header("content-type", "application/x-www-form-urlencoded").body(Body::from(form.to_owned()))
    } else {
        request.body(Body::empty())
    };
    app.send(request.unwrap()).await
}

pub(crate) async fn page(app: &TestApp, path: &str, cookie: &str) -> TestResponse {
    browse(app, Method::GET, path, cookie, None, "").await
}

pub(crate) async fn post(app: &TestApp, path: &str, cookie: &str, form: &str) -> TestResponse {
    browse(app, Method::POST, path, cookie, Some(ORIGIN), form).await
}

pub(crate) fn location(response: &TestResponse) -> String {
    response.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

pub(crate) fn new_cookie(response: &TestResponse) -> Option<String> {
    let value = response.headers.get("set-cookie")?.to_str().ok()?;
    value.strip_prefix("gatehouse_session=")?.split(';').next().map(str::to_owned)
}

pub(crate) fn assert_html(response: &TestResponse, status: u16) -> &str {
    assert_eq!(response.status.as_u16(), status, "{}", response.text);
    let kind = response.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(kind.starts_with("text/html"), "{kind}: {}", response.text);
    &response.text
}

/// Percent-encodes all but unreserved characters, as a browser's form does.
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub(crate) async fn request_state(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/requests/{id}"), &app.admin_token).await.assert_status(200)["state"].clone()
}

pub(crate) fn deployment(authors: &[&str]) -> Value {
    json!({
        "kind": "action", "action": "deployment.execute",
        "resource": {"type": "Environment", "id": "acme/web:production"},
        "reason": "release 1.4", "ticket": "CHG-7",
        "binding": {"forge": "github", "repository": "acme/web", "run_id": "9001", "run_attempt": 1,
                    "environment": "production", "sha": "0123456789abcdef0123456789abcdef01234567",
                    "authors": authors},
    })
}

engine_test!(pages_need_a_session_and_carry_the_security_headers, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_policies(&db, settings(), policies()).await;

    // Nobody signed in: to the identity provider, and back here after.
    let anonymous = page(&app, "/ui/requests/0192f5a4-6c1e-7aa0-9a7e-0c5b3f1d2e4f?done=approve", "").await;
    assert_eq!(anonymous.status.as_u16(), 303);
    assert_eq!(
        location(&anonymous),
        "/auth/login?return_to=%2Fui%2Frequests%2F0192f5a4-6c1e-7aa0-9a7e-0c5b3f1d2e4f%3Fdone%3Dapprove"
    );
    // An unknown session is the same, and a bearer token is not a console credential.
    assert_eq!(page(&app, "/ui", "forged-secret").await.status.as_u16(), 303);
    let bearer = Request::builder()
        .uri("/ui")
        .header("authorization", format!("Bearer {}", app.admin_token))
        .body(Body::empty())
        .unwrap();
    assert!(assert_html(&app.send(bearer).await, 400).contains("session"));

    let directory = Directory::new(&app).await;
    let ana = directory.person(&app, "ana").await;
    start_session(&app, &ana.id, "ana-secret").await;
    let inbox = page(&app, "/ui", "ana-secret").await;
    let html = assert_html(&inbox, 200);
    assert!(html.contains("Nothing waits for you."), "{html}");
    assert!(html.contains("ana@example.com"));
    let header = |name: &str| inbox.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(header("content-security-policy").contains("script-src 'self'"));
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "same-origin");
    assert_eq!(header("cache-control"), "no-store");
    assert!(html.contains(r##"<a class="skip" href="#main">"##));

    // The embedded files: htmx is the vendored one its integrity hash names.
    let htmx = page(&app, "/ui/assets/htmx.min.js", "").await;
    assert_eq!(htmx.status.as_u16(), 200);
    let digest = sha2::Sha384::digest(htmx.text.as_bytes());
    let integrity = format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(digest));
    assert!(html.contains(&integrity), "the page names {integrity}");
    assert!(
        page(&app, "/ui/assets/gatehouse.css", "").await.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert_html(&page(&app, "/ui/assets/..%2Fsecrets", "").await, 404);
    assert_html(&page(&app, "/ui/requests/not-an-id", "ana-secret").await, 400);
    assert_html(&page(&app, "/ui?unknown=1", "ana-secret").await, 400);
    assert_html(&page(&app, "/ui?after=not-a-cursor", "ana-secret").await, 400);
}));

engine_test!(without_single_sign_on_the_console_says_what_to_configure, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::new(&db).await;
        let response = page(&app, "/ui", "").await;
        assert!(assert_html(&response, 401).contains("[oidc]"));
    }
));

engine_test!(an_approver_reads_the_whole_request_and_approves_after_stepping_up, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, settings(), policies()).await;
        let directory = Directory::new(&app).await;
        let ana = directory.person(&app, "ana").await;
        let cy = directory.person(&app, "cy").await;
        grant(&app, &ana.id, "release-approver", "environment:acme/web:production").await;
        let ci = ci_service(&app).await;
        let asked = app.post("/api/v1/requests", &ci.token, deployment(&["bob@example.com"])).await;
        let request = asked.assert_status(201).clone();
        let id = request["id"].as_str().unwrap().to_owned();
        start_session(&app, &ana.id, "ana-secret").await;
        start_session(&app, &cy.id, "cy-secret").await;

        // The inbox lists it, as a link to read, with no button on the list.
        let inbox = page(&app, "/ui", "ana-secret").await;
        let html = assert_html(&inbox, 200);
        assert!(html.contains(&format!("/ui/requests/{id}")), "{html}");
        assert!(html.contains("deployment.execute on environment:acme/web:production"));
        assert!(!html.contains(">Approve</button>"), "no approval from the list");

        // The page shows the whole decision before the buttons.
        let shown = page(&app, &format!("/ui/requests/{id}"), "ana-secret").await;
        let html = assert_html(&shown, 200).to_owned();
        for expected in [
            "ci-web",
            "release 1.4",
            "CHG-7",
            "bob@example.com",
            "No verified signature on record",
            "https://github.com/acme/web/commit/0123456789abcdef0123456789abcdef01234567",
            "production-deploys",
            "role:release-approver",
            "the rule gates <code>deployment.execute</code> on <code>environment:acme/*:production</code>",
            "Never counted, whatever their role: the requester, whoever triggered the CI run, the authors of the \
             commits deployed.",
            "at most 5 minutes old",
            "Approve",
            "Deny",
        ] {
            assert!(html.contains(expected), "missing {expected}: {html}");
        }
        assert!(html.find("release 1.4").unwrap() < html.find(">Approve</button>").unwrap());
        let digest = request["digest"].as_str().unwrap();
        assert!(html.contains(digest));
        let vote_path = format!("/ui/requests/{id}/vote");
        let approve = format!("decision=approve&digest={}", encode(digest));

        // Forged from another site: no Origin, or another one.
        for origin in [None, Some("https://evil.example")] {
            let forged = browse(&app, Method::POST, &vote_path, "ana-secret", origin, &approve).await;
            assert!(assert_html(&forged, 403).contains("Origin"));
        }
        // Someone the rule does not count: the request does not exist for them.
        assert_html(&page(&app, &format!("/ui/requests/{id}"), "cy-secret").await, 404);
        assert_html(&post(&app, &vote_path, "cy-secret", &approve).await, 404);
        // Malformed and oversized forms.
        assert_html(&post(&app, &vote_path, "ana-secret", "decision=approve").await, 400);
        assert_html(&post(&app, &vote_path, "ana-secret", &format!("{approve}&extra=1")).await, 400);
        assert_html(&post(&app, &vote_path, "ana-secret", "decision=maybe&digest=x").await, 400);
        let huge = format!("{approve}&reason={}", "a".repeat(3 * 1024 * 1024));
        assert_html(&post(&app, &vote_path, "ana-secret", &huge).await, 413);
        let json = Request::builder()
            .method(Method::POST)
            .uri(&vote_path)
            .header("cookie", "gatehouse_session=ana-secret")
            .header("origin", ORIGIN)
            .header("content-type", "application/json")
            .body(Body::from(json!({"decision": "approve", "digest": digest}).to_string()))
            .unwrap();
        assert_html(&app.send(json).await, 415);
        // A stale digest is refused on the page, not approved.
        let stale = post(&app, &vote_path, "ana-secret", "decision=approve&digest=stale").await;
        assert!(assert_html(&stale, 409).contains("digest"), "{}", stale.text);
        // A deny needs its reason.
        let bare_deny = post(&app, &vote_path, "ana-secret", &format!("decision=deny&digest={}", encode(digest))).await;
        assert!(assert_html(&bare_deny, 422).contains("reason"));
        assert_eq!(request_state(&app, &id).await, "pending");

        // The session has no fresh second factor: the step-up panel, in place.
        let asked = post(&app, &vote_path, "ana-secret", &approve).await;
        let html = assert_html(&asked, 200);
        assert!(html.contains("Verify and approve"), "{html}");
        assert!(html.contains(r#"autocomplete="one-time-code""#));
        assert!(html.contains("needs your second factor"));
        assert_eq!(request_state(&app, &id).await, "pending");

        // A wrong code: refused, still pending, the panel again.
        app.clock.advance(Duration::seconds(30));
        let wrong = post(&app, &vote_path, "ana-secret", &format!("{approve}&code=000000")).await;
        assert!(assert_html(&wrong, 403).contains("Verify and approve"), "{}", wrong.text);
        assert_eq!(request_state(&app, &id).await, "pending");

        // The right code: verified, voted, and the result announced.
        let code = ana.code_now(&app);
        let approved = post(&app, &vote_path, "ana-secret", &format!("{approve}&code={code}")).await;
        assert_eq!(approved.status.as_u16(), 303, "{}", approved.text);
        assert_eq!(location(&approved), format!("/ui/requests/{id}?done=approve"));
        let rotated = new_cookie(&approved).expect("the session is rotated at step-up");
        assert_eq!(request_state(&app, &id).await, "approved");
        let result = page(&app, &location(&approved), &rotated).await;
        let html = assert_html(&result, 200);
        assert!(html.contains(r#"role="status""#) && html.contains("You approved this request. It is approved."));
        assert!(!html.contains("Verify and approve"));
        // The old cookie ended with the rotation.
        assert_eq!(page(&app, "/ui", "ana-secret").await.status.as_u16(), 303);

        // The vote is the API's: with the MFA age and the digest shown.
        let votes =
            app.get(&format!("/api/v1/requests/{id}"), &app.admin_token).await.assert_status(200)["votes"].clone();
        assert_eq!(votes.as_array().unwrap().len(), 1);
        assert_eq!(votes[0]["voter"], ana.id);
        assert_eq!(votes[0]["mfa_age_seconds"], 0);
        // Voting twice: refused on the page.
        let again = post(&app, &vote_path, &rotated, &approve).await;
        assert!(again.status.is_client_error(), "{}", again.text);
    }
));

engine_test!(a_requester_cannot_approve_their_own_request_but_may_cancel_it, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, settings(), policies()).await;
        let directory = Directory::new(&app).await;
        let bob = directory.person(&app, "bob").await;
        grant(&app, &bob.id, "release-approver", "environment:acme/web:production").await;
        let body = json!({"kind": "access", "role": "maintainer", "scope": "project:acme/web", "duration": "2h",
                          "reason": "hotfix"});
        let request = app.post("/api/v1/requests", &bob.token, body).await.assert_status(201).clone();
        let id = request["id"].as_str().unwrap().to_owned();
        start_session(&app, &bob.id, "bob-secret").await;

        let shown = page(&app, &format!("/ui/requests/{id}"), "bob-secret").await;
        let html = assert_html(&shown, 200);
        assert!(!html.contains(">Approve</button>"), "no approval of one's own request: {html}");
        assert!(html.contains("Cancel this request"));
        assert!(!page(&app, "/ui", "bob-secret").await.text.contains("Waiting for your decision</h2>\n  <table>"));

        // Posting the vote anyway, with a fresh factor: refused.
        app.clock.advance(Duration::seconds(30));
        let form = format!(
            "decision=approve&digest={}&code={}",
            encode(request["digest"].as_str().unwrap()),
            bob.code_now(&app)
        );
        let own = post(&app, &format!("/ui/requests/{id}/vote"), "bob-secret", &form).await;
        assert!(own.status.is_client_error(), "{}", own.text);
        assert_eq!(request_state(&app, &id).await, "pending");
        let cookie = new_cookie(&own).unwrap_or_else(|| "bob-secret".into());

        let cancelled = post(&app, &format!("/ui/requests/{id}/cancel"), &cookie, "").await;
        assert_eq!(cancelled.status.as_u16(), 303, "{}", cancelled.text);
        assert_eq!(request_state(&app, &id).await, "cancelled");
        let html = page(&app, &location(&cancelled), &cookie).await.text;
        assert!(html.contains("You cancelled this request."));
    }
));

engine_test!(the_first_admin_enrols_an_authenticator_app_through_the_pages, |engine| with_database(
    engine,
    |db| async move {
        let mut settings = settings();
        settings.mfa.required = true;
        let app = TestApp::with_policies(&db, settings, policies()).await;
        // The first admin, before any second factor.
        start_session(&app, &app.admin_id.to_string(), "admin-secret").await;

        // A second factor first: everything else waits.
        let inbox = page(&app, "/ui", "admin-secret").await;
        assert_eq!((inbox.status.as_u16(), location(&inbox).as_str()), (303, "/ui/mfa"));
        let factors = page(&app, "/ui/mfa", "admin-secret").await;
        assert!(assert_html(&factors, 200).contains("Set up an authenticator app"));

        let started = post(&app, "/ui/mfa/totp", "admin-secret", "").await;
        let html = assert_html(&started, 200).to_owned();
        assert!(html.contains("<svg"));
        let secret = html.split("Secret: <code>").nth(1).and_then(|rest| rest.split("</code>").next()).unwrap();
        let secret = TotpSecret::from_base32(secret).expect("the secret is shown");

        let wrong = post(&app, "/ui/mfa/totp/confirm", "admin-secret", "code=000000").await;
        assert!(assert_html(&wrong, 403).contains("Start again"));
        app.clock.advance(Duration::seconds(30));
        let code = secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
        let confirmed = post(&app, "/ui/mfa/totp/confirm", "admin-secret", &format!("code={code}")).await;
        let html = assert_html(&confirmed, 200);
        assert_eq!(html.matches("<li><code>").count(), 10, "{html}");
        let cookie = new_cookie(&confirmed).expect("rotated");
        assert_html(&page(&app, "/ui", &cookie).await, 200);

        // Signing out ends the session.
        let out = post(&app, "/ui/sign-out", &cookie, "").await;
        assert!(assert_html(&out, 200).contains("You are signed out."));
        assert_eq!(page(&app, "/ui", &cookie).await.status.as_u16(), 303);
    }
));
