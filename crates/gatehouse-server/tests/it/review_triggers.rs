//! Reviews gatehouse opens on its own: the policy folder's campaigns at
//! their recurrence, a pipeline change through a real push webhook or a
//! verified push of real signed commits (and the deployments it holds
//! under `hold_deploys` until someone other than its author approves it), a registered integration's first review, a
//! vendor's contract renewal, and the directory's people.

use std::str::FromStr;

use axum::body::Body;
use axum::http::{Method, Request};
use gatehouse_domain::access::RequestState;
use gatehouse_domain::audit::{AuditAction, AuditRecord, SystemWriter};
use gatehouse_domain::change::{CommitAuthor, CommitSha};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::{CampaignId, IdentityId, IntegrationId};
use gatehouse_domain::review::{Campaign, CampaignState, ItemKind, ReviewItem, TriggerKind};
use gatehouse_domain::vendor::IntegrationState;
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_server::Settings;
use gatehouse_server::integrations::{
    GITHUB_ACTIONS_ISSUER, GithubAppSettings, GithubSettings, GitlabSettings, Integrations, Secret,
};
use gatehouse_server::scheduler::run_once;
use gatehouse_server::vendors::onboarding;
use gatehouse_testkit::git_repo::{GitSandbox, Signing};
use gatehouse_testkit::github_standin::{GithubCall, GithubStandIn};
use gatehouse_testkit::oidc_issuer::TestKey;
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_database};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use time::Duration;
use time::macros::datetime;

use crate::people::{Directory, Person, ci_service, grant, verify};

const SECRET: &str = "webhook secret for review triggers";
const GITLAB_TOKEN: &str = "gitlab token for review triggers";
const SIGNED: &str = "1111111111111111111111111111111111111111";
const UNSIGNED: &str = "2222222222222222222222222222222222222222";

fn policies(reviews: &str) -> Policies {
    let mut source = PolicySetSource::defaults();
    source.files.insert("reviews.toml".into(), reviews.into());
    Policies::from_source(&source).expect("valid policies")
}

fn settings() -> Settings {
    Settings {
        integrations: Integrations {
            github: Some(GithubSettings {
                webhook_secret: Secret::new(SECRET),
                api_url: "http://127.0.0.1:9".into(),
                app: None,
                actions_issuer: GITHUB_ACTIONS_ISSUER.into(),
            }),
            gitlab: Some(GitlabSettings { webhook_token: Secret::new(GITLAB_TOKEN) }),
            ..Integrations::default()
        },
        ..gatehouse_testkit::test_settings()
    }
}

fn sign(body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn push(app: &TestApp, delivery: &str, body: &Value, signature: Option<String>) -> TestResponse {
    let mut request = Request::post("/webhooks/github")
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", delivery);
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    app.send(request.body(Body::from(body.to_string())).unwrap()).await
}

fn pipeline_push(before: &str, after: &str, commit: &str, pusher: &str) -> Value {
    json!({
        "ref": "refs/heads/main", "before": before, "after": after,
        "repository": {"id": 123456, "full_name": "acme/web"},
        "pusher": {"name": pusher, "email": format!("{pusher}@example.com")},
        "commits": [
            {"id": commit, "author": {"name": pusher, "email": format!("{pusher}@example.com")},
             "added": [], "modified": [".github/workflows/deploy.yml"], "removed": []},
        ],
    })
}

async fn campaigns(app: &TestApp, kind: TriggerKind) -> Vec<Campaign> {
    let all = app.store.list_campaigns(None).await.unwrap();
    all.into_iter().filter(|campaign| campaign.trigger.kind == kind).collect()
}

async fn items(app: &TestApp, id: CampaignId) -> Vec<ReviewItem> {
    app.store.list_review_items(id, None, 1_000).await.unwrap()
}

async fn entries_of(app: &TestApp, action: &str) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/audit/entries?action={action}&limit=500"), &app.admin_token).await;
    listed.assert_status(200)["items"].as_array().unwrap().clone()
}

fn identity(person: &Person) -> IdentityId {
    IdentityId::from_str(&person.id).unwrap()
}

/// Sue signed `SIGNED`, as a verification through gatehouse records it.
async fn sue_signed(app: &TestApp, sue: &Person) {
    let now = app.clock.now();
    let fact = CommitAuthor {
        commit: CommitSha::from_str(SIGNED).unwrap(),
        repository: Some("acme/web".into()),
        identity_id: identity(sue),
        key_fingerprint: "SHA256:sue".into(),
        verification: AuditAction::PushVerify,
        recorded_at: now,
    };
    let record = AuditRecord::system(SystemWriter::Webhook, now, AuditAction::PushVerify, "project:acme/web");
    app.store.record_commit_authors(vec![fact], record).await.unwrap();
}

async fn deploy(app: &TestApp, ci: &Person) -> Value {
    let body =
        json!({"action": "deployment.execute", "resource": {"type": "Environment", "id": "acme/web:production"}});
    app.post("/api/v1/authorize", &ci.token, body).await.assert_status(200).clone()
}

async fn fresh(app: &TestApp, person: &Person) {
    app.clock.advance(Duration::seconds(30));
    verify(app, person).await;
}

async fn decide(app: &TestApp, who: &Person, campaign: CampaignId, item: u32, body: Value) -> TestResponse {
    app.post(&format!("/api/v1/reviews/{campaign}/items/{item}/decision"), &who.token, body).await
}

const SCHEDULED: &str = r#"
[[campaign]]
name = "Quarterly web access"
reviewers = ["role:admin"]
fallback = "role:admin"
duration = "5d"
recurrence = "quarterly"

[campaign.scope]
scope = "environment:acme/web:*"

[[campaign]]
name = "Once only"
reviewers = ["role:admin"]
fallback = "role:admin"
duration = "1d"
"#;

engine_test!(policy_folder_campaigns_open_at_once_then_at_their_recurrence, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, settings(), policies(SCHEDULED)).await;
        ci_service(&app).await;
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.review_triggers.scheduled.len(), 2, "both open at once");
        let opened = campaigns(&app, TriggerKind::Schedule).await;
        let quarterly = opened.iter().find(|c| c.trigger.subject == "Quarterly web access").unwrap();
        assert_eq!((quarterly.state, quarterly.items), (CampaignState::Open, 1), "the CI service's grant");
        assert!(opened.iter().any(|c| c.trigger.subject == "Once only"));
        assert!(run_once(&app.state).await.unwrap().review_triggers.scheduled.is_empty(), "not twice");

        // Closed at its deadline, it does not open again before the quarter passes.
        app.clock.advance(Duration::days(80));
        let report = run_once(&app.state).await.unwrap();
        assert!(report.reviews.closed.contains(&quarterly.id));
        assert!(report.review_triggers.scheduled.is_empty());
        app.clock.set(datetime!(2026-09-01 08:59:59 UTC));
        assert!(run_once(&app.state).await.unwrap().review_triggers.scheduled.is_empty(), "a second early");
        app.clock.set(datetime!(2026-09-01 09:00:00 UTC));
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.review_triggers.scheduled.len(), 1, "the quarterly one again, not the one-off");
        let again = app.store.find_campaign(report.review_triggers.scheduled[0]).await.unwrap().unwrap();
        assert_eq!(again.trigger.subject, "Quarterly web access");
        assert_eq!(campaigns(&app, TriggerKind::Schedule).await.len(), 3);
    }
));

/// Sec owns acme/web (admin there) and reviews; Sue maintains its
/// pipeline and pushes; Eve only views it; Dev triggers another project's.
struct Cast {
    sec: Person,
    sue: Person,
    eve: Person,
    dev: Person,
    ci: Person,
}

async fn cast(app: &TestApp) -> Cast {
    let directory = Directory::new(app).await;
    let sec = directory.person(app, "sec").await;
    let sue = directory.person(app, "sue").await;
    let eve = directory.person(app, "eve").await;
    let dev = directory.person(app, "dev").await;
    grant(app, &sec.id, "admin", "project:acme/web").await;
    grant(app, &sue.id, "maintainer", "project:acme/web").await;
    grant(app, &eve.id, "viewer", "project:acme/web").await;
    grant(app, &dev.id, "developer", "project:acme/api").await;
    let ci = ci_service(app).await;
    Cast { sec, sue, eve, dev, ci }
}

engine_test!(a_pipeline_change_opens_its_review_and_holds_deploys_until_another_approves_it, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, settings(), policies("on_unreviewed_change = \"hold_deploys\"\n")).await;
        let cast = cast(&app).await;
        sue_signed(&app, &cast.sue).await;
        assert_eq!(deploy(&app, &cast.ci).await["decision"], "allow", "nothing held before the change");

        // Sue pushes a signed change to the pipeline's configuration.
        let body = pipeline_push("0000aaaa", SIGNED, SIGNED, "sue");
        let pushed = push(&app, "push-1", &body, Some(sign(&body.to_string()))).await.assert_status(200).clone();
        let id = CampaignId::from_str(pushed["review"].as_str().expect("a review opened")).unwrap();
        let campaign = app.store.find_campaign(id).await.unwrap().unwrap();
        assert_eq!(campaign.trigger.kind, TriggerKind::PipelineChange);
        assert_eq!(campaign.trigger.subject, "project:acme/web");
        assert_eq!(campaign.trigger.holds.as_deref(), Some("project:acme/web"));
        assert_eq!(campaign.opened_by, None, "gatehouse opened it");
        assert_eq!(campaign.deadline - campaign.opened_at, Duration::days(7));
        let list = items(&app, id).await;
        let change = &list[0];
        assert_eq!((change.kind, change.target.as_str()), (ItemKind::Change, format!("0000aaaa..{SIGNED}").as_str()));
        assert_eq!(change.identity, identity(&cast.sue), "the pusher");
        assert_eq!(change.recommendation.advice.as_str(), "keep", "{}", change.recommendation.reason);
        assert!(change.reviewers.contains(&identity(&cast.sec)));
        assert!(!change.reviewers.contains(&identity(&cast.sue)), "its author does not review it");
        // Who may trigger, approve and edit it: not who only views or deploys, nor another project's.
        let holders: Vec<IdentityId> = list[1..].iter().map(|item| item.identity).collect();
        assert!(holders.contains(&identity(&cast.sec)) && holders.contains(&identity(&cast.sue)));
        assert!(holders.contains(&app.admin_id), "an admin of everything");
        for outsider in [&cast.eve, &cast.dev, &cast.ci] {
            assert!(!holders.contains(&identity(outsider)));
        }

        // Held: the deployment is denied naming the review.
        let denied = deploy(&app, &cast.ci).await;
        assert_eq!(denied["decision"], "deny");
        assert!(denied["reasons"][0].as_str().unwrap().contains(&id.to_string()), "{denied}");

        // Its author may not approve it; someone else may.
        fresh(&app, &cast.sue).await;
        let own = decide(&app, &cast.sue, id, 0, json!({"decision": "keep"})).await;
        assert!(own.assert_problem(403).contains("own"), "{}", own.text);
        assert_eq!(deploy(&app, &cast.ci).await["decision"], "deny", "still held");
        fresh(&app, &cast.sec).await;
        decide(&app, &cast.sec, id, 0, json!({"decision": "keep", "reason": "reviewed"})).await.assert_status(200);
        assert_eq!(deploy(&app, &cast.ci).await["decision"], "allow", "released by the approval");

        // A second change, unsigned: recommended for revocation and held again.
        let body = pipeline_push(SIGNED, UNSIGNED, UNSIGNED, "sue");
        let pushed = push(&app, "push-2", &body, Some(sign(&body.to_string()))).await.assert_status(200).clone();
        let second = CampaignId::from_str(pushed["review"].as_str().unwrap()).unwrap();
        let change = &items(&app, second).await[0];
        assert_eq!(change.recommendation.advice.as_str(), "revoke");
        assert!(change.recommendation.reason.starts_with("not signed: 222222222222"));
        assert_eq!(deploy(&app, &cast.ci).await["decision"], "deny");
        // Another project's deployments are not held by it.
        grant(&app, &cast.ci.id, "deployer", "environment:acme/api:production").await;
        let body =
            json!({"action": "deployment.execute", "resource": {"type": "Environment", "id": "acme/api:production"}});
        let other = app.post("/api/v1/authorize", &cast.ci.token, body).await;
        assert_eq!(other.assert_status(200)["decision"], "allow");
    }
));

engine_test!(pipeline_changes_under_flag_hold_nothing_and_forged_pushes_open_nothing, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, settings(), Policies::defaults()).await;
        let cast = cast(&app).await;

        // A forged or unsigned delivery is refused and opens no review.
        let body = pipeline_push("0000aaaa", SIGNED, SIGNED, "sue");
        push(&app, "forged", &body, Some("sha256=00".into())).await.assert_problem(401);
        push(&app, "unsigned", &body, None).await.assert_problem(401);
        assert!(campaigns(&app, TriggerKind::PipelineChange).await.is_empty());

        // Under `flag` (the default) the review opens and nothing is held.
        let pushed = push(&app, "push-1", &body, Some(sign(&body.to_string()))).await.assert_status(200).clone();
        let id = CampaignId::from_str(pushed["review"].as_str().unwrap()).unwrap();
        let campaign = app.store.find_campaign(id).await.unwrap().unwrap();
        assert_eq!(campaign.trigger.holds, None);
        let change = &items(&app, id).await[0];
        assert_eq!(change.recommendation.advice.as_str(), "revoke", "nobody gatehouse knows signed it");
        assert_eq!(change.identity, identity(&cast.sue), "the pusher, by e-mail");
        assert_eq!(deploy(&app, &cast.ci).await["decision"], "allow");
        // A replayed delivery opens no second review.
        push(&app, "push-1", &body, Some(sign(&body.to_string()))).await.assert_problem(409);
        assert_eq!(campaigns(&app, TriggerKind::PipelineChange).await.len(), 1);
        // The only alert: the sole admin's own grant has nobody else to review it.
        let alerts = entries_of(&app, "review.alert").await;
        assert!(alerts.iter().all(|alert| alert["reason"] == "items without a reviewer"), "{alerts:?}");

        // Nobody gatehouse knows pushed or signed it: still reviewed, by everyone eligible.
        let stranger = pipeline_push(SIGNED, UNSIGNED, UNSIGNED, "zed");
        let pushed =
            push(&app, "push-3", &stranger, Some(sign(&stranger.to_string()))).await.assert_status(200).clone();
        let id = CampaignId::from_str(pushed["review"].as_str().unwrap()).unwrap();
        let change = &items(&app, id).await[0];
        assert_eq!((change.identity_name.as_str(), change.recommendation.advice.as_str()), ("unknown", "revoke"));
        assert!(change.reviewers.contains(&identity(&cast.sec)));

        // GitLab's push hook opens one too.
        let gitlab = json!({
            "object_kind": "push", "ref": "refs/heads/main", "before": "1", "after": "2", "user_email": "dev@example.com",
            "project": {"id": 7, "path_with_namespace": "acme/api"},
            "commits": [{"id": "g1", "added": [], "modified": [".gitlab-ci.yml"], "removed": []}],
        });
        let request = Request::post("/webhooks/gitlab")
            .header("content-type", "application/json")
            .header("x-gitlab-event", "Push Hook")
            .header("x-gitlab-event-uuid", "g-1")
            .header("x-gitlab-token", GITLAB_TOKEN)
            .body(Body::from(gitlab.to_string()))
            .unwrap();
        let answered = app.send(request).await.assert_status(200).clone();
        let id = CampaignId::from_str(answered["review"].as_str().unwrap()).unwrap();
        let campaign = app.store.find_campaign(id).await.unwrap().unwrap();
        assert_eq!(campaign.trigger.subject, "project:acme/api");
        let list = items(&app, id).await;
        assert_eq!(list[0].identity, identity(&cast.dev));
        assert!(list[1..].iter().any(|item| item.identity == identity(&cast.dev)), "dev triggers acme/api");
        assert!(!list[1..].iter().any(|item| item.identity == identity(&cast.sec)));
    }
));

fn vendor_body(name: &str, renewal: &str) -> Value {
    json!({
        "name": name,
        "tier": "low",
        "contract": {"start": "2026-01-01", "renewal": renewal, "end": "2028-12-31"},
        "data_access": "source",
        "logging": {"what": "API calls with caller and repository", "retention_days": 365, "tamper_evident": true},
    })
}

async fn vendor(app: &TestApp, name: &str, renewal: &str) -> String {
    let created = app.post("/api/v1/vendors", &app.admin_token, vendor_body(name, renewal)).await;
    created.assert_status(201)["id"].as_str().unwrap().to_owned()
}

engine_test!(an_integration_is_in_force_only_once_its_first_review_approves_it, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, settings(), Policies::defaults()).await;
        let directory = Directory::new(&app).await;
        let own = directory.person(&app, "own").await;
        grant(&app, &own.id, "admin", "*").await;
        let acme = vendor(&app, "Acme Scan", "2026-12-01").await;
        let bot = app.create_service("acme-scan-bot").await;
        grant(&app, &bot, "viewer", "project:acme/web").await;
        let body = json!({
            "vendor_id": acme, "identity_id": bot, "method": "github_app",
            "permissions": ["contents:read"], "repositories": "selected", "repository_names": ["acme/web"],
            "token_ttl": "1h", "webhook_signature": true,
        });
        let created = app.post("/api/v1/integrations", &app.admin_token, body.clone()).await.assert_status(201).clone();
        let integration = created["id"].as_str().unwrap().to_owned();
        let opened = campaigns(&app, TriggerKind::Onboarding).await;
        assert_eq!(opened.len(), 1);
        let campaign = &opened[0];
        assert_eq!(campaign.trigger.subject, format!("integration:{integration}"));
        assert_eq!((campaign.state, campaign.items), (CampaignState::Open, 1));
        assert_eq!(campaign.deadline - campaign.opened_at, Duration::days(14));
        assert_eq!(campaign.definition.on_no_response.map(|n| n.as_str()), Some("revoke"));
        let list = items(&app, campaign.id).await;
        assert_eq!(list[0].identity.to_string(), bot);
        assert!(list[0].reviewers.contains(&identity(&own)), "an owner of the grant's scope");

        // The onboarding request is approved: the integration still waits for its review.
        let id = IntegrationId::from_str(&integration).unwrap();
        let waiting = app.store.find_integration(id).await.unwrap().unwrap();
        let request = app.store.find_approval_request(waiting.onboarding_request.unwrap()).await.unwrap().unwrap();
        let now = app.clock.now();
        let record = AuditRecord::system(SystemWriter::Onboarding, now, AuditAction::RequestDecide, "test");
        let approved = app
            .store
            .change_approval_state(request.id, request.state, RequestState::Approved, now, None, vec![record])
            .await
            .unwrap();
        onboarding::settle(&app.state, &approved).await.unwrap();
        let still = app.store.find_integration(id).await.unwrap().unwrap();
        assert_eq!(still.state, IntegrationState::PendingApproval, "not in force before its review");

        // The review's last keep puts it in force.
        fresh(&app, &own).await;
        decide(&app, &own, campaign.id, 0, json!({"decision": "keep"})).await.assert_status(200);
        let active = app.store.find_integration(id).await.unwrap().unwrap();
        assert_eq!(active.state, IntegrationState::Active);

        // A refused registration (a human as the integration) opens nothing.
        let human = app.create_human("Hugh", "hugh@example.com").await;
        let mut bad = body;
        bad["identity_id"] = json!(human);
        app.post("/api/v1/integrations", &app.admin_token, bad).await.assert_problem(422);
        assert_eq!(campaigns(&app, TriggerKind::Onboarding).await.len(), 1);
    }
));

engine_test!(a_renewal_review_opens_once_before_the_contract_renews, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_policies(&db, settings(), policies("renewal_days = 30\nrenewal_grace_days = 3\n")).await;
    // The test clock starts at 2026-06-01 09:00: Soon renews within 30 days, Later does not.
    let soon = vendor(&app, "Soon", "2026-06-20").await;
    vendor(&app, "Later", "2026-12-01").await;
    let report = run_once(&app.state).await.unwrap();
    assert_eq!(report.review_triggers.renewals.len(), 1);
    let campaign = app.store.find_campaign(report.review_triggers.renewals[0]).await.unwrap().unwrap();
    assert_eq!(campaign.trigger.kind, TriggerKind::Renewal);
    assert_eq!(campaign.trigger.subject, format!("vendor:{soon}"));
    assert_eq!(campaign.deadline, datetime!(2026-06-23 00:00 UTC), "until the renewal date plus the grace");
    assert_eq!(campaign.definition.selector.vendor.map(|v| v.to_string()), Some(soon.clone()));
    assert!(campaign.definition.selector.kinds.contains(&ItemKind::Token));
    assert!(run_once(&app.state).await.unwrap().review_triggers.renewals.is_empty(), "once per renewal date");
    app.clock.advance(Duration::days(10));
    assert!(run_once(&app.state).await.unwrap().review_triggers.renewals.is_empty());
    // Later's window opens 30 days before 2026-12-01.
    app.clock.set(datetime!(2026-11-01 00:00 UTC));
    let report = run_once(&app.state).await.unwrap();
    assert_eq!(report.review_triggers.renewals.len(), 1);
    assert_eq!(campaigns(&app, TriggerKind::Renewal).await.len(), 2);
}));

/// A SCIM client of the test's own, for group updates.
struct Scim {
    token: String,
}

impl Scim {
    async fn new(app: &TestApp) -> Self {
        let bot = app.create_service("directory-sync").await;
        grant(app, &bot, "scim-provisioner", "*").await;
        Self { token: app.create_token(&bot, 86_400).await }
    }

    async fn send(&self, app: &TestApp, method: Method, path: &str, body: Value) -> TestResponse {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/scim+json")
            .body(Body::from(body.to_string()))
            .unwrap();
        app.send(request).await
    }

    async fn user(&self, app: &TestApp, name: &str) -> String {
        let email = format!("{name}@example.com");
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email,
                          "emails": [{"value": email, "primary": true}], "active": true});
        let created = self.send(app, Method::POST, "/scim/v2/Users", body).await;
        created.assert_status(201)["id"].as_str().unwrap().to_owned()
    }

    async fn set_group(&self, app: &TestApp, group: &str, name: &str, members: &[&str]) -> TestResponse {
        let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members});
        self.send(app, Method::PUT, &format!("/scim/v2/Groups/{group}"), body).await
    }
}

engine_test!(directory_changes_open_one_light_review_per_person, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_policies(&db, settings(), Policies::defaults()).await;
    let scim = Scim::new(&app).await;

    // A new person holds nothing yet: nothing to review, no campaign at all.
    let pat = scim.user(&app, "pat").await;
    assert!(campaigns(&app, TriggerKind::Directory).await.is_empty());

    // Their groups change once they hold a grant: a review of their grants, reviewed by the fallback.
    grant(&app, &pat, "developer", "project:acme/web").await;
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "ops", "members": []});
    let group = scim.send(&app, Method::POST, "/scim/v2/Groups", body).await.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    scim.set_group(&app, &group, "ops", &[&pat]).await.assert_status(200);
    let open: Vec<Campaign> = campaigns(&app, TriggerKind::Directory)
        .await
        .into_iter()
        .filter(|campaign| campaign.state == CampaignState::Open)
        .collect();
    assert_eq!(open.len(), 1);
    let review = &open[0];
    assert_eq!(review.trigger.subject, format!("identity:{pat}"));
    assert_eq!(review.items, 1);
    assert_eq!(review.deadline - review.opened_at, Duration::days(7));
    assert_eq!(review.definition.on_no_response.map(|n| n.as_str()), Some("keep"));
    let list = items(&app, review.id).await;
    assert_eq!(list[0].role.as_deref(), Some("developer"));
    assert!(list[0].reviewers.contains(&app.admin_id));

    // A second change while it is open adds nothing; a refused one changes nothing.
    scim.set_group(&app, &group, "ops", &[]).await.assert_status(200);
    assert_eq!(campaigns(&app, TriggerKind::Directory).await.len(), 1);
    let unknown = IdentityId::new().to_string();
    let refused = scim.set_group(&app, &group, "ops", &[&unknown]).await;
    assert!(refused.status.is_client_error(), "{}", refused.text);
    let stranger = app.create_service("stranger").await;
    let token = app.create_token(&stranger, 3_600).await;
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "ops", "members": [{"value": pat}]});
    let request = Request::builder()
        .method(Method::PUT)
        .uri(format!("/scim/v2/Groups/{group}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/scim+json")
        .body(Body::from(body.to_string()))
        .unwrap();
    assert_eq!(app.send(request).await.status.as_u16(), 403);
    assert_eq!(campaigns(&app, TriggerKind::Directory).await.len(), 1);

    // A person whose manager SCIM names: their manager reviews, not the fallback.
    let max = scim.user(&app, "max").await;
    let lou = scim.user(&app, "lou").await;
    grant(&app, &lou, "developer", "project:acme/web").await;
    let managed = json!({"Operations": [{"op": "Add",
        "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": max}]});
    scim.send(&app, Method::PATCH, &format!("/scim/v2/Users/{lou}"), managed).await.assert_status(200);
    scim.set_group(&app, &group, "ops", &[&lou]).await.assert_status(200);
    let lou_review = campaigns(&app, TriggerKind::Directory)
        .await
        .into_iter()
        .find(|campaign| campaign.trigger.subject == format!("identity:{lou}"))
        .expect("a review of Lou's grants");
    let max: IdentityId = max.parse().unwrap();
    assert_eq!(items(&app, lou_review.id).await[0].reviewers, vec![max]);
}));

engine_test!(a_held_change_rejects_githubs_deployment_protection_rule_until_approved, |engine| with_database(
    engine,
    |db| async move {
        let key = TestKey::rsa("app", 2);
        let standin = GithubStandIn::start("4242", &key.public_pem).await;
        let mut settings = settings();
        if let Some(github) = settings.integrations.github.as_mut() {
            github.api_url = standin.url.clone();
            github.app = Some(GithubAppSettings {
                app_id: "4242".into(),
                private_key_pem: Secret::new(String::from_utf8(key.private_pem(2)).unwrap()),
            });
        }
        let app = TestApp::with_policies(&db, settings, policies("on_unreviewed_change = \"hold_deploys\"\n")).await;
        let cast = cast(&app).await;
        let body = json!({"issuer": GITHUB_ACTIONS_ISSUER, "audience": "gatehouse",
                          "claims": {"repository_id": "123456"}, "identity_id": cast.ci.id});
        app.post("/api/v1/trust-bindings", &app.admin_token, body).await.assert_status(201);
        let rule = |deployment: u64| {
            json!({
                "action": "requested", "environment": "production", "event": "push",
                "deployment_callback_url": format!("{}/repos/acme/web/actions/runs/77/deployment_protection_rule", standin.url),
                "deployment": {"id": deployment, "ref": "main", "sha": "abc123"},
                "repository": {"id": 123456, "full_name": "acme/web", "owner": {"id": 987}},
                "installation": {"id": 31},
            })
        };
        let protect = |delivery: &'static str, body: Value| {
            let app = &app;
            async move {
                let request = Request::post("/webhooks/github")
                    .header("content-type", "application/json")
                    .header("x-github-event", "deployment_protection_rule")
                    .header("x-github-delivery", delivery)
                    .header("x-hub-signature-256", sign(&body.to_string()))
                    .body(Body::from(body.to_string()))
                    .unwrap();
                app.send(request).await.assert_status(200).clone()
            }
        };
        assert_eq!(protect("p-1", rule(1)).await["state"], "approved");

        let change = pipeline_push("0000aaaa", UNSIGNED, UNSIGNED, "sue");
        let pushed = push(&app, "push-1", &change, Some(sign(&change.to_string()))).await.assert_status(200).clone();
        let id = CampaignId::from_str(pushed["review"].as_str().unwrap()).unwrap();
        let held = protect("p-2", rule(2)).await;
        assert_eq!(held["state"], "rejected");
        assert!(held["reasons"][0].as_str().unwrap().contains(&id.to_string()), "{held}");

        fresh(&app, &cast.sec).await;
        decide(&app, &cast.sec, id, 0, json!({"decision": "keep"})).await.assert_status(200);
        assert_eq!(protect("p-3", rule(3)).await["state"], "approved");
        let answers = standin.calls().iter().filter(|call| matches!(call, GithubCall::ProtectionAnswer { .. })).count();
        assert_eq!(answers, 3, "GitHub was told each time");
    }
));

engine_test!(an_onboarding_approved_while_its_review_is_open_survives_the_request_s_expiry, |engine| {
    with_database(engine, |db| async move {
        let app = TestApp::with_policies(&db, settings(), Policies::defaults()).await;
        let directory = Directory::new(&app).await;
        let own = directory.person(&app, "own").await;
        grant(&app, &own.id, "admin", "*").await;
        let acme = vendor(&app, "Acme Scan", "2026-12-01").await;
        let bot = app.create_service("acme-scan-bot").await;
        grant(&app, &bot, "viewer", "project:acme/web").await;
        let body = json!({
            "vendor_id": acme, "identity_id": bot, "method": "github_app",
            "permissions": ["contents:read"], "repositories": "selected", "repository_names": ["acme/web"],
            "token_ttl": "1h", "webhook_signature": true,
        });
        let created = app.post("/api/v1/integrations", &app.admin_token, body).await.assert_status(201).clone();
        let id = IntegrationId::from_str(created["id"].as_str().unwrap()).unwrap();
        let campaign = campaigns(&app, TriggerKind::Onboarding).await.remove(0);

        // Approved on day one; the review is still open.
        let waiting = app.store.find_integration(id).await.unwrap().unwrap();
        let request = app.store.find_approval_request(waiting.onboarding_request.unwrap()).await.unwrap().unwrap();
        let now = app.clock.now();
        let record = AuditRecord::system(SystemWriter::Onboarding, now, AuditAction::RequestDecide, "test");
        let approved = app
            .store
            .change_approval_state(request.id, request.state, RequestState::Approved, now, None, vec![record])
            .await
            .unwrap();
        onboarding::settle(&app.state, &approved).await.unwrap();
        assert_eq!(app.store.find_integration(id).await.unwrap().unwrap().state, IntegrationState::PendingApproval);
        let used = app.store.find_approval_request(request.id).await.unwrap().unwrap();
        assert_eq!(used.state, RequestState::Consumed, "used up while it waits, so it cannot expire unused");
        // Settling again (a retried vote) changes nothing.
        onboarding::settle(&app.state, &used).await.unwrap();
        assert_eq!(app.store.find_integration(id).await.unwrap().unwrap().state, IntegrationState::PendingApproval);

        // The request's expiry passes with the review still open: nothing is retired.
        assert!(request.expires_at <= campaign.deadline, "the request would expire first");
        app.clock.set(request.expires_at);
        let report = run_once(&app.state).await.unwrap();
        assert!(!report.expired.contains(&request.id), "{report:?}");
        let integration = app.store.find_integration(id).await.unwrap().unwrap();
        assert_ne!(integration.state, IntegrationState::Retired, "an approved onboarding is not undone by its TTL");

        // The review's close (its deadline) puts it in force.
        app.clock.set(campaign.deadline);
        run_once(&app.state).await.unwrap();
        assert_eq!(app.store.find_campaign(campaign.id).await.unwrap().unwrap().state, CampaignState::Closed);
        assert_eq!(app.store.find_integration(id).await.unwrap().unwrap().state, IntegrationState::Active);
    })
});

/// The request `gatehouse hook pre-receive` sends for one ref update: the
/// new commits of `sandbox` (raw, with the paths each touches) and the
/// paths the update changes.
fn hook_push(sandbox: &GitSandbox, before: &str, commits: &[(&str, &str)], changed: &[&str]) -> Value {
    let commits: Vec<Value> =
        commits.iter().map(|(id, path)| json!({"id": id, "commit": sandbox.cat(id), "paths": [path]})).collect();
    let after = commits.last().map(|commit| commit["id"].clone()).unwrap_or(Value::Null);
    json!({"project": "acme/web", "ref": "refs/heads/main", "commits": commits,
           "before": before, "after": after, "changed_paths": changed})
}

/// `name`'s SSH signing key, registered to `person`.
async fn signing_key(app: &TestApp, sandbox: &GitSandbox, name: &str, person: &str) -> Signing {
    let (key, public) = sandbox.ssh_key(name);
    let path = format!("/api/v1/identities/{person}/signing-keys");
    app.post(&path, &app.admin_token, json!({"public_key": public})).await.assert_status(201);
    Signing::Ssh(key)
}

const ZERO: &str = "0000000000000000000000000000000000000000";
const DEPLOY_YML: &str = ".github/workflows/deploy.yml";

engine_test!(a_verified_push_changing_pipeline_config_opens_its_review_and_holds_deploys, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, settings(), policies("on_unreviewed_change = \"hold_deploys\"\n")).await;
        let cast = cast(&app).await;
        let sandbox = GitSandbox::new();
        let sue_key = signing_key(&app, &sandbox, "sue", &cast.sue.id).await;
        let opened = || async { campaigns(&app, TriggerKind::PipelineChange).await.len() };

        // A signed push that changes only README.md opens nothing.
        let readme = sandbox.commit("README.md", "hello", &sue_key);
        let body = hook_push(&sandbox, ZERO, &[(&readme, "README.md")], &["README.md"]);
        let answer = app.post("/api/v1/verify/push", &app.admin_token, body).await.assert_status(200).clone();
        assert_eq!((answer["valid"].as_bool(), answer.get("review")), (Some(true), None), "{answer}");
        assert_eq!(opened().await, 0);
        assert!(entries_of(&app, "pipeline.config.changed").await.is_empty());
        assert_eq!(deploy(&app, &cast.ci).await["decision"], "allow");

        // Sue's signed change to the workflow, pushed through the hook's token (the admin's).
        let change = sandbox.commit(DEPLOY_YML, "deploy: yes", &sue_key);
        let body = hook_push(&sandbox, &readme, &[(&change, DEPLOY_YML)], &[DEPLOY_YML]);
        let answer = app.post("/api/v1/verify/push", &app.admin_token, body).await.assert_status(200).clone();
        assert_eq!(answer["valid"], true, "{answer}");
        let id = CampaignId::from_str(answer["review"].as_str().expect("a review opened")).unwrap();
        let campaign = app.store.find_campaign(id).await.unwrap().unwrap();
        assert_eq!(campaign.trigger.kind, TriggerKind::PipelineChange);
        assert_eq!(campaign.trigger.subject, "project:acme/web");
        assert_eq!(campaign.trigger.holds.as_deref(), Some("project:acme/web"));
        let list = items(&app, id).await;
        let item = &list[0];
        assert_eq!((item.kind, item.target.clone()), (ItemKind::Change, format!("{readme}..{change}")));
        assert_eq!(item.identity, app.admin_id, "the pusher: the person whose token the hook used");
        assert_eq!(item.authors, vec![identity(&cast.sue)], "the verified signer");
        assert_eq!(item.recommendation.advice.as_str(), "keep", "{}", item.recommendation.reason);
        assert!(list[1..].iter().any(|holder| holder.identity == identity(&cast.sue)), "sue edits the pipeline");
        let entries = entries_of(&app, "pipeline.config.changed").await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        let details = &entries[0]["details"];
        assert_eq!(entries[0]["resource"], "project:acme/web");
        assert_eq!(details["paths"], json!([DEPLOY_YML]));
        assert_eq!(details["commits"][0]["commit"], change.as_str());
        assert_eq!(details["commits"][0]["signer"], cast.sue.id.as_str());
        assert_eq!(
            (details["before"].as_str(), details["after"].as_str()),
            (Some(readme.as_str()), Some(change.as_str()))
        );

        // Held until someone other than its author keeps it.
        let denied = deploy(&app, &cast.ci).await;
        assert_eq!(denied["decision"], "deny");
        assert!(denied["reasons"][0].as_str().unwrap().contains(&id.to_string()), "{denied}");
        fresh(&app, &cast.sue).await;
        let own = decide(&app, &cast.sue, id, 0, json!({"decision": "keep"})).await;
        assert!(own.assert_problem(403).contains("own"), "{}", own.text);
        assert_eq!(deploy(&app, &cast.ci).await["decision"], "deny", "still held");
        fresh(&app, &cast.sec).await;
        decide(&app, &cast.sec, id, 0, json!({"decision": "keep", "reason": "reviewed"})).await.assert_status(200);
        assert_eq!(deploy(&app, &cast.ci).await["decision"], "allow", "released by the approval");

        // An unsigned change to the workflow is refused: its refusal is recorded, nothing opens.
        let unsigned = sandbox.commit(DEPLOY_YML, "deploy: everywhere", &Signing::None);
        let body = hook_push(&sandbox, &change, &[(&unsigned, DEPLOY_YML)], &[DEPLOY_YML]);
        let answer = app.post("/api/v1/verify/push", &app.admin_token, body).await.assert_status(200).clone();
        assert_eq!((answer["valid"].as_bool(), answer.get("review")), (Some(false), None), "{answer}");
        assert_eq!(opened().await, 1);
        assert_eq!(entries_of(&app, "pipeline.config.changed").await.len(), 1);
        let refusals = entries_of(&app, "push.verify").await;
        assert!(refusals.iter().any(|entry| entry["outcome"] == "denied"), "{refusals:?}");
        assert_eq!(deploy(&app, &cast.ci).await["decision"], "allow");

        // `verify-commit --project` (no changed_paths) only verifies, even for configuration.
        let body = json!({"project": "acme/web", "commits": [{"id": change, "commit": sandbox.cat(&change), "paths": [DEPLOY_YML]}]});
        let answer = app.post("/api/v1/verify/push", &app.admin_token, body).await.assert_status(200).clone();
        assert_eq!((answer["valid"].as_bool(), answer.get("review")), (Some(true), None), "{answer}");
        assert_eq!(opened().await, 1);
    }
));

engine_test!(push_requests_naming_bad_changed_paths_are_refused_and_open_nothing, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_policies(&db, settings(), Policies::defaults()).await;
        let cast = cast(&app).await;
        let sandbox = GitSandbox::new();
        let sue_key = signing_key(&app, &sandbox, "sue", &cast.sue.id).await;
        let change = sandbox.commit(DEPLOY_YML, "deploy: yes", &sue_key);
        let good = hook_push(&sandbox, ZERO, &[(&change, DEPLOY_YML)], &[DEPLOY_YML]);
        let with = |field: &str, value: Value| {
            let mut body = good.clone();
            body[field] = value;
            body
        };
        let huge: Vec<String> = (0..5_001).map(|n| format!(".github/workflows/w{n}.yml")).collect();
        let cases = [
            ("too many paths", with("changed_paths", json!(huge)), 413, "at most 5000"),
            ("a newline", with("changed_paths", json!([".github/workflows/a\nb.yml"])), 422, "control character"),
            ("an escape sequence", with("changed_paths", json!(["\u{1b}[2J.gitlab-ci.yml"])), 422, "control character"),
            ("outside the repository", with("changed_paths", json!(["../.gitlab-ci.yml"])), 422, "not relative"),
            ("absolute", with("changed_paths", json!(["/etc/Jenkinsfile"])), 422, "not relative"),
            ("empty", with("changed_paths", json!([""])), 422, "is empty"),
            ("not a string", with("changed_paths", json!([7])), 422, ""),
            ("no commits", with("commits", json!([])), 422, "needs the commits"),
            ("a before that is not an id", with("before", json!("main")), 422, "not an object id"),
            ("an after that is not an id", with("after", json!("--all")), 422, "not an object id"),
        ];
        for (what, body, status, says) in cases {
            let refused = app.post("/api/v1/verify/push", &app.admin_token, body).await;
            let detail = refused.assert_problem(status);
            assert!(detail.contains(says), "{what}: {detail}");
        }
        assert!(campaigns(&app, TriggerKind::PipelineChange).await.is_empty());
        assert!(entries_of(&app, "pipeline.config.changed").await.is_empty());
        assert!(entries_of(&app, "push.verify").await.is_empty(), "refused before any verification");

        // Paths that do not match the commits: the commits' own configuration
        // paths count even when changed_paths leaves them out, and the
        // review names every commit when none says it touched configuration.
        let hidden = hook_push(&sandbox, ZERO, &[(&change, DEPLOY_YML)], &["README.md"]);
        let answer = app.post("/api/v1/verify/push", &app.admin_token, hidden).await.assert_status(200).clone();
        let id = CampaignId::from_str(answer["review"].as_str().expect("not hidden")).unwrap();
        assert_eq!(items(&app, id).await[0].authors, vec![identity(&cast.sue)]);
        let readme = sandbox.commit("README.md", "hello", &sue_key);
        let claimed = hook_push(&sandbox, &change, &[(&readme, "README.md")], &["Jenkinsfile"]);
        let answer = app.post("/api/v1/verify/push", &app.admin_token, claimed).await.assert_status(200).clone();
        let id = CampaignId::from_str(answer["review"].as_str().expect("a review")).unwrap();
        let item = &items(&app, id).await[0];
        assert_eq!(item.authors, vec![identity(&cast.sue)], "{item:?}");
        let entries = entries_of(&app, "pipeline.config.changed").await;
        assert_eq!(entries.len(), 2);
        assert!(entries.iter().any(|entry| entry["details"]["paths"] == json!(["Jenkinsfile"])), "{entries:?}");

        // A service's token (a CI job's hook): nobody named as pusher, the signer stands in.
        let bot = app.create_service("git-server").await;
        let bot_token = app.create_token(&bot, 3_600).await;
        let third = sandbox.commit(".gitlab-ci.yml", "stages: []", &sue_key);
        let body = hook_push(&sandbox, &readme, &[(&third, ".gitlab-ci.yml")], &[".gitlab-ci.yml"]);
        let answer = app.post("/api/v1/verify/push", &bot_token, body).await.assert_status(200).clone();
        let id = CampaignId::from_str(answer["review"].as_str().expect("a review")).unwrap();
        assert_eq!(items(&app, id).await[0].identity, identity(&cast.sue));
    }
));
