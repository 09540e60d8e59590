use gatehouse_policy::{Policies, PolicySetSource};

use super::*;

fn target(kind: TargetKind) -> NotifyTarget {
    NotifyTarget { url: "https://hooks.example.com/services/T0/B0/secret-path".into(), kind, secret: None }
}

#[test]
fn rules_naming_unconfigured_targets_are_found() {
    let mut source = PolicySetSource::defaults();
    source.files.insert(
        "approvals.toml".into(),
        r#"
[[rule]]
id = "prod"
action = "deployment.execute"
resources = ["environment:*/*:production"]
require = { quorum = 1, of = "role:admin" }
notify = ["ops", "chat"]
"#
        .into(),
    );
    let policies = Policies::from_source(&source).unwrap();
    let mut settings = NotifySettings::default();
    settings.targets.insert("ops".into(), target(TargetKind::Webhook));
    assert_eq!(unknown_targets(policies.approvals(), &settings), vec![("prod".into(), 2, "chat".into())]);
    settings.targets.insert("chat".into(), target(TargetKind::Slack));
    assert_eq!(unknown_targets(policies.approvals(), &settings), vec![]);
    let shown = format!("{settings:?}");
    assert!(!shown.contains("secret-path"), "a target's URL may hold a secret: {shown}");
}

/// A refused URL is named by the outbound client; what is kept of it is the
/// rule alone, since the URL may hold a secret.
#[test]
fn a_refused_target_is_described_without_its_url() {
    let client = OutboundClient::new(&Default::default(), reqwest::Client::builder());
    let Err(error) = client.post("http://127.0.0.1:9/services/T0/B0/secret-path") else { panic!("loopback allowed") };
    assert!(error.contains("secret-path"), "the client's own message names the URL: {error}");
    let kept = deliver::outbound_refusal(&error);
    assert!(kept.starts_with("refused by the outbound rules"), "{kept}");
    assert!(!kept.contains("secret-path") && !kept.contains("127.0.0.1"), "{kept}");
    assert_eq!(deliver::outbound_refusal("`x` is not a URL"), "the target's URL is not usable");
}

#[test]
fn a_vendor_access_file_naming_unconfigured_targets_is_found() {
    let mut source = PolicySetSource::defaults();
    source
        .files
        .insert("vendor-access.toml".into(), "# who hears of lapses\nnotify = [\"security\", \"chat\"]\n".into());
    let policies = Policies::from_source(&source).unwrap();
    let mut settings = NotifySettings::default();
    settings.targets.insert("security".into(), target(TargetKind::Webhook));
    assert_eq!(unknown_vendor_targets(&policies, &settings), vec![(2, "chat".to_owned())]);
    settings.targets.insert("chat".into(), target(TargetKind::Slack));
    assert_eq!(unknown_vendor_targets(&policies, &settings), vec![]);
    assert_eq!(unknown_vendor_targets(&Policies::defaults(), &NotifySettings::default()), vec![]);
}

#[test]
fn a_reviews_file_naming_unconfigured_targets_is_found() {
    let mut source = PolicySetSource::defaults();
    source.files.insert("reviews.toml".into(), "renewal_days = 30\nnotify = [\"security\", \"chat\"]\n".into());
    let policies = Policies::from_source(&source).unwrap();
    let mut settings = NotifySettings::default();
    settings.targets.insert("security".into(), target(TargetKind::Webhook));
    assert_eq!(unknown_review_targets(&policies, &settings), vec![(2, "chat".to_owned())]);
    settings.targets.insert("chat".into(), target(TargetKind::Slack));
    assert_eq!(unknown_review_targets(&policies, &settings), vec![]);
    assert_eq!(unknown_review_targets(&Policies::defaults(), &NotifySettings::default()), vec![]);
}
