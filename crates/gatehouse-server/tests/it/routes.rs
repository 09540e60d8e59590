//! The router serves exactly the declared routes (the OpenAPI document's
//! and the few it leaves out), so the two cannot drift apart; and an id in
//! a path is checked before any handler runs.

use std::collections::BTreeSet;

use axum::http::Method;
use gatehouse_server::routing::declared_routes;
use gatehouse_testkit::{TestApp, engine_test, with_app};

const METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

/// A well-formed id that names nothing.
const UNKNOWN_ID: &str = "01900000-0000-7000-8000-000000000000";

/// `path` with every `{parameter}` replaced by `value`.
fn with_parameters(path: &str, value: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map_or(rest.len(), |end| start + end + 1);
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Whether the router had no route for the path at all.
fn is_unrouted(response: &gatehouse_testkit::TestResponse) -> bool {
    response.status.as_u16() == 404
        && (response.text.contains("no such endpoint") || response.text.contains("no such SCIM endpoint"))
}

async fn call(app: &TestApp, method: Method, path: &str) -> gatehouse_testkit::TestResponse {
    app.call(method, path, Some(&app.admin_token), None).await
}

engine_test!(the_router_serves_exactly_the_declared_routes, |engine| {
    with_app(engine, |app| async move {
        let declared = declared_routes();
        assert!(declared.len() > 70, "{declared:?}");
        let paths: BTreeSet<&String> = declared.iter().map(|(_, path)| path).collect();
        for path in paths {
            let concrete = with_parameters(path, UNKNOWN_ID);
            for method in METHODS {
                let response = call(&app, method.clone(), &concrete).await;
                let status = response.status.as_u16();
                if declared.contains(&(method.to_string(), path.clone())) {
                    assert!(
                        status != 405 && !is_unrouted(&response),
                        "{method} {path} is declared, not served: {}",
                        response.text
                    );
                } else {
                    assert_eq!(status, 405, "{method} {path} is served, not declared: {}", response.text);
                }
            }
        }
        // A path nobody declared is not served either.
        assert!(is_unrouted(&call(&app, Method::GET, "/api/v1/nothing-here").await));
    })
});

engine_test!(a_malformed_id_in_a_path_is_a_400_problem_naming_it, |engine| {
    with_app(engine, |app| async move {
        let before = app.audit_size().await;
        let with_ids =
            declared_routes().into_iter().filter(|(_, path)| path.starts_with("/api/v1/") && path.contains('{'));
        let mut checked = 0;
        for (method, path) in with_ids {
            let method: Method = method.parse().unwrap();
            let response = call(&app, method.clone(), &with_parameters(&path, "not-an-id")).await;
            let detail = response.assert_problem(400);
            assert_eq!(detail, "`not-an-id` is not a valid id (expected a UUID)", "{method} {path}");
            checked += 1;
        }
        assert!(checked >= 20, "{checked}");
        // The second id of a pair is checked too.
        let path = format!("/api/v1/identities/{}/signing-keys/not-a-key", app.admin_id);
        let detail = call(&app, Method::GET, &path).await.assert_problem(400).to_owned();
        assert_eq!(detail, "`not-a-key` is not a valid id (expected a UUID)");
        assert_eq!(app.audit_size().await, before, "a refused id changes nothing");
    })
});

engine_test!(an_unknown_id_in_a_path_is_a_404_problem, |engine| {
    with_app(engine, |app| async move {
        let cases = [
            (Method::GET, format!("/api/v1/identities/{UNKNOWN_ID}"), "identity"),
            (Method::POST, format!("/api/v1/identities/{UNKNOWN_ID}/suspend"), "identity"),
            (Method::DELETE, format!("/api/v1/identities/{UNKNOWN_ID}"), "identity"),
            (Method::GET, format!("/api/v1/tokens/{UNKNOWN_ID}"), "token"),
            (Method::DELETE, format!("/api/v1/tokens/{UNKNOWN_ID}"), "token"),
            (Method::GET, format!("/api/v1/grants/{UNKNOWN_ID}"), "grant"),
            (Method::DELETE, format!("/api/v1/grants/{UNKNOWN_ID}"), "grant"),
            (Method::GET, format!("/api/v1/trust-bindings/{UNKNOWN_ID}"), "trust binding"),
            (Method::GET, format!("/api/v1/identities/{}/signing-keys/{UNKNOWN_ID}", app.admin_id), "signing key"),
        ];
        for (method, path, kind) in cases {
            let response = call(&app, method.clone(), &path).await;
            let detail = response.assert_problem(404);
            assert!(detail.contains(kind) && detail.contains(UNKNOWN_ID), "{method} {path}: {detail}");
        }
    })
});
