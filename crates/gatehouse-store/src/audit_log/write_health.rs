//! Whether writes are failing for want of the database (a full disk, an
//! I/O error, a connection lost), for readiness: a database that answers
//! reads but cannot take a write is not ready. The state lives here, set by
//! the writer and SQLite's appender after every batch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use gatehouse_domain::store::StoreError;

/// How long a failed write keeps the store unready without a success
/// since. No write is tried for readiness's sake, so the state must lapse:
/// otherwise a node taken out of rotation would stay out for good. Under
/// load every failing batch renews it.
const FAILURE_HOLDS_FOR: Duration = Duration::from_secs(5);

#[derive(Default)]
pub(crate) struct WriteHealth {
    /// Set while `last_failure` may be current: the success path reads only
    /// this.
    failing: AtomicBool,
    last_failure: Mutex<Option<(Instant, &'static str)>>,
}

impl WriteHealth {
    /// Records a batch's outcome: an `Unavailable` failure makes the store
    /// unready, a success ready again. Other failures (a bug, a refused
    /// operation) say nothing about the database.
    pub(crate) fn record<T>(&self, outcome: &Result<T, StoreError>) {
        match outcome {
            Ok(_) if self.failing.load(Ordering::Acquire) => {
                *self.lock() = None;
                self.failing.store(false, Ordering::Release);
            }
            Ok(_) => {}
            Err(StoreError::Unavailable(cause)) => {
                *self.lock() = Some((Instant::now(), reason(cause)));
                self.failing.store(true, Ordering::Release);
            }
            Err(_) => {}
        }
    }

    /// Why writes are failing, in words fit to show anyone; `None` when the
    /// last write succeeded or failed long enough ago.
    pub(crate) fn failing(&self) -> Option<&'static str> {
        if !self.failing.load(Ordering::Acquire) {
            return None;
        }
        self.lock().filter(|(at, _)| at.elapsed() < FAILURE_HOLDS_FOR).map(|(_, reason)| reason)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, &'static str)>> {
        self.last_failure.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A failure's cause in fixed words: the cause itself (paths, addresses,
/// the engine's message) stays in the log.
fn reason(cause: &str) -> &'static str {
    let cause = cause.to_ascii_lowercase();
    if cause.contains("disk is full") || cause.contains("no space") || cause.contains("disk full") {
        "writes are failing: the database's disk is full"
    } else {
        "writes are failing: the database cannot be written"
    }
}

#[cfg(test)]
mod tests;
