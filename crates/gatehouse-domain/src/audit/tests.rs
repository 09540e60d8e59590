use serde_json::json;

use super::*;

#[test]
fn canonical_json_sorts_members_and_drops_whitespace() {
    let value = json!({"b": 1, "a": {"z": [true, null], "y": "x"}, "": -3});
    assert_eq!(canonical_json(&value), r#"{"":-3,"a":{"y":"x","z":[true,null]},"b":1}"#);
}

#[test]
fn canonical_json_escapes_minimally() {
    let value = json!("quote\" backslash\\ tab\t nl\n unit\u{1f} euro€ slash/");
    assert_eq!(canonical_json(&value), "\"quote\\\" backslash\\\\ tab\\t nl\\n unit\\u001f euro€ slash/\"");
}

#[test]
fn canonical_json_orders_keys_by_utf16_code_units() {
    // U+E000 sorts after U+1F600 in UTF-8 byte order but before it in UTF-16.
    let value = json!({"\u{1F600}": 1, "\u{E000}": 2});
    assert_eq!(canonical_json(&value), "{\"\u{1F600}\":1,\"\u{E000}\":2}");
}

#[test]
fn an_entry_carries_every_contract_field() {
    let record = AuditRecord::new(OffsetDateTime::UNIX_EPOCH, Actor::Anonymous, "auth.token", "gatehouse")
        .outcome(Outcome::Failure, "unknown token")
        .origin(&RequestOrigin {
            request_id: Some("r1".into()),
            source_ip: Some("127.0.0.1".into()),
            ..Default::default()
        });
    let leaf = String::from_utf8(record.into_entry(7, None).leaf_bytes()).unwrap();
    assert_eq!(
        leaf,
        r#"{"action":"auth.token","actor":"anonymous","actor_kind":"anonymous","details":{},"index":7,"mfa":false,"outcome":"failure","reason":"unknown token","request_id":"r1","resource":"gatehouse","source_ip":"127.0.0.1","time":"1970-01-01T00:00:00.000Z"}"#
    );
}

#[test]
fn an_entry_names_the_root_before_it() {
    let record = AuditRecord::new(OffsetDateTime::UNIX_EPOCH, Actor::System, "x", "gatehouse");
    let json = record.into_entry(3, Some([7; 32])).to_json();
    assert_eq!(json["prev_root"], "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=");
}

proptest::proptest! {
    /// The leaf written directly is byte for byte the canonical form of the
    /// entry's JSON, which is what an offline verifier recomputes.
    #[test]
    fn the_leaf_is_the_canonical_json_of_the_entry(
        action in ".{0,12}",
        resource in "\\PC{0,12}",
        reason in "[\\x00-\\x7f]{0,16}",
        request_id in proptest::option::of("[ -~\\n\\t\"\\\\]{0,8}"),
        source_ip in proptest::option::of(".{0,8}"),
        detail in ".{0,16}",
        index in 0u64..u64::MAX,
        millis in 0i64..4_102_444_800_000,
        mfa: bool,
        prev_root: Option<[u8; 32]>,
        identity in proptest::option::of(("\\PC{1,8}", "[a-z]{1,8}")),
    ) {
        let actor = match identity {
            Some((id, kind)) => Actor::Identity { id, kind },
            None => Actor::System,
        };
        let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000).unwrap();
        let mut record = AuditRecord::new(time, actor, &action, resource)
            .outcome(Outcome::Denied, reason)
            .origin(&RequestOrigin { request_id, source_ip, ..Default::default() })
            .details(json!({"z": detail, "a": [1, detail.clone(), {"\u{e9}": null, "b": mfa}], "": -3}));
        record.mfa = mfa;
        let entry = record.into_entry(index, prev_root);
        let (leaf, details) = entry.leaf_and_details();
        proptest::prop_assert_eq!(String::from_utf8(leaf).unwrap(), canonical_json(&entry.to_json()));
        proptest::prop_assert_eq!(details, canonical_json(&entry.record.details));
    }
}

/// The audit vocabulary's documentation lists exactly the enum's actions,
/// in its order: `docs/audit-actions.md` is what SIEM authors read.
#[test]
fn audit_actions_doc_lists_every_action() {
    let doc = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/audit-actions.md"));
    let documented: Vec<&str> = doc
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(action, _)| action)
        .collect();
    let actions: Vec<&str> = AuditAction::ALL.iter().map(|action| action.as_str()).collect();
    assert_eq!(documented, actions, "docs/audit-actions.md and `AuditAction::ALL` differ");
}

#[test]
fn audit_actions_are_distinct_dotted_names() {
    let mut seen = std::collections::HashSet::new();
    for action in AuditAction::ALL {
        let text = action.as_str();
        assert!(seen.insert(text), "`{text}` is listed twice");
        assert!(text.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'), "`{text}`");
        assert_eq!(action.to_string(), text);
    }
}

/// A refused policy decision is recorded under the policy action's own
/// name, as before the enum existed.
#[test]
fn every_policy_action_is_an_audit_action_of_the_same_name() {
    for action in crate::authorization::Action::ALL {
        let audited = AuditAction::from(action);
        assert_eq!(audited.as_str(), action.as_str());
        assert!(AuditAction::ALL.contains(&audited));
    }
}

/// The constructors keep today's leaf bytes: an authorized record and a
/// system record serialize exactly as a record built field by field.
#[test]
fn typed_constructors_write_the_same_leaf_as_before() {
    use crate::authorization::{Action, Authorized, Basis};

    let time = OffsetDateTime::UNIX_EPOCH;
    let origin =
        RequestOrigin { request_id: Some("r1".into()), source_ip: Some("192.0.2.1".into()), client_request_id: None };
    let actor = Actor::Identity { id: "i1".into(), kind: "human".into() };
    #[allow(clippy::disallowed_methods, reason = "a test stands in for `Caller::authorize`")]
    let authorized = Authorized::unchecked_new(actor.clone(), origin.clone(), Basis::Policy(Action::GrantManage), None);
    let typed = AuditRecord::authorized(&authorized, time, AuditAction::GrantCreate, "grant:g1");
    let by_hand = AuditRecord::new(time, actor, "grant.create", "grant:g1").origin(&origin);
    assert_eq!(typed.into_entry(1, None).leaf_bytes(), by_hand.into_entry(1, None).leaf_bytes());

    let system = AuditRecord::system(SystemWriter::Initialization, time, AuditAction::GatehouseInit, "gatehouse");
    let by_hand = AuditRecord::new(time, Actor::System, "gatehouse.init", "gatehouse");
    assert_eq!(system.into_entry(0, None).leaf_bytes(), by_hand.into_entry(0, None).leaf_bytes());

    let observation = Observation::new(time, Actor::Anonymous, AuditAction::AuthToken, "gatehouse")
        .outcome(Outcome::Failure, "unknown token");
    let by_hand =
        AuditRecord::new(time, Actor::Anonymous, "auth.token", "gatehouse").outcome(Outcome::Failure, "unknown token");
    assert_eq!(observation.record(), &by_hand);
}
