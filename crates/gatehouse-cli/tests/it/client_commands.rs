//! The client commands against a running server: tables for people, JSON
//! for scripts, and the contract's exit codes.

use gatehouse_testkit::{engine_test, with_database};
use serde_json::Value;

use crate::support::{Server, gatehouse, run, stderr, stdout};

engine_test!(identity_and_token_commands_walk_through, |engine| {
    with_database(engine, |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let cli = |args: &[&str]| {
            let mut command = gatehouse(&data_dir, &db.url);
            command.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", &admin).args(args);
            run(&mut command)
        };
        let json = |args: &[&str]| -> Value {
            let mut all = args.to_vec();
            all.extend(["--output", "json"]);
            let output = cli(&all);
            assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
            serde_json::from_str(&stdout(&output)).unwrap()
        };

        let created = json(&["identity", "create", "--kind", "service", "--name", "deploy-bot"]);
        let bot = created["id"].as_str().unwrap().to_owned();
        let table = cli(&["identity", "list"]);
        let listing = stdout(&table);
        assert!(listing.starts_with("ID "), "{listing}");
        assert!(listing.contains("deploy-bot") && listing.contains("service"), "{listing}");
        assert_eq!(json(&["identity", "show", &bot])["name"], "deploy-bot");

        let issued = json(&["token", "create", "--identity", &bot, "--ttl", "15m", "--description", "deploy"]);
        let secret = issued["token"].as_str().unwrap().to_owned();
        let tokens = json(&["token", "list", "--identity", &bot]);
        assert_eq!(tokens["items"][0]["description"], "deploy");
        assert!(!stdout(&cli(&["token", "list"])).contains(&secret[4..]));

        let mut as_bot = gatehouse(&data_dir, &db.url);
        as_bot.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", &secret).args(["whoami", "--output", "json"]);
        let me: Value = serde_json::from_str(&stdout(&run(&mut as_bot))).unwrap();
        assert_eq!(me["identity"]["id"], bot.as_str());

        assert_eq!(json(&["identity", "suspend", &bot])["status"], "suspended");
        assert_eq!(json(&["identity", "reactivate", &bot])["status"], "active");
        assert_eq!(json(&["token", "revoke", issued["id"].as_str().unwrap()])["status"], "revoked");
        assert_eq!(json(&["identity", "delete", &bot])["status"], "deprovisioned");

        // Refusals exit 1 with the server's reason.
        let missing = cli(&["identity", "show", "01a214a5-0000-7000-8000-000000000000"]);
        assert_eq!(missing.status.code(), Some(1));
        assert!(stderr(&missing).contains("not found (404)"), "{}", stderr(&missing));
        let bad_ttl = cli(&["token", "create", "--identity", &bot, "--ttl", "5"]);
        assert_eq!(bad_ttl.status.code(), Some(1), "{}", stderr(&bad_ttl));

        // Usage and configuration errors exit 2.
        let mut no_token = gatehouse(&data_dir, &db.url);
        no_token.env("GATEHOUSE_URL", &server.url).args(["whoami"]);
        let output = run(&mut no_token);
        assert_eq!(output.status.code(), Some(2));
        assert!(stderr(&output).contains("GATEHOUSE_TOKEN"), "{}", stderr(&output));
        let mut unreachable = gatehouse(&data_dir, &db.url);
        unreachable.env("GATEHOUSE_URL", "http://127.0.0.1:9").env("GATEHOUSE_TOKEN", &admin).args(["whoami"]);
        let output = run(&mut unreachable);
        assert_eq!(output.status.code(), Some(2));
        assert!(stderr(&output).contains("cannot reach"), "{}", stderr(&output));
        assert_eq!(cli(&["token", "create", "--identity", &bot, "--ttl", "5x"]).status.code(), Some(2));
    })
});
