//! Initialization, shared by `gatehouse init` and by `gatehouse serve` on an
//! empty data dir: the data dir, the audit signing key, the schema, the
//! default policy folder and the first admin with a one-time token.
//!
//! INVARIANT: on an initialized data dir or database, nothing is changed.

use std::path::PathBuf;
use std::sync::Arc;

use gatehouse_audit::note_key::NoteSigner;
use gatehouse_domain::clock::Clock;
use gatehouse_domain::identity::{Identity, IdentityKind, NewIdentity};
use gatehouse_domain::ids::IdentityId;
use gatehouse_domain::setup::first_admin_setup;
use gatehouse_domain::store::{AuditForwarder, OpenedStore, StoreError};
use gatehouse_domain::token::TokenSecret;
use gatehouse_policy::{DEFAULT_FILES, DEFAULT_TESTS, Policies, PolicySetSource};
use gatehouse_store::{AuditSettings, ConnectOptions, Engine};
use time::{Duration, OffsetDateTime};

use crate::config::Config;
use crate::error::{CliError, CliResult};
use crate::files::{create_private_dir, read_secret_file, write_secret_file};

/// The name the audit signing key is made under.
pub const AUDIT_KEY_NAME: &str = "gatehouse";

pub struct Initialized {
    pub store: Arc<dyn OpenedStore>,
    pub admin: Identity,
    pub admin_token: TokenSecret,
    pub admin_token_expires_at: OffsetDateTime,
    pub audit_public_key: String,
}

/// Opens the database. Without `audit.signer` the store can read but not
/// append to the audit log.
pub async fn open_store(config: &Config, audit: AuditSettings) -> CliResult<Arc<dyn OpenedStore>> {
    let options = ConnectOptions {
        max_connections: config.max_connections,
        audit,
        sqlite_memory_bytes: config.sqlite_memory_mib * 1024 * 1024,
        ..ConnectOptions::default()
    };
    gatehouse_store::open(&config.database_url, options).await.map_err(|e| CliError::config(e.to_string()))
}

fn audit_settings(
    config: &Config,
    signer: Arc<NoteSigner>,
    forwarder: Option<Arc<dyn AuditForwarder>>,
) -> AuditSettings {
    AuditSettings {
        signer: Some(signer),
        forwarder,
        max_batch: config.audit_max_batch,
        proof_cache_nodes: config.audit_proof_cache_mib * 1024 * 1024 / 32,
    }
}

/// The checkpoint origin: configured, or `gatehouse/<key id>`, unique per
/// installation and the same on every node.
fn audit_origin(config: &Config, signer: &NoteSigner) -> String {
    config.audit_origin.clone().unwrap_or_else(|| format!("gatehouse/{}", hex_key_id(signer)))
}

fn hex_key_id(signer: &NoteSigner) -> String {
    signer.verifier().key_id().iter().map(|b| format!("{b:02x}")).collect()
}

/// The SQLite file a URL names, if it is a SQLite URL.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    Some(PathBuf::from(path))
}

/// Whether the database already holds an installation, without creating
/// anything when it does not exist yet.
async fn database_initialized(config: &Config) -> CliResult<Option<Arc<dyn OpenedStore>>> {
    let engine = Engine::from_url(&config.database_url).map_err(|e| CliError::config(e.to_string()))?;
    if engine == Engine::Sqlite && sqlite_file(&config.database_url).is_some_and(|file| !file.exists()) {
        return Ok(None);
    }
    let store = open_store(config, AuditSettings::default()).await?;
    if store.find_installation().await.map_err(|e| CliError::config(e.to_string()))?.is_some() {
        return Err(CliError::refused(format!(
            "the database {} is already initialized; nothing was changed",
            gatehouse_store::connect_redacted(&config.database_url)
        )));
    }
    Ok(Some(store))
}

pub async fn initialize(
    config: &Config,
    admin_email: &str,
    admin_name: Option<&str>,
    clock: &dyn Clock,
    forwarder: Option<Arc<dyn AuditForwarder>>,
) -> CliResult<Initialized> {
    let key_path = config.key_path();
    if key_path.exists() {
        return Err(CliError::refused(format!(
            "{} is already initialized ({} exists); nothing was changed",
            config.data_dir.display(),
            key_path.display()
        )));
    }
    let now = clock.now();
    let name =
        admin_name.map(str::to_owned).unwrap_or_else(|| admin_email.split('@').next().unwrap_or("admin").to_owned());
    let admin = NewIdentity::new(IdentityKind::Human, &name, Some(admin_email), now)
        .map_err(|e| CliError::config(format!("invalid admin: {e}")))?;
    drop(database_initialized(config).await?);

    create_private_dir(&config.data_dir)?;
    let signer = Arc::new(NoteSigner::generate(AUDIT_KEY_NAME).map_err(|e| CliError::config(e.to_string()))?);
    let store = open_store(config, audit_settings(config, signer.clone(), forwarder)).await?;
    write_secret_file(&key_path, &format!("{}\n", signer.encode()))?;

    let result = write_initial_state(config, &*store, admin, &signer, now).await;
    let (admin_id, admin_token, expires_at) = match result {
        Ok(done) => done,
        Err(error) => {
            // Leave the data dir as uninitialized as we found it.
            let _ = std::fs::remove_file(&key_path);
            return Err(error);
        }
    };
    write_default_policy(config)?;
    let admin = store
        .find_identity(admin_id)
        .await
        .map_err(|e| CliError::config(e.to_string()))?
        .ok_or_else(|| CliError::config("the admin identity vanished after initialization"))?;
    Ok(Initialized {
        store,
        admin,
        admin_token,
        admin_token_expires_at: expires_at,
        audit_public_key: signer.verifier().encode(),
    })
}

async fn write_initial_state(
    config: &Config,
    store: &dyn OpenedStore,
    admin: NewIdentity,
    signer: &NoteSigner,
    now: OffsetDateTime,
) -> CliResult<(IdentityId, TokenSecret, OffsetDateTime)> {
    let ttl = Duration::seconds(config.bootstrap_ttl_seconds);
    let admin_id = admin.id;
    let origin = audit_origin(config, signer);
    let (setup, secret) = first_admin_setup(admin, signer.verifier().encode(), origin, store.engine(), now, ttl);
    let expires_at = setup.admin_token.expires_at;
    store.initialize(setup).await.map_err(|e| match e {
        StoreError::Conflict(_) => CliError::refused(format!(
            "the database {} is already initialized; nothing was changed",
            gatehouse_store::connect_redacted(&config.database_url)
        )),
        other => CliError::config(other.to_string()),
    })?;
    Ok((admin_id, secret, expires_at))
}

/// Writes the default policy folder, unless one is already there.
fn write_default_policy(config: &Config) -> CliResult<()> {
    let dir = &config.policy_dir;
    if dir.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| CliError::config(format!("cannot create {}: {e}", dir.display())))?;
    std::fs::create_dir_all(dir.join("tests"))
        .map_err(|e| CliError::config(format!("cannot create {}: {e}", dir.join("tests").display())))?;
    let tests = DEFAULT_TESTS.iter().map(|(name, text)| (format!("tests/{name}"), *text));
    for (name, text) in DEFAULT_FILES.iter().map(|(name, text)| ((*name).to_owned(), *text)).chain(tests) {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| CliError::config(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

/// The policies in the policy folder, validated; the built-in ones when
/// there is no folder (a node set up without copying it).
pub fn load_policies(config: &Config) -> CliResult<Policies> {
    if !config.policy_dir.exists() {
        tracing::warn!(
            dir = %config.policy_dir.display(),
            "no policy folder; using the built-in policies (copy the folder from the first node to change them)"
        );
        return Ok(Policies::defaults());
    }
    let source = PolicySetSource::read_dir(&config.policy_dir).map_err(|e| CliError::config(e.to_string()))?;
    Policies::from_source(&source).map_err(|e| CliError::config(format!("{}: {e}", config.policy_dir.display())))
}

/// What a node needs to serve an initialized installation: the store, and
/// the signing key that matches the one the database was initialized with.
pub async fn open_initialized(
    config: &Config,
    forwarder: Option<Arc<dyn AuditForwarder>>,
) -> CliResult<(Arc<dyn OpenedStore>, Arc<NoteSigner>)> {
    let signer = Arc::new(
        NoteSigner::parse(&read_secret_file(&config.key_path())?)
            .map_err(|e| CliError::config(format!("{}: {e}", config.key_path().display())))?,
    );
    let store = open_store(config, audit_settings(config, signer.clone(), forwarder)).await?;
    let installation =
        store.find_installation().await.map_err(|e| CliError::config(e.to_string()))?.ok_or_else(|| {
            CliError::config(format!(
                "{} holds an audit signing key but the database {} is not initialized; \
                 point --database at the database this key belongs to",
                config.data_dir.display(),
                gatehouse_store::connect_redacted(&config.database_url)
            ))
        })?;
    if signer.verifier().encode() != installation.audit_public_key {
        return Err(CliError::config(format!(
            "{} is not the audit signing key this database was initialized with ({}); \
             every node must use the same key",
            config.key_path().display(),
            installation.audit_public_key
        )));
    }
    Ok((store, signer))
}

/// Whether the database is initialized while this node has no key: a second
/// node set up without copying the first node's key.
pub async fn database_has_installation(config: &Config) -> CliResult<bool> {
    match database_initialized(config).await {
        Ok(_) => Ok(false),
        Err(error) if error.code == 1 => Ok(true),
        Err(error) => Err(error),
    }
}
