//! Identities: create, list, show, suspend, reactivate, deprovision.

use axum::http::Method;
use gatehouse_testkit::{engine_test, with_app};
use serde_json::json;

engine_test!(create_and_show_identities, |engine| with_app(engine, |app| async move {
    let created = app
        .post(
            "/api/v1/identities",
            &app.admin_token,
            json!({"kind": "human", "name": "Ana", "email": "ana@example.com"}),
        )
        .await;
    let body = created.assert_status(201);
    assert_eq!(body["kind"], "human");
    assert_eq!(body["email"], "ana@example.com");
    assert_eq!(body["status"], "active");
    assert_eq!(body["created_at"], "2026-06-01T09:00:00.000Z");
    let id = body["id"].as_str().unwrap().to_owned();

    let shown = app.get(&format!("/api/v1/identities/{id}"), &app.admin_token).await;
    assert_eq!(shown.assert_status(200)["name"], "Ana");

    let service =
        app.post("/api/v1/identities", &app.admin_token, json!({"kind": "service", "name": "deploy-bot"})).await;
    assert_eq!(service.assert_status(201)["email"], serde_json::Value::Null);
}));

engine_test!(every_change_is_audited_with_its_actor, |engine| with_app(engine, |app| async move {
    let before = app.audit_size().await;
    let id = app.create_service("deploy-bot").await;
    let entries = app.store.list_audit(before, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    let entry = &entries[0].record;
    assert_eq!(entry.action, "identity.create");
    assert_eq!(entry.actor.id(), app.admin_id.to_string());
    assert_eq!(entry.actor.kind(), "human");
    assert_eq!(entry.resource, format!("identity:{id}"));
    assert_eq!(entry.details["name"], "deploy-bot");
    assert!(entry.origin.request_id.is_some());
}));

engine_test!(lists_page_through_every_identity, |engine| with_app(engine, |app| async move {
    for i in 0..5 {
        app.create_service(&format!("bot-{i}")).await;
    }
    let mut names = Vec::new();
    let mut path = "/api/v1/identities?limit=2".to_owned();
    loop {
        let page = app.get(&path, &app.admin_token).await;
        let body = page.assert_status(200).clone();
        assert!(body["items"].as_array().unwrap().len() <= 2);
        names.extend(body["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()));
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/identities?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(names, ["Admin", "bot-0", "bot-1", "bot-2", "bot-3", "bot-4"]);
}));

engine_test!(duplicates_are_refused_and_change_nothing, |engine| with_app(engine, |app| async move {
    app.create_human("Ana", "ana@example.com").await;
    app.create_service("deploy-bot").await;
    let before = app.audit_size().await;
    let again = app
        .post(
            "/api/v1/identities",
            &app.admin_token,
            json!({"kind": "human", "name": "Ana B", "email": "ANA@example.com"}),
        )
        .await;
    assert!(again.assert_problem(409).contains("ANA@example.com"));
    let again =
        app.post("/api/v1/identities", &app.admin_token, json!({"kind": "service", "name": "deploy-bot"})).await;
    assert!(again.assert_problem(409).contains("deploy-bot"));
    assert_eq!(app.audit_size().await, before);
}));

engine_test!(suspension_stops_tokens_until_reactivated, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let token = app.create_token(&bot, 3600).await;
    app.get("/api/v1/whoami", &token).await.assert_status(200);

    let suspended =
        app.call(Method::POST, &format!("/api/v1/identities/{bot}/suspend"), Some(&app.admin_token), None).await;
    assert_eq!(suspended.assert_status(200)["status"], "suspended");
    let refused = app.get("/api/v1/whoami", &token).await;
    assert!(refused.assert_problem(401).contains("suspended"));

    let again =
        app.call(Method::POST, &format!("/api/v1/identities/{bot}/suspend"), Some(&app.admin_token), None).await;
    again.assert_problem(409);

    let reactivated =
        app.call(Method::POST, &format!("/api/v1/identities/{bot}/reactivate"), Some(&app.admin_token), None).await;
    assert_eq!(reactivated.assert_status(200)["status"], "active");
    app.get("/api/v1/whoami", &token).await.assert_status(200);
}));

engine_test!(deprovisioning_kills_every_credential_and_keeps_the_record, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let first = app.create_token(&bot, 3600).await;
    let second = app.create_token(&bot, 7200).await;

    let gone = app.delete(&format!("/api/v1/identities/{bot}"), &app.admin_token).await;
    assert_eq!(gone.assert_status(200)["status"], "deprovisioned");
    for token in [&first, &second] {
        app.get("/api/v1/whoami", token).await.assert_problem(401);
    }
    let tokens = app.get(&format!("/api/v1/tokens?identity_id={bot}"), &app.admin_token).await;
    let items = tokens.assert_status(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|t| t["status"] == "revoked" && t["revoked_at"].is_string()));

    let shown = app.get(&format!("/api/v1/identities/{bot}"), &app.admin_token).await;
    assert_eq!(shown.assert_status(200)["status"], "deprovisioned");
    // Neither revived nor given new credentials.
    let revive =
        app.call(Method::POST, &format!("/api/v1/identities/{bot}/reactivate"), Some(&app.admin_token), None).await;
    revive.assert_problem(409);
    let token = app.post("/api/v1/tokens", &app.admin_token, json!({"identity_id": bot, "ttl_seconds": 600})).await;
    token.assert_problem(409);
}));

engine_test!(nobody_locks_themselves_out, |engine| with_app(engine, |app| async move {
    let admin = app.admin_id.to_string();
    let before = app.audit_size().await;
    app.delete(&format!("/api/v1/identities/{admin}"), &app.admin_token).await.assert_problem(409);
    app.call(Method::POST, &format!("/api/v1/identities/{admin}/suspend"), Some(&app.admin_token), None)
        .await
        .assert_problem(409);
    assert_eq!(app.audit_size().await, before);
}));

engine_test!(without_a_grant_nothing_is_allowed, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let token = app.create_token(&bot, 3600).await;
    let before = app.audit_size().await;

    let refused = app.post("/api/v1/identities", &token, json!({"kind": "service", "name": "sneaky"})).await;
    assert!(refused.assert_problem(403).contains("identity.manage"));
    app.get("/api/v1/identities", &token).await.assert_problem(403);
    app.get(&format!("/api/v1/identities/{}", app.admin_id), &token).await.assert_problem(403);
    // One's own record is always visible.
    app.get(&format!("/api/v1/identities/{bot}"), &token).await.assert_status(200);

    let entries = app.store.list_audit(before, 10).await.unwrap();
    assert_eq!(entries.len(), 3, "each refusal is audited");
    assert!(entries.iter().all(|e| e.record.outcome.as_str() == "denied" && e.record.actor.id() == bot));
}));

// The status machine and its neighbours (`domain::identity`,
// `domain::grant::check_grant_holder`), with the sentences people see.
engine_test!(status_changes_are_refused_with_where_the_identity_stands, |engine| with_app(engine, |app| async move {
    let admin = app.admin_id.to_string();
    let ownself = app.post(&format!("/api/v1/identities/{admin}/suspend"), &app.admin_token, json!({})).await;
    assert!(ownself.assert_problem(409).contains("you cannot suspend or deprovision yourself"));
    let active = app.post(&format!("/api/v1/identities/{admin}/reactivate"), &app.admin_token, json!({})).await;
    assert!(active.assert_problem(409).contains(&format!("identity `{admin}` is active; it cannot become active")));

    // A suspended identity may still receive a grant (it counts once it is
    // reactivated); a deprovisioned one receives nothing and stays gone.
    let bot = app.create_service("deploy-bot").await;
    app.post(&format!("/api/v1/identities/{bot}/suspend"), &app.admin_token, json!({})).await.assert_status(200);
    let viewer = json!({"identity_id": bot, "role": "viewer", "scope": "*"});
    app.post("/api/v1/grants", &app.admin_token, viewer.clone()).await.assert_status(201);
    app.delete(&format!("/api/v1/identities/{bot}"), &app.admin_token).await.assert_status(200);
    let granted = app.post("/api/v1/grants", &app.admin_token, viewer).await;
    assert!(granted.assert_problem(409).contains(&format!("identity `{bot}` is deprovisioned")), "{}", granted.text);
    let revived = app.post(&format!("/api/v1/identities/{bot}/suspend"), &app.admin_token, json!({})).await;
    let expected = format!("identity `{bot}` is deprovisioned; it cannot become suspended");
    assert!(revived.assert_problem(409).contains(&expected), "{}", revived.text);
}));
