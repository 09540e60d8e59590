//! `gatehouse serve`: run the server. On an empty data dir it first
//! initializes as `init` would, with admin `admin@localhost`, and writes the
//! one-time token to `<data-dir>/bootstrap-admin-token` (never to the log).

use std::sync::Arc;

use gatehouse_domain::auth_failures::FailureLimits;
use gatehouse_domain::clock::SystemClock;
use gatehouse_domain::token::TokenLifetimePolicy;
use gatehouse_mfa::SealingKey;
use gatehouse_server::auth_throttle::spawn_flusher;
use gatehouse_server::{
    AppState, MfaSettings, PolicyHandle, ScimSettings, Settings, app, metrics_handle, serve, spawn_metrics_upkeep,
};

use crate::bootstrap::{database_has_installation, initialize, load_policies, open_initialized};
use crate::config::Config;
use crate::error::{CliError, CliResult};
use crate::files::{read_secret_file, write_secret_file};
use crate::forward::forwarder;

pub async fn run(config: &Config) -> CliResult<()> {
    let started = std::time::Instant::now();
    let forwarder = forwarder(config.audit_forward.as_ref())?;
    if !config.key_path().exists() {
        if database_has_installation(config).await? {
            return Err(CliError::config(format!(
                "the database {} is already initialized, but {} has no audit signing key; \
                 copy audit-signing.key from the node that initialized it",
                gatehouse_store::connect_redacted(&config.database_url),
                config.data_dir.display()
            )));
        }
        let done = initialize(config, "admin@localhost", Some("admin"), &SystemClock, forwarder.clone()).await?;
        let token_path = config.bootstrap_token_path();
        write_secret_file(&token_path, &format!("{}\n", done.admin_token.expose()))?;
        tracing::info!(
            path = %token_path.display(),
            admin = %done.admin.id,
            "initialized an empty data dir; the one-time admin token is in the file at path"
        );
    }
    let (store, _signer) = open_initialized(config, forwarder).await?;
    let policies = load_policies(config)?;
    tracing::info!(hash = policies.hash(), "policies loaded");
    if let Some((rule, line, name)) =
        gatehouse_server::notify::unknown_targets(policies.approvals(), &config.notify).into_iter().next()
    {
        return Err(CliError::config(format!(
            "{}:{line}: rule `{rule}` notifies `{name}`, but no [notify.{name}] section configures it",
            config.policy_dir.join(gatehouse_policy::approvals::APPROVALS_FILE).display()
        )));
    }
    if let Some((line, name)) =
        gatehouse_server::notify::unknown_vendor_targets(&policies, &config.notify).into_iter().next()
    {
        return Err(CliError::config(format!(
            "{}:{line}: notify names `{name}`, but no [notify.{name}] section configures it",
            config.policy_dir.join(gatehouse_policy::vendor_access::VENDOR_ACCESS_FILE).display()
        )));
    }
    if let Some((line, name)) =
        gatehouse_server::notify::unknown_review_targets(&policies, &config.notify).into_iter().next()
    {
        return Err(CliError::config(format!(
            "{}:{line}: notify names `{name}`, but no [notify.{name}] section configures it",
            config.policy_dir.join(gatehouse_policy::reviews::REVIEWS_FILE).display()
        )));
    }

    let mfa = MfaSettings {
        sealing_key: sealing_key(config)?,
        fresh_for: time::Duration::minutes(config.mfa_fresh_minutes),
        step_up: config.mfa_step_up,
        required: config.mfa_required,
        ..MfaSettings::default()
    };
    let settings = Settings {
        mfa,
        token_lifetime: TokenLifetimePolicy { max_ttl: time::Duration::seconds(config.max_ttl_seconds) },
        max_body_bytes: config.max_body_bytes,
        integrations: config.integrations.clone(),
        oidc: config.oidc.clone(),
        outbound: config.outbound.clone(),
        auth_failures: FailureLimits {
            limit: config.auth_failure_limit,
            window: time::Duration::seconds(config.auth_failure_window_seconds),
            max_tracked: config.auth_failure_max_tracked,
        },
        metrics_require_token: config.metrics_require_token,
        scim: ScimSettings { manage_admins: config.scim_manage_admins },
        notify: config.notify.clone(),
        public_url: config.public_url.clone(),
        ..Settings::default()
    };
    let state = AppState::new(store, PolicyHandle::new(policies), Arc::new(SystemClock), settings, metrics_handle());
    if config.policy_dir.exists() {
        crate::policy_reload::Reloader {
            dir: config.policy_dir.clone(),
            policies: state.policies.clone(),
            store: state.store.clone(),
            clock: state.clock.clone(),
            notify: config.notify.clone(),
        }
        .spawn();
    }
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| CliError::config(format!("cannot listen on {}: {e}", config.listen)))?;
    let address = listener.local_addr().map_err(|e| CliError::config(e.to_string()))?;
    tracing::info!(
        %address,
        engine = state.engine.engine(),
        database = %gatehouse_store::connect_redacted(&config.database_url),
        startup_ms = started.elapsed().as_millis() as u64,
        "gatehouse is listening"
    );
    let flusher = spawn_flusher(state.clone());
    let notifier = gatehouse_server::notify::spawn(state.clone(), config.outbox_interval);
    let upkeep = metrics_handle().map(spawn_metrics_upkeep);
    let rule_watch = gatehouse_server::approvals::spawn_rule_watch(state.clone());
    let scheduler = gatehouse_server::scheduler::spawn(state.clone(), config.scheduler_interval);
    let served = serve(listener, app(state.clone()), config.http_limits, shutdown_signal()).await;
    flusher.abort();
    rule_watch.abort();
    notifier.abort();
    scheduler.abort();
    // Another node takes the scheduler over at its next tick.
    state.scheduler.release().await;
    if let Some(upkeep) = upkeep {
        upkeep.abort();
    }
    // The failed authentications counted but not yet written.
    if let Err(error) = state.auth_failures.flush_all(&state).await {
        tracing::warn!(%error, "could not write the summary of failed authentications");
    }
    served.map_err(|e| CliError::config(format!("server error: {e}")))?;
    tracing::info!("gatehouse stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The key that seals TOTP secrets: `<data-dir>/mfa-sealing.key` (0600),
/// made on first start. Every node sharing a PostgreSQL database needs the
/// same file.
fn sealing_key(config: &Config) -> CliResult<SealingKey> {
    let path = config.data_dir.join("mfa-sealing.key");
    if !path.exists() {
        write_secret_file(&path, &format!("{}\n", hex::encode(SealingKey::generate().as_bytes())))?;
    }
    let text = read_secret_file(&path)?;
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CliError::config(format!("{} is not a 32-byte hex key", path.display())))?;
    Ok(SealingKey::from_bytes(bytes))
}
