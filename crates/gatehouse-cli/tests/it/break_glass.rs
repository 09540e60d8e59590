//! `gatehouse break-glass` from a terminal against a real server: a rule
//! added to the policy folder while it runs, emergency access taken by the
//! person the rule names, refused to anyone else, and reviewed afterwards
//! by someone else (never by the user).

use std::process::{Command, Output};
use std::time::Duration;

use gatehouse_testkit::{engine_test, with_database};
use serde_json::{Value, json};

use crate::support::{Server, enable_mfa, gatehouse, stderr, stdout};

async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run gatehouse")).await.unwrap()
}

engine_test!(break_glass_from_the_command_line_and_its_review, |engine| {
    with_database(engine, |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let mut people = Vec::new();
        for name in ["oz", "sam", "cy"] {
            let (status, created) = server
                .post(
                    "/api/v1/identities",
                    &admin,
                    &json!({"kind": "human", "name": name, "email": format!("{name}@example.com")}),
                )
                .await;
            assert_eq!(status, 201, "{created}");
            let id = created["id"].as_str().unwrap().to_owned();
            let (status, issued) = server
                .post("/api/v1/tokens", &admin, &json!({"identity_id": id, "ttl_seconds": 3600, "description": "t"}))
                .await;
            assert_eq!(status, 201, "{issued}");
            let token = issued["token"].as_str().unwrap().to_owned();
            enable_mfa(&server, &token).await;
            people.push((id, token));
        }
        let [(oz, oz_token), (sam, sam_token), (cy, _)] = <[(String, String); 3]>::try_from(people).ok().unwrap();
        for reviewer in [&sam, &cy] {
            let body = json!({"identity_id": reviewer, "role": "auditor", "scope": "*"});
            assert_eq!(server.post("/api/v1/grants", &admin, &body).await.0, 201);
        }
        std::fs::write(
            data_dir.join("policy/approvals.toml"),
            format!(
                "[[rule]]\nid = \"web-access\"\naction = \"access\"\nresources = [\"project:acme/*\"]\n\
                 require = {{ quorum = 1, of = \"role:auditor\" }}\n\n[rule.break_glass]\n\
                 who = \"identity:{oz}\"\nduration = \"1h\"\n\
                 after_review = {{ within = \"24h\", quorum = 1, of = \"role:auditor\" }}\n"
            ),
        )
        .unwrap();
        // The reloader looks every second; a SIGHUP asks at once.
        server.signal("HUP");
        let mut loaded = false;
        for _ in 0..100 {
            let (_, checked) = server.get("/api/v1/approvals/check", &admin).await;
            if checked["rules"] == 1 {
                loaded = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(loaded, "the rule was not loaded: {}", server.log_text());

        let as_person = |token: &str, args: &[&str]| {
            let mut command = gatehouse(&data_dir, &db.url);
            command.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", token).args(args);
            command
        };
        let glass = [
            "break-glass",
            "--incident",
            "INC-311",
            "--reason",
            "prod is down",
            "--role",
            "maintainer",
            "--scope",
            "project:acme/web",
        ];
        // Not the person the rule names: refused, exit 1.
        let refused = run(as_person(&sam_token, &glass)).await;
        assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("break the glass"), "{}", stderr(&refused));
        // Without an incident: a usage error, nothing sent.
        let bare = run(as_person(&oz_token, &["break-glass", "--reason", "x", "--role", "maintainer"])).await;
        assert_eq!(bare.status.code(), Some(2), "{}", stderr(&bare));

        let mut json_glass = glass.to_vec();
        json_glass.extend(["--output", "json"]);
        let taken = run(as_person(&oz_token, &json_glass)).await;
        assert_eq!(taken.status.code(), Some(0), "{}", stderr(&taken));
        let request: Value = serde_json::from_str(&stdout(&taken)).unwrap();
        assert_eq!((request["state"].as_str(), request["break_glass"].as_bool()), (Some("active"), Some(true)));
        assert!(request["after_review_due"].is_string(), "{request}");
        let id = request["id"].as_str().unwrap();

        let review =
            |decision: &'static str| ["break-glass", "review", id, "--decision", decision, "--reason", "checked"];
        let own = run(as_person(&oz_token, &review("ok"))).await;
        assert_eq!(own.status.code(), Some(1), "{}", stderr(&own));
        assert!(stderr(&own).contains("your own"), "{}", stderr(&own));
        let reviewed = run(as_person(&sam_token, &review("flag"))).await;
        assert_eq!(reviewed.status.code(), Some(0), "{}", stderr(&reviewed));
        let shown = stdout(&reviewed);
        assert!(shown.contains("complete at") && shown.contains("flagged"), "{shown}");
    })
});
