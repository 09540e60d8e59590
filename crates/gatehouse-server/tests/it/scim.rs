//! SCIM 2.0 as Okta and Entra drive it: find, create, change, deactivate,
//! delete; a deactivated person's token and grants stop working on the very
//! next request.

use axum::body::Body;
use axum::http::{Method, Request};
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_app};
use serde_json::{Value, json};

async fn provisioner(app: &TestApp) -> String {
    let bot = app.create_service("okta-scim").await;
    app.post("/api/v1/grants", &app.admin_token, json!({"identity_id": bot, "role": "scim-provisioner", "scope": "*"}))
        .await
        .assert_status(201);
    app.create_token(&bot, 3600).await
}

async fn scim(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> TestResponse {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/scim+json");
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    app.send(request.body(body).unwrap()).await
}

fn scim_error(response: &TestResponse, status: u16, scim_type: Option<&str>) {
    assert_eq!(response.status.as_u16(), status, "{}", response.text);
    assert_eq!(response.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(response.body["status"], status.to_string());
    if let Some(kind) = scim_type {
        assert_eq!(response.body["scimType"], kind, "{}", response.text);
    }
}

engine_test!(okta_provisions_and_deactivates_and_access_ends_at_once, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    let filter = "/scim/v2/Users?filter=userName%20eq%20%22ana%40example.com%22&startIndex=1&count=100";
    let none = scim(&app, Method::GET, filter, &token, None).await;
    assert_eq!(none.assert_status(200)["totalResults"], 0);
    assert_eq!(none.headers["content-type"], "application/scim+json");

    let created = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        &token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ana@example.com",
            "name": {"givenName": "Ana", "familyName": "Bell"},
            "emails": [{"primary": true, "value": "ana@example.com", "type": "work"}],
            "displayName": "Ana Bell",
            "locale": "en-US",
            "externalId": "00u1abc",
            "groups": [],
            "password": "ignored",
            "active": true,
        })),
    )
    .await;
    let created = created.assert_status(201).clone();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["active"], true);
    assert_eq!(created["meta"]["resourceType"], "User");
    let found = scim(&app, Method::GET, filter, &token, None).await;
    assert_eq!(found.assert_status(200)["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    let by_external =
        scim(&app, Method::GET, "/scim/v2/Users?filter=externalId%20eq%20%2200u1abc%22", &token, None).await;
    assert_eq!(by_external.assert_status(200)["totalResults"], 1);

    // Ana works with a token and a grant…
    let ana_token = app.create_token(&id, 3600).await;
    app.post("/api/v1/grants", &app.admin_token, json!({"identity_id": id, "role": "viewer", "scope": "*"}))
        .await
        .assert_status(201);
    app.get("/api/v1/whoami", &ana_token).await.assert_status(200);

    // …until Okta deactivates her (PATCH, a value object, no path).
    let patched = scim(
        &app,
        Method::PATCH,
        &format!("/scim/v2/Users/{id}"),
        &token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": false}}],
        })),
    )
    .await;
    assert_eq!(patched.assert_status(200)["active"], false);
    assert!(app.get("/api/v1/whoami", &ana_token).await.assert_problem(401).contains("revoked"));
    let grants = app.get(&format!("/api/v1/grants?identity_id={id}"), &app.admin_token).await;
    assert!(grants.assert_status(200)["items"].as_array().unwrap().iter().all(|g| g["revoked_at"].is_string()));
    let tokens = app.get(&format!("/api/v1/tokens?identity_id={id}"), &app.admin_token).await;
    assert!(tokens.assert_status(200)["items"].as_array().unwrap().iter().all(|t| t["status"] == "revoked"));

    // Reactivation (PUT) brings the person back, not the revoked access.
    let mut again = created.clone();
    again["active"] = json!(true);
    let replaced = scim(&app, Method::PUT, &format!("/scim/v2/Users/{id}"), &token, Some(again)).await;
    assert_eq!(replaced.assert_status(200)["active"], true);
    assert!(app.get("/api/v1/whoami", &ana_token).await.assert_problem(401).contains("revoked"));
}));

engine_test!(entra_patches_with_paths_and_deletes, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    // An existing person is SCIM's once an admin links them (never by email alone).
    let existing = app.create_human("Bob Old", "bob@contoso.com").await;
    let linked = app.post(&format!("/api/v1/identities/{existing}/scim"), &app.admin_token, json!({})).await;
    assert_eq!(linked.assert_status(201)["user_name"], "bob@contoso.com");
    let found =
        scim(&app, Method::GET, "/scim/v2/Users?filter=userName%20eq%20%22bob%40contoso.com%22", &token, None).await;
    assert_eq!(found.assert_status(200)["totalResults"], 1);
    let id = found.body["Resources"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(id, existing);
    let bob_token = app.create_token(&id, 3600).await;

    let patched = scim(
        &app,
        Method::PATCH,
        &format!("/scim/v2/Users/{id}"),
        &token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Replace", "path": "displayName", "value": "Bob Builder"},
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "bob.builder@contoso.com"},
                {"op": "Replace", "path": "active", "value": "False"},
            ],
        })),
    )
    .await;
    let patched = patched.assert_status(200).clone();
    assert_eq!(patched["active"], false);
    let identity = app.get(&format!("/api/v1/identities/{id}"), &app.admin_token).await;
    assert_eq!(identity.assert_status(200)["name"], "Bob Builder");
    assert_eq!(identity.body["email"], "bob.builder@contoso.com");
    app.get("/api/v1/whoami", &bob_token).await.assert_problem(401);

    let deleted = scim(&app, Method::DELETE, &format!("/scim/v2/Users/{id}"), &token, None).await;
    assert_eq!(deleted.status.as_u16(), 204);
    let identity = app.get(&format!("/api/v1/identities/{id}"), &app.admin_token).await;
    assert_eq!(identity.assert_status(200)["status"], "deprovisioned");
    scim_error(&scim(&app, Method::GET, &format!("/scim/v2/Users/{id}"), &token, None).await, 404, None);
}));

engine_test!(scim_refuses_bad_requests_with_scim_errors, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    let user = json!({"userName": "cy@example.com", "emails": [{"value": "cy@example.com"}]});
    scim(&app, Method::POST, "/scim/v2/Users", &token, Some(user.clone())).await.assert_status(201);
    let before = app.audit_size().await;
    scim_error(&scim(&app, Method::POST, "/scim/v2/Users", &token, Some(user)).await, 409, Some("uniqueness"));
    scim_error(
        &scim(&app, Method::POST, "/scim/v2/Users", &token, Some(json!({"emails": []}))).await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        &scim(&app, Method::POST, "/scim/v2/Users", &token, Some(json!({"userName": "x", "emails": [{"value": "x"}]})))
            .await,
        400,
        Some("invalidValue"),
    );
    let broken = app
        .send(
            Request::post("/scim/v2/Users")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::from("{"))
                .unwrap(),
        )
        .await;
    scim_error(&broken, 400, Some("invalidSyntax"));
    scim_error(
        &scim(&app, Method::GET, "/scim/v2/Users?filter=title%20eq%20%22x%22", &token, None).await,
        400,
        Some("invalidFilter"),
    );
    scim_error(&scim(&app, Method::GET, "/scim/v2/Users?count=many", &token, None).await, 400, Some("invalidValue"));
    scim_error(&scim(&app, Method::GET, "/scim/v2/Users/nope", &token, None).await, 404, None);
    let unknown = gatehouse_domain::ids::IdentityId::new();
    scim_error(
        &scim(&app, Method::PATCH, &format!("/scim/v2/Users/{unknown}"), &token, Some(json!({"Operations": []}))).await,
        404,
        None,
    );
    assert_eq!(app.audit_size().await, before, "refused requests change nothing");

    scim_error(&scim(&app, Method::GET, "/scim/v2/Users", "gth_notatoken", None).await, 401, None);
    let ana = app.create_human("Ana", "ana@example.com").await;
    let ana_token = app.create_token(&ana, 600).await;
    scim_error(&scim(&app, Method::GET, "/scim/v2/Users", &ana_token, None).await, 403, None);

    let config = scim(&app, Method::GET, "/scim/v2/ServiceProviderConfig", &token, None).await;
    assert_eq!(config.assert_status(200)["patch"]["supported"], true);
    let types = scim(&app, Method::GET, "/scim/v2/ResourceTypes", &token, None).await;
    assert_eq!(types.assert_status(200)["Resources"][0]["id"], "User");
    assert_eq!(types.body["Resources"][1]["id"], "Group");
    let schemas = scim(&app, Method::GET, "/scim/v2/Schemas", &token, None).await;
    assert_eq!(schemas.assert_status(200)["totalResults"], 3);
    assert_eq!(schemas.body["Resources"][1]["id"], "urn:ietf:params:scim:schemas:core:2.0:Group");
    assert_eq!(schemas.body["Resources"][2]["id"], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
    let page = scim(&app, Method::GET, "/scim/v2/Users?startIndex=2&count=1", &token, None).await;
    assert_eq!(page.assert_status(200)["totalResults"], 1);
    assert_eq!(page.body["Resources"].as_array().unwrap().len(), 0);
}));

engine_test!(access_follows_directory_groups, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    let mut ids = Vec::new();
    for name in ["ana", "bob"] {
        let user =
            json!({"userName": format!("{name}@example.com"), "emails": [{"value": format!("{name}@example.com")}]});
        let created = scim(&app, Method::POST, "/scim/v2/Users", &token, Some(user)).await;
        ids.push(created.assert_status(201)["id"].as_str().unwrap().to_owned());
    }
    let mapping = app
        .post("/api/v1/group-mappings", &app.admin_token,
            json!({"group": "Release-Managers", "role": "release-approver", "scope": "environment:acme/web:production"}))
        .await;
    let mapping_id = mapping.assert_status(201)["id"].as_str().unwrap().to_owned();
    app.post("/api/v1/group-mappings", &app.admin_token, json!({"group": "x", "role": "nope", "scope": "*"}))
        .await
        .assert_problem(422);

    let approve =
        json!({"action": "deployment.approve", "resource": {"type": "Environment", "id": "acme/web:production"}});
    let decide = |who: usize| {
        let body = json!({"principal": ids[who], "action": approve["action"], "resource": approve["resource"]});
        async { app.post("/api/v1/authorize", &app.admin_token, body).await.assert_status(200)["decision"].clone() }
    };
    assert_eq!(decide(0).await, "deny");

    // Okta creates the group with Ana in it: she gains the role.
    let group = scim(
        &app,
        Method::POST,
        "/scim/v2/Groups",
        &token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "release-managers",
            "members": [{"value": ids[0]}],
        })),
    )
    .await;
    let group_id = group.assert_status(201)["id"].as_str().unwrap().to_owned();
    assert_eq!(decide(0).await, "allow");
    assert_eq!(decide(1).await, "deny");
    let found = scim(
        &app,
        Method::GET,
        "/scim/v2/Groups?filter=displayName%20eq%20%22release-managers%22&excludedAttributes=members",
        &token,
        None,
    )
    .await;
    assert_eq!(found.assert_status(200)["totalResults"], 1);
    assert!(found.body["Resources"][0].get("members").is_none());

    // Entra adds Bob and removes Ana (PATCH with paths).
    let patched = scim(
        &app,
        Method::PATCH,
        &format!("/scim/v2/Groups/{group_id}"),
        &token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": ids[1]}]},
                {"op": "Remove", "path": "members", "value": [{"value": ids[0]}]},
            ],
        })),
    )
    .await;
    assert_eq!(patched.assert_status(200)["members"].as_array().unwrap().len(), 1);
    assert_eq!(decide(0).await, "deny");
    assert_eq!(decide(1).await, "allow");

    // A deactivated member loses it; reactivated, regains it while in the group.
    let off = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
    scim(&app, Method::PATCH, &format!("/scim/v2/Users/{}", ids[1]), &token, Some(off)).await.assert_status(200);
    assert_eq!(decide(1).await, "deny");
    let on = json!({"Operations": [{"op": "replace", "value": {"active": true}}]});
    scim(&app, Method::PATCH, &format!("/scim/v2/Users/{}", ids[1]), &token, Some(on)).await.assert_status(200);
    assert_eq!(decide(1).await, "allow");

    // Removing the mapping, or the group, ends it.
    app.delete(&format!("/api/v1/group-mappings/{mapping_id}"), &app.admin_token).await.assert_status(200);
    assert_eq!(decide(1).await, "deny");
    app.post(
        "/api/v1/group-mappings",
        &app.admin_token,
        json!({"group": "release-managers", "role": "release-approver", "scope": "environment:acme/web:production"}),
    )
    .await
    .assert_status(201);
    assert_eq!(decide(1).await, "allow");
    let deleted = scim(&app, Method::DELETE, &format!("/scim/v2/Groups/{group_id}"), &token, None).await;
    assert_eq!(deleted.status.as_u16(), 204);
    assert_eq!(decide(1).await, "deny");

    let unknown_member =
        json!({"displayName": "g2", "members": [{"value": gatehouse_domain::ids::IdentityId::new().to_string()}]});
    scim_error(&scim(&app, Method::POST, "/scim/v2/Groups", &token, Some(unknown_member)).await, 404, None);
    scim_error(
        &scim(&app, Method::POST, "/scim/v2/Groups", &token, Some(json!({"members": []}))).await,
        400,
        Some("invalidValue"),
    );
}));

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A person as Okta sends them, with the enterprise extension when `manager` is given.
fn person(name: &str, manager: Option<&str>) -> Value {
    let mut user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("{name}@example.com"),
        "emails": [{"primary": true, "value": format!("{name}@example.com")}],
        "active": true,
    });
    if let Some(manager) = manager {
        user["schemas"].as_array_mut().unwrap().push(json!(ENTERPRISE));
        user[ENTERPRISE] = json!({"department": "Ops", "manager": {"value": manager, "displayName": "ignored"}});
    }
    user
}

fn manager_of(user: &Value) -> Option<&str> {
    user[ENTERPRISE]["manager"]["value"].as_str()
}

engine_test!(the_enterprise_manager_is_kept_changed_and_removed, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    let post = |body: Value| {
        let (app, token) = (&app, &token);
        async move { scim(app, Method::POST, "/scim/v2/Users", token, Some(body)).await }
    };
    let boss = post(person("boss", None)).await.assert_status(201)["id"].as_str().unwrap().to_owned();
    let carol = post(person("carol", None)).await.assert_status(201)["id"].as_str().unwrap().to_owned();
    let created = post(person("ana", Some(&boss))).await.assert_status(201).clone();
    let ana = created["id"].as_str().unwrap().to_owned();
    assert_eq!(manager_of(&created), Some(boss.as_str()));
    assert_eq!(created[ENTERPRISE]["manager"]["$ref"], format!("/scim/v2/Users/{boss}"));
    assert_eq!(created[ENTERPRISE]["department"], "Ops", "the rest of the extension is echoed");
    assert_eq!(created["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]));
    assert!(created.get("manager").is_none(), "not a core attribute");
    let path = format!("/scim/v2/Users/{ana}");
    let shown = scim(&app, Method::GET, &path, &token, None).await;
    assert_eq!(manager_of(shown.assert_status(200)), Some(boss.as_str()));
    let created_entry = app.store.list_audit(0, 10_000).await.unwrap();
    let created_entry = created_entry.iter().rfind(|e| e.record.action == "scim.user.create").unwrap();
    assert_eq!(created_entry.record.details["manager"], boss.as_str(), "the audit entry names the manager");

    // PUT names another manager.
    let replaced = scim(&app, Method::PUT, &path, &token, Some(person("ana", Some(&carol)))).await;
    assert_eq!(manager_of(replaced.assert_status(200)), Some(carol.as_str()));
    // Entra's PATCH: the qualified path, the bare id.
    let entra = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": boss},
    ]});
    let patched = scim(&app, Method::PATCH, &path, &token, Some(entra)).await;
    assert_eq!(manager_of(patched.assert_status(200)), Some(boss.as_str()));
    // Okta's PATCH: no path, the extension as the value.
    let okta = json!({"Operations": [{"op": "replace", "value": {ENTERPRISE: {"manager": {"value": carol}}}}]});
    let patched = scim(&app, Method::PATCH, &path, &token, Some(okta)).await;
    assert_eq!(manager_of(patched.assert_status(200)), Some(carol.as_str()));
    assert_eq!(patched.body[ENTERPRISE]["department"], "Ops");
    // Removed.
    let remove = json!({"Operations": [{"op": "Remove", "path": format!("{ENTERPRISE}:manager")}]});
    let removed = scim(&app, Method::PATCH, &path, &token, Some(remove)).await;
    assert_eq!(manager_of(removed.assert_status(200)), None);
    let shown = scim(&app, Method::GET, &path, &token, None).await;
    assert_eq!(shown.assert_status(200)[ENTERPRISE], json!({"department": "Ops"}));
    assert!(app.store.scim_list_managers().await.unwrap().is_empty());

    // A manager deprovisioned since stays named, and a PUT repeating them is kept.
    let put = scim(&app, Method::PUT, &path, &token, Some(person("ana", Some(&boss)))).await;
    put.assert_status(200);
    scim(&app, Method::DELETE, &format!("/scim/v2/Users/{boss}"), &token, None).await.assert_status(204);
    let again = scim(&app, Method::PUT, &path, &token, Some(person("ana", Some(&boss)))).await;
    assert_eq!(manager_of(again.assert_status(200)), Some(boss.as_str()));

    // Discovery names the extension.
    let types = scim(&app, Method::GET, "/scim/v2/ResourceTypes/User", &token, None).await;
    assert_eq!(types.assert_status(200)["schemaExtensions"][0]["schema"], ENTERPRISE);
    let schema = scim(&app, Method::GET, &format!("/scim/v2/Schemas/{ENTERPRISE}"), &token, None).await;
    assert_eq!(schema.assert_status(200)["attributes"][0]["name"], "manager");
}));

engine_test!(an_unknown_or_own_manager_is_refused_and_changes_nothing, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    let carol = scim(&app, Method::POST, "/scim/v2/Users", &token, Some(person("carol", None))).await;
    let carol = carol.assert_status(201)["id"].as_str().unwrap().to_owned();
    let created = scim(&app, Method::POST, "/scim/v2/Users", &token, Some(person("ana", Some(&carol)))).await;
    let ana = created.assert_status(201)["id"].as_str().unwrap().to_owned();
    let path = format!("/scim/v2/Users/{ana}");
    // Someone gatehouse knows but SCIM never provisioned, an id nobody has, an externalId.
    let stranger = app.create_human("Stranger", "stranger@example.com").await;
    let nobody = gatehouse_domain::ids::IdentityId::new().to_string();
    let before = app.audit_size().await;
    for manager in [stranger.as_str(), nobody.as_str(), "00u-okta-boss"] {
        let refused = scim(&app, Method::POST, "/scim/v2/Users", &token, Some(person("bo", Some(manager)))).await;
        scim_error(&refused, 400, Some("invalidValue"));
        let refused = scim(&app, Method::PUT, &path, &token, Some(person("ana", Some(manager)))).await;
        scim_error(&refused, 400, Some("invalidValue"));
        let patch = json!({"Operations": [{"op": "add", "path": format!("{ENTERPRISE}:manager"), "value": manager}]});
        scim_error(&scim(&app, Method::PATCH, &path, &token, Some(patch)).await, 400, Some("invalidValue"));
    }
    // Ana as her own manager.
    let own = scim(&app, Method::PUT, &path, &token, Some(person("ana", Some(&ana)))).await;
    scim_error(&own, 400, Some("invalidValue"));
    assert!(own.body["detail"].as_str().unwrap().contains("own manager"), "{}", own.text);
    let own = json!({"Operations": [{"op": "replace", "value": {ENTERPRISE: {"manager": {"value": ana}}}}]});
    scim_error(&scim(&app, Method::PATCH, &path, &token, Some(own)).await, 400, Some("invalidValue"));
    // Not an object.
    let broken = json!({"Operations": [{"op": "replace", "path": ENTERPRISE, "value": "boss"}]});
    scim_error(&scim(&app, Method::PATCH, &path, &token, Some(broken)).await, 400, Some("invalidValue"));

    // Nothing changed: no Bo, Ana's manager is still Carol, no entry written.
    let bo =
        scim(&app, Method::GET, "/scim/v2/Users?filter=userName%20eq%20%22bo%40example.com%22", &token, None).await;
    assert_eq!(bo.assert_status(200)["totalResults"], 0);
    let shown = scim(&app, Method::GET, &path, &token, None).await;
    assert_eq!(manager_of(shown.assert_status(200)), Some(carol.as_str()));
    assert_eq!(app.audit_size().await, before);
}));
