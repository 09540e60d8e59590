//! Bad input of every kind gets a 4xx problem+json answer and changes
//! nothing.

use axum::body::Body;
use axum::http::{Method, Request, header};
use gatehouse_server::Settings;
use gatehouse_testkit::{TestApp, engine_test, with_app, with_database};
use serde_json::json;

async fn raw_post(
    app: &TestApp,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> gatehouse_testkit::TestResponse {
    let mut request = Request::post(path).header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token));
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    app.send(request.body(body.into()).unwrap()).await
}

engine_test!(malformed_bodies_are_refused_and_change_nothing, |engine| {
    with_app(engine, |app| async move {
        let before = app.audit_size().await;
        let json_type = Some("application/json");
        let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
            (json_type, "{\"kind\": \"service\", \"name\": ".into(), 400, "EOF"),
            (json_type, "not json".into(), 400, "expected"),
            (json_type, "{\"kind\": \"service\", \"name\": 42}".into(), 422, "invalid type"),
            (json_type, "{\"kind\": \"service\"}".into(), 422, "missing field `name`"),
            (
                json_type,
                "{\"kind\": \"service\", \"name\": \"x\", \"admin\": true}".into(),
                422,
                "unknown field `admin`",
            ),
            (json_type, "{\"kind\": \"robot\", \"name\": \"x\"}".into(), 422, "unknown identity kind `robot`"),
            (
                json_type,
                "{\"kind\": \"human\", \"name\": \"x\", \"email\": \"nope\"}".into(),
                422,
                "`nope` is not a valid email",
            ),
            (json_type, "{\"kind\": \"human\", \"name\": \"x\"}".into(), 422, "needs an email"),
            (json_type, "{\"kind\": \"service\", \"name\": \"   \"}".into(), 422, "name"),
            (json_type, "[]".into(), 422, "expected struct"),
            (json_type, "null".into(), 422, "invalid type"),
            (None, "{\"kind\": \"service\", \"name\": \"x\"}".into(), 415, "application/json"),
            (Some("text/plain"), "{\"kind\": \"service\", \"name\": \"x\"}".into(), 415, "application/json"),
        ];
        for (content_type, body, status, needle) in cases {
            let response = raw_post(&app, "/api/v1/identities", content_type, body.clone()).await;
            let detail = response.assert_problem(status);
            assert!(detail.contains(needle), "{body}: {detail}");
        }
        assert_eq!(app.audit_size().await, before);
        let listed = app.get("/api/v1/identities", &app.admin_token).await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "only the admin exists");
    })
});

engine_test!(oversized_bodies_get_413, |engine| with_database(engine, |database| async move {
    let app =
        TestApp::with_settings(&database, Settings { max_body_bytes: 4096, ..gatehouse_testkit::test_settings() })
            .await;
    let before = app.audit_size().await;
    let body = json!({"kind": "service", "name": "x".repeat(8192)}).to_string();
    let response = raw_post(&app, "/api/v1/identities", Some("application/json"), body).await;
    response.assert_problem(413);
    // A streamed body, with no Content-Length to refuse it up front.
    let chunks = [vec![b' '; 3000], vec![b' '; 3000]].map(Ok::<_, std::io::Error>);
    let stream = Body::from_stream(futures_util::stream::iter(chunks));
    let response = raw_post(&app, "/api/v1/identities", Some("application/json"), stream).await;
    response.assert_problem(413);
    assert_eq!(app.audit_size().await, before);
}));

engine_test!(bad_ids_unknown_ids_and_bad_queries, |engine| with_app(engine, |app| async move {
    let before = app.audit_size().await;
    let token = app.admin_token.clone();
    assert!(app.get("/api/v1/identities/not-a-uuid", &token).await.assert_problem(400).contains("not-a-uuid"));
    let nobody = gatehouse_domain::ids::IdentityId::new();
    assert!(
        app.get(&format!("/api/v1/identities/{nobody}"), &token)
            .await
            .assert_problem(404)
            .contains(&nobody.to_string())
    );
    app.delete(&format!("/api/v1/identities/{nobody}"), &token).await.assert_problem(404);
    app.call(Method::POST, &format!("/api/v1/identities/{nobody}/suspend"), Some(&token), None)
        .await
        .assert_problem(404);
    app.get("/api/v1/tokens/123", &token).await.assert_problem(400);
    app.delete(&format!("/api/v1/tokens/{nobody}"), &token).await.assert_problem(404);
    app.get("/api/v1/identities?limit=0", &token).await.assert_problem(400);
    app.get("/api/v1/identities?limit=abc", &token).await.assert_problem(400);
    app.get("/api/v1/identities?limit=100000", &token).await.assert_problem(400);
    app.get("/api/v1/identities?cursor=%27%3B--", &token).await.assert_problem(400);
    app.get("/api/v1/identities?colour=blue", &token).await.assert_problem(400);
    app.get("/api/v1/tokens?identity_id=bob", &token).await.assert_problem(400);
    app.get("/api/v1/nothing-here", &token).await.assert_problem(404);
    app.call(Method::PUT, "/api/v1/identities", Some(&token), None).await.assert_problem(405);
    assert_eq!(app.audit_size().await, before);
}));
