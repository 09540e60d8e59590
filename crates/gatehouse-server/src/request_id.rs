//! Request ids: every request gets gatehouse's own id (a UUID), echoed as
//! `X-Request-Id` on the response and carried in logs and audit entries as
//! `request_id`. A client's own `X-Request-Id` never takes its place: when
//! sane (up to 64 characters of `A-Z a-z 0-9 . _ : / + = @ -`) it is kept
//! beside it ([`ClientRequestId`], `details.client_request_id` in audit
//! entries), otherwise dropped.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_domain::ids::RequestId;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client request id kept.
pub const MAX_CLIENT_REQUEST_ID: usize = 64;

/// The id the client sent, when it was sane: a request extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequestId(pub String);

/// The client's id, if it is one worth keeping.
pub fn client_request_id(value: &HeaderValue) -> Option<ClientRequestId> {
    let bytes = value.as_bytes();
    let sane = !bytes.is_empty()
        && bytes.len() <= MAX_CLIENT_REQUEST_ID
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"._:/+=@-".contains(b));
    sane.then(|| ClientRequestId(String::from_utf8_lossy(bytes).into_owned()))
}

pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let client = request.headers().get(&REQUEST_ID_HEADER).and_then(client_request_id);
    let id = HeaderValue::from_str(&RequestId::new().to_string()).unwrap_or(HeaderValue::from_static("invalid"));
    // INVARIANT: from here on the header holds gatehouse's own id only.
    request.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
    if let Some(client) = client {
        request.extensions_mut().insert(client);
    }
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(sent: &str, kept: Option<&str>) {
        let value = HeaderValue::from_str(sent).unwrap();
        assert_eq!(client_request_id(&value).map(|c| c.0), kept.map(str::to_owned), "{sent:?}");
    }

    #[test]
    fn a_client_id_is_kept_only_when_short_and_plain() {
        check("deploy-42", Some("deploy-42"));
        check(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        check(&"a".repeat(64), Some(&"a".repeat(64)));
        check(&"a".repeat(65), None);
        check("", None);
        check("has space", None);
        check("quote\"", None);
        check("<script>", None);
    }
}
