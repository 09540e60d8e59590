//! Reloading the policy folder while serving: on SIGHUP, and when its files
//! change (checked every second). A folder that does not validate never
//! replaces the working policies. Every accepted change, and every rejected
//! one, is an audit entry naming the policy set's hash, and no change takes
//! effect before its entry is durable.

use std::time::Duration;

use gatehouse_domain::audit::{AuditAction, AuditRecord, Outcome, RequestOrigin, SystemWriter};
use gatehouse_domain::clock::Clock;
use gatehouse_domain::store::Store;
use gatehouse_policy::approvals::APPROVALS_FILE;
use gatehouse_policy::vendor_access::VENDOR_ACCESS_FILE;
use gatehouse_policy::{Policies, PolicyError, PolicyProblem, PolicySetSource};
use gatehouse_server::PolicyHandle;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;

pub struct Reloader {
    pub dir: PathBuf,
    pub policies: PolicyHandle,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The configured notification targets, which approval rules and
    /// `vendor-access.toml` may name.
    pub notify: gatehouse_server::notify::NotifySettings,
}

impl Reloader {
    /// Watches until the process ends.
    pub fn spawn(self) {
        tokio::spawn(async move {
            let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut last_seen = self.policies.current().hash().to_owned();
            loop {
                let forced = tokio::select! {
                    _ = tick.tick() => false,
                    Some(()) = async { match hangup.as_mut() { Some(signal) => signal.recv().await, None => std::future::pending().await } } => true,
                };
                if let Some(seen) = self.check(&last_seen, forced).await {
                    last_seen = seen;
                }
            }
        });
    }

    /// Refuses a `vendor-access.toml` or approval rules that name a
    /// notification target not configured, or that nobody could satisfy with the people in the
    /// directory now (unknown groups, too few people, one person
    /// indispensable): the working rules stay. `None` when the directory
    /// cannot be read (the next tick tries again).
    async fn check_directory(&self, policies: Policies) -> Option<Result<Policies, PolicyError>> {
        let unknown: Vec<PolicyProblem> = gatehouse_server::notify::unknown_vendor_targets(&policies, &self.notify)
            .into_iter()
            .map(|(line, name)| PolicyProblem {
                file: VENDOR_ACCESS_FILE.into(),
                line,
                message: format!("notify names `{name}`, but no [notify.{name}] section configures it"),
            })
            .chain(gatehouse_server::notify::unknown_review_targets(&policies, &self.notify).into_iter().map(
                |(line, name)| PolicyProblem {
                    file: gatehouse_policy::reviews::REVIEWS_FILE.into(),
                    line,
                    message: format!("notify names `{name}`, but no [notify.{name}] section configures it"),
                },
            ))
            .collect();
        if !unknown.is_empty() {
            return Some(Err(PolicyError::Invalid(unknown)));
        }
        if policies.approvals().is_empty() {
            return Some(Ok(policies));
        }
        let unknown: Vec<PolicyProblem> = gatehouse_server::notify::unknown_targets(policies.approvals(), &self.notify)
            .into_iter()
            .map(|(rule, line, name)| PolicyProblem {
                file: APPROVALS_FILE.into(),
                line,
                message: format!("rule `{rule}` notifies `{name}`, but no [notify.{name}] section configures it"),
            })
            .collect();
        if !unknown.is_empty() {
            return Some(Err(PolicyError::Invalid(unknown)));
        }
        let directory = match self.store.approver_directory(self.clock.now()).await {
            Ok(directory) => directory,
            Err(error) => {
                tracing::warn!(%error, "cannot read who may approve; the policy folder is checked again next time");
                return None;
            }
        };
        let problems = gatehouse_server::approvals::problems_in(&policies, &directory);
        if problems.is_empty() {
            return Some(Ok(policies));
        }
        let problems = problems
            .into_iter()
            .map(|problem| PolicyProblem {
                file: APPROVALS_FILE.into(),
                line: problem.line,
                message: format!("rule `{}`: {}", problem.rule, problem.message),
            })
            .collect();
        Some(Err(PolicyError::Invalid(problems)))
    }

    /// Loads the folder if it changed since `last_seen` (or when `forced`);
    /// returns the hash now seen.
    async fn check(&self, last_seen: &str, forced: bool) -> Option<String> {
        let source = match PolicySetSource::read_dir(&self.dir) {
            Ok(source) => source,
            Err(error) => {
                tracing::warn!(%error, "cannot read the policy folder; keeping the policies in force");
                return None;
            }
        };
        let hash = source.hash();
        if hash == last_seen && !forced {
            return None;
        }
        let previous = self.policies.current().hash().to_owned();
        let record =
            AuditRecord::system(SystemWriter::PolicyReload, self.clock.now(), AuditAction::PolicyReload, "gatehouse")
                .origin(&RequestOrigin::local_command());
        // INVARIANT: the policies are replaced only after the entry recording
        // the replacement is durable. An append that fails leaves the old
        // policies deciding and `last_seen` where it was, so the next tick
        // tries again (on every node: each one's reloader works this way).
        let loaded = match Policies::from_source(&source) {
            Ok(policies) => self.check_directory(policies).await?,
            Err(error) => Err(error),
        };
        let (record, replacement) = match loaded {
            Ok(policies) if policies.hash() == previous => return Some(hash),
            Ok(policies) => (
                record.details(json!({ "hash": hash, "previous_hash": previous, "files": source.files.keys().collect::<Vec<_>>() })),
                Some(policies),
            ),
            Err(error) => {
                let problems = match &error {
                    PolicyError::Invalid(problems) => problems.iter().map(ToString::to_string).collect(),
                    other => vec![other.to_string()],
                };
                tracing::error!(%hash, problems = ?problems, "the changed policy folder is invalid; keeping the policies in force");
                let record = record
                    .outcome(Outcome::Failure, "the policy folder does not validate")
                    .details(json!({ "hash": hash, "in_force_hash": previous, "problems": problems }));
                (record, None)
            }
        };
        if let Err(error) = self.store.append_audit(record).await {
            tracing::error!(%error, %hash, "could not audit a policy reload; keeping the policies in force until it can be");
            return None;
        }
        if let Some(policies) = replacement {
            self.policies.replace(policies);
            tracing::info!(%hash, %previous, "policies reloaded");
        }
        Some(hash)
    }
}
