//! Access reviews from the command line (issue 28): `gatehouse review
//! open|list|show|decide|close` against a running server. A reviewer
//! decides with `--code` (codes from `oathtool`); a second decision on the
//! same item and a stranger's are refused with exit 1 and the server's
//! sentence, and change nothing.

use gatehouse_testkit::{engine_test, with_database};
use serde_json::{Value, json};

use crate::support::{Server, gatehouse, run, stderr, stdout};

/// A person with a confirmed TOTP factor: `token` enrolled it; `deciding`
/// is a second token whose factor is not yet verified, so `--code` is what
/// makes it fresh.
pub(crate) struct Person {
    pub(crate) id: String,
    pub(crate) deciding: String,
    pub(crate) secret: String,
}

pub(crate) async fn person(server: &Server, admin: &str, name: &str) -> Person {
    let post = |path: &'static str, body: Value| async move {
        let (status, answer) = server.post(path, admin, &body).await;
        assert!((200..300).contains(&status), "{path}: {status} {answer}");
        answer
    };
    let created =
        post("/api/v1/identities", json!({"kind": "human", "name": name, "email": format!("{name}@example.com")}))
            .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let enrolling = post("/api/v1/tokens", json!({"identity_id": id, "ttl_seconds": 3600})).await;
    let enrolling = enrolling["token"].as_str().unwrap().to_owned();
    let (_, enrollment) = server.post("/api/v1/mfa/totp", &enrolling, &Value::Null).await;
    let secret = enrollment["secret"].as_str().unwrap().to_owned();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let code = gatehouse_mfa::TotpSecret::from_base32(&secret).unwrap().code_at(now);
    let (status, _) = server.post("/api/v1/mfa/totp/confirm", &enrolling, &json!({"code": code})).await;
    assert_eq!(status, 200);
    let deciding = post("/api/v1/tokens", json!({"identity_id": id, "ttl_seconds": 3600})).await;
    Person { id, deciding: deciding["token"].as_str().unwrap().to_owned(), secret }
}

engine_test!(review_commands_open_show_and_decide_a_campaign, |engine| {
    with_database(engine, |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let cli_as = |token: &str, args: &[&str]| {
            let mut command = gatehouse(&data_dir, &db.url);
            command.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", token).args(args);
            run(&mut command)
        };
        let ok_as = |token: &str, args: &[&str]| -> String {
            let output = cli_as(token, args);
            assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
            stdout(&output)
        };
        let json_as = |token: &str, args: &[&str]| -> Value {
            let mut all = args.to_vec();
            all.extend(["--output", "json"]);
            serde_json::from_str(&ok_as(token, &all)).unwrap()
        };
        let ok = |args: &[&str]| ok_as(&admin, args);
        let json = |args: &[&str]| json_as(&admin, args);

        let rita = person(&server, &admin, "rita").await;
        let eve = person(&server, &admin, "eve").await;
        let bo_body = json!({"kind": "human", "name": "Bo", "email": "bo@example.com"});
        let (status, bo) = server.post("/api/v1/identities", &admin, &bo_body).await;
        assert_eq!(status, 201, "{bo}");
        let bo = bo["id"].as_str().unwrap().to_owned();
        let grant = json!({"identity_id": bo, "role": "deployer", "scope": "environment:acme/web:production"});
        let (status, _) = server.post("/api/v1/grants", &admin, &grant).await;
        assert_eq!(status, 201);

        // Open from a JSON definition.
        let definition = json!({
            "name": "Production deployers",
            "scope": {"role": "deployer", "scope": "environment:acme/*:production"},
            "reviewers": [format!("identity:{}", rita.id)],
            "fallback": "role:admin",
            "duration": "14d",
            "on_no_response": "keep",
        });
        let file = db.dir.path().join("campaign.json");
        std::fs::write(&file, definition.to_string()).unwrap();
        let opened = json(&["review", "open", "--file", file.to_str().unwrap()]);
        assert_eq!((opened["state"].as_str(), opened["items"].as_u64()), (Some("open"), Some(1)), "{opened}");
        assert_eq!(opened["snapshot_digest"].as_str().unwrap().len(), 64);
        let id = opened["id"].as_str().unwrap().to_owned();

        // A bad definition is the server's sentence, exit 1; a bad file is exit 2.
        let mut bad = definition.clone();
        bad["duration"] = json!("forever");
        std::fs::write(&file, bad.to_string()).unwrap();
        let refused = cli_as(&admin, &["review", "open", "--file", file.to_str().unwrap()]);
        assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("(422)"), "{}", stderr(&refused));
        std::fs::write(&file, "not json").unwrap();
        let unreadable = cli_as(&admin, &["review", "open", "--file", file.to_str().unwrap()]);
        assert_eq!(unreadable.status.code(), Some(2), "{}", stderr(&unreadable));

        // List and show, as a table and as JSON.
        let listing = ok(&["review", "list"]);
        assert!(listing.starts_with("ID ") && listing.contains("Production deployers"), "{listing}");
        let open_only = json(&["review", "list", "--state", "open"]);
        assert_eq!(open_only["items"].as_array().unwrap().len(), 1);
        assert_eq!(json(&["review", "list", "--state", "closed"])["items"], json!([]));
        let shown = ok(&["review", "show", &id, "--items"]);
        assert!(shown.contains("RECOMMENDATION") && shown.contains("LAST USE"), "{shown}");
        assert!(shown.contains("Bo") && shown.contains("deployer") && shown.contains("undecided"), "{shown}");
        let items = json(&["review", "show", &id, "--items"]);
        assert_eq!(items["campaign"]["id"], id.as_str());
        let item = items["items"][0]["item"]["number"].as_u64().unwrap().to_string();
        assert_eq!(items["items"][0]["item"]["identity"], bo.as_str());

        // A stranger is refused, and nothing changes.
        let stranger = cli_as(&eve.deciding, &["review", "decide", &id, &item, "revoke"]);
        assert_eq!(stranger.status.code(), Some(1), "{}", stderr(&stranger));
        assert!(stderr(&stranger).contains("not a reviewer of this item"), "{}", stderr(&stranger));
        let _ = eve.secret;

        // Without a fresh second factor and no terminal: refused, told to pass --code.
        let stale = cli_as(&rita.deciding, &["review", "decide", &id, &item, "keep"]);
        assert_eq!(stale.status.code(), Some(1), "{}", stderr(&stale));
        assert!(stderr(&stale).contains("--code"), "{}", stderr(&stale));
        let undecided = json(&["review", "show", &id, "--items"]);
        assert_eq!(undecided["items"][0]["outcome"], Value::Null, "refusals change nothing");

        // The reviewer decides with a code.
        let code = crate::approvals::next_code(&rita.secret);
        let decided = json_as(
            &rita.deciding,
            &["review", "decide", &id, &item, "keep", "--reason", "on call this quarter", "--code", &code],
        );
        assert_eq!(decided["final"], true, "{decided}");
        assert_eq!(decided["decision"]["verdict"]["decision"], "keep");
        assert_eq!(decided["decision"]["mfa_method"], "totp");
        assert_eq!(decided["decision"]["reviewer"], rita.id.as_str());

        // A second decision on the same item is refused: decisions are final.
        let twice = cli_as(&rita.deciding, &["review", "decide", &id, &item, "revoke"]);
        assert_eq!(twice.status.code(), Some(1), "{}", stderr(&twice));
        assert!(stderr(&twice).contains("already decided"), "{}", stderr(&twice));
        let after = ok(&["review", "show", &id, "--items"]);
        assert!(after.contains("keep") && !after.contains("revoke "), "{after}");
        let (_, grants) = server.get(&format!("/api/v1/grants?identity_id={bo}"), &admin).await;
        assert!(grants["items"][0]["revoked_at"].is_null(), "the kept grant stays: {grants}");

        // Open from flags, then close early: the undecided item gets the default.
        let flagged = json(&[
            "review",
            "open",
            "--name",
            "Deployers again",
            "--reviewer",
            &format!("identity:{}", rita.id),
            "--fallback",
            "role:admin",
            "--duration",
            "7d",
            "--role",
            "deployer",
            "--on-no-response",
            "keep",
        ]);
        assert_eq!(flagged["items"], 1, "{flagged}");
        assert_eq!(flagged["definition"]["duration"], "7d");
        let second = flagged["id"].as_str().unwrap().to_owned();
        let closed = ok(&["review", "close", &second]);
        assert!(closed.contains("closed") && closed.contains("defaulted 1"), "{closed}");
        let stranger_close = cli_as(&eve.deciding, &["review", "close", &id]);
        assert_eq!(stranger_close.status.code(), Some(1), "{}", stderr(&stranger_close));
        assert_eq!(json(&["review", "show", &id])["state"], "open", "a stranger closes nothing");

        // The closed campaign's export verifies offline with only the public key.
        let export = db.dir.path().join("review-export.json");
        let wrote = ok(&["review", "export", &second, "--out", export.to_str().unwrap()]);
        assert!(wrote.contains("1 items"), "{wrote}");
        let signing = std::fs::read_to_string(data_dir.join("audit-signing.key")).unwrap();
        let key = gatehouse_audit::note_key::NoteSigner::parse(&signing).unwrap().verifier().encode();
        let verify = |file: &std::path::Path, key: &str| {
            let mut command = gatehouse(&data_dir, &db.url);
            run(command.args(["review", "verify", file.to_str().unwrap(), "--public-key", key]))
        };
        let verified = verify(&export, &key);
        assert_eq!(verified.status.code(), Some(0), "{}", stderr(&verified));
        assert!(stdout(&verified).contains("defaults at the deadline"), "{}", stdout(&verified));
        // Truncated, reordered, edited and another key: each refused, naming why.
        let original: Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
        let tampered = db.dir.path().join("tampered.json");
        let refused = |bytes: Vec<u8>, key: &str, expected: &str| {
            std::fs::write(&tampered, bytes).unwrap();
            let output = verify(&tampered, key);
            assert_eq!(output.status.code(), Some(1), "{expected}: {}", stderr(&output));
            assert!(stderr(&output).contains(expected), "{expected}: {}", stderr(&output));
        };
        let bytes = std::fs::read(&export).unwrap();
        refused(bytes[..bytes.len() / 2].to_vec(), &key, "file truncated");
        let mut reordered = original.clone();
        reordered["entries"].as_array_mut().unwrap().swap(0, 1);
        refused(serde_json::to_vec(&reordered).unwrap(), &key, "out of order");
        let mut edited = original.clone();
        edited["sections"]["snapshot"][0]["identity"] = json!(rita.id);
        refused(serde_json::to_vec(&edited).unwrap(), &key, "item 0");
        let other = gatehouse_audit::note_key::NoteSigner::generate("gatehouse").unwrap().verifier().encode();
        refused(bytes.clone(), &other, "not the trusted key");
        let still_open = cli_as(&admin, &["review", "export", &id, "--out", export.to_str().unwrap()]);
        assert_eq!(still_open.status.code(), Some(1), "an open campaign has nothing final to export");

        // Usage errors are exit 2.
        let usage = cli_as(&admin, &["review", "decide", &id, &item, "narrow"]);
        assert_eq!(usage.status.code(), Some(2), "{}", stderr(&usage));
        let usage = cli_as(&admin, &["review", "decide", &id, &item, "approve"]);
        assert_eq!(usage.status.code(), Some(2), "{}", stderr(&usage));
    })
});
