//! What every handler shares: the store, the clock and the settings.

use std::sync::{Arc, RwLock};

use gatehouse_domain::auth_failures::FailureLimits;
use gatehouse_domain::clock::Clock;
use gatehouse_domain::outbound::OutboundRules;
use gatehouse_domain::store::{OpenedStore, Store, StoreEngine};
use gatehouse_domain::token::TokenLifetimePolicy;
use gatehouse_policy::Policies;
use metrics_exporter_prometheus::PrometheusHandle;

use gatehouse_mfa::SealingKey;

use crate::auth_throttle::AuthFailures;
use crate::background::BackgroundTasks;
use crate::integrations::Integrations;
use crate::integrations::github_app::GithubApp;
use crate::sso::provider::Provider;
use crate::workload::{JwksCache, JwksSettings, VerifiedCache};

#[derive(Debug, Clone)]
pub struct Settings {
    pub token_lifetime: TokenLifetimePolicy,
    /// Requests with a larger body are refused with 413.
    pub max_body_bytes: usize,
    /// How often a token's `last_used_at` is refreshed at most.
    pub token_use_granularity: time::Duration,
    /// Fetching and caching OIDC issuers' keys (CI tokens).
    pub jwks: JwksSettings,
    /// Webhooks from forges and the GitHub App that answers them.
    pub integrations: Integrations,
    /// Second factors for people.
    pub mfa: MfaSettings,
    /// Single sign-on through the company's identity provider.
    pub oidc: Option<crate::sso::OidcSettings>,
    /// Which non-public addresses gatehouse's own fetches may reach
    /// (`[outbound]`); none by default.
    pub outbound: OutboundRules,
    /// Failed authentication: throttled and summarized per source and
    /// credential beyond these limits (per node).
    pub auth_failures: FailureLimits,
    /// Whether `/metrics` needs a bearer allowed `audit.read`.
    pub metrics_require_token: bool,
    /// What the SCIM provisioner may change.
    pub scim: ScimSettings,
    /// Where notifications about requests go (`[notify.NAME]`).
    pub notify: crate::notify::NotifySettings,
    /// The address people open gatehouse at (`public_url`): passkeys'
    /// relying party. `None`: the origin of `[oidc] redirect_url`.
    pub public_url: Option<url::Url>,
}

#[derive(Debug, Clone, Default)]
pub struct ScimSettings {
    /// Whether SCIM may change people holding `admin` (`[scim]
    /// manage_admins`); off by default, so a provisioner's token cannot
    /// suspend, rename or delete an admin.
    pub manage_admins: bool,
}

#[derive(Debug, Clone)]
pub struct MfaSettings {
    /// Seals TOTP secrets at rest (`<data-dir>/mfa-sealing.key` in `serve`).
    pub sealing_key: SealingKey,
    /// How long a verified second factor counts as fresh.
    pub fresh_for: time::Duration,
    /// The issuer name authenticator apps show.
    pub issuer: String,
    /// Whether privileged actions by people need a fresh second factor.
    pub step_up: bool,
    /// Whether a person without a second factor may only enroll one.
    pub required: bool,
}

impl Default for MfaSettings {
    fn default() -> Self {
        Self {
            sealing_key: SealingKey::generate(),
            fresh_for: time::Duration::minutes(15),
            issuer: "gatehouse".into(),
            step_up: false,
            required: false,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            token_lifetime: TokenLifetimePolicy::default(),
            max_body_bytes: 1024 * 1024,
            token_use_granularity: time::Duration::minutes(1),
            jwks: JwksSettings::default(),
            integrations: Integrations::default(),
            mfa: MfaSettings::default(),
            oidc: None,
            outbound: OutboundRules::default(),
            auth_failures: FailureLimits::default(),
            metrics_require_token: false,
            scim: ScimSettings::default(),
            notify: crate::notify::NotifySettings::default(),
            public_url: None,
        }
    }
}

/// The policies in force, replaceable as a whole when the folder changes.
#[derive(Clone)]
pub struct PolicyHandle(Arc<RwLock<Arc<Policies>>>);

impl PolicyHandle {
    pub fn new(policies: Policies) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(policies))))
    }

    pub fn current(&self) -> Arc<Policies> {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub fn replace(&self, policies: Policies) {
        *self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(policies);
    }
}

/// What every handler shares. Cloned for each request and by each
/// extractor that asks for it, so it is one `Arc`: one reference count to
/// bump, not one per field on a cache line both cores fight over.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub store: Arc<dyn Store>,
    /// The engine under the store: its name, pool, health and credential
    /// stamp.
    pub engine: Arc<dyn StoreEngine>,
    pub policies: PolicyHandle,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    pub metrics: Option<PrometheusHandle>,
    /// OIDC issuers' signing keys, for CI tokens.
    pub jwks: Arc<JwksCache>,
    /// CI tokens verified earlier, valid while nothing has changed.
    pub verified: Arc<VerifiedCache>,
    /// gatehouse as a GitHub App (installation tokens are cached here).
    pub github_app: Arc<GithubApp>,
    /// The identity provider for single sign-on (its discovery is cached here).
    pub sso: Arc<Provider>,
    /// Failed authentications of this node, by source and credential.
    pub auth_failures: Arc<AuthFailures>,
    /// Work requests start and do not wait for (last-use stamps); tests
    /// await it with `background.idle()`.
    pub background: BackgroundTasks,
    /// Who waits for which approval request on this node.
    pub request_updates: crate::approvals::RequestUpdates,
    /// What the last check of the approval rules against the directory found.
    pub rule_health: crate::approvals::RuleHealth,
    /// This node's claim on running the scheduler.
    pub scheduler: crate::scheduler::Scheduler,
    /// The integration standings decisions read, per identity.
    pub vendor_standing: crate::vendors::StandingCache,
    /// When the scheduler's last scan for vendor lapses can be trusted until.
    pub vendor_lapses: crate::vendors::lapse::LapseWatch,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn OpenedStore>,
        policies: PolicyHandle,
        clock: Arc<dyn Clock>,
        settings: Settings,
        metrics: Option<PrometheusHandle>,
    ) -> Self {
        let jwks = Arc::new(JwksCache::new(settings.jwks.clone(), &settings.outbound));
        let github_app = Arc::new(GithubApp::new(&settings.outbound));
        let sso = Arc::new(Provider::new(&settings.outbound));
        let auth_failures = Arc::new(AuthFailures::new(settings.auth_failures));
        let scheduler = crate::scheduler::Scheduler::new(store.scheduler_lease());
        Self(Arc::new(Shared {
            store: store.clone(),
            engine: store,
            policies,
            clock,
            settings: Arc::new(settings),
            metrics,
            jwks,
            verified: Arc::default(),
            github_app,
            sso,
            auth_failures,
            background: BackgroundTasks::default(),
            request_updates: crate::approvals::RequestUpdates::default(),
            rule_health: crate::approvals::RuleHealth::default(),
            scheduler,
            vendor_standing: crate::vendors::StandingCache::default(),
            vendor_lapses: crate::vendors::lapse::LapseWatch::default(),
        }))
    }
}
