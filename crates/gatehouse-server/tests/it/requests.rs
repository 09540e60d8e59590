//! The approved channel over HTTP: asking, voting with a fresh second
//! factor, each person counted once, the excluded refused with the reason,
//! approvals used once, access that starts and ends, waiting, cancelling.

use std::time::Duration as StdDuration;

use axum::http::{Method, Request};
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_database};

use crate::people::{Directory, Person, ci_service, grant, problem_type, verify};
use serde_json::{Value, json};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const OTHER_SHA: &str = "89abcdef0123456789abcdef0123456789abcdef";

const RULES: &str = r#"
[[rule]]
id = "production-deploys"
action = "deployment.execute"
resources = ["environment:acme/*:production"]
require = { all = [ { quorum = 1, of = "role:release-approver" }, { quorum = 1, of = "group:security" } ] }
request_ttl = "4h"

[[rule]]
id = "maintainer-access"
action = "access"
resources = ["project:acme/*"]
require = { quorum = 2, of = "role:access-approver" }
max_duration = "8h"
reason = "required"
ticket = '^(CHG|INC)-\d+$'
"#;

/// The built-in policies, the rules above, and a role that approves access.
fn policies() -> Policies {
    let mut source = PolicySetSource::defaults();
    source.files.insert("approvals.toml".into(), RULES.into());
    source.files.insert(
        "access.cedar".into(),
        r#"
@id("access-approver")
@description("Approves access requests in its scope")
permit (principal == ?principal, action in [Action::"access.approve"], resource in ?resource);
"#
        .into(),
    );
    Policies::from_source(&source).expect("valid policies")
}

async fn app(db: &gatehouse_testkit::TestDatabase) -> TestApp {
    TestApp::with_policies(db, gatehouse_testkit::test_settings(), policies()).await
}

/// The cast, each person with a fresh second factor: Ana (release
/// approver), Sam and Cy (release approvers in the security group), Bob
/// (release approver, the author of the commit), Una and Vic (access
/// approvers), and the CI service that deploys acme/web to production.
struct Cast {
    ana: Person,
    sam: Person,
    cy: Person,
    bob: Person,
    una: Person,
    vic: Person,
    ci: Person,
}

async fn cast(app: &TestApp) -> Cast {
    let directory = Directory::new(app).await;
    let mut people = Vec::new();
    for name in ["ana", "sam", "cy", "bob", "una", "vic"] {
        people.push(directory.person(app, name).await);
    }
    let [ana, sam, cy, bob, una, vic] = <[Person; 6]>::try_from(people).ok().unwrap();
    for person in [&ana, &sam, &cy, &bob] {
        grant(app, &person.id, "release-approver", "environment:acme/web:production").await;
    }
    for person in [&una, &vic] {
        grant(app, &person.id, "access-approver", "project:acme/web").await;
    }
    directory.group(app, "security", &[&sam, &cy]).await;
    let ci = ci_service(app).await;
    Cast { ana, sam, cy, bob, una, vic, ci }
}

fn deployment(sha: &str, attempt: u32, authors: &[&str]) -> Value {
    json!({
        "kind": "action", "action": "deployment.execute",
        "resource": {"type": "Environment", "id": "acme/web:production"},
        "reason": "release 1.4",
        "binding": {"forge": "github", "repository": "acme/web", "run_id": "9001", "run_attempt": attempt,
                    "environment": "production", "sha": sha, "authors": authors},
    })
}

fn execute(request: Option<&str>) -> Value {
    let mut body =
        json!({"action": "deployment.execute", "resource": {"type": "Environment", "id": "acme/web:production"}});
    if let Some(id) = request {
        body["request"] = json!(id);
    }
    body
}

async fn vote(app: &TestApp, token: &str, request: &Value, decision: &str) -> TestResponse {
    let id = request["id"].as_str().unwrap();
    let body = json!({"decision": decision, "digest": request["digest"], "reason": "checked the diff"});
    app.post(&format!("/api/v1/requests/{id}/votes"), token, body).await
}

engine_test!(a_deployment_needs_one_of_each_clause_counts_people_once_and_is_used_once, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let c = cast(&app).await;

        // Covered by a rule: the policy alone no longer decides.
        let gated = app.post("/api/v1/authorize", &c.ci.token, execute(None)).await.assert_status(200).clone();
        assert_eq!(gated["decision"], "deny", "{gated}");
        assert_eq!(gated["request_required"], true);
        assert_eq!(gated["rule"], "production-deploys");

        let opened = app.post("/api/v1/requests", &c.ci.token, deployment(SHA, 1, &[])).await;
        let request = opened.assert_status(201).clone();
        assert_eq!(request["state"], "pending");
        assert_eq!(request["rule"], "production-deploys");
        assert_eq!(request["requester"], c.ci.id.as_str());
        assert_eq!(
            request["clauses"],
            json!([{"id": 0, "of": "role:release-approver", "need": 1, "have": 0},
                                              {"id": 1, "of": "group:security", "need": 1, "have": 0}])
        );
        let id = request["id"].as_str().unwrap().to_owned();

        // Sam is in both pools: his approval fills one seat, never two.
        let after_sam = vote(&app, &c.sam.token, &request, "approve").await.assert_status(201).clone();
        assert_eq!(after_sam["state"], "pending", "{after_sam}");
        let have: u64 = after_sam["clauses"].as_array().unwrap().iter().map(|c| c["have"].as_u64().unwrap()).sum();
        assert_eq!(have, 1, "{after_sam}");
        // A second vote by the same person: 409, nothing recorded.
        let again = vote(&app, &c.sam.token, &request, "approve").await;
        again.assert_problem(409);

        // Ana (release approver only) completes it: Sam takes security.
        let decided = vote(&app, &c.ana.token, &request, "approve").await.assert_status(201).clone();
        assert_eq!(decided["state"], "approved", "{decided}");
        assert_eq!(decided["assignment"], json!({"0": [c.ana.id], "1": [c.sam.id]}));
        assert!(decided["decided_at"].is_string());
        // Decided: more votes are refused.
        vote(&app, &c.cy.token, &request, "approve").await.assert_problem(409);

        // Used once by the requester, then never again.
        let used = app.post("/api/v1/authorize", &c.ci.token, execute(Some(&id))).await.assert_status(200).clone();
        assert_eq!(used["decision"], "allow", "{used}");
        let shown = app.get(&format!("/api/v1/requests/{id}"), &c.ci.token).await.assert_status(200).clone();
        assert_eq!(shown["state"], "consumed");
        let reused = app.post("/api/v1/authorize", &c.ci.token, execute(Some(&id))).await.assert_status(200).clone();
        assert_eq!(reused["decision"], "deny", "{reused}");

        // Every step is in the log.
        let audit = app.get("/api/v1/audit/entries?limit=500", &app.admin_token).await.assert_status(200).clone();
        let actions: Vec<&str> =
            audit["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        for action in ["request.create", "request.vote", "request.decide", "request.consume"] {
            assert!(actions.contains(&action), "{action} missing from {actions:?}");
        }
    }
));

engine_test!(the_requester_a_commit_author_a_service_and_a_stale_factor_cannot_vote, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let c = cast(&app).await;
        let request = app
            .post("/api/v1/requests", &c.ci.token, deployment(SHA, 1, &["bob@example.com"]))
            .await
            .assert_status(201)
            .clone();
        let id = request["id"].as_str().unwrap().to_owned();

        // The requester (a service, too): never.
        let by_requester = vote(&app, &c.ci.token, &request, "approve").await;
        assert!(by_requester.assert_problem(403).contains("never vote"), "{}", by_requester.text);
        assert!(problem_type(&by_requester).ends_with("not-eligible"));
        // The author of the commit being deployed.
        let by_author = vote(&app, &c.bob.token, &request, "approve").await;
        assert!(by_author.assert_problem(403).contains("author"), "{}", by_author.text);
        assert!(problem_type(&by_author).ends_with("not-eligible"));
        // Someone the policy does not let approve deployments (Una approves access only).
        let by_stranger = vote(&app, &c.una.token, &request, "approve").await;
        // Una may not even see it: the rule does not count her.
        by_stranger.assert_problem(404);
        // A second factor older than the rule's five minutes.
        app.clock.advance(time::Duration::minutes(6));
        let stale = vote(&app, &c.ana.token, &request, "approve").await;
        stale.assert_problem(403);
        assert!(problem_type(&stale).ends_with("mfa-required"), "{}", stale.text);
        // A digest that is not what was shown.
        let mut forged = request.clone();
        forged["digest"] = json!("0".repeat(64));
        verify(&app, &c.cy).await;
        vote(&app, &c.cy.token, &forged, "approve").await.assert_problem(409);

        // None of it counted.
        let shown = app.get(&format!("/api/v1/requests/{id}"), &c.ci.token).await.assert_status(200).clone();
        assert_eq!(shown["votes"], json!([]), "{shown}");
        assert_eq!(shown["state"], "pending");
    }
));

engine_test!(access_is_granted_on_approval_for_its_duration_and_can_be_revoked, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let c = cast(&app).await;
        let ask = |reason: Value, ticket: Value, duration: &str, scope: &str| {
            json!({"kind": "access", "role": "maintainer", "scope": scope, "duration": duration,
                   "reason": reason, "ticket": ticket})
        };
        // The rule's conditions, each a 422 that changes nothing.
        let size = app.audit_size().await;
        for (body, says) in [
            (ask(Value::Null, json!("CHG-1"), "2h", "project:acme/web"), "reason"),
            (ask(json!("fix the pipeline"), json!("JIRA-1"), "2h", "project:acme/web"), "does not match"),
            (ask(json!("fix the pipeline"), Value::Null, "2h", "project:acme/web"), "ticket"),
            (ask(json!("fix the pipeline"), json!("CHG-1"), "9h", "project:acme/web"), "maximum"),
            (ask(json!("fix the pipeline"), json!("CHG-1"), "2h", "project:other/repo"), "no approval rule"),
        ] {
            let refused = app.post("/api/v1/requests", &c.ana.token, body).await;
            assert!(refused.assert_problem(422).contains(says), "{says}: {}", refused.text);
        }
        assert_eq!(app.audit_size().await, size);

        let before = json!({"action": "pipeline.config.edit", "resource": {"type": "Project", "id": "acme/web"}});
        let denied = app.post("/api/v1/authorize", &c.ana.token, before.clone()).await.assert_status(200).clone();
        assert_eq!(denied["decision"], "deny");

        let request = app
            .post(
                "/api/v1/requests",
                &c.ana.token,
                ask(json!("fix the pipeline"), json!("CHG-42"), "2h", "project:acme/web"),
            )
            .await
            .assert_status(201)
            .clone();
        // The requester may not approve their own request.
        let own = vote(&app, &c.ana.token, &request, "approve").await;
        assert!(own.assert_problem(403).contains("own request"), "{}", own.text);
        vote(&app, &c.una.token, &request, "approve").await.assert_status(201);
        let active = vote(&app, &c.vic.token, &request, "approve").await.assert_status(201).clone();
        assert_eq!(active["state"], "active", "{active}");
        assert!(active["grant_id"].is_string());

        let allowed = app.post("/api/v1/authorize", &c.ana.token, before.clone()).await.assert_status(200).clone();
        assert_eq!(allowed["decision"], "allow", "{allowed}");
        // The clock started at approval: two hours later it is over.
        app.clock.advance(time::Duration::hours(2) + time::Duration::seconds(1));
        let over = app.post("/api/v1/authorize", &c.ana.token, before.clone()).await.assert_status(200).clone();
        assert_eq!(over["decision"], "deny");

        // A second request, revoked early by its holder.
        verify(&app, &c.una).await;
        verify(&app, &c.vic).await;
        let second = app
            .post("/api/v1/requests", &c.ana.token, ask(json!("again"), json!("INC-7"), "1h", "project:acme/web"))
            .await
            .assert_status(201)
            .clone();
        vote(&app, &c.una.token, &second, "approve").await.assert_status(201);
        vote(&app, &c.vic.token, &second, "approve").await.assert_status(201);
        let id = second["id"].as_str().unwrap();
        // Someone else without grant.manage cannot revoke it.
        app.post(&format!("/api/v1/requests/{id}/revoke"), &c.bob.token, json!({})).await.assert_problem(404);
        let revoked = app.post(&format!("/api/v1/requests/{id}/revoke"), &c.ana.token, json!({"reason": "done"})).await;
        assert_eq!(revoked.assert_status(200)["state"], "revoked");
        let after = app.post("/api/v1/authorize", &c.ana.token, before).await.assert_status(200).clone();
        assert_eq!(after["decision"], "deny");
        app.post(&format!("/api/v1/requests/{id}/revoke"), &c.ana.token, json!({})).await.assert_problem(409);
    }
));

engine_test!(one_deny_decides_the_requester_cancels_and_a_waiter_is_woken, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let c = cast(&app).await;
        let request =
            app.post("/api/v1/requests", &c.ci.token, deployment(SHA, 1, &[])).await.assert_status(201).clone();
        let id = request["id"].as_str().unwrap().to_owned();

        // Waiting: answered at once when the timeout is zero, still pending.
        let now = app.get(&format!("/api/v1/requests/{id}/wait?timeout=0s"), &c.ci.token).await;
        assert_eq!(now.assert_status(200)["state"], "pending");
        // A waiter is woken by the deciding vote.
        let waiter = {
            let app_router = app.router.clone();
            let path = format!("/api/v1/requests/{id}/wait?timeout=60s");
            let token = c.ci.token.clone();
            tokio::spawn(async move {
                use tower::ServiceExt;
                let request = Request::builder()
                    .uri(path)
                    .header("authorization", format!("Bearer {token}"))
                    .body(axum::body::Body::empty())
                    .unwrap();
                let response = app_router.oneshot(request).await.unwrap();
                let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
                serde_json::from_slice::<Value>(&bytes).unwrap()
            })
        };
        // A deny needs a reason.
        let id_path = format!("/api/v1/requests/{id}/votes");
        let bare = json!({"decision": "deny", "digest": request["digest"]});
        app.post(&id_path, &c.ana.token, bare).await.assert_problem(422);
        let denied = app
            .post(
                &id_path,
                &c.ana.token,
                json!({"decision": "deny", "digest": request["digest"], "reason": "not today"}),
            )
            .await
            .assert_status(201)
            .clone();
        assert_eq!(denied["state"], "denied");
        let woken = tokio::time::timeout(StdDuration::from_secs(10), waiter).await.expect("woken").unwrap();
        assert_eq!(woken["state"], "denied", "{woken}");
        let gated = app.post("/api/v1/authorize", &c.ci.token, execute(Some(&id))).await.assert_status(200).clone();
        assert_eq!(gated["decision"], "deny");

        // A new attempt opens a new request; the requester cancels it; only
        // the requester may.
        let second =
            app.post("/api/v1/requests", &c.ci.token, deployment(SHA, 2, &[])).await.assert_status(201).clone();
        let second_id = second["id"].as_str().unwrap();
        app.delete(&format!("/api/v1/requests/{second_id}"), &c.ana.token).await.assert_problem(403);
        let cancelled = app.delete(&format!("/api/v1/requests/{second_id}"), &c.ci.token).await;
        assert_eq!(cancelled.assert_status(200)["state"], "cancelled");
        app.delete(&format!("/api/v1/requests/{second_id}"), &c.ci.token).await.assert_problem(409);
    }
));

engine_test!(a_run_asking_again_attaches_and_a_new_commit_supersedes, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let c = cast(&app).await;
        let first = app.post("/api/v1/requests", &c.ci.token, deployment(SHA, 1, &[])).await.assert_status(201).clone();
        vote(&app, &c.sam.token, &first, "approve").await.assert_status(201);
        // The same run and commit asks again: the same request, votes kept.
        let again = app.post("/api/v1/requests", &c.ci.token, deployment(SHA, 1, &[])).await.assert_status(200).clone();
        assert_eq!(again["id"], first["id"]);
        assert_eq!(again["votes"].as_array().unwrap().len(), 1);
        // A new commit for the same run and environment supersedes it; its
        // votes do not carry over.
        let newer =
            app.post("/api/v1/requests", &c.ci.token, deployment(OTHER_SHA, 1, &[])).await.assert_status(201).clone();
        assert_ne!(newer["id"], first["id"]);
        assert_eq!(newer["votes"], json!([]));
        let old = app.get(&format!("/api/v1/requests/{}", first["id"].as_str().unwrap()), &c.ci.token).await;
        assert_eq!(old.assert_status(200)["state"], "superseded");
        // The old approval vote cannot be cast on the superseded request.
        vote(&app, &c.ana.token, &first, "approve").await.assert_problem(409);
    }
));

engine_test!(bad_input_and_other_peoples_requests_are_refused_and_change_nothing, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let c = cast(&app).await;
        let request =
            app.post("/api/v1/requests", &c.ci.token, deployment(SHA, 1, &[])).await.assert_status(201).clone();
        let id = request["id"].as_str().unwrap().to_owned();
        let size = app.audit_size().await;

        app.get("/api/v1/requests/not-an-id", &c.ci.token).await.assert_problem(400);
        let unknown = "01890a5d-ac96-774b-bcce-b302099a8057";
        app.get(&format!("/api/v1/requests/{unknown}"), &c.ci.token).await.assert_problem(404);
        vote(&app, &c.ana.token, &json!({"id": unknown, "digest": "x"}), "approve").await.assert_problem(404);
        // Someone the rule does not count, who did not ask: not found.
        app.get(&format!("/api/v1/requests/{id}"), &c.vic.token).await.assert_problem(404);
        // Malformed bodies and wrong types.
        for body in [
            json!({"kind": "access"}),
            json!({"kind": "nonsense"}),
            json!({"kind": "action", "action": "deployment.execute", "resource": {"type": "Environment", "id": "acme/web:production"},
                   "binding": {"forge": "svn", "repository": "acme/web", "run_id": "1", "run_attempt": 1,
                               "environment": "production", "sha": SHA}}),
            json!({"kind": "action", "action": "deployment.execute", "resource": {"type": "Environment", "id": "acme/web:production"},
                   "binding": {"forge": "github", "repository": "acme/other", "run_id": "1", "run_attempt": 1,
                               "environment": "production", "sha": SHA}}),
            json!({"kind": "action", "action": "deployment.execute", "resource": {"type": "Environment", "id": "acme/web:production"},
                   "binding": {"forge": "github", "repository": "acme/web", "run_id": "1", "run_attempt": 1,
                               "environment": "production", "sha": "not-a-sha"}}),
            json!({"kind": "access", "role": "maintainer", "scope": "project:acme/web", "duration": "forever",
                   "reason": "x", "ticket": "CHG-1"}),
            json!({"kind": "access", "role": 7}),
            json!({"kind": "access", "extra": true}),
        ] {
            let refused = app.post("/api/v1/requests", &c.ana.token, body.clone()).await;
            assert!(matches!(refused.status.as_u16(), 400 | 422), "{body}: {} {}", refused.status, refused.text);
        }
        let vote_path = format!("/api/v1/requests/{id}/votes");
        app.post(&vote_path, &c.ana.token, json!({"decision": "maybe", "digest": request["digest"]}))
            .await
            .assert_problem(422);
        app.get("/api/v1/requests?state=sideways", &c.ana.token).await.assert_problem(400);
        app.get(&format!("/api/v1/requests/{id}/wait?timeout=1d"), &c.ci.token).await.assert_problem(400);
        // Listing another identity's requests needs audit.read.
        app.get(&format!("/api/v1/requests?requester={}", c.ci.id), &c.ana.token).await.assert_problem(403);
        // Without a credential: 401.
        app.call(Method::GET, "/api/v1/requests", None, None).await.assert_problem(401);
        assert_eq!(app.audit_size().await, size, "refused input wrote to the log");

        // What the listing shows: one's own; reviewable ones; all for an auditor.
        let own = app.get("/api/v1/requests", &c.ci.token).await.assert_status(200).clone();
        assert_eq!(own["items"].as_array().unwrap().len(), 1);
        let reviewable = app.get("/api/v1/requests?reviewable=true", &c.ana.token).await.assert_status(200).clone();
        assert_eq!(reviewable["items"][0]["id"], id.as_str());
        let none = app.get("/api/v1/requests?reviewable=true", &c.una.token).await.assert_status(200).clone();
        assert_eq!(none["items"], json!([]));
        let all = app.get("/api/v1/requests", &app.admin_token).await.assert_status(200).clone();
        assert_eq!(all["items"].as_array().unwrap().len(), 1);
    }
));

engine_test!(a_rule_the_directory_cannot_satisfy_is_reported_audited_and_shown_on_readyz, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        // Nobody holds access-approver and there is no security group yet.
        let checked = app.get("/api/v1/approvals/check", &app.admin_token).await.assert_status(200).clone();
        assert_eq!(checked["rules"], 2);
        let problems = checked["problems"].as_array().unwrap();
        assert!(problems.iter().any(|p| p["rule"] == "production-deploys"), "{checked}");
        assert!(problems.iter().any(|p| p["message"].as_str().unwrap().contains("nobody is in")), "{checked}");
        let ready = app.call(Method::GET, "/readyz", None, None).await.assert_status(200).clone();
        assert!(ready["warnings"][0].as_str().unwrap().contains("approvals.toml:"), "{ready}");
        // Without audit.read: refused.
        let someone = app.create_human("Someone", "someone@example.com").await;
        let someone = app.create_token(&someone, 3600).await;
        app.get("/api/v1/approvals/check", &someone).await.assert_problem(403);

        // The directory changes: two access approvers for a quorum of two
        // make each of them indispensable…
        let c = cast(&app).await;
        let checked = app.get("/api/v1/approvals/check", &app.admin_token).await.assert_status(200).clone();
        let problems = checked["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 1, "{checked}");
        assert_eq!(problems[0]["rule"], "maintainer-access");
        assert!(problems[0]["message"].as_str().unwrap().contains("indispensable"), "{checked}");
        // …and a third makes every rule satisfiable without any one person.
        grant(&app, &c.cy.id, "access-approver", "project:acme/web").await;
        let checked = app.get("/api/v1/approvals/check", &app.admin_token).await.assert_status(200).clone();
        assert_eq!(checked["problems"], json!([]), "{checked}");
        let ready = app.call(Method::GET, "/readyz", None, None).await.assert_status(200).clone();
        assert!(ready.get("warnings").is_none(), "{ready}");
        let audit = app.get("/api/v1/audit/entries?limit=500", &app.admin_token).await.assert_status(200).clone();
        let checks: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "approvals.check")
            .filter_map(|e| e["outcome"].as_str())
            .collect();
        assert_eq!(checks, vec!["failure", "failure", "success"], "an entry per change in what the rules can satisfy");
    }
));
