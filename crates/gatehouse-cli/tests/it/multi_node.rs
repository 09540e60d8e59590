//! Several `gatehouse serve` processes on one PostgreSQL database serve the
//! same identities and tokens.

use gatehouse_testkit::{Engine, with_database};
use serde_json::json;

use crate::support::{Server, http};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_identities_and_tokens() {
    with_database(Engine::Postgres, |db| async move {
        let first_dir = db.dir.path().join("node-a");
        let a = Server::start(&first_dir, &db.url).await;
        let admin = crate::support::admin_token(&a, &first_dir).await;

        // The second node gets a copy of the first node's signing key, as the
        // README says; it must not re-initialize.
        let second_dir = db.dir.path().join("node-b");
        std::fs::create_dir_all(&second_dir).unwrap();
        std::fs::copy(first_dir.join("audit-signing.key"), second_dir.join("audit-signing.key")).unwrap();
        let b = Server::start(&second_dir, &db.url).await;
        assert!(!second_dir.join("bootstrap-admin-token").exists());

        let client = http();
        let (_, created) =
            a.post("/api/v1/identities", &admin, &json!({"kind": "service", "name": "deploy-bot"})).await;
        let bot = created["id"].as_str().unwrap();
        let shown = client.get(format!("{}/api/v1/identities/{bot}", b.url)).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(shown.status(), 200, "node B sees what node A created");

        let (_, issued) = b.post("/api/v1/tokens", &admin, &json!({"identity_id": bot, "ttl_seconds": 600})).await;
        let token = issued["token"].as_str().unwrap();
        let me = client.get(format!("{}/api/v1/whoami", a.url)).bearer_auth(token).send().await.unwrap();
        assert_eq!(me.status(), 200, "a token issued on B works on A");

        let revoked = client
            .delete(format!("{}/api/v1/tokens/{}", a.url, issued["id"].as_str().unwrap()))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), 200);
        let me = client.get(format!("{}/api/v1/whoami", b.url)).bearer_auth(token).send().await.unwrap();
        assert_eq!(me.status(), 401, "a token revoked on A stops working on B at once");

        // Concurrent writes through both nodes keep one gap-free audit log.
        let writes: Vec<_> = (0..40)
            .map(|i| {
                let (url, admin) = (if i % 2 == 0 { a.url.clone() } else { b.url.clone() }, admin.clone());
                tokio::spawn(async move {
                    http()
                        .post(format!("{url}/api/v1/identities"))
                        .bearer_auth(&admin)
                        .json(&json!({"kind": "service", "name": format!("bot-{i}")}))
                        .send()
                        .await
                        .unwrap()
                        .status()
                })
            })
            .collect();
        for write in writes {
            assert_eq!(write.await.unwrap(), 201);
        }
        let store = db.open_store().await;
        let entries = store.list_audit(0, 500).await.unwrap();
        assert_eq!(entries.len() as u64, store.audit_size().await.unwrap());
        assert!(entries.iter().enumerate().all(|(i, e)| e.index == i as u64));

        // The log both nodes wrote verifies as one.
        drop(a);
        drop(b);
        let lines = crate::audit::export_and_verify(&db, &first_dir);
        assert_eq!(lines.len() as u64 - 2, store.audit_size().await.unwrap());

        // A node with a different key refuses to serve this database.
        let third_dir = db.dir.path().join("node-c");
        let output = crate::support::run(crate::support::gatehouse(&third_dir, &db.url).args([
            "serve",
            "--listen",
            "127.0.0.1:0",
        ]));
        assert_eq!(output.status.code(), Some(2));
        assert!(crate::support::stderr(&output).contains("audit signing key"), "{}", crate::support::stderr(&output));
    })
    .await;
}
