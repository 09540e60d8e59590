//! Signing keys and commit verification over the API, with keys and
//! commits made by the real `ssh-keygen`, `gpg` and `git`.

use base64::Engine as _;
use gatehouse_testkit::git_repo::{GitSandbox, Signing};
use gatehouse_testkit::{TestApp, engine_test, with_app};
use serde_json::{Value, json};

async fn add_key(app: &TestApp, identity: &str, public_key: &str) -> Value {
    app.post(
        &format!("/api/v1/identities/{identity}/signing-keys"),
        &app.admin_token,
        json!({"public_key": public_key}),
    )
    .await
    .assert_status(201)
    .clone()
}

async fn grant(app: &TestApp, identity: &str, role: &str, scope: &str) {
    app.post("/api/v1/grants", &app.admin_token, json!({"identity_id": identity, "role": role, "scope": scope}))
        .await
        .assert_status(201);
}

async fn verify(app: &TestApp, raw: &str, paths: &[&str]) -> Value {
    app.post("/api/v1/verify/commit", &app.admin_token, json!({"commit": raw, "project": "acme/web", "paths": paths}))
        .await
        .assert_status(200)
        .clone()
}

engine_test!(signing_keys_are_registered_once_and_bad_ones_refused, |engine| with_app(engine, |app| async move {
    let sandbox = GitSandbox::new();
    let ana = app.create_human("Ana", "ana@example.com").await;
    let bob = app.create_human("Bob", "bob@example.com").await;
    let (_, ssh_public) = sandbox.ssh_key("ana");
    let (fingerprint, pgp_public) = sandbox.gpg_key("ana@example.com", "never");

    let ssh = add_key(&app, &ana, &ssh_public).await;
    assert_eq!(ssh["kind"], "ssh");
    assert!(ssh["fingerprint"].as_str().unwrap().starts_with("SHA256:"));
    let pgp = add_key(&app, &ana, &pgp_public).await;
    assert_eq!(pgp["kind"], "openpgp");
    assert_eq!(pgp["fingerprint"], fingerprint.as_str());
    let listed = app.get(&format!("/api/v1/identities/{ana}/signing-keys"), &app.admin_token).await;
    assert_eq!(listed.assert_status(200).as_array().unwrap().len(), 2);

    let before = app.audit_size().await;
    let path = format!("/api/v1/identities/{bob}/signing-keys");
    let duplicate = app.post(&path, &app.admin_token, json!({"public_key": ssh_public})).await;
    assert!(duplicate.assert_problem(409).contains("one key, one identity"));
    let rsa_path = sandbox.root().join("weak");
    sandbox.run(
        sandbox.root(),
        "ssh-keygen",
        &["-q", "-t", "rsa", "-b", "1024", "-N", "", "-f", rsa_path.to_str().unwrap()],
    );
    let weak = std::fs::read_to_string(rsa_path.with_extension("pub")).unwrap();
    assert!(
        app.post(&path, &app.admin_token, json!({"public_key": weak}))
            .await
            .assert_problem(422)
            .contains("at least 2048 bits")
    );
    assert!(
        app.post(&path, &app.admin_token, json!({"public_key": "ssh-ed25519 AAAAnope"}))
            .await
            .assert_problem(422)
            .contains("cannot be read")
    );
    assert!(
        app.post(&path, &app.admin_token, json!({"public_key": "hello"}))
            .await
            .assert_problem(422)
            .contains("not an OpenSSH")
    );
    app.post(&path, &app.admin_token, json!({"public_key": 7})).await.assert_problem(422);
    let unknown = gatehouse_domain::ids::IdentityId::new();
    app.post(
        &format!("/api/v1/identities/{unknown}/signing-keys"),
        &app.admin_token,
        json!({"public_key": ssh_public}),
    )
    .await
    .assert_problem(404);
    assert_eq!(app.audit_size().await, before, "refused keys change nothing");

    // People manage their own keys, not others'.
    let bob_token = app.create_token(&bob, 600).await;
    app.post(&format!("/api/v1/identities/{ana}/signing-keys"), &bob_token, json!({"public_key": ssh_public}))
        .await
        .assert_problem(403);
    let key_id = ssh["id"].as_str().unwrap();
    app.delete(&format!("/api/v1/identities/{bob}/signing-keys/{key_id}"), &app.admin_token).await.assert_problem(404);
    app.delete(&format!("/api/v1/identities/{ana}/signing-keys/{key_id}"), &app.admin_token).await.assert_status(200);
    app.get(&format!("/api/v1/identities/{ana}/signing-keys/{key_id}"), &app.admin_token).await.assert_problem(404);
}));

engine_test!(commits_are_traced_to_an_active_identity_allowed_to_push, |engine| with_app(engine, |app| async move {
    let sandbox = GitSandbox::new();
    let ana = app.create_human("Ana", "ana@example.com").await;
    let bob = app.create_human("Bob", "bob@example.com").await;
    let carol = app.create_human("Carol", "carol@example.com").await;
    let vic = app.create_human("Vic", "vic@example.com").await;
    grant(&app, &ana, "maintainer", "project:acme/web").await;
    grant(&app, &bob, "developer", "project:acme/web").await;
    grant(&app, &vic, "developer", "project:acme/web").await;
    let keys: Vec<_> = ["ana", "bob", "carol", "vic", "stranger"].iter().map(|n| sandbox.ssh_key(n)).collect();
    for (identity, (_, public)) in [&ana, &bob, &carol, &vic].iter().zip(&keys) {
        add_key(&app, identity, public).await;
    }
    let (gpg_fingerprint, gpg_public) = sandbox.gpg_key("ana@example.com", "never");
    add_key(&app, &ana, &gpg_public).await;

    let ssh = |i: usize| Signing::Ssh(keys[i].0.clone());
    let by_ana = sandbox.commit("src/a.rs", "a", &ssh(0));
    let ok = verify(&app, &sandbox.cat(&by_ana), &["src/a.rs"]).await;
    assert_eq!(ok["valid"], true, "{ok}");
    assert_eq!(ok["signer"]["identity_id"], ana.as_str());
    assert_eq!(ok["signer"]["name"], "Ana");
    let by_gpg = sandbox.commit("src/b.rs", "b", &Signing::Gpg(gpg_fingerprint.clone()));
    let ok = verify(&app, &sandbox.cat(&by_gpg), &[]).await;
    assert_eq!(ok["valid"], true, "{ok}");
    assert_eq!(ok["signer"]["key_fingerprint"], gpg_fingerprint.as_str());

    let cases: Vec<(&str, String, Vec<&str>, &str)> = vec![
        ("unsigned", sandbox.cat(&sandbox.commit("c", "c", &Signing::None)), vec![], "not signed"),
        ("unknown key", sandbox.cat(&sandbox.commit("d", "d", &ssh(4))), vec![], "registered to nobody"),
        (
            "altered",
            sandbox.cat(&by_ana).replace("change src/a.rs", "change src/evil.rs"),
            vec![],
            "changed after it was signed",
        ),
        ("no source.push", sandbox.cat(&sandbox.commit("e", "e", &ssh(2))), vec![], "Carol may not push to acme/web"),
        (
            "config by a developer",
            sandbox.cat(&sandbox.commit(".github/workflows/ci.yml", "x", &ssh(3))),
            vec![".github/workflows/ci.yml"],
            "Vic may not edit pipeline configuration",
        ),
        ("garbage", "not a commit".to_owned(), vec![], "not a commit object"),
    ];
    for (name, raw, paths, fragment) in cases {
        let answer = verify(&app, &raw, &paths).await;
        assert_eq!(answer["valid"], false, "{name}: {answer}");
        assert!(answer["reason"].as_str().unwrap().contains(fragment), "{name}: {answer}");
    }

    // Suspension counts at once.
    let by_bob = sandbox.cat(&sandbox.commit("f", "f", &ssh(1)));
    assert_eq!(verify(&app, &by_bob, &[]).await["valid"], true);
    app.call(axum::http::Method::POST, &format!("/api/v1/identities/{bob}/suspend"), Some(&app.admin_token), None)
        .await
        .assert_status(200);
    let answer = verify(&app, &by_bob, &[]).await;
    assert_eq!(answer["reason"], "Bob is suspended");

    // A revocation uploaded later counts from then on.
    let revoked = sandbox.gpg_revoke(&gpg_fingerprint);
    let recorded = app
        .post(&format!("/api/v1/identities/{ana}/signing-keys"), &app.admin_token, json!({"public_key": revoked}))
        .await;
    recorded.assert_status(200);
    let answer = verify(&app, &sandbox.cat(&by_gpg), &[]).await;
    assert!(answer["reason"].as_str().unwrap().contains("is revoked"), "{answer}");

    // Every verification is an audit entry.
    let entries = app
        .store
        .search_audit(
            &gatehouse_domain::store::AuditFilter { action: Some("commit.verify".into()), ..Default::default() },
            0,
            100,
        )
        .await
        .unwrap();
    assert!(entries.len() >= 10, "{}", entries.len());
}));

engine_test!(a_push_is_verified_in_one_request_and_blobs_too, |engine| with_app(engine, |app| async move {
    let sandbox = GitSandbox::new();
    let ana = app.create_human("Ana", "ana@example.com").await;
    grant(&app, &ana, "developer", "project:acme/web").await;
    let (key, public) = sandbox.ssh_key("ana");
    add_key(&app, &ana, &public).await;
    let good = sandbox.commit("a", "a", &Signing::Ssh(key.clone()));
    let bad = sandbox.commit("b", "b", &Signing::None);
    let commits = json!([
        {"id": good, "commit": sandbox.cat(&good), "paths": ["a"]},
        {"id": bad, "commit": sandbox.cat(&bad), "paths": ["b"]},
    ]);
    let before = app.audit_size().await;
    let answer = app
        .post(
            "/api/v1/verify/push",
            &app.admin_token,
            json!({"project": "acme/web", "ref": "refs/heads/main", "commits": commits}),
        )
        .await;
    let answer = answer.assert_status(200).clone();
    assert_eq!(answer["valid"], false);
    assert_eq!(answer["commits"][0]["valid"], true);
    assert_eq!(answer["commits"][1]["id"], bad.as_str());
    assert_eq!(answer["commits"][1]["reason"], "the commit is not signed");
    // One entry for the push, its verdicts inside.
    assert_eq!(app.audit_size().await, before + 1);
    let entry = &app.store.list_audit(before, 1).await.unwrap()[0].record;
    assert_eq!((entry.action.as_str(), entry.outcome.as_str()), ("push.verify", "denied"));
    assert_eq!(entry.details["commits"], 2);
    assert_eq!(entry.details["verdicts"][0]["commit"], bad.as_str(), "the refused first");
    assert_eq!(entry.details["verdicts"][1]["valid"], true);
    app.post("/api/v1/verify/push", &app.admin_token, json!({"project": "not a project", "commits": []}))
        .await
        .assert_problem(422);

    let file = sandbox.root().join("release.tar");
    std::fs::write(&file, b"release bits").unwrap();
    sandbox.run(
        sandbox.root(),
        "ssh-keygen",
        &["-q", "-Y", "sign", "-n", "gatehouse", "-f", key.to_str().unwrap(), file.to_str().unwrap()],
    );
    let signature = std::fs::read_to_string(sandbox.root().join("release.tar.sig")).unwrap();
    let blob = |content: &[u8]| json!({"signature": signature, "content_base64": base64::engine::general_purpose::STANDARD.encode(content), "name": "release.tar"});
    let ok = app.post("/api/v1/verify/blob", &app.admin_token, blob(b"release bits")).await;
    assert_eq!(ok.assert_status(200)["valid"], true);
    let changed = app.post("/api/v1/verify/blob", &app.admin_token, blob(b"release bitz")).await;
    assert_eq!(changed.assert_status(200)["reason"], "the file changed after it was signed");
}));
