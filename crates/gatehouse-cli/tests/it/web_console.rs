//! The web console in a real browser: Debian's chromium driven by
//! `@playwright/test` (tests/e2e), against a real `gatehouse serve` opened
//! at `http://localhost:PORT` and the real OpenID provider. This test
//! starts both, seeds the people and requests, runs the browser walk
//! (tests/e2e/console.spec.mjs), and then checks from here what the
//! browser did: the requests approved by whom, Ana's step-up made with
//! her passkey, the requester's own request untouched, and the audit log
//! verifying.
//!
//! Without chromium the test says so and passes, except under `CI=true`,
//! where a missing browser fails it (`.ci/run` installs chromium).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gatehouse_testkit::{engine_test, with_database};
use serde_json::{Value, json};

use crate::sso::{CLIENT_ID, CLIENT_SECRET, reserve_port, start_provider};
use crate::support::Server;

const RULES: &str = r#"
[[rule]]
id = "production-deploys"
action = "deployment.execute"
resources = ["environment:acme/*:production"]
require = { quorum = 1, of = "role:release-approver" }
request_ttl = "1h"

[[rule]]
id = "maintainer-access"
action = "access"
resources = ["project:acme/*"]
require = { quorum = 1, of = "role:release-approver" }
max_duration = "8h"
"#;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn e2e_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/e2e")
}

/// The system chromium (Debian's package), if installed.
fn chromium() -> Option<PathBuf> {
    ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].into_iter().map(PathBuf::from).find(|path| path.exists())
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"))
}

fn npm_ci(dir: &Path) {
    if dir.join("node_modules/@playwright/test").exists() {
        return;
    }
    let installed = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .current_dir(dir)
        .status()
        .expect("npm runs");
    assert!(installed.success(), "npm ci in tests/e2e failed");
}

struct Seeded {
    first: String,
    second: String,
    own: String,
    cy_secret: String,
}

/// Ana and Cy approve deployments of acme/web (Cy with an authenticator
/// enrolled through the API; Ana enrols in the browser); a deploy service
/// asks for two deployments; Cy asks for access herself.
async fn seed(server: &Server, admin: &str, data_dir: &Path) -> Seeded {
    let post = |path: &'static str, token: String, body: Value| async move {
        let (status, answer) = server.post(path, &token, &body).await;
        assert!((200..300).contains(&status), "{path}: {status} {answer}");
        answer
    };
    let mut people = Vec::new();
    for (name, email) in [("Ana", "ana@example.com"), ("Cy", "cy@example.com")] {
        let person =
            post("/api/v1/identities", admin.to_owned(), json!({"kind": "human", "name": name, "email": email})).await;
        let id = person["id"].as_str().unwrap().to_owned();
        post(
            "/api/v1/grants",
            admin.to_owned(),
            json!({"identity_id": id, "role": "release-approver", "scope": "environment:acme/web:production"}),
        )
        .await;
        people.push(id);
    }
    // The rules go into the policy folder once their approvers exist; the
    // server reloads it after checking it against the directory.
    std::fs::write(data_dir.join("policy").join("approvals.toml"), RULES).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, checked) = server.get("/api/v1/approvals/check", admin).await;
        if checked["rules"] == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the rules were not loaded: {checked}\n{}", server.log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Cy's authenticator, enrolled with a token of hers; her own request.
    let cy_token =
        post("/api/v1/tokens", admin.to_owned(), json!({"identity_id": people[1], "ttl_seconds": 3600})).await;
    let cy_token = cy_token["token"].as_str().unwrap().to_owned();
    let (_, enrollment) = server.post("/api/v1/mfa/totp", &cy_token, &Value::Null).await;
    let cy_secret = enrollment["secret"].as_str().unwrap().to_owned();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let code = gatehouse_mfa::TotpSecret::from_base32(&cy_secret).unwrap().code_at(now);
    assert_eq!(server.post("/api/v1/mfa/totp/confirm", &cy_token, &json!({"code": code})).await.0, 200);
    // Cy also reads the audit log (the console's audit pages are walked as hers).
    post("/api/v1/grants", admin.to_owned(), json!({"identity_id": people[1], "role": "auditor", "scope": "*"})).await;
    let own = post(
        "/api/v1/requests",
        cy_token,
        json!({"kind": "access", "role": "maintainer", "scope": "project:acme/web", "duration": "2h", "reason": "hotfix"}),
    )
    .await;

    let deployer =
        post("/api/v1/identities", admin.to_owned(), json!({"kind": "service", "name": "web-deployer"})).await;
    let deployer = deployer["id"].as_str().unwrap().to_owned();
    post(
        "/api/v1/grants",
        admin.to_owned(),
        json!({"identity_id": deployer, "role": "deployer", "scope": "environment:acme/web:production"}),
    )
    .await;
    let token = post("/api/v1/tokens", admin.to_owned(), json!({"identity_id": deployer, "ttl_seconds": 3600})).await;
    let token = token["token"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for (run, reason) in [("9001", "release 1.4"), ("9002", "release 2.0")] {
        let asked = post(
            "/api/v1/requests",
            token.clone(),
            json!({"kind": "action", "action": "deployment.execute",
                   "resource": {"type": "Environment", "id": "acme/web:production"}, "reason": reason,
                   "binding": {"forge": "github", "repository": "acme/web", "run_id": run, "run_attempt": 1,
                               "environment": "production", "sha": SHA, "authors": ["bob@example.com"]}}),
        )
        .await;
        ids.push(asked["id"].as_str().unwrap().to_owned());
    }
    Seeded { first: ids[0].clone(), second: ids[1].clone(), own: own["id"].as_str().unwrap().to_owned(), cy_secret }
}

engine_test!(the_console_is_walked_in_a_real_browser, |engine| {
    with_database(engine, |db| async move {
        let Some(chromium) = chromium() else {
            assert!(!under_ci(), "CI=true and chromium is missing: apt-get install chromium");
            eprintln!("skipped: no chromium here (apt-get install chromium); CI installs it");
            return;
        };
        let e2e = e2e_dir();
        tokio::task::spawn_blocking({
            let e2e = e2e.clone();
            move || npm_ci(&e2e)
        })
        .await
        .unwrap();

        // WebAuthn and the browser want a host name, not an IP address.
        let (reserved, port) = reserve_port();
        let public = format!("http://localhost:{port}");
        let redirect = format!("{public}/auth/callback");
        let provider = tokio::task::spawn_blocking({
            let redirect = redirect.clone();
            move || start_provider(&redirect)
        })
        .await
        .unwrap();
        let data_dir = db.dir.path().join("data");
        let env = [
            ("GATEHOUSE_OIDC_ISSUER", provider.url.as_str()),
            ("GATEHOUSE_OIDC_CLIENT_ID", CLIENT_ID),
            ("GATEHOUSE_OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("GATEHOUSE_OIDC_REDIRECT_URL", redirect.as_str()),
        ];
        drop(reserved);
        let server = Server::start_on(port, &data_dir, &db.url, &env).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let seeded = seed(&server, &admin, &data_dir).await;

        let artifacts = std::env::temp_dir().join(format!("gatehouse-e2e-{port}"));
        let output = tokio::task::spawn_blocking({
            let (e2e, artifacts, chromium, public) = (e2e.clone(), artifacts.clone(), chromium.clone(), public.clone());
            let (first, second, own, secret) =
                (seeded.first.clone(), seeded.second.clone(), seeded.own.clone(), seeded.cy_secret.clone());
            move || {
                Command::new("node")
                    .args(["node_modules/@playwright/test/cli.js", "test"])
                    .current_dir(e2e)
                    .env("GATEHOUSE_URL", public)
                    .env("GATEHOUSE_CHROMIUM", chromium)
                    .env("GATEHOUSE_ARTIFACTS", &artifacts)
                    .env("GATEHOUSE_REQUEST", first)
                    .env("GATEHOUSE_SECOND_REQUEST", second)
                    .env("GATEHOUSE_OWN_REQUEST", own)
                    .env("GATEHOUSE_CY_SECRET", secret)
                    .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                    .output()
                    .expect("node runs")
            }
        })
        .await
        .unwrap();
        let said = format!(
            "{}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            server.log_text()
        );
        assert!(output.status.success(), "the browser walk failed (artifacts in {}):\n{said}", artifacts.display());
        let results: Value =
            serde_json::from_str(&std::fs::read_to_string(artifacts.join("results.json")).unwrap()).unwrap();
        eprintln!("browser: {results}; screenshots in {}", artifacts.display());
        assert!(results["request_page_bytes"].as_u64().unwrap() < 100 * 1024, "{results}");

        // What the browser did, checked from here.
        let identity_of = |email: &'static str| {
            let (server, admin) = (&server, admin.clone());
            async move {
                let (_, listed) = server.get("/api/v1/identities?limit=200", &admin).await;
                listed["items"].as_array().unwrap().iter().find(|i| i["email"] == email).unwrap()["id"].clone()
            }
        };
        let (ana, cy) = (identity_of("ana@example.com").await, identity_of("cy@example.com").await);
        for (id, voter) in [(&seeded.first, &ana), (&seeded.second, &cy)] {
            let (_, request) = server.get(&format!("/api/v1/requests/{id}"), &admin).await;
            assert_eq!(request["state"], "approved", "{request}");
            assert_eq!(request["votes"][0]["voter"], *voter, "{request}");
        }
        let (_, own) = server.get(&format!("/api/v1/requests/{}", seeded.own), &admin).await;
        assert_eq!((own["state"].as_str(), own["votes"].as_array().map(Vec::len)), (Some("pending"), Some(0)));
        // Ana stepped up with her passkey: the entry says how.
        let (_, entries) = server.get("/api/v1/audit/entries?action=mfa.verify", &admin).await;
        let by_passkey = |entry: &&Value| {
            entry["actor"].as_str().is_some_and(|actor| actor.contains(ana.as_str().unwrap()))
                && entry["outcome"] == "success"
                && entry["details"]["method"] == "webauthn"
        };
        assert!(entries["items"].as_array().unwrap().iter().any(|e| by_passkey(&e)), "{entries}");
        let (_, added) = server.get("/api/v1/audit/entries?action=mfa.passkey.register", &admin).await;
        assert_eq!(added["items"].as_array().map(Vec::len), Some(1), "{added}");
        crate::audit::export_and_verify(&db, &data_dir);
    })
});
