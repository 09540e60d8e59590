//! Grants and decisions over HTTP: roles from the Cedar policies, scopes,
//! expiry at the instant, immediate revocation, `POST /api/v1/authorize`.

use gatehouse_testkit::{TestApp, engine_test, with_app, with_database};
use serde_json::{Value, json};
use time::Duration;

async fn grant(app: &TestApp, identity: &str, role: &str, scope: &str) -> Value {
    let response = app
        .post("/api/v1/grants", &app.admin_token, json!({"identity_id": identity, "role": role, "scope": scope}))
        .await;
    response.assert_status(201).clone()
}

async fn decide(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("/api/v1/authorize", token, body).await.assert_status(200).clone()
}

engine_test!(a_grant_allows_exactly_its_role_in_its_scope, |engine| with_app(engine, |app| async move {
    let ana = app.create_human("Ana", "ana@example.com").await;
    let token = app.create_token(&ana, 3600).await;
    let ask = |action: &str, kind: &str, id: &str| json!({"action": action, "resource": {"type": kind, "id": id}});

    let denied = decide(&app, &token, ask("pipeline.trigger", "Pipeline", "acme/web:build")).await;
    assert_eq!(denied["decision"], "deny");
    assert_eq!(denied["reasons"][0], "no policy or grant permits this (deny by default)");

    let created = grant(&app, &ana, "developer", "project:acme/web").await;
    assert_eq!(created["role"], "developer");
    let allowed = decide(&app, &token, ask("pipeline.trigger", "Pipeline", "acme/web:build")).await;
    assert_eq!(allowed["decision"], "allow");
    assert!(allowed["reasons"][0].as_str().unwrap().contains(created["id"].as_str().unwrap()));
    for (action, kind, id) in [
        ("pipeline.trigger", "pipeline", "acme/api:build"),
        ("pipeline.config.edit", "Pipeline", "acme/web:build"),
        ("deployment.approve", "Environment", "acme/web:production"),
    ] {
        assert_eq!(decide(&app, &token, ask(action, kind, id)).await["decision"], "deny", "{action} {id}");
    }

    // The decision is in the audit log at the index the answer names.
    let index = allowed["audit_index"].as_u64().unwrap();
    let entry = &app.store.list_audit(index, 1).await.unwrap()[0];
    assert_eq!(entry.record.action, "authorize");
    assert_eq!(entry.record.resource, "pipeline:acme/web:build");
    assert_eq!(entry.record.details["decision"], "allow");

    // Revocation is immediate.
    let revoked = app.delete(&format!("/api/v1/grants/{}", created["id"].as_str().unwrap()), &app.admin_token).await;
    assert!(revoked.assert_status(200)["revoked_at"].is_string());
    assert_eq!(decide(&app, &token, ask("pipeline.trigger", "Pipeline", "acme/web:build")).await["decision"], "deny");
}));

engine_test!(an_expiring_grant_stops_at_its_instant, |engine| with_app(engine, |app| async move {
    let ana = app.create_human("Ana", "ana@example.com").await;
    let token = app.create_token(&ana, 7200).await;
    let body = json!({"identity_id": ana, "role": "viewer", "scope": "*", "expires_at": "2026-06-01T09:30:00Z"});
    app.post("/api/v1/grants", &app.admin_token, body).await.assert_status(201);
    let ask = json!({"action": "pipeline.view", "resource": {"type": "Project", "id": "acme/web"}});
    app.clock.advance(Duration::minutes(29) + Duration::seconds(59));
    assert_eq!(decide(&app, &token, ask.clone()).await["decision"], "allow");
    app.clock.advance(Duration::seconds(1));
    assert_eq!(decide(&app, &token, ask).await["decision"], "deny");
}));

engine_test!(separation_of_duties_is_a_default, |engine| with_app(engine, |app| async move {
    let ana = app.create_human("Ana", "ana@example.com").await;
    let token = app.create_token(&ana, 3600).await;
    grant(&app, &ana, "release-approver", "environment:acme/web:production").await;
    let ask = |author: &str| {
        json!({"action": "deployment.approve", "resource": {"type": "Environment", "id": "acme/web:production"},
               "context": {"author": author}})
    };
    let own = decide(&app, &token, ask("ana@example.com")).await;
    assert_eq!(own["decision"], "deny");
    assert!(own["reasons"][0].as_str().unwrap().contains("authors-may-not-approve-their-own-deployment"));
    assert_eq!(decide(&app, &token, ask("bob@example.com")).await["decision"], "allow");
    // Attack: the author's own address, spelled so an exact comparison
    // misses it. gatehouse, not the caller, decides the spelling.
    for disguised in ["Ana@Example.com", " ana@example.com ", &ana.to_string().to_uppercase()] {
        let answer = decide(&app, &token, ask(disguised)).await;
        assert_eq!(answer["decision"], "deny", "{disguised}");
    }
}));

engine_test!(asking_about_someone_else_needs_leave, |engine| with_app(engine, |app| async move {
    let ana = app.create_human("Ana", "ana@example.com").await;
    let bob = app.create_human("Bob", "bob@example.com").await;
    let ana_token = app.create_token(&ana, 3600).await;
    grant(&app, &bob, "developer", "*").await;
    let about_bob =
        json!({"principal": bob, "action": "source.push", "resource": {"type": "Project", "id": "acme/web"}});
    app.post("/api/v1/authorize", &ana_token, about_bob.clone()).await.assert_problem(403);
    let answer = decide(&app, &app.admin_token, about_bob).await;
    assert_eq!(answer["decision"], "allow");
    // A suspended identity is denied everything, grants or not.
    app.call(axum::http::Method::POST, &format!("/api/v1/identities/{bob}/suspend"), Some(&app.admin_token), None)
        .await
        .assert_status(200);
    let about_bob =
        json!({"principal": bob, "action": "source.push", "resource": {"type": "Project", "id": "acme/web"}});
    let answer = decide(&app, &app.admin_token, about_bob).await;
    assert_eq!(answer["decision"], "deny");
    assert!(answer["reasons"][0].as_str().unwrap().contains("inactive-identities-may-do-nothing"));
}));

engine_test!(roles_come_from_the_policies, |engine| with_app(engine, |app| async move {
    let roles = app.get("/api/v1/roles", &app.admin_token).await;
    let roles = roles.assert_status(200).as_array().unwrap().clone();
    let developer = roles.iter().find(|r| r["name"] == "developer").unwrap();
    assert_eq!(developer["actions"], json!(["pipeline.view", "pipeline.trigger", "source.push"]));
    assert!(roles.iter().find(|r| r["name"] == "admin").unwrap()["actions"].as_array().unwrap().len() >= 12);
}));

engine_test!(bad_grants_and_questions_are_refused_and_change_nothing, |engine| with_app(engine, |app| async move {
    let ana = app.create_human("Ana", "ana@example.com").await;
    let nobody = gatehouse_domain::ids::IdentityId::new().to_string();
    let before = app.audit_size().await;
    let admin = app.admin_token.clone();
    for (body, status, needle) in [
        (json!({"identity_id": ana, "role": "overlord", "scope": "*"}), 422, "unknown role `overlord`"),
        (json!({"identity_id": ana, "role": "viewer", "scope": "team:x"}), 422, "not a valid scope"),
        (json!({"identity_id": ana, "role": "viewer", "scope": "project:"}), 422, "not a valid scope"),
        (json!({"identity_id": nobody, "role": "viewer", "scope": "*"}), 404, "not found"),
        (json!({"identity_id": "ana", "role": "viewer", "scope": "*"}), 422, "identity_id"),
        (
            json!({"identity_id": ana, "role": "viewer", "scope": "*", "expires_at": "2020-01-01T00:00:00Z"}),
            422,
            "not in the future",
        ),
        (json!({"identity_id": ana, "role": "viewer", "scope": "*", "expires_at": "soon"}), 422, "RFC 3339"),
        (json!({"identity_id": ana, "role": "viewer", "scope": "*", "admin": true}), 422, "unknown field"),
    ] {
        let response = app.post("/api/v1/grants", &admin, body.clone()).await;
        assert!(response.assert_problem(status).contains(needle), "{body}: {}", response.text);
    }
    for (body, needle) in [
        (json!({"action": "pipeline.destroy", "resource": {"type": "Project", "id": "acme/web"}}), "unknown action"),
        (json!({"action": "source.push", "resource": {"type": "Team", "id": "acme"}}), "unknown resource type"),
        (
            json!({"action": "source.push", "resource": {"type": "Project", "id": "acme//web"}}),
            "not a valid project id",
        ),
        (json!({"action": "deployment.approve", "resource": {"type": "Project", "id": "acme/web"}}), "does not apply"),
        (
            json!({"action": "source.push", "resource": {"type": "Project", "id": "acme/web"}, "context": {"now": 1}}),
            "set by gatehouse",
        ),
        (
            json!({"action": "source.push", "resource": {"type": "Project", "id": "acme/web"}, "context": {"colour": "x"}}),
            "context",
        ),
        (
            json!({"action": "source.push", "resource": {"type": "Project", "id": "acme/web"}, "context": [1]}),
            "JSON object",
        ),
        (
            json!({"principal": "bob", "action": "source.push", "resource": {"type": "Project", "id": "acme/web"}}),
            "principal",
        ),
    ] {
        let response = app.post("/api/v1/authorize", &admin, body.clone()).await;
        assert!(response.assert_problem(422).contains(needle), "{body}: {}", response.text);
    }
    let unknown =
        json!({"principal": nobody, "action": "source.push", "resource": {"type": "Project", "id": "acme/web"}});
    app.post("/api/v1/authorize", &admin, unknown).await.assert_problem(404);
    app.delete(&format!("/api/v1/grants/{}", gatehouse_domain::ids::GrantId::new()), &admin).await.assert_problem(404);
    app.delete("/api/v1/grants/nope", &admin).await.assert_problem(400);
    assert_eq!(app.audit_size().await, before);
}));

engine_test!(the_matrix_documents_what_is_enforced, |engine| with_app(engine, |app| async move {
    let ana = app.create_human("Ana", "ana@example.com").await;
    let ana_token = app.create_token(&ana, 3600).await;
    grant(&app, &ana, "developer", "project:acme/web").await;
    let registered =
        app.post("/api/v1/resources", &app.admin_token, json!({"type": "Pipeline", "id": "acme/web:nightly"})).await;
    registered.assert_status(201);
    app.post("/api/v1/resources", &app.admin_token, json!({"type": "Pipeline", "id": "acme/web:nightly"}))
        .await
        .assert_problem(409);
    app.post("/api/v1/resources", &app.admin_token, json!({"type": "Team", "id": "x"})).await.assert_problem(422);
    app.post("/api/v1/resources", &ana_token, json!({"type": "Project", "id": "acme/api"})).await.assert_problem(403);

    let matrix = app.get("/api/v1/policy/matrix", &app.admin_token).await;
    let body = matrix.assert_status(200).clone();
    assert_eq!(body["policy_hash"].as_str().unwrap().len(), 64);
    let rows = body["rows"].as_array().unwrap();
    let has = |who: &str, action: &str, id: &str| {
        rows.iter().any(|r| r["identity_id"] == who && r["action"] == action && r["resource"]["id"] == id)
    };
    assert!(has(&ana, "pipeline.trigger", "acme/web:nightly"), "registered resources are covered");
    assert!(has(&ana, "source.push", "acme/web"));
    assert!(!has(&ana, "pipeline.config.edit", "acme/web:nightly"));
    assert!(has(&app.admin_id.to_string(), "identity.manage", "gatehouse"));
    // The owner rules show, by policy, on each identity's own things.
    let own_tokens = rows
        .iter()
        .find(|r| {
            r["identity_id"] == ana.as_str() && r["action"] == "identity.manage" && r["resource"]["type"] == "Token"
        })
        .unwrap();
    assert_eq!(own_tokens["resource"]["id"], "*");
    assert_eq!(own_tokens["policies"], json!(["owners-end-their-own-credentials"]));
    assert!(has(&ana, "identity.view", &ana), "one's own record");
    // The matrix assumes a fresh second factor, which a person's own keys need.
    assert!(rows.iter().any(|r| r["identity_id"] == ana.as_str()
        && r["resource"]["type"] == "SigningKey"
        && r["policies"] == json!(["people-manage-their-own-signing-keys"])));
    // Every row is what a decision answers (`*`, any of one's own, stands
    // for each one: its token is asked about below).
    for row in rows.iter().filter(|r| r["identity_id"] == ana.as_str() && r["resource"]["id"] != "*") {
        let ask = json!({"action": row["action"], "resource": row["resource"]});
        assert_eq!(decide(&app, &ana_token, ask).await["decision"], "allow", "{row}");
    }
    app.get("/api/v1/policy/matrix", &ana_token).await.assert_problem(403);
}));

engine_test!(decisions_stay_correct_among_100k_grants, |engine| with_database(engine, |db| async move {
    let app = TestApp::new(&db).await;
    // 1,000 identities with 100 grants each.
    let crowd = gatehouse_testkit::bulk::insert_grants(&db.url, 1_000, 100, "developer").await;
    let total = app.get("/api/v1/grants?limit=1", &app.admin_token).await;
    total.assert_status(200);
    let ana = app.create_human("Ana", "ana@example.com").await;
    grant(&app, &ana, "maintainer", "pipeline:acme/web:deploy").await;
    let ask = |principal: &str, action: &str, kind: &str, id: &str| json!({"principal": principal, "action": action, "resource": {"type": kind, "id": id}});
    let admin = app.admin_token.clone();
    assert_eq!(
        decide(&app, &admin, ask(&ana, "pipeline.config.edit", "Pipeline", "acme/web:deploy")).await["decision"],
        "allow"
    );
    assert_eq!(
        decide(&app, &admin, ask(&ana, "pipeline.config.edit", "Pipeline", "bulk/p0-0:deploy")).await["decision"],
        "deny"
    );
    let one = crowd[500].to_string();
    assert_eq!(decide(&app, &admin, ask(&one, "source.push", "Project", "bulk/p500-99")).await["decision"], "allow");
    assert_eq!(decide(&app, &admin, ask(&one, "source.push", "Project", "bulk/p501-99")).await["decision"], "deny");
    assert_eq!(
        decide(&app, &admin, ask(&one, "pipeline.config.edit", "Project", "bulk/p500-0")).await["decision"],
        "deny"
    );
}));
