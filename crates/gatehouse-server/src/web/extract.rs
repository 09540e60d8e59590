//! What a page reads from its request (a posted form, the query, the id
//! in the path), each malformed one answered by a 4xx page naming the
//! problem, never by axum's plain-text rejection or a problem document.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::page::PageError;
use crate::extract::{ApiQuery, IdPath};
use crate::problem::ApiError;
use crate::state::AppState;

/// The one id in the page's path.
pub struct PageId<T>(pub T);

impl<T> FromRequestParts<AppState> for PageId<T>
where
    T: std::str::FromStr + Send,
    T::Err: std::fmt::Display,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let IdPath(id) = IdPath::<T>::from_request_parts(parts, state).await?;
        Ok(Self(id))
    }
}

/// The page's query string.
pub struct PageQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for PageQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ApiQuery(query) = ApiQuery::<T>::from_request_parts(parts, state).await?;
        Ok(Self(query))
    }
}

/// A posted form (`application/x-www-form-urlencoded`).
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) => {
                let detail = format!("the form could not be read: {}", rejection.body_text());
                Err(PageError::Refused(match rejection.status() {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(detail),
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(detail),
                    _ => ApiError::BadRequest(detail),
                }))
            }
        }
    }
}
