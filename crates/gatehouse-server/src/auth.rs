//! Authentication: who is calling. A request carries `Authorization: Bearer
//! <token>`; the token is looked up by its hash, compared in constant time,
//! and must be unrevoked, unexpired and owned by an active identity. A
//! presented credential that fails goes to [`crate::auth_throttle`]: a
//! source's first failure in a window is an audit entry with actor
//! `anonymous`, the rest one summary, and beyond the limit 429. Then
//! [`Caller::authorize`] decides what the caller may do, and returns the
//! [`Authorized`] that the audit record of any write must be made from.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use gatehouse_domain::audit::{Actor, AuditAction, AuditRecord, Observation, Outcome, RequestOrigin};
use gatehouse_domain::auth_failures::{CredentialKey, cap_echoed};
use gatehouse_domain::authorization::{Action, Authorized, Basis};
use gatehouse_domain::delegation::{DelegationError, Holder};
use gatehouse_domain::grant::{Grant, OwnedKind, Resource};
use gatehouse_domain::identity::Identity;
use gatehouse_domain::session::Session;
use gatehouse_domain::token::{ApiToken, TokenHash, TokenStatus, looks_like_token};
use gatehouse_domain::workload::check_acting_as;
use gatehouse_policy::{DecisionError, DecisionInput, ServerFacts};
use serde_json::json;

use crate::context::origin_of;
use crate::problem::ApiError;
use crate::state::AppState;
use crate::workload::cache::token_key;
use crate::workload::{Refusal, VerifiedWorkload, looks_like_jwt, verify as verify_workload};

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    identity: Identity,
    via: Via,
    grants: Vec<Grant>,
    origin: RequestOrigin,
    /// Whether the identity has a confirmed second factor.
    mfa_enrolled: bool,
    /// How long a second factor stays fresh (`[mfa] fresh_for`).
    mfa_window: time::Duration,
}

/// The credential a caller presented.
#[derive(Debug, Clone)]
pub enum Via {
    /// A gatehouse API token (possibly obtained by a CI job's exchange).
    Token(ApiToken),
    /// A CI job's OIDC token, presented directly.
    CiToken(Box<VerifiedWorkload>),
    /// A person's browser session (single sign-on).
    Session(Box<Session>),
}

impl Caller {
    /// Who is calling.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The credential the caller presented.
    pub fn via(&self) -> &Via {
        &self.via
    }

    /// The caller's live grants, as of authentication.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Where the request came from.
    pub fn origin(&self) -> &RequestOrigin {
        &self.origin
    }

    /// Whether the identity has a confirmed second factor.
    pub fn mfa_enrolled(&self) -> bool {
        self.mfa_enrolled
    }

    /// How the caller authenticated, as policies see it: `token`, or
    /// `workload` for a CI job (its OIDC token, or a token it exchanged
    /// one for).
    /// Whether this person proved a second factor with this credential
    /// within the freshness window.
    pub fn mfa_fresh(&self, state: &AppState) -> bool {
        self.mfa_verified_at().is_some_and(|at| state.clock.now() - at <= self.mfa_window)
    }

    /// Refuses with 403 `mfa-required` unless the caller has fresh MFA.
    pub async fn require_fresh_mfa(&self, state: &AppState, action: AuditAction) -> Result<(), ApiError> {
        if self.mfa_fresh(state) {
            return Ok(());
        }
        self.observe(state, action, "gatehouse")
            .outcome(Outcome::Denied, "a fresh second factor is required")
            .append(&*state.store)
            .await?;
        Err(ApiError::MfaRequired(format!(
            "`{action}` needs a second factor verified within {} minutes: POST /api/v1/mfa/verify",
            state.settings.mfa.fresh_for.whole_minutes()
        )))
    }

    /// Refuses with 403 `mfa-required` when step-up is on, the caller is a
    /// person, and their second factor is not fresh: for what is not a
    /// policy action but hands on a credential (a signing key, say).
    pub async fn require_step_up(&self, state: &AppState, action: AuditAction) -> Result<(), ApiError> {
        if state.settings.mfa.step_up && self.identity.kind == gatehouse_domain::identity::IdentityKind::Human {
            self.require_fresh_mfa(state, action).await?;
        }
        Ok(())
    }

    /// The caller as delegation sees it: its identity and grants.
    pub fn holder(&self) -> Holder<'_> {
        Holder::new(self.identity.id, &self.grants)
    }

    /// Turns a refused delegation into an audited 403.
    pub async fn check_delegation(
        &self,
        state: &AppState,
        action: AuditAction,
        resource: impl Into<String>,
        checked: Result<(), DelegationError>,
    ) -> Result<(), ApiError> {
        let Err(refusal) = checked else { return Ok(()) };
        self.refuse(state, action, resource, refusal.to_string()).await
    }

    /// An audited 403 with `detail`.
    pub async fn refuse<T>(
        &self,
        state: &AppState,
        action: AuditAction,
        resource: impl Into<String>,
        detail: String,
    ) -> Result<T, ApiError> {
        self.observe(state, action, resource).outcome(Outcome::Denied, detail.clone()).append(&*state.store).await?;
        Err(ApiError::Forbidden(detail))
    }

    /// Whether the caller is a CI job (its OIDC token, or a token it
    /// exchanged one for).
    pub fn is_workload(&self) -> bool {
        self.auth_method() == "workload"
    }

    pub fn auth_method(&self) -> &'static str {
        match &self.via {
            Via::Token(token) if token.trust_binding_id.is_none() => "token",
            Via::Token(_) | Via::CiToken(_) => "workload",
            Via::Session(_) => "session",
        }
    }

    pub fn actor(&self) -> Actor {
        Actor::identity(&self.identity)
    }

    /// The audit record of a write this caller was authorized for, from
    /// this request.
    pub fn record(
        &self,
        authorized: &Authorized,
        state: &AppState,
        action: AuditAction,
        resource: impl Into<String>,
    ) -> AuditRecord {
        AuditRecord::authorized(authorized, state.clock.now(), action, resource)
    }

    /// An observation by this caller, from this request: a refusal, a
    /// decision, a verification (appended on its own, never with a write).
    pub fn observe(&self, state: &AppState, action: AuditAction, resource: impl Into<String>) -> Observation {
        Observation::new(state.clock.now(), self.actor(), action, resource).origin(&self.origin)
    }

    fn authorized(&self, basis: Basis) -> Authorized {
        // INVARIANT: the only place an `Authorized` is made; every caller of
        // this function has just decided (a policy decision, or the caller
        // acting on its own authentication).
        #[allow(clippy::disallowed_methods, reason = "the one place a decision becomes an `Authorized`")]
        Authorized::unchecked_new(
            self.actor(),
            self.origin.clone(),
            basis,
            self.mfa_verified_at().map(|at| at + self.mfa_window),
        )
    }

    /// Whether the policies allow the caller `action` on `resource`, asked
    /// silently (no entry, no step-up): to choose what a read shows, never
    /// to allow a write.
    pub fn may(&self, state: &AppState, action: Action, resource: &Resource) -> bool {
        self.allowed_silently(state, action, resource, false)
    }

    /// Like [`Caller::may`], but a stale second factor counts against the
    /// caller where the server's step-up setting asks for a fresh one.
    pub fn may_as_configured(&self, state: &AppState, action: Action, resource: &Resource) -> bool {
        self.allowed_silently(state, action, resource, state.settings.mfa.step_up)
    }

    fn allowed_silently(&self, state: &AppState, action: Action, resource: &Resource, step_up: bool) -> bool {
        state
            .policies
            .current()
            .decide(&DecisionInput {
                principal: &self.identity,
                grants: &self.grants,
                action,
                resource,
                now: state.clock.now(),
                auth_method: self.auth_method(),
                mfa_fresh: self.mfa_fresh(state),
                step_up,
                source_ip: self.origin.source_ip.as_deref(),
                principal_is_caller: true,
                caller_context: None,
            })
            .is_ok_and(|decision| decision.is_allowed())
    }

    /// For a read: decides like [`Caller::authorize`] and keeps nothing.
    pub async fn authorize_read(&self, state: &AppState, action: Action, resource: Resource) -> Result<(), ApiError> {
        let _read_only: Authorized = self.authorize(state, action, resource).await?;
        Ok(())
    }

    /// The caller acting on its own authentication: enrolling or verifying
    /// its second factor, rotating or ending its session. Needs no policy:
    /// authenticating as this identity is the check.
    pub fn authorize_own_authentication(&self) -> Authorized {
        self.authorized(Basis::OwnAuthentication)
    }

    /// The caller acting as an approval rule allows (asking under it,
    /// cancelling its own request, an after-review): the checks are the
    /// rule's, made by the approvals module before this is asked for.
    pub fn authorize_under_rule(&self) -> Authorized {
        self.authorized(Basis::ApprovalRule)
    }

    /// The caller deciding a review item the campaign assigned to it: the
    /// checks are `review::check_decision`'s, made before this is asked for.
    pub fn authorize_as_reviewer(&self) -> Authorized {
        self.authorized(Basis::ReviewAssignment)
    }

    /// The caller after it proved a second factor at `at` within this
    /// request (the store has recorded it): what follows counts it fresh.
    pub(crate) fn stepped_up(mut self, at: time::OffsetDateTime) -> Self {
        match &mut self.via {
            Via::Token(token) => token.mfa_verified_at = Some(at),
            Via::Session(session) => session.mfa_verified_at = Some(at),
            Via::CiToken(_) => {}
        }
        self
    }

    /// When this caller's credential last proved a second factor (never,
    /// for a CI job).
    pub fn mfa_verified_at(&self) -> Option<time::OffsetDateTime> {
        match &self.via {
            Via::Token(token) => token.mfa_verified_at,
            Via::Session(session) => session.mfa_verified_at,
            Via::CiToken(_) => None,
        }
    }

    /// Decides whether the caller may perform `action` on `resource`. A
    /// refusal is audited and answered with 403; a permit is the
    /// [`Authorized`] a write's audit record is made from.
    pub async fn authorize(
        &self,
        state: &AppState,
        action: Action,
        resource: Resource,
    ) -> Result<Authorized, ApiError> {
        if needs_step_up(state, &self.identity, action, &resource, self.mfa_fresh(state)) {
            self.require_fresh_mfa(state, action.into()).await?;
        }
        let policies = state.policies.current();
        let standing = crate::vendors::decision_standing(state, &self.identity).await?;
        let facts = ServerFacts {
            integration: standing.as_ref().map(crate::vendors::DecisionStanding::for_policy),
            ..ServerFacts::default()
        };
        let decision = policies
            .decide_with(
                &DecisionInput {
                    principal: &self.identity,
                    grants: &self.grants,
                    action,
                    resource: &resource,
                    now: state.clock.now(),
                    auth_method: self.auth_method(),
                    mfa_fresh: self.mfa_fresh(state),
                    step_up: state.settings.mfa.step_up,
                    source_ip: self.origin.source_ip.as_deref(),
                    principal_is_caller: true,
                    caller_context: None,
                },
                &facts,
            )
            .map_err(|error| match error {
                DecisionError::InvalidRequest(detail) => ApiError::Unprocessable(detail),
                DecisionError::Evaluation(cause) => ApiError::Internal(cause),
            })?;
        // A pipeline change nobody approved yet holds its project's deployments.
        let held = if decision.is_allowed() {
            crate::reviews::triggers::deployment_hold(state, action, &resource).await?
        } else {
            None
        };
        if let Some(reason) = held {
            self.observe(state, action.into(), resource.to_string())
                .outcome(Outcome::Denied, reason.clone())
                .details(json!({ "reasons": [reason.clone()] }))
                .append(&*state.store)
                .await?;
            return Err(ApiError::Forbidden(format!("`{action}` on `{resource}` is held: {reason}")));
        }
        match decision.permit() {
            Ok(permit) => Ok(self.authorized(Basis::Policy(permit.action()))),
            Err(denied) => {
                let reasons: Vec<String> = denied.reasons.iter().map(ToString::to_string).collect();
                self.observe(state, action.into(), resource.to_string())
                    .outcome(Outcome::Denied, reasons.join("; "))
                    .details(json!({ "reasons": reasons }))
                    .append(&*state.store)
                    .await?;
                let step_up = gatehouse_policy::Reason::Policy { id: "mfa-required".into(), permit: false };
                if denied.reasons.contains(&step_up) {
                    return Err(ApiError::MfaRequired(format!(
                        "`{action}` needs a second factor verified within {} minutes: POST /api/v1/mfa/verify",
                        state.settings.mfa.fresh_for.whole_minutes()
                    )));
                }
                Err(ApiError::Forbidden(format!("`{}` may not `{action}` on `{resource}`", self.identity.name)))
            }
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate_request(parts, state, false).await
    }
}

/// Actions that change who may do what, or approve what ships: a person
/// needs a fresh second factor for them when step-up is on.
pub fn is_privileged(action: Action) -> bool {
    matches!(
        action,
        Action::GrantManage
            | Action::IdentityManage
            | Action::PolicyManage
            | Action::AccessApprove
            | Action::VendorManage
            | Action::DeploymentApprove
            | Action::PipelineConfigEdit
    )
}

/// Whether step-up refuses `principal` this privileged `action` on
/// `resource` for want of a fresh second factor: step-up is on, the
/// principal is a person, none was proved, and it is not the principal
/// ending its own token or session (which only takes power away). The
/// default policies' `mfa-required` guard says the same; this holds it for
/// folders written before the guard existed.
pub fn needs_step_up(
    state: &AppState,
    principal: &Identity,
    action: Action,
    resource: &Resource,
    mfa_fresh: bool,
) -> bool {
    let ends_own_credential = matches!(
        resource,
        Resource::Owned { kind: OwnedKind::Token | OwnedKind::Session, owner, .. } if *owner == principal.id
    );
    state.settings.mfa.step_up
        && principal.kind == gatehouse_domain::identity::IdentityKind::Human
        && is_privileged(action)
        && !ends_own_credential
        && !mfa_fresh
}

/// The reason a decision gives when step-up refused it.
pub const STEP_UP_REASON: &str =
    "forbidden by policy `mfa-required` (a fresh second factor is needed: POST /api/v1/mfa/verify)";

/// A caller of the endpoints that also take a CI job's OIDC token directly
/// as its bearer: `POST /api/v1/authorize`, and the gate's own request
/// through the approved channel (asking, reading it, waiting for it).
pub struct DecisionCaller(pub Caller);

impl FromRequestParts<AppState> for DecisionCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        authenticate_request(parts, state, true).await.map(DecisionCaller)
    }
}

async fn authenticate_request(parts: &Parts, state: &AppState, accept_ci_token: bool) -> Result<Caller, ApiError> {
    let origin = origin_of(parts);
    let Some(header) = parts.headers.get(AUTHORIZATION) else {
        if let Some(secret) = crate::sso::cookies::read_session(&parts.headers, state.settings.oidc.as_ref()) {
            return authenticate_session(parts, state, &secret, origin).await;
        }
        return Err(ApiError::Unauthorized("this endpoint needs `Authorization: Bearer <token>` or a session".into()));
    };
    let presented = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim);
    let outcome = match presented {
        None => Err("the Authorization header is not a Bearer credential"),
        Some(token) if looks_like_jwt(token) => {
            if !accept_ci_token {
                return Err(ApiError::Unauthorized(
                    "a CI token is accepted only by POST /api/v1/authorize; exchange it at POST /api/v1/auth/workload"
                        .into(),
                ));
            }
            let (workload, identity, grants) = authenticate_workload(state, token, &origin).await?;
            return Ok(Caller {
                identity,
                via: Via::CiToken(Box::new(workload)),
                grants,
                origin,
                mfa_enrolled: false,
                mfa_window: state.settings.mfa.fresh_for,
            });
        }
        Some(token) if !looks_like_token(token) => Err("the bearer credential is not a gatehouse token"),
        Some(token) => authenticate(state, token).await?,
    };
    match outcome {
        Ok((identity, token, grants, mfa_enrolled)) => {
            if token.last_used_at.is_none_or(|at| state.clock.now() - at >= state.settings.token_use_granularity) {
                let store = state.store.clone();
                let (id, now, granularity) = (token.id, state.clock.now(), state.settings.token_use_granularity);
                state.background.spawn(async move {
                    if let Err(error) = store.record_token_use(id, now, granularity).await {
                        tracing::warn!(%error, token_id = %id, "could not record token use");
                    }
                });
            }
            let caller = Caller {
                identity,
                via: Via::Token(token),
                grants,
                origin,
                mfa_enrolled,
                mfa_window: state.settings.mfa.fresh_for,
            };
            require_enrollment(parts, state, &caller)?;
            Ok(caller)
        }
        Err(reason) => {
            let credential = CredentialKey::of(header.as_bytes());
            let error = ApiError::Unauthorized(format!("authentication failed: {reason}"));
            Err(state
                .auth_failures
                .failed(state, &origin, Some(&credential), AuditAction::AuthToken, reason, error)
                .await)
        }
    }
}

/// Where a person without a second factor may go when one is required:
/// seeing who they are, enrolling, and leaving.
pub(crate) const ENROLLMENT_PATHS: [(&str, &str); 10] = [
    ("GET", "/api/v1/whoami"),
    ("POST", "/api/v1/mfa/totp"),
    ("POST", "/api/v1/mfa/totp/confirm"),
    ("POST", "/api/v1/mfa/webauthn/register/start"),
    ("POST", "/api/v1/mfa/webauthn/register/finish"),
    ("POST", "/auth/logout"),
    ("GET", "/ui/mfa"),
    ("POST", "/ui/mfa/totp"),
    ("POST", "/ui/mfa/totp/confirm"),
    ("POST", "/ui/sign-out"),
];

fn require_enrollment(parts: &Parts, state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if !state.settings.mfa.required
        || caller.mfa_enrolled
        || caller.identity.kind != gatehouse_domain::identity::IdentityKind::Human
    {
        return Ok(());
    }
    // Nested routers see a shortened path; the original one is what counts.
    let path =
        parts.extensions.get::<axum::extract::OriginalUri>().map_or_else(|| parts.uri.path(), |uri| uri.0.path());
    let here = (parts.method.as_str(), path);
    if ENROLLMENT_PATHS.iter().any(|(method, path)| here == (*method, *path)) {
        return Ok(());
    }
    Err(ApiError::MfaRequired(
        "enroll a second factor first: POST /api/v1/mfa/totp, then POST /api/v1/mfa/totp/confirm \
         (or register a passkey: POST /api/v1/mfa/webauthn/register/start, then …/finish)"
            .into(),
    ))
}

/// A person in the web console: their session cookie only (the console
/// never takes a bearer token), with the same checks as the API's.
pub async fn authenticate_browser(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    if parts.headers.contains_key(AUTHORIZATION) {
        return Err(ApiError::BadRequest("the console signs in with your session, not a bearer token".into()));
    }
    let Some(secret) = crate::sso::cookies::read_session(&parts.headers, state.settings.oidc.as_ref()) else {
        return Err(ApiError::Unauthorized("sign in first".into()));
    };
    authenticate_session(parts, state, &secret, origin_of(parts)).await
}

/// A browser session from its cookie. A state-changing request must carry
/// the server's own `Origin` (the cookie alone could be a cross-site forgery).
async fn authenticate_session(
    parts: &Parts,
    state: &AppState,
    secret: &str,
    origin: RequestOrigin,
) -> Result<Caller, ApiError> {
    let Some(oidc) = state.settings.oidc.as_ref() else {
        return Err(ApiError::Unauthorized("sessions are not enabled; use `Authorization: Bearer <token>`".into()));
    };
    let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let sent = parts.headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok());
        if sent != Some(oidc.origin().as_str()) {
            return Err(ApiError::Forbidden(format!(
                "a cookie-authenticated `{}` must carry `Origin: {}`",
                parts.method,
                oidc.origin()
            )));
        }
    }
    let now = state.clock.now();
    let audit_origin = origin.clone();
    let credential = CredentialKey::of(secret);
    let refused = |reason: &'static str| async move {
        let error = ApiError::Unauthorized(format!("authentication failed: {reason}"));
        Err::<Caller, ApiError>(
            state
                .auth_failures
                .failed(state, &audit_origin, Some(&credential), AuditAction::AuthSession, reason, error)
                .await,
        )
    };
    let Some(found) = state.store.find_session(&TokenHash::of(secret)).await? else {
        return refused("unknown session").await;
    };
    let (session, identity, grants, mfa_enrolled) = (found.session, found.identity, found.grants, found.mfa_enrolled);
    let idle = time::Duration::try_from(oidc.session_idle).unwrap_or(time::Duration::hours(8));
    if !session.is_live_at(now, idle) {
        return refused("the session has ended").await;
    }
    if !identity.status.is_active() {
        return refused("the session's identity is not active").await;
    }
    if now - session.last_seen_at >= state.settings.token_use_granularity {
        let store = state.store.clone();
        let (id, granularity) = (session.id, state.settings.token_use_granularity);
        state.background.spawn(async move {
            if let Err(error) = store.touch_session(id, now, granularity).await {
                tracing::warn!(%error, "could not record session use");
            }
        });
    }
    let caller = Caller {
        identity,
        via: Via::Session(Box::new(session)),
        grants,
        origin: origin.clone(),
        mfa_enrolled,
        mfa_window: state.settings.mfa.fresh_for,
    };
    require_enrollment(parts, state, &caller)?;
    Ok(caller)
}

/// Verifies a CI job's OIDC token and loads the identity its binding names.
/// Every refusal is an audit entry with actor `anonymous` and a 401 (503
/// when the issuer's keys cannot be fetched) whose detail names the check.
pub async fn authenticate_workload(
    state: &AppState,
    presented: &str,
    origin: &RequestOrigin,
) -> Result<(VerifiedWorkload, Identity, Vec<Grant>), ApiError> {
    let credential = CredentialKey::of(presented);
    let refuse = |reason: String, unavailable: bool| async move {
        // A forged token's issuer, kid or alg is attacker text: capped.
        let reason = cap_echoed(&reason);
        let error = if unavailable {
            ApiError::UpstreamUnavailable(format!("workload authentication is unavailable: {reason}"))
        } else {
            ApiError::Unauthorized(format!("workload authentication failed: {reason}"))
        };
        Err(state
            .auth_failures
            .failed(state, origin, Some(&credential), AuditAction::AuthWorkload, &reason, error)
            .await)
    };
    let now = state.clock.now();
    let key = token_key(presented);
    let stamp = state.engine.credential_stamp().await?.map(|generation| (generation, state.jwks.epoch()));
    if let Some(stamp) = stamp
        && let Some(found) = state.verified.get(&key, stamp, now)
    {
        return Ok((*found).clone());
    }
    // A throttled source or token is refused before its signature is
    // checked; a token verified earlier (above) still works.
    state.auth_failures.refuse_if_throttled(state, origin, &credential)?;
    let workload = match verify_workload(&*state.store, &state.jwks, presented, now).await {
        Ok(workload) => workload,
        Err(Refusal::Invalid(reason)) => return refuse(reason, false).await,
        Err(Refusal::IssuerUnavailable(reason)) => return refuse(reason, true).await,
    };
    let Some(identity) = state.store.find_identity(workload.binding.identity_id).await? else {
        return refuse(format!("the identity of binding {} no longer exists", workload.binding.id), false).await;
    };
    if let Err(refusal) = check_acting_as(&identity, workload.binding.id) {
        return refuse(refusal.to_string(), false).await;
    }
    let grants = state.store.list_grants_of(identity.id).await?;
    let authenticated = (workload, identity, grants);
    if let Some(stamp) = stamp {
        state.verified.put(key, stamp, Arc::new(authenticated.clone()));
    }
    Ok(authenticated)
}

type Authenticated = (Identity, ApiToken, Vec<Grant>, bool);

async fn authenticate(state: &AppState, presented: &str) -> Result<Result<Authenticated, &'static str>, ApiError> {
    let hash = TokenHash::of(presented);
    let Some(credential) = state.store.find_credential(&hash).await? else {
        return Ok(Err("unknown token"));
    };
    if !credential.hash.matches(&hash) {
        return Ok(Err("unknown token"));
    }
    match credential.token.status_at(state.clock.now()) {
        TokenStatus::Active => {}
        TokenStatus::Expired => return Ok(Err("the token has expired")),
        TokenStatus::Revoked => return Ok(Err("the token has been revoked")),
    }
    if !credential.identity.status.is_active() {
        return Ok(Err(match credential.identity.status {
            gatehouse_domain::identity::IdentityStatus::Suspended => "the token's identity is suspended",
            _ => "the token's identity is deprovisioned",
        }));
    }
    Ok(Ok((credential.identity, credential.token, credential.grants, credential.mfa_enrolled)))
}
