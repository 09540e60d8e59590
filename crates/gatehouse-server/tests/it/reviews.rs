//! Access review campaigns through the API: a quarterly campaign walked by
//! the test clock through opening, partial decisions, the reminder, the
//! deadline and its defaults; every refusal an attacker would try; the
//! second stage, narrowing and delegation; the last policy manager kept.

use gatehouse_audit::bundle::{self, Bundle};
use gatehouse_domain::review::{EXPORT_FORMAT, check_export};
use gatehouse_server::scheduler::run_once;
use gatehouse_testkit::{TestApp, engine_test, with_app};
use serde_json::{Value, json};
use time::Duration;

use crate::people::{Directory, Person, grant, problem_type, verify};

/// Sec and Sue review (group `security`); Ana and Bo deploy to production;
/// Eve views the project and reviews nothing.
struct Cast {
    sec: Person,
    sue: Person,
    ana: Person,
    bo: Person,
    eve: Person,
}

async fn cast(app: &TestApp) -> Cast {
    let directory = Directory::new(app).await;
    let sec = directory.person(app, "sec").await;
    let sue = directory.person(app, "sue").await;
    let ana = directory.person(app, "ana").await;
    let bo = directory.person(app, "bo").await;
    let eve = directory.person(app, "eve").await;
    directory.group(app, "security", &[&sec, &sue, &ana]).await;
    grant(app, &ana.id, "deployer", "environment:acme/web:production").await;
    grant(app, &bo.id, "deployer", "environment:acme/web:production").await;
    grant(app, &eve.id, "viewer", "project:acme/web").await;
    Cast { sec, sue, ana, bo, eve }
}

fn quarterly() -> Value {
    json!({
        "name": "Production deployers",
        "scope": {"role": "deployer", "scope": "environment:acme/web:*"},
        "reviewers": ["group:security"],
        "fallback": "role:admin",
        "duration": "5d",
        "recurrence": "quarterly",
        "on_no_response": "revoke",
    })
}

/// A fresh second factor: the next TOTP step (a code is used once).
async fn fresh(app: &TestApp, person: &Person) {
    app.clock.advance(Duration::seconds(30));
    verify(app, person).await;
}

async fn open(app: &TestApp, body: Value) -> Value {
    app.post("/api/v1/reviews", &app.admin_token, body).await.assert_status(201).clone()
}

async fn items(app: &TestApp, campaign: &str) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/reviews/{campaign}/items"), &app.admin_token).await;
    listed.assert_status(200)["items"].as_array().unwrap().clone()
}

/// The number of the item about `person`.
fn item_of(items: &[Value], person: &Person) -> u64 {
    items.iter().find(|item| item["item"]["identity"] == person.id.as_str()).unwrap()["item"]["number"]
        .as_u64()
        .unwrap()
}

async fn decide(
    app: &TestApp,
    who: &Person,
    campaign: &str,
    item: u64,
    body: Value,
) -> gatehouse_testkit::TestResponse {
    app.post(&format!("/api/v1/reviews/{campaign}/items/{item}/decision"), &who.token, body).await
}

async fn grants_of(app: &TestApp, person: &Person) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/grants?identity_id={}", person.id), &app.admin_token).await;
    listed.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["revoked_at"].is_null())
        .cloned()
        .collect()
}

/// The campaign's export and the audit public key.
async fn export(app: &TestApp, campaign: &str) -> (Bundle, String) {
    let key = app.get("/api/v1/audit/public-key", &app.admin_token).await.text.trim().to_owned();
    let exported = app.get(&format!("/api/v1/reviews/{campaign}/export"), &app.admin_token).await;
    exported.assert_status(200);
    (serde_json::from_str(&exported.text).unwrap(), key)
}

async fn entries(app: &TestApp, action: &str) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/audit/entries?action={action}&limit=500"), &app.admin_token).await;
    listed.assert_status(200)["items"].as_array().unwrap().clone()
}

engine_test!(a_quarterly_campaign_runs_from_opening_through_reminder_to_its_defaults, |engine| with_app(
    engine,
    |app| async move {
        let cast = cast(&app).await;
        let campaign = open(&app, quarterly()).await;
        let id = campaign["id"].as_str().unwrap().to_owned();
        assert_eq!((campaign["state"].as_str(), campaign["items"].as_u64()), (Some("open"), Some(2)));
        let digest = campaign["snapshot_digest"].as_str().unwrap();
        assert_eq!(digest.len(), 64);
        let opened = entries(&app, "review.open").await;
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0]["details"]["snapshot_digest"], digest, "the entry carries the snapshot's digest");
        assert_eq!(opened[0]["details"]["items"], 2);

        // The snapshot names each item's reviewers: never its own identity.
        let list = items(&app, &id).await;
        let ana_item = item_of(&list, &cast.ana);
        let bo_item = item_of(&list, &cast.bo);
        let ana_reviewers = list[ana_item as usize]["item"]["reviewers"].as_array().unwrap();
        assert!(!ana_reviewers.contains(&json!(cast.ana.id)), "nobody reviews themselves");
        assert!(ana_reviewers.contains(&json!(cast.sec.id)));
        assert_eq!(list[bo_item as usize]["item"]["recommendation"]["advice"], "keep", "granted today");
        let inbox = app.get("/api/v1/reviews/assigned", &cast.sec.token).await;
        assert_eq!(inbox.assert_status(200)["items"].as_array().unwrap().len(), 2);

        // A partial decision: Ana's access is kept; Bo's is left undecided.
        fresh(&app, &cast.sec).await;
        let kept = decide(&app, &cast.sec, &id, ana_item, json!({"decision": "keep", "reason": "on call"})).await;
        let kept = kept.assert_status(200);
        assert_eq!(kept["final"], true);
        assert_eq!(kept["decision"]["shown"], "keep", "the recommendation shown is recorded");
        assert_eq!(kept["decision"]["mfa_method"], "totp");

        // A day before the deadline the reviewers of what is undecided are reminded, once.
        app.clock.advance(Duration::days(4) + Duration::hours(1));
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.reviews.reminded.len(), 1);
        let reminded = entries(&app, "review.remind").await;
        assert_eq!(reminded[0]["details"]["undecided"], 1);
        assert!(reminded[0]["details"]["reviewers"].as_array().unwrap().contains(&json!(cast.sue.id)));
        assert!(run_once(&app.state).await.unwrap().reviews.reminded.is_empty(), "reminded once");

        // At the deadline the campaign closes by itself and Bo's grant goes.
        app.clock.advance(Duration::days(1));
        let report = run_once(&app.state).await.unwrap();
        assert_eq!(report.reviews.closed.len(), 1);
        let closed = app.get(&format!("/api/v1/reviews/{id}"), &app.admin_token).await.assert_status(200).clone();
        assert_eq!(closed["state"], "closed");
        assert_eq!(closed["counts"]["kept"], 1);
        assert_eq!(closed["counts"]["revoked"], 1);
        assert_eq!(closed["counts"]["defaulted"], 1);
        assert_eq!(closed["counts"]["failed"], 0);
        assert!(grants_of(&app, &cast.bo).await.is_empty(), "the default revoked Bo's grant");
        assert_eq!(grants_of(&app, &cast.ana).await.len(), 1, "Ana's kept grant stays");
        let close_entry = &entries(&app, "review.close").await[0];
        assert_eq!(close_entry["details"]["decisions_digest"], closed["decisions_digest"]);
        let defaulted = &entries(&app, "review.default").await[0];
        assert_eq!(defaulted["actor"], "system");
        assert_eq!(defaulted["details"]["applied"]["ok"], true);
        let revoked = entries(&app, "grant.revoke").await;
        assert!(revoked.iter().any(|e| e["details"]["review"]["campaign_id"] == id.as_str()));

        // The auditor's export verifies offline with only the public key.
        let (bundle, key) = export(&app, &id).await;
        let verified = bundle::verify(&bundle, EXPORT_FORMAT, &key, 2).unwrap();
        let summary = check_export(&bundle.sections, &verified.leaves).unwrap();
        assert_eq!((summary.items, summary.decisions, summary.defaults), (2, 1, 1));
        assert_eq!((summary.revoked, summary.revocations_found), (1, 1));
        // Tampered: an edited item is named; an edited entry is named by index.
        let mut edited = bundle.clone();
        edited.sections["snapshot"][bo_item as usize]["identity"] = json!(cast.sec.id);
        let problem = check_export(&edited.sections, &verified.leaves).unwrap_err();
        assert_eq!(problem.item, Some(u32::try_from(bo_item).unwrap()), "{problem}");
        let mut forged = bundle.clone();
        let last = forged.entries.len() - 1;
        forged.entries[last].leaf = forged.entries[last].leaf.replace("\"review.close\"", "\"review.closed\"");
        let refused = bundle::verify(&forged, EXPORT_FORMAT, &key, 2).unwrap_err();
        assert_eq!(refused.index, Some(forged.entries[last].index), "{refused}");
        app.get(&format!("/api/v1/reviews/{id}/export"), &cast.sec.token).await.assert_problem(403);

        // Closed: a late decision is refused and nothing is asked any more.
        fresh(&app, &cast.sec).await;
        let late = decide(&app, &cast.sec, &id, bo_item, json!({"decision": "keep"})).await;
        late.assert_problem(409);
        let inbox = app.get("/api/v1/reviews/assigned", &cast.sec.token).await;
        assert!(inbox.assert_status(200)["items"].as_array().unwrap().is_empty());
        // An open campaign has nothing final to export yet.
        let open_now = open(&app, quarterly()).await;
        app.get(&format!("/api/v1/reviews/{}/export", open_now["id"].as_str().unwrap()), &app.admin_token)
            .await
            .assert_problem(409);
    }
));

engine_test!(decisions_an_attacker_tries_are_refused_and_change_nothing, |engine| with_app(engine, |app| async move {
    let cast = cast(&app).await;
    let id = open(&app, quarterly()).await["id"].as_str().unwrap().to_owned();
    let list = items(&app, &id).await;
    let ana_item = item_of(&list, &cast.ana);
    let bo_item = item_of(&list, &cast.bo);
    for person in [&cast.sec, &cast.ana, &cast.eve] {
        fresh(&app, person).await;
    }
    let before = grants_of(&app, &cast.ana).await.len() + grants_of(&app, &cast.bo).await.len();

    // Someone who reviews nothing here.
    let stranger = decide(&app, &cast.eve, &id, bo_item, json!({"decision": "revoke"})).await;
    assert!(stranger.assert_problem(403).contains("not a reviewer"), "{}", stranger.text);
    // The item's own identity, though in the reviewing group.
    let own = decide(&app, &cast.ana, &id, ana_item, json!({"decision": "keep"})).await;
    assert!(own.assert_problem(403).contains("own access"), "{}", own.text);
    // Eve cannot read the campaign's items either.
    app.get(&format!("/api/v1/reviews/{id}/items"), &cast.eve.token).await.assert_problem(403);

    // Bad input: unknown ids, malformed bodies, a reviewer's `suspend`.
    let unknown = uuid_like();
    decide(&app, &cast.sec, &unknown, 0, json!({"decision": "keep"})).await.assert_problem(404);
    decide(&app, &cast.sec, &id, 999, json!({"decision": "keep"})).await.assert_problem(404);
    let path = format!("/api/v1/reviews/{id}/items/not-a-number/decision");
    app.post(&path, &cast.sec.token, json!({"decision": "keep"})).await.assert_problem(400);
    for body in [
        json!({"decision": "maybe"}),
        json!({"decision": "suspend"}),
        json!({"decision": "keep", "surprise": true}),
        json!({"decision": 7}),
        json!({"decision": "delegate", "to": cast.eve.id}),
        json!({"decision": "keep", "until": "2020-01-01T00:00:00Z"}),
        json!({"decision": "narrow", "role": "admin"}),
    ] {
        let refused = decide(&app, &cast.sec, &id, bo_item, body.clone()).await;
        assert!(refused.status == 422, "{body}: {} {}", refused.status, refused.text);
    }
    let oversized = "x".repeat(2_000);
    decide(&app, &cast.sec, &id, bo_item, json!({"decision": "keep", "reason": oversized})).await.assert_problem(422);

    // A stale second factor: refused with the step-up problem.
    app.clock.advance(Duration::minutes(20));
    let stale = decide(&app, &cast.sec, &id, bo_item, json!({"decision": "revoke"})).await;
    stale.assert_problem(403);
    assert!(problem_type(&stale).ends_with("mfa-required"), "{}", stale.text);
    let after = grants_of(&app, &cast.ana).await.len() + grants_of(&app, &cast.bo).await.len();
    assert_eq!(after, before, "nothing changed");
    assert!(
        app.get(&format!("/api/v1/reviews/{id}/items"), &app.admin_token).await.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["decisions"].as_array().unwrap().is_empty())
    );

    // A revoke is applied at once; a second decision is refused, not overwritten.
    fresh(&app, &cast.sec).await;
    let revoked = decide(&app, &cast.sec, &id, bo_item, json!({"decision": "revoke"})).await;
    assert_eq!(revoked.assert_status(200)["applied"]["ok"], true);
    assert!(grants_of(&app, &cast.bo).await.is_empty());
    fresh(&app, &cast.sue).await;
    let twice = decide(&app, &cast.sue, &id, bo_item, json!({"decision": "keep"})).await;
    assert!(twice.assert_problem(409).contains("final"), "{}", twice.text);
    let denied = entries(&app, "review.decide").await;
    assert!(denied.iter().filter(|e| e["outcome"] == "denied").count() >= 3, "refusals are recorded");

    // Opening needs grant.manage, and a bad definition stores nothing.
    app.post("/api/v1/reviews", &cast.sec.token, quarterly()).await.assert_problem(403);
    let mut bad = quarterly();
    bad.as_object_mut().unwrap().remove("fallback");
    let refused = app.post("/api/v1/reviews", &app.admin_token, bad).await;
    assert!(refused.assert_problem(422).contains("fallback"), "{}", refused.text);
    let listed = app.get("/api/v1/reviews", &app.admin_token).await;
    assert_eq!(listed.assert_status(200)["items"].as_array().unwrap().len(), 1);
    app.post(&format!("/api/v1/reviews/{id}/close"), &cast.sec.token, json!({})).await.assert_problem(403);

    // Past the deadline, even before the scheduler closes it: refused.
    app.clock.advance(Duration::days(6));
    fresh(&app, &cast.sue).await;
    let late = decide(&app, &cast.sue, &id, ana_item, json!({"decision": "keep"})).await;
    assert!(late.assert_problem(409).contains("deadline"), "{}", late.text);
}));

fn uuid_like() -> String {
    gatehouse_domain::ids::CampaignId::new().to_string()
}

engine_test!(an_empty_scope_is_recorded_as_skipped_and_asks_nobody, |engine| with_app(engine, |app| async move {
    let cast = cast(&app).await;
    let mut body = quarterly();
    body["scope"] = json!({"role": "auditor"});
    let skipped = open(&app, body).await;
    assert_eq!((skipped["state"].as_str(), skipped["items"].as_u64()), (Some("skipped"), Some(0)));
    assert_eq!(entries(&app, "review.skip").await.len(), 1);
    assert!(entries(&app, "review.open").await.is_empty());
    let inbox = app.get("/api/v1/reviews/assigned", &cast.sec.token).await;
    assert!(inbox.assert_status(200)["items"].as_array().unwrap().is_empty());
}));

engine_test!(a_privileged_item_needs_a_second_stage_narrowing_and_delegation_apply, |engine| with_app(
    engine,
    |app| async move {
        let cast = cast(&app).await;
        grant(&app, &cast.bo.id, "admin", "*").await;
        grant(&app, &cast.bo.id, "developer", "project:acme/web").await;
        let body = json!({
            "name": "Everyone",
            "scope": {"scope": "**"},
            "reviewers": ["group:security"],
            "second_stage": [format!("identity:{}", cast.eve.id)],
            "fallback": "role:admin",
            "duration": "7d",
        });
        let id = open(&app, body).await["id"].as_str().unwrap().to_owned();
        let list = items(&app, &id).await;
        let admin_item =
            list.iter().find(|i| i["item"]["identity"] == cast.bo.id.as_str() && i["item"]["role"] == "admin").unwrap();
        let admin_item = admin_item["item"]["number"].as_u64().unwrap();
        for person in [&cast.sec, &cast.sue, &cast.eve] {
            fresh(&app, person).await;
        }
        // Stage 1 keeps; the item goes to the second stage, which Sec may not decide.
        let first = decide(&app, &cast.sec, &id, admin_item, json!({"decision": "keep"})).await;
        assert_eq!(first.assert_status(200)["final"], false);
        decide(&app, &cast.sec, &id, admin_item, json!({"decision": "keep"})).await.assert_problem(403);
        decide(&app, &cast.sue, &id, admin_item, json!({"decision": "keep"})).await.assert_problem(403);
        let second = decide(&app, &cast.eve, &id, admin_item, json!({"decision": "keep"})).await;
        assert_eq!(second.assert_status(200)["final"], true);

        // Narrowing replaces Bo's developer grant by a viewer grant.
        let bo_deployer = list
            .iter()
            .find(|i| i["item"]["identity"] == cast.bo.id.as_str() && i["item"]["role"] == "developer")
            .unwrap();
        let number = bo_deployer["item"]["number"].as_u64().unwrap();
        let narrowed = decide(&app, &cast.sec, &id, number, json!({"decision": "narrow", "role": "viewer"})).await;
        assert_eq!(narrowed.assert_status(200)["applied"]["ok"], true, "{}", narrowed.text);
        let roles: Vec<String> =
            grants_of(&app, &cast.bo).await.iter().map(|g| g["role"].as_str().unwrap().to_owned()).collect();
        assert!(roles.contains(&"viewer".to_owned()) && !roles.contains(&"developer".to_owned()), "{roles:?}");

        // Delegation hands Ana's item to Sue: then only Sue decides it.
        let ana_item = list.iter().find(|i| i["item"]["identity"] == cast.ana.id.as_str()).unwrap();
        let number = ana_item["item"]["number"].as_u64().unwrap();
        let handed = decide(&app, &cast.sec, &id, number, json!({"decision": "delegate", "to": cast.sue.id})).await;
        assert_eq!(handed.assert_status(200)["final"], false);
        decide(&app, &cast.sec, &id, number, json!({"decision": "keep"})).await.assert_problem(403);
        let kept = decide(&app, &cast.sue, &id, number, json!({"decision": "keep"})).await;
        assert_eq!(kept.assert_status(200)["final"], true);
    }
));

engine_test!(a_default_never_removes_the_last_identity_able_to_manage_policy, |engine| with_app(
    engine,
    |app| async move {
        let body = json!({
            "name": "Admins",
            "scope": {"role": "admin"},
            "reviewers": ["group:nobody"],
            "fallback": "role:admin",
            "duration": "7d",
            "on_no_response": "revoke",
        });
        let campaign = open(&app, body).await;
        let id = campaign["id"].as_str().unwrap().to_owned();
        assert_eq!(campaign["items"], 1);
        let opened = &entries(&app, "review.open").await[0];
        assert_eq!(opened["details"]["unassigned"], 1, "the admin may not review their own grant");
        assert_eq!(entries(&app, "review.alert").await.len(), 1, "an item nobody can review is an alert");

        let closed = app.post(&format!("/api/v1/reviews/{id}/close"), &app.admin_token, json!({})).await;
        let closed = closed.assert_status(200);
        assert_eq!(closed["counts"]["escalated"], 1);
        assert_eq!(closed["counts"]["revoked"], 0);
        let grants = app.get(&format!("/api/v1/grants?identity_id={}", app.admin_id), &app.admin_token).await;
        assert!(
            grants.body["items"].as_array().unwrap().iter().any(|g| g["role"] == "admin" && g["revoked_at"].is_null())
        );
        let alerts = entries(&app, "review.alert").await;
        assert!(alerts.iter().any(|e| e["reason"].as_str().unwrap_or_default().contains("escalated")), "{alerts:?}");
        app.post(&format!("/api/v1/reviews/{id}/close"), &app.admin_token, json!({})).await.assert_problem(409);
    }
));

engine_test!(a_manager_reviews_the_access_of_those_they_manage, |engine| with_app(engine, |app| async move {
    // Mia manages Ana; Lee managed Bo, and left; Cy has no manager.
    let directory = Directory::new(&app).await;
    let sec = directory.person(&app, "sec").await;
    let mia = directory.person(&app, "mia").await;
    let lee = directory.person(&app, "lee").await;
    let ana = directory.person_managed_by(&app, "ana", Some(&mia)).await;
    let bo = directory.person_managed_by(&app, "bo", Some(&lee)).await;
    let cy = directory.person(&app, "cy").await;
    directory.group(&app, "security", &[&sec]).await;
    directory.deactivate(&app, &lee).await;
    for person in [&ana, &bo, &cy] {
        grant(&app, &person.id, "deployer", "environment:acme/web:production").await;
    }
    let body = json!({
        "name": "Deployers, by their managers",
        "scope": {"role": "deployer"},
        "reviewers": ["manager"],
        "fallback": "group:security",
        "duration": "5d",
    });
    let id = open(&app, body).await["id"].as_str().unwrap().to_owned();
    let list = items(&app, &id).await;
    assert_eq!(list.len(), 3);
    let reviewers = |person: &Person| list[item_of(&list, person) as usize]["item"]["reviewers"].clone();
    assert_eq!(reviewers(&ana), json!([mia.id]), "Ana's manager, alone");
    assert_eq!(reviewers(&bo), json!([sec.id]), "a manager no longer active reviews nothing: the fallback does");
    assert_eq!(reviewers(&cy), json!([sec.id]), "no manager: the fallback");

    // Each inbox holds what its owner reviews.
    let inbox = |person: &Person| {
        let (app, token) = (&app, person.token.clone());
        async move { app.get("/api/v1/reviews/assigned", &token).await.assert_status(200)["items"].clone() }
    };
    let mia_inbox = inbox(&mia).await;
    assert_eq!(mia_inbox.as_array().unwrap().len(), 1);
    assert_eq!(mia_inbox[0]["item"]["identity"], ana.id.as_str());
    let sec_inbox = inbox(&sec).await;
    let mut about: Vec<&str> =
        sec_inbox.as_array().unwrap().iter().map(|i| i["item"]["identity"].as_str().unwrap()).collect();
    about.sort_unstable();
    let mut expected = vec![bo.id.as_str(), cy.id.as_str()];
    expected.sort_unstable();
    assert_eq!(about, expected);

    // Mia decides Ana's item, with a fresh second factor; not Cy's.
    fresh(&app, &mia).await;
    let cy_item = item_of(&list, &cy);
    let refused = decide(&app, &mia, &id, cy_item, json!({"decision": "revoke"})).await;
    assert!(refused.assert_problem(403).contains("not a reviewer"), "{}", refused.text);
    assert_eq!(grants_of(&app, &cy).await.len(), 1, "the refusal changed nothing");
    let revoked =
        decide(&app, &mia, &id, item_of(&list, &ana), json!({"decision": "revoke", "reason": "moved team"})).await;
    let revoked = revoked.assert_status(200);
    assert_eq!((revoked["final"].as_bool(), revoked["applied"]["ok"].as_bool()), (Some(true), Some(true)));
    assert!(grants_of(&app, &ana).await.is_empty(), "the manager's revoke applied at once");
    assert!(inbox(&mia).await.as_array().unwrap().is_empty());
}));
