//! `gatehouse gate` and `gatehouse binding` as a CI job and an operator
//! run them: a real server process verifying tokens from a local OIDC
//! issuer; the job's token from a flag, the environment, or a stand-in for
//! GitHub Actions' token endpoint.

use std::process::{Command, Output};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::routing::get;
use gatehouse_testkit::oidc_issuer::{TestIssuer, TestKey};
use gatehouse_testkit::{engine_test, with_database};
use serde_json::{Value, json};

use crate::support::{Server, gatehouse, stderr, stdout};

const AUDIENCE: &str = "https://gatehouse.example.com";

/// Runs a command off the async runtime, so the in-process issuer keeps
/// answering the server while the command waits.
async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run gatehouse")).await.unwrap()
}

/// A stand-in for GitHub Actions' ID token endpoint: checks the request
/// token and hands out `token` for the requested audience.
async fn actions_endpoint(token: String) -> String {
    async fn issue(
        State(token): State<String>,
        headers: HeaderMap,
        Query(query): Query<std::collections::HashMap<String, String>>,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let authorized = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("bearer runner-secret");
        if !authorized || query.get("audience").map(String::as_str) != Some(AUDIENCE) {
            return axum::http::StatusCode::FORBIDDEN.into_response();
        }
        axum::Json(json!({"count": 1, "value": token})).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}/token?api-version=2.0", listener.local_addr().unwrap().port());
    let app = Router::new().route("/token", get(issue)).with_state(token);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

engine_test!(a_ci_job_gates_itself_with_its_oidc_token, |engine| {
    with_database(engine, |db| async move {
        let key = TestKey::rsa("k1", 0);
        let issuer = TestIssuer::start(&[&key]).await;
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let operator = |args: &[&str]| {
            let mut command = gatehouse(&data_dir, &db.url);
            command
                .env("GATEHOUSE_URL", &server.url)
                .env("GATEHOUSE_TOKEN", &admin)
                .args(args)
                .args(["--output", "json"]);
            command
        };

        let created = run(operator(&["identity", "create", "--kind", "service", "--name", "web-deployer"])).await;
        let bot = serde_json::from_str::<Value>(&stdout(&created)).unwrap()["id"].as_str().unwrap().to_owned();
        let bound = run(operator(&[
            "binding",
            "add",
            "--issuer",
            &issuer.url,
            "--audience",
            AUDIENCE,
            "--identity",
            &bot,
            "--claim",
            "repository_id=123456",
            "--claim",
            "ref=refs/heads/main",
            "--claim",
            "ref=refs/tags/v*",
        ]))
        .await;
        assert_eq!(bound.status.code(), Some(0), "{}", stderr(&bound));
        let binding: Value = serde_json::from_str(&stdout(&bound)).unwrap();
        assert_eq!(binding["claims"]["ref"], json!(["refs/heads/main", "refs/tags/v*"]));
        let listed = run(operator(&["binding", "list"])).await;
        assert!(stdout(&listed).contains(binding["id"].as_str().unwrap()));
        let granted = run(operator(&[
            "grant",
            "add",
            "--identity",
            &bot,
            "--role",
            "deployer",
            "--scope",
            "environment:acme/web:production",
        ]))
        .await;
        assert_eq!(granted.status.code(), Some(0), "{}", stderr(&granted));

        // The server runs on real time: so do the job's tokens.
        let now = time::OffsetDateTime::now_utc();
        let ci_token = key.sign(&issuer.claims(AUDIENCE, now));
        let job = |args: &[&str]| {
            let mut command = gatehouse(&data_dir, &db.url);
            command.env("GATEHOUSE_URL", &server.url).arg("gate").args(args);
            command
        };
        let production = ["--action", "deployment.execute", "--resource", "environment:acme/web:production"];

        let mut allowed = job(&production);
        allowed.env("GATEHOUSE_ID_TOKEN", &ci_token);
        let allowed = run(allowed).await;
        assert_eq!(allowed.status.code(), Some(0), "{}{}", stdout(&allowed), stderr(&allowed));
        assert!(stdout(&allowed).starts_with("allow: deployment.execute on environment:acme/web:production"));
        assert!(stdout(&allowed).contains("deployer"), "{}", stdout(&allowed));

        let mut denied = job(&["--action", "deployment.execute", "--resource", "environment:acme/api:production"]);
        denied.args(["--id-token", &ci_token]);
        let denied = run(denied).await;
        assert_eq!(denied.status.code(), Some(1), "{}", stderr(&denied));
        assert!(stdout(&denied).starts_with("deny:"));

        let mut other_branch = issuer.claims(AUDIENCE, now);
        other_branch["ref"] = json!("refs/heads/dev");
        let mut refused = job(&production);
        refused.args(["--id-token", &key.sign(&other_branch)]);
        let refused = run(refused).await;
        // The server refusing the job's token is a refusal (1), not an error (2).
        assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("claim `ref` is `refs/heads/dev`"), "{}", stderr(&refused));

        // A job from another repository: refused, with the server's reason.
        let mut other_repository = issuer.claims(AUDIENCE, now);
        other_repository["repository_id"] = json!("999999");
        other_repository["repository"] = json!("evil/fork");
        let mut foreign = job(&production);
        foreign.args(["--id-token", &key.sign(&other_repository)]);
        let foreign = run(foreign).await;
        assert_eq!(foreign.status.code(), Some(1), "{}", stderr(&foreign));
        assert!(stderr(&foreign).contains("repository_id"), "{}", stderr(&foreign));

        // Usage errors and an unreachable server stay errors (2).
        let mut unreachable = job(&production);
        unreachable.env("GATEHOUSE_URL", "http://127.0.0.1:9").env("GATEHOUSE_ID_TOKEN", &ci_token);
        assert_eq!(run(unreachable).await.status.code(), Some(2));
        let mut bad_resource = job(&["--action", "deployment.execute", "--resource", "environment"]);
        bad_resource.env("GATEHOUSE_ID_TOKEN", &ci_token);
        assert_eq!(run(bad_resource).await.status.code(), Some(2));

        let no_token = run(job(&production)).await;
        assert_eq!(no_token.status.code(), Some(2));
        assert!(stderr(&no_token).contains("id-token: write"), "{}", stderr(&no_token));

        // In GitHub Actions: the token comes from the runner's endpoint.
        let endpoint = actions_endpoint(ci_token.clone()).await;
        let mut in_actions = job(&production);
        in_actions
            .args(["--audience", AUDIENCE])
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", &endpoint)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-secret");
        let in_actions = run(in_actions).await;
        assert_eq!(in_actions.status.code(), Some(0), "{}", stderr(&in_actions));
        let mut wrong_runner = job(&production);
        wrong_runner
            .args(["--audience", AUDIENCE])
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", &endpoint)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "stolen");
        let wrong_runner = run(wrong_runner).await;
        assert_eq!(wrong_runner.status.code(), Some(2));
        assert!(stderr(&wrong_runner).contains("refused an OIDC token"), "{}", stderr(&wrong_runner));

        let removed = run(operator(&["binding", "remove", binding["id"].as_str().unwrap()])).await;
        assert_eq!(removed.status.code(), Some(0), "{}", stderr(&removed));
        let mut after = job(&production);
        after.env("GATEHOUSE_ID_TOKEN", &ci_token);
        assert_eq!(run(after).await.status.code(), Some(1), "no binding left: refused");
    })
});
