//! `gatehouse policy validate` and `gatehouse grant …` as a user runs them.

use gatehouse_testkit::{engine_test, with_database};
use serde_json::Value;

use crate::support::{Server, gatehouse, run, stderr, stdout};

engine_test!(policy_validate_names_file_line_and_reason, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let init = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "ana@example.com"]));
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let valid = run(gatehouse(&data_dir, &db.url).args(["policy", "validate"]));
    assert_eq!(valid.status.code(), Some(0), "{}", stderr(&valid));
    assert!(stdout(&valid).contains("9 roles"), "{}", stdout(&valid));

    let custom = data_dir.join("policy/custom.cedar");
    std::fs::write(&custom, "// A typo in an action.\n@id(\"nightly\")\npermit (principal, action == Action::\"pipeline.trigerr\", resource);\n").unwrap();
    let invalid = run(gatehouse(&data_dir, &db.url).args(["policy", "validate"]));
    assert_eq!(invalid.status.code(), Some(1));
    let errors = stderr(&invalid);
    assert!(errors.contains(&format!("{}:3:", custom.display())), "{errors}");
    assert!(errors.contains("pipeline.trigerr"), "{errors}");

    // A server refuses to start on an invalid folder rather than run without it.
    let output = run(gatehouse(&data_dir, &db.url).args(["serve", "--listen", "127.0.0.1:0"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("pipeline.trigerr"), "{}", stderr(&output));
}));

engine_test!(grant_commands_walk_through, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let server = Server::start(&data_dir, &db.url).await;
    let admin = crate::support::admin_token(&server, &data_dir).await;
    let cli = |args: &[&str]| {
        let mut command = gatehouse(&data_dir, &db.url);
        command.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", &admin).args(args).args(["--output", "json"]);
        let output = run(&mut command);
        (output.status.code(), serde_json::from_str::<Value>(&stdout(&output)).unwrap_or(Value::Null), stderr(&output))
    };
    let (_, bot, _) = cli(&["identity", "create", "--kind", "service", "--name", "deploy-bot"]);
    let bot = bot["id"].as_str().unwrap().to_owned();
    let (code, granted, errors) =
        cli(&["grant", "add", "--identity", &bot, "--role", "deployer", "--scope", "environment:acme/web:production"]);
    assert_eq!(code, Some(0), "{errors}");
    assert_eq!(granted["role"], "deployer");
    let (_, listed, _) = cli(&["grant", "list", "--identity", &bot]);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (code, _, errors) = cli(&["grant", "add", "--identity", &bot, "--role", "overlord", "--scope", "*"]);
    assert_eq!(code, Some(1));
    assert!(errors.contains("unknown role `overlord`"), "{errors}");
    let mut matrix = gatehouse(&data_dir, &db.url);
    matrix.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", &admin);
    let csv = run(matrix.args(["policy", "matrix", "--format", "csv"]));
    assert_eq!(csv.status.code(), Some(0), "{}", stderr(&csv));
    let csv = stdout(&csv);
    assert!(
        csv.starts_with("identity_id,identity_name,action,resource_type,resource_id,grants,roles,policies\n"),
        "{csv}"
    );
    assert!(csv.lines().any(|l| l.contains("deploy-bot,deployment.execute,Environment,acme/web:production")), "{csv}");
    let mut markdown = gatehouse(&data_dir, &db.url);
    markdown.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", &admin);
    let md = stdout(&run(markdown.args(["policy", "matrix"])));
    assert!(md.contains("| `deployment.execute` | `Environment:acme/web:production` | grant "), "{md}");

    let (code, revoked, _) = cli(&["grant", "revoke", granted["id"].as_str().unwrap()]);
    assert_eq!(code, Some(0));
    assert!(revoked["revoked_at"].is_string());
}));

engine_test!(a_changed_policy_folder_is_reloaded_and_an_invalid_one_is_not, |engine| with_database(
    engine,
    |db| async move {
        use serde_json::json;
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let ask = json!({"action": "pipeline.view", "resource": {"type": "Project", "id": "acme/web"}});
        let (_, bot) = server.post("/api/v1/identities", &admin, &json!({"kind": "service", "name": "reader"})).await;
        let (_, token) =
            server.post("/api/v1/tokens", &admin, &json!({"identity_id": bot["id"], "ttl_seconds": 600})).await;
        let token = token["token"].as_str().unwrap().to_owned();
        let decide = || async {
            server.post("/api/v1/authorize", &token, &ask).await.1["decision"].as_str().unwrap().to_owned()
        };
        assert_eq!(decide().await, "deny");

        let custom = data_dir.join("policy/custom.cedar");
        std::fs::write(&custom, "@id(\"everyone-sees-web\")\npermit (principal, action == Action::\"pipeline.view\", resource == Project::\"acme/web\");\n").unwrap();
        let mut reloaded = false;
        for _ in 0..100 {
            if decide().await == "allow" {
                reloaded = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(reloaded, "the new policy was not picked up");

        std::fs::write(&custom, "@id(\"broken\")\npermit (principal, action == Action::\"nope\", resource);\n")
            .unwrap();
        let store = db.open_store().await;
        let mut rejected = None;
        for _ in 0..100 {
            let entries = store
                .search_audit(
                    &gatehouse_domain::store::AuditFilter {
                        action: Some("policy.reload".into()),
                        ..Default::default()
                    },
                    0,
                    50,
                )
                .await
                .unwrap();
            if let Some(entry) = entries.iter().find(|e| e.record.outcome.as_str() == "failure") {
                rejected = Some(entry.clone());
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let rejected = rejected.expect("the invalid folder was audited");
        assert!(rejected.record.details["problems"][0].as_str().unwrap().contains("nope"));
        assert_eq!(decide().await, "allow", "an invalid folder never replaces the working policies");
        let accepted = store
            .search_audit(
                &gatehouse_domain::store::AuditFilter { action: Some("policy.reload".into()), ..Default::default() },
                0,
                50,
            )
            .await
            .unwrap();
        let accepted = accepted.iter().find(|e| e.record.outcome.as_str() == "success").unwrap();
        assert_eq!(accepted.record.details["hash"].as_str().unwrap().len(), 64);

        // SIGHUP asks for a reload; it does not stop the server.
        server.signal("HUP");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(decide().await, "allow");
    }
));

engine_test!(policy_tests_run_from_files, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let init = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "ana@example.com"]));
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let defaults = run(gatehouse(&data_dir, &db.url).args(["policy", "test"]));
    assert_eq!(defaults.status.code(), Some(0), "{}", stderr(&defaults));
    assert_eq!(stdout(&defaults).trim(), "33 passed, 0 failed");

    let wrong = data_dir.join("wrong.toml");
    std::fs::write(
        &wrong,
        "[principals.ana]\nkind = \"human\"\ngrants = [{ role = \"developer\", scope = \"project:acme/web\" }]\n\n\
         [[case]]\nname = \"developers edit pipelines\"\nprincipal = \"ana\"\naction = \"pipeline.config.edit\"\n\
         resource = \"pipeline:acme/web:build\"\nexpect = \"allow\"\n",
    )
    .unwrap();
    let failed = run(gatehouse(&data_dir, &db.url).args(["policy", "test", wrong.to_str().unwrap()]));
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        stderr(&failed).contains("FAIL")
            && stderr(&failed).contains("developers edit pipelines: expected allow, got deny"),
        "{}",
        stderr(&failed)
    );

    std::fs::write(
        &wrong,
        "[[case]]\nprincipal = \"nobody\"\naction = \"source.push\"\nresource = \"project:a/b\"\nexpect = \"allow\"\n",
    )
    .unwrap();
    let broken = run(gatehouse(&data_dir, &db.url).args(["policy", "test", wrong.to_str().unwrap()]));
    assert_eq!(broken.status.code(), Some(2));
    assert!(stderr(&broken).contains("unknown principal `nobody`"), "{}", stderr(&broken));

    // `authors` names principals of the file, like `principal`.
    std::fs::write(
        &wrong,
        "[principals.ana]\nkind = \"human\"\n\n[[case]]\nprincipal = \"ana\"\naction = \"deployment.approve\"\n\
         resource = \"environment:a/b:prod\"\nauthors = [\"ghost\"]\nexpect = \"deny\"\n",
    )
    .unwrap();
    let broken = run(gatehouse(&data_dir, &db.url).args(["policy", "test", wrong.to_str().unwrap()]));
    assert_eq!(broken.status.code(), Some(2));
    assert!(stderr(&broken).contains("unknown principal `ghost` in authors"), "{}", stderr(&broken));
}));

engine_test!(approval_rules_are_tested_by_ballots, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let init = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "ana@example.com"]));
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    std::fs::write(
        data_dir.join("policy/approvals.toml"),
        r#"
[[rule]]
id = "production-deploys"
action = "deployment.execute"
resources = ["environment:acme/*:production"]
require = { all = [ { quorum = 1, of = "role:release-approver" }, { quorum = 1, of = "group:security" } ] }
"#,
    )
    .unwrap();
    let ballots = data_dir.join("ballots.toml");
    let people = r#"
[principals.rita]
kind = "human"
grants = [{ role = "release-approver", scope = "environment:acme/web:production" }]
[principals.sam]
kind = "human"
groups = ["security"]
grants = [{ role = "release-approver", scope = "environment:acme/web:production" }]
[principals.ana]
kind = "human"
groups = ["security"]
grants = [{ role = "release-approver", scope = "environment:acme/web:production" }]
[principals.bot]
kind = "service"
grants = [{ role = "deployer", scope = "environment:acme/web:production" }]
"#;
    std::fs::write(
        &ballots,
        format!(
            r#"{people}
[[approval]]
name = "a release approver and security approve production"
requester = "bot"
action = "deployment.execute"
resource = "environment:acme/web:production"
authors = ["ana"]
votes = [
  {{ by = "ana", refused = "author" }},
  {{ by = "bot", refused = "never vote" }},
  {{ by = "sam", mfa_fresh = false, refused = "second factor" }},
  {{ by = "sam" }},
  {{ by = "rita" }},
]
expect = "approved"

[[approval]]
name = "one person in both pools is not enough"
requester = "bot"
action = "deployment.execute"
resource = "environment:acme/web:production"
votes = [{{ by = "sam" }}]
expect = "pending"

[[approval]]
name = "staging is decided at once"
requester = "bot"
action = "deployment.execute"
resource = "environment:acme/web:staging"
expect = "no-rule"
"#
        ),
    )
    .unwrap();
    let passed = run(gatehouse(&data_dir, &db.url).args(["policy", "test", ballots.to_str().unwrap()]));
    assert_eq!(passed.status.code(), Some(0), "{}{}", stdout(&passed), stderr(&passed));
    assert_eq!(stdout(&passed).trim(), "3 passed, 0 failed");

    std::fs::write(
        &ballots,
        format!(
            r#"{people}
[[approval]]
name = "sam alone approves"
requester = "bot"
action = "deployment.execute"
resource = "environment:acme/web:production"
votes = [{{ by = "sam" }}]
expect = "approved"
"#
        ),
    )
    .unwrap();
    let failed = run(gatehouse(&data_dir, &db.url).args(["policy", "test", ballots.to_str().unwrap()]));
    assert_eq!(failed.status.code(), Some(1));
    assert!(stderr(&failed).contains("sam alone approves: expected approved, got pending"), "{}", stderr(&failed));
}));

engine_test!(policy_tests_check_integrations_against_the_standard, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let init = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "ana@example.com"]));
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let cases = data_dir.join("integrations.toml");
    let case = |method: &str, token_ttl: &str, expect: &str| {
        format!(
            "[[integration]]\nname = \"scanner\"\nmethod = \"{method}\"\npermissions = [\"contents:read\"]\n\
             token_ttl = \"{token_ttl}\"\nwebhook_signed = true\ntoday = \"2026-06-01\"\nexpect_findings = {expect}\n"
        )
    };
    let policy_test =
        |file: &std::path::Path| run(gatehouse(&data_dir, &db.url).args(["policy", "test", file.to_str().unwrap()]));

    // Without a vendor-access.toml, the default standard (tokens up to 1h),
    // and the run says so.
    std::fs::write(&cases, case("github_app", "2h", "[\"token_lifetime\"]")).unwrap();
    let defaults = policy_test(&cases);
    assert_eq!(defaults.status.code(), Some(0), "{}", stderr(&defaults));
    assert_eq!(stdout(&defaults).trim(), "1 passed, 0 failed");
    assert!(
        stderr(&defaults).contains("no vendor-access.toml") && stderr(&defaults).contains("default"),
        "{}",
        stderr(&defaults)
    );

    // The folder's own standard is the one applied.
    std::fs::write(data_dir.join("policy/vendor-access.toml"), "max_token_ttl = \"4h\"\n").unwrap();
    std::fs::write(&cases, case("github_app", "2h", "[]")).unwrap();
    let own = policy_test(&cases);
    assert_eq!(own.status.code(), Some(0), "{}", stderr(&own));
    assert_eq!(stdout(&own).trim(), "1 passed, 0 failed");
    assert!(!stderr(&own).contains("default"), "{}", stderr(&own));

    // Wrong expectations fail the case, naming what was found and why.
    std::fs::write(&cases, case("github_app", "8h", "[]")).unwrap();
    let wrong = policy_test(&cases);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong).contains("FAIL")
            && stderr(&wrong).contains("scanner: expected findings [], got [token_lifetime]")
            && stderr(&wrong).contains("token_lifetime: expected at most 4h, found 8h"),
        "{}",
        stderr(&wrong)
    );

    // A method the standard does not know is a named failure of the case.
    std::fs::write(&cases, case("carrier_pigeon", "1h", "[]")).unwrap();
    let unknown = policy_test(&cases);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("scanner: unknown access method `carrier_pigeon`"), "{}", stderr(&unknown));
    let bad_permission = case("github_app", "1h", "[]").replace("contents:read", "contents");
    std::fs::write(&cases, bad_permission).unwrap();
    let unknown = policy_test(&cases);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("scanner: `contents` is not a permission"), "{}", stderr(&unknown));

    // A principal's integration standing decides its cases.
    std::fs::write(
        &cases,
        "[principals.scan]\nkind = \"service\"\ngrants = [{ role = \"developer\", scope = \"project:acme/web\" }]\n\
         integration = { vendor = \"Acme Scan\", in_force = false, reasons = [\"SOC 2 report for Acme Scan expired 2026-10-31\"] }\n\n\
         [[case]]\nname = \"lapsed scanner pushes\"\nprincipal = \"scan\"\naction = \"source.push\"\n\
         resource = \"project:acme/web\"\nexpect = \"allow\"\n",
    )
    .unwrap();
    let denied = policy_test(&cases);
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        stderr(&denied).contains("lapsed scanner pushes: expected allow, got deny")
            && stderr(&denied).contains("SOC 2 report for Acme Scan expired 2026-10-31"),
        "{}",
        stderr(&denied)
    );
}));

engine_test!(policy_validate_names_a_broken_vendor_access_file, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let init = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "ana@example.com"]));
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let file = data_dir.join("policy/vendor-access.toml");
    std::fs::write(&file, "max_token_ttl = \"1h\"\n\nallowed_methods = [\"github_app\", \"telnet\"]\n").unwrap();
    let invalid = run(gatehouse(&data_dir, &db.url).args(["policy", "validate"]));
    assert_eq!(invalid.status.code(), Some(1));
    let errors = stderr(&invalid);
    assert!(errors.contains(&format!("{}:3:", file.display())), "{errors}");
    assert!(errors.contains("unknown access method `telnet`"), "{errors}");
    // And `policy test` refuses to run against it.
    let tested = run(gatehouse(&data_dir, &db.url).args(["policy", "test"]));
    assert_eq!(tested.status.code(), Some(1));
    assert!(stderr(&tested).contains("telnet"), "{}", stderr(&tested));
}));

/// A valid `reviews.toml` for the tests below: one quarterly campaign over
/// production deployers.
const REVIEWS: &str = "renewal_days = 45\n\n[[campaign]]\nname = \"Production deployers\"\nreviewers = [\"owner\"]\n\
                       fallback = \"role:admin\"\nduration = \"14d\"\nrecurrence = \"quarterly\"\n\n[campaign.scope]\n\
                       role = \"deployer\"\nscope = \"environment:**:production\"\n";

engine_test!(policy_validate_names_a_broken_reviews_file, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let init = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "ana@example.com"]));
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let file = data_dir.join("policy/reviews.toml");
    std::fs::write(&file, REVIEWS).unwrap();
    let valid = run(gatehouse(&data_dir, &db.url).args(["policy", "validate"]));
    assert_eq!(valid.status.code(), Some(0), "{}", stderr(&valid));
    assert!(stdout(&valid).contains("reviews.toml: 1 review campaign(s) (Production deployers)"), "{}", stdout(&valid));

    // A bad value is named by file, line and reason.
    std::fs::write(&file, REVIEWS.replace("\"quarterly\"", "\"fortnightly\"")).unwrap();
    let invalid = run(gatehouse(&data_dir, &db.url).args(["policy", "validate"]));
    assert_eq!(invalid.status.code(), Some(1));
    let errors = stderr(&invalid);
    assert!(errors.contains(&format!("{}:8: campaign `Production deployers`:", file.display())), "{errors}");
    assert!(errors.contains("`fortnightly` is not a recurrence"), "{errors}");

    // So are a role the folder does not define and a second campaign of the same name.
    let twice = format!("{}\n{}", REVIEWS.replace("\"deployer\"", "\"deployers\""), &REVIEWS[19..]);
    std::fs::write(&file, twice.replace("Production deployers\"", "production DEPLOYERS\"")).unwrap();
    let invalid = run(gatehouse(&data_dir, &db.url).args(["policy", "validate"]));
    assert_eq!(invalid.status.code(), Some(1));
    let errors = stderr(&invalid);
    assert!(
        errors.contains(&format!("{}:11: campaign `production DEPLOYERS`: unknown role `deployers`", file.display())),
        "{errors}"
    );
    assert!(errors.contains("the name is already taken by the campaign at line 3"), "{errors}");
    assert!(errors.contains("has 2 problem(s)"), "{errors}");

    // And `policy test` refuses to run against it.
    let tested = run(gatehouse(&data_dir, &db.url).args(["policy", "test"]));
    assert_eq!(tested.status.code(), Some(1));
    assert!(stderr(&tested).contains("unknown role `deployers`"), "{}", stderr(&tested));
}));

engine_test!(review_campaigns_are_tested_by_name_and_scope, |engine| with_database(engine, |db| async move {
    let data_dir = db.dir.path().join("data");
    let init = run(gatehouse(&data_dir, &db.url).args(["init", "--admin-email", "ana@example.com"]));
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    std::fs::write(data_dir.join("policy/reviews.toml"), REVIEWS).unwrap();
    let cases = data_dir.join("reviews-cases.toml");
    let policy_test =
        |file: &std::path::Path| run(gatehouse(&data_dir, &db.url).args(["policy", "test", file.to_str().unwrap()]));
    let principals = "[principals.deploy-bot]\nkind = \"service\"\n\n[principals.ana]\nkind = \"human\"\n\n";
    std::fs::write(
        &cases,
        format!(
            "{principals}[[review]]\nname = \"production deployers are reviewed\"\ncampaign = \"production deployers\"\n\
             covers = [{{ principal = \"deploy-bot\", role = \"deployer\", scope = \"environment:acme/web:production\" }}]\n\
             excludes = [{{ principal = \"ana\", role = \"deployer\", scope = \"environment:acme/web:staging\" }}, \
             {{ principal = \"ana\", kind = \"token\" }}]\n\n\
             [[review]]\ncampaign = \"Yearly everything\"\nexpect_valid = false\n"
        ),
    )
    .unwrap();
    let passed = policy_test(&cases);
    assert_eq!(passed.status.code(), Some(0), "{}", stderr(&passed));
    assert_eq!(stdout(&passed).trim(), "2 passed, 0 failed");

    // A campaign renamed away, or a scope that misses what it should cover, fails its case.
    std::fs::write(
        &cases,
        format!(
            "{principals}[[review]]\nname = \"gone\"\ncampaign = \"Quarterly deployers\"\n\n\
             [[review]]\nname = \"staging too\"\ncampaign = \"Production deployers\"\n\
             covers = [{{ principal = \"ana\", role = \"deployer\", scope = \"environment:acme/web:staging\" }}]\n"
        ),
    )
    .unwrap();
    let failed = policy_test(&cases);
    assert_eq!(failed.status.code(), Some(1));
    let errors = stderr(&failed);
    assert!(errors.contains("gone: expected campaign `Quarterly deployers` in reviews.toml"), "{errors}");
    assert!(
        errors.contains("staging too: campaign `Production deployers` does not select `ana`'s `deployer` grant on `environment:acme/web:staging`"),
        "{errors}"
    );

    // A case naming a principal the file does not have is malformed, not failed.
    std::fs::write(
        &cases,
        "[[review]]\ncampaign = \"Production deployers\"\ncovers = [{ principal = \"ghost\", kind = \"token\" }]\n",
    )
    .unwrap();
    let broken = policy_test(&cases);
    assert_eq!(broken.status.code(), Some(2));
    assert!(stderr(&broken).contains("review 1: unknown principal `ghost`"), "{}", stderr(&broken));
}));

engine_test!(a_broken_reviews_file_is_refused_on_reload, |engine| with_database(engine, |db| async move {
    use std::time::{Duration, Instant};
    let data_dir = db.dir.path().join("data");
    let server = Server::start(&data_dir, &db.url).await;
    let store = db.open_store().await;
    let file = data_dir.join("policy/reviews.toml");
    let next_reload = |before: u64| {
        let store = &store;
        let server = &server;
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let entries = store.list_audit(before, 100).await.unwrap();
                if let Some(entry) = entries.into_iter().find(|e| e.record.action == "policy.reload") {
                    break entry;
                }
                assert!(Instant::now() < deadline, "no reload entry: {}", server.log_text());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };

    let before = store.audit_size().await.unwrap();
    std::fs::write(&file, REVIEWS).unwrap();
    let accepted = next_reload(before).await;
    assert_eq!(accepted.record.outcome.as_str(), "success", "{:?}", accepted.record);

    let before = store.audit_size().await.unwrap();
    std::fs::write(&file, REVIEWS.replace("\"14d\"", "\"120d\"")).unwrap();
    let refused = next_reload(before).await;
    assert_eq!(refused.record.outcome.as_str(), "failure");
    let problems = refused.record.details["problems"].to_string();
    assert!(
        problems.contains("reviews.toml:7: campaign `Production deployers`: duration must be between 1h and 90d"),
        "{problems}"
    );
}));
