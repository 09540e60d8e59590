//! `gatehouse integration …` against a running server (issue 27): register,
//! list, show, check (exit 1 with one line per failing rule), and an
//! exception asked by one person and granted by another.

use std::path::Path;
use std::sync::Arc;

use gatehouse_audit::note_key::NoteSigner;
use gatehouse_domain::audit::{AuditAction, AuditRecord, SystemWriter};
use gatehouse_domain::ids::VendorId;

use gatehouse_domain::vendor::{Contract, DataAccess, Vendor, VendorStatus, VendorTier};
use gatehouse_store::AuditSettings;
use gatehouse_testkit::{TestDatabase, engine_test, with_database};
use serde_json::{Value, json};
use time::macros::date;

use crate::support::{Server, enable_mfa, gatehouse, run, stderr, stdout};

/// A vendor written straight into the database the server uses (the
/// vendors API is another change's), with the node's audit key.
async fn vendor(db: &TestDatabase, data_dir: &Path, name: &str) -> String {
    let key = std::fs::read_to_string(data_dir.join("audit-signing.key")).unwrap();
    let signer = Arc::new(NoteSigner::parse(key.trim()).unwrap());
    let store = db.open_store_with(AuditSettings { signer: Some(signer), ..AuditSettings::default() }).await;
    let now = time::OffsetDateTime::now_utc();
    let vendor = Vendor {
        id: VendorId::new(),
        name: name.into(),
        tier: VendorTier::Medium,
        business_owner: None,
        security_owner: None,
        contract: Contract { start: date!(2020 - 01 - 01), renewal: date!(2098 - 01 - 01), end: date!(2099 - 01 - 01) },
        data_access: DataAccess::Metadata,
        logging: None,
        status: VendorStatus::Approved,
    };
    let record =
        AuditRecord::system(SystemWriter::Scheduler, now, AuditAction::VendorCreate, format!("vendor:{}", vendor.id));
    store.create_vendor(vendor, record).await.unwrap().id.to_string()
}

engine_test!(integration_commands_register_check_and_waive, |engine| {
    with_database(engine, |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let acme = vendor(&db, &data_dir, "Acme Scan").await;
        let as_bearer = |token: &str, args: &[&str]| {
            let mut command = gatehouse(&data_dir, &db.url);
            command.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", token).args(args);
            run(&mut command)
        };
        let cli = |args: &[&str]| as_bearer(&admin, args);
        let json = |args: &[&str]| -> Value {
            let mut all = args.to_vec();
            all.extend(["--output", "json"]);
            let output = cli(&all);
            assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
            serde_json::from_str(&stdout(&output)).unwrap()
        };
        let service = |name: &str| -> String {
            json(&["identity", "create", "--kind", "service", "--name", name])["id"].as_str().unwrap().to_owned()
        };

        // A classic PAT reaching every repository with admin write.
        let pat_bot = service("acme-pat");
        let pat = json(&[
            "integration",
            "add",
            "--vendor",
            &acme,
            "--identity",
            &pat_bot,
            "--method",
            "classic_pat",
            "--permission",
            "contents:write",
            "--permission",
            "administration:write",
            "--repositories",
            "all",
        ]);
        assert_eq!(pat["state"], "pending_approval");
        let pat_id = pat["id"].as_str().unwrap().to_owned();
        let checked = cli(&["integration", "check", &pat_id]);
        assert_eq!(checked.status.code(), Some(1), "{}", stderr(&checked));
        let lines = stdout(&checked);
        let failing: Vec<&str> = lines.lines().filter(|line| line.contains("FAIL")).collect();
        assert_eq!(failing.len(), 7, "{lines}");
        for rule in ["access_method", "token_lifetime", "forbidden_permissions", "repository_selection"] {
            assert!(failing.iter().any(|line| line.starts_with(rule)), "{rule}: {lines}");
        }
        assert!(lines.lines().any(|line| line.starts_with("refresh_token_lifetime") && line.contains(" ok ")));
        assert!(stderr(&checked).contains("does not meet the API access standard"), "{}", stderr(&checked));

        // A GitHub App that fails one rule only: unsigned webhooks.
        let app_bot = service("acme-app");
        let app = json(&[
            "integration",
            "add",
            "--vendor",
            &acme,
            "--identity",
            &app_bot,
            "--method",
            "github_app",
            "--permission",
            "contents:read",
            "--repository",
            "acme/web",
            "--token-ttl",
            "1h",
        ]);
        let app_id = app["id"].as_str().unwrap().to_owned();
        assert_eq!(app["repository_names"], json!(["acme/web"]));
        let listing = stdout(&cli(&["integration", "list"]));
        assert!(listing.starts_with("ID ") && listing.contains(&pat_id) && listing.contains(&app_id), "{listing}");
        assert_eq!(json(&["integration", "list", "--vendor", &acme])["items"].as_array().unwrap().len(), 2);
        assert_eq!(json(&["integration", "show", &app_id])["identity_id"], app_bot.as_str());
        let checked = cli(&["integration", "check", &app_id]);
        assert_eq!(checked.status.code(), Some(1));
        let failing: Vec<String> = stdout(&checked).lines().filter(|l| l.contains("FAIL")).map(str::to_owned).collect();
        assert_eq!(failing.len(), 1, "{failing:?}");
        assert!(failing[0].starts_with("webhook_signing"), "{failing:?}");

        // Asked by the admin, refused to the admin, granted by Bea.
        let asked = json(&[
            "integration",
            "except",
            &app_id,
            "--rule",
            "webhook_signing",
            "--reason",
            "signing ships in Q3",
            "--expires-in",
            "30d",
        ]);
        assert_eq!(asked["state"], "pending");
        let exception = asked["id"].as_str().unwrap().to_owned();
        let own = cli(&["integration", "grant-exception", &app_id, &exception]);
        assert_eq!(own.status.code(), Some(1));
        assert!(stderr(&own).contains("requested it"), "{}", stderr(&own));
        let too_long = cli(&[
            "integration",
            "except",
            &app_id,
            "--rule",
            "webhook_signing",
            "--reason",
            "x",
            "--expires-in",
            "91d",
        ]);
        assert_eq!(too_long.status.code(), Some(1));
        assert!(stderr(&too_long).contains("90 days"), "{}", stderr(&too_long));

        let bea = json(&["identity", "create", "--kind", "human", "--name", "Bea", "--email", "bea@example.com"]);
        let bea = bea["id"].as_str().unwrap().to_owned();
        let bea_token =
            json(&["token", "create", "--identity", &bea, "--ttl", "1h"])["token"].as_str().unwrap().to_owned();
        json(&["grant", "add", "--identity", &bea, "--role", "admin", "--scope", "*"]);
        enable_mfa(&server, &bea_token).await;
        let granted = as_bearer(&bea_token, &["integration", "grant-exception", &app_id, &exception]);
        assert_eq!(granted.status.code(), Some(0), "{}", stderr(&granted));
        assert!(stdout(&granted).contains("approved"), "{}", stdout(&granted));

        let checked = cli(&["integration", "check", &app_id]);
        assert_eq!(checked.status.code(), Some(0), "{}{}", stdout(&checked), stderr(&checked));
        assert!(stdout(&checked).contains(&format!("waived ({exception})")), "{}", stdout(&checked));
        let exceptions = json(&["integration", "exceptions", &app_id]);
        assert_eq!(exceptions["items"][0]["approved_by"], bea.as_str());
        let table = stdout(&cli(&["integration", "exceptions", &app_id]));
        assert!(table.starts_with("ID ") && table.contains("webhook_signing") && table.contains("approved"), "{table}");
    })
});
