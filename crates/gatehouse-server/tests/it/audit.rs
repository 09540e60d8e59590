//! The audit log over HTTP: entries with filters, the signed checkpoint,
//! and proofs that verify against it.

use axum::http::Method;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_audit::checkpoint::Checkpoint;
use gatehouse_audit::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use gatehouse_audit::note_key::NoteVerifier;
use gatehouse_domain::audit::canonical_json;
use gatehouse_testkit::{TestApp, engine_test, with_app};
use serde_json::Value;

fn hashes(body: &Value) -> Vec<Hash> {
    body["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| STANDARD.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect()
}

async fn signed_checkpoint(app: &TestApp) -> Checkpoint {
    let key = app.get("/api/v1/audit/public-key", &app.admin_token).await;
    assert_eq!(key.status, 200);
    let verifier = NoteVerifier::parse(key.text.trim()).unwrap();
    let note = app.get("/api/v1/audit/checkpoint", &app.admin_token).await;
    assert_eq!(note.status, 200, "{}", note.text);
    assert!(note.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    Checkpoint::open(&note.text, &verifier).unwrap()
}

engine_test!(every_entry_is_provably_in_the_signed_log, |engine| with_app(engine, |app| async move {
    for i in 0..6 {
        app.create_service(&format!("bot-{i}")).await;
    }
    let checkpoint = signed_checkpoint(&app).await;
    assert_eq!(checkpoint.origin, "gatehouse.test/audit");
    assert_eq!(checkpoint.size, app.audit_size().await);

    let page = app.get(&format!("/api/v1/audit/entries?limit={}", checkpoint.size), &app.admin_token).await;
    let items = page.assert_status(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len() as u64, checkpoint.size);
    for (index, entry) in items.iter().enumerate() {
        // An entry as served is its leaf: its canonical JSON hashes into the tree.
        let leaf = leaf_hash(canonical_json(entry).as_bytes());
        let proof = app
            .get(
                &format!("/api/v1/audit/proof/inclusion?index={index}&tree_size={}", checkpoint.size),
                &app.admin_token,
            )
            .await;
        let body = proof.assert_status(200);
        assert_eq!(body["leaf_index"], index);
        assert!(
            verify_inclusion(&leaf, index as u64, checkpoint.size, &hashes(body), &checkpoint.root),
            "entry {index}"
        );
    }
}));

engine_test!(checkpoints_are_consistent_with_each_other, |engine| with_app(engine, |app| async move {
    let before = signed_checkpoint(&app).await;
    app.create_service("deploy-bot").await;
    app.create_service("build-bot").await;
    let after = signed_checkpoint(&app).await;
    assert!(after.size > before.size);
    let proof = app
        .get(&format!("/api/v1/audit/proof/consistency?first={}&second={}", before.size, after.size), &app.admin_token)
        .await;
    assert!(verify_consistency(before.size, after.size, &before.root, &after.root, &hashes(proof.assert_status(200))));
    // The default second size is the latest.
    let proof = app.get(&format!("/api/v1/audit/proof/consistency?first={}", before.size), &app.admin_token).await;
    assert_eq!(proof.assert_status(200)["second"], after.size);
}));

engine_test!(entries_filter_and_page, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let token = app.create_token(&bot, 600).await;
    app.get("/api/v1/identities", &token).await.assert_problem(403);
    app.get("/api/v1/whoami", "gth_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await.assert_problem(401);

    let by_action = app.get("/api/v1/audit/entries?action=identity.create", &app.admin_token).await;
    let items = by_action.assert_status(200)["items"].as_array().unwrap().clone();
    assert!(items.iter().all(|e| e["action"] == "identity.create") && items.len() == 2);
    let denied = app.get("/api/v1/audit/entries?outcome=denied", &app.admin_token).await;
    let items = denied.assert_status(200)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["actor"], bot.as_str());
    let by_actor = app.get("/api/v1/audit/entries?actor=anonymous", &app.admin_token).await;
    assert_eq!(by_actor.assert_status(200)["items"][0]["reason"], "unknown token");
    let by_resource = app.get(&format!("/api/v1/audit/entries?resource=identity:{bot}"), &app.admin_token).await;
    assert_eq!(by_resource.assert_status(200)["items"].as_array().unwrap().len(), 1);
    let window =
        app.get("/api/v1/audit/entries?since=2026-06-01T09:00:00Z&until=2026-06-01T09:00:01Z", &app.admin_token).await;
    assert_eq!(window.assert_status(200)["items"].as_array().unwrap().len() as u64, app.audit_size().await);
    let none = app.get("/api/v1/audit/entries?until=2026-06-01T09:00:00Z", &app.admin_token).await;
    assert!(none.assert_status(200)["items"].as_array().unwrap().is_empty());

    let first = app.get("/api/v1/audit/entries?limit=2", &app.admin_token).await;
    let next = first.assert_status(200)["next_start"].as_u64().unwrap();
    let second = app.get(&format!("/api/v1/audit/entries?limit=2&start={next}"), &app.admin_token).await;
    assert_eq!(second.assert_status(200)["items"][0]["index"], next);
}));

engine_test!(the_audit_api_needs_audit_read_and_sane_input, |engine| with_app(engine, |app| async move {
    let bot = app.create_service("deploy-bot").await;
    let token = app.create_token(&bot, 600).await;
    for path in [
        "/api/v1/audit/entries",
        "/api/v1/audit/checkpoint",
        "/api/v1/audit/public-key",
        "/api/v1/audit/proof/inclusion?index=0",
        "/api/v1/audit/proof/consistency?first=1",
    ] {
        app.get(path, &token).await.assert_problem(403);
        app.call(Method::GET, path, None, None).await.assert_problem(401);
    }
    let size = app.audit_size().await;
    let admin = &app.admin_token;
    for path in [
        format!("/api/v1/audit/proof/inclusion?index={size}&tree_size={size}"),
        format!("/api/v1/audit/proof/inclusion?index=0&tree_size={}", size + 10),
        "/api/v1/audit/proof/inclusion?index=0&tree_size=0".to_owned(),
        "/api/v1/audit/proof/inclusion?index=-1".to_owned(),
        "/api/v1/audit/proof/inclusion".to_owned(),
        "/api/v1/audit/proof/consistency?first=0".to_owned(),
        format!("/api/v1/audit/proof/consistency?first=2&second={}", size + 1),
        "/api/v1/audit/proof/consistency?first=3&second=2".to_owned(),
        "/api/v1/audit/entries?outcome=maybe".to_owned(),
        "/api/v1/audit/entries?since=yesterday".to_owned(),
        "/api/v1/audit/entries?limit=0".to_owned(),
        "/api/v1/audit/entries?colour=blue".to_owned(),
    ] {
        app.get(&path, admin).await.assert_problem(400);
    }
}));
