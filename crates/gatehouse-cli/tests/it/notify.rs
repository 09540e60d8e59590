//! A `gatehouse serve` process tells a configured target of a request, and
//! refuses to start when a rule names a target nobody configured.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use gatehouse_audit::note_key::NoteSigner;
use gatehouse_domain::access::{NewApprovalRequest, RequestKind, RequestState};
use gatehouse_domain::audit::{AuditAction, AuditRecord, SystemWriter};
use gatehouse_domain::grant::Scope;
use gatehouse_domain::ids::ApprovalRequestId;
use gatehouse_store::AuditSettings;
use gatehouse_testkit::{engine_test, with_database};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::support::{Server, gatehouse, run, stderr};

const SECRET: &str = "process test notify secret";

type Inbox = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

async fn take(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) {
    inbox.lock().unwrap().push((headers, body.to_vec()));
}

fn rules(target: &str) -> String {
    format!(
        "[[rule]]\nid = \"prod-access\"\naction = \"access\"\nresources = [\"project:acme/**\"]\n\
         require = {{ quorum = 1, of = \"role:release-approver\" }}\nmax_duration = \"8h\"\nnotify = [\"{target}\"]\n"
    )
}

engine_test!(a_served_rule_notifies_its_configured_target, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let init = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "ana@example.com"]));
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));

    let inbox: Inbox = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://127.0.0.1:{}/hook/very-secret-path", listener.local_addr().unwrap().port());
    let app = Router::new().route("/hook/very-secret-path", post(take)).with_state(inbox.clone());
    let receiver = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    std::fs::write(
        data_dir.join("gatehouse.toml"),
        format!("[notify.ops]\nurl = \"{hook}\"\nkind = \"webhook\"\nsecret = \"{SECRET}\"\n"),
    )
    .unwrap();

    // A rule naming a target nobody configured: no start.
    let approvals = data_dir.join("policy/approvals.toml");
    std::fs::write(&approvals, rules("pager")).unwrap();
    let refused = run(gatehouse(&data_dir, &db.url).args(["serve", "--listen", "127.0.0.1:0"]));
    assert_eq!(refused.status.code(), Some(2));
    let why = stderr(&refused);
    assert!(why.contains("rule `prod-access` notifies `pager`") && why.contains("[notify.pager]"), "{why}");
    let validate = run(gatehouse(&data_dir, &db.url).args(["policy", "validate"]));
    assert_eq!(validate.status.code(), Some(0));
    assert!(stderr(&validate).contains("warning:"), "{}", stderr(&validate));

    std::fs::write(&approvals, rules("ops")).unwrap();
    let server = Server::start(&data_dir, &db.url).await;

    // A request, written as the API writes one (with the node's audit key).
    let key = std::fs::read_to_string(data_dir.join("audit-signing.key")).unwrap();
    let signer = Arc::new(NoteSigner::parse(key.trim()).unwrap());
    let store = db.open_store_with(AuditSettings { signer: Some(signer), ..AuditSettings::default() }).await;
    let ana = store.find_human_by_email("ana@example.com").await.unwrap().unwrap();
    let id = ApprovalRequestId::new();
    let now = OffsetDateTime::now_utc();
    let new = NewApprovalRequest {
        id,
        kind: RequestKind::Access {
            role: "deployer".parse().unwrap(),
            scope: Scope::parse("project:acme/web").unwrap(),
            duration: time::Duration::hours(1),
        },
        state: RequestState::Pending,
        rule_id: "prod-access".into(),
        policy_hash: "h".into(),
        requester: ana.id,
        reason: Some("release".into()),
        ticket: None,
        digest: "d".into(),
        break_glass: false,
        incident: None,
        grant: None,
        created_at: now,
        expires_at: now + time::Duration::hours(4),
    };
    let record =
        AuditRecord::system(SystemWriter::Initialization, now, AuditAction::RequestCreate, format!("request:{id}"))
            .details(json!({"request_id": id.to_string()}));
    store.create_approval_request(new, vec![record]).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    while inbox.lock().unwrap().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let received = inbox.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "log:\n{}", server.log_text());
    let (headers, body) = &received[0];
    let body: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(body["event"], "request.created");
    assert_eq!(body["request_id"], id.to_string());
    assert!(headers["x-gatehouse-signature-256"].to_str().unwrap().starts_with("sha256="));
    let log = server.log_text();
    assert!(!log.contains(SECRET) && !log.contains("very-secret-path"), "{log}");

    // A reload to a rule naming an unconfigured target is refused, as a
    // start is, and audited with the reason; the working rules stay.
    let before = store.audit_size().await.unwrap();
    std::fs::write(&approvals, rules("pager")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let refusal = loop {
        let entries = store.list_audit(before, 100).await.unwrap();
        if let Some(entry) = entries.into_iter().find(|e| e.record.action == "policy.reload") {
            break entry;
        }
        assert!(Instant::now() < deadline, "no reload entry: {}", server.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refusal.record.outcome.as_str(), "failure");
    assert!(refusal.record.details["problems"].to_string().contains("notifies `pager`"), "{:?}", refusal.record);

    // So is a vendor-access.toml telling a target nobody configured.
    let before = store.audit_size().await.unwrap();
    std::fs::write(data_dir.join("policy/vendor-access.toml"), "notify = [\"security\"]\n").unwrap();
    std::fs::write(&approvals, rules("ops")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let refusal = loop {
        let entries = store.list_audit(before, 100).await.unwrap();
        if let Some(entry) = entries.into_iter().find(|e| e.record.action == "policy.reload") {
            break entry;
        }
        assert!(Instant::now() < deadline, "no reload entry: {}", server.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refusal.record.outcome.as_str(), "failure");
    let problems = refusal.record.details["problems"].to_string();
    assert!(problems.contains("vendor-access.toml") && problems.contains("notify names `security`"), "{problems}");

    // And a reviews.toml telling a target nobody configured.
    let before = store.audit_size().await.unwrap();
    std::fs::remove_file(data_dir.join("policy/vendor-access.toml")).unwrap();
    std::fs::write(data_dir.join("policy/reviews.toml"), "# who hears of reviews\nnotify = [\"auditors\"]\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let refusal = loop {
        let entries = store.list_audit(before, 100).await.unwrap();
        if let Some(entry) = entries.into_iter().find(|e| e.record.action == "policy.reload") {
            break entry;
        }
        assert!(Instant::now() < deadline, "no reload entry: {}", server.log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refusal.record.outcome.as_str(), "failure");
    let problems = refusal.record.details["problems"].to_string();
    assert!(problems.contains("reviews.toml") && problems.contains("notify names `auditors`"), "{problems}");
    assert!(!problems.contains("vendor-access.toml"), "{problems}");
    receiver.abort();
}));
