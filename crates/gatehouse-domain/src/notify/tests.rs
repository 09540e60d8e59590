use super::*;

fn created() -> Notification {
    Notification {
        event: NotificationEvent::RequestCreated,
        request_id: "r1".into(),
        rule_id: "production-deploys".into(),
        summary: "ana asks <@U123> & friends".into(),
        url: Some("https://gatehouse.example/ui/requests/r1".into()),
        state: "pending".into(),
        at: "2026-12-03T12:00:00Z".into(),
    }
}

/// GitHub's documented example, signed the way GitHub signs: what a
/// receiver that already checks GitHub webhooks accepts from us.
#[test]
fn signatures_follow_githubs_scheme() {
    assert_eq!(
        sign_body(b"It's a Secret to Everybody", b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    assert_ne!(sign_body(b"other", b"Hello, World!"), sign_body(b"It's a Secret to Everybody", b"Hello, World!"));
}

#[test]
fn a_webhook_body_carries_the_event_and_the_request() {
    let body: serde_json::Value = serde_json::from_slice(&render(&created(), TargetKind::Webhook)).unwrap();
    assert_eq!(body["event"], "request.created");
    assert_eq!(body["request_id"], "r1");
    assert_eq!(body["rule"], "production-deploys");
    assert_eq!(body["state"], "pending");
    assert_eq!(body["url"], "https://gatehouse.example/ui/requests/r1");
}

#[test]
fn a_slack_body_is_one_escaped_line_of_text() {
    let body: serde_json::Value = serde_json::from_slice(&render(&created(), TargetKind::Slack)).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("ana asks &lt;@U123&gt; &amp; friends"), "{text}");
    assert!(!text.contains("<@U123>"), "a mention got through: {text}");
    assert!(text.ends_with("<https://gatehouse.example/ui/requests/r1|open>"), "{text}");
    assert_eq!(body.as_object().unwrap().len(), 1);
}

#[test]
fn deliveries_back_off_and_give_up() {
    let delays: Vec<Option<i64>> = (0..=MAX_ATTEMPTS).map(|n| retry_delay(n).map(|d| d.whole_seconds())).collect();
    assert_eq!(
        delays,
        vec![
            None,
            Some(30),
            Some(60),
            Some(120),
            Some(240),
            Some(480),
            Some(960),
            Some(1920),
            Some(3600),
            Some(3600),
            None
        ]
    );
    assert_eq!(TargetKind::parse("slack"), Some(TargetKind::Slack));
    assert_eq!(TargetKind::parse("email"), None);
}
