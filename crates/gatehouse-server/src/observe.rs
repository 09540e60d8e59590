//! One middleware for what every request leaves behind: a log line (with
//! the request id, route, status and latency, and a 5xx's cause) and the
//! Prometheus counters and latency histogram by method, route and status.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

use crate::problem::ErrorCause;
use crate::request_id::{ClientRequestId, REQUEST_ID_HEADER};

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
    let route = request.extensions().get::<MatchedPath>().cloned();
    let span = {
        let request_id = request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let client_request_id = request.extensions().get::<ClientRequestId>().map(|c| c.0.as_str());
        let route = route_label(route.as_ref());
        match client_request_id {
            Some(client_request_id) => {
                tracing::info_span!("request", %request_id, %client_request_id, %method, %route)
            }
            None => tracing::info_span!("request", %request_id, %method, %route),
        }
    };
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();

    let (requests, duration) = request_metrics(method_label(&method), route_label(route.as_ref()), status.as_u16());
    requests.increment(1);
    duration.record(elapsed.as_secs_f64());

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

fn route_label(route: Option<&MatchedPath>) -> &str {
    route.map_or("unmatched", MatchedPath::as_str)
}

/// The method as a label: a client may send any token as a method, and
/// each would otherwise add series to the metrics without bound.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// How often recorded histogram samples are folded into their buckets.
pub const METRICS_UPKEEP_PERIOD: std::time::Duration = std::time::Duration::from_secs(5);

/// Folds the latency samples recorded since the last run into the
/// histograms' buckets. The exporter keeps every raw sample until then:
/// without this, a server nobody scrapes grew by every request it served
/// (about 16 bytes each, the soak's growth; docs/performance.md).
pub fn spawn_metrics_upkeep(handle: PrometheusHandle) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(METRICS_UPKEEP_PERIOD);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            handle.run_upkeep();
        }
    })
}

/// One route's metric handles, by method and status.
type RouteMetrics = Vec<(&'static str, u16, Counter, Histogram)>;

/// The request counter and latency histogram of one (method, route,
/// status), registered once: registering them on every request built and
/// hashed their labels each time. Routes are the router's templates, so
/// the set stays small.
fn request_metrics(method: &'static str, route: &str, status: u16) -> (Counter, Histogram) {
    static REGISTERED: LazyLock<Mutex<HashMap<String, RouteMetrics>>> = LazyLock::new(|| {
        // Handles taken before the recorder is installed would count nowhere.
        metrics_handle();
        Mutex::new(HashMap::new())
    });
    let mut registered = REGISTERED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((.., requests, duration)) =
        registered.get(route).and_then(|found| found.iter().find(|(m, s, ..)| *m == method && *s == status))
    {
        return (requests.clone(), duration.clone());
    }
    let labels = [("method", method.to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
    let requests = metrics::counter!(REQUESTS_METRIC, &labels);
    let duration = metrics::histogram!(DURATION_METRIC, &labels);
    registered.entry(route.to_owned()).or_default().push((method, status, requests.clone(), duration.clone()));
    (requests, duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Folding samples into buckets loses none: the count and the buckets
    /// a scrape shows after the upkeep hold every sample recorded before.
    #[test]
    fn the_upkeep_folds_samples_into_buckets_without_losing_any() {
        let handle = metrics_handle().expect("the recorder installs");
        let route = "/test/upkeep";
        let (_, duration) = request_metrics("GET", route, 299);
        for _ in 0..1000 {
            duration.record(0.002);
        }
        handle.run_upkeep();
        for _ in 0..500 {
            duration.record(0.2);
        }
        handle.run_upkeep();
        let text = handle.render();
        let line = |suffix: &str| {
            text.lines()
                .find(|line| line.starts_with(&format!("{DURATION_METRIC}{suffix}")) && line.contains(route))
                .map(|line| line.rsplit(' ').next().unwrap_or_default().to_owned())
                .unwrap_or_else(|| panic!("no {suffix} line for {route} in:\n{text}"))
        };
        assert_eq!(line("_count"), "1500");
        let in_bucket = |le: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with(&format!("{DURATION_METRIC}_bucket"))
                        && l.contains(route)
                        && l.contains(&format!("le=\"{le}\""))
                })
                .and_then(|l| l.rsplit(' ').next().map(str::to_owned))
        };
        assert_eq!(in_bucket("0.0025").as_deref(), Some("1000"));
        assert_eq!(in_bucket("0.25").as_deref(), Some("1500"));
    }
}
