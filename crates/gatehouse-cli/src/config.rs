//! Configuration: command-line flags win over environment variables, which
//! win over the config file, which wins over defaults.
//!
//! Every file key has an environment twin `GATEHOUSE_<SECTION>_<KEY>` (or
//! `GATEHOUSE_<KEY>` for top-level keys), and a `…_FILE` twin that names a
//! file holding the value, for secrets. Unknown keys in the file are an
//! error naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use gatehouse_server::integrations::{
    GITHUB_ACTIONS_ISSUER, GithubAppSettings, GithubSettings, GitlabSettings, Integrations, Secret,
};

use gatehouse_domain::notify::TargetKind;
use gatehouse_domain::outbound::{Cidr, OutboundRules};
use gatehouse_server::HttpLimits;
use gatehouse_server::notify::{NotifySettings, NotifyTarget};
use gatehouse_server::sso::OidcSettings;

use crate::args::GlobalArgs;
use crate::error::{CliError, CliResult};

pub const DEFAULT_DATA_DIR: &str = "./gatehouse-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Text,
    Integer,
    /// A TOML array of strings; comma-separated in the environment.
    List,
    /// `true` or `false`.
    Bool,
}

/// Every key the file may hold: (section, key, kind). The section is empty
/// for top-level keys.
const KEYS: &[(&str, &str, ValueKind)] = &[
    ("", "listen", ValueKind::Text),
    ("", "policy_dir", ValueKind::Text),
    ("", "public_url", ValueKind::Text),
    ("database", "url", ValueKind::Text),
    ("database", "max_connections", ValueKind::Integer),
    ("database", "sqlite_memory_mib", ValueKind::Integer),
    ("tokens", "max_ttl_seconds", ValueKind::Integer),
    ("tokens", "bootstrap_ttl_seconds", ValueKind::Integer),
    ("http", "max_body_bytes", ValueKind::Integer),
    ("http", "header_read_timeout_seconds", ValueKind::Integer),
    ("http", "request_body_timeout_seconds", ValueKind::Integer),
    ("http", "idle_timeout_seconds", ValueKind::Integer),
    ("http", "max_connections", ValueKind::Integer),
    ("log", "level", ValueKind::Text),
    ("log", "format", ValueKind::Text),
    ("audit", "origin", ValueKind::Text),
    ("audit", "forward", ValueKind::Text),
    ("audit", "max_batch", ValueKind::Integer),
    ("audit", "proof_cache_mib", ValueKind::Integer),
    ("github", "webhook_secret", ValueKind::Text),
    ("github", "api_url", ValueKind::Text),
    ("github", "app_id", ValueKind::Text),
    ("github", "app_private_key_file", ValueKind::Text),
    ("github", "actions_issuer", ValueKind::Text),
    ("gitlab", "webhook_token", ValueKind::Text),
    ("webhooks", "pipeline_paths", ValueKind::List),
    ("mfa", "step_up", ValueKind::Bool),
    ("mfa", "required", ValueKind::Bool),
    ("oidc", "issuer", ValueKind::Text),
    ("oidc", "client_id", ValueKind::Text),
    ("oidc", "client_secret", ValueKind::Text),
    ("oidc", "redirect_url", ValueKind::Text),
    ("oidc", "auto_provision", ValueKind::Bool),
    ("oidc", "session_idle_minutes", ValueKind::Integer),
    ("oidc", "session_hours", ValueKind::Integer),
    ("mfa", "fresh_minutes", ValueKind::Integer),
    ("outbound", "allow_loopback", ValueKind::Bool),
    ("outbound", "allow_private", ValueKind::List),
    ("auth", "failure_limit", ValueKind::Integer),
    ("auth", "failure_window_seconds", ValueKind::Integer),
    ("auth", "failure_max_tracked", ValueKind::Integer),
    ("metrics", "require_token", ValueKind::Bool),
    ("scim", "manage_admins", ValueKind::Bool),
    ("scheduler", "interval_seconds", ValueKind::Integer),
    ("outbox", "interval_seconds", ValueKind::Integer),
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    policy_dir: Option<PathBuf>,
    public_url: Option<String>,
    #[serde(default)]
    database: DatabaseSection,
    #[serde(default)]
    tokens: TokensSection,
    #[serde(default)]
    http: HttpSection,
    #[serde(default)]
    log: LogSection,
    #[serde(default)]
    audit: AuditSection,
    #[serde(default)]
    github: GithubSection,
    #[serde(default)]
    gitlab: GitlabSection,
    #[serde(default)]
    webhooks: WebhooksSection,
    #[serde(default)]
    mfa: MfaSection,
    #[serde(default)]
    oidc: OidcSection,
    #[serde(default)]
    outbound: OutboundSection,
    #[serde(default)]
    auth: AuthSection,
    #[serde(default)]
    metrics: MetricsSection,
    #[serde(default)]
    scim: ScimSection,
    /// `[notify.NAME]`: one table per target; no environment twins (use
    /// `secret_file` for the secret).
    #[serde(default)]
    notify: BTreeMap<String, NotifySection>,
    #[serde(default)]
    scheduler: SchedulerSection,
    #[serde(default)]
    outbox: OutboxSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboxSection {
    interval_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchedulerSection {
    interval_seconds: Option<u64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifySection {
    url: Option<String>,
    kind: Option<String>,
    secret: Option<String>,
    secret_file: Option<PathBuf>,
}

impl std::fmt::Debug for NotifySection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a secret (a Slack webhook's path).
        f.debug_struct("NotifySection")
            .field("kind", &self.kind)
            .field("secret_file", &self.secret_file)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundSection {
    allow_loopback: Option<bool>,
    allow_private: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthSection {
    failure_limit: Option<u32>,
    failure_window_seconds: Option<i64>,
    failure_max_tracked: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsSection {
    require_token: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScimSection {
    manage_admins: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcSection {
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_url: Option<String>,
    auto_provision: Option<bool>,
    session_idle_minutes: Option<u64>,
    session_hours: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MfaSection {
    step_up: Option<bool>,
    required: Option<bool>,
    fresh_minutes: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GithubSection {
    webhook_secret: Option<String>,
    api_url: Option<String>,
    app_id: Option<String>,
    app_private_key_file: Option<PathBuf>,
    actions_issuer: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GitlabSection {
    webhook_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhooksSection {
    pipeline_paths: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditSection {
    origin: Option<String>,
    forward: Option<String>,
    max_batch: Option<usize>,
    proof_cache_mib: Option<usize>,
}

/// Where audit entries are copied as JSON lines, besides the log itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditForward {
    Stdout,
    File(PathBuf),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseSection {
    url: Option<String>,
    max_connections: Option<u32>,
    sqlite_memory_mib: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensSection {
    max_ttl_seconds: Option<i64>,
    bootstrap_ttl_seconds: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpSection {
    max_body_bytes: Option<usize>,
    header_read_timeout_seconds: Option<u64>,
    request_body_timeout_seconds: Option<u64>,
    idle_timeout_seconds: Option<u64>,
    max_connections: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogSection {
    level: Option<String>,
    format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The resolved configuration of a server-side command.
#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub policy_dir: PathBuf,
    pub listen: String,
    /// The address people open gatehouse at (passkeys' relying party);
    /// `None`: the origin of `[oidc] redirect_url`.
    pub public_url: Option<url::Url>,
    pub max_connections: u32,
    /// SQLite: the memory its connections' page caches share (0: no bound).
    pub sqlite_memory_mib: u64,
    pub max_ttl_seconds: i64,
    pub bootstrap_ttl_seconds: i64,
    pub max_body_bytes: usize,
    /// Timeouts and the connection cap of `serve`.
    pub http_limits: HttpLimits,
    pub log_level: String,
    pub log_format: LogFormat,
    /// The checkpoint origin, used when initializing.
    pub audit_origin: Option<String>,
    pub audit_forward: Option<AuditForward>,
    /// The most changes one transaction commits (1 turns group commit off).
    pub audit_max_batch: usize,
    /// Memory for the audit tree's nodes, so proofs skip the database.
    pub audit_proof_cache_mib: usize,
    /// Forge webhooks and the GitHub App (secrets inside; never printed).
    pub integrations: Integrations,
    /// Whether privileged actions by people need a fresh second factor.
    pub mfa_step_up: bool,
    /// Whether a person without a second factor may only enroll one.
    pub mfa_required: bool,
    /// How long a verified second factor counts as fresh.
    pub mfa_fresh_minutes: i64,
    /// Single sign-on (secret inside; never printed).
    pub oidc: Option<OidcSettings>,
    /// Which non-public addresses gatehouse's own fetches may reach.
    pub outbound: OutboundRules,
    /// Failed authentications tolerated per source and per credential in a
    /// window, before 429.
    pub auth_failure_limit: u32,
    /// The window of failed authentications, in seconds.
    pub auth_failure_window_seconds: i64,
    /// Sources (and credentials) whose failures are tracked at most.
    pub auth_failure_max_tracked: usize,
    /// Whether `/metrics` needs a bearer allowed `audit.read`.
    pub metrics_require_token: bool,
    /// Whether the SCIM provisioner may change people holding `admin`.
    pub scim_manage_admins: bool,
    /// Notification targets (secrets inside; never printed).
    pub notify: NotifySettings,
    /// How often the scheduler runs (expiry, overdue after-reviews).
    pub scheduler_interval: std::time::Duration,
    /// How often the notification outbox feeds and delivers.
    pub outbox_interval: std::time::Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database URL may carry a password.
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("database_url", &gatehouse_store::connect_redacted(&self.database_url))
            .field("policy_dir", &self.policy_dir)
            .field("listen", &self.listen)
            .field("public_url", &self.public_url.as_ref().map(url::Url::as_str))
            .finish_non_exhaustive()
    }
}

/// Where the environment comes from; tests pass a map instead of the process
/// environment.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

pub fn env_name(section: &str, key: &str) -> String {
    if section.is_empty() {
        format!("GATEHOUSE_{}", key.to_uppercase())
    } else {
        format!("GATEHOUSE_{}_{}", section.to_uppercase(), key.to_uppercase())
    }
}

impl Config {
    pub fn resolve(args: &GlobalArgs, listen_flag: Option<&str>, env: &dyn Environment) -> CliResult<Self> {
        let data_dir = args.data_dir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let (config_path, required) = match &args.config {
            Some(path) => (path.clone(), true),
            None => (data_dir.join("gatehouse.toml"), false),
        };
        let text = match std::fs::read_to_string(&config_path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !required => String::new(),
            Err(error) => {
                return Err(CliError::config(format!("cannot read config file {}: {error}", config_path.display())));
            }
        };
        let file = parse_file(&text, &config_path, env)?;

        let database_url = args
            .database
            .clone()
            .or(file.database.url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("gatehouse.db").display()));
        let log_format = match file.log.format.as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(CliError::config(format!("[log] format must be `text` or `json`, not `{other}`")));
            }
        };
        let audit_forward = match file.audit.forward.as_deref() {
            None | Some("") | Some("none") => None,
            Some("stdout") => Some(AuditForward::Stdout),
            Some(other) => match other.strip_prefix("file:") {
                Some(path) if !path.is_empty() => Some(AuditForward::File(PathBuf::from(path))),
                _ => {
                    return Err(CliError::config(format!(
                        "[audit] forward must be `stdout`, `file:PATH` or `none`, not `{other}`"
                    )));
                }
            },
        };
        if let Some(origin) = &file.audit.origin
            && (origin.is_empty() || origin.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(CliError::config(format!("[audit] origin `{origin}` must be non-empty, without spaces")));
        }
        let integrations = integrations(file.github, file.gitlab, file.webhooks)?;
        let oidc = oidc(file.oidc)?;
        let public_url = file.public_url.as_deref().map(public_url).transpose()?;
        let notify = notify(file.notify)?;
        let outbound = OutboundRules {
            allow_loopback: file.outbound.allow_loopback.unwrap_or(false),
            allow_private: file
                .outbound
                .allow_private
                .unwrap_or_default()
                .iter()
                .map(|range| {
                    range.parse::<Cidr>().map_err(|e| CliError::config(format!("[outbound] allow_private: {e}")))
                })
                .collect::<CliResult<_>>()?,
        };
        let config = Config {
            notify,
            outbound,
            integrations,
            oidc,
            mfa_step_up: file.mfa.step_up.unwrap_or(true),
            mfa_required: file.mfa.required.unwrap_or(true),
            mfa_fresh_minutes: file.mfa.fresh_minutes.unwrap_or(15),
            auth_failure_limit: file.auth.failure_limit.unwrap_or(10),
            auth_failure_window_seconds: file.auth.failure_window_seconds.unwrap_or(60),
            auth_failure_max_tracked: file.auth.failure_max_tracked.unwrap_or(4096),
            metrics_require_token: file.metrics.require_token.unwrap_or(false),
            scim_manage_admins: file.scim.manage_admins.unwrap_or(false),
            scheduler_interval: std::time::Duration::from_secs(file.scheduler.interval_seconds.unwrap_or(5)),
            outbox_interval: std::time::Duration::from_secs(file.outbox.interval_seconds.unwrap_or(1)),
            audit_origin: file.audit.origin,
            audit_forward,
            audit_max_batch: file.audit.max_batch.unwrap_or(256),
            audit_proof_cache_mib: file.audit.proof_cache_mib.unwrap_or(128),
            policy_dir: args.policy_dir.clone().or(file.policy_dir).unwrap_or_else(|| data_dir.join("policy")),
            public_url,
            listen: listen_flag.map(str::to_owned).or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            max_connections: file.database.max_connections.unwrap_or(10),
            sqlite_memory_mib: file
                .database
                .sqlite_memory_mib
                .unwrap_or(gatehouse_store::DEFAULT_SQLITE_MEMORY_BYTES / (1024 * 1024)),
            max_ttl_seconds: file.tokens.max_ttl_seconds.unwrap_or(90 * 86_400),
            bootstrap_ttl_seconds: file.tokens.bootstrap_ttl_seconds.unwrap_or(7 * 86_400),
            max_body_bytes: file.http.max_body_bytes.unwrap_or(1024 * 1024),
            http_limits: http_limits(&file.http),
            log_level: file.log.level.unwrap_or_else(|| "info,sqlx=warn".to_owned()),
            log_format,
            database_url,
            data_dir,
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> CliResult<()> {
        // The bound keeps `now + ttl` (at initialization, and for every
        // token created) inside the calendar.
        if !(60..=MAX_TOKEN_TTL_SECONDS).contains(&self.max_ttl_seconds) {
            return Err(CliError::config(format!(
                "[tokens] max_ttl_seconds must be between 60 and {MAX_TOKEN_TTL_SECONDS} (10 years)"
            )));
        }
        if !(60..=self.max_ttl_seconds).contains(&self.bootstrap_ttl_seconds) {
            return Err(CliError::config(
                "[tokens] bootstrap_ttl_seconds must be between 60 and [tokens] max_ttl_seconds",
            ));
        }
        if self.max_connections == 0 {
            return Err(CliError::config("[database] max_connections must be at least 1"));
        }
        if self.sqlite_memory_mib > 1 << 20 {
            return Err(CliError::config("[database] sqlite_memory_mib is more memory than any machine has"));
        }
        if self.audit_proof_cache_mib > 1 << 20 {
            return Err(CliError::config("[audit] proof_cache_mib is more memory than any machine has"));
        }
        if !(1..=10_000).contains(&self.audit_max_batch) {
            return Err(CliError::config("[audit] max_batch must be between 1 and 10000"));
        }
        if !(1..=3600).contains(&self.scheduler_interval.as_secs()) {
            return Err(CliError::config("[scheduler] interval_seconds must be between 1 and 3600"));
        }
        if !(1..=3600).contains(&self.outbox_interval.as_secs()) {
            return Err(CliError::config("[outbox] interval_seconds must be between 1 and 3600"));
        }
        if !(1..=24 * 60).contains(&self.mfa_fresh_minutes) {
            return Err(CliError::config("[mfa] fresh_minutes must be between 1 and 1440"));
        }
        if !(1..=10_000).contains(&self.auth_failure_limit) {
            return Err(CliError::config("[auth] failure_limit must be between 1 and 10000"));
        }
        if !(1..=86_400).contains(&self.auth_failure_window_seconds) {
            return Err(CliError::config("[auth] failure_window_seconds must be between 1 and 86400"));
        }
        if !(1..=1_000_000).contains(&self.auth_failure_max_tracked) {
            return Err(CliError::config("[auth] failure_max_tracked must be between 1 and 1000000"));
        }
        let limits = &self.http_limits;
        for (key, value) in [
            ("header_read_timeout_seconds", limits.header_read_timeout),
            ("request_body_timeout_seconds", limits.request_body_timeout),
            ("idle_timeout_seconds", limits.idle_timeout),
        ] {
            if !(Duration::from_secs(1)..=Duration::from_secs(3600)).contains(&value) {
                return Err(CliError::config(format!("[http] {key} must be between 1 and 3600")));
            }
        }
        if !(1..=1_000_000).contains(&limits.max_connections) {
            return Err(CliError::config("[http] max_connections must be between 1 and 1000000"));
        }
        if self.max_body_bytes < 1024 {
            return Err(CliError::config("[http] max_body_bytes must be at least 1024"));
        }
        Ok(())
    }

    pub fn key_path(&self) -> PathBuf {
        self.data_dir.join("audit-signing.key")
    }

    pub fn bootstrap_token_path(&self) -> PathBuf {
        self.data_dir.join("bootstrap-admin-token")
    }
}

/// The longest a token may be valid: 10 years of 366 days.
const MAX_TOKEN_TTL_SECONDS: i64 = 10 * 366 * 86_400;

/// The longest a session may last: 366 days.
const MAX_SESSION_HOURS: u64 = 366 * 24;

fn http_limits(section: &HttpSection) -> HttpLimits {
    let defaults = HttpLimits::default();
    let seconds = |value: Option<u64>, default: Duration| value.map_or(default, Duration::from_secs);
    HttpLimits {
        header_read_timeout: seconds(section.header_read_timeout_seconds, defaults.header_read_timeout),
        request_body_timeout: seconds(section.request_body_timeout_seconds, defaults.request_body_timeout),
        idle_timeout: seconds(section.idle_timeout_seconds, defaults.idle_timeout),
        max_connections: section.max_connections.unwrap_or(defaults.max_connections),
    }
}

/// `public_url`: https (http only on loopback), with a host name that can
/// be a passkey relying party (not an IP address).
fn public_url(text: &str) -> CliResult<url::Url> {
    gatehouse_domain::workload::validate_issuer(text)
        .map_err(|_| CliError::config(format!("public_url `{text}` must be https (http only on loopback)")))?;
    let url = url::Url::parse(text).map_err(|e| CliError::config(format!("public_url `{text}`: {e}")))?;
    gatehouse_mfa::PasskeyVerifier::for_public_url(&url)
        .map_err(|e| CliError::config(format!("public_url `{text}`: {e}")))?;
    Ok(url)
}

fn oidc(section: OidcSection) -> CliResult<Option<OidcSettings>> {
    let (issuer, client_id, client_secret, redirect_url) = match (
        section.issuer,
        section.client_id,
        section.client_secret,
        section.redirect_url,
    ) {
        (None, None, None, None) => return Ok(None),
        (Some(issuer), Some(id), Some(secret), Some(redirect)) => (issuer, id, secret, redirect),
        _ => {
            return Err(CliError::config(
                "[oidc] needs issuer, client_id, client_secret (or GATEHOUSE_OIDC_CLIENT_SECRET_FILE) and redirect_url",
            ));
        }
    };
    gatehouse_domain::workload::validate_issuer(&issuer)
        .map_err(|_| CliError::config(format!("[oidc] issuer `{issuer}` must be https (http only on loopback)")))?;
    gatehouse_domain::workload::validate_issuer(&redirect_url).map_err(|_| {
        CliError::config(format!("[oidc] redirect_url `{redirect_url}` must be https (http only on loopback)"))
    })?;
    let idle = section.session_idle_minutes.unwrap_or(8 * 60);
    let hours = section.session_hours.unwrap_or(12);
    // A bound keeps the arithmetic here and each login's `now + session`
    // from overflowing.
    if !(1..=MAX_SESSION_HOURS).contains(&hours) {
        return Err(CliError::config(format!("[oidc] session_hours must be between 1 and {MAX_SESSION_HOURS}")));
    }
    if idle == 0 || idle > hours * 60 {
        return Err(CliError::config("[oidc] session_idle_minutes must be at least 1 and within session_hours"));
    }
    Ok(Some(OidcSettings {
        issuer,
        client_id,
        client_secret: Secret::new(client_secret),
        redirect_url,
        auto_provision: section.auto_provision.unwrap_or(false),
        session_idle: std::time::Duration::from_secs(idle * 60),
        session_absolute: std::time::Duration::from_secs(hours * 3600),
    }))
}

/// The most `[notify.NAME]` targets one configuration names.
const MAX_NOTIFY_TARGETS: usize = 64;

/// `[notify.NAME]` sections: `url` (http or https), `kind` (`webhook` or
/// `slack`), and `secret` or `secret_file` (required for `webhook`). No
/// message echoes a URL or a secret: a URL may carry one.
fn notify(sections: BTreeMap<String, NotifySection>) -> CliResult<NotifySettings> {
    if sections.len() > MAX_NOTIFY_TARGETS {
        return Err(CliError::config(format!("at most {MAX_NOTIFY_TARGETS} [notify.NAME] targets")));
    }
    let mut targets = BTreeMap::new();
    for (name, section) in sections {
        let valid_name = (1..=64).contains(&name.len())
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(CliError::config(format!(
                "[notify.{}]: a target's name is 1 to 64 of a-z, 0-9, `_` and `-`",
                name.escape_debug().to_string().chars().take(80).collect::<String>()
            )));
        }
        let section_name = format!("[notify.{name}]");
        let url = section.url.ok_or_else(|| CliError::config(format!("{section_name} needs url")))?;
        let usable = reqwest::Url::parse(&url).ok().is_some_and(|parsed| {
            matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some_and(|host| !host.is_empty())
        });
        if !usable {
            return Err(CliError::config(format!("{section_name} url must be an http or https URL with a host")));
        }
        let kind = match section.kind.as_deref() {
            None => return Err(CliError::config(format!("{section_name} needs kind (`webhook` or `slack`)"))),
            Some(kind) => TargetKind::parse(kind).ok_or_else(|| {
                CliError::config(format!("{section_name} kind must be `webhook` or `slack`, not `{kind}`"))
            })?,
        };
        let secret = match (section.secret, section.secret_file) {
            (Some(_), Some(_)) => {
                return Err(CliError::config(format!("{section_name} takes secret or secret_file, not both")));
            }
            (Some(secret), None) => Some(secret),
            (None, Some(path)) => Some(
                std::fs::read_to_string(&path)
                    .map(|mut text| {
                        // In place: no copy of the secret is left behind.
                        text.truncate(text.trim_end_matches(['\n', '\r']).len());
                        text
                    })
                    .map_err(|error| {
                        CliError::config(format!("cannot read {section_name} secret_file {}: {error}", path.display()))
                    })?,
            ),
            (None, None) => None,
        };
        if secret.as_deref().is_some_and(str::is_empty) {
            return Err(CliError::config(format!("{section_name} secret is empty")));
        }
        if kind == TargetKind::Webhook && secret.is_none() {
            return Err(CliError::config(format!(
                "{section_name} is a webhook: it needs secret or secret_file, to sign what it receives"
            )));
        }
        targets.insert(name, NotifyTarget { url, kind, secret: secret.map(Secret::new) });
    }
    Ok(NotifySettings { targets })
}

fn integrations(github: GithubSection, gitlab: GitlabSection, webhooks: WebhooksSection) -> CliResult<Integrations> {
    let github = match (github.webhook_secret, github.app_id, github.app_private_key_file) {
        (None, None, None) => None,
        (None, _, _) => {
            return Err(CliError::config("[github] needs webhook_secret (or GATEHOUSE_GITHUB_WEBHOOK_SECRET_FILE)"));
        }
        (Some(secret), app_id, key_file) => {
            let app = match (app_id, key_file) {
                (None, None) => None,
                (Some(app_id), Some(path)) => {
                    let pem = std::fs::read_to_string(&path).map_err(|error| {
                        CliError::config(format!(
                            "cannot read [github] app_private_key_file {}: {error}",
                            path.display()
                        ))
                    })?;
                    Some(GithubAppSettings { app_id, private_key_pem: Secret::new(pem) })
                }
                _ => return Err(CliError::config("[github] app_id and app_private_key_file go together")),
            };
            let api_url = github.api_url.unwrap_or_else(|| "https://api.github.com".to_owned());
            gatehouse_domain::workload::validate_issuer(&api_url)
                .map_err(|_| CliError::config(format!("[github] api_url `{api_url}` must be https")))?;
            let actions_issuer = github.actions_issuer.unwrap_or_else(|| GITHUB_ACTIONS_ISSUER.to_owned());
            Some(GithubSettings { webhook_secret: Secret::new(secret), api_url, app, actions_issuer })
        }
    };
    let gitlab = gitlab.webhook_token.map(|token| GitlabSettings { webhook_token: Secret::new(token) });
    let mut integrations = Integrations { github, gitlab, ..Integrations::default() };
    if let Some(paths) = webhooks.pipeline_paths {
        if paths.is_empty() || paths.iter().any(String::is_empty) {
            return Err(CliError::config("[webhooks] pipeline_paths must be a non-empty list of globs"));
        }
        integrations.pipeline_paths = paths;
    }
    Ok(integrations)
}

/// Parses the file, then lays the environment over it, then checks the
/// result, so an unknown key is named whichever source it came from.
fn parse_file(text: &str, path: &Path, env: &dyn Environment) -> CliResult<FileConfig> {
    let bad_file = |error: toml::de::Error| {
        CliError::config(format!("invalid config file {}: {}", path.display(), error.message().trim()))
            .with_key_hint(error.span().map(|span| &text[span]))
    };
    let mut table: toml::Table = toml::from_str(text).map_err(bad_file)?;
    // Validate the file on its own first, for messages that point into it.
    FileConfig::deserialize(toml::Value::Table(table.clone())).map_err(|error| {
        CliError::config(format!("invalid config file {}: {}", path.display(), error.message().trim()))
    })?;

    for &(section, key, kind) in KEYS {
        let name = env_name(section, key);
        let value =
            match (env.var(&name), env.var(&format!("{name}_FILE"))) {
                (Some(value), _) => value,
                (None, Some(file)) => std::fs::read_to_string(&file)
                    .map(|v| v.trim_end_matches(['\n', '\r']).to_owned())
                    .map_err(|error| CliError::config(format!("cannot read {name}_FILE `{file}`: {error}")))?,
                (None, None) => continue,
            };
        let value = match kind {
            ValueKind::Text => toml::Value::String(value),
            ValueKind::Bool => toml::Value::Boolean(match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(CliError::config(format!("{name} must be true or false, not `{value}`"))),
            }),
            ValueKind::List => toml::Value::Array(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| toml::Value::String(v.into()))
                    .collect(),
            ),
            ValueKind::Integer => toml::Value::Integer(
                value
                    .trim()
                    .parse()
                    .map_err(|_| CliError::config(format!("{name} must be an integer, not `{value}`")))?,
            ),
        };
        let target = if section.is_empty() {
            &mut table
        } else {
            table
                .entry(section)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .ok_or_else(|| CliError::config(format!("[{section}] in {} must be a table", path.display())))?
        };
        target.insert(key.to_owned(), value);
    }
    FileConfig::deserialize(toml::Value::Table(table))
        .map_err(|error| CliError::config(format!("invalid configuration: {}", error.message().trim())))
}

trait KeyHint {
    fn with_key_hint(self, hint: Option<&str>) -> Self;
}

impl KeyHint for CliError {
    fn with_key_hint(mut self, hint: Option<&str>) -> Self {
        if let Some(hint) = hint.filter(|h| !h.is_empty() && h.len() < 80) {
            self.message.push_str(&format!(" (at `{hint}`)"));
        }
        self
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
