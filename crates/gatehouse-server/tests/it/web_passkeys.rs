//! Passkeys in the web console (both engines): the second-factor page
//! lists, renames and removes them (removal after a fresh factor), offers
//! an authenticator app beside a passkey, and the step-up panel of a vote
//! offers the passkey; the browser's side of each ceremony is
//! webauthn-authenticator-rs's software passkey at the console's origin,
//! through the API with the session cookie, as gatehouse.js calls it.
//! Attackers (another person's passkey, no Origin, bad forms, a wrong
//! code) are refused with a page and change nothing.

use axum::body::Body;
use axum::http::{Method, Request};
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_database};
use serde_json::{Value, json};
use url::Url;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, RequestChallengeResponse};

use crate::people::{ci_service, grant};
use crate::web::{
    ORIGIN, assert_html, browse, deployment, encode, location, new_cookie, page, policies, post, request_state,
    settings, start_session,
};

/// gatehouse.js's `post`: JSON to the API with the session cookie and Origin.
async fn api(app: &TestApp, path: &str, cookie: &str, body: Value) -> TestResponse {
    let request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("cookie", format!("gatehouse_session={cookie}"))
        .header("origin", ORIGIN)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    app.send(request).await
}

fn origin() -> Url {
    Url::parse(ORIGIN).unwrap()
}

async fn register(app: &TestApp, cookie: &str, key: &mut SoftPasskey, label: &str) -> String {
    let started = api(app, "/api/v1/mfa/webauthn/register/start", cookie, json!({})).await;
    let started = started.assert_status(200).clone();
    let options: CreationChallengeResponse = serde_json::from_value(json!({"publicKey": started["options"]})).unwrap();
    let credential = serde_json::to_value(key.do_registration(origin(), options).unwrap()).unwrap();
    let body = json!({"ceremony_id": started["ceremony_id"], "label": label, "credential": credential});
    let added = api(app, "/api/v1/mfa/webauthn/register/finish", cookie, body).await;
    added.assert_status(201)["id"].as_str().unwrap().to_owned()
}

/// Verifies with the passkey; the session's new cookie.
async fn verify(app: &TestApp, cookie: &str, key: &mut SoftPasskey) -> String {
    let started = api(app, "/api/v1/mfa/webauthn/verify/start", cookie, json!({})).await;
    let started = started.assert_status(200).clone();
    let options: RequestChallengeResponse = serde_json::from_value(json!({"publicKey": started["options"]})).unwrap();
    let credential = serde_json::to_value(key.do_authentication(origin(), options).unwrap()).unwrap();
    let body = json!({"ceremony_id": started["ceremony_id"], "credential": credential});
    let verified = api(app, "/api/v1/mfa/webauthn/verify/finish", cookie, body).await;
    verified.assert_status(200);
    new_cookie(&verified).expect("the session is rotated")
}

/// A person with no second factor yet, signed in with `secret`.
async fn person(app: &TestApp, name: &str, secret: &str) -> String {
    let body = json!({"kind": "human", "name": name, "email": format!("{}@example.com", name.to_lowercase())});
    let created = app.post("/api/v1/identities", &app.admin_token, body).await;
    let id = created.assert_status(201)["id"].as_str().unwrap().to_owned();
    start_session(app, &id, secret).await;
    id
}

async fn labels(app: &TestApp, id: &str) -> Vec<String> {
    let token = app.create_token(id, 600).await;
    let listed = app.get("/api/v1/mfa/passkeys", &token).await;
    listed.assert_status(200)["items"].as_array().unwrap().iter().map(|p| p["label"].as_str().unwrap().into()).collect()
}

async fn actions(app: &TestApp) -> Vec<(String, Value)> {
    let listed = app.get("/api/v1/audit/entries?limit=500", &app.admin_token).await;
    listed.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["details"].clone()))
        .collect()
}

engine_test!(passkeys_are_named_and_removed_in_the_console_after_a_fresh_factor, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, settings(), policies()).await;
        let ana = person(&app, "Ana", "ana-secret").await;

        let factors = page(&app, "/ui/mfa", "ana-secret").await;
        let html = assert_html(&factors, 200);
        for expected in ["Set up an authenticator app", "You have no passkey", "Add a passkey", "data-passkey-register"]
        {
            assert!(html.contains(expected), "missing {expected}: {html}");
        }

        let mut key = SoftPasskey::new(true);
        let id = register(&app, "ana-secret", &mut key, "laptop").await;
        let factors = page(&app, "/ui/mfa", "ana-secret").await;
        let html = assert_html(&factors, 200);
        // A passkey alone: the app can still be set up, and verifying now
        // offers the passkey, not a code box.
        assert!(html.contains(">laptop</th>"), "{html}");
        assert!(html.contains("Set up an authenticator app"), "a passkey is not an authenticator app: {html}");
        assert!(html.contains("Verify with passkey") && !html.contains(r#"name="code""#), "{html}");

        let renamed = post(&app, &format!("/ui/mfa/passkeys/{id}/rename"), "ana-secret", "label=work+key").await;
        assert_eq!((renamed.status.as_u16(), location(&renamed)), (303, "/ui/mfa?done=passkey-renamed".into()));
        assert_eq!(labels(&app, &ana).await, ["work key"]);
        let shown = page(&app, "/ui/mfa?done=passkey-renamed", "ana-secret").await;
        assert!(assert_html(&shown, 200).contains("Your passkey is renamed."));

        // Removing needs a fresh factor: the page asks for it, nothing goes.
        let remove = format!("/ui/mfa/passkeys/{id}/remove");
        let stale = post(&app, &remove, "ana-secret", "").await;
        let html = assert_html(&stale, 200);
        assert!(html.contains("verify your second factor first"), "{html}");
        assert!(html.contains("Verify it is you"), "{html}");
        assert_eq!(labels(&app, &ana).await, ["work key"]);

        let fresh = verify(&app, "ana-secret", &mut key).await;
        let factors = page(&app, "/ui/mfa", &fresh).await;
        assert!(assert_html(&factors, 200).contains("fresh for 15 more minutes"), "{}", factors.text);
        // The verification form, sent by gatehouse.js after the passkey, says so.
        let verified = post(&app, "/ui/mfa/verify", &fresh, "").await;
        assert_eq!((verified.status.as_u16(), location(&verified)), (303, "/ui/mfa?done=verified".into()));
        let removed = post(&app, &remove, &fresh, "").await;
        assert_eq!((removed.status.as_u16(), location(&removed)), (303, "/ui/mfa?done=passkey-removed".into()));
        assert!(labels(&app, &ana).await.is_empty());
        let audited = actions(&app).await;
        for action in ["mfa.passkey.register", "mfa.passkey.rename", "mfa.passkey.remove"] {
            assert!(audited.iter().any(|(a, _)| a == action), "{action} in {audited:?}");
        }
        assert!(audited.iter().any(|(a, d)| a == "mfa.verify" && d["method"] == "webauthn"), "{audited:?}");
    }
));

engine_test!(a_passkey_steps_up_a_vote_and_attackers_are_refused, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_policies(&db, settings(), policies()).await;
    let ana = person(&app, "Ana", "ana-secret").await;
    let cy = person(&app, "Cy", "cy-secret").await;
    grant(&app, &ana, "release-approver", "environment:acme/web:production").await;
    let mut key = SoftPasskey::new(true);
    let passkey = register(&app, "ana-secret", &mut key, "laptop").await;
    let ci = ci_service(&app).await;
    let asked = app.post("/api/v1/requests", &ci.token, deployment(&["bob@example.com"])).await;
    let request = asked.assert_status(201).clone();
    let id = request["id"].as_str().unwrap().to_owned();
    let vote = format!("/ui/requests/{id}/vote");
    let approve = format!("decision=approve&digest={}", encode(request["digest"].as_str().unwrap()));

    // Stale: the step-up panel offers the passkey (no code box: Ana has no app).
    let panel = post(&app, &vote, "ana-secret", &approve).await;
    let html = assert_html(&panel, 200);
    assert!(html.contains("Confirm it is you to approve") && html.contains("Verify with passkey"), "{html}");
    assert!(!html.contains(r#"name="code""#), "{html}");
    assert_eq!(request_state(&app, &id).await, "pending");

    // The passkey verifies; the form is sent again without a code.
    let fresh = verify(&app, "ana-secret", &mut key).await;
    let approved = post(&app, &vote, &fresh, &approve).await;
    assert_eq!((approved.status.as_u16(), location(&approved)), (303, format!("/ui/requests/{id}?done=approve")));
    assert_eq!(request_state(&app, &id).await, "approved");
    // The vote's entry says it was made with a fresh second factor; the
    // passkey's registration, made without one, says not.
    let entries = app.get("/api/v1/audit/entries?limit=500", &app.admin_token).await.assert_status(200).clone();
    let mfa_of = |action: &str| {
        let items = entries["items"].as_array().unwrap().iter();
        items.filter(|e| e["action"] == action && e["outcome"] == "success").map(|e| e["mfa"].clone()).next()
    };
    assert_eq!(mfa_of("request.vote"), Some(json!(true)), "{entries}");
    assert_eq!(mfa_of("mfa.passkey.register"), Some(json!(false)), "{entries}");

    // Cy cannot rename or remove Ana's passkey, even fresh herself.
    let mut cy_key = SoftPasskey::new(true);
    register(&app, "cy-secret", &mut cy_key, "cy's").await;
    let cy_fresh = verify(&app, "cy-secret", &mut cy_key).await;
    let changes = |audited: Vec<(String, Value)>| {
        audited.into_iter().filter(|(a, _)| a == "mfa.passkey.rename" || a == "mfa.passkey.remove").count()
    };
    let before = changes(actions(&app).await);
    let rename = format!("/ui/mfa/passkeys/{passkey}/rename");
    assert_html(&post(&app, &rename, &cy_fresh, "label=mine").await, 404);
    assert_html(&post(&app, &format!("/ui/mfa/passkeys/{passkey}/remove"), &cy_fresh, "").await, 404);
    assert_eq!(labels(&app, &ana).await, ["laptop"]);
    assert_eq!(labels(&app, &cy).await, ["cy's"]);

    // No Origin (a forged cross-site form), bad forms, unknown ids.
    let forged = browse(&app, Method::POST, &rename, &fresh, None, "label=forged").await;
    assert_eq!(forged.status.as_u16(), 403);
    let long = "x".repeat(65);
    assert_html(&post(&app, &rename, &fresh, &format!("label={long}")).await, 422);
    assert_html(&post(&app, &rename, &fresh, "label=ok&admin=1").await, 400);
    assert_html(&post(&app, "/ui/mfa/passkeys/not-an-id/rename", &fresh, "label=ok").await, 400);
    let unknown = "/ui/mfa/passkeys/0192f5a4-6c1e-7aa0-9a7e-0c5b3f1d2e4f/remove";
    assert_html(&post(&app, unknown, &fresh, "").await, 404);
    assert_eq!(labels(&app, &ana).await, ["laptop"]);
    assert_eq!(changes(actions(&app).await), before, "no refusal renamed or removed anything");

    // A wrong code verifies nothing; without JavaScript a passkey cannot be added.
    app.clock.advance(time::Duration::minutes(16));
    let wrong = post(&app, "/ui/mfa/verify", &fresh, "code=000000").await;
    assert!(wrong.status.is_client_error(), "{}", wrong.text);
    assert!(wrong.text.contains("Verify it is you"), "the panel stays: {}", wrong.text);
    let stale = post(&app, "/ui/mfa/verify", &fresh, "").await;
    let html = assert_html(&stale, 200);
    assert!(html.contains("or use your passkey") && html.contains("Verify it is you"), "{html}");
    let without_script = post(&app, "/ui/mfa/passkeys", &fresh, "label=new").await;
    assert!(assert_html(&without_script, 422).contains("needs JavaScript"));
    assert_eq!(labels(&app, &ana).await, ["laptop"]);
}));
