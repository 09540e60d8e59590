//! Extractors that reject with [`ApiError`], so malformed input of every
//! kind is answered with problem+json.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// `Json<T>` whose rejections are problems: 400 for syntax, 422 for the
/// wrong shape (wrong types, missing or unknown fields), 413 for too large,
/// 415 for a missing JSON content type.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection {
        JsonRejection::JsonSyntaxError(_) => ApiError::BadRequest(text),
        JsonRejection::JsonDataError(_) => ApiError::Unprocessable(text),
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("expected a request body with `Content-Type: application/json`".into())
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("the request body is larger than the configured limit".into())
        }
        other => ApiError::BadRequest(other.body_text()),
    }
}

/// A raw body (`Bytes`) whose rejections are problems: 413 beyond the
/// route's body limit, 400 for a body that could not be read.
pub struct ApiBytes(pub Bytes);

impl<S> FromRequest<S> for ApiBytes
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(ApiBytes(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge("the request body is larger than the configured limit".into()))
            }
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// `Query<T>` whose rejections are 400 problems.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

/// The one id in a route's path (`/identities/{id}`), parsed: a malformed
/// id is a 400 problem naming it, as [`parse_id`] answers.
pub struct IdPath<T>(pub T);

impl<S, T> FromRequestParts<S> for IdPath<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state).await.map_err(path_rejection)?;
        parse_id(&raw).map(IdPath)
    }
}

/// The two ids in a route's path (`/identities/{id}/signing-keys/{key_id}`),
/// parsed in order: a malformed one is a 400 problem naming it.
pub struct IdPairPath<A, B>(pub A, pub B);

impl<S, A, B> FromRequestParts<S> for IdPairPath<A, B>
where
    A: std::str::FromStr,
    A::Err: std::fmt::Display,
    B: std::str::FromStr,
    B::Err: std::fmt::Display,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((first, second)) =
            Path::<(String, String)>::from_request_parts(parts, state).await.map_err(path_rejection)?;
        Ok(IdPairPath(parse_id(&first)?, parse_id(&second)?))
    }
}

/// A path that could not be read at all (not UTF-8 once decoded): 400.
fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

/// Parses a path segment into a typed id, or a 400 naming it.
pub fn parse_id<T: std::str::FromStr>(raw: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    raw.parse().map_err(|e: T::Err| ApiError::BadRequest(e.to_string()))
}

/// Parses a field of a request body into a typed value, or a 422 naming
/// the field (`identity_id: ...`).
pub fn parse_field<T: std::str::FromStr>(name: &str, raw: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    raw.parse().map_err(|e: T::Err| ApiError::Unprocessable(format!("{name}: {e}")))
}
