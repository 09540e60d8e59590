use gatehouse_domain::vendor::PermissionLevel;

use super::*;
use crate::{Policies, PolicySetSource};

#[track_caller]
fn check_refused(text: &str, line: usize, needle: &str) {
    let problems = load_vendor_access(text).expect_err("loaded");
    assert!(
        problems.iter().any(|p| p.file == VENDOR_ACCESS_FILE && p.line == line && p.message.contains(needle)),
        "wanted line {line} with `{needle}`, got {problems:?}"
    );
}

#[test]
fn the_default_example_is_the_default_standard() {
    assert_eq!(load_vendor_access(DEFAULT_VENDOR_ACCESS), Ok(AccessStandard::default()));
}

#[test]
fn the_module_docs_show_the_default_example() {
    let docs = include_str!("../vendor_access.rs");
    let example: String = docs
        .lines()
        .skip_while(|line| *line != "//! ```toml")
        .skip(1)
        .take_while(|line| *line != "//! ```")
        .map(|line| line.trim_start_matches("//!").trim_start_matches(' '))
        .map(|line| line.split(" #").next().unwrap_or_default().trim_end().to_owned() + "\n")
        .collect();
    assert_eq!(load_vendor_access(&example), Ok(AccessStandard::default()));
}

#[test]
fn an_empty_file_is_the_default_standard() {
    assert_eq!(load_vendor_access(""), Ok(AccessStandard::default()));
}

#[test]
fn given_keys_replace_the_defaults() {
    let standard = load_vendor_access(
        r#"
allowed_methods = []
forbidden_methods = ["classic_pat", "deploy_key", "classic_pat"]
max_token_ttl = "15m"
max_refresh_ttl = "8h"
forbidden_permissions = ["contents:admin"]
repositories = "any"
webhook_signing = "optional"
max_secret_age = "30d"
ip_allowlist = "optional"

[tier.low]
evidence = []
on_lapse = "deny_gate"
"#,
    )
    .expect("loaded");
    assert!(standard.allowed_methods.is_empty());
    assert_eq!(standard.forbidden_methods, [AccessMethod::ClassicPat, AccessMethod::DeployKey]);
    assert_eq!(standard.max_token_lifetime, Duration::minutes(15));
    assert_eq!(standard.max_refresh_token_lifetime, Duration::hours(8));
    assert_eq!(standard.forbidden_permissions, [Permission { name: "contents".into(), level: PermissionLevel::Admin }]);
    assert!(!standard.repository_selection_selected_only);
    assert!(!standard.webhook_signing_required);
    assert_eq!(standard.max_secret_age, Duration::days(30));
    assert!(!standard.ip_allowlist_for_static);
    assert!(standard.tier_evidence["low"].is_empty());
    assert_eq!(standard.on_lapse["low"], OnLapse::DenyGate);
    // Tiers it does not name keep the defaults.
    assert_eq!(standard.on_lapse["critical"], OnLapse::Suspend);
}

#[test]
fn each_bad_field_is_refused_with_its_line() {
    let cases: [(&str, usize, &str); 16] = [
        ("\nallowed_methods = [\"github_app\",\n  \"ftp\"]", 3, "allowed_methods: unknown access method `ftp`"),
        ("forbidden_methods = [\"pat\"]", 1, "forbidden_methods: unknown access method `pat`"),
        ("allowed_methods = [\"classic_pat\"]", 1, "`classic_pat` is both allowed and forbidden"),
        ("\n\nmax_token_ttl = \"1 hour\"", 3, "max_token_ttl: `1 hour` is not a duration"),
        ("max_token_ttl = \"0s\"", 1, "max_token_ttl must be longer than `0s`"),
        ("\nmax_refresh_ttl = \"forever\"", 2, "max_refresh_ttl: `forever` is not a duration"),
        ("max_secret_age = \"-1d\"", 1, "max_secret_age: `-1d` is not a duration"),
        ("forbidden_permissions = [\n\"administration\"]", 2, "`administration` is not a permission"),
        ("forbidden_permissions = [\"secrets:execute\"]", 1, "`secrets:execute` is not a permission"),
        ("repositories = \"all\"", 1, "repositories must be `selected` or `any`, not `all`"),
        ("webhook_signing = \"yes\"", 1, "webhook_signing must be `required` or `optional`, not `yes`"),
        ("ip_allowlist = \"always\"", 1, "ip_allowlist must be `required_for_static` or `optional`"),
        ("\n[tier.platinum]\non_lapse = \"flag\"", 2, "unknown tier `platinum`"),
        ("[tier.high]\nevidence = [\"soc3\"]", 2, "tier `high`: unknown evidence kind `soc3`"),
        ("[tier.high]\n\non_lapse = \"pause\"", 3, "tier `high`: `pause` is not a known lapse action"),
        ("max_token_ttl = 3600", 1, "invalid type"),
    ];
    for (text, line, needle) in cases {
        check_refused(text, line, needle);
    }
}

#[test]
fn unknown_keys_are_refused() {
    check_refused("\nmax_token_lifetime = \"1h\"", 2, "unknown field `max_token_lifetime`");
    check_refused("[tier.high]\nevidence = []\nsuspend = true", 3, "unknown field `suspend`");
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let problems = load_vendor_access("max_token_ttl = \"x\"\nrepositories = \"all\"\n").expect_err("loaded");
    assert_eq!(problems.iter().map(|p| p.line).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn an_oversized_file_is_refused_before_parsing() {
    let text = "# padding\n".repeat(MAX_FILE_BYTES / 10 + 1);
    check_refused(&text, 0, "larger than");
}

#[test]
fn the_policy_folder_loads_the_standard_and_refuses_a_bad_one() {
    let mut source = PolicySetSource::defaults();
    assert_eq!(Policies::from_source(&source).expect("valid").vendor_access(), None);

    source.files.insert(VENDOR_ACCESS_FILE.into(), "max_token_ttl = \"10m\"\n".into());
    let policies = Policies::from_source(&source).expect("valid");
    assert_eq!(policies.vendor_access().map(|s| s.max_token_lifetime), Some(Duration::minutes(10)));

    source.files.insert(VENDOR_ACCESS_FILE.into(), "\nmax_token_ttl = \"soon\"\n".into());
    let error = Policies::from_source(&source).expect_err("refused").to_string();
    assert!(error.contains("vendor-access.toml:2:"), "{error}");
}

#[test]
fn read_dir_picks_up_the_file() {
    let dir = tempfile::tempdir().expect("made");
    std::fs::write(dir.path().join(VENDOR_ACCESS_FILE), DEFAULT_VENDOR_ACCESS).expect("written");
    let source = PolicySetSource::read_dir(dir.path()).expect("read");
    assert_eq!(source.files.get(VENDOR_ACCESS_FILE).map(String::as_str), Some(DEFAULT_VENDOR_ACCESS));
}

#[test]
fn notify_names_targets_once_each_and_points_at_its_line() {
    let text = "max_token_ttl = \"1h\"\nnotify = [\"security\", \"chat\", \"security\"]\n";
    let standard = load_vendor_access(text).unwrap();
    assert_eq!(standard.notify, ["security", "chat"]);
    assert_eq!(notify_line(text), 2);
    assert_eq!(notify_line("max_token_ttl = \"1h\"\n"), 0);
    assert_eq!(load_vendor_access("").unwrap().notify, Vec::<String>::new(), "nobody is told by default");
    check_refused("\n\nnotify = [\"sec urity\"]\n", 3, "is not a target name");
    check_refused("notify = \"security\"\n", 1, "invalid type");

    let mut source = PolicySetSource::defaults();
    source.files.insert(VENDOR_ACCESS_FILE.into(), text.into());
    let policies = Policies::from_source(&source).unwrap();
    assert_eq!(policies.vendor_notify(), (&["security".to_owned(), "chat".to_owned()][..], 2));
    assert_eq!(Policies::defaults().vendor_notify(), (&[][..], 0));
}
