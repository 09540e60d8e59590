//! Request ids: a caller's `X-Request-Id` is honoured when it is sane (up to
//! 128 visible ASCII characters), otherwise a UUID is made; either way it is
//! echoed on the response and carried in logs and audit entries.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_domain::ids::RequestId;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

fn is_acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}

pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = match request.headers().get(&REQUEST_ID_HEADER) {
        Some(value) if is_acceptable(value) => value.clone(),
        _ => HeaderValue::from_str(&RequestId::new().to_string()).unwrap_or(HeaderValue::from_static("invalid")),
    };
    request.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    response
}
