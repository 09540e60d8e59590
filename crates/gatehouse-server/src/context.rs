//! Where a request came from: gatehouse's request id, the client's own (if
//! it sent a sane one) and the client's address, for audit records and logs.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use gatehouse_domain::audit::RequestOrigin;

use crate::problem::ApiError;
use crate::request_id::{ClientRequestId, REQUEST_ID_HEADER};

/// The origin of the current request. Never fails.
pub struct Origin(pub RequestOrigin);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Origin(origin_of(parts)))
    }
}

pub fn origin_of(parts: &Parts) -> RequestOrigin {
    let request_id = parts.headers.get(REQUEST_ID_HEADER).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let source_ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip().to_string());
    let client_request_id = parts.extensions.get::<ClientRequestId>().map(|ClientRequestId(id)| id.clone());
    RequestOrigin { request_id, source_ip, client_request_id }
}
