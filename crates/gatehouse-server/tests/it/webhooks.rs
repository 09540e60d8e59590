//! GitHub and GitLab webhooks: signatures, replays, deployment protection
//! rules answered as a GitHub App (against a local stand-in for GitHub's
//! API), and pipeline configuration changes from pushes.

use axum::body::Body;
use axum::http::Request;
use gatehouse_server::Settings;
use gatehouse_server::integrations::{
    GITHUB_ACTIONS_ISSUER, GithubAppSettings, GithubSettings, GitlabSettings, Integrations, Secret,
};
use gatehouse_testkit::github_standin::{GithubCall, GithubStandIn};
use gatehouse_testkit::oidc_issuer::TestKey;
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_database};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const SECRET: &str = "webhook secret for tests";
const GITLAB_TOKEN: &str = "gitlab token for tests";
const APP_ID: &str = "4242";

fn sign(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn github_app(db: &gatehouse_testkit::TestDatabase) -> (TestApp, GithubStandIn) {
    github_app_with(db, gatehouse_policy::Policies::defaults()).await
}

async fn github_app_with(
    db: &gatehouse_testkit::TestDatabase,
    policies: gatehouse_policy::Policies,
) -> (TestApp, GithubStandIn) {
    let key = TestKey::rsa("app", 2);
    let standin = GithubStandIn::start(APP_ID, &key.public_pem).await;
    let settings = Settings {
        integrations: Integrations {
            github: Some(GithubSettings {
                webhook_secret: Secret::new(SECRET),
                api_url: standin.url.clone(),
                app: Some(GithubAppSettings {
                    app_id: APP_ID.into(),
                    private_key_pem: Secret::new(String::from_utf8(key.private_pem(2)).unwrap()),
                }),
                actions_issuer: GITHUB_ACTIONS_ISSUER.into(),
            }),
            gitlab: Some(GitlabSettings { webhook_token: Secret::new(GITLAB_TOKEN) }),
            ..Integrations::default()
        },
        ..gatehouse_testkit::test_settings()
    };
    (TestApp::with_policies(db, settings, policies).await, standin)
}

async fn deliver(app: &TestApp, event: &str, delivery: &str, body: &Value, signature: Option<String>) -> TestResponse {
    let body = body.to_string();
    let mut request = Request::post("/webhooks/github")
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery);
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    app.send(request.body(Body::from(body)).unwrap()).await
}

fn protection_rule(standin: &GithubStandIn, repository: &str, environment: &str) -> Value {
    json!({
        "action": "requested",
        "environment": environment,
        "event": "push",
        "deployment_callback_url": format!("{}/repos/{repository}/actions/runs/77/deployment_protection_rule", standin.url),
        "deployment": {"id": 9, "ref": "main", "sha": "abc123", "creator": {"login": "ana"}},
        "repository": {"id": 123456, "full_name": repository, "owner": {"id": 987}},
        "installation": {"id": 31},
    })
}

async fn bind_repository(app: &TestApp, bot: &str) {
    app.post(
        "/api/v1/trust-bindings",
        &app.admin_token,
        json!({"issuer": GITHUB_ACTIONS_ISSUER, "audience": "gatehouse", "claims": {"repository_id": "123456"}, "identity_id": bot}),
    )
    .await
    .assert_status(201);
}

engine_test!(signatures_are_checked_and_replays_refused, |engine| with_database(engine, |db| async move {
    let (app, _standin) = github_app(&db).await;
    let body = json!({"zen": "Keep it logically awesome.", "hook_id": 1});
    let before = app.audit_size().await;
    let missing = deliver(&app, "ping", "d-1", &body, None).await;
    assert!(missing.assert_problem(401).contains("missing"));
    let bad = deliver(&app, "ping", "d-1", &body, Some(sign("{\"zen\":\"other\"}"))).await;
    assert!(bad.assert_problem(401).contains("does not match"));
    let malformed = deliver(&app, "ping", "d-1", &body, Some("sha256=xyz".into())).await;
    assert!(malformed.assert_problem(401).contains("not `sha256="));
    // The first refusal is written; the others are counted in the failure
    // ledger's summary (see `hardening_flood`).
    let refusals = app.store.list_audit(before, 10).await.unwrap();
    assert_eq!(refusals.len(), 1);
    assert!(refusals.iter().all(|e| e.record.actor.id() == "anonymous" && e.record.action == "webhook.github"));
    assert_eq!(app.state.auth_failures.flush_all(&app.state).await.unwrap(), 1);

    let signature = sign(&body.to_string());
    deliver(&app, "ping", "d-1", &body, Some(signature.clone())).await.assert_status(200);
    let size = app.audit_size().await;
    let replay = deliver(&app, "ping", "d-1", &body, Some(signature)).await;
    assert!(replay.assert_problem(409).contains("replays are refused"));
    assert_eq!(app.audit_size().await, size, "a replay changes nothing");

    let not_json = "{not json";
    let response = app
        .send(
            Request::post("/webhooks/github")
                .header("x-github-event", "push")
                .header("x-github-delivery", "d-2")
                .header("x-hub-signature-256", sign(not_json))
                .body(Body::from(not_json))
                .unwrap(),
        )
        .await;
    response.assert_problem(400);
    let no_delivery = app
        .send(
            Request::post("/webhooks/github").header("x-hub-signature-256", sign("{}")).body(Body::from("{}")).unwrap(),
        )
        .await;
    no_delivery.assert_problem(400);
}));

engine_test!(a_deployment_is_decided_with_who_gatehouse_verified_signed_its_commit, |engine| with_database(
    engine,
    |db| async move {
        use gatehouse_testkit::git_repo::{GitSandbox, Signing};
        let (app, standin) = github_app(&db).await;
        // A team's own rule on the facts gatehouse supplies: deploy only
        // commits whose signer gatehouse verified.
        let mut source = gatehouse_policy::PolicySetSource::defaults();
        source.files.insert(
            "verified.cedar".into(),
            "@id(\"deploy-only-verified-commits\")\n\
             forbid (principal, action == Action::\"deployment.execute\", resource)\n\
             unless { context has author_known && context.author_known };\n"
                .into(),
        );
        app.state.policies.replace(gatehouse_policy::Policies::from_source(&source).unwrap());
        let bot = app.create_service("web-deployer").await;
        bind_repository(&app, &bot).await;
        let grant = json!({"identity_id": bot, "role": "deployer", "scope": "environment:acme/web:production"});
        app.post("/api/v1/grants", &app.admin_token, grant).await.assert_status(201);
        let ana = app.create_human("Ana", "ana@example.com").await;
        let grant = json!({"identity_id": ana, "role": "developer", "scope": "project:acme/web"});
        app.post("/api/v1/grants", &app.admin_token, grant).await.assert_status(201);
        let sandbox = GitSandbox::new();
        let (key, public) = sandbox.ssh_key("ana");
        let path = format!("/api/v1/identities/{ana}/signing-keys");
        app.post(&path, &app.admin_token, json!({"public_key": public})).await.assert_status(201);
        let commit = sandbox.commit("src/a.rs", "a", &Signing::Ssh(key));

        let mut request = protection_rule(&standin, "acme/web", "production");
        request["deployment"]["sha"] = json!(commit);
        let rejected =
            deliver(&app, "deployment_protection_rule", "v-1", &request, Some(sign(&request.to_string()))).await;
        let rejected = rejected.assert_status(200).clone();
        assert_eq!(rejected["state"], "rejected", "{rejected}");
        assert!(rejected["reasons"][0].as_str().unwrap().contains("deploy-only-verified-commits"), "{rejected}");
        let entry = &app.store.list_audit(rejected["audit_indexes"][1].as_u64().unwrap(), 1).await.unwrap()[0];
        assert_eq!(entry.record.details["known_authors"], json!({"authors": [], "author_known": false}));

        let verified = json!({"id": commit, "commit": sandbox.cat(&commit), "project": "acme/web"});
        let verdict = app.post("/api/v1/verify/commit", &app.admin_token, verified).await;
        assert_eq!(verdict.assert_status(200)["valid"], true, "{}", verdict.text);
        request["deployment"]["id"] = json!(10);
        let approved =
            deliver(&app, "deployment_protection_rule", "v-2", &request, Some(sign(&request.to_string()))).await;
        let approved = approved.assert_status(200).clone();
        assert_eq!(approved["state"], "approved", "{approved}");
        let entry = &app.store.list_audit(approved["audit_indexes"][1].as_u64().unwrap(), 1).await.unwrap()[0];
        assert_eq!(entry.record.details["known_authors"], json!({"authors": [ana], "author_known": true}));

        // A deployment whose sha is no commit id carries no facts: the rule
        // holds it back.
        request["deployment"]["id"] = json!(11);
        request["deployment"]["sha"] = json!("not-a-sha");
        let odd = deliver(&app, "deployment_protection_rule", "v-3", &request, Some(sign(&request.to_string()))).await;
        assert_eq!(odd.assert_status(200)["state"], "rejected");
    }
));

engine_test!(a_deployment_protection_rule_is_decided_and_answered_as_the_app, |engine| with_database(
    engine,
    |db| async move {
        let (app, standin) = github_app(&db).await;
        let bot = app.create_service("web-deployer").await;
        bind_repository(&app, &bot).await;

        // Without a grant: rejected, and GitHub is told so.
        let request = protection_rule(&standin, "acme/web", "production");
        let rejected =
            deliver(&app, "deployment_protection_rule", "p-1", &request, Some(sign(&request.to_string()))).await;
        let rejected = rejected.assert_status(200).clone();
        assert_eq!(rejected["state"], "rejected");
        let index = rejected["audit_indexes"][1].as_u64().unwrap();
        let entry = &app.store.list_audit(index, 1).await.unwrap()[0];
        assert_eq!(entry.record.action, "deployment.execute");
        assert_eq!(entry.record.resource, "environment:acme/web:production");
        assert_eq!(entry.record.actor.id(), bot);
        assert_eq!(entry.record.details["decision"], "deny");

        app.post(
            "/api/v1/grants",
            &app.admin_token,
            json!({"identity_id": bot, "role": "deployer", "scope": "environment:acme/web:production"}),
        )
        .await
        .assert_status(201);
        // The next deployment (the same body again would be a replay).
        let mut request = request;
        request["deployment"]["id"] = json!(10);
        let approved =
            deliver(&app, "deployment_protection_rule", "p-2", &request, Some(sign(&request.to_string()))).await;
        assert_eq!(approved.assert_status(200)["state"], "approved");

        let calls = standin.calls();
        let answers: Vec<&Value> = calls
            .iter()
            .filter_map(|call| match call {
                GithubCall::ProtectionAnswer { run: 77, body } => Some(body),
                _ => None,
            })
            .collect();
        assert_eq!(answers.len(), 2, "{calls:?}");
        assert_eq!(answers[0]["state"], "rejected");
        assert_eq!(answers[0]["environment_name"], "production");
        assert_eq!(answers[1]["state"], "approved");
        assert!(answers[1]["comment"].as_str().unwrap().contains("deployer"));
        assert!(calls.iter().all(|c| !matches!(c, GithubCall::Refused { .. })), "{calls:?}");
        // The installation token is reused while valid.
        assert_eq!(calls.iter().filter(|c| matches!(c, GithubCall::InstallationToken { installation: 31 })).count(), 1);

        // An unbound repository is rejected with a reason.
        let other = protection_rule(&standin, "acme/api", "production");
        let mut other = other;
        other["repository"]["id"] = json!(555);
        let response = deliver(&app, "deployment_protection_rule", "p-3", &other, Some(sign(&other.to_string()))).await;
        let response = response.assert_status(200).clone();
        assert_eq!(response["state"], "rejected");
        assert!(response["reasons"][0].as_str().unwrap().contains("no service identity is bound to `acme/api`"));

        // A callback outside the configured API is never called.
        let mut elsewhere = protection_rule(&standin, "acme/web", "production");
        elsewhere["deployment_callback_url"] = json!("http://127.0.0.1:1/steal");
        let response =
            deliver(&app, "deployment_protection_rule", "p-4", &elsewhere, Some(sign(&elsewhere.to_string()))).await;
        assert!(response.assert_problem(502).contains("not below the configured GitHub API"));

        let mut incomplete = request.clone();
        incomplete.as_object_mut().unwrap().remove("installation");
        let response =
            deliver(&app, "deployment_protection_rule", "p-5", &incomplete, Some(sign(&incomplete.to_string()))).await;
        assert!(response.assert_problem(400).contains("installation.id"));
    }
));

engine_test!(pushes_that_touch_pipeline_configuration_are_recorded, |engine| with_database(engine, |db| async move {
    let (app, _standin) = github_app(&db).await;
    let push = json!({
        "ref": "refs/heads/main", "before": "000", "after": "bbb",
        "repository": {"id": 123456, "full_name": "acme/web"},
        "pusher": {"name": "ana"},
        "commits": [
            {"id": "aaa", "author": {"name": "Ana", "email": "ana@example.com", "username": "ana"}, "added": [], "modified": ["src/lib.rs"], "removed": []},
            {"id": "bbb", "author": {"name": "Bob", "email": "bob@example.com", "username": "bob"}, "added": [".github/workflows/release.yml"], "modified": [], "removed": []},
        ],
    });
    let response = deliver(&app, "push", "push-1", &push, Some(sign(&push.to_string()))).await;
    let response = response.assert_status(200).clone();
    assert_eq!(response["config_changes"], 1);
    let index = response["audit_indexes"][1].as_u64().unwrap();
    let entry = &app.store.list_audit(index, 1).await.unwrap()[0];
    assert_eq!(entry.record.action, "pipeline.config.changed");
    assert_eq!(entry.record.resource, "project:acme/web");
    assert_eq!(entry.record.details["commits"][0]["commit"], "bbb");
    assert_eq!(entry.record.details["commits"][0]["author"]["email"], "bob@example.com");
    assert_eq!(entry.record.details["commits"][0]["paths"], json!([".github/workflows/release.yml"]));

    let harmless = json!({"ref": "refs/heads/main", "repository": {"full_name": "acme/web"},
        "commits": [{"id": "ccc", "modified": ["README.md"]}]});
    let response = deliver(&app, "push", "push-2", &harmless, Some(sign(&harmless.to_string()))).await;
    assert_eq!(response.assert_status(200)["config_changes"], 0);

    // GitLab: the token is checked, then the same rule applies.
    let gitlab_push = json!({
        "object_kind": "push", "ref": "refs/heads/main", "before": "1", "after": "2", "user_username": "carol",
        "project": {"id": 7, "path_with_namespace": "acme/api"},
        "commits": [{"id": "g1", "author": {"name": "Carol", "email": "carol@example.com"}, "added": [], "modified": [".gitlab-ci.yml"], "removed": []}],
    });
    let send_gitlab = |token: Option<&str>, uuid: &str| {
        let mut request = Request::post("/webhooks/gitlab")
            .header("content-type", "application/json")
            .header("x-gitlab-event", "Push Hook")
            .header("x-gitlab-event-uuid", uuid);
        if let Some(token) = token {
            request = request.header("x-gitlab-token", token);
        }
        request.body(Body::from(gitlab_push.to_string())).unwrap()
    };
    let before = app.audit_size().await;
    assert!(app.send(send_gitlab(None, "u-1")).await.assert_problem(401).contains("missing"));
    assert!(app.send(send_gitlab(Some("wrong"), "u-1")).await.assert_problem(401).contains("does not match"));
    assert_eq!(app.audit_size().await, before + 1, "the first refusal is written, the next counted");
    assert_eq!(app.state.auth_failures.flush_all(&app.state).await.unwrap(), 1);
    let accepted = app.send(send_gitlab(Some(GITLAB_TOKEN), "u-1")).await;
    let accepted = accepted.assert_status(200).clone();
    assert_eq!(accepted["config_changes"], 1);
    let entry = &app.store.list_audit(accepted["audit_indexes"][1].as_u64().unwrap(), 1).await.unwrap()[0];
    assert_eq!(entry.record.action, "pipeline.config.changed");
    assert_eq!(entry.record.resource, "project:acme/api");
    assert_eq!(entry.record.details["commits"][0]["author"]["name"], "Carol");
    app.send(send_gitlab(Some(GITLAB_TOKEN), "u-1")).await.assert_problem(409);
}));

engine_test!(unconfigured_webhooks_are_not_found, |engine| with_database(engine, |db| async move {
    let app = TestApp::new(&db).await;
    let response = app.send(Request::post("/webhooks/github").body(Body::from("{}")).unwrap()).await;
    assert!(response.assert_problem(404).contains("not configured"));
    let response = app.send(Request::post("/webhooks/gitlab").body(Body::from("{}")).unwrap()).await;
    assert!(response.assert_problem(404).contains("not configured"));
}));

engine_test!(a_covered_deployment_waits_for_approval_and_is_answered_once_decided, |engine| with_database(
    engine,
    |db| async move {
        use gatehouse_domain::clock::Clock;
        let mut source = gatehouse_policy::PolicySetSource::defaults();
        source.files.insert(
            "approvals.toml".into(),
            "[[rule]]\nid = \"production\"\naction = \"deployment.execute\"\n\
             resources = [\"environment:acme/*:production\"]\nrequire = { quorum = 2, of = \"role:release-approver\" }\n\
             reason = \"optional\"\n"
                .into(),
        );
        let (app, standin) = github_app_with(&db, gatehouse_policy::Policies::from_source(&source).unwrap()).await;
        let bot = app.create_service("web-deployer").await;
        app.post(
            "/api/v1/grants",
            &app.admin_token,
            json!({"identity_id": bot, "role": "deployer", "scope": "environment:acme/web:production"}),
        )
        .await
        .assert_status(201);
        bind_repository(&app, &bot).await;
        let mut approvers = Vec::new();
        for name in ["ana", "bob"] {
            let id = app.create_human(name, &format!("{name}@example.com")).await;
            app.post(
                "/api/v1/grants",
                &app.admin_token,
                json!({"identity_id": id, "role": "release-approver", "scope": "environment:acme/web:production"}),
            )
            .await
            .assert_status(201);
            let token = app.create_token(&id, 3600).await;
            let started = app.post("/api/v1/mfa/totp", &token, json!({})).await.assert_status(200).clone();
            let secret = gatehouse_mfa::TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
            let code = secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
            app.post("/api/v1/mfa/totp/confirm", &token, json!({"code": code})).await.assert_status(200);
            approvers.push(token);
        }
        let answers = || {
            standin
                .calls()
                .into_iter()
                .filter_map(|call| match call {
                    GithubCall::ProtectionAnswer { body, .. } => Some(body),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };

        let event = protection_rule(&standin, "acme/web", "production");
        let waiting = deliver(&app, "deployment_protection_rule", "a-1", &event, Some(sign(&event.to_string()))).await;
        let waiting = waiting.assert_status(200).clone();
        assert_eq!(waiting["state"], "pending", "{waiting}");
        assert_eq!(waiting["rule"], "production");
        let id = waiting["request"].as_str().unwrap().to_owned();
        gatehouse_server::notify::run_once(&app.state).await.unwrap();
        assert_eq!(answers(), Vec::<Value>::new(), "nothing is answered while the request is pending");

        let request = app.get(&format!("/api/v1/requests/{id}"), &approvers[0]).await.assert_status(200).clone();
        assert_eq!(request["requester"], bot.as_str());
        assert_eq!(request["binding"]["run_id"], "77");
        for token in &approvers {
            let body = json!({"decision": "approve", "digest": request["digest"]});
            app.post(&format!("/api/v1/requests/{id}/votes"), token, body).await.assert_status(201);
        }
        gatehouse_server::notify::run_once(&app.state).await.unwrap();
        let sent = answers();
        assert_eq!(sent.len(), 1, "{:?}", standin.calls());
        assert_eq!(sent[0]["state"], "approved");
        assert_eq!(sent[0]["environment_name"], "production");
        let comment = sent[0]["comment"].as_str().unwrap();
        assert!(comment.contains("role:release-approver 2/2"), "the rule's progress is in the answer: {comment}");
        gatehouse_server::notify::run_once(&app.state).await.unwrap();
        assert_eq!(answers().len(), 1, "answered once");

        // A re-run of the approved run needs a new approval.
        let mut rerun = event.clone();
        rerun["deployment"]["id"] = json!(10);
        let again = deliver(&app, "deployment_protection_rule", "a-2", &rerun, Some(sign(&rerun.to_string()))).await;
        let again = again.assert_status(200).clone();
        assert_eq!(again["state"], "pending", "{again}");
        assert_ne!(again["request"], waiting["request"]);
        let old = app.get(&format!("/api/v1/requests/{id}"), &app.admin_token).await.assert_status(200).clone();
        assert_eq!(old["state"], "superseded");
    }
));
