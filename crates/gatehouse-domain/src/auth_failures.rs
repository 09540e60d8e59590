//! Failed authentication, throttled and summarized, so nobody without a
//! credential can fill the audit log or keep gatehouse verifying forgeries.
//!
//! The [`FailureLedger`] counts failures per source (an address; an IPv6
//! address by its /64, the smallest block a host is usually given) and per
//! presented credential (its SHA-256), in fixed windows that open at a
//! source's first failure. That first failure is written at once; the
//! rest of the window is only counted, and written as one summary when the
//! window closes. Beyond `limit` failures in a window, a source or
//! credential is throttled until the window ends. The tables are bounded:
//! once `max_tracked` sources are tracked, new ones share one "other
//! sources" window, and new credentials go untracked (their sources still
//! count them). Pure state: the caller holds it, supplies the time and
//! writes what it is told to.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::audit::{Actor, AuditAction, Observation, Outcome, RequestOrigin};
use crate::clock::format_rfc3339;

/// The longest text from a failed authentication that reaches the log (a
/// reason naming a forged token's issuer, say), in bytes.
pub const MAX_ECHOED_BYTES: usize = 256;
/// How many distinct reasons a summary keeps, with their counts.
const MAX_REASONS: usize = 4;

/// How many failures are tolerated, for how long, and how much is tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureLimits {
    /// Failures per source (and per credential) in a window before 429.
    pub limit: u32,
    /// The window's length, from a source's first failure.
    pub window: Duration,
    /// Sources (and credentials) tracked at most.
    pub max_tracked: usize,
}

impl Default for FailureLimits {
    fn default() -> Self {
        Self { limit: 10, window: Duration::minutes(1), max_tracked: 4096 }
    }
}

/// Where failures come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FailureSource {
    /// An IPv4 address, or an IPv6 /64 (stored with its host bits zeroed).
    Address(IpAddr),
    /// A request whose peer address is not known (tests without a socket).
    Unknown,
    /// Every new source once the table is full.
    Overflow,
}

impl FailureSource {
    /// The source of a request from `address`.
    pub fn of(address: Option<IpAddr>) -> Self {
        match address {
            None => FailureSource::Unknown,
            Some(IpAddr::V4(v4)) => FailureSource::Address(IpAddr::V4(v4)),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => FailureSource::Address(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    FailureSource::Address(IpAddr::V6(prefix.into()))
                }
            },
        }
    }

    /// How the source appears in an audit entry.
    pub fn label(&self) -> Option<String> {
        match self {
            FailureSource::Address(IpAddr::V4(v4)) => Some(v4.to_string()),
            FailureSource::Address(IpAddr::V6(v6)) => Some(format!("{v6}/64")),
            FailureSource::Unknown => None,
            FailureSource::Overflow => Some("other sources".into()),
        }
    }
}

/// A presented credential, by its SHA-256 (never the credential itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CredentialKey([u8; 32]);

impl CredentialKey {
    pub fn of(presented: impl AsRef<[u8]>) -> Self {
        Self(Sha256::digest(presented.as_ref()).into())
    }
}

/// What to do with one failed authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The source's first failure in its window: write its entry now.
    Record,
    /// Counted for the window's summary; nothing written now.
    Count,
    /// Over the limit: answer 429 with `Retry-After` (counted too).
    Throttle { retry_after_seconds: u64 },
}

/// A verdict, and the summary of a window this call found closed (to be
/// written now).
#[derive(Debug, Clone, PartialEq)]
pub struct FailureOutcome {
    pub verdict: Verdict,
    pub closed: Option<FailureSummary>,
}

/// The failures of one source's window that were counted, not written.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureSummary {
    pub source: FailureSource,
    pub started: OffsetDateTime,
    pub ends: OffsetDateTime,
    /// Failures counted after the first.
    pub failures: u64,
    /// Of those, how many were refused with 429.
    pub throttled: u64,
    /// Up to four distinct reasons, capped, with how often each was given.
    pub reasons: Vec<(String, u64)>,
}

impl FailureSummary {
    /// The one audit entry that stands for these failures.
    pub fn to_record(&self, now: OffsetDateTime) -> Observation {
        let label = self.source.label();
        let from = label.as_deref().unwrap_or("an unknown address");
        let reasons: Vec<Value> =
            self.reasons.iter().map(|(reason, count)| json!({"reason": reason, "count": count})).collect();
        Observation::new(now, Actor::Anonymous, AuditAction::AuthFailures, "gatehouse")
            .origin(&RequestOrigin { request_id: None, source_ip: label.clone(), client_request_id: None })
            .outcome(
                Outcome::Failure,
                format!("{} more failed authentications from {from} ({} throttled)", self.failures, self.throttled),
            )
            .details(json!({
                "source": label,
                "window_started_at": format_rfc3339(self.started),
                "window_ends_at": format_rfc3339(self.ends),
                "failures": self.failures,
                "throttled": self.throttled,
                "reasons": reasons,
            }))
    }
}

#[derive(Debug)]
struct SourceWindow {
    started: OffsetDateTime,
    ends: OffsetDateTime,
    /// Failures in the window, the first included.
    failures: u64,
    /// Failures counted but not yet written.
    unreported: u64,
    throttled: u64,
    reasons: Vec<(String, u64)>,
}

impl SourceWindow {
    fn open(now: OffsetDateTime, window: Duration) -> Self {
        Self { started: now, ends: now + window, failures: 0, unreported: 0, throttled: 0, reasons: Vec::new() }
    }

    fn note_reason(&mut self, reason: &str) {
        if let Some((_, count)) = self.reasons.iter_mut().find(|(known, _)| known == reason) {
            *count += 1;
        } else if self.reasons.len() < MAX_REASONS {
            self.reasons.push((reason.to_owned(), 1));
        }
    }

    fn summary(self, source: FailureSource) -> Option<FailureSummary> {
        (self.unreported > 0).then_some(FailureSummary {
            source,
            started: self.started,
            ends: self.ends,
            failures: self.unreported,
            throttled: self.throttled,
            reasons: self.reasons,
        })
    }
}

#[derive(Debug, Clone, Copy)]
struct CredentialWindow {
    ends: OffsetDateTime,
    failures: u32,
}

/// Failures by source and by credential, within [`FailureLimits`].
#[derive(Debug)]
pub struct FailureLedger {
    limits: FailureLimits,
    sources: HashMap<FailureSource, SourceWindow>,
    credentials: HashMap<CredentialKey, CredentialWindow>,
}

fn seconds_until(ends: OffsetDateTime, now: OffsetDateTime) -> u64 {
    let millis = u64::try_from((ends - now).whole_milliseconds().max(0)).unwrap_or(u64::MAX);
    millis.div_ceil(1000).max(1)
}

impl FailureLedger {
    pub fn new(limits: FailureLimits) -> Self {
        Self { limits, sources: HashMap::new(), credentials: HashMap::new() }
    }

    pub fn limits(&self) -> FailureLimits {
        self.limits
    }

    /// The key `source` is tracked under: itself, or the shared overflow
    /// window once the table is full.
    fn tracked(&self, source: &FailureSource) -> FailureSource {
        if self.sources.contains_key(source) || self.sources.len() < self.limits.max_tracked {
            source.clone()
        } else {
            FailureSource::Overflow
        }
    }

    /// How long `source` or `credential` is still throttled, if it is:
    /// asked before expensive work (verifying a CI token's signature).
    pub fn throttled_for(
        &self,
        source: &FailureSource,
        credential: Option<&CredentialKey>,
        now: OffsetDateTime,
    ) -> Option<u64> {
        let limit = u64::from(self.limits.limit);
        let by_source = self
            .sources
            .get(&self.tracked(source))
            .filter(|window| now < window.ends && window.failures >= limit)
            .map(|window| seconds_until(window.ends, now));
        let by_credential = credential
            .and_then(|key| self.credentials.get(key))
            .filter(|window| now < window.ends && window.failures >= self.limits.limit)
            .map(|window| seconds_until(window.ends, now));
        by_source.max(by_credential)
    }

    /// Takes note of one failed authentication and says what to do with it.
    pub fn fail(
        &mut self,
        source: &FailureSource,
        credential: Option<&CredentialKey>,
        reason: &str,
        now: OffsetDateTime,
    ) -> FailureOutcome {
        let throttled = self.throttled_for(source, credential, now);
        let key = self.tracked(source);
        let closed = match self.sources.get(&key) {
            Some(window) if now >= window.ends => {
                self.sources.remove(&key).and_then(|window| window.summary(key.clone()))
            }
            _ => None,
        };
        self.count_credential(credential, now);
        let window_length = self.limits.window;
        let fresh = !self.sources.contains_key(&key);
        let window = self.sources.entry(key).or_insert_with(|| SourceWindow::open(now, window_length));
        window.failures += 1;
        let verdict = match throttled {
            Some(retry_after_seconds) => {
                window.unreported += 1;
                window.throttled += 1;
                Verdict::Throttle { retry_after_seconds }
            }
            None if fresh => Verdict::Record,
            None => {
                window.unreported += 1;
                window.note_reason(&cap_echoed(reason));
                Verdict::Count
            }
        };
        FailureOutcome { verdict, closed }
    }

    fn count_credential(&mut self, credential: Option<&CredentialKey>, now: OffsetDateTime) {
        let Some(key) = credential else { return };
        let has_room = self.credentials.len() < self.limits.max_tracked;
        match self.credentials.get_mut(key) {
            Some(window) if now < window.ends => window.failures = window.failures.saturating_add(1),
            Some(window) => *window = CredentialWindow { ends: now + self.limits.window, failures: 1 },
            None if has_room => {
                self.credentials.insert(*key, CredentialWindow { ends: now + self.limits.window, failures: 1 });
            }
            // Full: the credential goes untracked; its source still counts it.
            None => {}
        }
    }

    /// Forgets every window closed at `now`, returning the summaries to
    /// write.
    pub fn drain_closed(&mut self, now: OffsetDateTime) -> Vec<FailureSummary> {
        self.credentials.retain(|_, window| now < window.ends);
        let closed: Vec<FailureSource> =
            self.sources.iter().filter(|(_, window)| now >= window.ends).map(|(key, _)| key.clone()).collect();
        closed.into_iter().filter_map(|key| self.sources.remove(&key).and_then(|window| window.summary(key))).collect()
    }

    /// Forgets everything, returning the summaries still to write (at
    /// shutdown).
    pub fn drain_all(&mut self) -> Vec<FailureSummary> {
        self.credentials.clear();
        self.sources.drain().filter_map(|(key, window)| window.summary(key)).collect()
    }

    /// How many sources and credentials are tracked.
    pub fn tracked_counts(&self) -> (usize, usize) {
        (self.sources.len(), self.credentials.len())
    }
}

/// `text` cut to [`MAX_ECHOED_BYTES`] on a character boundary, marked with
/// `…` when cut: what a failed authentication may echo into the log.
pub fn cap_echoed(text: &str) -> String {
    cap_text(text, MAX_ECHOED_BYTES)
}

/// `text` cut to at most `max` bytes on a character boundary, with `…`
/// (counted in) when cut.
pub fn cap_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests;
