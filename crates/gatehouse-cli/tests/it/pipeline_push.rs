//! A pipeline change through a real `git push` (issue 28): the bare
//! repository's `gatehouse hook pre-receive` sends the paths each ref
//! update changes, and an accepted push that changes a workflow records
//! `pipeline.config.changed` and opens its review; a README change opens
//! nothing, and a refused push records only its refusal.

use std::process::Output;

use gatehouse_testkit::git_repo::{GitSandbox, Signing};
use gatehouse_testkit::{engine_test, with_database};
use serde_json::{Value, json};

use crate::support::{BINARY, Server, gatehouse, stderr};

async fn blocking(mut command: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run")).await.unwrap()
}

const DEPLOY_YML: &str = ".github/workflows/deploy.yml";

engine_test!(a_pushed_workflow_change_opens_its_review_through_the_pre_receive_hook, |engine| {
    with_database(engine, |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let post = |path: String, body: Value| {
            let (server, admin) = (&server, &admin);
            async move {
                let (status, answer) = server.post(&path, admin, &body).await;
                assert!((200..300).contains(&status), "{path}: {status} {answer}");
                answer
            }
        };
        // Ana maintains acme/web and signs with a registered SSH key.
        let ana = crate::reviews::person(&server, &admin, "ana").await;
        let grant = json!({"identity_id": ana.id, "role": "maintainer", "scope": "project:acme/web"});
        post("/api/v1/grants".into(), grant).await;
        let sandbox = GitSandbox::new();
        let (key, public) = sandbox.ssh_key("ana");
        post(format!("/api/v1/identities/{}/signing-keys", ana.id), json!({"public_key": public})).await;
        let signed = Signing::Ssh(key);

        // A bare repository at …/acme/web.git whose pre-receive hook asks gatehouse.
        let bare = sandbox.root().join("acme/web.git");
        std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
        sandbox.run(sandbox.root(), "git", &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
        let hook = bare.join("hooks/pre-receive");
        std::fs::write(&hook, format!("#!/bin/sh\nexec \"{BINARY}\" hook pre-receive\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        sandbox.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
        let push = |reference: &str| {
            let mut command = sandbox.command("git", &sandbox.work());
            command
                .args(["push", "-q", "origin", reference])
                .env("GATEHOUSE_URL", &server.url)
                .env("GATEHOUSE_TOKEN", &admin);
            command
        };
        let remote_head = || sandbox.run(&bare, "git", &["rev-parse", "--verify", "-q", "main"]).trim().to_owned();
        let pipeline_reviews = || async {
            let (status, listed) = server.get("/api/v1/reviews", &admin).await;
            assert_eq!(status, 200, "{listed}");
            let all = listed["items"].as_array().unwrap().clone();
            all.into_iter().filter(|c| c["trigger"]["kind"] == "pipeline_change").collect::<Vec<_>>()
        };
        let config_entries = || async {
            let (status, listed) = server.get("/api/v1/audit/entries?action=pipeline.config.changed", &admin).await;
            assert_eq!(status, 200, "{listed}");
            listed["items"].as_array().unwrap().clone()
        };

        // A push that changes only README.md: accepted, nothing opens.
        let first = sandbox.commit("README.md", "hello", &signed);
        let pushed = blocking(push("main")).await;
        assert!(pushed.status.success(), "{}", stderr(&pushed));
        assert_eq!(remote_head(), first);
        assert!(pipeline_reviews().await.is_empty());
        assert!(config_entries().await.is_empty());

        // A signed workflow change: accepted, recorded, and its review opened.
        let change = sandbox.commit(DEPLOY_YML, "deploy: yes", &signed);
        let pushed = blocking(push("main")).await;
        assert!(pushed.status.success(), "{}", stderr(&pushed));
        assert!(stderr(&pushed).contains("review"), "the hook names the review: {}", stderr(&pushed));
        assert_eq!(remote_head(), change);
        let entries = config_entries().await;
        assert_eq!(entries.len(), 1, "{entries:?}");
        assert_eq!(entries[0]["resource"], "project:acme/web");
        assert_eq!(entries[0]["details"]["paths"], json!([DEPLOY_YML]));
        assert_eq!(entries[0]["details"]["ref"], "refs/heads/main");
        assert_eq!(entries[0]["details"]["before"], first.as_str());
        assert_eq!(entries[0]["details"]["commits"][0]["commit"], change.as_str());
        assert_eq!(entries[0]["details"]["commits"][0]["signer"], ana.id.as_str());
        let reviews = pipeline_reviews().await;
        assert_eq!(reviews.len(), 1, "{reviews:?}");
        assert_eq!(reviews[0]["trigger"]["subject"], "project:acme/web");
        let id = reviews[0]["id"].as_str().unwrap().to_owned();
        let (status, items) = server.get(&format!("/api/v1/reviews/{id}/items"), &admin).await;
        assert_eq!(status, 200, "{items}");
        let item = &items["items"][0]["item"];
        assert_eq!(item["kind"], "change", "{item}");
        assert_eq!(item["target"], format!("{first}..{change}"));

        // Its author may not approve it.
        let code = crate::approvals::next_code(&ana.secret);
        let mut own = gatehouse(&data_dir, &db.url);
        own.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", &ana.deciding);
        own.args(["review", "decide", &id, "0", "keep", "--reason", "mine", "--code", &code]);
        let own = blocking(own).await;
        assert_eq!(own.status.code(), Some(1), "{}", stderr(&own));
        assert!(stderr(&own).contains("own"), "{}", stderr(&own));

        // A new branch whose commit is unsigned and changes the workflow: refused, nothing opens.
        sandbox.git(&["checkout", "-q", "-b", "sneaky"]);
        sandbox.commit(DEPLOY_YML, "deploy: everywhere", &Signing::None);
        let refused = blocking(push("sneaky")).await;
        assert!(!refused.status.success(), "an unsigned push is refused");
        assert!(stderr(&refused).contains("push refused"), "{}", stderr(&refused));
        let branches = sandbox.run(&bare, "git", &["branch", "--list", "sneaky"]);
        assert!(branches.trim().is_empty(), "{branches}");
        assert_eq!(pipeline_reviews().await.len(), 1, "nothing more opened");
        assert_eq!(config_entries().await.len(), 1, "only the refusal is recorded");
        let (_, refusals) = server.get("/api/v1/audit/entries?action=push.verify", &admin).await;
        let refusals = refusals["items"].as_array().unwrap();
        assert!(refusals.iter().any(|entry| entry["outcome"] == "denied"), "{refusals:?}");

        // A signed new branch changing the workflow opens a second review.
        sandbox.git(&["checkout", "-q", "main"]);
        sandbox.git(&["checkout", "-q", "-b", "release"]);
        sandbox.commit(".github/workflows/release.yml", "release: yes", &signed);
        let pushed = blocking(push("release")).await;
        assert!(pushed.status.success(), "{}", stderr(&pushed));
        let entries = config_entries().await;
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert!(entries.iter().any(|e| e["details"]["paths"] == json!([".github/workflows/release.yml"])));
        assert_eq!(pipeline_reviews().await.len(), 2);
    })
});
