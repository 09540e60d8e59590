//! A vendor's tool in a pipeline, end to end with real processes: the
//! vendor and its evidence recorded with `gatehouse vendor` and `gatehouse
//! evidence`, its integration registered with `gatehouse integration add`
//! and onboarded through the approved channel (another admin approves with
//! a TOTP code from `oathtool`), and then a real `gatehouse gate` in the
//! tool's CI job: refused, exit 1, naming the expired SOC 2 report; allowed
//! once a current report is on file.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use gatehouse_testkit::oidc_issuer::{TestIssuer, TestKey};
use gatehouse_testkit::{engine_test, with_database};
use serde_json::{Value, json};

use crate::support::{Server, gatehouse, stderr, stdout};

const AUDIENCE: &str = "https://gatehouse.example.com";

/// Onboarding by one admin other than the requester, with a fresh code.
const RULES: &str = r#"
[[rule]]
id = "vendor-onboarding"
action = "vendor.manage"
resources = ["*"]
require = { quorum = 1, of = "role:admin" }
reason = "required"
"#;

async fn run(mut command: Command) -> Output {
    command.stdin(Stdio::null());
    tokio::task::spawn_blocking(move || command.output().expect("run gatehouse")).await.unwrap()
}

fn json_out(output: &Output) -> Value {
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(output), stderr(output));
    serde_json::from_str(&stdout(output)).unwrap_or_else(|e| panic!("{e}: {}", stdout(output)))
}

engine_test!(a_gate_in_the_job_of_an_integration_whose_soc2_expired_exits_1_naming_it, |engine| {
    with_database(engine, |db| async move {
        let key = TestKey::rsa("k1", 0);
        let issuer = TestIssuer::start(&[&key]).await;
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let as_with = |token: &str, args: &[&str]| {
            let mut command = gatehouse(&data_dir, &db.url);
            command.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", token).args(args);
            command
        };
        let operator = |args: &[&str]| {
            let mut command = as_with(&admin, &["--output", "json"]);
            command.args(args);
            command
        };

        // A second admin approves onboardings; the rule is loaded from the folder.
        let (_, rita) = server
            .post("/api/v1/identities", &admin, &json!({"kind": "human", "name": "Rita", "email": "rita@example.com"}))
            .await;
        let rita = rita["id"].as_str().unwrap_or_else(|| panic!("{rita}")).to_owned();
        let (_, enrolling) =
            server.post("/api/v1/tokens", &admin, &json!({"identity_id": rita, "ttl_seconds": 3600})).await;
        let enrolling = enrolling["token"].as_str().unwrap_or_else(|| panic!("{enrolling}")).to_owned();
        let (_, enrollment) = server.post("/api/v1/mfa/totp", &enrolling, &Value::Null).await;
        let secret = enrollment["secret"].as_str().unwrap().to_owned();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let code = gatehouse_mfa::TotpSecret::from_base32(&secret).unwrap().code_at(now);
        let (status, _) = server.post("/api/v1/mfa/totp/confirm", &enrolling, &json!({"code": code})).await;
        assert_eq!(status, 200);
        let (_, voting) =
            server.post("/api/v1/tokens", &admin, &json!({"identity_id": rita, "ttl_seconds": 3600})).await;
        let rita_token = voting["token"].as_str().unwrap().to_owned();
        // Admin last: nobody mints tokens for another admin.
        let (status, granted) =
            server.post("/api/v1/grants", &admin, &json!({"identity_id": rita, "role": "admin", "scope": "*"})).await;
        assert_eq!(status, 201, "{granted}");
        std::fs::write(data_dir.join("policy").join("approvals.toml"), RULES).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, checked) = server.get("/api/v1/approvals/check", &admin).await;
            if checked["rules"] == 1 {
                break;
            }
            assert!(Instant::now() < deadline, "the rule was not loaded: {}", server.log_text());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        // The vendor, a high tier (SOC 2 and a DPA), its SOC 2 report's
        // period ended 2024-06-30: it counted until 2025-06-30.
        let vendor = json_out(
            &run(operator(&[
                "vendor",
                "add",
                "Acme Scan",
                "--tier",
                "high",
                "--contract-start",
                "2025-01-01",
                "--contract-renewal",
                "2027-06-01",
                "--contract-end",
                "2030-01-01",
                "--data-access",
                "source",
            ]))
            .await,
        );
        let vendor_id = vendor["id"].as_str().unwrap().to_owned();
        let files = db.dir.path().join("files");
        std::fs::create_dir_all(&files).unwrap();
        let soc2 = files.join("soc2-2024.pdf");
        std::fs::write(&soc2, b"%PDF-1.7 SOC 2 type II, 2023-07-01 to 2024-06-30").unwrap();
        let dpa = files.join("dpa.pdf");
        std::fs::write(&dpa, b"%PDF-1.7 data processing agreement").unwrap();
        let soc2_meta = |end: &str| {
            [
                "--meta".to_owned(),
                "type=II".to_owned(),
                "--meta".to_owned(),
                "opinion=unqualified".to_owned(),
                "--meta".to_owned(),
                "period_start=2023-07-01".to_owned(),
                "--meta".to_owned(),
                format!("period_end={end}"),
                "--meta".to_owned(),
                "trust_services=security,availability".to_owned(),
            ]
        };
        let mut added = operator(&["evidence", "add", &vendor_id, "--kind", "soc2", "--file"]);
        added.arg(&soc2).args(soc2_meta("2024-06-30"));
        let added = json_out(&run(added).await);
        assert_eq!(added["state"], "expired", "{added}");
        let mut signed = operator(&["evidence", "add", &vendor_id, "--kind", "dpa", "--file"]);
        signed.arg(&dpa).args(["--meta", "signed_on=2025-01-02"]);
        json_out(&run(signed).await);
        json_out(&run(operator(&["vendor", "approve", &vendor_id])).await);

        // The tool's CI job: a service identity, its binding, a grant.
        let bot = json_out(&run(operator(&["identity", "create", "--kind", "service", "--name", "acme-scan"])).await);
        let bot = bot["id"].as_str().unwrap().to_owned();
        json_out(
            &run(operator(&[
                "binding",
                "add",
                "--issuer",
                &issuer.url,
                "--audience",
                AUDIENCE,
                "--identity",
                &bot,
                "--claim",
                "repository_id=123456",
            ]))
            .await,
        );
        json_out(
            &run(operator(&["grant", "add", "--identity", &bot, "--role", "developer", "--scope", "project:acme/web"]))
                .await,
        );
        let integration = json_out(
            &run(operator(&[
                "integration",
                "add",
                "--vendor",
                &vendor_id,
                "--identity",
                &bot,
                "--method",
                "oidc_workload",
                "--permission",
                "contents:read",
                "--repositories",
                "selected",
                "--repository",
                "acme/web",
                "--token-ttl",
                "15m",
                "--webhook-signed",
            ]))
            .await,
        );
        assert_eq!(integration["state"], "pending_approval", "{integration}");
        let request = integration["onboarding_request_id"].as_str().expect("an onboarding request").to_owned();

        let now = time::OffsetDateTime::now_utc();
        let job = || {
            let mut command = gatehouse(&data_dir, &db.url);
            command
                .env("GATEHOUSE_URL", &server.url)
                .env("GATEHOUSE_ID_TOKEN", key.sign(&issuer.claims(AUDIENCE, now)))
                .args(["gate", "--action", "pipeline.trigger", "--resource", "project:acme/web"]);
            command
        };
        // Not onboarded yet: its identity is suspended, the job refused.
        let pending = run(job()).await;
        assert_eq!(pending.status.code(), Some(1), "{}{}", stdout(&pending), stderr(&pending));

        let mut approve = as_with(&rita_token, &["request", "approve", &request, "--reason", "SOC 2 reviewed"]);
        approve.args(["--code", &crate::approvals::next_code(&secret)]);
        let approved = run(approve).await;
        assert_eq!(approved.status.code(), Some(0), "{}", stderr(&approved));
        // Its first access review must pass too: Rita (an owner) keeps each item.
        let campaigns = json_out(&run(operator(&["review", "list", "--state", "open"])).await);
        let onboarding = campaigns["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["trigger"]["kind"] == "onboarding")
            .unwrap_or_else(|| panic!("an onboarding review: {campaigns}"));
        let campaign = onboarding["id"].as_str().unwrap().to_owned();
        let shown = json_out(&run(operator(&["review", "show", &campaign, "--items"])).await);
        for item in shown["items"].as_array().unwrap() {
            let number = item["item"]["number"].as_u64().unwrap().to_string();
            let kept = run(as_with(&rita_token, &["review", "decide", &campaign, &number, "keep"])).await;
            assert_eq!(kept.status.code(), Some(0), "{}", stderr(&kept));
        }

        // Onboarded, but its SOC 2 report expired: the gate names it.
        let expired = run(job()).await;
        assert_eq!(expired.status.code(), Some(1), "{}{}", stdout(&expired), stderr(&expired));
        assert!(
            stdout(&expired).contains("SOC 2 report for Acme Scan expired 2025-06-30"),
            "{}{}",
            stdout(&expired),
            stderr(&expired)
        );

        // A current report: the same job goes through.
        let current = files.join("soc2-2025.pdf");
        std::fs::write(&current, b"%PDF-1.7 SOC 2 type II, 2024-07-01 to 2025-06-30").unwrap();
        let mut renewed = operator(&["evidence", "add", &vendor_id, "--kind", "soc2", "--file"]);
        renewed.arg(&current).args(soc2_meta("2026-06-30"));
        json_out(&run(renewed).await);
        let allowed = run(job()).await;
        assert_eq!(allowed.status.code(), Some(0), "{}{}", stdout(&allowed), stderr(&allowed));
    })
});
