//! Workload identity: which CI jobs act as which service identity.
//!
//! A trust binding names an OIDC issuer (GitHub Actions, GitLab CI, …), the
//! audience its tokens must carry, and conditions on the token's claims. A
//! job whose token is valid for that issuer and audience and meets every
//! condition acts as the binding's service identity. Conditions are exact
//! values, a list of alternatives, or globs (see [`crate::glob`]).
//!
//! Checking signatures and times is the server's (it needs the issuer's
//! keys); this module decides only whether verified claims fit a binding.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::glob;
use crate::identity::{Identity, IdentityKind};
use crate::ids::{IdentityId, TrustBindingId};

pub mod github_deployment;

/// The longest a gatehouse token obtained for a CI job may live.
pub const MAX_WORKLOAD_TTL_SECONDS: u32 = 15 * 60;
/// The shortest `max_ttl_seconds` a binding may set.
pub const MIN_WORKLOAD_TTL_SECONDS: u32 = 60;

/// Why a CI job may not act as an identity: CI jobs act only as active
/// service identities, never as a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CiJobIdentityError {
    #[error("identity `{0}` is a person; only service identities are bound to CI jobs")]
    BindingToPerson(IdentityId),
    #[error("identity `{0}` is not active")]
    BindingToInactive(IdentityId),
    #[error("`{name}`, the identity of binding {binding}, is a person; CI jobs act as service identities")]
    ActingAsPerson { name: String, binding: TrustBindingId },
    #[error("`{name}`, the identity of binding {binding}, is not active")]
    ActingAsInactive { name: String, binding: TrustBindingId },
}

/// The one rule, in its two places: a service, and active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CiJobRefusal {
    Person,
    NotActive,
}

fn ci_job_may_act_as(identity: &Identity) -> Result<(), CiJobRefusal> {
    if identity.kind != IdentityKind::Service {
        return Err(CiJobRefusal::Person);
    }
    if !identity.status.is_active() {
        return Err(CiJobRefusal::NotActive);
    }
    Ok(())
}

/// May a trust binding name `identity`? Only an active service identity.
/// (The store re-checks inside its transaction, against a suspension that
/// lands in between.)
pub fn check_bindable(identity: &Identity) -> Result<(), CiJobIdentityError> {
    ci_job_may_act_as(identity).map_err(|refusal| match refusal {
        CiJobRefusal::Person => CiJobIdentityError::BindingToPerson(identity.id),
        CiJobRefusal::NotActive => CiJobIdentityError::BindingToInactive(identity.id),
    })
}

/// May a CI job that matched `binding` act as `identity`, the identity the
/// binding names, now? Only while it is an active service identity. Bindings
/// name only services when made, and kinds never change, so a person here
/// means a record changed behind gatehouse's back: refused all the same.
pub fn check_acting_as(identity: &Identity, binding: TrustBindingId) -> Result<(), CiJobIdentityError> {
    ci_job_may_act_as(identity).map_err(|refusal| {
        let name = identity.name.clone();
        match refusal {
            CiJobRefusal::Person => CiJobIdentityError::ActingAsPerson { name, binding },
            CiJobRefusal::NotActive => CiJobIdentityError::ActingAsInactive { name, binding },
        }
    })
}

/// The shortest token an exchange hands out, even for a CI token about to
/// expire (a job needs a moment to use it).
pub const MIN_EXCHANGED_TTL_SECONDS: i64 = 60;

/// How long the gatehouse token a CI job gets by exchange lives: as long as
/// the CI token still does, but at least [`MIN_EXCHANGED_TTL_SECONDS`], and
/// never longer than the binding's `max_ttl_seconds` or
/// [`MAX_WORKLOAD_TTL_SECONDS`].
pub fn exchanged_token_ttl(
    binding_max_ttl_seconds: u32,
    ci_token_expires_at: OffsetDateTime,
    now: OffsetDateTime,
) -> time::Duration {
    let cap = i64::from(binding_max_ttl_seconds.min(MAX_WORKLOAD_TTL_SECONDS));
    let remaining = (ci_token_expires_at - now).whole_seconds();
    time::Duration::seconds(cap.min(remaining.max(MIN_EXCHANGED_TTL_SECONDS)))
}

/// Claims gatehouse checks itself; a condition on them would be confusing.
const RESERVED_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindingError {
    #[error("issuer `{0}` must be an https URL (plain http only on a loopback address), without query or fragment")]
    InvalidIssuer(String),
    #[error("the audience must be 1–256 characters")]
    InvalidAudience,
    #[error("a trust binding needs at least one claim condition (bind on immutable ids such as `repository_id`)")]
    NoConditions,
    #[error("claim name `{0}` is not allowed (1–64 letters, digits, `_`, `-`, `.`, `:`; not iss/aud/exp/nbf/iat/jti)")]
    InvalidClaimName(String),
    #[error("the condition on `{0}` must be a non-empty string or a list of 1–64 non-empty strings")]
    InvalidCondition(String),
    #[error("max_ttl_seconds must be between {MIN_WORKLOAD_TTL_SECONDS} and {MAX_WORKLOAD_TTL_SECONDS}")]
    InvalidTtl,
}

/// What one claim must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimCondition {
    Exact(String),
    Glob(String),
    /// Any of these; each may itself be a glob.
    AnyOf(Vec<String>),
}

impl ClaimCondition {
    /// A JSON string (a glob if it contains `*`) or an array of strings.
    pub fn from_json(claim: &str, value: &Value) -> Result<Self, BindingError> {
        let invalid = || BindingError::InvalidCondition(claim.to_owned());
        let valid_text = |text: &str| !text.is_empty() && text.len() <= 512;
        match value {
            Value::String(text) if valid_text(text) => {
                Ok(if glob::is_glob(text) { Self::Glob(text.clone()) } else { Self::Exact(text.clone()) })
            }
            Value::Array(items) if !items.is_empty() && items.len() <= 64 => items
                .iter()
                .map(|item| item.as_str().filter(|text| valid_text(text)).map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Self::AnyOf)
                .ok_or_else(invalid),
            _ => Err(invalid()),
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            Self::Exact(text) | Self::Glob(text) => Value::String(text.clone()),
            Self::AnyOf(items) => Value::Array(items.iter().cloned().map(Value::String).collect()),
        }
    }

    /// Whether a claim's value meets the condition. Strings, numbers and
    /// booleans compare as their text (GitLab sends some ids as strings,
    /// other issuers as numbers); arrays, objects and null never match.
    pub fn accepts(&self, claim: &Value) -> bool {
        let Some(text) = claim_text(claim) else { return false };
        match self {
            Self::Exact(expected) => *expected == text,
            Self::Glob(pattern) => glob::matches(pattern, &text),
            Self::AnyOf(items) => items.iter().any(|item| glob::matches(item, &text)),
        }
    }
}

impl fmt::Display for ClaimCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(text) => write!(f, "`{text}`"),
            Self::Glob(pattern) => write!(f, "a match for `{pattern}`"),
            Self::AnyOf(items) => {
                write!(f, "one of {}", items.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", "))
            }
        }
    }
}

fn claim_text(claim: &Value) -> Option<String> {
    match claim {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// The validated content of a binding, before it is stored.
#[derive(Debug, Clone)]
pub struct NewTrustBinding {
    pub id: TrustBindingId,
    pub issuer: String,
    pub audience: String,
    pub claims: BTreeMap<String, ClaimCondition>,
    pub identity_id: IdentityId,
    pub max_ttl_seconds: u32,
    pub created_at: OffsetDateTime,
    pub created_by: Option<IdentityId>,
}

impl NewTrustBinding {
    /// Checks every field; the identity's existence and kind are the
    /// caller's to check against the store.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        issuer: &str,
        audience: &str,
        claims: &Map<String, Value>,
        identity_id: IdentityId,
        max_ttl_seconds: Option<u32>,
        created_at: OffsetDateTime,
        created_by: Option<IdentityId>,
    ) -> Result<Self, BindingError> {
        validate_issuer(issuer)?;
        if audience.is_empty() || audience.len() > 256 {
            return Err(BindingError::InvalidAudience);
        }
        if claims.is_empty() {
            return Err(BindingError::NoConditions);
        }
        let mut conditions = BTreeMap::new();
        for (name, value) in claims {
            if !valid_claim_name(name) {
                return Err(BindingError::InvalidClaimName(name.clone()));
            }
            conditions.insert(name.clone(), ClaimCondition::from_json(name, value)?);
        }
        let max_ttl_seconds = max_ttl_seconds.unwrap_or(MAX_WORKLOAD_TTL_SECONDS);
        if !(MIN_WORKLOAD_TTL_SECONDS..=MAX_WORKLOAD_TTL_SECONDS).contains(&max_ttl_seconds) {
            return Err(BindingError::InvalidTtl);
        }
        Ok(Self {
            id: TrustBindingId::new(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            claims: conditions,
            identity_id,
            max_ttl_seconds,
            created_at,
            created_by,
        })
    }
}

fn valid_claim_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        && !RESERVED_CLAIMS.contains(&name)
}

/// An https URL, or http on a loopback address (tests, local set-ups).
pub fn validate_issuer(issuer: &str) -> Result<(), BindingError> {
    let invalid = || BindingError::InvalidIssuer(issuer.to_owned());
    if issuer.len() > 512 || issuer.contains(['?', '#', ' ']) || issuer.chars().any(char::is_control) {
        return Err(invalid());
    }
    let (secure, rest) = if let Some(rest) = issuer.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = issuer.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(invalid());
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid());
    }
    if !secure && !is_loopback(authority) {
        return Err(invalid());
    }
    Ok(())
}

/// Whether an `http(s)://host[:port]/…` URL names this machine.
pub fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    is_loopback(rest.split('/').next().unwrap_or_default())
}

/// `host[:port]` names this machine.
fn is_loopback(authority: &str) -> bool {
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(host, _port)| host)
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A stored binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustBinding {
    pub id: TrustBindingId,
    pub issuer: String,
    pub audience: String,
    pub claims: BTreeMap<String, ClaimCondition>,
    pub identity_id: IdentityId,
    pub max_ttl_seconds: u32,
    pub created_at: OffsetDateTime,
    pub created_by: Option<IdentityId>,
}

impl From<NewTrustBinding> for TrustBinding {
    fn from(new: NewTrustBinding) -> Self {
        Self {
            id: new.id,
            issuer: new.issuer,
            audience: new.audience,
            claims: new.claims,
            identity_id: new.identity_id,
            max_ttl_seconds: new.max_ttl_seconds,
            created_at: new.created_at,
            created_by: new.created_by,
        }
    }
}

impl TrustBinding {
    /// `Ok` if the (verified) claims meet every condition, else the first
    /// condition they miss, in words.
    pub fn check(&self, claims: &Map<String, Value>) -> Result<(), String> {
        for (name, condition) in &self.claims {
            match claims.get(name) {
                None => return Err(format!("the token has no `{name}` claim")),
                Some(value) if !condition.accepts(value) => {
                    let shown = claim_text(value).unwrap_or_else(|| value.to_string());
                    return Err(format!("claim `{name}` is `{shown}`, the binding wants {condition}"));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    pub fn claims_json(&self) -> Value {
        Value::Object(self.claims.iter().map(|(name, condition)| (name.clone(), condition.to_json())).collect())
    }
}

/// The one binding verified claims select among those for their issuer and
/// audience: every binding they meet must name the same identity (two
/// identities for one job would make its rights ambiguous).
pub fn select_binding<'b>(
    bindings: &'b [TrustBinding],
    claims: &Map<String, Value>,
) -> Result<&'b TrustBinding, String> {
    select_binding_for_all(bindings, std::slice::from_ref(claims))
}

/// [`select_binding`] when the evidence is one of several sets of claims
/// (each consistent with what is known): a binding is met only if every
/// alternative meets it, so doubt never widens what matches.
pub fn select_binding_for_all<'b>(
    bindings: &'b [TrustBinding],
    alternatives: &[Map<String, Value>],
) -> Result<&'b TrustBinding, String> {
    let mut first_miss = None;
    let mut chosen: Option<&TrustBinding> = None;
    for binding in bindings {
        let checked = if alternatives.is_empty() {
            Err("nothing is known about the job".to_owned())
        } else {
            alternatives.iter().try_for_each(|claims| binding.check(claims))
        };
        match checked {
            Ok(()) => match chosen {
                Some(earlier) if earlier.identity_id != binding.identity_id => {
                    return Err(format!(
                        "the token meets trust bindings {} and {} for different identities",
                        earlier.id, binding.id
                    ));
                }
                Some(_) => {}
                None => chosen = Some(binding),
            },
            Err(reason) => {
                first_miss.get_or_insert(reason);
            }
        }
    }
    chosen
        .ok_or_else(|| first_miss.unwrap_or_else(|| "no trust binding matches the token's issuer and audience".into()))
}

#[cfg(test)]
mod tests;
