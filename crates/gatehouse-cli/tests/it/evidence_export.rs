//! `gatehouse evidence --out` against a real server and `gatehouse evidence
//! verify` offline: intact, then truncated, reordered, edited, re-summarized
//! and checked against another key, each refused naming what is wrong.

use gatehouse_testkit::{engine_test, with_database};
use serde_json::{Value, json};

use crate::support::{Server, gatehouse, run, stderr, stdout};

fn verify(data_dir: &std::path::Path, url: &str, file: &std::path::Path, key: &str) -> (Option<i32>, String, String) {
    let output =
        run(gatehouse(data_dir, url).args(["evidence", "verify", file.to_str().unwrap(), "--public-key", key]));
    (output.status.code(), stdout(&output), stderr(&output))
}

engine_test!(an_evidence_file_verifies_offline_and_tampering_is_named, |engine| with_database(
    engine,
    |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;

        // A CI service deploys acme/web to staging three times.
        let (status, ci) =
            server.post("/api/v1/identities", &admin, &json!({"kind": "service", "name": "ci-web"})).await;
        assert_eq!(status, 201, "{ci}");
        let ci = ci["id"].as_str().unwrap().to_owned();
        let grant = json!({"identity_id": ci, "role": "deployer", "scope": "environment:acme/web:staging"});
        assert_eq!(server.post("/api/v1/grants", &admin, &grant).await.0, 201);
        let (status, token) =
            server.post("/api/v1/tokens", &admin, &json!({"identity_id": ci, "ttl_seconds": 3600})).await;
        assert_eq!(status, 201, "{token}");
        let ci_token = token["token"].as_str().unwrap().to_owned();
        for _ in 0..3 {
            let body = json!({"action": "deployment.execute",
                "resource": {"type": "Environment", "id": "acme/web:staging"}});
            let (status, answer) = server.post("/api/v1/authorize", &ci_token, &body).await;
            assert_eq!((status, answer["decision"].as_str()), (200, Some("allow")), "{answer}");
        }

        let file = data_dir.with_extension("evidence.json");
        let now = time::OffsetDateTime::now_utc();
        let from = gatehouse_domain::clock::format_rfc3339(now - time::Duration::hours(1));
        let to = gatehouse_domain::clock::format_rfc3339(now + time::Duration::hours(1));
        let exported = run(gatehouse(&data_dir, &db.url).args([
            "evidence",
            "--from",
            &from,
            "--to",
            &to,
            "--environment",
            "acme/web:*",
            "--out",
            file.to_str().unwrap(),
            "--server",
            &server.url,
            "--token",
            &admin,
        ]));
        assert_eq!(exported.status.code(), Some(0), "{}", stderr(&exported));
        assert!(stdout(&exported).contains("3 deployments"), "{}", stdout(&exported));

        let signing = std::fs::read_to_string(data_dir.join("audit-signing.key")).unwrap();
        let key = gatehouse_audit::note_key::NoteSigner::parse(&signing).unwrap().verifier().encode();
        let (code, out, err) = verify(&data_dir, &db.url, &file, &key);
        assert_eq!(code, Some(0), "{err}");
        assert!(out.starts_with("verified: 3 entries"), "{out}");
        assert!(out.contains("deployments") && out.contains(" 3"), "{out}");
        // The key from a file, as `audit verify` takes it.
        let key_file = data_dir.with_extension("audit.pub");
        std::fs::write(&key_file, format!("{key}\n")).unwrap();
        assert_eq!(verify(&data_dir, &db.url, &file, key_file.to_str().unwrap()).0, Some(0));

        let original: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        let indexes: Vec<u64> =
            original["entries"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
        let tampered = data_dir.with_extension("tampered.json");
        let refused = |bytes: Vec<u8>, needle: &str| {
            std::fs::write(&tampered, bytes).unwrap();
            let (code, _, err) = verify(&data_dir, &db.url, &tampered, &key);
            assert_eq!(code, Some(1), "{needle}: {err}");
            assert!(err.contains(needle), "`{needle}` not in: {err}");
        };
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut copy = original.clone();
            edit(&mut copy);
            serde_json::to_vec(&copy).unwrap()
        };

        // Truncated: cut in the middle.
        let bytes = std::fs::read(&file).unwrap();
        refused(bytes[..bytes.len() / 2].to_vec(), "file truncated");
        // Reordered: the first two entries swapped.
        refused(
            with(&|f| f["entries"].as_array_mut().unwrap().swap(0, 1)),
            &format!("entries out of order at entry {}", indexes[0]),
        );
        // Edited: the second deployment's principal rewritten.
        let victim = indexes[1];
        refused(
            with(&|f| {
                let leaf =
                    f["entries"][1]["leaf"].as_str().unwrap().replace(&ci, "0190a000-0000-7000-8000-000000000bad");
                f["entries"][1]["leaf"] = json!(leaf);
            }),
            &format!("entry {victim}: inclusion proof does not verify"),
        );
        // A dropped deployment with its section left as it was.
        refused(
            with(&|f| {
                f["entries"].as_array_mut().unwrap().remove(1);
            }),
            &format!("its `deployments` section does not match its proven entries at the item of entry {victim}"),
        );
        // The summary alone rewritten.
        refused(with(&|f| f["sections"]["summary"]["deployments"] = json!(1)), "its `summary` section does not match");
        // Another key: refused whichever key the file names.
        let other = gatehouse_audit::note_key::NoteSigner::generate("gatehouse").unwrap().verifier().encode();
        let (code, _, err) = verify(&data_dir, &db.url, &file, &other);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("not the trusted key"), "{err}");
        refused(with(&|f| f["public_key"] = json!(other)), "not the trusted key");
        drop(server);
    }
));
