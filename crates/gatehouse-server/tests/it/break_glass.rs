//! Break-glass over HTTP: a member of the rule's `who` gets access or a
//! deployment approval at once, anyone else is refused, and the use is
//! reviewed afterwards by someone else with a fresh second factor, until
//! the rule's quorum of reviewers has.

use axum::http::Method;
use gatehouse_domain::clock::Clock;
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_database};
use serde_json::{Value, json};

use crate::people::{Directory, Person, ci_service, grant, problem_type, verify};

pub(crate) const RULES: &str = r#"
[[rule]]
id = "production-deploys"
action = "deployment.execute"
resources = ["environment:acme/*:production"]
require = { quorum = 1, of = "role:release-approver" }
request_ttl = "4h"

[rule.break_glass]
who = "group:oncall"
duration = "1h"
after_review = { within = "24h", quorum = 1, of = "group:security" }

[[rule]]
id = "maintainer-access"
action = "access"
resources = ["project:acme/*"]
require = { quorum = 1, of = "role:access-approver" }
max_duration = "8h"

[rule.break_glass]
who = "group:oncall"
duration = "2h"
after_review = { within = "24h", quorum = 2, of = "group:security" }

[[rule]]
id = "staging-deploys"
action = "deployment.execute"
resources = ["environment:acme/*:staging"]
require = { quorum = 1, of = "role:release-approver" }
"#;

pub(crate) fn policies() -> Policies {
    let mut source = PolicySetSource::defaults();
    source.files.insert("approvals.toml".into(), RULES.into());
    source.files.insert(
        "access.cedar".into(),
        r#"
@id("access-approver")
@description("Approves access requests in its scope")
permit (principal == ?principal, action in [Action::"access.approve"], resource in ?resource);

@id("hands-on-deployer")
@description("A person who deploys by hand")
permit (principal == ?principal, action in [Action::"deployment.execute"], resource in ?resource);
"#
        .into(),
    );
    Policies::from_source(&source).expect("valid policies")
}

pub(crate) async fn app(db: &gatehouse_testkit::TestDatabase) -> TestApp {
    TestApp::with_policies(db, gatehouse_testkit::test_settings(), policies()).await
}

/// Ana and Oz are on call (Ana may deploy acme/web to production), Sam and
/// Cy are in security, Bob deploys but is on no call list, Rae approves
/// releases, and a CI service deploys.
pub(crate) struct Cast {
    pub(crate) ana: Person,
    pub(crate) oz: Person,
    pub(crate) sam: Person,
    pub(crate) cy: Person,
    pub(crate) bob: Person,
    pub(crate) rae: Person,
    pub(crate) ci: Person,
}

pub(crate) async fn cast(app: &TestApp) -> Cast {
    let directory = Directory::new(app).await;
    let mut people = Vec::new();
    for name in ["ana", "oz", "sam", "cy", "bob", "rae"] {
        people.push(directory.person(app, name).await);
    }
    let [ana, oz, sam, cy, bob, rae] = <[Person; 6]>::try_from(people).ok().unwrap();
    for person in [&ana, &bob] {
        grant(app, &person.id, "hands-on-deployer", "environment:acme/web:production").await;
    }
    grant(app, &rae.id, "release-approver", "environment:acme/web:production").await;
    directory.group(app, "oncall", &[&ana, &oz]).await;
    directory.group(app, "security", &[&sam, &cy]).await;
    let ci = ci_service(app).await;
    Cast { ana, oz, sam, cy, bob, rae, ci }
}

pub(crate) fn access(duration: Option<&str>) -> Value {
    let mut body = json!({"kind": "access", "role": "maintainer", "scope": "project:acme/web",
                          "incident": "INC-7", "reason": "the pipeline is broken and prod is down"});
    if let Some(duration) = duration {
        body["duration"] = json!(duration);
    }
    body
}

pub(crate) fn deployment(environment: &str) -> Value {
    json!({"kind": "action", "action": "deployment.execute",
           "resource": {"type": "Environment", "id": format!("acme/web:{environment}")},
           "incident": "INC-8", "reason": "hotfix for the outage"})
}

pub(crate) fn edit_pipeline() -> Value {
    json!({"action": "pipeline.config.edit", "resource": {"type": "Project", "id": "acme/web"}})
}

pub(crate) fn execute(request: &str) -> Value {
    json!({"action": "deployment.execute", "resource": {"type": "Environment", "id": "acme/web:production"},
           "request": request})
}

pub(crate) async fn review(app: &TestApp, who: &Person, id: &str, decision: &str) -> TestResponse {
    let body = json!({"decision": decision, "reason": "read the incident notes"});
    app.post(&format!("/api/v1/break-glass/{id}/review"), &who.token, body).await
}

pub(crate) async fn audit_actions(app: &TestApp) -> Vec<(String, String)> {
    let audit = app.get("/api/v1/audit/entries?limit=500", &app.admin_token).await.assert_status(200).clone();
    audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| (entry["action"].as_str().unwrap().to_owned(), entry["outcome"].as_str().unwrap_or("").to_owned()))
        .collect()
}

engine_test!(a_member_gets_access_at_once_until_the_scheduler_ends_it, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let c = cast(&app).await;
        let denied = app.post("/api/v1/authorize", &c.ana.token, edit_pipeline()).await.assert_status(200).clone();
        assert_eq!(denied["decision"], "deny");

        let started = app.clock.now();
        let glass = app.post("/api/v1/break-glass", &c.ana.token, access(None)).await.assert_status(201).clone();
        assert_eq!(glass["state"], "active", "{glass}");
        assert_eq!(glass["break_glass"], true);
        assert_eq!(glass["incident"], "INC-7");
        assert_eq!(glass["duration"], "2h", "the rule's break-glass duration");
        assert!(glass["grant_id"].is_string());
        let due = gatehouse_domain::clock::format_rfc3339(started + time::Duration::hours(24));
        assert_eq!(glass["after_review_due"], due.as_str());
        assert_eq!(glass["after_review"]["need"], 2);
        assert_eq!(glass["after_review"]["reviews"], json!([]));
        let id = glass["id"].as_str().unwrap().to_owned();
        // Shown the same way to whoever reads it later.
        let shown = app.get(&format!("/api/v1/requests/{id}"), &c.ana.token).await.assert_status(200).clone();
        assert_eq!(shown["after_review_due"], due.as_str());

        // In force at once.
        let allowed = app.post("/api/v1/authorize", &c.ana.token, edit_pipeline()).await.assert_status(200).clone();
        assert_eq!(allowed["decision"], "allow", "{allowed}");
        let actions = audit_actions(&app).await;
        for action in ["breakglass.activate", "grant.create"] {
            assert!(actions.iter().any(|(a, o)| a == action && o == "success"), "{action} missing from {actions:?}");
        }

        // The scheduler ends it at its instant, not before.
        app.clock.advance(time::Duration::hours(2) - time::Duration::seconds(1));
        let early = gatehouse_server::scheduler::run_once(&app.state).await.unwrap();
        assert!(early.leader);
        assert!(!early.expired.iter().any(|expired| expired.to_string() == id), "{early:?}");
        app.clock.advance(time::Duration::seconds(1));
        let run = gatehouse_server::scheduler::run_once(&app.state).await.unwrap();
        assert_eq!(run.expired.iter().map(ToString::to_string).collect::<Vec<_>>(), vec![id.clone()]);
        let ended = app.get(&format!("/api/v1/requests/{id}"), &c.ana.token).await.assert_status(200).clone();
        assert_eq!(ended["state"], "expired");
        let after = app.post("/api/v1/authorize", &c.ana.token, edit_pipeline()).await.assert_status(200).clone();
        assert_eq!(after["decision"], "deny");

        // A shorter duration may be asked for; a longer one may not.
        app.post("/api/v1/break-glass", &c.ana.token, access(Some("3h"))).await.assert_problem(422);
        let short = app.post("/api/v1/break-glass", &c.ana.token, access(Some("30m"))).await.assert_status(201).clone();
        assert_eq!(short["duration"], "30m");
    }
));

engine_test!(a_deployment_approval_is_at_once_used_once_and_only_for_members, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let c = cast(&app).await;
        // Bob may deploy but is not on call: refused, audited, nothing made.
        let by_bob = app.post("/api/v1/break-glass", &c.bob.token, deployment("production")).await;
        assert!(by_bob.assert_problem(403).contains("oncall"), "{}", by_bob.text);
        assert!(problem_type(&by_bob).ends_with("not-eligible"));
        let listed = app.get("/api/v1/requests", &app.admin_token).await.assert_status(200).clone();
        assert_eq!(listed["items"], json!([]));
        let actions = audit_actions(&app).await;
        assert!(actions.iter().any(|(a, o)| a == "breakglass.activate" && o == "denied"), "{actions:?}");
        // Oz is on call but the policy does not let him deploy: break-glass
        // skips the approvers, never the policy.
        app.post("/api/v1/break-glass", &c.oz.token, deployment("production")).await.assert_problem(403);
        // A CI job never breaks the glass.
        let by_ci = app.post("/api/v1/break-glass", &c.ci.token, deployment("production")).await;
        assert!(problem_type(&by_ci).ends_with("not-eligible"), "{}", by_ci.text);

        let glass = app.post("/api/v1/break-glass", &c.ana.token, deployment("production")).await;
        let glass = glass.assert_status(201).clone();
        assert_eq!(glass["state"], "approved", "{glass}");
        assert_eq!(glass["break_glass"], true);
        let id = glass["id"].as_str().unwrap().to_owned();
        let expires = gatehouse_domain::clock::format_rfc3339(app.clock.now() + time::Duration::hours(1));
        assert_eq!(glass["expires_at"], expires.as_str(), "usable for the break-glass duration");
        let used = app.post("/api/v1/authorize", &c.ana.token, execute(&id)).await.assert_status(200).clone();
        assert_eq!(used["decision"], "allow", "{used}");
        let again = app.post("/api/v1/authorize", &c.ana.token, execute(&id)).await.assert_status(200).clone();
        assert_eq!(again["decision"], "deny");
    }
));

engine_test!(bad_break_glass_input_is_refused_and_changes_nothing, |engine| with_database(engine, |db| async move {
    let app = app(&db).await;
    let c = cast(&app).await;
    let size = app.audit_size().await;
    let with = |field: &str, value: Value| {
        let mut body = access(None);
        body[field] = value;
        body
    };
    for (body, says) in [
        (with("incident", json!("")), "incident"),
        (with("incident", json!("x".repeat(129))), "incident"),
        (with("reason", json!("  ")), "reason"),
        (deployment("staging"), "no break-glass"),
        (with("scope", json!("project:other/repo")), "no approval rule"),
        (with("duration", json!("forever")), "duration"),
        (with("kind", json!("nonsense")), "kind"),
        (with("role", json!("no-such-role")), "role"),
    ] {
        let refused = app.post("/api/v1/break-glass", &c.ana.token, body.clone()).await;
        assert!(refused.assert_problem(422).contains(says), "{says}: {}", refused.text);
    }
    for body in [json!({"kind": "access"}), with("extra", json!(true)), with("incident", json!(7))] {
        let refused = app.post("/api/v1/break-glass", &c.ana.token, body.clone()).await;
        assert!(matches!(refused.status.as_u16(), 400 | 422), "{body}: {}", refused.text);
    }
    app.call(Method::POST, "/api/v1/break-glass", None, Some(access(None))).await.assert_problem(401);
    assert_eq!(app.audit_size().await, size, "refused input wrote to the log");
    let listed = app.get("/api/v1/requests", &app.admin_token).await.assert_status(200).clone();
    assert_eq!(listed["items"], json!([]));
}));

engine_test!(the_after_review_is_someone_elses_with_a_fresh_factor_until_its_quorum, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let c = cast(&app).await;
        let glass = app.post("/api/v1/break-glass", &c.ana.token, access(None)).await.assert_status(201).clone();
        let id = glass["id"].as_str().unwrap().to_owned();
        let size = app.audit_size().await;

        // Not one's own, not by someone outside the review pool.
        let own = review(&app, &c.ana, &id, "ok").await;
        assert!(own.assert_problem(403).contains("your own"), "{}", own.text);
        assert!(problem_type(&own).ends_with("not-eligible"));
        let outsider = review(&app, &c.oz, &id, "ok").await;
        assert!(outsider.assert_problem(403).contains("security"), "{}", outsider.text);
        // A second factor as fresh as a vote needs.
        app.clock.advance(time::Duration::minutes(6));
        let stale = review(&app, &c.sam, &id, "flag").await;
        stale.assert_problem(403);
        assert!(problem_type(&stale).ends_with("mfa-required"), "{}", stale.text);
        // Bad input.
        let path = format!("/api/v1/break-glass/{id}/review");
        app.post(&path, &c.sam.token, json!({"decision": "maybe", "reason": "x"})).await.assert_problem(422);
        app.post(&path, &c.sam.token, json!({"decision": "ok", "reason": " "})).await.assert_problem(422);
        app.post(&path, &c.sam.token, json!({"decision": "ok"})).await.assert_problem(422);
        let unknown = "01890a5d-ac96-774b-bcce-b302099a8057";
        review(&app, &c.sam, unknown, "ok").await.assert_problem(404);
        review(&app, &c.sam, "not-an-id", "ok").await.assert_problem(400);
        // Those who owe the review see what they review, and find it in
        // their list; an outsider does not.
        app.get(&format!("/api/v1/requests/{id}"), &c.sam.token).await.assert_status(200);
        app.get(&format!("/api/v1/requests/{id}"), &c.oz.token).await.assert_problem(404);
        let owed = |token: String| {
            let app = &app;
            async move {
                let listed = app.get("/api/v1/requests?after_review=true", &token).await.assert_status(200).clone();
                listed["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["id"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(owed(c.sam.token.clone()).await, vec![id.clone()]);
        assert_eq!(owed(c.oz.token.clone()).await, Vec::<String>::new());
        assert_eq!(owed(c.ana.token.clone()).await, Vec::<String>::new(), "not one's own");
        app.get("/api/v1/requests?after_review=true&reviewable=true", &c.sam.token).await.assert_problem(400);
        // The refusals are audited as refusals only.
        let shown = app.get(&format!("/api/v1/requests/{id}"), &c.ana.token).await.assert_status(200).clone();
        assert_eq!(shown["after_review"]["reviews"], json!([]));
        assert!(app.audit_size().await > size);

        verify(&app, &c.sam).await;
        let flagged = review(&app, &c.sam, &id, "flag").await.assert_status(201).clone();
        assert_eq!(flagged["after_review"]["flagged"], true, "{flagged}");
        assert_eq!(flagged["after_review"]["completed_at"], Value::Null, "two reviewers are needed");
        assert_eq!(flagged["after_review"]["reviews"][0]["reviewer"], c.sam.id.as_str());
        review(&app, &c.sam, &id, "ok").await.assert_problem(409);
        assert_eq!(owed(c.sam.token.clone()).await, Vec::<String>::new(), "reviewed: no longer owed");
        verify(&app, &c.cy).await;
        let done = review(&app, &c.cy, &id, "ok").await.assert_status(201).clone();
        assert!(done["after_review"]["completed_at"].is_string(), "{done}");
        assert_eq!(done["after_review"]["reviews"].as_array().unwrap().len(), 2);
        let actions = audit_actions(&app).await;
        let reviews = actions.iter().filter(|(a, o)| a == "breakglass.review" && o == "success").count();
        assert_eq!(reviews, 2, "{actions:?}");

        // A request that is not break-glass has no after-review.
        verify(&app, &c.rae).await;
        let plain = app
            .post(
                "/api/v1/requests",
                &c.ci.token,
                json!({"kind": "action", "action": "deployment.execute", "reason": "release 1.4",
                       "resource": {"type": "Environment", "id": "acme/web:production"}}),
            )
            .await
            .assert_status(201)
            .clone();
        assert_eq!(plain["after_review_due"], Value::Null);
        review(&app, &c.sam, plain["id"].as_str().unwrap(), "ok").await.assert_problem(404);
    }
));
