//! Issue 27 from the command line: `gatehouse vendor` and `gatehouse
//! evidence` against a running server, with tables for people, CSV and
//! JSON for scripts, and refusals as exit 1 with the server's sentence.

use gatehouse_domain::vendor::ContentDigest;
use gatehouse_testkit::{engine_test, with_database};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::support::{Server, gatehouse, run, stderr, stdout};

fn day(offset_days: i64) -> String {
    let date = (OffsetDateTime::now_utc() + Duration::days(offset_days)).date();
    gatehouse_domain::vendor::format_date(date)
}

engine_test!(vendor_and_evidence_commands_walk_through, |engine| {
    with_database(engine, |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let cli = |args: &[&str]| {
            let mut command = gatehouse(&data_dir, &db.url);
            command.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", &admin).args(args);
            run(&mut command)
        };
        let ok = |args: &[&str]| -> String {
            let output = cli(args);
            assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
            stdout(&output)
        };
        let json = |args: &[&str]| -> Value {
            let mut all = args.to_vec();
            all.extend(["--output", "json"]);
            serde_json::from_str(&ok(&all)).unwrap()
        };

        let (start, renewal, end) = (day(-30), day(300), day(700));
        let contract = ["--contract-start", &start, "--contract-renewal", &renewal, "--contract-end", &end];
        let mut add = vec!["vendor", "add", "Acme Scan", "--tier", "high", "--data-access", "source"];
        add.extend(contract);
        add.extend(["--logs", "API calls with caller", "--log-retention-days", "365", "--logs-tamper-evident"]);
        let acme = json(&add);
        assert_eq!(acme["status"], "prospect");
        assert_eq!(acme["logging"]["tamper_evident"], true);
        let acme_id = acme["id"].as_str().unwrap().to_owned();
        let listing = ok(&["vendor", "list"]);
        assert!(listing.starts_with("ID "), "{listing}");
        assert!(listing.contains("Acme Scan") && listing.contains("soc2:missing"), "{listing}");

        let report_file = db.dir.path().join("soc2-report.pdf");
        let report_bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&report_file, &report_bytes).unwrap();
        let (period_start, period_end) = (day(-425), day(-60));
        let soc2 = json(&[
            "evidence",
            "add",
            &acme_id,
            "--kind",
            "soc2",
            "--file",
            report_file.to_str().unwrap(),
            "--meta",
            "type=II",
            "--meta",
            "opinion=unqualified",
            "--meta",
            &format!("period_start={period_start}"),
            "--meta",
            &format!("period_end={period_end}"),
            "--meta",
            "trust_services=security,availability",
        ]);
        assert_eq!(soc2["state"], "valid", "{soc2}");
        assert_eq!(soc2["digest"], ContentDigest::of(&report_bytes).to_string());
        assert_eq!(soc2["filename"], "soc2-report.pdf");
        assert_eq!(soc2["metadata"]["trust_services"], serde_json::json!(["security", "availability"]));
        let dpa_file = db.dir.path().join("dpa.pdf");
        std::fs::write(&dpa_file, b"signed").unwrap();
        let signed = format!("signed_on={}", day(-10));
        let dpa = json(&[
            "evidence",
            "add",
            &acme_id,
            "--kind",
            "dpa",
            "--file",
            dpa_file.to_str().unwrap(),
            "--meta",
            &signed,
        ]);
        assert_eq!(dpa["state"], "valid");
        let items = ok(&["evidence", "list", &acme_id]);
        assert!(items.starts_with("ID "), "{items}");
        assert!(items.contains("soc2") && items.contains("dpa") && !items.contains("expired"), "{items}");

        // A bad upload is refused with the server's sentence.
        let refused =
            cli(&["evidence", "add", &acme_id, "--kind", "spreadsheet", "--file", dpa_file.to_str().unwrap()]);
        assert_eq!(refused.status.code(), Some(1));
        assert!(stderr(&refused).contains("`spreadsheet` is not a known evidence kind"), "{}", stderr(&refused));
        let usage = cli(&[
            "evidence",
            "add",
            &acme_id,
            "--kind",
            "pentest",
            "--file",
            dpa_file.to_str().unwrap(),
            "--meta",
            "open_critical=many",
        ]);
        assert_eq!(usage.status.code(), Some(2), "{}", stderr(&usage));

        let approved = json(&["vendor", "approve", &acme_id]);
        assert_eq!(approved["status"], "approved");
        assert_eq!(approved["compliant"], true, "{approved}");
        let shown = json(&["vendor", "show", &acme_id]);
        assert_eq!(shown["evidence"][0]["evidence_id"], soc2["id"]);
        assert_eq!(json(&["vendor", "approve", &acme_id, "--with-conditions"])["status"], "approved_with_conditions");

        let mut bare = vec!["vendor", "add", "Bare, \"Tool\"", "--tier", "low", "--data-access", "none"];
        bare.extend(contract);
        let bare_id = json(&bare)["id"].as_str().unwrap().to_owned();
        let suspend = cli(&["vendor", "suspend", &bare_id]);
        assert_eq!(suspend.status.code(), Some(1));
        assert!(stderr(&suspend).contains("cannot go from `prospect` to `suspended`"), "{}", stderr(&suspend));

        let csv = ok(&["vendor", "report", "--format", "csv"]);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3, "a header and one row per vendor: {csv}");
        assert_eq!(lines[0], "id,name,tier,status,compliant,evidence,next_expiry,at_risk,reasons");
        let acme_line = lines.iter().find(|line| line.contains("Acme Scan")).unwrap();
        assert!(acme_line.starts_with(&format!("{acme_id},Acme Scan,high,approved_with_conditions,yes,soc2:valid:")));
        let bare_line = lines.iter().find(|line| line.contains("Bare")).unwrap();
        assert!(bare_line.contains("\"Bare, \"\"Tool\"\"\",low,prospect,no,questionnaire:missing,,"), "{bare_line}");
        let report: Value = serde_json::from_str(&ok(&["vendor", "report", "--format", "json"])).unwrap();
        assert_eq!(report["vendors"].as_array().unwrap().len(), 2);
        assert!(
            report["vendors"].as_array().unwrap().iter().any(|v| v["name"] == "Acme Scan" && v["compliant"] == true)
        );
        let table = ok(&["vendor", "report"]);
        assert!(table.starts_with("ID ") && table.contains("NEXT EXPIRY"), "{table}");
        assert!(table.contains("questionnaire:missing"), "{table}");

        let offboarded = json(&["vendor", "offboard", &bare_id, "--reason", "never used"]);
        assert_eq!(offboarded["status"], "offboarded");
        let again = cli(&["vendor", "approve", &bare_id]);
        assert_eq!(again.status.code(), Some(1));
        assert!(stderr(&again).contains("final (409)"), "{}", stderr(&again));
    })
});
