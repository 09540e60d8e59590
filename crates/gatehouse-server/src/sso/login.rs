//! `GET /auth/login`, `GET /auth/callback`, `POST /auth/logout`.

use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_domain::audit::{Actor, AuditAction, AuditRecord, Observation, Outcome, RequestOrigin, SystemWriter};
use gatehouse_domain::auth_failures::{CredentialKey, cap_echoed};
use gatehouse_domain::identity::{IdentityKind, NewIdentity};
use gatehouse_domain::ids::SessionId;
use gatehouse_domain::session::{NewSession, check_email_link};
use gatehouse_domain::store::StoreError;
use gatehouse_domain::token::TokenHash;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::cookies::{self, LOGIN};
use super::{OidcSettings, provider};
use crate::context::Origin;
use crate::problem::ApiError;
use crate::state::AppState;

/// What the login cookie carries, sealed.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
    expires: i64,
}

const LOGIN_SECONDS: i64 = 600;
const SEALED_FOR: &str = "gatehouse-oidc-login";

fn settings(state: &AppState) -> Result<OidcSettings, ApiError> {
    state
        .settings
        .oidc
        .clone()
        .ok_or_else(|| ApiError::NotFound("single sign-on is not configured ([oidc] issuer)".into()))
}

fn redirect(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
    response
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// Start a login: to the identity provider, with PKCE, state and nonce.
pub async fn login(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Result<Response, ApiError> {
    let oidc = settings(&state)?;
    let discovery = state.sso.discover(&oidc).await.map_err(ApiError::UpstreamUnavailable)?;
    // Only paths on this server, never another site (see `return_to.rs`).
    let return_to = super::return_to::safe_return_to(query.return_to.as_deref());
    let pending = Pending {
        state: cookies::new_secret(),
        nonce: cookies::new_secret(),
        verifier: cookies::new_secret(),
        return_to,
        expires: state.clock.now().unix_timestamp() + LOGIN_SECONDS,
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
    let sealed = state.settings.mfa.sealing_key.seal(&serde_json::to_vec(&pending).unwrap_or_default(), SEALED_FOR);
    let cookie = cookies::set(
        LOGIN,
        &URL_SAFE_NO_PAD.encode(sealed),
        "/auth",
        Some(LOGIN_SECONDS as u64),
        oidc.secure_cookies(),
    );
    let query = [
        ("response_type", "code"),
        ("client_id", oidc.client_id.as_str()),
        ("redirect_uri", oidc.redirect_url.as_str()),
        ("scope", "openid email profile"),
        ("state", pending.state.as_str()),
        ("nonce", pending.nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let encoded: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    let separator = if discovery.authorization_endpoint.contains('?') { '&' } else { '?' };
    Ok(redirect(&format!("{}{separator}{}", discovery.authorization_endpoint, encoded.join("&")), &[cookie]))
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Refuses a callback that proves nothing (no login in progress, a wrong
/// state, a code or ID token the provider does not back): through the
/// failure ledger, so a flood of forged callbacks is one entry and a count,
/// then 429 for the source.
async fn refuse(state: &AppState, origin: &RequestOrigin, reason: String) -> ApiError {
    let error = ApiError::Unauthorized(format!("login failed: {}", cap_echoed(&reason)));
    state.auth_failures.failed(state, origin, None, AuditAction::AuthLogin, &reason, error).await
}

/// Refuses a login the identity provider vouched for (nobody to sign in
/// as, a suspended person, a link refused): each one is its own entry.
async fn refuse_verified(state: &AppState, origin: &RequestOrigin, reason: String) -> ApiError {
    let observation = Observation::new(state.clock.now(), Actor::Anonymous, AuditAction::AuthLogin, "gatehouse")
        .origin(origin)
        .outcome(Outcome::Failure, reason.clone());
    match observation.append(&*state.store).await {
        Ok(_) => ApiError::Unauthorized(format!("login failed: {reason}")),
        Err(error) => ApiError::from(error),
    }
}

/// Finish a login: check state, exchange the code, verify the ID token,
/// find the person, start a session.
pub async fn callback(
    State(state): State<AppState>,
    Origin(origin): Origin,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let oidc = settings(&state)?;
    let clear_login = cookies::clear(LOGIN, "/auth", oidc.secure_cookies());
    let pending = cookies::read(&headers, LOGIN)
        .and_then(|raw| URL_SAFE_NO_PAD.decode(raw).ok())
        .and_then(|sealed| state.settings.mfa.sealing_key.open(&sealed, SEALED_FOR).ok())
        .and_then(|bytes| serde_json::from_slice::<Pending>(&bytes).ok());
    let Some(pending) = pending else {
        return Err(refuse(&state, &origin, "no login in progress (start at /auth/login)".into()).await);
    };
    if pending.expires < state.clock.now().unix_timestamp() {
        return Err(refuse(&state, &origin, "the login took too long; start again".into()).await);
    }
    if let Some(error) = query.error {
        return Err(refuse(
            &state,
            &origin,
            format!("the identity provider said `{}`", error.chars().take(64).collect::<String>()),
        )
        .await);
    }
    let given_state = query.state.unwrap_or_default();
    if !bool::from(given_state.as_bytes().ct_eq(pending.state.as_bytes())) {
        return Err(refuse(&state, &origin, "the state does not match this login".into()).await);
    }
    let code = query.code.ok_or_else(|| ApiError::BadRequest("the callback has no code".into()))?;
    // A throttled source gets no code exchanged with the provider.
    state.auth_failures.refuse_if_throttled(&state, &origin, &CredentialKey::of(code.as_bytes()))?;
    let discovery = state.sso.discover(&oidc).await.map_err(ApiError::UpstreamUnavailable)?;
    let tokens = match state.sso.exchange(&oidc, &discovery, &code, &pending.verifier).await {
        Ok(tokens) => tokens,
        Err(reason) => return Err(refuse(&state, &origin, reason).await),
    };
    let now = state.clock.now();
    let mut claims =
        match provider::verify_id_token(&oidc, &state.jwks, &tokens.id_token, &pending.nonce, now.unix_timestamp())
            .await
        {
            Ok(claims) => claims,
            Err(reason) => return Err(refuse(&state, &origin, reason).await),
        };
    if !claims.contains_key("email")
        && let Some(access) = &tokens.access_token
        && let Ok(info) = state.sso.userinfo(&discovery, access).await
        && info.get("sub") == claims.get("sub")
    {
        for key in ["email", "email_verified", "name"] {
            if let Some(value) = info.get(key) {
                claims.insert(key.to_owned(), value.clone());
            }
        }
    }
    let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_owned();
    let email = claims.get("email").and_then(Value::as_str).map(str::to_owned);
    let verified = claims.get("email_verified").and_then(|v| v.as_bool().or_else(|| v.as_str().map(|s| s == "true")))
        == Some(true);

    let linked = state.store.find_identity_link(&oidc.issuer, &subject).await?;
    let identity = match linked {
        Some(id) => state.store.find_identity(id).await?,
        // An account linked to nobody links by verified email once, and
        // never to a person already linked to another account. A person
        // without an email is found by no email.
        None => match (&email, verified) {
            (Some(email), true) => match state.store.find_human_by_email(email).await? {
                Some(found) => {
                    let links = state.store.list_identity_links(found.id).await?;
                    if let Err(refusal) = check_email_link(&links, &oidc.issuer, &subject) {
                        return Err(refuse_verified(&state, &origin, format!("`{email}`: {refusal}")).await);
                    }
                    Some(found)
                }
                None if oidc.auto_provision => {
                    let name = claims.get("name").and_then(Value::as_str).unwrap_or(email).to_owned();
                    let new = NewIdentity::new(IdentityKind::Human, &name, Some(email), now)?;
                    let resource = format!("identity:{}", new.id);
                    let record =
                        AuditRecord::system(SystemWriter::SsoLogin, now, AuditAction::IdentityCreate, resource)
                            .origin(&origin)
                            .details(json!({"kind": "human", "email": email, "provisioned_by": oidc.issuer}));
                    Some(state.store.create_identity(new, record).await?)
                }
                None => None,
            },
            _ => None,
        },
    };
    let Some(identity) = identity else {
        let who = email.unwrap_or_else(|| subject.clone());
        return Err(refuse_verified(
            &state,
            &origin,
            format!("no gatehouse identity for `{who}` (ask an admin, or link a verified email)"),
        )
        .await);
    };
    if !identity.status.is_active() {
        return Err(
            refuse_verified(&state, &origin, format!("`{}` is {}", identity.name, identity.status.as_str())).await
        );
    }

    let secret = cookies::new_secret();
    let session = NewSession {
        id: SessionId::new(),
        hash: TokenHash::of(&secret),
        identity_id: identity.id,
        created_at: now,
        expires_at: now + oidc.session_absolute,
        source_ip: origin.source_ip.clone(),
    };
    let actor = Actor::identity(&identity);
    let resource = format!("session:{}", session.id);
    let record = AuditRecord::system_for(SystemWriter::SsoLogin, actor, now, AuditAction::AuthLogin, resource)
        .origin(&origin)
        .details(json!({"issuer": oidc.issuer, "subject": subject, "session_id": session.id.to_string()}));
    match state.store.create_session(session, Some((oidc.issuer.clone(), subject)), record).await {
        Ok(_) => {}
        // Another login linked this person first.
        Err(StoreError::Conflict(reason)) => return Err(refuse_verified(&state, &origin, reason.to_string()).await),
        Err(error) => return Err(error.into()),
    }
    let session_cookie = cookies::set_session(&secret, oidc.secure_cookies());
    Ok(redirect(&pending.return_to, &[clear_login, session_cookie]))
}

/// End the session of the cookie.
pub async fn logout(State(state): State<AppState>, caller: crate::auth::Caller) -> Result<Response, ApiError> {
    let clear = end_session(&state, &caller).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(response)
}

/// Revokes the caller's session: the `Set-Cookie` value that clears it.
pub(crate) async fn end_session(state: &AppState, caller: &crate::auth::Caller) -> Result<String, ApiError> {
    let oidc = settings(state)?;
    let crate::auth::Via::Session(session) = caller.via() else {
        return Err(ApiError::BadRequest(
            "logout ends a browser session; revoke tokens with DELETE /api/v1/tokens/{id}".into(),
        ));
    };
    let record = caller.record(
        &caller.authorize_own_authentication(),
        state,
        AuditAction::AuthLogout,
        format!("session:{}", session.id),
    );
    state.store.revoke_session(session.id, state.clock.now(), record).await?;
    Ok(cookies::clear_session(oidc.secure_cookies()))
}
