//! What a GitHub `deployment_protection_rule` event proves about the job
//! waiting to deploy, as the claims a trust binding is checked against.
//!
//! The event is signed with the webhook secret, so what it states is
//! believed; what it does not state is never guessed. A binding's condition
//! on a claim the event does not prove (`job_workflow_ref`, `actor`, …)
//! therefore does not match: the deployment is rejected (fail closed).
//!
//! `deployment.ref` is usually a bare name (`main`), which GitHub uses for
//! a branch and a tag alike. A bare name proves the `ref` claim only when
//! the event's own full `ref` says which it is; otherwise it proves "one of
//! `refs/heads/<name>` and `refs/tags/<name>`", and a condition on `ref`
//! holds only if it holds for both (a tag named `main` is not the branch).

use serde_json::{Map, Value};

use super::{TrustBinding, select_binding_for_all};

/// The claims the event proves, as alternatives: the event is consistent
/// with each, and a binding matches only if it matches every one.
pub fn proven_claims(payload: &Value) -> Vec<Map<String, Value>> {
    let mut proven = Map::new();
    let mut copy = |claim: &str, pointer: &str| {
        if let Some(value) = payload.pointer(pointer).filter(|v| v.is_string() || v.is_number()) {
            proven.insert(claim.to_owned(), value.clone());
        }
    };
    copy("repository", "/repository/full_name");
    copy("repository_id", "/repository/id");
    copy("repository_owner", "/repository/owner/login");
    copy("repository_owner_id", "/repository/owner/id");
    copy("environment", "/environment");
    copy("sha", "/deployment/sha");
    let text = |pointer: &str| payload.pointer(pointer).and_then(Value::as_str).filter(|t| !t.is_empty());
    match ref_candidates(text("/deployment/ref"), text("/ref")) {
        candidates if candidates.is_empty() => vec![proven],
        candidates => candidates
            .into_iter()
            .map(|candidate| {
                let mut alternative = proven.clone();
                alternative.insert("ref".into(), Value::String(candidate));
                alternative
            })
            .collect(),
    }
}

/// The full refs `deployment.ref` may name, given the event's full `ref`
/// (if any). Empty: the event proves no ref.
fn ref_candidates(deployment_ref: Option<&str>, event_ref: Option<&str>) -> Vec<String> {
    let Some(name) = deployment_ref else { return Vec::new() };
    if name.starts_with("refs/") {
        return vec![name.to_owned()];
    }
    let candidates = [format!("refs/heads/{name}"), format!("refs/tags/{name}")];
    match event_ref {
        Some(full) if candidates.iter().any(|c| c == full) => vec![full.to_owned()],
        // The event's ref names something else: the two disagree, and
        // nothing about the ref is proven.
        Some(_) => Vec::new(),
        None => candidates.to_vec(),
    }
}

/// The binding the deployment acts through, among `bindings` (those for the
/// GitHub Actions issuer that name the repository): every condition of it
/// must be proven by the event.
pub fn select_deployment_binding<'b>(
    bindings: &'b [TrustBinding],
    payload: &Value,
) -> Result<&'b TrustBinding, String> {
    select_binding_for_all(bindings, &proven_claims(payload))
        .map_err(|reason| reason.replacen("the token has no", "the deployment event proves no", 1))
}

#[cfg(test)]
mod tests;
