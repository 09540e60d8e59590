//! The step-up panel: a change that needs a fresh second factor is not an
//! error page but the same form again, asking for the factor in place. The
//! form carries an optional `code`; [`verify`] checks it before the change
//! is tried, and the change then runs as the stepped-up caller.

use axum::http::HeaderMap;

use super::page::{cookies, fresh_for};
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::state::AppState;

/// The second factor's state, as the panel shows it.
pub struct StepUp {
    /// Shown because a change was refused for want of a fresh factor (or
    /// the factor given did not verify).
    pub needed: bool,
    /// How long the factor stays fresh (none when it is not).
    pub fresh_for: Option<String>,
    pub window_minutes: i64,
    /// Any second factor is enrolled.
    pub enrolled: bool,
    /// An authenticator app is confirmed: the panel asks for its code.
    pub totp: bool,
    /// A passkey is registered: the panel offers it (with JavaScript).
    pub passkeys: bool,
}

impl StepUp {
    pub async fn of(state: &AppState, caller: &Caller, needed: bool) -> Result<Self, ApiError> {
        let (totp, passkeys) = if caller.mfa_enrolled() {
            let id = caller.identity().id;
            let totp = state.store.mfa_find(id).await?.is_some_and(|totp| totp.confirmed_at.is_some());
            (totp, !state.store.passkey_list(id).await?.is_empty())
        } else {
            (false, false)
        };
        Ok(Self {
            needed,
            fresh_for: fresh_for(state, caller),
            window_minutes: state.settings.mfa.fresh_for.whole_minutes(),
            enrolled: caller.mfa_enrolled(),
            totp,
            passkeys,
        })
    }
}

/// Verifies `code` when the form carried one (blank counts as none): the
/// caller stepped up, with the rotated session's cookie to send back.
/// Without a code, the caller as it was.
pub async fn verify(state: &AppState, caller: Caller, code: Option<&str>) -> Result<(Caller, HeaderMap), ApiError> {
    match code.map(str::trim).filter(|code| !code.is_empty()) {
        Some(code) => {
            let (headers, at) = crate::api::mfa::verify_second_factor(state, &caller, Some(code), None).await?;
            Ok((caller.stepped_up(at), cookies(headers)))
        }
        None => Ok((caller, HeaderMap::new())),
    }
}

/// Whether a refusal asks for the second factor (the panel, not an error).
pub fn wants_factor(error: &ApiError) -> bool {
    matches!(error, ApiError::MfaRequired(_))
}
