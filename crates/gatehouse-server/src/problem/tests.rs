//! Each domain refusal maps to the status its handlers answered before the
//! `From` impls replaced their hand-written mappings.

use gatehouse_domain::identity::IdentityError;
use gatehouse_domain::ids::IdentityId;
use gatehouse_domain::scim::control::LinkError;
use gatehouse_domain::token::TokenError;

use super::*;

#[track_caller]
fn check(error: impl Into<ApiError>, status: u16, detail: &str) {
    let error = error.into();
    assert_eq!(error.status().as_u16(), status, "{error:?}");
    assert_eq!(error.detail(), detail);
}

#[test]
fn domain_refusals_keep_their_status_and_words() {
    let id: IdentityId = "01900000-0000-7000-8000-000000000000".parse().unwrap_or_default();
    check(IdentityError::EmailRequired, 422, "a human identity needs an email address");
    check(gatehouse_domain::grant::GrantError::UnknownRole("x".into()), 422, "unknown role `x`");
    check(
        TokenError::InvalidDescription,
        422,
        "a description must be at most 500 characters without control characters",
    );
    check(gatehouse_domain::workload::BindingError::InvalidAudience, 422, "the audience must be 1–256 characters");
    check(LinkError::AlreadyManaged(id), 409, &format!("`{id}` is already managed by SCIM"));
    check(LinkError::NotHuman(id), 422, &format!("only people are provisioned over SCIM; `{id}` is a service"));
    check(gatehouse_domain::authorization::UnknownAction("x".into()), 422, "unknown action `x`");
    check(gatehouse_policy::DecisionError::InvalidRequest("bad".into()), 422, "bad");
    check(gatehouse_mfa::CodeError::Replayed, 409, "this code was used already; wait for the next one");
    check(gatehouse_mfa::CodeError::Invalid, 403, "the code is not valid");
    check(gatehouse_signing::KeyError::NoSigningKey, 422, "the OpenPGP key has no key that may sign");
    check(
        gatehouse_audit::merkle::ProofError::IndexOutOfRange { index: 5, size: 3 },
        400,
        "leaf index 5 is not below tree size 3",
    );
    let internal = ApiError::from(gatehouse_policy::DecisionError::Evaluation("cause".into()));
    assert_eq!(internal.status().as_u16(), 500);
    assert!(!internal.detail().contains("cause"), "a 5xx cause is never sent");
}
