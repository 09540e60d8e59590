use gatehouse_domain::identity::IdentityKind;
use gatehouse_domain::ids::IdentityId;
use gatehouse_domain::review::{Candidate, DEFINITION_FIELDS, ItemKind, NoResponse, Recurrence, SCOPE_FIELDS};
use time::Duration;

use super::*;
use crate::{Policies, PolicySetSource};

const ROLES: &[&str] = &["admin", "deployer", "auditor"];

fn known_role(name: &str) -> bool {
    ROLES.contains(&name)
}

fn load(text: &str) -> Result<ReviewSettings, Vec<PolicyProblem>> {
    load_reviews(text, known_role)
}

#[track_caller]
fn check_refused(text: &str, line: usize, needle: &str) {
    let problems = load(text).expect_err("loaded");
    assert!(
        problems.iter().any(|p| p.file == REVIEWS_FILE && p.line == line && p.message.contains(needle)),
        "wanted line {line} with `{needle}`, got {problems:?}"
    );
}

/// The module's example, without its comments.
fn module_example() -> String {
    include_str!("../reviews.rs")
        .lines()
        .skip_while(|line| *line != "//! ```toml")
        .skip(1)
        .take_while(|line| *line != "//! ```")
        .map(|line| line.trim_start_matches("//!").trim_start_matches(' '))
        .map(|line| line.split('#').next().unwrap_or_default().trim_end().to_owned() + "\n")
        .collect()
}

const MINIMAL: &str =
    "[[campaign]]\nname = \"c\"\nreviewers = [\"owner\"]\nfallback = \"role:admin\"\nduration = \"7d\"\n";

#[test]
fn without_a_file_or_with_an_empty_one_the_defaults_hold() {
    let defaults = ReviewSettings::default();
    assert!(defaults.campaigns.is_empty());
    assert_eq!(defaults.on_unreviewed_change, OnUnreviewedChange::Flag);
    assert_eq!(defaults.pipeline_change_reviewers, [Reviewer::Owner]);
    assert_eq!(defaults.pipeline_change_fallback, Pool::Role("admin".into()));
    assert_eq!(defaults.renewal_days, 30);
    assert_eq!(defaults.renewal_lead(), Duration::days(30));
    assert_eq!(defaults.renewal_grace_days, 7);
    assert_eq!(defaults.renewal_grace(), Duration::days(7));
    assert_eq!(load(""), Ok(ReviewSettings::default()));
    assert_eq!(load("# nothing yet\n"), Ok(ReviewSettings::default()));
}

#[test]
fn the_module_example_loads_with_every_key() {
    let example = module_example();
    let settings = load(&example).expect("loaded");
    assert_eq!(settings.on_unreviewed_change, OnUnreviewedChange::HoldDeploys);
    assert_eq!(settings.pipeline_change_reviewers, [Reviewer::Owner]);
    assert_eq!(settings.pipeline_change_fallback, Pool::Role("admin".into()));
    assert_eq!(settings.renewal_days, 30);
    assert_eq!(settings.renewal_grace_days, 14);
    assert_eq!(settings.notify, ["security"]);
    assert_eq!(settings.notify_line, 6);
    let [campaign] = settings.campaigns.as_slice() else { panic!("one campaign: {settings:?}") };
    assert_eq!(campaign.line, 8);
    let definition = &campaign.definition;
    assert_eq!(definition.name, "Quarterly production access");
    assert_eq!(definition.reviewers, [Reviewer::Owner, Reviewer::Manager]);
    assert_eq!(definition.fallback, Pool::Role("admin".into()));
    assert_eq!(definition.duration, Duration::days(14));
    assert_eq!(definition.recurrence, Some(Recurrence::Months(3)));
    assert_eq!(definition.on_no_response, Some(NoResponse::Revoke));
    assert_eq!(definition.second_stage, [Reviewer::Pool(Pool::Group("security".into()))]);
    assert_eq!(definition.unused_after, Duration::days(90));
    let selector = &definition.selector;
    assert_eq!(selector.kinds.iter().copied().collect::<Vec<_>>(), [ItemKind::Grant, ItemKind::Token]);
    assert_eq!(selector.role.as_deref(), Some("deployer"));
    assert_eq!(selector.scope.as_deref(), Some("environment:**:production"));
    assert_eq!(selector.identity_kind, Some(IdentityKind::Human));
    // Its scope glob selects a production deployer, across the project's `/`.
    let candidate = |scope| Candidate {
        kind: ItemKind::Grant,
        identity: IdentityId::new(),
        identity_kind: IdentityKind::Human,
        role: Some("deployer"),
        scope: Some(scope),
        integration: None,
        vendor: None,
    };
    assert!(selector.admits(&candidate("environment:acme/web:production")));
    assert!(!selector.admits(&candidate("environment:acme/web:staging")));
    // The example shows every key of the API's form but the three ids.
    for field in DEFINITION_FIELDS.iter().filter(|f| **f != "scope") {
        assert!(example.contains(&format!("\n{field} = ")), "the example lacks `{field}`");
    }
    for field in SCOPE_FIELDS.iter().filter(|f| !["identity", "integration", "vendor"].contains(*f)) {
        assert!(example.contains(&format!("\n{field} = ")), "the example lacks `scope.{field}`");
    }
}

#[test]
fn a_full_file_loads_every_campaign_in_order() {
    let settings = load(
        r#"
on_unreviewed_change = "flag"
pipeline_change_reviewers = ["role:deployer", "group:platform", "owner", "owner"]
pipeline_change_fallback = "group:security"
renewal_days = 45

[[campaign]]
name = "Tokens monthly"
reviewers = ["group:platform"]
fallback = "identity:018f2d2e-4b1c-7c3a-9d5e-0a1b2c3d4e5f"
duration = "3d"
recurrence = "monthly"
scope = { kinds = ["token", "signing_key"], identity_kind = "service" }

[[campaign]]
name = "Auditors, yearly"
reviewers = ["role:admin"]
fallback = "role:admin"
duration = "30d"
recurrence = "365d"
on_no_response = "keep"
unused_after = "180d"

[campaign.scope]
role = "auditor"
scope = "*"
integration = "018f2d2e-4b1c-7c3a-9d5e-0a1b2c3d4e60"
vendor = "018f2d2e-4b1c-7c3a-9d5e-0a1b2c3d4e61"
"#,
    )
    .expect("loaded");
    assert_eq!(settings.on_unreviewed_change, OnUnreviewedChange::Flag);
    assert_eq!(
        settings.pipeline_change_reviewers,
        [
            Reviewer::Pool(Pool::Role("deployer".into())),
            Reviewer::Pool(Pool::Group("platform".into())),
            Reviewer::Owner
        ]
    );
    assert_eq!(settings.pipeline_change_fallback, Pool::Group("security".into()));
    assert_eq!(settings.renewal_days, 45);
    let names: Vec<(&str, usize)> = settings.campaigns.iter().map(|c| (c.definition.name.as_str(), c.line)).collect();
    assert_eq!(names, [("Tokens monthly", 7), ("Auditors, yearly", 15)]);
    let tokens = &settings.campaigns[0].definition;
    assert_eq!(tokens.selector.kinds.iter().copied().collect::<Vec<_>>(), [ItemKind::Token, ItemKind::SigningKey]);
    assert_eq!(tokens.selector.identity_kind, Some(IdentityKind::Service));
    assert!(matches!(tokens.fallback, Pool::Identity(_)));
    let auditors = &settings.campaigns[1].definition;
    assert_eq!(auditors.recurrence, Some(Recurrence::Days(365)));
    assert_eq!(auditors.on_no_response, Some(NoResponse::Keep));
    assert_eq!(auditors.unused_after, Duration::days(180));
    assert_eq!(auditors.selector.role.as_deref(), Some("auditor"));
    assert!(auditors.selector.integration.is_some() && auditors.selector.vendor.is_some());
    // Found by name, ignoring case and surrounding spaces.
    assert_eq!(settings.campaign(" auditors, YEARLY").map(|c| c.line), Some(15));
    assert!(settings.campaign("nobody").is_none());
}

#[test]
fn each_bad_value_is_refused_with_its_line_and_reason() {
    // (the lines after MINIMAL's five, the line, a part of the reason)
    let cases: &[(&str, usize, &str)] = &[
        ("reviewers = []", 6, "campaign `c`: reviewers must name 1 to 16 reviewers"),
        ("reviewers = [\"owner\", \"the boss\"]", 6, "`the boss` is not a reviewer"),
        ("reviewers = \"owner\"", 6, "`reviewers` of the campaign must be a list of reviewers"),
        ("fallback = \"owner\"", 6, "fallback is required: a `role:NAME`"),
        ("duration = \"2y\"", 6, "`duration` of the campaign must be a duration"),
        ("duration = \"120d\"", 6, "duration must be between 1h and 90d"),
        ("duration = 7", 6, "`duration` of the campaign must be a string"),
        ("recurrence = \"fortnightly\"", 6, "`fortnightly` is not a recurrence"),
        ("recurrence = \"5d\"", 6, "recurrence must not be shorter than the duration"),
        ("on_no_response = \"shrug\"", 6, "`on_no_response` of the campaign must be keep, revoke or suspend"),
        ("second_stage = [\"owner\"]", 6, "second_stage reviewers must be distinct"),
        ("second_stage = [\"nobody:x\"]", 6, "`nobody:x` is not a reviewer"),
        ("unused_after = \"0d\"", 6, "unused_after must be between 1d and 3660d"),
        ("[campaign.scope]\nkinds = []", 7, "scope.kinds must name at least one"),
        ("[campaign.scope]\n\nkinds = [\"grant\", \"change\"]", 8, "`kinds` of scope must be a list of grant"),
        ("[campaign.scope]\nidentity_kind = \"robot\"", 7, "`identity_kind` of scope must be human or service"),
        ("[campaign.scope]\nrole = 3", 7, "`role` of scope must be a string"),
        ("[campaign.scope]\nscope = 3", 7, "`scope` of scope must be a string"),
        ("[campaign.scope]\nidentity = \"ana\"", 7, "ana"),
        ("scope = \"prod\"", 6, "campaign `c`: scope must be a table"),
    ];
    for (extra, line, needle) in cases {
        let text = format!("{MINIMAL}{extra}\n");
        // A key given twice is TOML's own error: replace MINIMAL's instead.
        let key = extra.split(' ').next().unwrap_or_default();
        let text = if MINIMAL.contains(&format!("\n{key} = ")) {
            let kept: String =
                MINIMAL.lines().filter(|l| !l.starts_with(&format!("{key} = "))).map(|l| format!("{l}\n")).collect();
            // Keep the lines: the replaced key goes where the extra lines go.
            format!("{kept}# (moved)\n{extra}\n")
        } else {
            text
        };
        check_refused(&text, *line, needle);
    }
}

#[test]
fn a_missing_key_is_placed_at_the_campaign() {
    check_refused(
        "\n[[campaign]]\nname = \"c\"\nreviewers = [\"owner\"]\nduration = \"7d\"\n",
        2,
        "fallback is required",
    );
    check_refused(
        "[[campaign]]\nname = \"c\"\nreviewers = [\"owner\"]\nfallback = \"role:admin\"\n",
        1,
        "needs `duration`",
    );
    check_refused("# a\n[[campaign]]\nreviewers = [\"owner\"]\n", 2, "campaign 1: the campaign needs `name`");
    check_refused(
        "[[campaign]]\nname = \"  \"\nreviewers = [\"owner\"]\nfallback = \"role:admin\"\nduration = \"1d\"\n",
        2,
        "name must be 1 to 200",
    );
}

#[test]
fn unknown_keys_are_refused_where_they_are_written() {
    check_refused(
        &format!("{MINIMAL}\nreviewer = [\"owner\"]\n"),
        7,
        "campaign `c`: the campaign has an unknown field `reviewer`",
    );
    check_refused(
        &format!("{MINIMAL}[campaign.scope]\nroles = [\"admin\"]\n"),
        7,
        "scope has an unknown field `roles`",
    );
    check_refused(&format!("\nrenewal_day = 30\n{MINIMAL}"), 2, "unknown key `renewal_day` (expected: campaign,");
    check_refused("[campaigns]\nname = \"x\"\n", 1, "unknown key `campaigns`");
    check_refused("campaign = \"x\"\n", 1, "campaign must be an array of tables");
}

#[test]
fn top_level_settings_are_checked() {
    let cases: &[(&str, usize, &str)] = &[
        ("on_unreviewed_change = \"hold\"", 1, "on_unreviewed_change must be `flag` or `hold_deploys`, not `hold`"),
        ("on_unreviewed_change = true", 1, "on_unreviewed_change must be `flag` or `hold_deploys`"),
        ("pipeline_change_reviewers = []", 1, "pipeline_change_reviewers must name 1 to 16 reviewers"),
        ("pipeline_change_reviewers = \"owner\"", 1, "pipeline_change_reviewers must be a list"),
        (
            "pipeline_change_reviewers = [\n\"owner\",\n\"boss\"]",
            3,
            "pipeline_change_reviewers: `boss` is not a reviewer",
        ),
        ("pipeline_change_reviewers = [1]", 1, "pipeline_change_reviewers must be a list of reviewers"),
        ("pipeline_change_fallback = \"owner\"", 1, "pipeline_change_fallback: `owner` is not a pool"),
        ("pipeline_change_fallback = [\"role:admin\"]", 1, "pipeline_change_fallback must be a `role:NAME`"),
        ("renewal_days = 0", 1, "renewal_days must be a whole number from 1 to 365"),
        ("renewal_days = 366", 1, "renewal_days must be a whole number from 1 to 365"),
        ("renewal_days = -5", 1, "renewal_days must be a whole number from 1 to 365"),
        ("renewal_days = \"30\"", 1, "renewal_days must be a whole number from 1 to 365"),
        ("renewal_days = 30.5", 1, "renewal_days must be a whole number from 1 to 365"),
        ("renewal_grace_days = 91", 1, "renewal_grace_days must be a whole number from 0 to 90"),
        ("renewal_grace_days = -1", 1, "renewal_grace_days must be a whole number from 0 to 90"),
        ("\n\nrenewal_grace_days = \"7\"", 3, "renewal_grace_days must be a whole number from 0 to 90"),
        ("renewal_grace_days = 7.5", 1, "renewal_grace_days must be a whole number from 0 to 90"),
        ("renewal_grace_days = true", 1, "renewal_grace_days must be a whole number from 0 to 90"),
    ];
    for (text, line, needle) in cases {
        check_refused(text, *line, needle);
    }
    assert_eq!(load("renewal_days = 365\n").map(|s| s.renewal_days), Ok(365));
    assert_eq!(load("renewal_days = 0x10\n").map(|s| s.renewal_days), Ok(16));
    for days in [0, 14, 90] {
        let settings = load(&format!("renewal_grace_days = {days}\n")).expect("loaded");
        assert_eq!(settings.renewal_grace_days, days);
        assert_eq!(settings.renewal_grace(), Duration::days(i64::from(days)));
        assert_eq!(settings.renewal_days, 30, "the lead keeps its default");
    }
}

#[test]
fn notify_names_targets_once_each_and_refuses_what_is_not_a_name() {
    let settings = load("# who hears of reviews\nnotify = [\"security\", \"chat-1\", \"security\"]\n").expect("loaded");
    assert_eq!(settings.notify, ["security", "chat-1"]);
    assert_eq!(settings.notify_line, 2);
    assert!(ReviewSettings::default().notify.is_empty());
    let cases: &[(&str, usize, &str)] = &[
        ("notify = \"security\"", 1, "notify must be a list of target names"),
        ("notify = [\n\"ok\",\n\"no spaces\"]", 3, "notify: `no spaces` is not a target name"),
        ("notify = [\"\"]", 1, "notify: `` is not a target name"),
        ("notify = [1]", 1, "notify must be a list of target names"),
    ];
    for (text, line, needle) in cases {
        check_refused(text, *line, needle);
    }
    let long = format!("notify = [\"{}\"]", "a".repeat(65));
    check_refused(&long, 1, "is not a target name");
}

#[test]
fn names_are_unique_ignoring_case() {
    let text = format!("{MINIMAL}\n{}", MINIMAL.replace("name = \"c\"", "name = \" C \""));
    check_refused(&text, 8, "campaign `C`: the name is already taken by the campaign at line 1");
}

#[test]
fn roles_must_be_the_folders() {
    let cases: &[(&str, &str, usize, &str)] = &[
        ("reviewers = [\"role:release-manager\"]", "reviewers", 6, "campaign `c`: unknown role `release-manager`"),
        ("fallback = \"role:root\"", "fallback", 6, "campaign `c`: unknown role `root`"),
        ("second_stage = [\"role:ciso\"]", "second_stage", 6, "campaign `c`: unknown role `ciso`"),
        ("[campaign.scope]\nrole = \"superuser\"", "scope", 7, "campaign `c`: unknown role `superuser`"),
    ];
    for (extra, key, line, needle) in cases {
        let kept: String =
            MINIMAL.lines().filter(|l| !l.starts_with(&format!("{key} = "))).map(|l| format!("{l}\n")).collect();
        let filler = if kept.lines().count() < MINIMAL.lines().count() { "# (moved)\n" } else { "" };
        check_refused(&format!("{kept}{filler}{extra}\n"), *line, needle);
    }
    check_refused("\npipeline_change_reviewers = [\"role:sre\"]\n", 2, "pipeline_change_reviewers: unknown role `sre`");
    check_refused("pipeline_change_fallback = \"role:sre\"\n", 1, "pipeline_change_fallback: unknown role `sre`");
    // Groups and identities are the server's to check.
    assert!(load("pipeline_change_fallback = \"group:anyone\"\n").is_ok());
}

#[test]
fn every_problem_is_reported_not_only_the_first() {
    let text = format!("renewal_days = 0\n{MINIMAL}{}", MINIMAL.replace("\"7d\"", "\"1000d\""));
    let problems = load(&text).expect_err("loaded");
    let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, [1, 11], "{problems:?}");
}

#[test]
fn malformed_toml_and_oversized_files_are_refused() {
    check_refused("[[campaign]]\nname = \"c\n", 2, "");
    check_refused("\nrenewal_days = 1\nrenewal_days = 2\n", 3, "duplicate key");
    let text = "# padding\n".repeat(MAX_FILE_BYTES / 10 + 1);
    check_refused(&text, 0, "larger than");
    let many = MINIMAL.repeat(MAX_CAMPAIGNS + 1);
    check_refused(&many, 1, "more than 256 campaigns");
}

#[test]
fn the_policy_folder_loads_the_file_and_refuses_a_bad_one() {
    let mut source = PolicySetSource::defaults();
    assert_eq!(Policies::from_source(&source).expect("valid").reviews(), &ReviewSettings::default());

    source.files.insert(REVIEWS_FILE.into(), format!("on_unreviewed_change = \"hold_deploys\"\n{MINIMAL}"));
    let policies = Policies::from_source(&source).expect("valid");
    assert_eq!(policies.reviews().on_unreviewed_change, OnUnreviewedChange::HoldDeploys);
    assert_eq!(policies.reviews().campaigns.len(), 1);
    let with_file = policies.hash().to_owned();

    // The default folder's roles are what `role:` must name.
    source.files.insert(REVIEWS_FILE.into(), format!("{MINIMAL}\n[campaign.scope]\nrole = \"deployer\"\n"));
    assert!(Policies::from_source(&source).is_ok());
    source.files.insert(REVIEWS_FILE.into(), format!("{MINIMAL}\n[campaign.scope]\nrole = \"deployers\"\n"));
    let error = Policies::from_source(&source).expect_err("refused").to_string();
    assert!(error.contains("reviews.toml:8: campaign `c`: unknown role `deployers`"), "{error}");

    source.files.insert(REVIEWS_FILE.into(), "\nrenewal_days = 400\n".into());
    let error = Policies::from_source(&source).expect_err("refused").to_string();
    assert!(error.contains("reviews.toml:2: renewal_days"), "{error}");

    // The file is part of what the folder's hash covers.
    source.files.insert(REVIEWS_FILE.into(), "renewal_days = 10\n".into());
    let policies = Policies::from_source(&source).expect("valid");
    assert_ne!(policies.hash(), with_file);
    assert_eq!(policies.reviews().renewal_days, 10);
}

#[test]
fn read_dir_picks_up_the_file() {
    let dir = tempfile::tempdir().expect("made");
    std::fs::write(dir.path().join(REVIEWS_FILE), MINIMAL).expect("written");
    let source = PolicySetSource::read_dir(dir.path()).expect("read");
    assert_eq!(source.files.get(REVIEWS_FILE).map(String::as_str), Some(MINIMAL));
}

#[test]
fn hostile_files_are_refused_with_a_reason() {
    // Nesting deep enough to exhaust a recursive reader stops at the parser.
    let deep = format!("[[campaign]]\nname = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    check_refused(&deep, 2, "max recursion depth");
    // Names a reader or a log line would mangle are refused by the domain's rule.
    let long = MINIMAL.replace("name = \"c\"", &format!("name = \"{}\"", "n".repeat(10_000)));
    check_refused(&long, 2, "name must be 1 to 200 characters");
    let control = MINIMAL.replace("name = \"c\"", "name = \"c\\u0007\"");
    check_refused(&control, 2, "without control characters");
    // Numbers beyond what a campaign reads are type errors, not overflows.
    check_refused("renewal_days = 99999999999999999999\n", 1, "");
    let out_of_range = "`duration` holds a date-time or a number out of range";
    check_refused(&MINIMAL.replace("duration = \"7d\"", "duration = 1e400"), 5, out_of_range);
    check_refused(&MINIMAL.replace("duration = \"7d\"", "duration = 99999999999999999999"), 5, out_of_range);
    // A date-time is not text, though it could be written out as text.
    check_refused(&MINIMAL.replace("name = \"c\"", "name = 1979-05-27"), 2, "campaign 1: `name` holds a date-time");
    let dated_scope = format!("{MINIMAL}[campaign.scope]\nrole = [2026-01-01T00:00:00Z]\n");
    check_refused(&dated_scope, 6, "campaign `c`: `scope` holds a date-time");
    // A number where text is wanted is the domain's type error.
    check_refused(
        &MINIMAL.replace("duration = \"7d\"", "duration = 7.5"),
        5,
        "`duration` of the campaign must be a string",
    );
    check_refused(
        &MINIMAL.replace("duration = \"7d\"", "duration = \"99999999999999999999d\""),
        5,
        "must be a duration",
    );
}
