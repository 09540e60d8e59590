use serde_json::{Value, json};

use super::*;

const APP: &str = "0190a000-0000-7000-8000-000000000001";
const ANA: &str = "0190a000-0000-7000-8000-000000000002";
const BOB: &str = "0190a000-0000-7000-8000-000000000003";
const BOT: &str = "0190a000-0000-7000-8000-000000000004";
const REQ: &str = "0190a000-0000-7000-8000-0000000000aa";
const SHA: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn query(environment: Option<&str>) -> EvidenceQuery {
    EvidenceQuery::parse("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z", environment).unwrap()
}

fn entry(index: u64, time: &str, actor: &str, action: &str, resource: &str, details: Value) -> Value {
    json!({"index": index, "time": time, "actor": actor, "actor_kind": "service", "action": action,
        "resource": resource, "outcome": "success", "reason": "", "mfa": false, "details": details})
}

fn gate(index: u64, time: &str, environment: &str, request: Option<&str>) -> Value {
    entry(
        index,
        time,
        APP,
        "authorize",
        &format!("environment:{environment}"),
        json!({
            "principal": APP, "action": "deployment.execute", "decision": "allow",
            "context": {"commit": SHA.to_uppercase()},
            "approval": request.map(|r| json!({"rule": "prod", "request_required": false, "request": r})),
        }),
    )
}

fn trail(first: u64) -> Vec<Value> {
    let at = "2026-02-01T10:00:00Z";
    let mut vote = entry(
        first + 1,
        at,
        ANA,
        "request.vote",
        &format!("request:{REQ}"),
        json!({
            "request_id": REQ, "voter": ANA, "decision": "approve", "mfa_age_seconds": 42,
        }),
    );
    vote["mfa"] = json!(true);
    vec![
        entry(
            first,
            at,
            APP,
            "request.create",
            &format!("request:{REQ}"),
            json!({
                "request_id": REQ, "rule": "prod", "action": "deployment.execute",
                "resource": "environment:acme/web:production", "reason": "release 1.2",
            }),
        ),
        vote,
        entry(
            first + 2,
            at,
            ANA,
            "request.decide",
            &format!("request:{REQ}"),
            json!({
                "request_id": REQ, "state": "approved",
            }),
        ),
        entry(first + 3, at, APP, "request.consume", &format!("request:{REQ}"), json!({"request_id": REQ})),
    ]
}

fn verdict(index: u64, valid: bool) -> Value {
    entry(
        index,
        "2026-01-15T00:00:00Z",
        BOB,
        "commit.verify",
        "project:acme/web",
        json!({
            "commit": SHA, "valid": valid, "signer": valid.then_some(BOB),
        }),
    )
}

#[test]
fn a_gated_deployment_with_its_trail_is_complete() {
    let mut entries = vec![verdict(1, true)];
    entries.extend(trail(5));
    entries.push(gate(9, "2026-02-01T10:05:00Z", "acme/web:production", Some(REQ)));
    let evidence = read(&query(None), &entries);
    assert_eq!(evidence.missing, Vec::<String>::new());
    let summary = &evidence.summary;
    assert_eq!((summary.deployments, summary.approved, summary.approvals, summary.exceptions), (1, 1, 1, 0));
    assert_eq!((summary.commits_verified, summary.commits_refused, summary.missing), (1, 0, 0));
    let deployment = &evidence.deployments[0];
    assert_eq!(deployment["entry"], json!(9));
    assert_eq!(deployment["path"], json!("gate"));
    assert_eq!(deployment["request"]["votes"][0]["voter"], json!(ANA));
    assert_eq!(deployment["request"]["votes"][0]["mfa_age_seconds"], json!(42));
    assert_eq!(deployment["request"]["votes"][0]["mfa_method"], json!("totp"));
    assert_eq!(deployment["request"]["consume"], json!(8));
    assert_eq!(deployment["commits"][0], json!({"commit": SHA, "entry": 1, "valid": true, "signer": BOB}));
}

#[test]
fn what_a_deployment_is_owed_and_lacks_is_missing() {
    // No verdict, and a trail without its decision and use.
    let mut entries = trail(5);
    entries.retain(|e| e["action"] != json!("request.decide") && e["action"] != json!("request.consume"));
    entries.push(gate(9, "2026-02-01T10:05:00Z", "acme/web:production", Some(REQ)));
    let evidence = read(&query(None), &entries);
    assert_eq!(
        evidence.missing,
        vec![
            format!("entry 9: the approval (request.decide approved) of request {REQ}"),
            format!("entry 9: request.consume of request {REQ}"),
            format!("entry 9: a signature verdict of commit {SHA}"),
        ]
    );
    assert_eq!(evidence.summary.missing, 3);
    assert_eq!(evidence.summary.approved, 0);
}

#[test]
fn a_verdict_after_the_deployment_does_not_count_and_a_refused_one_is_counted() {
    let entries = vec![verdict(1, false), gate(3, "2026-02-01T00:00:00Z", "acme/web:staging", None), verdict(4, true)];
    let evidence = read(&query(None), &entries);
    assert_eq!(evidence.summary.commits_refused, 1);
    assert_eq!(evidence.summary.commits_verified, 0);
    assert_eq!(evidence.summary.without_rule, 1);
    assert_eq!(evidence.deployments[0]["commits"][0]["entry"], json!(1));
}

#[test]
fn the_period_and_the_environment_glob_choose_deployments() {
    let entries = vec![
        gate(1, "2025-12-31T23:59:59Z", "acme/web:production", None),
        gate(2, "2026-01-01T00:00:00Z", "acme/web:production", None),
        gate(3, "2026-02-01T00:00:00Z", "acme/web:staging", None),
        gate(4, "2026-03-01T00:00:00Z", "acme/api:production", None),
        gate(5, "2026-04-01T00:00:00Z", "acme/web:production", None),
    ];
    let chosen = |glob: Option<&str>| -> Vec<u64> {
        read(&query(glob), &entries).deployments.iter().map(|d| d["entry"].as_u64().unwrap()).collect()
    };
    assert_eq!(chosen(None), vec![2, 3, 4]);
    assert_eq!(chosen(Some("production")), vec![2, 4]);
    assert_eq!(chosen(Some("acme/web:*")), vec![2, 3]);
    assert_eq!(chosen(Some("acme/*:prod*")), vec![2, 4]);
    assert_eq!(chosen(Some("other/*:*")), Vec::<u64>::new());
}

#[test]
fn denials_and_other_actions_are_not_deployments() {
    let mut denied = gate(1, "2026-02-01T00:00:00Z", "acme/web:production", None);
    denied["outcome"] = json!("denied");
    denied["details"]["decision"] = json!("deny");
    let mut trigger = gate(2, "2026-02-01T00:00:00Z", "acme/web:production", None);
    trigger["details"]["action"] = json!("pipeline.trigger");
    let mut rejected = entry(
        3,
        "2026-02-01T00:00:00Z",
        BOT,
        "deployment.execute",
        "environment:acme/web:production",
        json!({"forge": "github", "decision": "deny"}),
    );
    rejected["outcome"] = json!("denied");
    let evidence = read(&query(None), &[denied, trigger, rejected]);
    assert!(evidence.deployments.is_empty());
}

#[test]
fn a_held_github_deployment_finds_its_request_and_break_glass_is_an_exception() {
    let at = "2026-02-01T10:00:00Z";
    let mut held = entry(
        1,
        at,
        BOT,
        "deployment.execute",
        "environment:acme/web:production",
        json!({
            "forge": "github", "decision": "allow", "deployment": {"sha": SHA},
        }),
    );
    held["reason"] = json!("waiting for approval under rule `prod`");
    let mut create = entry(
        2,
        at,
        BOT,
        "request.create",
        &format!("request:{REQ}"),
        json!({
            "request_id": REQ, "rule": "prod", "action": "deployment.execute",
            "resource": "environment:acme/web:production",
        }),
    );
    create["actor_kind"] = json!("service");
    let glass = entry(
        3,
        at,
        ANA,
        "breakglass.activate",
        &format!("request:{REQ}"),
        json!({
            "request_id": REQ, "incident": "INC-7", "reason": "outage",
        }),
    );
    let evidence = read(&query(None), &[verdict(0, true), held.clone(), create.clone(), glass]);
    assert_eq!(evidence.missing, Vec::<String>::new());
    assert_eq!(evidence.summary.exceptions, 1);
    let deployment = &evidence.deployments[0];
    assert_eq!(deployment["path"], json!("github-held"));
    assert_eq!(deployment["rule"], json!("prod"));
    assert_eq!(deployment["request"]["id"], json!(REQ));
    assert_eq!(deployment["request"]["break_glass"]["incident"], json!("INC-7"));
    // Without its request the held deployment owes one.
    let evidence = read(&query(None), &[verdict(0, true), held]);
    assert_eq!(evidence.missing, vec!["entry 1: the request it was held for".to_owned()]);
}

#[test]
fn an_integrations_deployment_carries_its_compliance_state_at_the_time() {
    const INT: &str = "0190a000-0000-7000-8000-0000000000ii";
    let register = entry(
        1,
        "2026-01-02T00:00:00Z",
        ANA,
        "integration.register",
        &format!("integration:{INT}"),
        json!({"integration_id": INT, "identity_id": APP}),
    );
    let check = |index, compliant| {
        entry(
            index,
            "2026-01-03T00:00:00Z",
            ANA,
            "integration.check",
            &format!("integration:{INT}"),
            json!({"integration_id": INT, "compliant": compliant}),
        )
    };
    let lapse = entry(
        5,
        "2026-01-05T00:00:00Z",
        "system",
        "integration.lapse",
        &format!("integration:{INT}"),
        json!({"integration_id": INT}),
    );
    let entries = vec![
        register.clone(),
        check(2, true),
        verdict(3, true),
        gate(4, "2026-02-01T00:00:00Z", "acme/web:production", None),
        lapse,
        gate(6, "2026-02-02T00:00:00Z", "acme/web:production", None),
    ];
    let evidence = read(&query(None), &entries);
    let states: Vec<&Value> = evidence.deployments.iter().map(|d| &d["integration"]["state"]).collect();
    assert_eq!(states, vec![&json!("compliant"), &json!("lapsed")]);
    assert_eq!(evidence.summary.by_integrations, 2);
    assert_eq!(evidence.summary.integrations_not_in_force, 1);
    // Registered, but no state before the deployment: missing.
    let evidence =
        read(&query(None), &[register, verdict(3, true), gate(4, "2026-02-01T00:00:00Z", "acme/web:production", None)]);
    assert_eq!(evidence.missing, vec![format!("entry 4: the compliance state of integration {INT}")]);
}

#[test]
fn reviews_closed_in_the_period_are_listed() {
    let entries = vec![
        entry(1, "2025-12-01T00:00:00Z", "system", "review.close", "review:old", json!({"decided": 3})),
        entry(2, "2026-03-01T00:00:00Z", "system", "review.close", "review:q1", json!({"decided": 9})),
        entry(3, "2026-03-01T00:00:00Z", "system", "review.open", "review:q2", json!({})),
    ];
    let evidence = read(&query(None), &entries);
    assert_eq!(evidence.summary.reviews_closed, 1);
    assert_eq!(evidence.reviews[0]["resource"], json!("review:q1"));
}

#[test]
fn a_bad_query_is_refused() {
    let bad = |from: &str, to: &str, glob: Option<&str>| EvidenceQuery::parse(from, to, glob).unwrap_err().to_string();
    assert_eq!(bad("yesterday", "2026-01-01T00:00:00Z", None), "`from` must be an RFC 3339 time");
    assert_eq!(bad("2026-01-01T00:00:00Z", "2026-01-01", None), "`to` must be an RFC 3339 time");
    assert_eq!(bad("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", None), "`from` must be before `to`");
    assert_eq!(
        bad("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", Some(" ")),
        "the environment glob is empty or longer than 200 characters"
    );
    let query = query(Some("prod*"));
    assert_eq!(EvidenceQuery::from_json(&query.to_json()).unwrap(), query);
}

#[test]
fn a_request_ids_time_bounds_its_trail() {
    let id = crate::ids::ApprovalRequestId::new().to_string();
    let made = request_created_at(&id).unwrap();
    assert!((OffsetDateTime::now_utc() - made).whole_seconds().abs() < 60);
    assert_eq!(request_created_at("not-a-uuid"), None);
    assert_eq!(request_created_at("6f0e3c4a-1b2c-4d5e-8f90-123456789abc"), None);
}
