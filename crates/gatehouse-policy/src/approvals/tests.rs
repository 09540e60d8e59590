use gatehouse_domain::access::{Exclusion, Gated, Pool, Requirement};
use gatehouse_domain::authorization::Action;
use time::Duration;

use super::*;

const PRODUCTION: &str = r#"
[[rule]]
id = "production-deploys"
action = "deployment.execute"
resources = ["environment:*/*:production"]
require = { all = [ { quorum = 1, of = "role:release-approver" },
                    { quorum = 1, of = "group:security" } ] }
approver_mfa_max_age = "5m"
request_ttl = "4h"
reason = "required"
ticket = '^(CHG|INC)-\d+$'
notify = ["ops"]

[rule.break_glass]
who = "group:oncall"
duration = "1h"
after_review = { within = "24h", quorum = 1, of = "group:security" }

[[rule]]
id = "admin-access"
action = "access"
resources = ["*"]
require = { quorum = 2, of = "group:security" }
max_duration = "8h"
"#;

fn load(text: &str) -> Result<ApprovalRules, Vec<PolicyProblem>> {
    load_approvals(text, &RuleLimits::default())
}

#[track_caller]
fn check_refused(text: &str, line: usize, needle: &str) {
    let problems = load(text).expect_err("loaded");
    assert!(
        problems.iter().any(|p| p.line == line && p.file == APPROVALS_FILE && p.message.contains(needle)),
        "no problem at line {line} containing `{needle}`: {problems:?}"
    );
}

#[test]
fn the_contract_example_loads_with_every_field() {
    let rules = load(PRODUCTION).unwrap();
    assert_eq!(rules.rules().len(), 2);
    let production = &rules.find("production-deploys").unwrap();
    assert_eq!(production.line, 2);
    assert_eq!(production.rule.gated, Gated::Action(Action::DeploymentExecute));
    assert_eq!(
        production.rule.requirement,
        Requirement::all(vec![
            Requirement::quorum(1, Pool::Role("release-approver".into())).unwrap(),
            Requirement::quorum(1, Pool::Group("security".into())).unwrap(),
        ])
        .unwrap()
    );
    assert_eq!(production.rule.exclude, Exclusion::DEFAULT.into_iter().collect());
    assert_eq!(production.rule.request_ttl, Duration::hours(4));
    assert!(production.ticket.as_ref().unwrap().is_match("CHG-42"));
    assert!(!production.ticket.as_ref().unwrap().is_match("chg-42"));
    let glass = production.rule.break_glass.as_ref().unwrap();
    assert_eq!(
        (glass.duration, glass.after_review.within, glass.after_review.need),
        (Duration::hours(1), Duration::hours(24), 1)
    );
    let access = rules.find("admin-access").unwrap();
    assert_eq!(access.rule.max_duration, Some(Duration::hours(8)));
    assert_eq!(access.rule.request_ttl, DEFAULT_REQUEST_TTL);
    assert_eq!(access.rule.approver_mfa_max_age, Duration::minutes(5));
    assert!(access.rule.reason_required);
}

#[test]
fn the_rule_deciding_a_question_is_the_covering_one_with_the_lowest_order() {
    let text = r#"
[[rule]]
id = "all-prod"
order = 2
action = "deployment.execute"
resources = ["environment:**"]
require = { quorum = 1, of = "group:sre" }

[[rule]]
id = "web-prod"
order = 1
action = "deployment.execute"
resources = ["environment:acme/web:production"]
require = { quorum = 2, of = "group:sre" }
"#;
    let rules = load(text).unwrap();
    let deploy = Gated::Action(Action::DeploymentExecute);
    assert_eq!(rules.rule_for(deploy, "environment:acme/web:production").unwrap().rule.id, "web-prod");
    assert_eq!(rules.rule_for(deploy, "environment:acme/api:production").unwrap().rule.id, "all-prod");
    assert!(rules.rule_for(Gated::Action(Action::PipelineTrigger), "environment:acme/web:production").is_none());
    assert!(load("").unwrap().is_empty());
}

#[test]
fn each_bad_rule_is_refused_with_its_line_and_reason() {
    let base = "[[rule]]\nid = \"r\"\naction = \"deployment.execute\"\nresources = [\"**\"]\n";
    check_refused(&format!("{base}require = {{ quorum = 0, of = \"group:a\" }}\n"), 1, "at least 1, not 0");
    check_refused(&format!("{base}require = {{ all = [] }}\n"), 1, "`all` needs at least one");
    check_refused(&format!("{base}require = {{ any = [] }}\n"), 1, "`any` needs at least one");
    check_refused(&format!("{base}require = {{ quorum = 1, of = \"team:a\" }}\n"), 1, "not a pool");
    check_refused(&format!("{base}require = {{ quorum = 1 }}\n"), 1, "expected exactly");
    check_refused(
        &format!("{base}require = {{ quorum = 1, of = \"group:a\" }}\nrequest_ttl = \"400d\"\n"),
        1,
        "request_ttl",
    );
    check_refused(
        &format!("{base}require = {{ quorum = 1, of = \"group:a\" }}\nrequest_ttl = \"soon\"\n"),
        1,
        "not a duration",
    );
    check_refused(
        &format!("{base}require = {{ quorum = 1, of = \"group:a\" }}\nexclude = [\"commit_authors\"]\n"),
        1,
        "must name `requester`",
    );
    check_refused(
        &format!("{base}require = {{ quorum = 1, of = \"group:a\" }}\nexclude = [\"requester\", \"boss\"]\n"),
        1,
        "not an exclusion",
    );
    check_refused(
        &format!("{base}require = {{ quorum = 1, of = \"group:a\" }}\nticket = \"(\"\n"),
        1,
        "not a regular expression",
    );
    check_refused(
        &format!("{base}require = {{ quorum = 1, of = \"group:a\" }}\nmax_duration = \"8h\"\n"),
        1,
        "access requests only",
    );
    check_refused(
        &format!("{base}require = {{ quorum = 1, of = \"group:a\" }}\nreason = \"maybe\"\n"),
        1,
        "`required` or `optional`",
    );
    check_refused(
        &format!(
            "{base}require = {{ quorum = 1, of = \"group:a\" }}\n[rule.break_glass]\nwho = \"group:oncall\"\nduration = \"1h\"\n"
        ),
        1,
        "after_review",
    );
    check_refused(
        "[[rule]]\nid = \"r\"\naction = \"deploy\"\nresources = [\"**\"]\nrequire = { quorum = 1, of = \"group:a\" }\n",
        1,
        "not an action",
    );
    check_refused(
        &format!("{base}require = {{ quorum = 1, of = \"group:a\" }}\ndeny_quorum = 0\n"),
        1,
        "deny_quorum must be 1 to 64",
    );
    // Unknown keys and malformed TOML point at their own line.
    check_refused(
        &format!("{base}require = {{ quorum = 1, of = \"group:a\" }}\nmin_approvals = 0\n"),
        6,
        "min_approvals",
    );
    check_refused("[[rule]]\nid = \"r\"\nresources = [\"**\"\n", 3, "");
}

#[test]
fn overlapping_rules_without_an_order_are_refused_at_the_later_one() {
    let text = r#"
[[rule]]
id = "a"
action = "deployment.execute"
resources = ["environment:*/*:production"]
require = { quorum = 1, of = "group:sre" }

[[rule]]
id = "b"
action = "deployment.execute"
resources = ["environment:acme/**"]
require = { quorum = 1, of = "group:sre" }
"#;
    check_refused(text, 8, "rules `a` and `b` both cover `deployment.execute`");
}

#[test]
fn an_oversized_file_is_refused_before_it_is_parsed() {
    let text = format!("# {}\n", "x".repeat(MAX_FILE_BYTES));
    check_refused(&text, 0, "larger than");
}

fn folder_with(approvals: &str) -> crate::PolicySetSource {
    let mut source = crate::PolicySetSource::defaults();
    source.files.insert(APPROVALS_FILE.into(), approvals.into());
    source
}

#[test]
fn the_policy_folder_carries_its_approval_rules() {
    let policies = crate::Policies::from_source(&folder_with(PRODUCTION)).unwrap();
    assert_eq!(policies.approvals().rules().len(), 2);
    assert_ne!(policies.hash(), crate::Policies::defaults().hash(), "the rules are part of what the hash covers");
    assert!(crate::Policies::defaults().approvals().is_empty());
}

#[test]
fn a_folder_with_a_bad_rule_file_or_an_unknown_role_is_refused_whole() {
    let unknown_role = PRODUCTION.replace("role:release-approver", "role:release-approvers");
    let Err(crate::PolicyError::Invalid(problems)) = crate::Policies::from_source(&folder_with(&unknown_role)) else {
        panic!("loaded");
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!((problems[0].file.as_str(), problems[0].line), (APPROVALS_FILE, 2));
    assert!(problems[0].message.contains("unknown role `release-approvers`"), "{problems:?}");
    let broken = PRODUCTION.replace("quorum = 2", "quorum = 0");
    assert!(crate::Policies::from_source(&folder_with(&broken)).is_err());
}

#[test]
fn reading_a_folder_picks_up_approvals_toml() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in crate::DEFAULT_FILES {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    std::fs::write(dir.path().join(APPROVALS_FILE), PRODUCTION).unwrap();
    std::fs::write(dir.path().join("notes.toml"), "ignored = true").unwrap();
    let source = crate::PolicySetSource::read_dir(dir.path()).unwrap();
    assert!(source.files.contains_key(APPROVALS_FILE));
    assert!(!source.files.contains_key("notes.toml"));
}

#[test]
fn onboarding_falls_back_to_the_built_in_rule_which_find_knows_and_rules_do_not_list() {
    let none = ApprovalRules::default();
    let builtin = none.onboarding_rule();
    assert_eq!(builtin.rule.id, ONBOARDING_RULE_ID);
    assert_eq!(builtin.rule.gated, Gated::Action(Action::VendorManage));
    assert!(builtin.rule.covers(Gated::Action(Action::VendorManage), "gatehouse"));
    let pools: Vec<String> = builtin.rule.requirement.clauses().iter().map(|c| c.pool.to_string()).collect();
    assert_eq!(pools, ["group:procurement", "group:engineering"]);
    assert!(builtin.rule.exclude.contains(&Exclusion::Requester));
    assert_eq!(builtin.rule.request_ttl, Duration::days(14));
    assert!(none.is_empty(), "the built-in rule gates nothing the folder does not");
    assert!(none.rule_for(Gated::Action(Action::VendorManage), "gatehouse").is_none());
    assert_eq!(none.find(ONBOARDING_RULE_ID).map(|loaded| loaded.rule.id.as_str()), Some(ONBOARDING_RULE_ID));
    assert!(load(PRODUCTION).unwrap().find(ONBOARDING_RULE_ID).is_some());
}

#[test]
fn a_rule_of_the_file_covering_vendor_manage_replaces_the_built_in_one() {
    let own = r#"
[[rule]]
id = "tools"
action = "vendor.manage"
resources = ["*"]
require = { quorum = 2, of = "group:security" }
"#;
    let rules = load(own).unwrap();
    assert_eq!(rules.onboarding_rule().rule.id, "tools");
    // Its requests find it; the built-in one is still known by its id for
    // requests opened before the file changed.
    assert_eq!(rules.find("tools").map(|loaded| loaded.line), Some(2));
    assert!(rules.find(ONBOARDING_RULE_ID).is_some());
}

#[test]
fn the_built_in_rule_id_is_taken_only_to_replace_it() {
    let replacing = r#"
[[rule]]
id = "vendor-onboarding"
action = "vendor.manage"
resources = ["*"]
require = { quorum = 1, of = "group:procurement" }
"#;
    let rules = load(replacing).unwrap();
    assert_eq!(rules.onboarding_rule().line, 2, "the file's rule, not the built-in one");
    assert_eq!(rules.find(ONBOARDING_RULE_ID).map(|loaded| loaded.line), Some(2));
    let elsewhere = r#"
[[rule]]
id = "vendor-onboarding"
action = "access"
resources = ["*"]
require = { quorum = 1, of = "group:procurement" }
"#;
    check_refused(elsewhere, 2, "the id of the built-in onboarding rule");
}
