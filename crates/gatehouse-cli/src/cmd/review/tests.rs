use serde_json::json;

use super::*;

#[test]
fn a_decision_body_carries_only_the_flags_its_kind_takes() {
    let keep = decision_body(ReviewDecision::Keep, Some("2027-01-01T00:00:00Z"), None, None, None, Some("on call"));
    assert_eq!(keep.unwrap(), json!({"decision": "keep", "until": "2027-01-01T00:00:00Z", "reason": "on call"}));
    assert_eq!(
        decision_body(ReviewDecision::Revoke, None, None, None, None, None).unwrap(),
        json!({"decision": "revoke"})
    );
    let narrow = decision_body(ReviewDecision::Narrow, None, Some("viewer"), None, None, None).unwrap();
    assert_eq!(narrow, json!({"decision": "narrow", "role": "viewer"}));
    let delegate = decision_body(ReviewDecision::Delegate, None, None, None, Some("id-1"), None).unwrap();
    assert_eq!(delegate, json!({"decision": "delegate", "to": "id-1"}));
    for (refused, needle) in [
        (decision_body(ReviewDecision::Revoke, Some("2027-01-01T00:00:00Z"), None, None, None, None), "--until"),
        (decision_body(ReviewDecision::Keep, None, Some("viewer"), None, None, None), "--role"),
        (decision_body(ReviewDecision::Narrow, None, None, None, None, None), "narrow needs"),
        (decision_body(ReviewDecision::Delegate, None, None, None, None, None), "delegate needs --to"),
        (decision_body(ReviewDecision::Narrow, None, None, None, Some("x"), None), "--to"),
    ] {
        let error = refused.expect_err("refused").to_string();
        assert!(error.contains(needle), "{error}");
    }
}

#[test]
fn an_item_row_says_what_it_is_what_was_advised_and_where_it_stands() {
    let item = |outcome: Option<Value>, delegated_to: Option<String>| ReviewItemDto {
        campaign_id: "c1".into(),
        item: json!({"number": 3, "kind": "grant", "identity_name": "Bo", "role": "deployer",
            "scope": "environment:acme/web:production", "last_used_at": null,
            "recommendation": {"advice": "revoke", "reason": "unused for 90 days"}}),
        stage: 1,
        delegated_to,
        outcome,
        decisions: Vec::new(),
    };
    assert_eq!(
        item_row(&item(None, None)),
        ["3", "grant", "Bo", "deployer", "environment:acme/web:production", "-", "revoke", "1", "undecided"]
    );
    assert_eq!(item_row(&item(None, Some("id-9".into())))[8], "delegated to id-9");
    let kept = json!({"decision": "keep", "until": "2027-01-01T00:00:00Z"});
    assert_eq!(item_row(&item(Some(kept), None))[8], "keep until 2027-01-01T00:00:00Z");
    let narrowed = json!({"decision": "narrow", "role": "viewer", "scope": null});
    assert_eq!(item_row(&item(Some(narrowed), None))[8], "narrow to viewer");
    assert_eq!(item_row(&item(Some(json!({"decision": "revoke"})), None))[8], "revoke");
    assert_eq!(ITEM_HEADERS.len(), item_row(&item(None, None)).len());
}
