//! The approved channel end to end with real processes: a CI job's
//! `gatehouse gate --wait` waits while approvers from two directory groups
//! vote with `gatehouse request approve --code` (codes from `oathtool`); a
//! commit author and the requester are refused, a member of both groups
//! counts once, and the gate goes through once the rule is met.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gatehouse_testkit::oidc_issuer::{TestIssuer, TestKey};
use gatehouse_testkit::{engine_test, with_database};
use serde_json::{Value, json};

use crate::support::{Server, gatehouse, http, stderr, stdout};

const AUDIENCE: &str = "https://gatehouse.example.com";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

const RULES: &str = r#"
[[rule]]
id = "production-deploys"
action = "deployment.execute"
resources = ["environment:acme/*:production"]
require = { all = [ { quorum = 1, of = "group:release" }, { quorum = 1, of = "group:security" } ] }
request_ttl = "1h"
reason = "required"
"#;

async fn run(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run gatehouse")).await.unwrap()
}

/// A TOTP code for the next 30-second step, as an authenticator shows it a
/// moment later: the step the enrolment used is never replayed.
pub(crate) fn next_code(secret: &str) -> String {
    let next = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
    let at = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        next.year(),
        u8::from(next.month()),
        next.day(),
        next.hour(),
        next.minute(),
        next.second()
    );
    let output = Command::new("oathtool").args(["--totp", "-b", "--now", &at, secret]).output().expect("oathtool runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

struct Person {
    id: String,
    /// Enrolled with this token; votes go through a second one, whose
    /// second factor is not yet verified, so `--code` is what makes it fresh.
    voting_token: String,
    secret: String,
}

engine_test!(a_waiting_gate_goes_through_once_two_groups_approve_with_totp_codes, |engine| {
    with_database(engine, |db| async move {
        let key = TestKey::rsa("k1", 0);
        let issuer = TestIssuer::start(&[&key]).await;
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let post = |path: &str, body: Value| {
            let (server, admin) = (&server, admin.clone());
            let path = path.to_owned();
            async move {
                let (status, answer) = server.post(&path, &admin, &body).await;
                assert!((200..300).contains(&status), "{path}: {status} {answer}");
                answer
            }
        };

        // The directory: a SCIM provisioner puts people in two groups.
        let bot = post("/api/v1/identities", json!({"kind": "service", "name": "okta-scim"})).await;
        let bot = bot["id"].as_str().unwrap().to_owned();
        post("/api/v1/grants", json!({"identity_id": bot, "role": "scim-provisioner", "scope": "*"})).await;
        let provisioner = post("/api/v1/tokens", json!({"identity_id": bot, "ttl_seconds": 3600})).await;
        let provisioner = provisioner["token"].as_str().unwrap().to_owned();
        let scim = |path: &str, body: Value| {
            let (url, token) = (format!("{}{path}", server.url), provisioner.clone());
            async move {
                let response = http()
                    .post(url)
                    .bearer_auth(token)
                    .header("content-type", "application/scim+json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                response.json::<Value>().await.unwrap()
            }
        };
        let mut people = std::collections::BTreeMap::new();
        for name in ["ana", "sam", "cy", "bob"] {
            let email = format!("{name}@example.com");
            let user = scim(
                "/scim/v2/Users",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email,
                       "emails": [{"value": email, "primary": true}], "active": true}),
            )
            .await;
            let id = user["id"].as_str().unwrap().to_owned();
            post(
                "/api/v1/grants",
                json!({"identity_id": id, "role": "release-approver",
                                          "scope": "environment:acme/web:production"}),
            )
            .await;
            let enrolling = post("/api/v1/tokens", json!({"identity_id": id, "ttl_seconds": 3600})).await;
            let enrolling = enrolling["token"].as_str().unwrap().to_owned();
            let (_, enrollment) = server.post("/api/v1/mfa/totp", &enrolling, &Value::Null).await;
            let secret = enrollment["secret"].as_str().unwrap().to_owned();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
            let code = gatehouse_mfa::TotpSecret::from_base32(&secret).unwrap().code_at(now);
            let (status, _) = server.post("/api/v1/mfa/totp/confirm", &enrolling, &json!({"code": code})).await;
            assert_eq!(status, 200);
            let voting = post("/api/v1/tokens", json!({"identity_id": id, "ttl_seconds": 3600})).await;
            let voting_token = voting["token"].as_str().unwrap().to_owned();
            people.insert(name, Person { id, voting_token, secret });
        }
        let member = |name: &str| json!({"value": people[name].id});
        scim(
            "/scim/v2/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "release", "members": [member("ana"), member("cy"), member("bob")]}),
        )
        .await;
        scim(
            "/scim/v2/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "security", "members": [member("sam"), member("cy")]}),
        )
        .await;

        // The rule goes into the policy folder; the server reloads it after
        // checking it against the directory.
        std::fs::write(data_dir.join("policy").join("approvals.toml"), RULES).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, checked) = server.get("/api/v1/approvals/check", &admin).await;
            if checked["rules"] == 1 {
                assert_eq!(checked["problems"], json!([]), "{checked}");
                break;
            }
            assert!(Instant::now() < deadline, "the rule was not loaded: {}", server.log_text());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // The deploy job's service identity and its binding.
        let deployer = post("/api/v1/identities", json!({"kind": "service", "name": "web-deployer"})).await;
        let deployer = deployer["id"].as_str().unwrap().to_owned();
        post(
            "/api/v1/grants",
            json!({"identity_id": deployer, "role": "deployer",
                                      "scope": "environment:acme/web:production"}),
        )
        .await;
        post(
            "/api/v1/trust-bindings",
            json!({"issuer": issuer.url, "audience": AUDIENCE,
            "claims": {"repository_id": "123456"}, "identity_id": deployer}),
        )
        .await;
        let mut claims = issuer.claims(AUDIENCE, time::OffsetDateTime::now_utc());
        claims["sha"] = json!(SHA);
        claims["run_attempt"] = json!("1");
        claims["exp"] = json!(time::OffsetDateTime::now_utc().unix_timestamp() + 600);
        let job_token = key.sign(&claims);

        // Without --wait the gate is denied at once: approval is required.
        let mut at_once = gatehouse(&data_dir, &db.url);
        at_once.env("GATEHOUSE_URL", &server.url).args([
            "gate",
            "--action",
            "deployment.execute",
            "--resource",
            "environment:acme/web:production",
            "--id-token",
            &job_token,
        ]);
        let at_once = run(at_once).await;
        assert_eq!(at_once.status.code(), Some(1), "{}", stderr(&at_once));
        assert!(stdout(&at_once).contains("approval-required"), "{}", stdout(&at_once));

        // The gate waits.
        let gate_log = data_dir.with_extension("gate.log");
        let gate_out = data_dir.with_extension("gate.out");
        let mut gate = gatehouse(&data_dir, &db.url)
            .env("GATEHOUSE_URL", &server.url)
            .args([
                "gate",
                "--action",
                "deployment.execute",
                "--resource",
                "environment:acme/web:production",
                "--id-token",
                &job_token,
                "--wait",
                "2m",
                "--reason",
                "release 1.4",
                "--author",
                "bob@example.com",
            ])
            .stdout(std::fs::File::create(&gate_out).unwrap())
            .stderr(std::fs::File::create(&gate_log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let request = loop {
            let (_, listed) = server.get("/api/v1/requests?state=pending", &admin).await;
            if let Some(first) = listed["items"].as_array().and_then(|items| items.first()) {
                break first.clone();
            }
            assert!(Instant::now() < deadline, "no request: {}", std::fs::read_to_string(&gate_log).unwrap());
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let id = request["id"].as_str().unwrap().to_owned();
        assert_eq!(request["binding"]["run_id"], "42");
        assert_eq!(request["binding"]["sha"], SHA);
        assert_eq!(request["requester"], deployer.as_str());

        let vote = |name: &'static str, with_code: bool| {
            let person = &people[name];
            let mut command = gatehouse(&data_dir, &db.url);
            command
                .env("GATEHOUSE_URL", &server.url)
                .env("GATEHOUSE_TOKEN", &person.voting_token)
                .args(["request", "approve", &id, "--reason", "checked"]);
            if with_code {
                command.args(["--code", &next_code(&person.secret)]);
            }
            command.stdin(Stdio::null());
            run(command)
        };
        // Without a code the vote is refused: the second factor is not fresh.
        let stale = vote("cy", false).await;
        assert_eq!(stale.status.code(), Some(1), "{}", stderr(&stale));
        assert!(stderr(&stale).contains("--code"), "{}", stderr(&stale));
        // Bob wrote the commit being deployed.
        let author = vote("bob", true).await;
        assert_eq!(author.status.code(), Some(1), "{}", stderr(&author));
        assert!(stderr(&author).contains("author"), "{}", stderr(&author));
        // The requester's own token (the deploy job's service) never votes.
        let service_token = post("/api/v1/tokens", json!({"identity_id": deployer, "ttl_seconds": 600})).await;
        let mut by_requester = gatehouse(&data_dir, &db.url);
        by_requester
            .env("GATEHOUSE_URL", &server.url)
            .env("GATEHOUSE_TOKEN", service_token["token"].as_str().unwrap())
            .args(["request", "approve", &id, "--reason", "self"])
            .stdin(Stdio::null());
        let by_requester = run(by_requester).await;
        assert_eq!(by_requester.status.code(), Some(1), "{}", stderr(&by_requester));
        // Cy is in both groups: one approval, one seat.
        let cy = vote("cy", true).await;
        assert_eq!(cy.status.code(), Some(0), "{}", stderr(&cy));
        let (_, now) = server.get(&format!("/api/v1/requests/{id}"), &admin).await;
        assert_eq!(now["state"], "pending", "{now}");
        // Sam (security) completes it: Cy takes release.
        let sam = vote("sam", true).await;
        assert_eq!(sam.status.code(), Some(0), "{}", stderr(&sam));
        assert!(stdout(&sam).contains("approved"), "{}", stdout(&sam));

        let status = tokio::task::spawn_blocking(move || gate.wait().unwrap()).await.unwrap();
        let said = std::fs::read_to_string(&gate_log).unwrap();
        let out = std::fs::read_to_string(&gate_out).unwrap();
        assert_eq!(status.code(), Some(0), "{said}{out}");
        assert!(said.contains(&id), "{said}");
        assert!(out.starts_with("allow"), "{out}");
        let (_, used) = server.get(&format!("/api/v1/requests/{id}"), &admin).await;
        assert_eq!(used["state"], "consumed", "{used}");
        assert_eq!(used["assignment"], json!({"0": [people["cy"].id], "1": [people["sam"].id]}));
    })
});

const WEBHOOK_SECRET: &str = "a webhook secret for the end-to-end test";
const APP_ID: &str = "4242";

fn config(data_dir: &std::path::Path, api_url: &str, outbox_seconds: Option<u64>) -> String {
    let mut text = format!(
        "[github]\nwebhook_secret = \"{WEBHOOK_SECRET}\"\napp_id = \"{APP_ID}\"\napp_private_key_file = \"{}\"\n\
         api_url = \"{api_url}\"\n\n[outbound]\nallow_loopback = true\n",
        data_dir.join("github-app.pem").display()
    );
    if let Some(seconds) = outbox_seconds {
        text.push_str(&format!("\n[outbox]\ninterval_seconds = {seconds}\n"));
    }
    text
}

engine_test!(a_github_deployment_waits_for_approval_and_its_answer_survives_a_restart, |engine| {
    with_database(engine, |db| async move {
        use gatehouse_testkit::github_standin::{GithubCall, GithubStandIn};
        let key = TestKey::rsa("app", 2);
        let standin = GithubStandIn::start(APP_ID, &key.public_pem).await;
        let data_dir = db.dir.path().join("data");
        let init = run({
            let mut command = gatehouse(&data_dir, &db.url);
            command.args(["init", "--admin-email", "admin@example.com"]);
            command
        })
        .await;
        assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
        let admin = stdout(&init).lines().last().unwrap().trim().to_owned();
        std::fs::write(data_dir.join("github-app.pem"), key.private_pem(2)).unwrap();
        std::fs::write(
            data_dir.join("policy/approvals.toml"),
            "[[rule]]\nid = \"production\"\naction = \"deployment.execute\"\nresources = [\"environment:acme/*:production\"]\n\
             require = { quorum = 1, of = \"role:release-approver\" }\nreason = \"optional\"\n",
        )
        .unwrap();
        // The first server's outbox runs once at start and then not for an
        // hour: the answer can only go out after the restart below.
        std::fs::write(data_dir.join("gatehouse.toml"), config(&data_dir, &standin.url, Some(3600))).unwrap();
        let server = Server::start(&data_dir, &db.url).await;
        crate::support::enable_mfa(&server, &admin).await;
        let post = |path: &str, token: &str, body: Value| {
            let (server, token, path) = (&server, token.to_owned(), path.to_owned());
            async move {
                let (status, answer) = server.post(&path, &token, &body).await;
                assert!((200..300).contains(&status), "{path}: {status} {answer}");
                answer
            }
        };
        let bot = post("/api/v1/identities", &admin, json!({"kind": "service", "name": "web-deployer"})).await;
        let bot = bot["id"].as_str().unwrap().to_owned();
        post(
            "/api/v1/grants",
            &admin,
            json!({"identity_id": bot, "role": "deployer",
                                              "scope": "environment:acme/web:production"}),
        )
        .await;
        post(
            "/api/v1/trust-bindings",
            &admin,
            json!({"issuer": gatehouse_server::integrations::GITHUB_ACTIONS_ISSUER,
            "audience": "gatehouse", "claims": {"repository_id": "123456"}, "identity_id": bot}),
        )
        .await;
        let ana =
            post("/api/v1/identities", &admin, json!({"kind": "human", "name": "Ana", "email": "ana@example.com"}))
                .await;
        let ana = ana["id"].as_str().unwrap().to_owned();
        post(
            "/api/v1/grants",
            &admin,
            json!({"identity_id": ana, "role": "release-approver",
                                              "scope": "environment:acme/web:production"}),
        )
        .await;
        let ana_token = post("/api/v1/tokens", &admin, json!({"identity_id": ana, "ttl_seconds": 3600})).await;
        let ana_token = ana_token["token"].as_str().unwrap().to_owned();
        crate::support::enable_mfa(&server, &ana_token).await;

        // GitHub asks: the deployment waits for approval.
        let event = json!({
            "action": "requested", "environment": "production", "event": "push",
            "deployment_callback_url": format!("{}/repos/acme/web/actions/runs/77/deployment_protection_rule", standin.url),
            "deployment": {"id": 9, "ref": "main", "sha": SHA},
            "repository": {"id": 123456, "full_name": "acme/web", "owner": {"id": 987}},
            "installation": {"id": 31},
        })
        .to_string();
        let delivered = http()
            .post(format!("{}/webhooks/github", server.url))
            .header("content-type", "application/json")
            .header("x-github-event", "deployment_protection_rule")
            .header("x-github-delivery", "e2e-1")
            .header(
                "x-hub-signature-256",
                gatehouse_domain::notify::sign_body(WEBHOOK_SECRET.as_bytes(), event.as_bytes()),
            )
            .body(event)
            .send()
            .await
            .unwrap();
        assert_eq!(delivered.status(), 200);
        let waiting: Value = delivered.json().await.unwrap();
        assert_eq!(waiting["state"], "pending", "{waiting}");
        let id = waiting["request"].as_str().unwrap().to_owned();

        // The deciding vote, then the server goes away before the answer.
        let (_, request) = server.get(&format!("/api/v1/requests/{id}"), &ana_token).await;
        let voted = post(
            &format!("/api/v1/requests/{id}/votes"),
            &ana_token,
            json!({"decision": "approve", "digest": request["digest"]}),
        )
        .await;
        assert_eq!(voted["state"], "approved", "{voted}");
        let answered = || {
            standin
                .calls()
                .into_iter()
                .filter_map(|call| match call {
                    GithubCall::ProtectionAnswer { body, .. } => Some(body),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(answered(), Vec::<Value>::new(), "answered before the restart");
        drop(server);

        // Started again: the held answer goes out from the outbox.
        std::fs::write(data_dir.join("gatehouse.toml"), config(&data_dir, &standin.url, None)).unwrap();
        let server = Server::start(&data_dir, &db.url).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while answered().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sent = answered();
        assert_eq!(sent.len(), 1, "log:\n{}", server.log_text());
        assert_eq!(sent[0]["state"], "approved");
        assert!(sent[0]["comment"].as_str().unwrap().contains("role:release-approver 1/1"), "{}", sent[0]);
    })
});
