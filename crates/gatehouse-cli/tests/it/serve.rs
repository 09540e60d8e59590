//! `gatehouse serve`: self-initialization, restarts, kill -9 and SIGTERM.

use std::os::unix::fs::PermissionsExt;

use gatehouse_testkit::{engine_test, with_database};
use serde_json::{Value, json};

use crate::support::{Server, http};

async fn create_service(server: &Server, token: &str, name: &str) -> reqwest::Result<reqwest::Response> {
    http()
        .post(format!("{}/api/v1/identities", server.url))
        .bearer_auth(token)
        .json(&json!({"kind": "service", "name": name}))
        .send()
        .await
}

async fn identity_names(server: &Server, token: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/api/v1/identities?limit=500", server.url);
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = http().get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        names.extend(page["items"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return names,
        }
    }
}

fn bootstrap_token(data_dir: &std::path::Path) -> String {
    let path = data_dir.join("bootstrap-admin-token");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

engine_test!(serve_initializes_an_empty_data_dir_and_data_survives_restart, |engine| with_database(
    engine,
    |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let token = bootstrap_token(&data_dir);
        crate::support::enable_mfa(&server, &token).await;
        let log = server.log_text();
        assert!(log.contains("bootstrap-admin-token"), "the log names the token's file: {log}");
        assert!(!log.contains(&token[4..]), "the log never holds the token");
        assert_eq!(create_service(&server, &token, "deploy-bot").await.unwrap().status(), 201);

        server.signal("TERM");
        assert_eq!(server.wait(), Some(0), "SIGTERM is a clean stop");

        let server = Server::start(&data_dir, &db.url).await;
        assert_eq!(identity_names(&server, &token).await, ["admin", "deploy-bot"]);
        let token_file = std::fs::read_to_string(data_dir.join("bootstrap-admin-token")).unwrap();
        assert_eq!(token_file.trim(), token, "a restart does not re-initialize");
    }
));

engine_test!(no_acknowledged_write_is_lost_to_kill_9, |engine| {
    with_database(engine, |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let token = bootstrap_token(&data_dir);
        crate::support::enable_mfa(&server, &token).await;

        // 16 writers create identities as fast as they can; the server is killed
        // mid-stream. Every 201 must survive.
        let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let count = std::sync::Arc::new(tokio::sync::watch::Sender::new(0_usize));
        let writers: Vec<_> = (0..16)
            .map(|writer| {
                let (url, token, acknowledged) = (server.url.clone(), token.clone(), acknowledged.clone());
                let count = count.clone();
                tokio::spawn(async move {
                    let client = http();
                    for i in 0..10_000 {
                        let name = format!("w{writer}-{i}");
                        let sent = client
                            .post(format!("{url}/api/v1/identities"))
                            .bearer_auth(&token)
                            .json(&json!({"kind": "service", "name": name}))
                            .send()
                            .await;
                        match sent {
                            Ok(response) if response.status() == 201 => {
                                acknowledged.lock().unwrap().push(name);
                                count.send_modify(|count| *count += 1);
                            }
                            Ok(response) => panic!("unexpected status {}", response.status()),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        // Kill it once 100 writes were acknowledged.
        count.subscribe().wait_for(|count| *count >= 100).await.unwrap();
        server.signal("KILL");
        for writer in writers {
            writer.await.unwrap();
        }
        drop(server);
        let acknowledged = acknowledged.lock().unwrap().clone();

        let server = Server::start(&data_dir, &db.url).await;
        let present: std::collections::HashSet<String> = identity_names(&server, &token).await.into_iter().collect();
        let lost: Vec<&String> = acknowledged.iter().filter(|name| !present.contains(*name)).collect();
        assert!(lost.is_empty(), "{} acknowledged writes lost, e.g. {:?}", lost.len(), &lost[..lost.len().min(5)]);

        // Each surviving identity has its audit entry, and the log has no gaps.
        let store = db.open_store().await;
        let entries = store.list_audit(0, 500).await.unwrap();
        let mut all = entries;
        while all.len() as u64 != store.audit_size().await.unwrap() {
            let more = store.list_audit(all.len() as u64, 500).await.unwrap();
            assert!(!more.is_empty());
            all.extend(more);
        }
        assert!(all.iter().enumerate().all(|(i, e)| e.index == i as u64));
        let audited: std::collections::HashSet<String> = all
            .iter()
            .filter(|e| e.record.action == "identity.create")
            .filter_map(|e| e.record.details["name"].as_str().map(str::to_owned))
            .collect();
        assert!(present.iter().all(|name| audited.contains(name)), "every identity has its audit entry");
        drop(server);
        let lines = crate::audit::export_and_verify(&db, &data_dir);
        assert_eq!(lines.len() as u64 - 2, all.len() as u64, "the export holds the whole log");
    })
});

engine_test!(sigterm_lets_requests_in_flight_finish, |engine| {
    with_database(engine, |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let token = bootstrap_token(&data_dir);
        crate::support::enable_mfa(&server, &token).await;
        // Many requests start together; SIGTERM arrives while they are in flight.
        let requests: Vec<_> = (0..32)
            .map(|i| {
                let (url, token) = (server.url.clone(), token.clone());
                tokio::spawn(async move {
                    http()
                        .post(format!("{url}/api/v1/identities"))
                        .bearer_auth(&token)
                        .json(&json!({"kind": "service", "name": format!("bot-{i}")}))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        server.signal("TERM");
        let mut answered = 0;
        for request in requests {
            match request.await.unwrap() {
                Ok(status) => {
                    assert_eq!(status, 201);
                    answered += 1;
                }
                // Never accepted (refused, or reset in the kernel's accept
                // queue when the listener closed): must not have been processed,
                // which the count below checks.
                Err(error) => assert!(error.is_connect() || error.is_request(), "{error:?}"),
            }
        }
        assert_eq!(server.wait(), Some(0));
        let server = Server::start(&data_dir, &db.url).await;
        // Everything the server began, it finished and answered: no identity
        // exists whose creation went unanswered.
        assert_eq!(identity_names(&server, &token).await.len(), answered + 1);
    })
});
