//! `/api/v1/identities/{id}/signing-keys`: the public keys an identity signs
//! commits and artifacts with. People manage their own (with a fresh second
//! factor); identity managers those of services and of people they could
//! act for; CI jobs none.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::{Action, Authorized};
use gatehouse_domain::delegation::{Holder, check_act_as};
use gatehouse_domain::grant::{OwnedKind, Resource};
use gatehouse_domain::ids::{IdentityId, SigningKeyId};
use gatehouse_domain::signing::SigningKey;
use gatehouse_signing::{KeyError, parse_public_key};
use serde_json::json;

use super::dto::{AddSigningKeyRequest, SigningKeyDto};
use crate::auth::Caller;
use crate::extract::{ApiJson, IdPairPath, IdPath};
use crate::problem::ApiError;
use crate::state::AppState;

/// Who may add or remove an identity's signing keys (`key`, or any for
/// `*`). A key signs as its identity for as long as it is registered,
/// outliving the credential that added it, so: never a CI job; a person
/// their own with a fresh second factor (step-up), by the default policy
/// `people-manage-their-own-signing-keys`; a service's only a caller
/// allowed `identity.manage` on it (its own token too); anyone else's only
/// such a caller who could mint a token for them (see [`check_act_as`]).
async fn may_manage(
    state: &AppState,
    caller: &Caller,
    identity_id: IdentityId,
    key: &str,
    action: AuditAction,
) -> Result<Authorized, ApiError> {
    let resource = format!("identity:{identity_id}");
    if caller.is_workload() {
        return caller.refuse(state, action, resource, "a CI job's token cannot manage signing keys".into()).await;
    }
    let is_self = identity_id == caller.identity().id;
    let keys = Resource::owned(OwnedKind::SigningKey, key, identity_id);
    let authorized = caller.authorize(state, Action::IdentityManage, keys).await?;
    let target = state
        .store
        .find_identity(identity_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("identity `{identity_id}` not found")))?;
    if !is_self {
        let grants = state.store.list_grants_of(identity_id).await?;
        let checked = check_act_as(
            &caller.holder(),
            caller.identity().kind,
            &Holder::new(identity_id, &grants),
            target.kind,
            state.clock.now(),
        );
        caller.check_delegation(state, action, resource, checked).await?;
    }
    caller.require_step_up(state, action).await?;
    Ok(authorized)
}

/// Register a public key (OpenSSH line or armored OpenPGP key). Uploading
/// the revoked version of a registered OpenPGP key records the revocation.
#[utoipa::path(post, path = "/api/v1/identities/{id}/signing-keys", tag = "signing", request_body = AddSigningKeyRequest,
    params(("id" = String, Path, description = "identity id")),
    responses((status = 201, body = SigningKeyDto), (status = 200, body = SigningKeyDto, description = "a revocation recorded"),
        (status = 404), (status = 409), (status = 422)))]
pub async fn add(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(identity_id): IdPath<IdentityId>,
    ApiJson(request): ApiJson<AddSigningKeyRequest>,
) -> Result<(StatusCode, Json<SigningKeyDto>), ApiError> {
    let authorized = may_manage(&state, &caller, identity_id, "*", AuditAction::SigningKeyAdd).await?;
    let parsed = match parse_public_key(&request.public_key) {
        Ok(parsed) => parsed,
        Err(KeyError::Revoked) => {
            return record_revocation(&state, &caller, &authorized, identity_id, &request.public_key).await;
        }
        Err(error) => return Err(error.into()),
    };
    let key = SigningKey {
        id: SigningKeyId::new(),
        identity_id,
        kind: parsed.kind.as_str().to_owned(),
        fingerprint: parsed.fingerprint,
        algorithm: parsed.algorithm,
        public_key: parsed.text,
        lookup_ids: parsed.lookup_ids,
        created_at: state.clock.now(),
        created_by: Some(caller.identity().id),
    };
    let record = caller
        .record(&authorized, &state, AuditAction::SigningKeyAdd, format!("signing_key:{}", key.id))
        .details(json!({
            "signing_key_id": key.id.to_string(),
            "identity_id": identity_id.to_string(),
            "kind": key.kind,
            "fingerprint": key.fingerprint,
            "algorithm": key.algorithm,
        }));
    let key = state.store.create_signing_key(key, record).await?;
    Ok((StatusCode::CREATED, Json(SigningKeyDto::from(&key))))
}

async fn record_revocation(
    state: &AppState,
    caller: &Caller,
    authorized: &Authorized,
    identity_id: IdentityId,
    text: &str,
) -> Result<(StatusCode, Json<SigningKeyDto>), ApiError> {
    let registered = match gatehouse_signing::keys::openpgp_fingerprint(text) {
        Some(fingerprint) => state.store.find_signing_key_by_fingerprint(&fingerprint).await?,
        None => None,
    };
    let Some(registered) = registered.filter(|key| key.identity_id == identity_id) else {
        return Err(ApiError::Unprocessable(KeyError::Revoked.to_string()));
    };
    let record = caller
        .record(authorized, state, AuditAction::SigningKeyRevoke, format!("signing_key:{}", registered.id))
        .details(json!({"signing_key_id": registered.id.to_string(), "fingerprint": registered.fingerprint}));
    let key = state.store.update_signing_key_text(registered.id, text.trim().to_owned(), record).await?;
    Ok((StatusCode::OK, Json(SigningKeyDto::from(&key))))
}

/// An identity's signing keys.
#[utoipa::path(get, path = "/api/v1/identities/{id}/signing-keys", tag = "signing",
    params(("id" = String, Path, description = "identity id")), responses((status = 200, body = Vec<SigningKeyDto>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(identity_id): IdPath<IdentityId>,
) -> Result<Json<Vec<SigningKeyDto>>, ApiError> {
    let keys = Resource::owned(OwnedKind::SigningKey, "*", identity_id);
    caller.authorize_read(&state, Action::IdentityView, keys).await?;
    let keys = state.store.list_signing_keys(identity_id).await?;
    Ok(Json(keys.iter().map(SigningKeyDto::from).collect()))
}

/// One signing key.
#[utoipa::path(get, path = "/api/v1/identities/{id}/signing-keys/{key_id}", tag = "signing",
    params(("id" = String, Path, description = "identity id"), ("key_id" = String, Path, description = "signing key id")),
    responses((status = 200, body = SigningKeyDto), (status = 404)))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPairPath(identity_id, key_id): IdPairPath<IdentityId, SigningKeyId>,
) -> Result<Json<SigningKeyDto>, ApiError> {
    let key = Resource::owned(OwnedKind::SigningKey, key_id, identity_id);
    caller.authorize_read(&state, Action::IdentityView, key).await?;
    let keys = state.store.list_signing_keys(identity_id).await?;
    let key = keys
        .iter()
        .find(|key| key.id == key_id)
        .ok_or_else(|| ApiError::NotFound(format!("signing key `{key_id}` not found")))?;
    Ok(Json(SigningKeyDto::from(key)))
}

/// Remove a signing key; its signatures stop counting at once.
#[utoipa::path(delete, path = "/api/v1/identities/{id}/signing-keys/{key_id}", tag = "signing",
    params(("id" = String, Path, description = "identity id"), ("key_id" = String, Path, description = "signing key id")),
    responses((status = 200, body = SigningKeyDto), (status = 404)))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    IdPairPath(identity_id, key_id): IdPairPath<IdentityId, SigningKeyId>,
) -> Result<Json<SigningKeyDto>, ApiError> {
    let key = remove_key(&state, &caller, identity_id, key_id).await?;
    Ok(Json(SigningKeyDto::from(&key)))
}

/// Removes `identity_id`'s key `key_id` as `caller` (see [`may_manage`],
/// audited; `NotFound` unless the key is that identity's): the API's and
/// the console's one way to do it.
pub(crate) async fn remove_key(
    state: &AppState,
    caller: &Caller,
    identity_id: IdentityId,
    key_id: SigningKeyId,
) -> Result<SigningKey, ApiError> {
    let authorized = may_manage(state, caller, identity_id, &key_id.to_string(), AuditAction::SigningKeyRemove).await?;
    let record = caller
        .record(&authorized, state, AuditAction::SigningKeyRemove, format!("signing_key:{key_id}"))
        .details(json!({"signing_key_id": key_id.to_string(), "identity_id": identity_id.to_string()}));
    Ok(state.store.delete_signing_key(identity_id, key_id, record).await?)
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(add, list)).routes(utoipa_axum::routes!(show, remove))
}
