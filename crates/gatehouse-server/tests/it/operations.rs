//! Health, readiness, metrics, the OpenAPI document and request ids.

use axum::body::Body;
use axum::http::{Method, Request};
use gatehouse_testkit::{engine_test, with_app};

engine_test!(health_and_readiness, |engine| with_app(engine, |app| async move {
    let health = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.assert_status(200)["status"], "ok");
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.assert_status(200)["status"], "ready");
}));

engine_test!(metrics_count_requests_by_route_and_status, |engine| {
    with_app(engine, |app| async move {
        app.get("/api/v1/whoami", &app.admin_token).await.assert_status(200);
        let metrics = app.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(metrics.status.as_u16(), 200);
        assert!(
            metrics.text.contains(r#"gatehouse_http_requests_total{method="GET",route="/api/v1/whoami",status="200"}"#),
            "{}",
            metrics.text
        );
        assert!(metrics.text.contains("gatehouse_http_request_duration_seconds_bucket"), "{}", metrics.text);
        assert!(metrics.text.contains("gatehouse_db_pool_connections"), "{}", metrics.text);
    })
});

engine_test!(metrics_labels_stay_bounded_whatever_the_client_sends, |engine| {
    with_app(engine, |app| async move {
        // Any token is a valid HTTP method, and any path can be asked for:
        // neither may add series of its own.
        let brew = Method::from_bytes(b"BREWCOFFEE").unwrap();
        app.call(brew.clone(), "/api/v1/whoami", None, None).await;
        app.call(Method::GET, "/no/such/path/4c2d9e", None, None).await;
        let metrics = app.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(metrics.status.as_u16(), 200);
        assert!(!metrics.text.contains("BREWCOFFEE"), "{}", metrics.text);
        assert!(!metrics.text.contains("4c2d9e"), "{}", metrics.text);
        assert!(metrics.text.contains(r#"method="other",route="/api/v1/whoami""#), "{}", metrics.text);
        assert!(metrics.text.contains(r#"method="GET",route="unmatched",status="404""#), "{}", metrics.text);
    })
});

engine_test!(the_openapi_document_lists_the_contract, |engine| with_app(engine, |app| async move {
    let document = app.call(Method::GET, "/api/v1/openapi.json", None, None).await;
    let body = document.assert_status(200);
    assert!(body["openapi"].as_str().unwrap().starts_with("3.1"), "{}", body["openapi"]);
    for path in [
        "/api/v1/identities",
        "/api/v1/identities/{id}",
        "/api/v1/identities/{id}/suspend",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
        "/api/v1/whoami",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(body["paths"][path].is_object(), "missing {path}");
    }
    assert_eq!(body["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}));

engine_test!(request_ids_are_made_and_a_client_id_is_kept_beside, |engine| {
    with_app(engine, |app| async move {
        let request = Request::post("/api/v1/identities")
            .header("authorization", format!("Bearer {}", app.admin_token))
            .header("content-type", "application/json")
            .header("x-request-id", "deploy-42")
            .body(Body::from(r#"{"kind":"service","name":"bot"}"#))
            .unwrap();
        let before = app.audit_size().await;
        let response = app.send(request).await;
        let own = response.headers["x-request-id"].to_str().unwrap().to_owned();
        assert!(own.parse::<gatehouse_domain::ids::RequestId>().is_ok(), "{own}");
        let entry = &app.store.list_audit(before, 1).await.unwrap()[0];
        assert_eq!(entry.record.origin.request_id.as_deref(), Some(own.as_str()));
        assert_eq!(entry.record.details["client_request_id"], "deploy-42");

        let made = app.call(Method::GET, "/healthz", None, None).await;
        let id = made.headers["x-request-id"].to_str().unwrap();
        assert!(id.parse::<gatehouse_domain::ids::RequestId>().is_ok(), "{id}");

        // An unreasonable id is dropped, not echoed.
        let request = Request::get("/healthz").header("x-request-id", "x".repeat(500)).body(Body::empty()).unwrap();
        let replaced = app.send(request).await;
        assert_ne!(replaced.headers["x-request-id"].len(), 500);
    })
});

/// `docs/openapi.json` is the served document, so the committed API reference
/// cannot drift. Run with `UPDATE_OPENAPI=1` to rewrite it.
#[test]
fn the_committed_openapi_document_is_current() {
    let generated = serde_json::to_string_pretty(&gatehouse_server::openapi::document()).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p gatehouse-server`"
    );
}

/// When the database goes away, readiness says so with a 503 problem while
/// liveness stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_database_is_gone() {
    gatehouse_testkit::with_database(gatehouse_testkit::Engine::Postgres, |database| async move {
        let app = gatehouse_testkit::TestApp::new(&database).await;
        app.call(Method::GET, "/readyz", None, None).await.assert_status(200);
        database.drop_now().await;
        let ready = app.call(Method::GET, "/readyz", None, None).await;
        let detail = ready.assert_problem(503).to_owned();
        assert!(!detail.contains("postgres://"), "the cause stays in the log: {detail}");
        app.call(Method::GET, "/healthz", None, None).await.assert_status(200);
    })
    .await;
}
