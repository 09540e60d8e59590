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
