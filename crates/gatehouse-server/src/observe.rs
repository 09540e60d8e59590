//! One middleware for what every request leaves behind: a log line (with
//! the request id, route, status and latency, and a 5xx's cause) and the
//! Prometheus counters and latency histogram by route and status.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

use crate::problem::ErrorCause;
use crate::request_id::REQUEST_ID_HEADER;

const DURATION_METRIC: &str = "gatehouse_http_request_duration_seconds";
const REQUESTS_METRIC: &str = "gatehouse_http_requests_total";

/// Installs the process-wide Prometheus recorder once and returns its handle.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(DURATION_METRIC.into()), &buckets)
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .clone()
}

pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // The route template, never the raw path: ids would explode the label set.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let request_id =
        request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let span = tracing::info_span!("request", %request_id, %method, %route);
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();

    let labels = [("method", method.to_string()), ("route", route), ("status", status.as_u16().to_string())];
    metrics::counter!(REQUESTS_METRIC, &labels).increment(1);
    metrics::histogram!(DURATION_METRIC, &labels).record(elapsed.as_secs_f64());

    let _entered = span.enter();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if status.is_server_error() {
        let cause = response.extensions().get::<ErrorCause>().map(|c| c.0.as_str()).unwrap_or("unknown");
        tracing::error!(status = status.as_u16(), latency_ms, cause, "request failed");
    } else {
        tracing::info!(status = status.as_u16(), latency_ms, "request");
    }
    response
}
