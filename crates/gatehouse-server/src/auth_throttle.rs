//! Failed authentication on this node: the [`FailureLedger`] (in memory,
//! per node) says whether a failure is written now, counted for its
//! window's summary, or refused with 429; this module writes what it says,
//! and a background task writes the summaries of closed windows (and all of
//! them at shutdown).

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration as StdDuration;

use gatehouse_domain::audit::{Actor, AuditAction, Observation, Outcome, RequestOrigin};
use gatehouse_domain::auth_failures::{
    CredentialKey, FailureLedger, FailureLimits, FailureSource, FailureSummary, Verdict, cap_echoed,
};
use gatehouse_domain::store::StoreError;

use crate::problem::ApiError;
use crate::state::AppState;

/// The failures of this node's window, by source and credential.
#[derive(Debug)]
pub struct AuthFailures {
    ledger: Mutex<FailureLedger>,
}

fn source_of(origin: &RequestOrigin) -> FailureSource {
    FailureSource::of(origin.source_ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()))
}

fn too_many(retry_after_seconds: u64) -> ApiError {
    ApiError::TooManyRequests(
        format!("too many failed authentications; try again in {retry_after_seconds} s"),
        retry_after_seconds,
    )
}

impl AuthFailures {
    pub fn new(limits: FailureLimits) -> Self {
        Self { ledger: Mutex::new(FailureLedger::new(limits)) }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, FailureLedger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses with 429 a source or credential over its limit, before any
    /// expensive work on what it presented; the refusal is counted.
    pub fn refuse_if_throttled(
        &self,
        state: &AppState,
        origin: &RequestOrigin,
        credential: &CredentialKey,
    ) -> Result<(), ApiError> {
        let source = source_of(origin);
        let now = state.clock.now();
        let mut ledger = self.ledger();
        if ledger.throttled_for(&source, Some(credential), now).is_none() {
            return Ok(());
        }
        // Counted like any failure (it is throttled, so nothing is written).
        match ledger.fail(&source, Some(credential), "throttled", now).verdict {
            Verdict::Throttle { retry_after_seconds } => Err(too_many(retry_after_seconds)),
            Verdict::Record | Verdict::Count => Ok(()),
        }
    }

    /// Takes note of a failed authentication and returns what to answer:
    /// `error` (its text capped), or 429 once over the limit. The entry
    /// `action` is written only for a source's first failure in its window.
    pub async fn failed(
        &self,
        state: &AppState,
        origin: &RequestOrigin,
        credential: Option<&CredentialKey>,
        action: AuditAction,
        reason: &str,
        error: ApiError,
    ) -> ApiError {
        let now = state.clock.now();
        let outcome = self.ledger().fail(&source_of(origin), credential, reason, now);
        let mut records = Vec::new();
        if let Some(closed) = &outcome.closed {
            records.push(closed.to_record(now));
        }
        if outcome.verdict == Verdict::Record {
            records.push(
                Observation::new(now, Actor::Anonymous, action, "gatehouse")
                    .origin(origin)
                    .outcome(Outcome::Failure, cap_echoed(reason)),
            );
        }
        if !records.is_empty()
            && let Err(store_error) = Observation::append_all(records, &*state.store).await
        {
            return store_error.into();
        }
        match outcome.verdict {
            Verdict::Throttle { retry_after_seconds } => too_many(retry_after_seconds),
            Verdict::Record | Verdict::Count => error,
        }
    }

    /// Writes the summaries of the windows closed by now; returns how many.
    pub async fn flush_closed(&self, state: &AppState) -> Result<usize, StoreError> {
        let now = state.clock.now();
        let summaries = self.ledger().drain_closed(now);
        write(state, summaries, now).await
    }

    /// Writes every summary still open (at shutdown); returns how many.
    pub async fn flush_all(&self, state: &AppState) -> Result<usize, StoreError> {
        let summaries = self.ledger().drain_all();
        write(state, summaries, state.clock.now()).await
    }

    /// How many sources and credentials this node tracks.
    pub fn tracked_counts(&self) -> (usize, usize) {
        self.ledger().tracked_counts()
    }
}

async fn write(
    state: &AppState,
    summaries: Vec<FailureSummary>,
    now: time::OffsetDateTime,
) -> Result<usize, StoreError> {
    let count = summaries.len();
    if count > 0 {
        let observations = summaries.iter().map(|summary| summary.to_record(now)).collect();
        Observation::append_all(observations, &*state.store).await?;
    }
    Ok(count)
}

/// Writes the summaries of closed windows every few seconds, until the
/// process ends (`serve` writes the rest at shutdown).
pub fn spawn_flusher(state: AppState) -> tokio::task::JoinHandle<()> {
    let window = state.settings.auth_failures.window;
    let period = StdDuration::try_from(window / 4).unwrap_or(StdDuration::from_secs(5)).max(StdDuration::from_secs(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = state.auth_failures.flush_closed(&state).await {
                tracing::warn!(%error, "could not write the summary of failed authentications");
            }
        }
    })
}
