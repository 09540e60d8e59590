//! `/api/v1/tokens`: issue, list and revoke API tokens. Every token is
//! tracked: owner, issuer, creation, expiry and last use are listed; the
//! secret is shown once at creation and stored only as a hash.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_domain::audit::AuditAction;
use gatehouse_domain::authorization::{Action, Authorized};
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::delegation::{Holder, check_act_as};
use gatehouse_domain::grant::{OwnedKind, Resource};
use gatehouse_domain::ids::{IdentityId, TokenId};
use gatehouse_domain::store::TokenFilter;
use gatehouse_domain::token::{ApiToken, NewToken, TokenSecret, check_description, check_token_owner};
use serde_json::json;

use super::dto::{CreateTokenRequest, CreatedTokenDto, ListDto, TokenDto, TokenListQuery};
use super::page_request;
use crate::auth::Caller;
use crate::extract::{ApiJson, ApiQuery, IdPath, parse_field, parse_id};
use crate::problem::ApiError;
use crate::state::AppState;

/// Issue a token for an identity. The secret is in the answer, once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedTokenDto), (status = 404), (status = 409), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateTokenRequest>,
) -> Result<(StatusCode, Json<CreatedTokenDto>), ApiError> {
    let authorized = caller.authorize(&state, Action::IdentityManage, Resource::Gatehouse).await?;
    let identity_id: IdentityId = parse_field("identity_id", &request.identity_id)?;
    let ttl = state.settings.token_lifetime.check_ttl(request.ttl_seconds)?;
    let description = check_description(&request.description)?;
    let owner = state
        .store
        .find_identity(identity_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("identity `{identity_id}` not found")))?;
    check_token_owner(&owner)?;
    if identity_id != caller.identity().id {
        // A token acts as its owner: mint one only for whom the caller could
        // be (a service whose grants it holds; a person who is not an admin,
        // by a person who is an admin over `*`, whose `identity.manage`
        // needed fresh MFA under step-up).
        let grants = state.store.list_grants_of(identity_id).await?;
        let checked = check_act_as(
            &caller.holder(),
            caller.identity().kind,
            &Holder::new(identity_id, &grants),
            owner.kind,
            state.clock.now(),
        );
        caller.check_delegation(&state, AuditAction::TokenCreate, format!("identity:{identity_id}"), checked).await?;
    }

    let now = state.clock.now();
    let secret = TokenSecret::generate();
    let new = NewToken {
        id: TokenId::new(),
        identity_id,
        hash: secret.hash(),
        description,
        created_at: now,
        expires_at: now + ttl,
        created_by: Some(caller.identity().id),
        trust_binding_id: None,
    };
    let record =
        caller.record(&authorized, &state, AuditAction::TokenCreate, format!("token:{}", new.id)).details(json!({
            "token_id": new.id.to_string(),
            "identity_id": identity_id.to_string(),
            "created_by": caller.identity().id.to_string(),
            "description": new.description,
            "expires_at": format_rfc3339(new.expires_at),
        }));
    let token = state.store.create_token(new, record).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenDto {
            id: token.id.to_string(),
            token: secret.expose().to_owned(),
            identity_id: token.identity_id.to_string(),
            description: token.description,
            created_at: format_rfc3339(token.created_at),
            expires_at: format_rfc3339(token.expires_at),
        }),
    ))
}

/// List tokens: every token for holders of `identity.view`, otherwise the
/// caller's own. Never the secret.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", params(TokenListQuery),
    responses((status = 200, body = ListDto<TokenDto>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TokenListQuery>,
) -> Result<Json<ListDto<TokenDto>>, ApiError> {
    let page = page_request(query.limit, query.cursor)?;
    let requested: Option<IdentityId> = query.identity_id.as_deref().map(parse_id).transpose()?;
    let whose = requested.map_or(Resource::Gatehouse, |owner| Resource::owned(OwnedKind::Token, "*", owner));
    caller.authorize_read(&state, Action::IdentityView, whose).await?;
    let tokens = state.store.list_tokens(TokenFilter { identity_id: requested }, page).await?;
    let now = state.clock.now();
    Ok(Json(ListDto {
        items: tokens.items.iter().map(|token| TokenDto::new(token, now)).collect(),
        next_cursor: tokens.next_after,
    }))
}

/// Show one token (never the secret).
#[utoipa::path(get, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "token id")),
    responses((status = 200, body = TokenDto), (status = 404)))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<TokenId>,
) -> Result<Json<TokenDto>, ApiError> {
    let (token, _read_only) = token_for(&state, &caller, id, Action::IdentityView).await?;
    Ok(Json(TokenDto::new(&token, state.clock.now())))
}

/// The token `id` names, if the caller may `action` on it (the default
/// policies let its owner, `owners.cedar`).
async fn token_for(
    state: &AppState,
    caller: &Caller,
    id: TokenId,
    action: Action,
) -> Result<(ApiToken, Authorized), ApiError> {
    let token =
        state.store.find_token(id).await?.ok_or_else(|| ApiError::NotFound(format!("token `{id}` not found")))?;
    let resource = Resource::owned(OwnedKind::Token, token.id, token.identity_id);
    let authorized = caller.authorize(state, action, resource).await?;
    Ok((token, authorized))
}

/// Revokes token `id` as `caller` may (its owner, or `identity.manage`).
/// The API and the console's administration pages both revoke through here.
pub(crate) async fn revoke_token(state: &AppState, caller: &Caller, id: TokenId) -> Result<ApiToken, ApiError> {
    let (token, authorized) = token_for(state, caller, id, Action::IdentityManage).await?;
    let id = token.id;
    let record = caller.record(&authorized, state, AuditAction::TokenRevoke, format!("token:{id}")).details(json!({
        "token_id": id.to_string(),
        "identity_id": token.identity_id.to_string(),
    }));
    state.store.revoke_token(id, state.clock.now(), record).await.map_err(Into::into)
}

/// Revoke a token. Its owner may revoke their own; anyone else needs
/// `identity.manage`.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "token id")),
    responses((status = 200, body = TokenDto), (status = 404), (status = 409, description = "already revoked")))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<TokenId>,
) -> Result<Json<TokenDto>, ApiError> {
    let revoked = revoke_token(&state, &caller, id).await?;
    let now = state.clock.now();
    Ok(Json(TokenDto::new(&revoked, now)))
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default().routes(utoipa_axum::routes!(create, list)).routes(utoipa_axum::routes!(show, revoke))
}
