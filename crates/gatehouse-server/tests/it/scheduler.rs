//! The scheduler: pending requests, unused approvals and ended access
//! expire at their instant (not before), waiters are woken, overdue
//! break-glass after-reviews are raised and raised again until reviewed,
//! and on PostgreSQL one node runs it while another takes over when it goes.

use std::time::Duration as StdDuration;

use axum::http::{Method, Request};
use gatehouse_domain::ids::ApprovalRequestId;
use gatehouse_server::scheduler::{SchedulerReport, run_once};
use gatehouse_server::{AppState, PolicyHandle};
use gatehouse_testkit::{Engine, TestApp, engine_test, with_database};
use serde_json::{Value, json};
use time::Duration;

use super::break_glass::{access, app, audit_actions, cast, execute, policies, review};
use super::people::verify;

fn ids(ids: &[ApprovalRequestId]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

async fn run(app: &TestApp) -> SchedulerReport {
    run_once(&app.state).await.expect("the scheduler runs")
}

fn deployment(run_id: &str) -> Value {
    json!({
        "kind": "action", "action": "deployment.execute",
        "resource": {"type": "Environment", "id": "acme/web:production"}, "reason": "release 1.4",
        "binding": {"forge": "github", "repository": "acme/web", "run_id": run_id, "run_attempt": 1,
                    "environment": "production", "sha": "0123456789abcdef0123456789abcdef01234567"},
    })
}

/// Waits on `/wait` in the background, as a gate does.
fn waiter(app: &TestApp, id: &str, token: &str) -> tokio::task::JoinHandle<Value> {
    let router = app.router.clone();
    let path = format!("/api/v1/requests/{id}/wait?timeout=300s");
    let token = token.to_owned();
    tokio::spawn(async move {
        use tower::ServiceExt;
        let request = Request::builder()
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty());
        let response = router.oneshot(request.unwrap()).await.unwrap();
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    })
}

engine_test!(pending_requests_and_unused_approvals_expire_at_their_instant, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let c = cast(&app).await;
        let pending = app.post("/api/v1/requests", &c.ci.token, deployment("1")).await.assert_status(201).clone();
        let pending_id = pending["id"].as_str().unwrap().to_owned();
        let approved = app.post("/api/v1/requests", &c.ci.token, deployment("2")).await.assert_status(201).clone();
        let approved_id = approved["id"].as_str().unwrap().to_owned();
        let vote = json!({"decision": "approve", "digest": approved["digest"], "reason": "ok"});
        let decided = app.post(&format!("/api/v1/requests/{approved_id}/votes"), &c.rae.token, vote).await;
        assert_eq!(decided.assert_status(201)["state"], "approved");
        let woken = waiter(&app, &pending_id, &c.ci.token);

        // A moment before the request's TTL of four hours: nothing.
        app.clock.advance(Duration::hours(4) - Duration::seconds(1));
        let early = run(&app).await;
        assert_eq!(early.expired, vec![], "{early:?}");
        assert!(!woken.is_finished());
        // At the instant: both, and the waiter hears it.
        app.clock.advance(Duration::seconds(1));
        let due = run(&app).await;
        let mut expired = ids(&due.expired);
        expired.sort();
        let mut both = vec![pending_id.clone(), approved_id.clone()];
        both.sort();
        assert_eq!(expired, both, "{due:?}");
        let heard = tokio::time::timeout(StdDuration::from_secs(10), woken).await.expect("woken").unwrap();
        assert_eq!(heard["state"], "expired", "{heard}");
        let shown = app.get(&format!("/api/v1/requests/{approved_id}"), &c.ci.token).await.assert_status(200).clone();
        assert_eq!(shown["state"], "expired");
        // An expired approval is not used.
        let used = app.post("/api/v1/authorize", &c.ci.token, execute(&approved_id)).await.assert_status(200).clone();
        assert_eq!(used["decision"], "deny", "{used}");
        // Once only, by the scheduler, with why.
        assert_eq!(run(&app).await.expired, vec![]);
        let audit = app.get("/api/v1/audit/entries?action=request.expire&limit=50", &app.admin_token).await;
        let entries = audit.assert_status(200)["items"].as_array().unwrap().clone();
        assert_eq!(entries.len(), 2, "{entries:?}");
        for entry in &entries {
            assert_eq!((entry["actor"].as_str(), entry["actor_kind"].as_str()), (Some("system"), Some("system")));
        }
    }
));

engine_test!(access_ends_when_its_grant_is_revoked_elsewhere, |engine| with_database(engine, |db| async move {
    let app = app(&db).await;
    let c = cast(&app).await;
    let glass = app.post("/api/v1/break-glass", &c.ana.token, access(None)).await.assert_status(201).clone();
    let id = glass["id"].as_str().unwrap().to_owned();
    let grant = glass["grant_id"].as_str().unwrap();
    app.delete(&format!("/api/v1/grants/{grant}"), &app.admin_token).await.assert_status(200);
    let run = run(&app).await;
    assert_eq!(ids(&run.expired), vec![id.clone()]);
    let audit = app.get("/api/v1/audit/entries?action=request.expire&limit=50", &app.admin_token).await;
    let entry = audit.assert_status(200)["items"][0].clone();
    assert!(entry["reason"].as_str().unwrap_or_default().contains("revoked"), "{entry}");
}));

engine_test!(an_overdue_after_review_is_raised_and_raised_again_until_reviewed, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let c = cast(&app).await;
        let glass = app
            .post("/api/v1/break-glass", &c.ana.token, crate::break_glass::deployment("production"))
            .await
            .assert_status(201)
            .clone();
        let id = glass["id"].as_str().unwrap().to_owned();

        app.clock.advance(Duration::hours(24) - Duration::seconds(1));
        let early = run(&app).await;
        assert_eq!((early.overdue_raised.len(), early.overdue_open), (0, 0), "{early:?}");
        app.clock.advance(Duration::seconds(1));
        let due = run(&app).await;
        assert_eq!((ids(&due.overdue_raised), due.overdue_open), (vec![id.clone()], 1), "{due:?}");
        // Not again within the repeat, again after it.
        assert_eq!(run(&app).await.overdue_raised, vec![]);
        app.clock.advance(Duration::minutes(59));
        assert_eq!(run(&app).await.overdue_raised, vec![]);
        app.clock.advance(Duration::minutes(1));
        assert_eq!(ids(&run(&app).await.overdue_raised), vec![id.clone()]);
        let shown = app.get(&format!("/api/v1/requests/{id}"), &c.ana.token).await.assert_status(200).clone();
        assert!(shown["after_review"]["last_alert_at"].is_string(), "{shown}");
        let raised: Vec<_> =
            audit_actions(&app).await.into_iter().filter(|(action, _)| action == "breakglass.overdue").collect();
        assert_eq!(raised.len(), 2, "{raised:?}");
        let metrics = app.call(Method::GET, "/metrics", None, None).await;
        assert!(metrics.text.contains("gatehouse_breakglass_overdue_alerts_total"), "{}", metrics.text);

        // Reviewed: never again.
        verify(&app, &c.sam).await;
        review(&app, &c.sam, &id, "ok").await.assert_status(201);
        app.clock.advance(Duration::hours(2));
        let after = run(&app).await;
        assert_eq!((after.overdue_raised.len(), after.overdue_open), (0, 0), "{after:?}");
    }
));

/// The advisory lock's holder on this database, ended as a crashed node's
/// session would be (waiting until it is gone).
async fn kill_leader(db: &gatehouse_testkit::TestDatabase) {
    db.execute(
        "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted AND classid = 1734440037 AND objid = 1935894628 \
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .await;
}

engine_test!(one_node_runs_the_scheduler_and_another_takes_over_when_it_goes, |engine| with_database(
    engine,
    |db| async move {
        let app = app(&db).await;
        let other = AppState::new(
            db.open_store().await,
            PolicyHandle::new(policies()),
            app.clock.clone(),
            gatehouse_testkit::test_settings(),
            None,
        );
        let first = run_once(&app.state).await.unwrap();
        let second = run_once(&other).await.unwrap();
        if engine == Engine::Sqlite {
            // One node only: it always leads.
            assert!(first.leader && second.leader);
            return;
        }
        assert!(first.leader, "the first node to try leads");
        assert!(!second.leader, "one leader at a time");
        assert!(run_once(&app.state).await.unwrap().leader, "the leader keeps leading");
        assert!(!run_once(&other).await.unwrap().leader);

        // The leader shuts down: the other leads at its next try.
        app.state.scheduler.release().await;
        assert!(run_once(&other).await.unwrap().leader);
        assert!(!run_once(&app.state).await.unwrap().leader);

        // The leader's session dies: the other takes over at its next try,
        // and the old leader finds out at its own.
        kill_leader(&db).await;
        assert!(run_once(&app.state).await.unwrap().leader);
        assert!(!run_once(&other).await.unwrap().leader);
    }
));
