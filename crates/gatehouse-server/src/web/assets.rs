//! The console's static files, built into the binary: one style sheet,
//! htmx 2.0.11 (vendored from the npm registry, `assets/htmx.min.js`,
//! its integrity hash below) and `gatehouse.js` (passkeys and local times).

use axum::extract::Path;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use super::page::PageError;

/// `sha384` of `htmx.min.js`, as the page's `integrity` attribute names it.
pub const HTMX_INTEGRITY: &str = "sha384-2OatzQy1H+Zd/IIrjr1TcuDGqLXeHhbooAyJY1KdQMKnr4LZ22k31GBLdYKHmVjg";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 3] = [
    Asset {
        name: "gatehouse.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../assets/gatehouse.css"),
    },
    Asset {
        name: "gatehouse.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/gatehouse.js"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../assets/htmx.min.js"),
    },
];

/// `GET /ui/assets/{name}`.
pub async fn serve(Path(name): Path<String>) -> Result<Response, PageError> {
    let asset = ASSETS.iter().find(|asset| asset.name == name).ok_or_else(|| PageError::not_found("no such file"))?;
    let mut response = asset.body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    // The files change only with the binary: five minutes spares page loads
    // a request and is soon over after an upgrade.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}
