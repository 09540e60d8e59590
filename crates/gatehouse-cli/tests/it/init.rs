//! `gatehouse init`: creates everything once, refuses a second time.

use std::os::unix::fs::PermissionsExt;

use gatehouse_testkit::{engine_test, with_database};

use crate::support::{gatehouse, http, run, stderr, stdout};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

engine_test!(init_creates_a_private_data_dir_and_prints_the_token_last, |engine| with_database(
    engine,
    |db| async move {
        let data_dir = db.dir.path().join("data");
        let output = run(gatehouse(&data_dir, &db.url).args([
            "init",
            "--admin-email",
            "ana@example.com",
            "--admin-name",
            "Ana",
        ]));
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let printed = stdout(&output);
        let token = printed.lines().last().unwrap().to_owned();
        assert!(token.starts_with("gth_") && token.len() == 47, "{printed}");
        assert!(printed.contains("ana@example.com"));

        assert_eq!(mode(&data_dir), 0o700);
        let key = data_dir.join("audit-signing.key");
        assert_eq!(mode(&key), 0o600);
        assert!(std::fs::read_to_string(&key).unwrap().starts_with("PRIVATE+KEY+gatehouse+"));
        for file in ["schema.cedarschema", "roles.cedar", "guards.cedar", "owners.cedar"] {
            assert!(data_dir.join("policy").join(file).exists(), "{file}");
        }

        // The token works against a server on the same data.
        let server = crate::support::Server::start(&data_dir, &db.url).await;
        let me: serde_json::Value = http()
            .get(format!("{}/api/v1/whoami", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["identity"]["email"], "ana@example.com");
        assert_eq!(me["grants"][0]["role"], "admin");
        assert!(!server.log_text().contains(&token[4..]), "the token never reaches the log");
    }
));

engine_test!(a_second_init_refuses_and_changes_nothing, |engine| {
    with_database(engine, |db| async move {
        let data_dir = db.dir.path().join("data");
        let first = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "ana@example.com"]));
        assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
        let key_before = std::fs::read(data_dir.join("audit-signing.key")).unwrap();
        let store = db.open_store().await;
        let audit_before = store.audit_size().await.unwrap();

        let second = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "bob@example.com"]));
        assert_eq!(second.status.code(), Some(1));
        assert!(stderr(&second).contains("already initialized"), "{}", stderr(&second));
        assert!(stdout(&second).is_empty());
        assert_eq!(std::fs::read(data_dir.join("audit-signing.key")).unwrap(), key_before);
        assert_eq!(store.audit_size().await.unwrap(), audit_before);

        // Another data dir on the same, initialized database: refused too, and
        // that data dir is not even created.
        let other_dir = db.dir.path().join("other");
        if db.engine == gatehouse_testkit::Engine::Postgres {
            let third = run(gatehouse(&other_dir, &db.url).args(["init", "--admin-email", "bob@example.com"]));
            assert_eq!(third.status.code(), Some(1), "{}", stderr(&third));
            assert!(!other_dir.exists());
            assert_eq!(store.audit_size().await.unwrap(), audit_before);
        }
    })
});

engine_test!(configuration_errors_exit_2_naming_the_problem, |engine| {
    with_database(engine, |db| async move {
        let data_dir = db.dir.path().join("data");
        std::fs::create_dir_all(&data_dir).unwrap();
        std::fs::write(data_dir.join("gatehouse.toml"), "[tokens]\nmax_ttl = 5\n").unwrap();
        let output = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "ana@example.com"]));
        assert_eq!(output.status.code(), Some(2));
        assert!(stderr(&output).contains("unknown field `max_ttl`"), "{}", stderr(&output));
        assert!(!data_dir.join("audit-signing.key").exists());

        std::fs::remove_file(data_dir.join("gatehouse.toml")).unwrap();
        let output = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "not-an-email"]));
        assert_eq!(output.status.code(), Some(2));
        assert!(stderr(&output).contains("`not-an-email`"), "{}", stderr(&output));

        let output =
            run(gatehouse(&data_dir, "mysql://localhost/x").args(["init", "--admin-email", "ana@example.com"]));
        assert_eq!(output.status.code(), Some(2));
        assert!(stderr(&output).contains("unsupported database URL"), "{}", stderr(&output));

        let output = run(gatehouse(&data_dir, &db.url).args(["init"]));
        assert_eq!(output.status.code(), Some(2), "usage errors exit 2");
    })
});
