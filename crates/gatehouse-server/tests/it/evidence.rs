//! The auditor's evidence file over HTTP: deployments made through the
//! gate with an approved request, their votes and commits, filtered by
//! period and environment, each entry proved; and who may not ask.

use gatehouse_audit::bundle;
use gatehouse_domain::clock::{Clock, format_rfc3339};
use gatehouse_domain::evidence::{self, EvidenceQuery};
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_testkit::git_repo::{GitSandbox, Signing};
use gatehouse_testkit::{TestApp, engine_test, with_database};
use serde_json::{Value, json};

use crate::people::{Directory, ci_service, grant};

const RULES: &str = r#"
[[rule]]
id = "production-deploys"
action = "deployment.execute"
resources = ["environment:acme/*:production"]
require = { quorum = 1, of = "role:release-approver" }
request_ttl = "4h"
"#;

fn policies() -> Policies {
    let mut source = PolicySetSource::defaults();
    source.files.insert("approvals.toml".into(), RULES.into());
    Policies::from_source(&source).expect("valid policies")
}

fn execute(environment: &str, request: Option<&str>, commit: &str) -> Value {
    let mut body = json!({"action": "deployment.execute",
        "resource": {"type": "Environment", "id": environment}, "context": {"commit": commit}});
    if let Some(id) = request {
        body["request"] = json!(id);
    }
    body
}

/// `from` and `to` a day either side of the test clock.
fn period(app: &TestApp) -> (String, String) {
    let now = app.clock.now();
    (format_rfc3339(now - time::Duration::days(1)), format_rfc3339(now + time::Duration::days(1)))
}

async fn public_key(app: &TestApp) -> String {
    let response = app.get("/api/v1/audit/public-key", &app.admin_token).await;
    response.assert_status(200);
    response.text.trim().to_owned()
}

/// Fetches the file, verifies it offline as an auditor would, and checks
/// that its sections are what its proven entries say.
async fn fetch_and_verify(app: &TestApp, query: &str) -> Value {
    let file = app.get(&format!("/api/v1/evidence?{query}"), &app.admin_token).await.assert_status(200).clone();
    let parsed = bundle::parse(file.to_string().as_bytes()).unwrap();
    let verified = bundle::verify(&parsed, evidence::FORMAT, &public_key(app).await, 2).unwrap();
    let asked = EvidenceQuery::from_json(&parsed.sections["query"]).unwrap();
    let leaves: Vec<Value> = verified.leaves.into_iter().map(|(_, leaf)| leaf).collect();
    assert_eq!(evidence::read(&asked, &leaves).sections(&asked), parsed.sections);
    file
}

engine_test!(the_file_lists_each_deployment_with_its_request_votes_and_commits, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, gatehouse_testkit::test_settings(), policies()).await;
        let directory = Directory::new(&app).await;
        let ana = directory.person(&app, "ana").await;
        grant(&app, &ana.id, "release-approver", "environment:acme/web:production").await;
        let ci = ci_service(&app).await;
        grant(&app, &ci.id, "deployer", "environment:acme/web:staging").await;

        // A commit gatehouse checked (unsigned: refused) before deploying it.
        let sandbox = GitSandbox::new();
        let sha = sandbox.commit("src/app.rs", "fn main() {}", &Signing::None);
        let verdict = json!({"id": sha, "commit": sandbox.cat(&sha), "project": "acme/web"});
        app.post("/api/v1/verify/commit", &app.admin_token, verdict).await.assert_status(200);

        // Production: asked, approved by Ana, used by the CI job.
        let ask = json!({"kind": "action", "action": "deployment.execute",
            "resource": {"type": "Environment", "id": "acme/web:production"}, "reason": "release 2.0",
            "binding": {"forge": "github", "repository": "acme/web", "run_id": "77", "run_attempt": 1,
                        "environment": "production", "sha": sha, "authors": []}});
        let request = app.post("/api/v1/requests", &ci.token, ask).await.assert_status(201).clone();
        let id = request["id"].as_str().unwrap().to_owned();
        let body = json!({"decision": "approve", "digest": request["digest"], "reason": "looked"});
        app.post(&format!("/api/v1/requests/{id}/votes"), &ana.token, body).await.assert_status(201);
        let used = app.post("/api/v1/authorize", &ci.token, execute("acme/web:production", Some(&id), &sha)).await;
        assert_eq!(used.assert_status(200)["decision"], "allow");
        // Staging: no rule covers it.
        let staged = app.post("/api/v1/authorize", &ci.token, execute("acme/web:staging", None, &sha)).await;
        assert_eq!(staged.assert_status(200)["decision"], "allow");
        // A denial is not a deployment.
        let denied = app.post("/api/v1/authorize", &ci.token, execute("acme/web:production", None, &sha)).await;
        assert_eq!(denied.assert_status(200)["decision"], "deny");

        let (from, to) = period(&app);
        let file = fetch_and_verify(&app, &format!("from={from}&to={to}")).await;
        assert_eq!(file["format"], "gatehouse-evidence/v1");
        let summary = &file["sections"]["summary"];
        assert_eq!(summary["deployments"], 2, "{summary}");
        assert_eq!(summary["approved"], 1, "{summary}");
        assert_eq!(summary["approvals"], 1, "{summary}");
        assert_eq!(summary["without_rule"], 1, "{summary}");
        assert_eq!(summary["commits_refused"], 2, "{summary}");
        assert_eq!(summary["missing"], 0, "{}", file["sections"]["missing"]);
        let deployments = file["sections"]["deployments"].as_array().unwrap();
        let production = deployments.iter().find(|d| d["environment"] == "acme/web:production").unwrap();
        assert_eq!(production["principal"], ci.id.as_str());
        assert_eq!(production["request"]["id"], id.as_str());
        assert_eq!(production["request"]["state"], "approved");
        assert_eq!(production["request"]["reason"], "release 2.0");
        let vote = &production["request"]["votes"][0];
        assert_eq!(vote["voter"], ana.id.as_str());
        assert_eq!(vote["decision"], "approve");
        assert!(vote["mfa_age_seconds"].is_u64(), "{vote}");
        assert!(production["request"]["consume"].is_u64());
        assert_eq!(production["commits"][0]["commit"], sha.as_str());
        assert_eq!(production["commits"][0]["valid"], false);
        // Every entry a deployment relies on is in the file, proved.
        let included: Vec<u64> =
            file["entries"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
        for index in
            [&production["entry"], &production["request"]["create"], &vote["entry"], &production["commits"][0]["entry"]]
        {
            assert!(included.contains(&index.as_u64().unwrap()), "{index} not in {included:?}");
        }

        // The environment glob chooses; a name alone matches any project.
        let only = fetch_and_verify(&app, &format!("from={from}&to={to}&environment=production")).await;
        assert_eq!(only["sections"]["summary"]["deployments"], 1);
        let none = fetch_and_verify(&app, &format!("from={from}&to={to}&environment=other/*:*")).await;
        assert_eq!(none["sections"]["summary"]["deployments"], 0);
        // A period before any of it holds none.
        let past = format_rfc3339(app.clock.now() - time::Duration::days(30));
        let empty = fetch_and_verify(&app, &format!("from={past}&to={from}")).await;
        assert_eq!(empty["sections"]["deployments"], json!([]));
    }
));

engine_test!(bad_periods_and_callers_without_audit_read_are_refused, |engine| with_database(engine, |db| async move {
    let app = TestApp::new(&db).await;
    let (from, to) = period(&app);
    let before = app.audit_size().await;
    for query in [
        format!("from=yesterday&to={to}"),
        format!("from={to}&to={from}"),
        format!("from={from}"),
        format!("from={from}&to={to}&environment="),
        format!("from={from}&to={to}&limit=3"),
    ] {
        let response = app.get(&format!("/api/v1/evidence?{query}"), &app.admin_token).await;
        response.assert_problem(400);
    }
    assert_eq!(app.audit_size().await, before, "a refused query records nothing");

    // Attack: a service that may deploy, not read the log.
    let ci = ci_service(&app).await;
    let refused = app.get(&format!("/api/v1/evidence?from={from}&to={to}"), &ci.token).await;
    refused.assert_problem(403);
    let anonymous =
        app.call(axum::http::Method::GET, &format!("/api/v1/evidence?from={from}&to={to}"), None, None).await;
    anonymous.assert_problem(401);
}));

mod github {
    //! A deployment GitHub's protection rule asked about, held for its
    //! approval rule: the file finds the request it was held for.

    use axum::body::Body;
    use axum::http::Request;
    use gatehouse_server::Settings;
    use gatehouse_server::integrations::{
        GITHUB_ACTIONS_ISSUER, GithubAppSettings, GithubSettings, Integrations, Secret,
    };
    use gatehouse_testkit::github_standin::GithubStandIn;
    use gatehouse_testkit::oidc_issuer::TestKey;
    use gatehouse_testkit::{TestApp, engine_test, with_database};
    use hmac::{Hmac, KeyInit, Mac};
    use serde_json::{Value, json};
    use sha2::Sha256;

    use super::{fetch_and_verify, period};
    use crate::people::{Directory, grant};

    const SECRET: &str = "webhook secret for tests";
    const APP_ID: &str = "4242";

    async fn deliver(app: &TestApp, delivery: &str, body: &Value) -> Value {
        let text = body.to_string();
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(text.as_bytes());
        let request = Request::post("/webhooks/github")
            .header("content-type", "application/json")
            .header("x-github-event", "deployment_protection_rule")
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", format!("sha256={}", hex::encode(mac.finalize().into_bytes())))
            .body(Body::from(text))
            .unwrap();
        app.send(request).await.assert_status(200).clone()
    }

    engine_test!(a_held_github_deployment_is_listed_with_the_request_it_waited_for, |engine| with_database(
        engine,
        |db| async move {
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
                    ..Integrations::default()
                },
                ..gatehouse_testkit::test_settings()
            };
            let app = TestApp::with_policies(&db, settings, crate::evidence::policies()).await;
            let bot = app.create_service("web-deployer").await;
            grant(&app, &bot, "deployer", "environment:acme/web:production").await;
            let binding = json!({"issuer": GITHUB_ACTIONS_ISSUER, "audience": "gatehouse",
                "claims": {"repository_id": "123456"}, "identity_id": bot});
            app.post("/api/v1/trust-bindings", &app.admin_token, binding).await.assert_status(201);
            let ana = Directory::new(&app).await.person(&app, "ana").await;
            grant(&app, &ana.id, "release-approver", "environment:acme/web:production").await;

            let sha = "0123456789abcdef0123456789abcdef01234567";
            let event = json!({
                "action": "requested", "environment": "production", "event": "push",
                "deployment_callback_url":
                    format!("{}/repos/acme/web/actions/runs/77/deployment_protection_rule", standin.url),
                "deployment": {"id": 9, "ref": "main", "sha": sha, "creator": {"login": "ana"}},
                "repository": {"id": 123456, "full_name": "acme/web", "owner": {"id": 987}},
                "installation": {"id": 31},
            });
            let waiting = deliver(&app, "h-1", &event).await;
            assert_eq!(waiting["state"], "pending", "{waiting}");
            let id = waiting["request"].as_str().unwrap().to_owned();
            let request = app.get(&format!("/api/v1/requests/{id}"), &ana.token).await.assert_status(200).clone();
            let body = json!({"decision": "approve", "digest": request["digest"]});
            app.post(&format!("/api/v1/requests/{id}/votes"), &ana.token, body).await.assert_status(201);

            let (from, to) = period(&app);
            let file = fetch_and_verify(&app, &format!("from={from}&to={to}")).await;
            let deployments = file["sections"]["deployments"].as_array().unwrap();
            assert_eq!(deployments.len(), 1, "{deployments:?}");
            let held = &deployments[0];
            assert_eq!(held["path"], "github-held");
            assert_eq!(held["principal"], bot.as_str());
            assert_eq!(held["rule"], "production-deploys");
            assert_eq!(held["request"]["id"], id.as_str());
            assert_eq!(held["request"]["state"], "approved");
            assert_eq!(held["request"]["votes"][0]["voter"], ana.id.as_str());
            // The commit was never verified: owed, and said so.
            assert_eq!(held["missing"], json!([format!("a signature verdict of commit {sha}")]));
            assert_eq!(file["sections"]["summary"]["missing"], 1);
        }
    ));
}

mod seeded {
    //! Entries written through the store as the vendors and reviews work
    //! writes them: an integration's compliance state at each deployment by
    //! its identity, and the access reviews closed in the period.

    use gatehouse_domain::audit::{Actor, AuditRecord};
    use gatehouse_domain::clock::Clock;
    use gatehouse_domain::identity::{IdentityKind, NewIdentity};
    use gatehouse_domain::ids::{IntegrationId, VendorId};
    use gatehouse_domain::vendor::{
        Contract, DataAccess, Integration, IntegrationState, Vendor, VendorStatus, VendorTier, declared_from_json,
    };
    use gatehouse_testkit::{TestApp, engine_test, with_database};
    use serde_json::json;
    use time::macros::date;

    use super::{fetch_and_verify, period};

    engine_test!(an_integrations_deployments_carry_its_state_and_closed_reviews_are_listed, |engine| with_database(
        engine,
        |db| async move {
            let app = TestApp::new(&db).await;
            let now = app.clock.now();
            let record = |action: &str, resource: String| AuditRecord::new(now, Actor::System, action, resource);
            let vendor = Vendor {
                id: VendorId::new(),
                name: "deploybot-inc".into(),
                tier: VendorTier::High,
                business_owner: None,
                security_owner: None,
                contract: Contract {
                    start: date!(2026 - 01 - 01),
                    renewal: date!(2026 - 12 - 01),
                    end: date!(2028 - 12 - 31),
                },
                data_access: DataAccess::Source,
                logging: None,
                status: VendorStatus::Approved,
            };
            let vendor = app.store.create_vendor(vendor, record("vendor.create", "bench".into())).await.unwrap();
            let identity = NewIdentity::new(IdentityKind::Service, "deploybot", None, now).unwrap();
            let identity = app.store.create_identity(identity, record("identity.create", "x".into())).await.unwrap();
            let id = IntegrationId::new();
            let integration = Integration {
                id,
                vendor_id: vendor.id,
                identity_id: identity.id,
                declared: declared_from_json(&json!({"method": "github_app", "token_ttl": "1h"})).unwrap(),
                state: IntegrationState::Active,
                onboarding_request: None,
                noted_in_force: None,
                registered_by: app.admin_id,
                registered_at: now,
            };
            let register = record("integration.register", format!("integration:{id}"))
                .details(json!({"integration_id": id.to_string(), "identity_id": identity.id.to_string()}));
            app.store.create_integration(integration, vec![register]).await.unwrap();
            let bot = Actor::Identity { id: identity.id.to_string(), kind: "service".into() };
            let deploy = || {
                AuditRecord::new(now, bot.clone(), "authorize", "environment:acme/web:production").details(json!({
                    "principal": identity.id.to_string(), "action": "deployment.execute", "decision": "allow",
                }))
            };
            let state =
                |action: &str, details: serde_json::Value| record(action, format!("integration:{id}")).details(details);
            app.store
                .append_audit_batch(vec![
                    state("integration.check", json!({"integration_id": id.to_string(), "compliant": true})),
                    deploy(),
                    state("integration.lapse", json!({"integration_id": id.to_string(), "reasons": ["soc2 expired"]})),
                    deploy(),
                    record("review.close", "review:q4".into()).details(json!({"decided": 12, "defaults": 3})),
                ])
                .await
                .unwrap();

            let (from, to) = period(&app);
            let file = fetch_and_verify(&app, &format!("from={from}&to={to}")).await;
            let sections = &file["sections"];
            let states: Vec<&serde_json::Value> =
                sections["deployments"].as_array().unwrap().iter().map(|d| &d["integration"]["state"]).collect();
            assert_eq!(states, vec!["compliant", "lapsed"], "{}", sections["deployments"]);
            assert_eq!(sections["deployments"][0]["integration"]["id"], id.to_string());
            assert_eq!(sections["summary"]["by_integrations"], 2);
            assert_eq!(sections["summary"]["integrations_not_in_force"], 1);
            assert_eq!(sections["summary"]["reviews_closed"], 1);
            assert_eq!(sections["reviews"][0]["resource"], "review:q4");
            assert_eq!(sections["reviews"][0]["details"]["decided"], 12);
            assert_eq!(sections["missing"], json!([]));
        }
    ));
}
