//! [`Viewer`]: the person a page is for, from the session cookie alone.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;

use super::page::PageError;
use crate::auth::{Caller, authenticate_browser};
use crate::problem::ApiError;
use crate::state::AppState;

/// The signed-in person. Without a live session a page sends them to sign
/// in and back; without a second factor where one is required, to enrol.
pub struct Viewer(pub Caller);

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match authenticate_browser(parts, state).await {
            Ok(caller) => Ok(Self(caller)),
            Err(ApiError::Unauthorized(_)) => {
                Err(PageError::SignIn { return_to: return_to(parts), sso: state.settings.oidc.is_some() })
            }
            Err(ApiError::MfaRequired(_)) => Err(PageError::Enroll),
            Err(other) => Err(PageError::Refused(other)),
        }
    }
}

/// The page to come back to after signing in: this one for a GET, the
/// inbox after a POST (whose form data is gone with the redirect).
fn return_to(parts: &Parts) -> String {
    if parts.method != axum::http::Method::GET {
        return super::PREFIX.to_owned();
    }
    let uri = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |original| &original.0);
    uri.path_and_query().map_or_else(|| super::PREFIX.to_owned(), |path| path.as_str().to_owned())
}
