//! Notifications through the durable outbox, to real HTTP receivers on
//! loopback: signed webhooks (checked here with the `hmac` crate, not with
//! gatehouse's own signing), Slack bodies with their markup escaped,
//! retries on the test clock, a target given up after the last attempt,
//! and a GitHub protection rule's answer held until its request is decided.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use gatehouse_domain::access::{ApprovalRequest, NewApprovalRequest, RequestKind, RequestState};
use gatehouse_domain::audit::{Actor, AuditEntry, AuditRecord};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::grant::Scope;
use gatehouse_domain::ids::{ApprovalRequestId, IdentityId};
use gatehouse_domain::notify::{MAX_ATTEMPTS, TargetKind, retry_delay};
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_server::Settings;
use gatehouse_server::integrations::Secret;
use gatehouse_server::notify::{NotifySettings, NotifyTarget, Tick, run_once};
use gatehouse_testkit::{TestApp, engine_test, test_settings, with_database};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use time::Duration;

const SECRET: &str = "It's a Secret to Everybody";

/// What a receiver got on one path.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<Received>>,
    /// Statuses to answer per path, in order; 200 once they run out.
    script: Mutex<HashMap<String, VecDeque<u16>>>,
}

/// A loopback HTTP server taking POSTs on `/hook/{name}`.
struct Receiver {
    url: String,
    inbox: Arc<Inbox>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let inbox = Arc::new(Inbox::default());
        let app = Router::new().route("/hook/{name}", post(take)).with_state(inbox.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, inbox, server }
    }

    fn hook(&self, name: &str) -> String {
        format!("{}/hook/{name}", self.url)
    }

    fn answer(&self, name: &str, statuses: &[u16]) {
        self.inbox.script.lock().unwrap().insert(name.into(), statuses.iter().copied().collect());
    }

    fn received(&self, name: &str) -> Vec<Received> {
        self.inbox.received.lock().unwrap().iter().filter(|r| r.path == name).cloned().collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn take(
    State(inbox): State<Arc<Inbox>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let status = inbox.script.lock().unwrap().get_mut(&name).and_then(VecDeque::pop_front).unwrap_or(200);
    inbox.received.lock().unwrap().push(Received { path: name, headers, body: body.to_vec() });
    StatusCode::from_u16(status).unwrap()
}

/// GitHub's scheme, computed here with the `hmac` crate.
fn expected_signature(body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn webhook(url: String) -> NotifyTarget {
    NotifyTarget { url, kind: TargetKind::Webhook, secret: Some(Secret::new(SECRET)) }
}

fn slack(url: String) -> NotifyTarget {
    NotifyTarget { url, kind: TargetKind::Slack, secret: None }
}

fn settings(targets: Vec<(&str, NotifyTarget)>) -> Settings {
    Settings {
        notify: NotifySettings { targets: targets.into_iter().map(|(name, t)| (name.to_owned(), t)).collect() },
        ..test_settings()
    }
}

/// The built-in policies with one access rule notifying `targets`.
fn policies(targets: &[&str]) -> Policies {
    let mut source = PolicySetSource::defaults();
    source.files.insert(
        "approvals.toml".into(),
        format!(
            "[[rule]]\nid = \"prod-access\"\naction = \"access\"\nresources = [\"project:acme/**\"]\n\
             require = {{ quorum = 1, of = \"role:release-approver\" }}\nmax_duration = \"8h\"\nnotify = {}\n",
            json!(targets)
        ),
    );
    Policies::from_source(&source).unwrap()
}

/// An access request by `requester`, written through the store with its
/// `request.create` entry, as the API writes one.
async fn create_request(app: &TestApp, requester: &str, reason: &str) -> ApprovalRequest {
    let id = ApprovalRequestId::new();
    let now = app.clock.now();
    let requester: IdentityId = requester.parse().unwrap();
    let new = NewApprovalRequest {
        id,
        kind: RequestKind::Access {
            role: "deployer".parse().unwrap(),
            scope: Scope::parse("project:acme/web").unwrap(),
            duration: Duration::hours(2),
        },
        state: RequestState::Pending,
        rule_id: "prod-access".into(),
        policy_hash: app.state.policies.current().hash().to_owned(),
        requester,
        reason: Some(reason.into()),
        ticket: Some("INC-7".into()),
        digest: "digest".into(),
        break_glass: false,
        incident: None,
        grant: None,
        created_at: now,
        expires_at: now + Duration::hours(4),
    };
    let actor = Actor::Identity { id: requester.to_string(), kind: "human".into() };
    let record = AuditRecord::new(now, actor, "request.create", format!("request:{id}"))
        .details(json!({"request_id": id.to_string(), "kind": "access", "rule": "prod-access"}));
    app.store.create_approval_request(new, vec![record]).await.unwrap()
}

/// Decides `request` as the API does: the new state and `request.decide`.
async fn decide(app: &TestApp, request: &ApprovalRequest, to: RequestState) {
    let record = AuditRecord::new(app.clock.now(), Actor::System, "request.decide", format!("request:{}", request.id))
        .details(json!({"request_id": request.id.to_string(), "state": to.as_str(), "assignment": []}));
    app.store
        .change_approval_state(request.id, RequestState::Pending, to, app.clock.now(), None, vec![record])
        .await
        .unwrap();
}

async fn entries(app: &TestApp, action: &str) -> Vec<AuditEntry> {
    let all = app.store.list_audit(0, 500).await.unwrap();
    all.into_iter().filter(|entry| entry.record.action == action).collect()
}

async fn run(app: &TestApp) -> Tick {
    run_once(&app.state).await.unwrap()
}

engine_test!(a_request_is_told_to_every_target_signed_and_escaped, |engine| with_database(engine, |db| async move {
    let receiver = Receiver::start().await;
    let targets = vec![("ops", webhook(receiver.hook("ops"))), ("chat", slack(receiver.hook("chat")))];
    let app = TestApp::with_policies(&db, settings(targets), policies(&["ops", "chat"])).await;
    let ana = app.create_human("Ana", "ana@example.com").await;
    let request = create_request(&app, &ana, "hotfix <!channel> <@U123> & more").await;

    let tick = run(&app).await;
    assert_eq!((tick.enqueued, tick.delivered, tick.failed), (2, 2, 0), "{tick:?}");
    let ops = receiver.received("ops");
    assert_eq!(ops.len(), 1);
    let signature = ops[0].headers.get("x-gatehouse-signature-256").unwrap().to_str().unwrap();
    assert_eq!(signature, expected_signature(&ops[0].body), "the signature covers exactly the body sent");
    assert_eq!(ops[0].headers.get("content-type").unwrap(), "application/json");
    assert_eq!(ops[0].headers.get("x-gatehouse-event").unwrap(), "request.created");
    let body = ops[0].json();
    assert_eq!(body["event"], "request.created");
    assert_eq!(body["request_id"], request.id.to_string());
    assert_eq!(body["rule"], "prod-access");
    assert_eq!(body["state"], "pending");
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.starts_with("ana@example.com asks for deployer on project:acme/web for 2h"), "{summary}");

    let chat = receiver.received("chat");
    assert_eq!(chat.len(), 1);
    assert!(chat[0].headers.get("x-gatehouse-signature-256").is_none(), "no secret, no signature");
    let text = chat[0].json()["text"].as_str().unwrap().to_owned();
    assert!(text.contains("hotfix &lt;!channel&gt; &lt;@U123&gt; &amp; more"), "{text}");
    assert!(!text.contains("<!channel>") && !text.contains("<@U123>"), "a mention got through: {text}");

    let sent = entries(&app, "notify.send").await;
    assert_eq!(sent.len(), 2);
    let mut targets: Vec<&str> = sent.iter().map(|e| e.record.details["target"].as_str().unwrap()).collect();
    targets.sort_unstable();
    assert_eq!(targets, ["chat", "ops"]);
    for entry in &sent {
        assert_eq!(entry.record.resource, format!("request:{}", request.id));
        assert_eq!(entry.record.details["event"], "request.created");
        assert_eq!(entry.record.details["attempt"], 1);
        assert_eq!(entry.record.actor, Actor::System);
        let shown = entry.to_json().to_string();
        assert!(!shown.contains(SECRET) && !shown.contains(&receiver.url), "{shown}");
    }

    // Nothing is sent twice, and entries other than requests' are passed over.
    app.create_human("Bob", "bob@example.com").await;
    assert_eq!(run(&app).await, Tick::default());
    assert_eq!(receiver.received("ops").len(), 1);

    // The requester hears the outcome.
    app.clock.advance(Duration::minutes(5));
    decide(&app, &request, RequestState::Approved).await;
    let tick = run(&app).await;
    assert_eq!((tick.enqueued, tick.delivered), (2, 2), "{tick:?}");
    let decided = receiver.received("ops")[1].json();
    assert_eq!(decided["event"], "request.decided");
    assert_eq!(decided["state"], "approved");
    assert_eq!(
        decided["summary"],
        "ana@example.com: your request for deployer on project:acme/web for 2h was approved"
    );
    let chat = receiver.received("chat")[1].json()["text"].as_str().unwrap().to_owned();
    assert!(chat.contains("ana@example.com: your request") && chat.contains("was approved"), "{chat}");
}));

engine_test!(a_failing_target_is_retried_and_a_dead_one_given_up, |engine| with_database(engine, |db| async move {
    let receiver = Receiver::start().await;
    // A port nobody listens on: every attempt is refused at connect.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://127.0.0.1:{}/hook", closed.local_addr().unwrap().port());
    drop(closed);
    receiver.answer("flaky", &[500]);
    let targets = vec![("flaky", webhook(receiver.hook("flaky"))), ("dead", webhook(dead))];
    let app = TestApp::with_policies(&db, settings(targets), policies(&["flaky", "dead"])).await;
    let ana = app.create_human("Ana", "ana@example.com").await;
    let request = create_request(&app, &ana, "hotfix").await;

    let tick = run(&app).await;
    assert_eq!((tick.enqueued, tick.delivered, tick.failed), (2, 0, 2), "{tick:?}");
    let failed = entries(&app, "notify.fail").await;
    assert_eq!(failed.len(), 2);
    let flaky = failed.iter().find(|e| e.record.details["target"] == "flaky").unwrap();
    assert_eq!(flaky.record.details["error"], "HTTP 500");
    assert_eq!(flaky.record.reason, "HTTP 500", "only the status of an answer is kept");
    assert_eq!(flaky.record.details["retry_at"], "2026-06-01T09:00:30.000Z");

    // Not before its time.
    app.clock.advance(Duration::seconds(29));
    assert_eq!(run(&app).await, Tick::default());
    assert_eq!(receiver.received("flaky").len(), 1);
    app.clock.advance(Duration::seconds(1));
    let tick = run(&app).await;
    assert_eq!((tick.delivered, tick.failed), (1, 1), "{tick:?}");
    assert_eq!(receiver.received("flaky").len(), 2);
    let sent = entries(&app, "notify.send").await;
    assert_eq!(sent.len(), 1);
    assert_eq!((&sent[0].record.details["target"], &sent[0].record.details["attempt"]), (&json!("flaky"), &json!(2)));
    assert_eq!(receiver.received("flaky")[0].body, receiver.received("flaky")[1].body, "the same body again");

    // The dead target, every attempt until the last.
    let mut attempt = 2;
    while let Some(delay) = retry_delay(attempt) {
        app.clock.advance(delay);
        assert_eq!(run(&app).await.failed, 1, "attempt {}", attempt + 1);
        attempt += 1;
    }
    assert_eq!(attempt, MAX_ATTEMPTS);
    app.clock.advance(Duration::days(2));
    assert_eq!(run(&app).await, Tick::default(), "given up: never tried again");
    let dead: Vec<AuditEntry> =
        entries(&app, "notify.fail").await.into_iter().filter(|e| e.record.details["target"] == "dead").collect();
    assert_eq!(dead.len(), usize::try_from(MAX_ATTEMPTS).unwrap());
    let given_up: Vec<&AuditEntry> = dead.iter().filter(|e| e.record.details["given_up"] == true).collect();
    assert_eq!(given_up.len(), 1, "given up once");
    assert_eq!(given_up[0].record.details["attempt"], MAX_ATTEMPTS);
    assert_eq!(given_up[0].record.details["error"], "cannot connect");
    let deliveries = app.store.deliveries_for(request.id).await.unwrap();
    let dead = deliveries.iter().find(|d| d.target == "dead").unwrap();
    assert_eq!((dead.attempts, dead.next_attempt_at.is_none(), dead.given_up_at.is_some()), (MAX_ATTEMPTS, true, true));
}));

engine_test!(deliveries_and_the_feed_survive_a_restart, |engine| with_database(engine, |db| async move {
    let receiver = Receiver::start().await;
    receiver.answer("ops", &[503]);
    let make_settings = || settings(vec![("ops", webhook(receiver.hook("ops")))]);
    let app = TestApp::with_policies(&db, make_settings(), policies(&["ops"])).await;
    let ana = app.create_human("Ana", "ana@example.com").await;
    let first = create_request(&app, &ana, "first").await;
    assert_eq!(run(&app).await.failed, 1, "503: to be tried again");
    // Decided, and the node stops before the feeder reads it.
    let second = create_request(&app, &ana, "second").await;
    decide(&app, &second, RequestState::Denied).await;
    let restart_at = app.clock.now() + Duration::seconds(30);
    drop(app);

    let clock = Arc::new(gatehouse_domain::clock::FixedClock::new(restart_at));
    let state = gatehouse_server::AppState::new(
        db.open_store().await,
        gatehouse_server::PolicyHandle::new(policies(&["ops"])),
        clock,
        make_settings(),
        None,
    );
    let tick = run_once(&state).await.unwrap();
    assert_eq!((tick.enqueued, tick.delivered, tick.failed), (2, 3, 0), "{tick:?}");
    let bodies: Vec<Value> = receiver.received("ops").iter().map(Received::json).collect();
    let told: Vec<(String, String)> = bodies
        .iter()
        .map(|b| (b["request_id"].as_str().unwrap().to_owned(), b["event"].as_str().unwrap().to_owned()))
        .collect();
    let (first, second) = (first.id.to_string(), second.id.to_string());
    assert_eq!(told.iter().filter(|t| **t == (first.clone(), "request.created".into())).count(), 2, "{told:?}");
    assert_eq!(told.iter().filter(|t| **t == (second.clone(), "request.created".into())).count(), 1, "{told:?}");
    assert_eq!(told.iter().filter(|t| **t == (second.clone(), "request.decided".into())).count(), 1, "{told:?}");
    assert_eq!(run_once(&state).await.unwrap(), Tick::default());
}));

mod protection_rules {
    use gatehouse_domain::ids::DeliveryId;
    use gatehouse_domain::notify::{NewHeldDelivery, ProtectionCallback};
    use gatehouse_server::integrations::{GITHUB_ACTIONS_ISSUER, GithubAppSettings, GithubSettings, Integrations};
    use gatehouse_testkit::github_standin::{GithubCall, GithubStandIn};
    use gatehouse_testkit::oidc_issuer::TestKey;

    use super::*;

    const APP_ID: &str = "4242";

    engine_test!(a_held_answer_goes_out_once_its_request_is_decided, |engine| with_database(engine, |db| async move {
        let key = TestKey::rsa("app", 2);
        let standin = GithubStandIn::start(APP_ID, &key.public_pem).await;
        let settings = Settings {
            integrations: Integrations {
                github: Some(GithubSettings {
                    webhook_secret: Secret::new("webhook secret"),
                    api_url: standin.url.clone(),
                    app: Some(GithubAppSettings {
                        app_id: APP_ID.into(),
                        private_key_pem: Secret::new(String::from_utf8(key.private_pem(2)).unwrap()),
                    }),
                    actions_issuer: GITHUB_ACTIONS_ISSUER.into(),
                }),
                ..Integrations::default()
            },
            ..settings(Vec::new())
        };
        let app = TestApp::with_policies(&db, settings, policies(&[])).await;
        let ana = app.create_human("Ana", "ana@example.com").await;
        let request = create_request(&app, &ana, "deploy").await;
        let held = NewHeldDelivery {
            id: DeliveryId::new(),
            request_id: request.id,
            callback: ProtectionCallback {
                installation_id: 31,
                callback_url: format!("{}/repos/acme/web/actions/runs/77/deployment_protection_rule", standin.url),
                environment: "production".into(),
            },
            created_at: app.clock.now(),
        };
        app.store.hold_delivery(held, Vec::new()).await.unwrap();
        assert_eq!(run(&app).await, Tick::default(), "held while pending");
        assert_eq!(standin.calls(), vec![]);

        app.clock.advance(Duration::minutes(3));
        decide(&app, &request, RequestState::Approved).await;
        let tick = run(&app).await;
        assert_eq!((tick.released, tick.delivered), (1, 1), "{tick:?}");
        let answers: Vec<Value> = standin
            .calls()
            .into_iter()
            .filter_map(|call| match call {
                GithubCall::ProtectionAnswer { run, body } => Some(json!({"run": run, "body": body})),
                _ => None,
            })
            .collect();
        assert_eq!(answers.len(), 1, "{:?}", standin.calls());
        assert_eq!(answers[0]["run"], 77);
        assert_eq!(answers[0]["body"]["state"], "approved");
        assert_eq!(answers[0]["body"]["environment_name"], "production");
        let sent = entries(&app, "notify.send").await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].record.details["kind"], "github_protection");
        assert_eq!(run(&app).await, Tick::default(), "answered once");
    }));
}

/// The built-in policies with a `vendor-access.toml` telling `security` of
/// vendors' changes.
fn vendor_policies() -> Policies {
    let mut source = PolicySetSource::defaults();
    source.files.insert("vendor-access.toml".into(), "notify = [\"security\"]\n".into());
    Policies::from_source(&source).unwrap()
}

/// Acme Scan (high tier), with a SOC 2 report valid until 2026-10-31.
async fn vendor_with_soc2(app: &TestApp) -> gatehouse_domain::vendor::Vendor {
    use gatehouse_domain::audit::{AuditAction, SystemWriter};
    use gatehouse_domain::ids::{EvidenceId, VendorId};
    use gatehouse_domain::vendor::{
        ContentDigest, Contract, DataAccess, Evidence, EvidenceMetadata, Soc2, Soc2Opinion, Soc2Type, TrustService,
        Vendor, VendorStatus, VendorTier,
    };
    use time::macros::date;
    let now = app.clock.now();
    let record = |action| AuditRecord::system(SystemWriter::Initialization, now, action, "test");
    let vendor = Vendor {
        id: VendorId::new(),
        name: "Acme Scan".into(),
        tier: VendorTier::High,
        business_owner: None,
        security_owner: None,
        contract: Contract { start: date!(2026 - 01 - 01), renewal: date!(2026 - 12 - 01), end: date!(2027 - 12 - 31) },
        data_access: DataAccess::Source,
        logging: None,
        status: VendorStatus::Approved,
    };
    let vendor = app.store.create_vendor(vendor, record(AuditAction::VendorCreate)).await.unwrap();
    let content = b"%PDF-1.7 the SOC 2 report".to_vec();
    let soc2 = Evidence {
        id: EvidenceId::new(),
        vendor_id: vendor.id,
        metadata: EvidenceMetadata::Soc2(Soc2 {
            report_type: Soc2Type::TypeII,
            opinion: Soc2Opinion::Unqualified,
            trust_services: [TrustService::Security].into_iter().collect(),
            period_start: date!(2024 - 11 - 01),
            period_end: date!(2025 - 10 - 31),
        }),
        digest: ContentDigest::of(&content),
        size: content.len() as u64,
        filename: "soc2.pdf".into(),
        added_at: now,
    };
    app.store.add_evidence(soc2, content, record(AuditAction::EvidenceAdd)).await.unwrap();
    vendor
}

engine_test!(a_vendor_s_evidence_due_soon_and_expired_is_told_to_its_targets, |engine| with_database(
    engine,
    |db| async move {
        let receiver = Receiver::start().await;
        let settings =
            settings(vec![("security", webhook(receiver.hook("security"))), ("chat", slack(receiver.hook("chat")))]);
        let app = TestApp::with_policies(&db, settings, vendor_policies()).await;
        let vendor = vendor_with_soc2(&app).await;
        let scheduler = || gatehouse_server::scheduler::run_once(&app.state);

        // Valid: nothing to say.
        scheduler().await.unwrap();
        assert_eq!(run_once(&app.state).await.unwrap().enqueued, 0);

        // Thirty days before it expires, it is due soon: said once.
        app.clock.set(time::macros::datetime!(2026-10-01 00:00 UTC));
        let report = scheduler().await.unwrap();
        assert_eq!(report.vendors.due_soon.len(), 1, "{report:?}");
        let tick = run_once(&app.state).await.unwrap();
        assert_eq!((tick.enqueued, tick.delivered), (1, 1), "only the named target hears");
        scheduler().await.unwrap();
        assert_eq!(run_once(&app.state).await.unwrap().enqueued, 0, "announced once");

        app.clock.set(time::macros::datetime!(2026-10-31 00:00 UTC));
        let report = scheduler().await.unwrap();
        assert_eq!(report.vendors.expired.len(), 1, "{report:?}");
        assert_eq!(run_once(&app.state).await.unwrap().delivered, 1);

        let received = receiver.received("security");
        assert_eq!(received.len(), 2);
        assert!(receiver.received("chat").is_empty(), "a target vendor-access.toml does not name hears nothing");
        let (soon, expired) = (received[0].json(), received[1].json());
        assert_eq!(soon["event"], "evidence.due_soon");
        assert_eq!(soon["summary"], "SOC 2 report for Acme Scan expires 2026-10-31");
        assert_eq!(expired["event"], "evidence.expired");
        assert_eq!(expired["summary"], "SOC 2 report for Acme Scan expired 2026-10-31");
        assert_eq!(expired["subject"], format!("vendor:{}", vendor.id));
        assert_eq!(expired["details"]["kind"], "soc2");
        assert_eq!(received[1].headers["x-gatehouse-event"], "evidence.expired");
        assert_eq!(received[1].headers["x-gatehouse-signature-256"], expected_signature(&received[1].body).as_str());

        // Each delivery is audited under its vendor.
        let sent: Vec<AuditEntry> = app
            .store
            .list_audit(0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|entry| entry.record.action == "notify.send")
            .collect();
        assert_eq!(sent.len(), 2);
        assert!(sent.iter().all(|entry| entry.record.resource == format!("vendor:{}", vendor.id)));
        assert_eq!(sent[1].record.details["request_id"], Value::Null);
    }
));

/// The built-in policies with `reviews.toml` naming `security` only.
fn review_policies() -> Policies {
    let mut source = PolicySetSource::defaults();
    source.files.insert("reviews.toml".into(), "notify = [\"security\"]\n".into());
    Policies::from_source(&source).unwrap()
}

engine_test!(a_review_s_opening_reminder_and_defaults_are_told_to_its_targets, |engine| with_database(
    engine,
    |db| async move {
        let receiver = Receiver::start().await;
        let settings =
            settings(vec![("security", webhook(receiver.hook("security"))), ("chat", slack(receiver.hook("chat")))]);
        let app = TestApp::with_policies(&db, settings, review_policies()).await;
        let rita = app.create_human("Rita", "rita@example.com").await;
        let bo = app.create_human("Bo", "bo@example.com").await;
        let body = json!({"identity_id": bo, "role": "deployer", "scope": "environment:acme/web:production"});
        app.post("/api/v1/grants", &app.admin_token, body).await.assert_status(201);
        assert_eq!(run(&app).await.enqueued, 0, "a grant is nobody's news");

        // Opened: the campaign, its item count, its deadline and its reviewer.
        let definition = json!({
            "name": "Deployers <!here>",
            "scope": {"role": "deployer"},
            "reviewers": [format!("identity:{rita}")],
            "fallback": "role:admin",
            "duration": "5d",
            "on_no_response": "revoke",
        });
        let opened = app.post("/api/v1/reviews", &app.admin_token, definition).await;
        let campaign = opened.assert_status(201)["id"].as_str().unwrap().to_owned();
        let tick = run(&app).await;
        assert_eq!((tick.enqueued, tick.delivered, tick.failed), (1, 1, 0), "{tick:?}");
        let told = receiver.received("security");
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].headers["x-gatehouse-event"], "review.opened");
        assert_eq!(told[0].headers["x-gatehouse-signature-256"], expected_signature(&told[0].body).as_str());
        let body = told[0].json();
        assert_eq!(body["event"], "review.opened");
        assert_eq!(body["campaign_id"], campaign.as_str());
        assert_eq!(body["reviewers"], json!(["rita@example.com"]));
        let deadline = gatehouse_domain::clock::format_rfc3339(app.clock.now() + Duration::days(5));
        assert_eq!(
            body["summary"],
            format!(
                "access review \"Deployers <!here>\" opened: 1 item to decide by {deadline}; reviewers: rita@example.com"
            )
        );
        assert!(receiver.received("chat").is_empty(), "a target reviews.toml does not name hears nothing");

        // A day before the deadline: the reminder names who is still waited on.
        app.clock.advance(Duration::days(4) + Duration::hours(1));
        gatehouse_server::scheduler::run_once(&app.state).await.unwrap();
        assert_eq!(run(&app).await.delivered, 1);
        let reminder = receiver.received("security")[1].json();
        assert_eq!(reminder["event"], "review.reminder");
        assert_eq!(reminder["reviewers"], json!(["rita@example.com"]));
        assert_eq!(
            reminder["summary"],
            format!(
                "reminder: access review \"Deployers <!here>\" has 1 undecided item by {deadline}; \
                 waiting on: rita@example.com"
            )
        );

        // The deadline: Bo's grant is revoked by default, and the targets hear so.
        app.clock.advance(Duration::days(1));
        gatehouse_server::scheduler::run_once(&app.state).await.unwrap();
        let tick = run(&app).await;
        assert_eq!((tick.enqueued, tick.delivered), (1, 1), "{tick:?}");
        let closed = receiver.received("security")[2].json();
        assert_eq!(closed["event"], "review.defaults_applied");
        assert_eq!(closed["details"]["counts"]["defaulted"], 1);
        let summary = closed["summary"].as_str().unwrap();
        assert!(
            summary.starts_with("access review \"Deployers <!here>\" closed: 1 of 1 item got the default"),
            "{summary}"
        );
        assert!(summary.contains("revoked 1"), "{summary}");

        // Each delivery is audited under its campaign, and nothing twice.
        let sent = entries(&app, "notify.send").await;
        assert_eq!(sent.len(), 3);
        assert!(sent.iter().all(|entry| entry.record.resource == format!("review:{campaign}")));
        assert_eq!(run(&app).await, Tick::default());
    }
));

engine_test!(an_empty_review_is_skipped_and_tells_nobody, |engine| with_database(engine, |db| async move {
    let receiver = Receiver::start().await;
    let settings = settings(vec![("security", webhook(receiver.hook("security")))]);
    let app = TestApp::with_policies(&db, settings, review_policies()).await;
    // An empty scope is skipped: nobody is asked, nobody is told.
    let definition = json!({
        "name": "Nobody",
        "scope": {"role": "deployer"},
        "reviewers": ["role:admin"],
        "fallback": "role:admin",
        "duration": "5d",
    });
    app.post("/api/v1/reviews", &app.admin_token, definition).await.assert_status(201);
    assert_eq!(run(&app).await, Tick::default());
    assert!(receiver.received("security").is_empty());
}));

engine_test!(a_review_alert_reaches_its_targets_naming_the_campaign_and_item, |engine| with_database(
    engine,
    |db| async move {
        let receiver = Receiver::start().await;
        let settings = settings(vec![("security", webhook(receiver.hook("security")))]);
        let app = TestApp::with_policies(&db, settings, review_policies()).await;
        // The only admin's own grant: nobody may review it, and its default
        // would remove the last identity able to manage policy.
        let definition = json!({
            "name": "Admins",
            "scope": {"role": "admin"},
            "reviewers": ["group:nobody"],
            "fallback": "role:admin",
            "duration": "5d",
            "on_no_response": "revoke",
        });
        let opened = app.post("/api/v1/reviews", &app.admin_token, definition).await;
        let campaign = opened.assert_status(201)["id"].as_str().unwrap().to_owned();
        let tick = run(&app).await;
        assert_eq!((tick.enqueued, tick.delivered, tick.failed), (2, 2, 0), "{tick:?}");
        let of = |event: &str| -> Vec<Received> {
            receiver.received("security").into_iter().filter(|r| r.headers["x-gatehouse-event"] == event).collect()
        };
        let alerts = of("review.alert");
        assert_eq!(alerts.len(), 1, "nobody to review an item is an alert");
        assert_eq!(alerts[0].headers["x-gatehouse-signature-256"], expected_signature(&alerts[0].body).as_str());
        let unassigned = alerts[0].json();
        assert_eq!(unassigned["campaign_id"], campaign.as_str());
        assert_eq!(unassigned["subject"], format!("review:{campaign}"));
        assert_eq!(unassigned["name"], "Admins");
        assert_eq!(
            unassigned["summary"],
            "access review \"Admins\": 1 items have nobody to review them: not even the fallback"
        );

        // Closed: the default cannot be applied (it escalates), and that alert names the item.
        app.post(&format!("/api/v1/reviews/{campaign}/close"), &app.admin_token, json!({})).await.assert_status(200);
        let tick = run(&app).await;
        assert_eq!((tick.enqueued, tick.delivered, tick.failed), (2, 2, 0), "{tick:?}");
        let alerts = of("review.alert");
        assert_eq!(alerts.len(), 2);
        let escalated = alerts[1].json();
        assert_eq!(escalated["campaign_id"], campaign.as_str());
        assert_eq!(escalated["details"]["item"], 0);
        assert_eq!(escalated["details"]["campaign_id"], campaign.as_str());
        let summary = escalated["summary"].as_str().unwrap();
        assert!(
            summary.starts_with("access review \"Admins\", item 0: escalated: it would remove the last identity"),
            "{summary}"
        );
        assert_eq!(of("review.defaults_applied").len(), 1);
        let sent = entries(&app, "notify.send").await;
        assert_eq!(sent.len(), 4);
        assert!(sent.iter().all(|entry| entry.record.resource == format!("review:{campaign}")));
        assert_eq!(run(&app).await, Tick::default(), "each alert goes out once");
    }
));
