//! Issue 24, hole 3: the SCIM provisioner controlled identities it never
//! provisioned. Each test performs the attack with a token holding only
//! `scim-provisioner` and asserts it is refused and nothing changed; and
//! the SCIM protocol defects found driving the product from outside.

use axum::body::Body;
use axum::http::{Method, Request};
use gatehouse_server::{ScimSettings, Settings};
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_app, with_database};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

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

#[track_caller]
fn scim_error(response: &TestResponse, status: u16, scim_type: Option<&str>) {
    assert_eq!(response.status.as_u16(), status, "{}", response.text);
    assert_eq!(response.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error", "{}", response.text);
    assert_eq!(response.body["status"], status.to_string());
    assert_eq!(response.body["scimType"].as_str(), scim_type, "{}", response.text);
}

async fn identity(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/api/v1/identities/{id}"), &app.admin_token).await.assert_status(200).clone()
}

async fn admin_grants_in_force(app: &TestApp, id: &str) -> usize {
    let grants = app.get(&format!("/api/v1/grants?identity_id={id}"), &app.admin_token).await;
    grants.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["role"] == "admin" && g["revoked_at"].is_null())
        .count()
}

async fn denied_entries(app: &TestApp) -> usize {
    let entries = app.get("/api/v1/audit/entries?outcome=denied&limit=200", &app.admin_token).await;
    entries.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("scim."))
        .count()
}

fn user(user_name: &str, email: Option<&str>, active: bool) -> Value {
    let mut body = json!({"schemas": [USER], "userName": user_name, "active": active});
    if let Some(email) = email {
        body["emails"] = json!([{"value": email, "primary": true}]);
    }
    body
}

// The chained attack of the issue, step by step: adopt by email, undo an
// admin's suspension, deactivate the admin, rewrite an email, put them in a
// group. Every step is refused and the people are as they were.
engine_test!(a_provisioner_token_cannot_take_over_people_it_did_not_provision, |engine| with_app(
    engine,
    |app| async move {
        let token = provisioner(&app).await;
        let admin = app.admin_id.to_string();
        let ana = app.create_human("Ana", "ana@example.com").await;
        app.post(&format!("/api/v1/identities/{ana}/suspend"), &app.admin_token, json!({})).await.assert_status(200);
        let before = app.audit_size().await;

        // Adoption by email (or by a userName that is the email): a SCIM 409.
        for body in [
            user("ana@example.com", Some("ana@example.com"), true),
            user("ana-scim", Some("ANA@example.com"), true),
            user("ana@example.com", Some("someone.else@example.com"), true),
            user("admin@example.com", None, false),
            user("root", Some("admin@example.com"), false),
        ] {
            let refused = scim(&app, Method::POST, "/scim/v2/Users", &token, Some(body.clone())).await;
            scim_error(&refused, 409, Some("uniqueness"));
        }
        // Nothing SCIM did not create is SCIM's to read or change.
        for id in [&admin, &ana] {
            let path = format!("/scim/v2/Users/{id}");
            scim_error(&scim(&app, Method::GET, &path, &token, None).await, 404, None);
            let reactivate = json!({"Operations": [{"op": "replace", "value": {"active": true}}]});
            scim_error(&scim(&app, Method::PATCH, &path, &token, Some(reactivate)).await, 404, None);
            let deactivate = json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
            scim_error(&scim(&app, Method::PATCH, &path, &token, Some(deactivate)).await, 404, None);
            let rewrite = user("attacker", Some("attacker@evil.example"), true);
            scim_error(&scim(&app, Method::PUT, &path, &token, Some(rewrite)).await, 404, None);
            scim_error(&scim(&app, Method::DELETE, &path, &token, None).await, 404, None);
            let group = json!({"schemas": [GROUP], "displayName": "admins", "members": [{"value": id}]});
            scim_error(&scim(&app, Method::POST, "/scim/v2/Groups", &token, Some(group)).await, 404, None);
        }
        let listed = scim(&app, Method::GET, "/scim/v2/Users", &token, None).await;
        assert_eq!(listed.assert_status(200)["totalResults"], 0);
        // The provisioner cannot link people to itself either.
        app.post(&format!("/api/v1/identities/{ana}/scim"), &token, json!({})).await.assert_problem(403);

        assert_eq!(app.audit_size().await, before + 1, "only the refused link is written (as a denial)");
        let ana_now = identity(&app, &ana).await;
        assert_eq!(
            (ana_now["status"].as_str(), ana_now["email"].as_str()),
            (Some("suspended"), Some("ana@example.com"))
        );
        let admin_now = identity(&app, &admin).await;
        assert_eq!(
            (admin_now["status"].as_str(), admin_now["email"].as_str()),
            (Some("active"), Some("admin@example.com"))
        );
        assert_eq!(admin_grants_in_force(&app, &admin).await, 1);
        app.get("/api/v1/whoami", &app.admin_token).await.assert_status(200);
    }
));

// Even once linked to SCIM, an admin is out of the provisioner's reach:
// no deactivation, no attribute change, no deletion, no group change.
engine_test!(a_provisioner_cannot_change_a_linked_admin_by_default, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    let admin = app.admin_id.to_string();
    app.post(&format!("/api/v1/identities/{admin}/scim"), &app.admin_token, json!({})).await.assert_status(201);
    let alice = scim(&app, Method::POST, "/scim/v2/Users", &token, Some(user("alice@example.com", None, true))).await;
    let alice = alice.assert_status(201)["id"].as_str().unwrap().to_owned();
    let group = json!({"schemas": [GROUP], "displayName": "staff", "members": [{"value": alice}]});
    let group = scim(&app, Method::POST, "/scim/v2/Groups", &token, Some(group)).await;
    let group = group.assert_status(201)["id"].as_str().unwrap().to_owned();
    let before = app.audit_size().await;
    let denied = denied_entries(&app).await;

    let path = format!("/scim/v2/Users/{admin}");
    assert_eq!(scim(&app, Method::GET, &path, &token, None).await.assert_status(200)["userName"], "admin@example.com");
    let deactivate = json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    scim_error(&scim(&app, Method::PATCH, &path, &token, Some(deactivate)).await, 403, None);
    let rewrite = json!({"Operations": [{"op": "replace", "value": {"emails": [{"value": "attacker@evil.example"}]}}]});
    scim_error(&scim(&app, Method::PATCH, &path, &token, Some(rewrite)).await, 403, None);
    let replaced = user("admin@example.com", Some("attacker@evil.example"), true);
    scim_error(&scim(&app, Method::PUT, &path, &token, Some(replaced)).await, 403, None);
    scim_error(&scim(&app, Method::DELETE, &path, &token, None).await, 403, None);
    let join = json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": admin}]}]});
    scim_error(&scim(&app, Method::PATCH, &format!("/scim/v2/Groups/{group}"), &token, Some(join)).await, 403, None);
    let new_group = json!({"schemas": [GROUP], "displayName": "admins", "members": [{"value": admin}]});
    scim_error(&scim(&app, Method::POST, "/scim/v2/Groups", &token, Some(new_group)).await, 403, None);

    assert_eq!(denied_entries(&app).await, denied + 6, "each refusal is audited");
    assert_eq!(app.audit_size().await, before + 6, "and nothing else is written");
    let admin_now = identity(&app, &admin).await;
    assert_eq!(
        (admin_now["status"].as_str(), admin_now["email"].as_str()),
        (Some("active"), Some("admin@example.com"))
    );
    assert_eq!(admin_grants_in_force(&app, &admin).await, 1);
    app.get("/api/v1/whoami", &app.admin_token).await.assert_status(200);

    // A person who is made admin later is out of reach too.
    app.post("/api/v1/grants", &app.admin_token, json!({"identity_id": alice, "role": "admin", "scope": "*"}))
        .await
        .assert_status(201);
    let off = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
    scim_error(&scim(&app, Method::PATCH, &format!("/scim/v2/Users/{alice}"), &token, Some(off)).await, 403, None);
    let leave = json!({"Operations": [{"op": "remove", "path": "members", "value": [{"value": alice}]}]});
    scim_error(&scim(&app, Method::PATCH, &format!("/scim/v2/Groups/{group}"), &token, Some(leave)).await, 403, None);
    scim_error(&scim(&app, Method::DELETE, &format!("/scim/v2/Groups/{group}"), &token, None).await, 403, None);
    assert_eq!(identity(&app, &alice).await["status"], "active");
}));

// `[scim] manage_admins = true`: the directory may then change admins.
engine_test!(manage_admins_lets_scim_change_an_admin_it_manages, |engine| with_database(engine, |db| async move {
    let settings = Settings { scim: ScimSettings { manage_admins: true }, ..Settings::default() };
    let app = TestApp::with_settings(&db, settings).await;
    let token = provisioner(&app).await;
    let bob = scim(&app, Method::POST, "/scim/v2/Users", &token, Some(user("bob@example.com", None, true))).await;
    let bob = bob.assert_status(201)["id"].as_str().unwrap().to_owned();
    app.post("/api/v1/grants", &app.admin_token, json!({"identity_id": bob, "role": "admin", "scope": "*"}))
        .await
        .assert_status(201);
    let rename = json!({"Operations": [{"op": "replace", "path": "displayName", "value": "Robert"}]});
    scim(&app, Method::PATCH, &format!("/scim/v2/Users/{bob}"), &token, Some(rename)).await.assert_status(200);
    assert_eq!(identity(&app, &bob).await["name"], "Robert");
    let off = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
    let patched = scim(&app, Method::PATCH, &format!("/scim/v2/Users/{bob}"), &token, Some(off)).await;
    assert_eq!(patched.assert_status(200)["active"], false);
    assert_eq!(identity(&app, &bob).await["status"], "suspended");
    assert_eq!(admin_grants_in_force(&app, &bob).await, 0, "deactivation revokes the grant, as the directory said");
}));

// An admin's explicit link makes an existing person SCIM's; unlinking
// takes them back. Both need identity.manage and are audited.
engine_test!(an_admin_link_lets_scim_manage_an_existing_person, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    let ana = app.create_human("Ana", "ana@example.com").await;
    let path = format!("/scim/v2/Users/{ana}");
    scim_error(&scim(&app, Method::GET, &path, &token, None).await, 404, None);
    app.get(&format!("/api/v1/identities/{ana}/scim"), &app.admin_token).await.assert_problem(404);

    let linked =
        app.post(&format!("/api/v1/identities/{ana}/scim"), &app.admin_token, json!({"user_name": "ana"})).await;
    let linked = linked.assert_status(201).clone();
    assert_eq!((linked["origin"].as_str(), linked["user_name"].as_str()), (Some("linked"), Some("ana")));
    assert_eq!(linked["linked_by"], app.admin_id.to_string());
    let shown = app.get(&format!("/api/v1/identities/{ana}/scim"), &app.admin_token).await;
    assert_eq!(shown.assert_status(200)["origin"], "linked");
    app.post(&format!("/api/v1/identities/{ana}/scim"), &app.admin_token, json!({})).await.assert_problem(409);
    let bot = app.create_service("robot").await;
    app.post(&format!("/api/v1/identities/{bot}/scim"), &app.admin_token, json!({})).await.assert_problem(422);
    let entries = app.get("/api/v1/audit/entries?action=identity.scim.link", &app.admin_token).await;
    assert_eq!(entries.assert_status(200)["items"].as_array().unwrap().len(), 1);

    let found = scim(&app, Method::GET, &path, &token, None).await;
    assert_eq!(found.assert_status(200)["userName"], "ana");
    assert_eq!(found.body["emails"][0]["value"], "ana@example.com");
    let off = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
    scim(&app, Method::PATCH, &path, &token, Some(off)).await.assert_status(200);
    assert_eq!(identity(&app, &ana).await["status"], "suspended");

    let other = app.create_human("Other", "other@example.com").await;
    let other_token = app.create_token(&other, 600).await;
    app.delete(&format!("/api/v1/identities/{ana}/scim"), &other_token).await.assert_problem(403);
    assert_eq!(app.delete(&format!("/api/v1/identities/{ana}/scim"), &app.admin_token).await.status.as_u16(), 204);
    scim_error(&scim(&app, Method::GET, &path, &token, None).await, 404, None);
    assert_eq!(identity(&app, &ana).await["status"], "suspended", "unlinking leaves the identity as it is");
    app.delete(&format!("/api/v1/identities/{ana}/scim"), &app.admin_token).await.assert_problem(404);
    let entries = app.get("/api/v1/audit/entries?action=identity.scim.unlink", &app.admin_token).await;
    assert_eq!(entries.assert_status(200)["items"].as_array().unwrap().len(), 1);
}));

// RFC 7643 requires only userName: a person without an email.
engine_test!(a_user_with_only_a_user_name_is_a_person_without_email, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    for name in ["jdoe", "mroe"] {
        let created =
            scim(&app, Method::POST, "/scim/v2/Users", &token, Some(json!({"schemas": [USER], "userName": name})))
                .await;
        let id = created.assert_status(201)["id"].as_str().unwrap().to_owned();
        assert_eq!(created.body["userName"], name);
        let person = identity(&app, &id).await;
        assert_eq!((person["name"].as_str(), person["kind"].as_str()), (Some(name), Some("human")));
        assert!(person["email"].is_null(), "{person}");
    }
    scim_error(
        &scim(&app, Method::POST, "/scim/v2/Users", &token, Some(json!({"userName": "JDOE"}))).await,
        409,
        Some("uniqueness"),
    );
}));

// RFC 7644 §4: each schema and resource type by its id.
engine_test!(schemas_and_resource_types_are_served_by_id, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    for (path, id) in [
        (format!("/scim/v2/Schemas/{USER}"), USER),
        (format!("/scim/v2/Schemas/{GROUP}"), GROUP),
        ("/scim/v2/ResourceTypes/User".to_owned(), "User"),
        ("/scim/v2/ResourceTypes/Group".to_owned(), "Group"),
    ] {
        let found = scim(&app, Method::GET, &path, &token, None).await;
        assert_eq!(found.assert_status(200)["id"], id);
        assert_eq!(found.headers["content-type"], "application/scim+json");
    }
    for path in ["/scim/v2/Schemas/urn:nope", "/scim/v2/ResourceTypes/Robot"] {
        scim_error(&scim(&app, Method::GET, path, &token, None).await, 404, None);
    }
    let anonymous = app.send(Request::get("/scim/v2/ResourceTypes/User").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status.as_u16(), 401);
}));

// RFC 7644 §3.4.3: POST /.search at the root and under each endpoint.
engine_test!(searches_are_answered_by_post, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    let mut ids = Vec::new();
    for name in ["ana@example.com", "bob@example.com"] {
        let created = scim(&app, Method::POST, "/scim/v2/Users", &token, Some(user(name, None, true))).await;
        ids.push(created.assert_status(201)["id"].as_str().unwrap().to_owned());
    }
    let group = json!({"schemas": [GROUP], "displayName": "staff", "members": [{"value": ids[0]}]});
    scim(&app, Method::POST, "/scim/v2/Groups", &token, Some(group)).await.assert_status(201);

    let search = |filter: Option<&str>, start: u64, count: u64| {
        let mut body = json!({"schemas": [SEARCH], "startIndex": start, "count": count});
        if let Some(filter) = filter {
            body["filter"] = json!(filter);
        }
        body
    };
    let users = scim(
        &app,
        Method::POST,
        "/scim/v2/Users/.search",
        &token,
        Some(search(Some("userName eq \"BOB@example.com\""), 1, 10)),
    )
    .await;
    assert_eq!(users.assert_status(200)["totalResults"], 1);
    assert_eq!(users.body["Resources"][0]["id"], ids[1].as_str());
    assert_eq!(users.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:ListResponse");
    let groups = scim(
        &app,
        Method::POST,
        "/scim/v2/Groups/.search",
        &token,
        Some(json!({"schemas": [SEARCH], "filter": "displayName eq \"staff\"", "excludedAttributes": ["members"]})),
    )
    .await;
    assert_eq!(groups.assert_status(200)["totalResults"], 1);
    assert!(groups.body["Resources"][0].get("members").is_none());

    let everything = scim(&app, Method::POST, "/scim/v2/.search", &token, Some(search(None, 1, 10))).await;
    assert_eq!(everything.assert_status(200)["totalResults"], 3);
    let kinds: Vec<&str> = everything.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["User", "User", "Group"]);
    let second_page = scim(&app, Method::POST, "/scim/v2/.search", &token, Some(search(None, 2, 2))).await;
    let kinds: Vec<&str> = second_page.assert_status(200)["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["User", "Group"]);
    let only_groups =
        scim(&app, Method::POST, "/scim/v2/.search", &token, Some(search(Some("displayName eq \"staff\""), 1, 10)))
            .await;
    assert_eq!(only_groups.assert_status(200)["totalResults"], 1);

    let before = app.audit_size().await;
    scim_error(
        &scim(&app, Method::POST, "/scim/v2/.search", &token, Some(json!({"filter": "title eq \"x\""}))).await,
        400,
        Some("invalidFilter"),
    );
    scim_error(
        &scim(&app, Method::POST, "/scim/v2/Users/.search", &token, Some(json!({"count": "ten"}))).await,
        400,
        Some("invalidValue"),
    );
    scim_error(
        &scim(&app, Method::POST, "/scim/v2/Groups/.search", &token, Some(json!({"schemas": ["urn:x"]}))).await,
        400,
        Some("invalidSyntax"),
    );
    assert_eq!(app.audit_size().await, before);
}));

// RFC 7644 §3.5.2: a member without `value` is an invalidValue SCIM error.
engine_test!(a_group_patch_adding_a_member_without_value_is_a_scim_error, |engine| with_app(
    engine,
    |app| async move {
        let token = provisioner(&app).await;
        let created =
            scim(&app, Method::POST, "/scim/v2/Users", &token, Some(user("ana@example.com", None, true))).await;
        let ana = created.assert_status(201)["id"].as_str().unwrap().to_owned();
        let group = json!({"schemas": [GROUP], "displayName": "staff", "members": [{"value": ana}]});
        let group = scim(&app, Method::POST, "/scim/v2/Groups", &token, Some(group)).await;
        let group = group.assert_status(201)["id"].as_str().unwrap().to_owned();
        let path = format!("/scim/v2/Groups/{group}");
        let before = app.audit_size().await;
        for value in
            [json!([{"display": "Bob"}]), json!({"display": "Bob"}), json!([{"value": 5}]), json!([{}]), json!("bob")]
        {
            let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": value}]});
            scim_error(&scim(&app, Method::PATCH, &path, &token, Some(body)).await, 400, Some("invalidValue"));
            let no_path = json!({"Operations": [{"op": "add", "value": {"members": value}}]});
            scim_error(&scim(&app, Method::PATCH, &path, &token, Some(no_path)).await, 400, Some("invalidValue"));
        }
        let remove = json!({"Operations": [{"op": "remove", "path": "members", "value": [{"display": "Ana"}]}]});
        scim_error(&scim(&app, Method::PATCH, &path, &token, Some(remove)).await, 400, Some("invalidValue"));
        assert_eq!(app.audit_size().await, before);
        let unchanged = scim(&app, Method::GET, &path, &token, None).await;
        assert_eq!(unchanged.assert_status(200)["members"].as_array().unwrap().len(), 1);
    }
));

// A user SCIM deleted may still leave a group it was in; guarding who may
// join or leave does not strand them.
engine_test!(a_deleted_user_can_still_leave_a_group, |engine| with_app(engine, |app| async move {
    let token = provisioner(&app).await;
    let mut ids = Vec::new();
    for name in ["ana@example.com", "bob@example.com"] {
        let created = scim(&app, Method::POST, "/scim/v2/Users", &token, Some(user(name, None, true))).await;
        ids.push(created.assert_status(201)["id"].as_str().unwrap().to_owned());
    }
    let group = json!({"schemas": [GROUP], "displayName": "staff", "members": [{"value": ids[0]}, {"value": ids[1]}]});
    let group = scim(&app, Method::POST, "/scim/v2/Groups", &token, Some(group)).await;
    let group = group.assert_status(201)["id"].as_str().unwrap().to_owned();
    let deleted = scim(&app, Method::DELETE, &format!("/scim/v2/Users/{}", ids[1]), &token, None).await;
    assert_eq!(deleted.status.as_u16(), 204);
    let leave = json!({"Operations": [{"op": "remove", "path": "members", "value": [{"value": ids[1]}]}]});
    let left = scim(&app, Method::PATCH, &format!("/scim/v2/Groups/{group}"), &token, Some(leave)).await;
    assert_eq!(left.assert_status(200)["members"].as_array().unwrap().len(), 1);
    let rejoin = json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": ids[1]}]}]});
    scim_error(&scim(&app, Method::PATCH, &format!("/scim/v2/Groups/{group}"), &token, Some(rejoin)).await, 404, None);
}));
