//! Notifications about requests, vendors and integrations, through the
//! durable outbox. The feeder (`feed.rs`) reads the audit log after its
//! cursor and turns each entry that calls for one
//! (`domain::notify::event_for`) into a delivery per target of the
//! request's rule, or per target `vendor-access.toml` names for the
//! scheduler's word on vendors (`reviews.toml`'s for access reviews), moving the cursor in the same
//! transaction; the deliverer (`deliver.rs`) claims due deliveries under a
//! lease, sends them through the outbound client and records each result
//! with its `notify.send` or `notify.fail` entry. Held deliveries (a GitHub
//! protection rule's answer) are released here once their request is
//! decided.
//!
//! `serve` runs [`spawn`] on every node: the cursor's compare-and-move and
//! the lease make that safe on a shared PostgreSQL. Tests call
//! [`run_once`] and move the `FixedClock`.

mod deliver;
mod feed;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration as StdDuration;

use gatehouse_domain::notify::{TargetKind, protection_answer};
use gatehouse_domain::store::StoreError;
use gatehouse_policy::Policies;
use gatehouse_policy::approvals::ApprovalRules;

use crate::AppState;
use crate::integrations::Secret;
use crate::outbound::OutboundClient;

/// How long a delivery may take before the target is given up on for
/// this attempt.
pub const SEND_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// How often [`spawn`]'s loop runs by default (`[outbox] interval_seconds`).
pub const TICK: StdDuration = StdDuration::from_secs(1);

/// The configured targets (`[notify.NAME]` sections), by name.
#[derive(Debug, Clone, Default)]
pub struct NotifySettings {
    pub targets: BTreeMap<String, NotifyTarget>,
}

/// One `[notify.NAME]` target.
#[derive(Clone)]
pub struct NotifyTarget {
    /// Where to POST; may itself carry a secret (a Slack incoming webhook's
    /// path does), so it is never logged nor audited.
    pub url: String,
    pub kind: TargetKind,
    /// Signs the body (`X-Gatehouse-Signature-256`); required for
    /// `webhook` targets.
    pub secret: Option<Secret>,
}

impl fmt::Debug for NotifyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyTarget")
            .field("url", &"<redacted>")
            .field("kind", &self.kind)
            .field("secret", &self.secret)
            .finish()
    }
}

/// A rule naming a target no `[notify.NAME]` configures: `(rule id, the
/// rule's line in approvals.toml, the name)`.
pub fn unknown_targets(rules: &ApprovalRules, settings: &NotifySettings) -> Vec<(String, usize, String)> {
    rules
        .rules()
        .iter()
        .flat_map(|loaded| {
            loaded
                .rule
                .notify
                .iter()
                .filter(|name| !settings.targets.contains_key(*name))
                .map(|name| (loaded.rule.id.clone(), loaded.line, name.clone()))
        })
        .collect()
}

/// Targets `vendor-access.toml` names in `notify` that no `[notify.NAME]`
/// configures: `(the line of its notify, the name)`.
pub fn unknown_vendor_targets(policies: &Policies, settings: &NotifySettings) -> Vec<(usize, String)> {
    let (names, line) = policies.vendor_notify();
    names.iter().filter(|name| !settings.targets.contains_key(*name)).map(|name| (line, name.clone())).collect()
}

/// Targets `reviews.toml` names in `notify` that no `[notify.NAME]`
/// configures: `(the line of its notify, the name)`.
pub fn unknown_review_targets(policies: &Policies, settings: &NotifySettings) -> Vec<(usize, String)> {
    let reviews = policies.reviews();
    reviews
        .notify
        .iter()
        .filter(|name| !settings.targets.contains_key(*name))
        .map(|name| (reviews.notify_line, name.clone()))
        .collect()
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tick {
    /// Deliveries the feeder made.
    pub enqueued: usize,
    /// Held deliveries released.
    pub released: usize,
    /// Deliveries sent.
    pub delivered: usize,
    /// Attempts that failed (retried later, or given up).
    pub failed: usize,
}

/// Feeds, releases and delivers with one outbound client.
pub struct Notifier {
    client: OutboundClient,
}

impl Notifier {
    pub fn new(state: &AppState) -> Self {
        let builder = reqwest::Client::builder()
            .connect_timeout(StdDuration::from_secs(3))
            .timeout(SEND_TIMEOUT)
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")));
        Self { client: OutboundClient::new(&state.settings.outbound, builder) }
    }

    /// One round: the feeder up to the log's end, held deliveries whose
    /// request is decided, then every delivery due now.
    pub async fn run_once(&self, state: &AppState) -> Result<Tick, StoreError> {
        let enqueued = feed::feed(state).await?;
        let released = release(state).await?;
        let (delivered, failed) = deliver::deliver(state, &self.client).await?;
        Ok(Tick { enqueued, released, delivered, failed })
    }
}

/// [`Notifier::run_once`] with a client made for the occasion (tests).
pub async fn run_once(state: &AppState) -> Result<Tick, StoreError> {
    Notifier::new(state).run_once(state).await
}

/// Runs the outbox at once and then `every` (usually [`TICK`]) until
/// aborted. A failing round (the database away) is logged and tried again
/// on the next tick: nothing is lost, the cursor and the deliveries are in
/// the database.
pub fn spawn(state: AppState, every: StdDuration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let notifier = Notifier::new(&state);
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(error) = notifier.run_once(&state).await {
                tracing::warn!(%error, "the notification outbox could not run; trying again");
            }
        }
    })
}

/// Releases held deliveries whose request is no longer `pending`,
/// rendering each with the request's state as it is now.
async fn release(state: &AppState) -> Result<usize, StoreError> {
    let mut released = 0;
    loop {
        let ready = state.store.releasable_deliveries(100).await?;
        if ready.is_empty() {
            return Ok(released);
        }
        let now = state.clock.now();
        let mut progressed = false;
        for (delivery, request_state) in ready {
            let (Some(callback), Some(request_id)) = (&delivery.callback, delivery.request_id) else { continue };
            let progress = match state.store.find_approval_request(request_id).await? {
                Some(request) => crate::approvals::show(&state.policies.current(), &request)
                    .clauses
                    .iter()
                    .map(|clause| format!("{} {}/{}", clause.of, clause.have, clause.need))
                    .collect::<Vec<_>>()
                    .join(", "),
                None => String::new(),
            };
            let body = protection_answer(callback, request_state, &request_id.to_string(), &progress);
            if state.store.release_delivery(delivery.id, body, now).await? {
                released += 1;
                progressed = true;
            }
        }
        if !progressed {
            return Ok(released);
        }
    }
}

#[cfg(test)]
mod tests;
