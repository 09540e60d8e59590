//! Passkeys as a second factor: the ceremonies (register, verify) and a
//! person's list, as functions both the JSON API (`api/passkeys.rs`) and
//! the web pages call. The WebAuthn checks are the mfa crate's; this
//! module keeps each ceremony's state in the store between its two halves,
//! bound to the session or token that started it, for
//! [`CEREMONY_LIFETIME`], taken once.
//!
//! A verified passkey makes the credential MFA-fresh exactly as a TOTP code
//! does (the token's `mfa_verified_at`, or the session rotated), and the
//! `mfa.verify` entry says `"method": "webauthn"`.
//!
//! Failed passkey responses do not count toward the TOTP lockout
//! (`mfa_claim_attempt`): that lock exists because a six-digit code can be
//! guessed, and a passkey assertion cannot (it is a signature by a key that
//! never leaves the authenticator, over a fresh challenge). Each failure is
//! audited (`mfa.verify`, `failure`), each attempt needs a new ceremony,
//! and a person keeps at most
//! [`CEREMONIES_PER_IDENTITY`](gatehouse_domain::passkey::CEREMONIES_PER_IDENTITY)
//! in flight.

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::audit::{AuditAction, Outcome};
use gatehouse_domain::ids::PasskeyId;
use gatehouse_domain::passkey::{
    CEREMONY_LIFETIME, CeremonyHolder, CeremonyKind, PasskeyCeremony, PasskeyCredential, TakenCeremony, check_label,
};
use gatehouse_domain::token::TokenHash;
use gatehouse_mfa::{
    AuthenticationState, PasskeyError, PasskeyUser, PasskeyVerifier, RegistrationState, StoredPasskey,
};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api::mfa::{person, rotate_session};
use crate::auth::{Caller, Via};
use crate::problem::ApiError;
use crate::state::{AppState, Settings};

/// The largest passkey response accepted, serialised: real ones are a
/// few kilobytes at most.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// A started ceremony, for the browser: the id to finish it with and the
/// options for `navigator.credentials.create()` / `get()` (through
/// `PublicKeyCredential.parseCreationOptionsFromJSON` /
/// `parseRequestOptionsFromJSON`).
#[derive(Debug, Clone)]
pub struct Started {
    pub ceremony_id: String,
    pub options: Value,
    pub expires_at: OffsetDateTime,
}

/// A verified passkey: the credential is MFA-fresh from `verified_at`
/// until `fresh_until`. `headers` carry the rotated session's cookie.
#[derive(Debug)]
pub struct Verified {
    pub headers: HeaderMap,
    pub verified_at: OffsetDateTime,
    pub fresh_until: OffsetDateTime,
}

/// The relying party: the public URL (`public_url`), or else the origin
/// of `[oidc] redirect_url`. 409 naming the setting when neither is set
/// or the address cannot be one (an IP address).
pub fn relying_party(settings: &Settings) -> Result<PasskeyVerifier, ApiError> {
    let from_oidc = settings.oidc.as_ref().and_then(|oidc| url::Url::parse(&oidc.redirect_url).ok());
    let Some(url) = settings.public_url.clone().or(from_oidc) else {
        return Err(ApiError::Conflict(
            "passkeys are unavailable: set `public_url` in the config file (GATEHOUSE_PUBLIC_URL) \
             to the address people open gatehouse at, or configure `[oidc] redirect_url`"
                .into(),
        ));
    };
    Ok(PasskeyVerifier::for_public_url(&url)?)
}

fn holder(caller: &Caller) -> Result<CeremonyHolder, ApiError> {
    match caller.via() {
        Via::Token(token) => Ok(CeremonyHolder::Token(token.id)),
        Via::Session(session) => Ok(CeremonyHolder::Session(session.id)),
        Via::CiToken(_) => Err(ApiError::Unauthorized("a CI token cannot carry a second factor".into())),
    }
}

fn new_ceremony_id() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn check_size(response: &Value) -> Result<(), ApiError> {
    if serde_json::to_vec(response).map_or(usize::MAX, |bytes| bytes.len()) > MAX_RESPONSE_BYTES {
        return Err(ApiError::Unprocessable(format!("the passkey response is larger than {MAX_RESPONSE_BYTES} bytes")));
    }
    Ok(())
}

/// Keeps a ceremony's state and hands out its id.
async fn keep(
    state: &AppState,
    caller: &Caller,
    kind: CeremonyKind,
    state_json: String,
    options: Value,
) -> Result<Started, ApiError> {
    let ceremony_id = new_ceremony_id();
    let now = state.clock.now();
    let expires_at = now + CEREMONY_LIFETIME;
    let ceremony = PasskeyCeremony {
        id_hash: TokenHash::of(&ceremony_id),
        identity_id: caller.identity().id,
        holder: holder(caller)?.key(),
        kind,
        state: state_json,
        expires_at,
    };
    state.store.passkey_ceremony_begin(ceremony, now).await?;
    Ok(Started { ceremony_id, options, expires_at })
}

/// Takes the caller's ceremony `ceremony_id` of `kind` (single use): 404
/// if there is no such ceremony of theirs (finished, never started, or
/// someone else's), 409 if it expired (and is gone).
async fn take(state: &AppState, caller: &Caller, ceremony_id: &str, kind: CeremonyKind) -> Result<String, ApiError> {
    let taken = state
        .store
        .passkey_ceremony_take(
            &TokenHash::of(ceremony_id),
            caller.identity().id,
            &holder(caller)?.key(),
            kind,
            state.clock.now(),
        )
        .await?;
    match taken {
        TakenCeremony::Live(ceremony) => Ok(ceremony.state),
        TakenCeremony::Expired => Err(ApiError::Conflict(format!(
            "this passkey {kind} expired ({} minutes); start a new one",
            CEREMONY_LIFETIME.whole_minutes()
        ))),
        TakenCeremony::Unknown => Err(ApiError::NotFound(format!(
            "no passkey {kind} `{}` of yours is in progress; it was finished already or never started",
            gatehouse_domain::auth_failures::cap_echoed(ceremony_id)
        ))),
    }
}

/// Audits a refused ceremony and answers with its error.
async fn refuse(state: &AppState, caller: &Caller, action: AuditAction, error: PasskeyError) -> ApiError {
    let observation = caller
        .observe(state, action, format!("identity:{}", caller.identity().id))
        .outcome(Outcome::Failure, error.to_string())
        .details(json!({"method": "webauthn"}));
    if let Err(store) = observation.append(&*state.store).await {
        return ApiError::from(store);
    }
    ApiError::from(error)
}

fn stored(passkeys: &[PasskeyCredential]) -> Result<Vec<StoredPasskey>, ApiError> {
    passkeys
        .iter()
        .map(|p| {
            StoredPasskey::from_json(&p.credential).map_err(|e| ApiError::Internal(format!("passkey {}: {e}", p.id)))
        })
        .collect()
}

/// Adding a factor beside an existing one needs a fresh one: otherwise a
/// stolen token could add its own and step up with it.
async fn require_fresh_if_enrolled(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if caller.mfa_enrolled() {
        caller.require_fresh_mfa(state, AuditAction::MfaPasskeyRegister).await?;
    }
    Ok(())
}

/// Starts registering a passkey for the caller (a person, by session or
/// personal token), excluding the ones they have.
pub async fn start_registration(state: &AppState, caller: &Caller) -> Result<Started, ApiError> {
    person(caller)?;
    let verifier = relying_party(&state.settings)?;
    require_fresh_if_enrolled(state, caller).await?;
    let identity = caller.identity();
    let existing = stored(&state.store.passkey_list(identity.id).await?)?;
    let name = identity.email.clone().unwrap_or_else(|| identity.name.clone());
    let user = PasskeyUser { handle: identity.id.as_uuid(), name: &name, display_name: &identity.name };
    let (options, ceremony) = verifier.start_registration(&user, &existing)?;
    keep(state, caller, CeremonyKind::Registration, ceremony.to_json(), options).await
}

/// Finishes a registration with the browser's `credential.toJSON()`:
/// stores the passkey under `label`. Malformed input is refused before
/// the ceremony is spent.
pub async fn finish_registration(
    state: &AppState,
    caller: &Caller,
    ceremony_id: &str,
    label: &str,
    response: &Value,
) -> Result<PasskeyCredential, ApiError> {
    person(caller)?;
    let label = check_label(label).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    check_size(response)?;
    PasskeyVerifier::check_registration_response(response)?;
    let verifier = relying_party(&state.settings)?;
    require_fresh_if_enrolled(state, caller).await?;
    let ceremony = RegistrationState::from_json(&take(state, caller, ceremony_id, CeremonyKind::Registration).await?)?;
    let passkey = match verifier.finish_registration(&ceremony, response) {
        Ok(passkey) => passkey,
        Err(error) => return Err(refuse(state, caller, AuditAction::MfaPasskeyRegister, error).await),
    };
    let id = PasskeyId::new();
    let record = caller
        .record(&caller.authorize_own_authentication(), state, AuditAction::MfaPasskeyRegister, format!("passkey:{id}"))
        .details(json!({"passkey_id": id.to_string(), "label": label}));
    let new = PasskeyCredential {
        id,
        identity_id: caller.identity().id,
        label,
        credential_id: passkey.credential_id(),
        credential: passkey.to_json(),
        created_at: state.clock.now(),
        last_used_at: None,
    };
    Ok(state.store.passkey_register(new, record).await?)
}

/// Starts a step-up with any of the caller's passkeys. 404 if they have
/// none.
pub async fn start_authentication(state: &AppState, caller: &Caller) -> Result<Started, ApiError> {
    person(caller)?;
    let verifier = relying_party(&state.settings)?;
    let passkeys = state.store.passkey_list(caller.identity().id).await?;
    if passkeys.is_empty() {
        return Err(ApiError::NotFound(
            "no passkey is registered: POST /api/v1/mfa/webauthn/register/start first".into(),
        ));
    }
    let (options, ceremony) = verifier.start_authentication(&stored(&passkeys)?)?;
    keep(state, caller, CeremonyKind::Authentication, ceremony.to_json(), options).await
}

/// Finishes a step-up with the browser's `credential.toJSON()`: the
/// caller's token or session becomes MFA-fresh, as with a TOTP code.
pub async fn finish_authentication(
    state: &AppState,
    caller: &Caller,
    ceremony_id: &str,
    response: &Value,
) -> Result<Verified, ApiError> {
    let token = person(caller)?;
    check_size(response)?;
    let credential_id = PasskeyVerifier::response_credential_id(response)?;
    let verifier = relying_party(&state.settings)?;
    let ceremony =
        AuthenticationState::from_json(&take(state, caller, ceremony_id, CeremonyKind::Authentication).await?)?;
    let passkeys = state.store.passkey_list(caller.identity().id).await?;
    let Some(passkey) = passkeys.iter().find(|p| p.credential_id == credential_id) else {
        return Err(refuse(state, caller, AuditAction::MfaVerify, PasskeyError::UnknownCredential).await);
    };
    let current = StoredPasskey::from_json(&passkey.credential)?;
    let used = match verifier.finish_authentication(&ceremony, response, &current) {
        Ok(used) => used,
        Err(error) => return Err(refuse(state, caller, AuditAction::MfaVerify, error).await),
    };
    let now = state.clock.now();
    let record = caller
        .record(
            &caller.authorize_own_authentication(),
            state,
            AuditAction::MfaVerify,
            format!("identity:{}", caller.identity().id),
        )
        .details(json!({"method": "webauthn", "passkey_id": passkey.id.to_string()}));
    let updated = used.changed.then(|| used.credential.to_json());
    state.store.passkey_used(caller.identity().id, passkey.id, updated, token, now, record).await?;
    let headers = rotate_session(state, caller).await?;
    Ok(Verified { headers, verified_at: now, fresh_until: now + state.settings.mfa.fresh_for })
}

/// The caller's passkeys, oldest first.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<PasskeyCredential>, ApiError> {
    person(caller)?;
    Ok(state.store.passkey_list(caller.identity().id).await?)
}

fn not_yours(id: PasskeyId) -> ApiError {
    ApiError::NotFound(format!("you have no passkey `{id}`"))
}

/// Renames one of the caller's passkeys.
pub async fn rename(
    state: &AppState,
    caller: &Caller,
    id: PasskeyId,
    label: &str,
) -> Result<PasskeyCredential, ApiError> {
    person(caller)?;
    let label = check_label(label).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    let record = caller
        .record(&caller.authorize_own_authentication(), state, AuditAction::MfaPasskeyRename, format!("passkey:{id}"))
        .details(json!({"passkey_id": id.to_string(), "label": label}));
    match state.store.passkey_rename(caller.identity().id, id, label, record).await {
        Err(gatehouse_domain::store::StoreError::NotFound { .. }) => Err(not_yours(id)),
        other => Ok(other?),
    }
}

/// Removes one of the caller's passkeys; needs a fresh second factor.
/// Like TOTP, which a person cannot remove on their own (an admin resets
/// it), the last second factor stays while `[mfa] required` is on (409:
/// an admin's reset removes it); otherwise it may go.
pub async fn remove(state: &AppState, caller: &Caller, id: PasskeyId) -> Result<(), ApiError> {
    person(caller)?;
    let owner = caller.identity().id;
    let passkey = state.store.passkey_find(owner, id).await?.ok_or_else(|| not_yours(id))?;
    caller.require_fresh_mfa(state, AuditAction::MfaPasskeyRemove).await?;
    if state.settings.mfa.required {
        let others = state.store.passkey_list(owner).await?.len() > 1;
        let totp = state.store.mfa_find(owner).await?.is_some_and(|t| t.confirmed_at.is_some());
        if !others && !totp {
            return Err(ApiError::Conflict(
                "this is your last second factor and `[mfa] required` is on: add another first, or ask an admin \
                 to reset it"
                    .into(),
            ));
        }
    }
    let record = caller
        .record(&caller.authorize_own_authentication(), state, AuditAction::MfaPasskeyRemove, format!("passkey:{id}"))
        .details(json!({"passkey_id": id.to_string(), "label": passkey.label}));
    match state.store.passkey_remove(owner, id, record).await {
        Err(gatehouse_domain::store::StoreError::NotFound { .. }) => Err(not_yours(id)),
        other => Ok(other?),
    }
}
