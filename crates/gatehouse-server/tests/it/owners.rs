//! Issue 25, item 1: "your own things" is policy (`owners.cedar`), asked
//! through the same decision as everything else. Attacked: someone else's
//! token, session and signing key stay out of reach although the owner rule
//! exists; a folder without the rule takes one's own away; `/authorize`
//! names the rule; invalid resource ids are 422, never 500.

use gatehouse_domain::audit::{Actor, AuditRecord, Outcome};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::ids::SessionId;
use gatehouse_domain::session::NewSession;
use gatehouse_domain::token::TokenSecret;
use gatehouse_mfa::TotpSecret;
use gatehouse_policy::{Policies, PolicySetSource};
use gatehouse_server::{MfaSettings, Settings};
use gatehouse_testkit::{TestApp, engine_test, test_settings, with_app, with_database};
use serde_json::{Value, json};
use time::Duration;

const ANA_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHw4pZR38VBL79tpQzpu+NYB3Vemf6uUTZs3nuvty0sY ana";
const BOB_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN3eEVZVs3KfR4t7ICdohfBBX3fPIczjehN8lDl2tR11 bob";

/// A browser session for `identity`, started as a login would.
async fn start_session(app: &TestApp, identity: &str) -> SessionId {
    let now = app.clock.now();
    let session = NewSession {
        id: SessionId::new(),
        hash: TokenSecret::generate().hash(),
        identity_id: identity.parse().unwrap(),
        created_at: now,
        expires_at: now + Duration::hours(2),
        source_ip: None,
    };
    let id = session.id;
    app.store.create_session(session, None, AuditRecord::new(now, Actor::System, "auth.login", "test")).await.unwrap();
    id
}

/// The id of `identity`'s only token.
async fn token_id_of(app: &TestApp, identity: &str) -> String {
    let listed = app.get(&format!("/api/v1/tokens?identity_id={identity}"), &app.admin_token).await;
    listed.assert_status(200)["items"][0]["id"].as_str().unwrap().to_owned()
}

async fn token_status(app: &TestApp, id: &str) -> String {
    app.get(&format!("/api/v1/tokens/{id}"), &app.admin_token).await.assert_status(200)["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn last_audit(app: &TestApp) -> gatehouse_domain::audit::AuditRecord {
    let size = app.audit_size().await;
    app.store.list_audit(size - 1, 1).await.unwrap().remove(0).record
}

fn ask(action: &str, kind: &str, id: &str) -> Value {
    json!({"action": action, "resource": {"type": kind, "id": id}})
}

engine_test!(nobody_sees_or_ends_another_identitys_token_session_or_signing_key, |engine| with_app(
    engine,
    |app| async move {
        let ana = app.create_human("Ana", "ana@example.com").await;
        let bob = app.create_human("Bob", "bob@example.com").await;
        let ana_token = app.create_token(&ana, 3600).await;
        let bob_token = app.create_token(&bob, 3600).await;
        let ana_token_id = token_id_of(&app, &ana).await;
        let ana_session = start_session(&app, &ana).await;
        let keys = format!("/api/v1/identities/{ana}/signing-keys");
        let added = app.post(&keys, &ana_token, json!({"public_key": ANA_KEY})).await;
        let ana_key = added.assert_status(201)["id"].as_str().unwrap().to_owned();

        // Bob, granted nothing, against each of Ana's things: every read and
        // every write refused and audited, nothing changed.
        for path in [
            format!("/api/v1/identities/{ana}"),
            format!("/api/v1/tokens/{ana_token_id}"),
            format!("/api/v1/tokens?identity_id={ana}"),
            format!("/api/v1/grants?identity_id={ana}"),
            format!("/api/v1/identities/{ana}/sessions"),
            keys.clone(),
            format!("{keys}/{ana_key}"),
        ] {
            app.get(&path, &bob_token).await.assert_problem(403);
            let entry = last_audit(&app).await;
            assert_eq!(entry.outcome, Outcome::Denied, "{path}");
            assert!(entry.details["reasons"].to_string().contains("deny by default"), "{path}: {entry:?}");
        }
        app.delete(&format!("/api/v1/tokens/{ana_token_id}"), &bob_token).await.assert_problem(403);
        assert_eq!(last_audit(&app).await.resource, format!("token:{ana_token_id}"));
        assert_eq!(token_status(&app, &ana_token_id).await, "active");
        app.delete(&format!("/api/v1/sessions/{ana_session}"), &bob_token).await.assert_problem(403);
        assert_eq!(app.store.find_session_by_id(ana_session).await.unwrap().unwrap().revoked_at, None);
        app.delete(&format!("{keys}/{ana_key}"), &bob_token).await.assert_problem(403);
        app.post(&keys, &bob_token, json!({"public_key": BOB_KEY})).await.assert_problem(403);
        assert_eq!(app.store.list_signing_keys(ana.parse().unwrap()).await.unwrap().len(), 1);

        // Ana's own, by the same calls: the owner rule lets her.
        app.get(&format!("/api/v1/identities/{ana}/sessions"), &ana_token).await.assert_status(200);
        app.get(&format!("{keys}/{ana_key}"), &ana_token).await.assert_status(200);
        app.delete(&format!("/api/v1/sessions/{ana_session}"), &ana_token).await.assert_status(200);
        app.delete(&format!("{keys}/{ana_key}"), &ana_token).await.assert_status(200);
        app.delete(&format!("/api/v1/tokens/{ana_token_id}"), &ana_token).await.assert_status(200);
        assert_eq!(token_status(&app, &ana_token_id).await, "revoked");
    }
));

engine_test!(without_the_owner_policies_nobody_ends_or_sees_their_own_token, |engine| with_database(
    engine,
    |db| async move {
        let mut source = PolicySetSource::defaults();
        assert!(source.files.remove("owners.cedar").is_some());
        let app = TestApp::with_policies(&db, test_settings(), Policies::from_source(&source).unwrap()).await;
        let ana = app.create_human("Ana", "ana@example.com").await;
        let ana_token = app.create_token(&ana, 3600).await;
        let ana_token_id = token_id_of(&app, &ana).await;

        // Policy, not code: with the rule gone, her own token is not hers.
        app.delete(&format!("/api/v1/tokens/{ana_token_id}"), &ana_token).await.assert_problem(403);
        assert_eq!(token_status(&app, &ana_token_id).await, "active");
        app.get(&format!("/api/v1/tokens/{ana_token_id}"), &ana_token).await.assert_problem(403);
        app.get(&format!("/api/v1/identities/{ana}"), &ana_token).await.assert_problem(403);
        let asked = app.post("/api/v1/authorize", &ana_token, ask("identity.manage", "Token", &ana_token_id)).await;
        assert_eq!(asked.assert_status(200)["decision"], "deny");
        // An admin still may, by its grant.
        app.delete(&format!("/api/v1/tokens/{ana_token_id}"), &app.admin_token).await.assert_status(200);
    }
));

engine_test!(authorize_names_the_owner_rule_and_looks_up_the_owner, |engine| with_app(engine, |app| async move {
    let ana = app.create_human("Ana", "ana@example.com").await;
    let bob = app.create_human("Bob", "bob@example.com").await;
    let ana_token = app.create_token(&ana, 3600).await;
    let bob_token = app.create_token(&bob, 3600).await;
    let ana_token_id = token_id_of(&app, &ana).await;
    let ana_session = start_session(&app, &ana).await.to_string();

    let own = app.post("/api/v1/authorize", &ana_token, ask("identity.manage", "Token", &ana_token_id)).await;
    let own = own.assert_status(200).clone();
    assert_eq!(own["decision"], "allow");
    assert_eq!(own["reasons"], json!(["permitted by policy `owners-end-their-own-credentials`"]));
    let index = own["audit_index"].as_u64().unwrap();
    assert_eq!(app.store.list_audit(index, 1).await.unwrap()[0].record.resource, format!("token:{ana_token_id}"));
    for (kind, id) in [("Identity", ana.as_str()), ("Session", ana_session.as_str())] {
        let seen = app.post("/api/v1/authorize", &ana_token, ask("identity.view", kind, id)).await;
        assert_eq!(seen.assert_status(200)["reasons"], json!(["permitted by policy `owners-see-their-own`"]), "{kind}");
    }

    // Bob asking about Ana's token: the owner is looked up, not taken
    // from him, and it is not his.
    let theirs = app.post("/api/v1/authorize", &bob_token, ask("identity.manage", "Token", &ana_token_id)).await;
    assert_eq!(theirs.assert_status(200)["decision"], "deny");
    assert_eq!(theirs.body["reasons"], json!(["no policy or grant permits this (deny by default)"]));
    // The admin, by its grant over `*`.
    let admin = app.post("/api/v1/authorize", &app.admin_token, ask("identity.manage", "Token", &ana_token_id)).await;
    assert!(admin.assert_status(200)["reasons"][0].as_str().unwrap().contains("role `admin`"), "{}", admin.text);

    let unknown = gatehouse_domain::ids::TokenId::new().to_string();
    app.post("/api/v1/authorize", &ana_token, ask("identity.view", "Token", &unknown)).await.assert_problem(404);
    for (kind, id) in [("Token", "nope"), ("Session", ""), ("Grant", "1"), ("Identity", "ana")] {
        let refused = app.post("/api/v1/authorize", &ana_token, ask("identity.view", kind, id)).await;
        assert!(refused.assert_problem(422).contains("resource.id"), "{kind} {id}: {}", refused.text);
    }
    // An owned kind does not apply to every action.
    let odd = app.post("/api/v1/authorize", &ana_token, ask("source.push", "Token", &ana_token_id)).await;
    assert!(odd.assert_problem(422).contains("does not apply"), "{}", odd.text);
}));

engine_test!(ending_ones_own_token_needs_no_fresh_factor_under_step_up, |engine| with_database(
    engine,
    |db| async move {
        let settings = Settings { mfa: MfaSettings { step_up: true, ..MfaSettings::default() }, ..test_settings() };
        let app = TestApp::with_settings(&db, settings).await;
        // The admin enrolls: confirming makes its token fresh.
        let started = app.post("/api/v1/mfa/totp", &app.admin_token, json!({})).await.assert_status(200).clone();
        let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
        let code = secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
        app.post("/api/v1/mfa/totp/confirm", &app.admin_token, json!({"code": code})).await.assert_status(200);
        let ana = app.create_human("Ana", "ana@example.com").await;
        let ana_token = app.create_token(&ana, 3600).await;
        let ana_token_id = token_id_of(&app, &ana).await;
        let session = start_session(&app, &ana).await;
        app.delete(&format!("/api/v1/sessions/{session}"), &ana_token).await.assert_status(200);
        // A key of her own still asks for one.
        let added = app
            .post(&format!("/api/v1/identities/{ana}/signing-keys"), &ana_token, json!({"public_key": ANA_KEY}))
            .await;
        assert!(added.assert_problem(403).contains("second factor"), "{}", added.text);
        app.delete(&format!("/api/v1/tokens/{ana_token_id}"), &ana_token).await.assert_status(200);
    }
));

engine_test!(invalid_resource_ids_are_422_never_500, |engine| with_app(engine, |app| async move {
    for (kind, id) in [
        ("Project", "acme//web"),
        ("Project", "../etc"),
        ("Project", ""),
        ("Pipeline", "acme/web"),
        ("Pipeline", "acme/web:"),
        ("Pipeline", "acme/web:a b"),
        ("Environment", "acme/web"),
        ("Environment", ":production"),
        ("Environment", &format!("acme/web:{}", "x".repeat(101))),
        ("Project", &"a/".repeat(200)),
    ] {
        for action in ["pipeline.view", "deployment.approve"] {
            let asked = app.post("/api/v1/authorize", &app.admin_token, ask(action, kind, id)).await;
            asked.assert_problem(422);
        }
        let registered = app.post("/api/v1/resources", &app.admin_token, json!({"type": kind, "id": id})).await;
        registered.assert_problem(422);
    }
    for project in ["acme//web", "not a project", "", "acme/web:deploy"] {
        let body = json!({"commit": "not a commit", "project": project});
        app.post("/api/v1/verify/commit", &app.admin_token, body).await.assert_problem(422);
        let body = json!({"project": project, "commits": []});
        app.post("/api/v1/verify/push", &app.admin_token, body).await.assert_problem(422);
    }
}));
