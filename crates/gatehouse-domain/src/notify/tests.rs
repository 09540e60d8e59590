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

#[track_caller]
fn check_event(action: &str, outcome: Outcome, details: Value, expected: Option<NotificationEvent>) {
    assert_eq!(event_for(action, outcome, &details), expected, "{action} {outcome:?} {details}");
}

/// Which audit entry tells the rule's targets what: the table the feeder
/// follows.
#[test]
fn audit_actions_become_the_events_people_hear_of() {
    use NotificationEvent::*;
    let ok = Outcome::Success;
    check_event("request.create", ok, json!({}), Some(RequestCreated));
    check_event("request.vote", ok, json!({"decision": "approve"}), Some(Vote));
    check_event("request.vote", ok, json!({"withdrawn": true}), None);
    check_event("request.decide", ok, json!({"state": "approved"}), Some(Decided));
    check_event("request.decide", ok, json!({"state": "denied"}), Some(Decided));
    check_event("request.expire", ok, json!({}), Some(Expired));
    check_event("request.cancel", ok, json!({}), Some(Cancelled));
    check_event("breakglass.activate", ok, json!({}), Some(BreakGlass));
    check_event("breakglass.overdue", ok, json!({}), Some(AfterReviewOverdue));
    // The scheduler's word on vendors, a failure or not.
    let failed = Outcome::Failure;
    check_event("evidence.due_soon", ok, json!({}), Some(EvidenceDueSoon));
    check_event("evidence.expire", failed, json!({}), Some(EvidenceExpired));
    check_event("integration.lapse", failed, json!({}), Some(IntegrationLapsed));
    check_event("integration.suspend", ok, json!({}), Some(IntegrationSuspended));
    check_event("integration.restore", ok, json!({}), Some(IntegrationRestored));
    check_event("exception.expire", ok, json!({}), Some(ExceptionExpired));
    for event in [EvidenceDueSoon, EvidenceExpired, IntegrationLapsed, ExceptionExpired] {
        assert!(event.is_about_vendor());
    }
    assert!(!Decided.is_about_vendor());
    for quiet in ["request.supersede", "request.consume", "request.revoke", "breakglass.review", "notify.send"] {
        check_event(quiet, ok, json!({}), None);
    }
    check_event("token.create", ok, json!({}), None);
    // Reviews: an opening, a reminder, a close that applied defaults, every alert.
    check_event("review.open", ok, json!({"items": 3}), Some(ReviewOpened));
    check_event("review.open", Outcome::Failure, json!({}), None);
    check_event("review.remind", ok, json!({}), Some(ReviewReminder));
    check_event("review.close", ok, json!({"counts": {"defaulted": 2}}), Some(ReviewDefaulted));
    check_event("review.close", ok, json!({"counts": {"defaulted": 0}}), None);
    check_event("review.close", ok, json!({}), None);
    check_event("review.alert", failed, json!({"problem": "x"}), Some(ReviewAlert));
    for quiet in ["review.skip", "review.decide", "review.default"] {
        check_event(quiet, ok, json!({"counts": {"defaulted": 1}}), None);
    }
    for event in [ReviewOpened, ReviewReminder, ReviewDefaulted, ReviewAlert] {
        assert!(event.is_about_review() && !event.is_about_vendor());
    }
    assert!(!Decided.is_about_review() && !EvidenceExpired.is_about_review());
    check_event("request.vote", Outcome::Denied, json!({}), None);
    check_event("request.create", Outcome::Failure, json!({}), None);
    // Every event has one name, read back as itself.
    for event in NotificationEvent::ALL {
        assert_eq!(NotificationEvent::parse(event.as_str()), Some(event));
    }
    // The fed actions are exactly those some entry turns into an event.
    for action in crate::audit::AuditAction::ALL {
        let fed = FED_ACTIONS.contains(action);
        let details = json!({"counts": {"defaulted": 1}});
        assert_eq!(event_for(action.as_str(), ok, &details).is_some(), fed, "{}", action.as_str());
    }
}

#[test]
fn the_request_is_found_in_the_details_or_the_resource() {
    assert_eq!(request_of("request:r1", &json!({})), Some("r1".into()));
    assert_eq!(request_of("project:acme/web", &json!({"request_id": "r2"})), Some("r2".into()));
    assert_eq!(request_of("project:acme/web", &json!({})), None);
    assert_eq!(request_of("request:", &json!({})), None);
}

fn access_request() -> ApprovalRequest {
    use time::macros::datetime;
    ApprovalRequest {
        id: crate::ids::ApprovalRequestId::new(),
        kind: RequestKind::Access {
            role: "deployer".parse().unwrap(),
            scope: crate::grant::Scope::parse("project:acme/web").unwrap(),
            duration: Duration::hours(2),
        },
        state: RequestState::Pending,
        rule_id: "prod".into(),
        policy_hash: "h".into(),
        requester: crate::ids::IdentityId::new(),
        reason: Some("hotfix <!channel>".into()),
        ticket: Some("INC-7".into()),
        digest: "d".into(),
        break_glass: false,
        incident: None,
        grant_id: None,
        assignment: Vec::new(),
        revision: 0,
        created_at: datetime!(2026-06-01 09:00 UTC),
        expires_at: datetime!(2026-06-01 13:00 UTC),
        decided_at: None,
        updated_at: datetime!(2026-06-01 09:00 UTC),
        votes: Vec::new(),
        after_review: None,
    }
}

#[test]
fn summaries_say_who_asked_for_what_and_what_happened() {
    use NotificationEvent::*;
    let request = access_request();
    let line = |event, details: Value| summary(event, &request, "ana@example.com", Some("bob@example.com"), &details);
    assert_eq!(
        line(RequestCreated, json!({})),
        "ana@example.com asks for deployer on project:acme/web for 2h: hotfix <!channel> (INC-7)"
    );
    assert_eq!(
        line(Vote, json!({"decision": "deny"})),
        "bob@example.com denied the request of ana@example.com for deployer on project:acme/web for 2h"
    );
    assert_eq!(
        line(Decided, json!({"state": "approved"})),
        "ana@example.com: your request for deployer on project:acme/web for 2h was approved"
    );
    assert_eq!(state_after(Decided, &json!({"state": "denied"}), RequestState::Expired), "denied");
    assert_eq!(state_after(Vote, &json!({}), RequestState::Approved), "pending");
    assert_eq!(state_after(Cancelled, &json!({}), RequestState::Cancelled), "cancelled");
    assert_eq!(state_after(BreakGlass, &json!({}), RequestState::Active), "active");
    let mut glass = access_request();
    glass.break_glass = true;
    assert!(told_otherwise(RequestCreated, &glass));
    assert!(!told_otherwise(BreakGlass, &glass));
    assert!(!told_otherwise(RequestCreated, &request));
}

#[test]
fn a_protection_rule_hears_approved_only_of_an_approval() {
    let callback = ProtectionCallback {
        installation_id: 1,
        callback_url: "https://api.github.com/x".into(),
        environment: "production".into(),
    };
    for (state, verdict) in [
        (RequestState::Approved, "approved"),
        (RequestState::Consumed, "approved"),
        (RequestState::Denied, "rejected"),
        (RequestState::Expired, "rejected"),
        (RequestState::Cancelled, "rejected"),
        (RequestState::Superseded, "rejected"),
    ] {
        let body: Value =
            serde_json::from_slice(&protection_answer(&callback, state, "r1", "role:release-approver 1/1")).unwrap();
        assert_eq!(body["state"], verdict, "{state}");
        assert_eq!(body["environment_name"], "production");
        assert_eq!(body.as_object().unwrap().len(), 3);
        assert!(body["comment"].as_str().unwrap().ends_with("(role:release-approver 1/1)"), "{body}");
    }
    assert_eq!(DeliveryKind::parse("github_protection"), Some(DeliveryKind::GithubProtection));
    assert_eq!(DeliveryKind::parse("slack"), Some(DeliveryKind::Target(TargetKind::Slack)));
    assert_eq!(DeliveryKind::parse("email"), None);
}

#[test]
fn a_vendor_notification_says_the_entry_s_sentence() {
    let notification = VendorNotification {
        event: NotificationEvent::EvidenceExpired,
        subject: "vendor:v1".into(),
        summary: "SOC 2 report for Acme <Scan> expired 2026-10-31".into(),
        details: json!({"vendor_id": "v1", "kind": "soc2", "since": "2026-10-31"}),
        at: "2026-11-01T00:00:00Z".into(),
    };
    let webhook: Value = serde_json::from_slice(&render_vendor(&notification, TargetKind::Webhook)).unwrap();
    assert_eq!(webhook["event"], "evidence.expired");
    assert_eq!(webhook["subject"], "vendor:v1");
    assert_eq!(webhook["summary"], "SOC 2 report for Acme <Scan> expired 2026-10-31");
    assert_eq!(webhook["details"]["kind"], "soc2");
    let slack: Value = serde_json::from_slice(&render_vendor(&notification, TargetKind::Slack)).unwrap();
    assert_eq!(slack["text"], "[gatehouse] evidence.expired: SOC 2 report for Acme &lt;Scan&gt; expired 2026-10-31");
}

#[test]
fn a_review_opening_names_the_campaign_its_items_deadline_and_reviewers() {
    let reviewers = vec!["ana@example.com".to_owned(), "<@U1> bob".to_owned()];
    let details = json!({"campaign_id": "c1", "items": 12, "deadline": "2026-12-17T09:00:00Z"});
    let line = review_summary(
        NotificationEvent::ReviewOpened,
        "Quarterly",
        &reviewers,
        Some("2026-12-17T09:00:00Z"),
        &details,
    );
    assert_eq!(
        line,
        "access review \"Quarterly\" opened: 12 items to decide by 2026-12-17T09:00:00Z; reviewers: ana@example.com, <@U1> bob"
    );
    let notification = ReviewNotification {
        event: NotificationEvent::ReviewOpened,
        campaign_id: "c1".into(),
        name: "Quarterly".into(),
        reviewers: reviewers.clone(),
        summary: line,
        details,
        at: "2026-12-03T09:00:00Z".into(),
    };
    let webhook: Value = serde_json::from_slice(&render_review(&notification, TargetKind::Webhook)).unwrap();
    assert_eq!(webhook["event"], "review.opened");
    assert_eq!(webhook["subject"], "review:c1");
    assert_eq!(webhook["reviewers"], json!(reviewers));
    assert_eq!(webhook["details"]["items"], 12);
    let slack: Value = serde_json::from_slice(&render_review(&notification, TargetKind::Slack)).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(text.starts_with("[gatehouse] review.opened: access review"), "{text}");
    assert!(text.contains("&lt;@U1&gt; bob") && !text.contains("<@U1>"), "a mention got through: {text}");
}

#[test]
fn review_reminders_defaults_and_alerts_say_what_is_waiting_or_was_applied() {
    use NotificationEvent::*;
    let one = vec!["ana@example.com".to_owned()];
    assert_eq!(
        review_summary(ReviewReminder, "Q", &one, Some("2026-12-17T09:00:00Z"), &json!({"undecided": 1})),
        "reminder: access review \"Q\" has 1 undecided item by 2026-12-17T09:00:00Z; waiting on: ana@example.com"
    );
    let counts = json!({"counts": {"items": 4, "kept": 1, "revoked": 3, "narrowed": 0, "suspended": 0,
        "defaulted": 2, "escalated": 1, "failed": 1}});
    assert_eq!(
        review_summary(ReviewDefaulted, "Q", &[], None, &counts),
        "access review \"Q\" closed: 2 of 4 items got the default at the deadline (totals: kept 1, revoked 3, \
         narrowed 0, suspended 0); 1 escalated instead of removing the last policy manager; 1 could not be applied"
    );
    assert_eq!(
        review_summary(ReviewAlert, "Q", &[], None, &json!({"item": 3, "problem": "the grant is gone"})),
        "access review \"Q\", item 3: the grant is gone"
    );
    assert_eq!(
        review_summary(ReviewAlert, "Q", &[], None, &json!({"problem": "2 items have nobody to review them"})),
        "access review \"Q\": 2 items have nobody to review them"
    );
    let many: Vec<String> = (0..25).map(|n| format!("r{n}")).collect();
    let line = review_summary(ReviewOpened, "Q", &many, None, &json!({"items": 1}));
    assert!(line.ends_with("r19 and 5 more"), "{line}");
    assert!(!line.contains("r20"), "{line}");
    assert!(review_summary(ReviewOpened, "Q", &[], None, &json!({})).ends_with("reviewers: nobody"));
}
