//! API tokens: issued once, stored hashed, expiring, listed, revocable.

use gatehouse_testkit::{engine_test, with_app};
use serde_json::json;
use time::Duration;

engine_test!(a_token_is_shown_once_and_listed_without_its_secret, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let created = app
        .post(
            "/api/v1/tokens",
            &app.admin_token,
            json!({"identity_id": bot, "ttl_seconds": 900, "description": "deploy job"}),
        )
        .await;
    let body = created.assert_status(201).clone();
    let secret = body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("gth_") && secret.len() == 47, "{secret}");
    assert_eq!(body["expires_at"], "2026-06-01T09:15:00.000Z");

    let listed = app.get("/api/v1/tokens", &app.admin_token).await;
    assert!(!listed.text.contains(&secret[4..]), "the secret never appears in a listing");
    let items = listed.assert_status(200)["items"].as_array().unwrap().clone();
    let token = items.iter().find(|t| t["id"] == body["id"]).unwrap();
    assert_eq!(token["identity_id"], bot.as_str());
    assert_eq!(token["created_by"], app.admin_id.to_string());
    assert_eq!(token["description"], "deploy job");
    assert_eq!(token["status"], "active");
    assert_eq!(token["last_used_at"], serde_json::Value::Null);
    assert!(token.get("token").is_none());

    // The secret is not in the audit log either.
    let entries = app.store.list_audit(0, 100).await.unwrap();
    assert!(entries.iter().all(|e| { !e.leaf_bytes().windows(20).any(|w| w == &secret.as_bytes()[4..24]) }));
}));

engine_test!(a_token_works_until_it_expires, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let token = app.create_token(&bot, 600).await;
    let me = app.get("/api/v1/whoami", &token).await;
    assert_eq!(me.assert_status(200)["identity"]["id"], bot.as_str());
    assert_eq!(me.body["authentication"]["method"], "token");

    app.clock.advance(Duration::seconds(599));
    app.get("/api/v1/whoami", &token).await.assert_status(200);
    app.clock.advance(Duration::seconds(1));
    let expired = app.get("/api/v1/whoami", &token).await;
    assert!(expired.assert_problem(401).contains("expired"));
}));

engine_test!(last_use_is_recorded, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let token = app.create_token(&bot, 3600).await;
    app.clock.advance(Duration::minutes(2));
    app.get("/api/v1/whoami", &token).await.assert_status(200);
    // The write happens beside the request; wait for it.
    app.state.background.idle().await;
    let listed = app.get(&format!("/api/v1/tokens?identity_id={bot}"), &app.admin_token).await;
    assert_eq!(listed.body["items"][0]["last_used_at"], "2026-06-01T09:02:00.000Z");
}));

engine_test!(revocation_is_immediate_and_audited, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let created = app.post("/api/v1/tokens", &app.admin_token, json!({"identity_id": bot, "ttl_seconds": 900})).await;
    let (id, secret) =
        (created.body["id"].as_str().unwrap().to_owned(), created.body["token"].as_str().unwrap().to_owned());
    // Used once first, so a credential cache (SQLite) holds it when it is revoked.
    app.get("/api/v1/whoami", &secret).await.assert_status(200);
    let before = app.audit_size().await;

    let revoked = app.delete(&format!("/api/v1/tokens/{id}"), &app.admin_token).await;
    assert_eq!(revoked.assert_status(200)["status"], "revoked");
    let refused = app.get("/api/v1/whoami", &secret).await;
    assert!(refused.assert_problem(401).contains("revoked"));

    let entries = app.store.list_audit(before, 10).await.unwrap();
    assert_eq!(entries[0].record.action, "token.revoke");
    assert_eq!(entries[1].record.action, "auth.token");
    assert_eq!(entries[1].record.actor.id(), "anonymous");
    assert_eq!(entries[1].record.reason, "the token has been revoked");

    app.delete(&format!("/api/v1/tokens/{id}"), &app.admin_token).await.assert_problem(409);
}));

engine_test!(an_owner_sees_and_revokes_only_their_own, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let token = app.create_token(&bot, 900).await;
    let own = app.get(&format!("/api/v1/tokens?identity_id={bot}"), &token).await;
    assert_eq!(own.assert_status(200)["items"].as_array().unwrap().len(), 1);
    app.get("/api/v1/tokens", &token).await.assert_problem(403);

    let admin_tokens = app.get(&format!("/api/v1/tokens?identity_id={}", app.admin_id), &app.admin_token).await;
    let admin_token_id = admin_tokens.body["items"][0]["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/api/v1/tokens/{admin_token_id}"), &token).await.assert_problem(403);

    let own_id = own.body["items"][0]["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/api/v1/tokens/{own_id}"), &token).await.assert_status(200);
}));

engine_test!(lifetimes_are_required_and_capped, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let before = app.audit_size().await;
    for (ttl, needle) in
        [(json!(10), "at least 60"), (json!(-1), "at least 60"), (json!(100_000_000), "at most 7776000")]
    {
        let refused =
            app.post("/api/v1/tokens", &app.admin_token, json!({"identity_id": bot, "ttl_seconds": ttl})).await;
        assert!(refused.assert_problem(422).contains(needle), "{}", refused.text);
    }
    let missing = app.post("/api/v1/tokens", &app.admin_token, json!({"identity_id": bot})).await;
    assert!(missing.assert_problem(422).contains("ttl_seconds"));
    let unknown =
        app.post("/api/v1/tokens", &app.admin_token, json!({"identity_id": uuid_nobody(), "ttl_seconds": 600})).await;
    unknown.assert_problem(404);
    let malformed =
        app.post("/api/v1/tokens", &app.admin_token, json!({"identity_id": "bob", "ttl_seconds": 600})).await;
    malformed.assert_problem(422);
    assert_eq!(app.audit_size().await, before);
}));

engine_test!(forged_and_malformed_credentials_are_refused_and_audited, |engine| with_app(engine, |app| async move {
    let before = app.audit_size().await;
    let forged = format!("gth_{}", "A".repeat(43));
    let response = app.get("/api/v1/whoami", &forged).await;
    assert!(response.assert_problem(401).contains("unknown token"));
    assert!(response.headers.get("www-authenticate").is_some());

    let response = app.get("/api/v1/whoami", "not-a-token").await;
    response.assert_problem(401);
    let basic = app
        .send(
            axum::http::Request::get("/api/v1/whoami")
                .header("authorization", "Basic YWRtaW46YWRtaW4=")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    basic.assert_problem(401);

    // The first failure of the source's window is an entry; the other two
    // are counted into one summary, written when the window closes (or at
    // shutdown).
    assert_eq!(app.audit_size().await, before + 1);
    app.state.auth_failures.flush_all(&app.state).await.unwrap();
    let entries = app.store.list_audit(before, 10).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.record.actor.id() == "anonymous" && e.record.outcome.as_str() == "failure"));
    assert_eq!(
        (entries[1].record.action.as_str(), &entries[1].record.details["failures"]),
        ("auth.failures", &2.into())
    );

    // No credential at all is not an attempt: 401, nothing written.
    let before = app.audit_size().await;
    app.call(axum::http::Method::GET, "/api/v1/whoami", None, None).await.assert_problem(401);
    assert_eq!(app.audit_size().await, before);
}));

fn uuid_nobody() -> String {
    gatehouse_domain::ids::IdentityId::new().to_string()
}
