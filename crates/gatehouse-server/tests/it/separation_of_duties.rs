//! Separation of duties from what gatehouse verified: the signer of a
//! commit, recorded when the commit was verified, may not approve its
//! deployment, whether or not the approver says who the author was.

use gatehouse_domain::clock::Clock;
use gatehouse_mfa::TotpSecret;
use gatehouse_server::{MfaSettings, Settings};
use gatehouse_testkit::git_repo::{GitSandbox, Signing};
use gatehouse_testkit::{TestApp, engine_test, with_database};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const GUARD: &str = "authors-may-not-approve-their-own-deployment";

fn step_up() -> Settings {
    Settings { mfa: MfaSettings { step_up: true, ..MfaSettings::default() }, ..gatehouse_testkit::test_settings() }
}

/// Enrolls the token's owner in TOTP and proves a fresh second factor.
async fn fresh_mfa(app: &TestApp, token: &str) {
    let started = app.post("/api/v1/mfa/totp", token, json!({})).await.assert_status(200).clone();
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let code = secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
    app.post("/api/v1/mfa/totp/confirm", token, json!({"code": code})).await.assert_status(200);
}

fn approve(context: Value) -> Value {
    json!({"action": "deployment.approve", "resource": {"type": "Environment", "id": "acme/web:production"},
           "context": context})
}

async fn decide(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("/api/v1/authorize", token, body).await.assert_status(200).clone()
}

/// Ana and Bob, both release approvers and developers on acme/web with an
/// SSH signing key each; the admin, Ana and Bob with fresh MFA. Returns the
/// app's sandbox, ids, tokens and key paths.
struct People {
    sandbox: GitSandbox,
    ana: String,
    bob: String,
    ana_token: String,
    bob_token: String,
    ana_key: std::path::PathBuf,
    bob_key: std::path::PathBuf,
}

async fn people(app: &TestApp) -> People {
    let admin = app.admin_token.clone();
    fresh_mfa(app, &admin).await;
    let sandbox = GitSandbox::new();
    let ana = app.create_human("Ana", "ana@example.com").await;
    let bob = app.create_human("Bob", "bob@example.com").await;
    let (ana_key, ana_public) = sandbox.ssh_key("ana");
    let (bob_key, bob_public) = sandbox.ssh_key("bob");
    for (who, public) in [(&ana, &ana_public), (&bob, &bob_public)] {
        for (role, scope) in
            [("developer", "project:acme/web"), ("release-approver", "environment:acme/web:production")]
        {
            let grant = json!({"identity_id": who, "role": role, "scope": scope});
            app.post("/api/v1/grants", &admin, grant).await.assert_status(201);
        }
        let key = json!({"public_key": public});
        app.post(&format!("/api/v1/identities/{who}/signing-keys"), &admin, key).await.assert_status(201);
    }
    let ana_token = app.create_token(&ana, 3600).await;
    let bob_token = app.create_token(&bob, 3600).await;
    fresh_mfa(app, &ana_token).await;
    fresh_mfa(app, &bob_token).await;
    People { sandbox, ana, bob, ana_token, bob_token, ana_key, bob_key }
}

engine_test!(the_verified_signer_may_not_approve_without_saying_so, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_settings(&db, step_up()).await;
    let p = people(&app).await;
    let by_ana = p.sandbox.commit("src/a.rs", "a", &Signing::Ssh(p.ana_key.clone()));

    // Before gatehouse verified it, nothing is known: decided as today.
    let unknown = decide(&app, &p.ana_token, approve(json!({"commit": by_ana}))).await;
    assert_eq!(unknown["decision"], "allow", "{unknown}");
    let entry = &app.store.list_audit(unknown["audit_index"].as_u64().unwrap(), 1).await.unwrap()[0].record;
    assert_eq!(entry.details["known_authors"], json!({"authors": [], "author_known": false}));

    // The pre-receive hook (or a forge) verifies the push.
    let before = app.audit_size().await;
    let commits = json!([{"id": by_ana, "commit": p.sandbox.cat(&by_ana), "paths": ["src/a.rs"]}]);
    let pushed = app
        .post(
            "/api/v1/verify/push",
            &p.bob_token,
            json!({"project": "acme/web", "ref": "refs/heads/main", "commits": commits}),
        )
        .await;
    assert_eq!(pushed.assert_status(200)["valid"], true, "{}", pushed.text);
    assert_eq!(app.audit_size().await, before + 1, "the facts are written with the verification's one entry");
    let entry = &app.store.list_audit(before, 1).await.unwrap()[0].record;
    assert_eq!(entry.action, "push.verify");
    assert_eq!(entry.details["authors_recorded"], 1);
    assert_eq!(entry.actor.id(), p.bob, "whoever asked is the actor");

    // Ana leaves `author` out: gatehouse knows, and the guard denies.
    for context in [json!({"commit": by_ana}), json!({"commits": [by_ana]}), json!({"commit": by_ana.to_uppercase()})] {
        let own = decide(&app, &p.ana_token, approve(context.clone())).await;
        assert_eq!(own["decision"], "deny", "{context}: {own}");
        assert!(own["reasons"][0].as_str().unwrap().contains(GUARD), "{own}");
        // Naming someone else as the author takes nothing away.
        let mut claimed = context.clone();
        claimed["author"] = json!("bob@example.com");
        assert_eq!(decide(&app, &p.ana_token, approve(claimed)).await["decision"], "deny", "{context}");
    }
    let entry = &app.store.list_audit(app.audit_size().await - 1, 1).await.unwrap()[0].record;
    assert_eq!(entry.details["known_authors"], json!({"authors": [p.ana], "author_known": true}));

    // Bob, with a fresh second factor, approves Ana's commit.
    let other = decide(&app, &p.bob_token, approve(json!({"commit": by_ana}))).await;
    assert_eq!(other["decision"], "allow", "{other}");
    // A commit nobody verified is decided as before.
    let never = "f".repeat(40);
    assert_eq!(decide(&app, &p.ana_token, approve(json!({"commit": never}))).await["decision"], "allow");
    // Naming it with a verified one: Ana is still among the authors.
    let mixed = decide(&app, &p.ana_token, approve(json!({"commits": [never, by_ana]}))).await;
    assert_eq!(mixed["decision"], "deny", "{mixed}");

    // Asked about Ana by the admin, the same facts hold.
    let about_ana = decide(
        &app,
        &app.admin_token,
        json!({"principal": p.ana, "action": "deployment.approve",
            "resource": {"type": "Environment", "id": "acme/web:production"}, "context": {"commit": by_ana}}),
    )
    .await;
    assert_eq!(about_ana["decision"], "deny");
}));

engine_test!(callers_cannot_supply_or_forge_the_authors, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_settings(&db, step_up()).await;
    let p = people(&app).await;
    let by_ana = p.sandbox.commit("src/a.rs", "a", &Signing::Ssh(p.ana_key.clone()));
    let by_bob = p.sandbox.commit("src/b.rs", "b", &Signing::Ssh(p.bob_key.clone()));

    // Attack: Bob verifies his own commit object under the id of Ana's, to
    // be recorded as its author... and so Ana under his. gatehouse names
    // the fact by the id it computes from the object.
    let forged = json!({"id": by_ana, "commit": p.sandbox.cat(&by_bob), "project": "acme/web"});
    let verdict = app.post("/api/v1/verify/commit", &p.bob_token, forged).await.assert_status(200).clone();
    assert_eq!(verdict["valid"], true, "{verdict}");
    assert_eq!(decide(&app, &p.bob_token, approve(json!({"commit": by_ana}))).await["decision"], "allow");
    let own = decide(&app, &p.bob_token, approve(json!({"commit": by_bob}))).await;
    assert_eq!(own["decision"], "deny", "recorded under the object's real id: {own}");

    // A SHA-256 repository names commits by 64 digits: the fact is under
    // the object's SHA-256.
    let raw = p.sandbox.cat(&by_ana);
    let mut hasher = Sha256::new();
    hasher.update(format!("commit {}\0", raw.len()).as_bytes());
    hasher.update(raw.as_bytes());
    let sha256 = hex::encode(hasher.finalize());
    let verified = json!({"id": "0".repeat(64), "commit": raw, "project": "acme/web"});
    app.post("/api/v1/verify/commit", &p.ana_token, verified).await.assert_status(200);
    assert_eq!(decide(&app, &p.ana_token, approve(json!({"commit": sha256}))).await["decision"], "deny");
    assert_eq!(decide(&app, &p.ana_token, approve(json!({"commit": "0".repeat(64)}))).await["decision"], "allow");

    // A refused verification records nobody: an unsigned commit.
    let unsigned = p.sandbox.commit("src/c.rs", "c", &Signing::None);
    let verdict = json!({"id": unsigned, "commit": p.sandbox.cat(&unsigned), "project": "acme/web"});
    let before = app.audit_size().await;
    assert_eq!(app.post("/api/v1/verify/commit", &p.ana_token, verdict).await.assert_status(200)["valid"], false);
    let entry = &app.store.list_audit(before, 1).await.unwrap()[0].record;
    assert_eq!(entry.details["authors_recorded"], 0);

    // Attack: the caller supplies the facts gatehouse owns, to clear itself
    // or blame someone else. Refused, and nothing is decided or written.
    let before = app.audit_size().await;
    for (context, needle) in [
        (json!({"commit": by_ana, "authors": []}), "`authors` is set by gatehouse"),
        (json!({"authors": [p.ana]}), "`authors` is set by gatehouse"),
        (json!({"commit": by_ana, "author_known": false}), "`author_known` is set by gatehouse"),
        (json!({"commit": "main"}), "`main` is not a commit id"),
        (json!({"commit": "abc123"}), "is not a commit id"),
        (json!({"commit": format!("{by_ana} ")}), "is not a commit id"),
        (json!({"commit": 7}), "context `commit`"),
        (json!({"commits": by_ana}), "context `commits`"),
        (json!({"commits": [by_ana, "zz"]}), "context `commits`"),
        (json!({"commits": vec![by_ana.clone(); 1001]}), "at most 1000"),
    ] {
        let refused = app.post("/api/v1/authorize", &p.ana_token, approve(context.clone())).await;
        assert!(refused.assert_problem(422).contains(needle), "{context}: {}", refused.text);
    }
    assert_eq!(app.audit_size().await, before, "refused questions change nothing");

    // The other approver still needs a fresh second factor (this token
    // never proved one).
    let bob_stale = app.create_token(&p.bob, 600).await;
    let stale = decide(&app, &bob_stale, approve(json!({"commit": by_ana}))).await;
    assert_eq!(stale["decision"], "deny");
    assert!(stale["reasons"][0].as_str().unwrap().contains("mfa-required"), "{stale}");
}));
