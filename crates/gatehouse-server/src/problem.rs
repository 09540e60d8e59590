//! The one error type of the HTTP API. Every failure renders as RFC 9457
//! `application/problem+json` with `type`, `title`, `status` and `detail`.
//! A 5xx body stays generic: its cause is logged once, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_domain::store::StoreError;
use serde::Serialize;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// Malformed input: bad syntax, a bad id, a bad query parameter.
    BadRequest(String),
    /// Well-formed input that breaks a rule (wrong type, unknown field, TTL
    /// out of bounds).
    Unprocessable(String),
    Unauthorized(String),
    Forbidden(String),
    /// A privileged action by a person without a recent second factor:
    /// 403 with a problem type ending in `mfa-required`.
    MfaRequired(String),
    /// A vote by someone the approval rule or the policy does not let
    /// vote: 403 with a problem type ending in `not-eligible`.
    NotEligible(String),
    /// Too many failed attempts: 429 with `Retry-After` (seconds).
    TooManyRequests(String, u64),
    NotFound(String),
    MethodNotAllowed,
    Conflict(String),
    PayloadTooLarge(String),
    UnsupportedMediaType(String),
    Unavailable(String),
    /// `/readyz`: the server cannot serve now, and the detail (fixed words
    /// chosen by the store, never a raw cause) says why.
    NotReady(String),
    /// Something outside gatehouse that this request needs (an OIDC issuer)
    /// cannot be reached; the detail says what, and is shown.
    UpstreamUnavailable(String),
    /// An outside service (GitHub) answered badly; the detail is shown.
    BadGateway(String),
    /// A bug or an unexpected failure. The text is logged, not sent.
    Internal(String),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::MfaRequired(_) | ApiError::NotEligible(_) => StatusCode::FORBIDDEN,
            ApiError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::NotReady(_) | ApiError::UpstreamUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unprocessable(_) => "invalid-input",
            ApiError::Unauthorized(_) => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::MfaRequired(_) => "mfa-required",
            ApiError::NotEligible(_) => "not-eligible",
            ApiError::TooManyRequests(..) => "too-many-requests",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed => "method-not-allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::NotReady(_) => "not-ready",
            ApiError::UpstreamUnavailable(_) => "upstream-unavailable",
            ApiError::BadGateway(_) => "bad-gateway",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn detail(&self) -> &str {
        match self {
            ApiError::BadRequest(detail)
            | ApiError::Unprocessable(detail)
            | ApiError::Unauthorized(detail)
            | ApiError::Forbidden(detail)
            | ApiError::MfaRequired(detail)
            | ApiError::NotEligible(detail)
            | ApiError::TooManyRequests(detail, _)
            | ApiError::NotFound(detail)
            | ApiError::Conflict(detail)
            | ApiError::PayloadTooLarge(detail)
            | ApiError::UnsupportedMediaType(detail)
            | ApiError::NotReady(detail)
            | ApiError::UpstreamUnavailable(detail)
            | ApiError::BadGateway(detail) => detail,
            ApiError::MethodNotAllowed => "this method is not allowed on this path",
            ApiError::Unavailable(_) => "the service is temporarily unavailable; try again",
            ApiError::Internal(_) => "an internal error occurred; the request id identifies it in the server log",
        }
    }
}

/// The cause of a 5xx, kept on the response for the logging middleware.
#[derive(Debug, Clone)]
pub struct ErrorCause(pub String);

pub fn problem_type(slug: &str) -> String {
    format!("urn:gatehouse:problem:{slug}")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let problem = Problem {
            kind: problem_type(self.slug()),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: self.detail(),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE));
        match &self {
            ApiError::Unauthorized(_) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"gatehouse\""));
            }
            ApiError::TooManyRequests(_, seconds) => {
                if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            ApiError::Internal(cause) | ApiError::Unavailable(cause) | ApiError::NotReady(cause) => {
                response.extensions_mut().insert(ErrorCause(cause.clone()));
            }
            _ => {}
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { kind, id } => ApiError::NotFound(format!("{kind} `{id}` not found")),
            StoreError::Conflict(conflict) => ApiError::Conflict(conflict.to_string()),
            StoreError::Unavailable(cause) => ApiError::Unavailable(cause),
            StoreError::Other(cause) => ApiError::Internal(cause),
        }
    }
}

// Domain rule refusals (`gatehouse_domain::{identity, token, grant, workload}`):
// each is a conflict with the state things are in, and its message is the
// sentence shown.

impl From<gatehouse_domain::identity::StatusChangeError> for ApiError {
    fn from(error: gatehouse_domain::identity::StatusChangeError) -> Self {
        ApiError::Conflict(error.to_string())
    }
}

impl From<gatehouse_domain::token::TokenOwnerError> for ApiError {
    fn from(error: gatehouse_domain::token::TokenOwnerError) -> Self {
        ApiError::Conflict(error.to_string())
    }
}

impl From<gatehouse_domain::grant::GrantHolderError> for ApiError {
    fn from(error: gatehouse_domain::grant::GrantHolderError) -> Self {
        ApiError::Conflict(error.to_string())
    }
}

impl From<gatehouse_domain::workload::CiJobIdentityError> for ApiError {
    fn from(error: gatehouse_domain::workload::CiJobIdentityError) -> Self {
        ApiError::Conflict(error.to_string())
    }
}

// How each domain refusal is answered. The matches name every variant, so
// a new one does not compile until someone decides its status.

impl From<gatehouse_domain::identity::IdentityError> for ApiError {
    fn from(error: gatehouse_domain::identity::IdentityError) -> Self {
        use gatehouse_domain::identity::IdentityError::*;
        match error {
            UnknownKind(_) | UnknownStatus(_) | InvalidName | InvalidEmail(_) | EmailRequired | EmailNotAllowed => {
                ApiError::Unprocessable(error.to_string())
            }
        }
    }
}

impl From<gatehouse_domain::grant::GrantError> for ApiError {
    fn from(error: gatehouse_domain::grant::GrantError) -> Self {
        use gatehouse_domain::grant::GrantError::*;
        match error {
            UnknownRole(_) | InvalidScope(_) | InvalidResource(_) | UndefinedRole(_) | InvalidExpiry(_)
            | ExpiryNotInFuture(_) => ApiError::Unprocessable(error.to_string()),
        }
    }
}

impl From<gatehouse_domain::token::TokenError> for ApiError {
    fn from(error: gatehouse_domain::token::TokenError) -> Self {
        use gatehouse_domain::token::TokenError::*;
        match error {
            TtlTooShort { .. } | TtlTooLong { .. } | InvalidDescription => ApiError::Unprocessable(error.to_string()),
        }
    }
}

impl From<gatehouse_domain::workload::BindingError> for ApiError {
    fn from(error: gatehouse_domain::workload::BindingError) -> Self {
        use gatehouse_domain::workload::BindingError::*;
        match error {
            InvalidIssuer(_) | InvalidAudience | NoConditions | InvalidClaimName(_) | InvalidCondition(_)
            | InvalidTtl => ApiError::Unprocessable(error.to_string()),
        }
    }
}

impl From<gatehouse_domain::scim::control::LinkError> for ApiError {
    fn from(error: gatehouse_domain::scim::control::LinkError) -> Self {
        use gatehouse_domain::scim::control::LinkError::*;
        match error {
            AlreadyManaged(_) => ApiError::Conflict(error.to_string()),
            NotHuman(_) | Deprovisioned(_) | UserNameRequired(_) | InvalidUserName(_) => {
                ApiError::Unprocessable(error.to_string())
            }
        }
    }
}

impl From<gatehouse_domain::access::RequestError> for ApiError {
    fn from(error: gatehouse_domain::access::RequestError) -> Self {
        use gatehouse_domain::access::RequestError as E;
        let detail = error.to_string();
        match error {
            E::NotEligible(_) => ApiError::NotEligible(detail),
            E::MfaRequired { .. } => ApiError::MfaRequired(format!("{detail}: POST /api/v1/mfa/verify")),
            E::NotPending(_) | E::StaleDigest { .. } | E::AlreadyVoted | E::InvalidTransition { .. } => {
                ApiError::Conflict(detail)
            }
            // A rule that passed its load checks cannot fail to count.
            E::Rule(_) => ApiError::Internal(detail),
        }
    }
}

impl From<gatehouse_domain::access::AskError> for ApiError {
    fn from(error: gatehouse_domain::access::AskError) -> Self {
        ApiError::Unprocessable(error.to_string())
    }
}

impl From<gatehouse_domain::access::AccessDurationError> for ApiError {
    fn from(error: gatehouse_domain::access::AccessDurationError) -> Self {
        ApiError::Unprocessable(error.to_string())
    }
}

impl From<gatehouse_domain::access::BreakGlassError> for ApiError {
    fn from(error: gatehouse_domain::access::BreakGlassError) -> Self {
        use gatehouse_domain::access::BreakGlassError as E;
        let detail = error.to_string();
        match error {
            E::MissingIncident | E::MissingReason | E::NotAllowed(_) | E::DurationOutOfRange { .. } => {
                ApiError::Unprocessable(detail)
            }
            E::NotMember(_) | E::SelfReview | E::NotReviewer(_) => ApiError::NotEligible(detail),
            E::AlreadyReviewed | E::ReviewComplete => ApiError::Conflict(detail),
        }
    }
}

impl From<gatehouse_domain::authorization::UnknownAction> for ApiError {
    fn from(error: gatehouse_domain::authorization::UnknownAction) -> Self {
        ApiError::Unprocessable(error.to_string())
    }
}

impl From<gatehouse_policy::DecisionError> for ApiError {
    fn from(error: gatehouse_policy::DecisionError) -> Self {
        match error {
            gatehouse_policy::DecisionError::InvalidRequest(detail) => ApiError::Unprocessable(detail),
            gatehouse_policy::DecisionError::Evaluation(cause) => ApiError::Internal(cause),
        }
    }
}

/// A wrong second-factor code, once its failure is counted and audited.
impl From<gatehouse_mfa::totp::CodeError> for ApiError {
    fn from(error: gatehouse_mfa::totp::CodeError) -> Self {
        match error {
            gatehouse_mfa::totp::CodeError::Replayed => ApiError::Conflict(error.to_string()),
            gatehouse_mfa::totp::CodeError::Invalid => ApiError::Forbidden(error.to_string()),
        }
    }
}

/// A refused passkey ceremony, once audited: the response's faults are the
/// client's (403, 422), a missing relying party the configuration's (409).
impl From<gatehouse_mfa::PasskeyError> for ApiError {
    fn from(error: gatehouse_mfa::PasskeyError) -> Self {
        use gatehouse_mfa::PasskeyError::*;
        match error {
            MalformedResponse(_) => ApiError::Unprocessable(error.to_string()),
            AlreadyRegistered => ApiError::Conflict(error.to_string()),
            Configuration { .. } => ApiError::Conflict(format!(
                "{error}; set `public_url` in the config file (GATEHOUSE_PUBLIC_URL) to the address people open"
            )),
            CorruptState(_) => ApiError::Internal(error.to_string()),
            WrongOrigin | WrongRelyingParty | WrongChallenge | UserNotVerified | UnknownCredential
            | CounterRegressed | Refused(_) => ApiError::Forbidden(error.to_string()),
        }
    }
}

/// A public key that cannot be registered. A revoked OpenPGP key is
/// audited by its handler before it answers.
impl From<gatehouse_signing::KeyError> for ApiError {
    fn from(error: gatehouse_signing::KeyError) -> Self {
        use gatehouse_signing::KeyError::*;
        match error {
            Unrecognized | Malformed(_) | Weak(_) | Revoked | Expired(_) | NoSigningKey => {
                ApiError::Unprocessable(error.to_string())
            }
        }
    }
}

/// A proof asked for sizes the log cannot prove: the query was wrong.
impl From<gatehouse_audit::merkle::ProofError> for ApiError {
    fn from(error: gatehouse_audit::merkle::ProofError) -> Self {
        use gatehouse_audit::merkle::ProofError::*;
        match error {
            IndexOutOfRange { .. } | BadSizes { .. } => ApiError::BadRequest(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests;
