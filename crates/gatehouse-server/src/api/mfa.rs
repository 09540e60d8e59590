//! `/api/v1/mfa/…`: TOTP second factors for people. Enroll (secret, URI,
//! QR code), confirm (recovery codes, once), verify (step-up: the token
//! counts as MFA-fresh for the configured window), and an admin's reset.
//! Codes are refused when reused; failures lock the factor (429). Each
//! attempt is claimed atomically before its code is evaluated, so parallel
//! guesses cannot outrun the lock.

use axum::Json;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use gatehouse_domain::audit::{AuditAction, Outcome};
use gatehouse_domain::authorization::Action;
use gatehouse_domain::clock::format_rfc3339;
use gatehouse_domain::delegation::Holder;
use gatehouse_domain::grant::Resource;
use gatehouse_domain::identity::IdentityKind;
use gatehouse_domain::ids::{IdentityId, TokenId};
use gatehouse_domain::mfa::{MfaAttempt, TotpRecord};
use gatehouse_mfa::{CodeError, Enrollment, RecoveryCodes, TotpSecret, hash_recovery_code};
use serde_json::json;

use super::dto::{CodeRequest, EnrollmentDto, RecoveryCodesDto, VerifiedDto};
use crate::auth::{Caller, Via};
use crate::extract::{ApiJson, IdPath};
use crate::problem::ApiError;
use crate::state::AppState;

/// The token that becomes MFA-fresh (`None` for a session, which is
/// rotated instead).
pub(crate) fn person(caller: &Caller) -> Result<Option<TokenId>, ApiError> {
    if caller.identity().kind != IdentityKind::Human {
        return Err(ApiError::Unprocessable("second factors are for people, not service identities".into()));
    }
    match caller.via() {
        Via::Token(token) => Ok(Some(token.id)),
        Via::Session(_) => Ok(None),
        Via::CiToken(_) => Err(ApiError::Unauthorized("a CI token cannot carry a second factor".into())),
    }
}

/// After a second factor on a session: a new cookie secret (the session is
/// rotated at step-up), marked MFA-fresh.
pub(crate) async fn rotate_session(state: &AppState, caller: &Caller) -> Result<HeaderMap, ApiError> {
    let mut headers = HeaderMap::new();
    if let Via::Session(session) = caller.via() {
        let secret = crate::sso::cookies::new_secret();
        let record = caller.record(
            &caller.authorize_own_authentication(),
            state,
            AuditAction::AuthSessionRotate,
            format!("session:{}", session.id),
        );
        state
            .store
            .rotate_session(
                session.id,
                gatehouse_domain::token::TokenHash::of(&secret),
                Some(state.clock.now()),
                record,
            )
            .await?;
        let secure = crate::sso::cookies::secure(state.settings.oidc.as_ref());
        if let Ok(value) = HeaderValue::from_str(&crate::sso::cookies::set_session(&secret, secure)) {
            headers.insert(SET_COOKIE, value);
        }
    }
    Ok(headers)
}

fn seconds_left(state: &AppState, until: time::OffsetDateTime) -> u64 {
    u64::try_from((until - state.clock.now()).whole_seconds().max(1)).unwrap_or(1)
}

/// Claims this attempt before its code is evaluated (see `MfaAttempt`):
/// 429 while the factor is locked. The record returned is the one to
/// evaluate against (its secret and `last_step` as of the claim).
async fn claim_attempt(state: &AppState, caller: &Caller) -> Result<TotpRecord, ApiError> {
    match state.store.mfa_claim_attempt(caller.identity().id, state.clock.now()).await? {
        MfaAttempt::Claimed(record) => Ok(record),
        MfaAttempt::Locked { until } => {
            let left = seconds_left(state, until);
            Err(ApiError::TooManyRequests(format!("too many failed codes; try again in {left} s"), left))
        }
    }
}

fn open_secret(state: &AppState, record: &TotpRecord) -> Result<TotpSecret, ApiError> {
    state
        .settings
        .mfa
        .sealing_key
        .open(&record.sealed_secret, &record.identity_id.to_string())
        .map(TotpSecret::from_bytes)
        .map_err(|e| ApiError::Internal(format!("cannot open a TOTP secret: {e}")))
}

/// A wrong code: the claimed attempt already counted the failure; audit
/// it, and answer 429 if this attempt reached the lock.
async fn refuse(state: &AppState, caller: &Caller, claimed: &TotpRecord, error: CodeError) -> ApiError {
    let observation = caller
        .observe(state, AuditAction::MfaVerify, format!("identity:{}", caller.identity().id))
        .outcome(Outcome::Failure, error.to_string())
        .details(json!({"method": "totp"}));
    if let Err(store) = observation.append(&*state.store).await {
        return ApiError::from(store);
    }
    match claimed.locked_until.filter(|_| claimed.is_locked_at(state.clock.now())) {
        Some(until) => {
            let left = seconds_left(state, until);
            ApiError::TooManyRequests(format!("{error}; too many failed codes, try again in {left} s"), left)
        }
        None => ApiError::from(error),
    }
}

fn unix(state: &AppState) -> u64 {
    u64::try_from(state.clock.now().unix_timestamp()).unwrap_or(0)
}

/// Start TOTP enrollment: the secret, its `otpauth://` URI and a QR code.
#[utoipa::path(post, path = "/api/v1/mfa/totp", tag = "mfa", responses((status = 200, body = EnrollmentDto), (status = 409), (status = 422)))]
pub async fn enroll(State(state): State<AppState>, caller: Caller) -> Result<Json<EnrollmentDto>, ApiError> {
    let enrollment = begin_totp(&state, &caller).await?;
    Ok(Json(EnrollmentDto {
        secret: enrollment.secret,
        otpauth_uri: enrollment.otpauth_uri,
        qr_svg: enrollment.qr_svg,
    }))
}

/// Starts (or restarts) the caller's TOTP enrollment; the secret is shown
/// once, from what this returns, and kept sealed.
pub(crate) async fn begin_totp(state: &AppState, caller: &Caller) -> Result<Enrollment, ApiError> {
    person(caller)?;
    // Beside a passkey, a new factor needs a fresh one (a confirmed TOTP
    // is refused by the store: an admin resets it first).
    if caller.mfa_enrolled()
        && state.store.mfa_find(caller.identity().id).await?.is_none_or(|r| r.confirmed_at.is_none())
    {
        caller.require_fresh_mfa(state, AuditAction::MfaEnroll).await?;
    }
    let secret = TotpSecret::generate();
    let account = caller.identity().email.clone().unwrap_or_else(|| caller.identity().name.clone());
    let enrollment = secret.enrollment(&state.settings.mfa.issuer, &account);
    let sealed = state.settings.mfa.sealing_key.seal(secret.as_bytes(), &caller.identity().id.to_string());
    let record = caller.record(
        &caller.authorize_own_authentication(),
        state,
        AuditAction::MfaEnroll,
        format!("identity:{}", caller.identity().id),
    );
    state.store.mfa_begin(caller.identity().id, sealed, state.clock.now(), record).await?;
    Ok(enrollment)
}

/// Finish enrollment with a code from the app: returns one-time recovery codes.
#[utoipa::path(post, path = "/api/v1/mfa/totp/confirm", tag = "mfa", request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodesDto), (status = 403), (status = 404), (status = 409), (status = 429)))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<(HeaderMap, Json<RecoveryCodesDto>), ApiError> {
    let code = request.code.as_deref().ok_or_else(|| ApiError::Unprocessable("code is required".into()))?;
    let (headers, codes, now) = confirm_totp(&state, &caller, code).await?;
    Ok((headers, Json(RecoveryCodesDto { recovery_codes: codes, mfa_verified_at: format_rfc3339(now) })))
}

/// Confirms the caller's started enrollment with `code`: the one-time
/// recovery codes, and the rotated session's cookie (for a session).
pub(crate) async fn confirm_totp(
    state: &AppState,
    caller: &Caller,
    code: &str,
) -> Result<(HeaderMap, Vec<String>, time::OffsetDateTime), ApiError> {
    let token = person(caller)?;
    let record = state
        .store
        .mfa_find(caller.identity().id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no enrollment started: POST /api/v1/mfa/totp first".into()))?;
    if record.confirmed_at.is_some() {
        return Err(ApiError::Conflict("the second factor is confirmed already".into()));
    }
    let record = claim_attempt(state, caller).await?;
    let step = match open_secret(state, &record)?.verify(code, unix(state), record.last_step) {
        Ok(step) => step,
        Err(error) => return Err(refuse(state, caller, &record, error).await),
    };
    let codes = RecoveryCodes::generate();
    let now = state.clock.now();
    let audit = caller.record(
        &caller.authorize_own_authentication(),
        state,
        AuditAction::MfaConfirm,
        format!("identity:{}", caller.identity().id),
    );
    state.store.mfa_succeed(caller.identity().id, Some(step), Some(codes.hashes), token, now, audit).await?;
    let headers = rotate_session(state, caller).await?;
    Ok((headers, codes.codes, now))
}

/// Step up: a code (or a recovery code) makes this token MFA-fresh.
#[utoipa::path(post, path = "/api/v1/mfa/verify", tag = "mfa", request_body = CodeRequest,
    responses((status = 200, body = VerifiedDto), (status = 403), (status = 404), (status = 409), (status = 429)))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<(HeaderMap, Json<VerifiedDto>), ApiError> {
    let (headers, now) =
        verify_second_factor(&state, &caller, request.code.as_deref(), request.recovery_code.as_deref()).await?;
    Ok((
        headers,
        Json(VerifiedDto {
            mfa_verified_at: format_rfc3339(now),
            fresh_until: format_rfc3339(now + state.settings.mfa.fresh_for),
        }),
    ))
}

/// Checks exactly one of a TOTP `code` and a `recovery` code: the caller's
/// credential is then MFA-fresh from the instant returned, and a session
/// is rotated (its new cookie in the headers).
pub(crate) async fn verify_second_factor(
    state: &AppState,
    caller: &Caller,
    code: Option<&str>,
    recovery: Option<&str>,
) -> Result<(HeaderMap, time::OffsetDateTime), ApiError> {
    let token = person(caller)?;
    state
        .store
        .mfa_find(caller.identity().id)
        .await?
        .filter(|r| r.confirmed_at.is_some())
        .ok_or_else(|| ApiError::NotFound("no second factor is enrolled: POST /api/v1/mfa/totp".into()))?;
    if code.is_some() == recovery.is_some() {
        return Err(ApiError::Unprocessable("give exactly one of code and recovery_code".into()));
    }
    let record = claim_attempt(state, caller).await?;
    let now = state.clock.now();
    let audit = caller.record(
        &caller.authorize_own_authentication(),
        state,
        AuditAction::MfaVerify,
        format!("identity:{}", caller.identity().id),
    );
    match (code, recovery) {
        (Some(code), None) => {
            let step = match open_secret(state, &record)?.verify(code, unix(state), record.last_step) {
                Ok(step) => step,
                Err(error) => return Err(refuse(state, caller, &record, error).await),
            };
            let audit = audit.details(json!({"method": "totp"}));
            state.store.mfa_succeed(caller.identity().id, Some(step), None, token, now, audit).await?;
        }
        (None, Some(recovery)) => {
            let hash = hash_recovery_code(recovery);
            let audit = audit.details(json!({"method": "recovery_code", "recovery_code": true}));
            if let Err(error) = state.store.mfa_use_recovery_code(caller.identity().id, &hash, token, now, audit).await
            {
                return Err(match error {
                    gatehouse_domain::store::StoreError::NotFound { .. } => {
                        refuse(state, caller, &record, CodeError::Invalid).await
                    }
                    other => ApiError::from(other),
                });
            }
        }
        _ => return Err(ApiError::Unprocessable("give exactly one of code and recovery_code".into())),
    }
    let headers = rotate_session(state, caller).await?;
    Ok((headers, now))
}

/// An admin resets someone's second factor (needs the admin's own fresh MFA).
#[utoipa::path(delete, path = "/api/v1/identities/{id}/mfa", tag = "mfa",
    params(("id" = String, Path, description = "identity id")), responses((status = 204), (status = 403), (status = 404)))]
pub async fn reset(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<IdentityId>,
) -> Result<axum::http::StatusCode, ApiError> {
    let authorized = caller.authorize(&state, Action::IdentityManage, Resource::Gatehouse).await?;
    caller.require_fresh_mfa(&state, AuditAction::MfaReset).await?;
    if id != caller.identity().id {
        // A reset lets whoever holds the person's token enroll anew: only
        // for someone whose grants the caller holds.
        let grants = state.store.list_grants_of(id).await?;
        let checked = caller.holder().holds_everything_of(&Holder::new(id, &grants), state.clock.now());
        caller.check_delegation(&state, AuditAction::MfaReset, format!("identity:{id}"), checked).await?;
    }
    let record = caller.record(&authorized, &state, AuditAction::MfaReset, format!("identity:{id}"));
    state.store.mfa_reset(id, state.clock.now(), record).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// This module's routes: each path, method, handler and OpenAPI entry
/// declared once, by the handler's `#[utoipa::path]`.
pub fn routes() -> super::Routes {
    super::Routes::default()
        .routes(utoipa_axum::routes!(enroll))
        .routes(utoipa_axum::routes!(confirm))
        .routes(utoipa_axum::routes!(verify))
        .routes(utoipa_axum::routes!(reset))
}
