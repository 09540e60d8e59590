//! Carrying out a review's result: revoking a grant, token or signing key,
//! replacing a grant by a narrower or shorter one, suspending an identity.
//! A result that cannot be applied is reported, never swallowed: the caller
//! records it (`applied: false`) and raises `review.alert`.

use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::grant::{Grant, NewGrant, Role, Scope};
use gatehouse_domain::identity::IdentityStatus;
use gatehouse_domain::ids::{CampaignId, GrantId, SigningKeyId, TokenId};
use gatehouse_domain::review::{ItemKind, ReviewItem, Verdict};
use gatehouse_domain::store::{Conflict, StoreError};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::author::Author;
use crate::state::AppState;

/// What applying a result did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub ok: bool,
    pub result: String,
}

impl Applied {
    fn done(result: impl Into<String>) -> Self {
        Self { ok: true, result: result.into() }
    }

    fn failed(result: impl Into<String>) -> Self {
        Self { ok: false, result: result.into() }
    }

    pub fn to_json(&self) -> Value {
        json!({"ok": self.ok, "result": self.result})
    }
}

fn already(error: &StoreError) -> bool {
    matches!(error, StoreError::Conflict(Conflict::GrantAlreadyRevoked { .. } | Conflict::TokenAlreadyRevoked { .. }))
}

/// Applies `verdict` on `item`; the entries it writes are `by`'s and name
/// the campaign and item.
pub async fn apply(
    state: &AppState,
    by: Author<'_>,
    campaign: CampaignId,
    item: &ReviewItem,
    verdict: &Verdict,
) -> Applied {
    let now = state.clock.now();
    let review = json!({"campaign_id": campaign.to_string(), "item": item.number});
    match (item.kind, verdict) {
        (ItemKind::Change, Verdict::Keep { .. }) => Applied::done("change approved"),
        (ItemKind::Change, _) => Applied::done("change not approved: its deployments stay held"),
        (_, Verdict::Keep { until: None }) => Applied::done("kept"),
        (_, Verdict::Delegate { .. }) => Applied::done("delegated"),
        (_, Verdict::Suspend) => suspend(state, by, item, now, review).await,
        (ItemKind::Grant, Verdict::Revoke) => match find_grant(state, item).await {
            Ok(grant) => revoke_grant(state, by, &grant, now, review).await,
            Err(failed) => failed,
        },
        (ItemKind::Grant, Verdict::Keep { until: Some(until) }) => {
            replace_grant(state, by, item, None, None, Some(*until), now, review).await
        }
        (ItemKind::Grant, Verdict::Narrow { role, scope }) => {
            replace_grant(state, by, item, role.as_deref(), scope.as_deref(), None, now, review).await
        }
        (ItemKind::Token, Verdict::Revoke) => {
            let Ok(id) = item.target.parse::<TokenId>() else { return Applied::failed("not a token id") };
            let mut details = json!({"token_id": id.to_string(), "identity_id": item.identity.to_string()});
            details["review"] = review;
            let record = by.record(now, AuditAction::TokenRevoke, format!("token:{id}")).details(details);
            match state.store.revoke_token(id, now, record).await {
                Ok(_) => Applied::done("token revoked"),
                Err(error) if already(&error) => Applied::done("token was revoked already"),
                Err(error) => Applied::failed(format!("token not revoked: {error}")),
            }
        }
        (ItemKind::SigningKey, Verdict::Revoke) => {
            let Ok(id) = item.target.parse::<SigningKeyId>() else { return Applied::failed("not a key id") };
            let mut details = json!({"signing_key_id": id.to_string(), "identity_id": item.identity.to_string()});
            details["review"] = review;
            let record = by.record(now, AuditAction::SigningKeyRemove, format!("signing_key:{id}")).details(details);
            match state.store.delete_signing_key(item.identity, id, record).await {
                Ok(_) => Applied::done("signing key removed"),
                Err(StoreError::NotFound { .. }) => Applied::done("signing key was removed already"),
                Err(error) => Applied::failed(format!("signing key not removed: {error}")),
            }
        }
        (kind, verdict) => Applied::failed(format!("`{}` cannot be applied to a {}", verdict.name(), kind.as_str())),
    }
}

async fn find_grant(state: &AppState, item: &ReviewItem) -> Result<Grant, Applied> {
    let id: GrantId = item.target.parse().map_err(|_| Applied::failed("not a grant id"))?;
    match state.store.find_grant(id).await {
        Ok(Some(grant)) => Ok(grant),
        Ok(None) => Err(Applied::failed(format!("grant `{id}` is gone"))),
        Err(error) => Err(Applied::failed(format!("grant `{id}` could not be read: {error}"))),
    }
}

async fn revoke_grant(state: &AppState, by: Author<'_>, grant: &Grant, now: OffsetDateTime, review: Value) -> Applied {
    if grant.revoked_at.is_some() {
        return Applied::done("grant was revoked already");
    }
    let record = by.record(now, AuditAction::GrantRevoke, format!("grant:{}", grant.id)).details(json!({
        "grant_id": grant.id.to_string(),
        "identity_id": grant.identity_id.to_string(),
        "role": grant.role.as_str(),
        "scope": grant.scope.to_string(),
        "review": review,
    }));
    match state.store.revoke_grant(grant.id, now, record).await {
        Ok(_) => Applied::done("grant revoked"),
        Err(error) if already(&error) => Applied::done("grant was revoked already"),
        Err(error) => Applied::failed(format!("grant not revoked: {error}")),
    }
}

/// A grant's identity, role and scope never change: a narrower or shorter
/// grant replaces it (made first, so the holder is never left with less
/// than the reviewer decided).
#[allow(clippy::too_many_arguments)]
async fn replace_grant(
    state: &AppState,
    by: Author<'_>,
    item: &ReviewItem,
    role: Option<&str>,
    scope: Option<&str>,
    until: Option<OffsetDateTime>,
    now: OffsetDateTime,
    review: Value,
) -> Applied {
    let old = match find_grant(state, item).await {
        Ok(grant) if grant.is_in_force_at(now) => grant,
        Ok(_) => return Applied::failed("the grant is no longer in force"),
        Err(failed) => return failed,
    };
    let role: Role = match role.map(str::parse).transpose() {
        Ok(role) => role.unwrap_or_else(|| old.role.clone()),
        Err(error) => return Applied::failed(format!("{error}")),
    };
    let scope: Scope = match scope.map(Scope::parse).transpose() {
        Ok(scope) => scope.unwrap_or_else(|| old.scope.clone()),
        Err(error) => return Applied::failed(format!("{error}")),
    };
    let new = NewGrant {
        id: GrantId::new(),
        identity_id: old.identity_id,
        role,
        scope,
        created_at: now,
        expires_at: until.or(old.expires_at),
        created_by: old.created_by,
    };
    let record = by.record(now, AuditAction::GrantCreate, format!("grant:{}", new.id)).details(json!({
        "grant_id": new.id.to_string(),
        "identity_id": new.identity_id.to_string(),
        "role": new.role.as_str(),
        "scope": new.scope.to_string(),
        "expires_at": new.expires_at.map(format_rfc3339),
        "replaces": old.id.to_string(),
        "review": review.clone(),
    }));
    let created = match state.store.create_grant(new, record).await {
        Ok(grant) => grant,
        Err(error) => return Applied::failed(format!("the replacing grant was not made: {error}")),
    };
    let revoked = revoke_grant(state, by, &old, now, review).await;
    if !revoked.ok {
        return revoked;
    }
    Applied::done(format!("grant replaced by `{}` ({} on {})", created.id, created.role, created.scope))
}

async fn suspend(state: &AppState, by: Author<'_>, item: &ReviewItem, now: OffsetDateTime, review: Value) -> Applied {
    let identity = match state.store.find_identity(item.identity).await {
        Ok(Some(identity)) => identity,
        Ok(None) => return Applied::failed("the identity is gone"),
        Err(error) => return Applied::failed(format!("the identity could not be read: {error}")),
    };
    if identity.status != IdentityStatus::Active {
        return Applied::done(format!("identity was {} already", identity.status.as_str()));
    }
    let record = by.record(now, AuditAction::IdentitySuspend, format!("identity:{}", identity.id)).details(json!({
        "identity_id": identity.id.to_string(),
        "old_status": "active",
        "new_status": "suspended",
        "review": review,
    }));
    match state
        .store
        .update_identity_status(identity.id, IdentityStatus::Active, IdentityStatus::Suspended, now, record)
        .await
    {
        Ok(_) => Applied::done("identity suspended"),
        Err(error) => Applied::failed(format!("identity not suspended: {error}")),
    }
}
