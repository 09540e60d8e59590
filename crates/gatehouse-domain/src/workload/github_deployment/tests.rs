//! What a deployment event proves, and bindings matched against it whole.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::*;
use crate::ids::IdentityId;
use crate::workload::NewTrustBinding;

fn binding(claims: Value) -> TrustBinding {
    NewTrustBinding::new(
        "https://token.actions.githubusercontent.com",
        "gatehouse",
        claims.as_object().unwrap(),
        IdentityId::new(),
        None,
        OffsetDateTime::UNIX_EPOCH,
        None,
    )
    .unwrap()
    .into()
}

fn event(deployment_ref: &str) -> Value {
    json!({
        "action": "requested",
        "environment": "production",
        "deployment": {"id": 9, "ref": deployment_ref, "sha": "abc123"},
        "repository": {"id": 123456, "full_name": "acme/web", "owner": {"id": 987, "login": "acme"}},
    })
}

#[track_caller]
fn check(conditions: Value, payload: &Value, expected: Result<(), &str>) {
    let bindings = [binding(conditions)];
    let got = select_deployment_binding(&bindings, payload).map(|_| ());
    match expected {
        Ok(()) => assert_eq!(got, Ok(()), "{payload}"),
        Err(fragment) => {
            let reason = got.expect_err("the binding must not match");
            assert!(reason.contains(fragment), "{reason}");
        }
    }
}

#[test]
fn the_repository_environment_and_sha_are_proven() {
    let claims = proven_claims(&event("refs/heads/main"));
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0]["repository"], "acme/web");
    assert_eq!(claims[0]["repository_id"], 123456);
    assert_eq!(claims[0]["repository_owner"], "acme");
    assert_eq!(claims[0]["repository_owner_id"], 987);
    assert_eq!(claims[0]["environment"], "production");
    assert_eq!(claims[0]["sha"], "abc123");
    assert_eq!(claims[0]["ref"], "refs/heads/main");
    assert!(!claims[0].contains_key("job_workflow_ref"));
}

#[test]
fn every_condition_of_the_binding_must_be_proven() {
    let main = json!({"repository_id": "123456", "ref": "refs/heads/main"});
    check(main.clone(), &event("refs/heads/main"), Ok(()));
    // The attack: a deployment from another branch, the bot bound for main.
    check(main.clone(), &event("refs/heads/feature"), Err("claim `ref` is `refs/heads/feature`"));
    check(main.clone(), &event("feature"), Err("claim `ref` is `refs/heads/feature`"));
    // Environment and repository conditions are checked too.
    check(json!({"repository_id": "123456", "environment": "staging"}), &event("main"), Err("claim `environment`"));
    check(json!({"repository": "acme/api"}), &event("main"), Err("claim `repository`"));
    check(json!({"repository_id": "123456", "environment": "prod*"}), &event("main"), Ok(()));
    // What the event does not carry is not proven: fail closed.
    check(
        json!({"repository_id": "123456", "job_workflow_ref": "acme/web/.github/workflows/deploy.yml@refs/heads/main"}),
        &event("refs/heads/main"),
        Err("the deployment event proves no `job_workflow_ref` claim"),
    );
    let mut no_ref = event("main");
    no_ref["deployment"].as_object_mut().unwrap().remove("ref");
    check(main, &no_ref, Err("proves no `ref` claim"));
}

#[test]
fn a_bare_ref_name_must_satisfy_the_branch_and_the_tag_reading() {
    let main = json!({"repository_id": "123456", "ref": "refs/heads/main"});
    // `main` alone could be a tag named `main`: not proven to be the branch.
    check(main.clone(), &event("main"), Err("claim `ref` is `refs/tags/main`"));
    // The event's full ref settles it.
    let mut settled = event("main");
    settled["ref"] = json!("refs/heads/main");
    check(main.clone(), &settled, Ok(()));
    let mut tag = event("main");
    tag["ref"] = json!("refs/tags/main");
    check(main.clone(), &tag, Err("claim `ref` is `refs/tags/main`"));
    // A full ref that names something else proves nothing about the ref.
    let mut disagreeing = event("main");
    disagreeing["ref"] = json!("refs/heads/other");
    check(main, &disagreeing, Err("proves no `ref` claim"));
    // A condition that holds for both readings holds.
    check(json!({"repository_id": "123456", "ref": ["refs/heads/main", "refs/tags/main"]}), &event("main"), Ok(()));
    // With no condition on `ref`, any ref will do.
    check(json!({"repository_id": "123456"}), &event("anything"), Ok(()));
}

#[test]
fn two_identities_for_one_deployment_are_refused() {
    let bindings = [binding(json!({"repository_id": "123456"})), binding(json!({"repository": "acme/web"}))];
    let reason = select_deployment_binding(&bindings, &event("refs/heads/main")).unwrap_err();
    assert!(reason.contains("different identities"), "{reason}");
}
