//! `gatehouse audit export` and `gatehouse audit verify` on real logs,
//! intact and tampered.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gatehouse_testkit::{TestDatabase, engine_test, with_database};
use serde_json::{Value, json};

use crate::support::{Server, gatehouse, http, run, stderr, stdout};

/// Exports the log of `data_dir` and verifies it against its own key file;
/// returns the export's lines.
pub fn export_and_verify(db: &TestDatabase, data_dir: &std::path::Path) -> Vec<String> {
    let file = data_dir.with_extension("export.jsonl");
    let exported = run(gatehouse(data_dir, &db.url).args(["audit", "export", "--out", file.to_str().unwrap()]));
    assert_eq!(exported.status.code(), Some(0), "{}", stderr(&exported));
    let key = std::fs::read_to_string(data_dir.join("audit-signing.key")).unwrap();
    let signer = gatehouse_audit::note_key::NoteSigner::parse(&key).unwrap();
    let verified = run(gatehouse(data_dir, &db.url).args([
        "audit",
        "verify",
        file.to_str().unwrap(),
        "--public-key",
        &signer.verifier().encode(),
    ]));
    assert_eq!(verified.status.code(), Some(0), "{}", stderr(&verified));
    assert!(stdout(&verified).starts_with("verified: "), "{}", stdout(&verified));
    std::fs::read_to_string(&file).unwrap().lines().map(str::to_owned).collect()
}

fn verify_lines(data_dir: &std::path::Path, db: &TestDatabase, lines: &[String]) -> (Option<i32>, String) {
    let file = data_dir.with_extension("tampered.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let output = run(gatehouse(data_dir, &db.url).args(["audit", "verify", file.to_str().unwrap()]));
    (output.status.code(), stderr(&output))
}

fn edit_leaf(line: &str, edit: impl Fn(&mut Value)) -> String {
    let mut parsed: Value = serde_json::from_str(line).unwrap();
    let mut leaf: Value = serde_json::from_slice(&STANDARD.decode(parsed["leaf"].as_str().unwrap()).unwrap()).unwrap();
    edit(&mut leaf);
    let bytes = gatehouse_domain::audit::canonical_json(&leaf);
    parsed["leaf"] = json!(STANDARD.encode(bytes));
    parsed.to_string()
}

engine_test!(exports_verify_and_tampering_is_named, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let server = Server::start(&data_dir, &db.url).await;
    let token = crate::support::admin_token(&server, &data_dir).await;
    for i in 0..12 {
        let response = http()
            .post(format!("{}/api/v1/identities", server.url))
            .bearer_auth(&token)
            .json(&json!({"kind": "service", "name": format!("bot-{i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let lines = export_and_verify(&db, &data_dir);
    let entries = lines.len() - 2;
    assert!(entries >= 16, "{entries}");

    let bad = |code: Option<i32>, message: &str, index: usize| {
        assert_eq!(code, Some(1), "{message}");
        assert!(message.contains(&format!("first bad index {index}")), "{message}");
    };
    // An edited entry (an actor rewritten).
    let mut edited = lines.clone();
    edited[8] = edit_leaf(&edited[8], |leaf| leaf["actor"] = json!("someone-else"));
    let (code, message) = verify_lines(&data_dir, &db, &edited);
    bad(code, &message, 7);
    // A deleted entry.
    let mut deleted = lines.clone();
    deleted.remove(5);
    let (code, message) = verify_lines(&data_dir, &db, &deleted);
    bad(code, &message, 4);
    // Two entries swapped.
    let mut swapped = lines.clone();
    swapped.swap(3, 9);
    let (code, message) = verify_lines(&data_dir, &db, &swapped);
    bad(code, &message, 2);
    // Truncated, with the checkpoint kept.
    let mut truncated = lines[..10].to_vec();
    truncated.push(lines.last().unwrap().clone());
    let (code, message) = verify_lines(&data_dir, &db, &truncated);
    bad(code, &message, 9);
    // A forged checkpoint claiming a smaller log.
    let mut forged = lines.clone();
    let last = forged.len() - 1;
    forged[last] = forged[last].replacen(&format!("\\n{entries}\\n"), &format!("\\n{}\\n", entries - 1), 1);
    let (code, message) = verify_lines(&data_dir, &db, &forged);
    assert_eq!(code, Some(1));
    assert!(message.contains("not authentic"), "{message}");
    // A key other than the trusted one.
    let file = data_dir.with_extension("export.jsonl");
    let stranger = gatehouse_audit::note_key::NoteSigner::generate("gatehouse").unwrap().verifier().encode();
    let output =
        run(gatehouse(&data_dir, &db.url).args(["audit", "verify", file.to_str().unwrap(), "--public-key", &stranger]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("not the trusted key"), "{}", stderr(&output));
    // A file that is not there is a usage error.
    let output = run(gatehouse(&data_dir, &db.url).args(["audit", "verify", "/nonexistent/export.jsonl"]));
    assert_eq!(output.status.code(), Some(2));
}));

engine_test!(entries_are_forwarded_as_json_lines, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let sink = db.dir.path().join("siem.jsonl");
    let forward = format!("file:{}", sink.display());
    let server = Server::start_with(&data_dir, &db.url, &[("GATEHOUSE_AUDIT_FORWARD", &forward)]).await;
    let token = crate::support::admin_token(&server, &data_dir).await;
    let created = http()
        .post(format!("{}/api/v1/identities", server.url))
        .bearer_auth(&token)
        .json(&json!({"kind": "service", "name": "deploy-bot"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let forwarded: Vec<Value> =
        std::fs::read_to_string(&sink).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last = forwarded.last().unwrap();
    assert_eq!(last["action"], "identity.create");
    assert_eq!(last["details"]["name"], "deploy-bot");
    // The same entry as the log serves it.
    let index = last["index"].as_u64().unwrap();
    let (_, served) = server.get(&format!("/api/v1/audit/entries?start={index}&limit=1"), &token).await;
    assert_eq!(&served["items"][0], last);
}));
