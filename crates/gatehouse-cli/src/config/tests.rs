use std::collections::HashMap;

use clap::Parser;

use super::*;
use crate::args::Cli;

struct MapEnvironment(HashMap<String, String>);

impl Environment for MapEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn env(pairs: &[(&str, &str)]) -> MapEnvironment {
    MapEnvironment(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

fn resolve(dir: &Path, file: &str, extra_args: &[&str], environment: &MapEnvironment) -> CliResult<Config> {
    std::fs::write(dir.join("gatehouse.toml"), file).unwrap();
    let mut argv = vec!["gatehouse", "--data-dir", dir.to_str().unwrap()];
    argv.extend_from_slice(extra_args);
    argv.push("whoami");
    let cli = Cli::try_parse_from(argv).unwrap();
    Config::resolve(&cli.global, None, environment)
}

#[test]
fn defaults_live_under_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let config = resolve(dir.path(), "", &[], &env(&[])).unwrap();
    assert_eq!(config.database_url, format!("sqlite://{}/gatehouse.db", dir.path().display()));
    assert_eq!(config.policy_dir, dir.path().join("policy"));
    assert_eq!(config.listen, "127.0.0.1:8080");
    assert_eq!(config.max_body_bytes, 1024 * 1024);
}

#[test]
fn flags_beat_environment_beats_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = "listen = \"0.0.0.0:1\"\n[database]\nurl = \"sqlite:///from-file.db\"\nmax_connections = 3\n[tokens]\nmax_ttl_seconds = 7200\nbootstrap_ttl_seconds = 3600\n";
    let config = resolve(dir.path(), file, &[], &env(&[])).unwrap();
    assert_eq!(config.database_url, "sqlite:///from-file.db");
    assert_eq!(config.max_connections, 3);
    assert_eq!(config.max_ttl_seconds, 7200);

    let environment =
        env(&[("GATEHOUSE_DATABASE_URL", "sqlite:///from-env.db"), ("GATEHOUSE_TOKENS_MAX_TTL_SECONDS", "9000")]);
    let config = resolve(dir.path(), file, &[], &environment).unwrap();
    assert_eq!(config.database_url, "sqlite:///from-env.db");
    assert_eq!(config.max_ttl_seconds, 9000);
    assert_eq!(config.listen, "0.0.0.0:1");

    let config = resolve(dir.path(), file, &["--database", "sqlite:///from-flag.db"], &environment).unwrap();
    assert_eq!(config.database_url, "sqlite:///from-flag.db");
}

#[test]
fn a_secret_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("db-url");
    std::fs::write(&secret, "postgres://gatehouse:s3cret@db/gatehouse\n").unwrap();
    let environment = env(&[("GATEHOUSE_DATABASE_URL_FILE", secret.to_str().unwrap())]);
    let config = resolve(dir.path(), "", &[], &environment).unwrap();
    assert_eq!(config.database_url, "postgres://gatehouse:s3cret@db/gatehouse");
    assert!(!format!("{config:?}").contains("s3cret"), "Debug must not print the password");
}

#[test]
fn unknown_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = resolve(dir.path(), "[database]\nurl = \"sqlite:///x\"\npool = 3\n", &[], &env(&[])).unwrap_err();
    assert_eq!(err.code, 2);
    assert!(err.message.contains("unknown field `pool`"), "{}", err.message);
    let err = resolve(dir.path(), "lisen = \"x\"\n", &[], &env(&[])).unwrap_err();
    assert!(err.message.contains("unknown field `lisen`"), "{}", err.message);
}

#[test]
fn bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = resolve(dir.path(), "", &[], &env(&[("GATEHOUSE_HTTP_MAX_BODY_BYTES", "lots")])).unwrap_err();
    assert!(err.message.contains("GATEHOUSE_HTTP_MAX_BODY_BYTES must be an integer"), "{}", err.message);
    let err = resolve(dir.path(), "[tokens]\nmax_ttl_seconds = 10\n", &[], &env(&[])).unwrap_err();
    assert!(err.message.contains("max_ttl_seconds"), "{}", err.message);
    let err = resolve(dir.path(), "[log]\nformat = \"xml\"\n", &[], &env(&[])).unwrap_err();
    assert!(err.message.contains("`xml`"), "{}", err.message);
    let err = resolve(dir.path(), "not toml at all", &[], &env(&[])).unwrap_err();
    assert!(err.message.starts_with("invalid config file"), "{}", err.message);
}

#[test]
fn an_explicit_config_file_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::try_parse_from(["gatehouse", "--config", "/nonexistent/gatehouse.toml", "whoami"]).unwrap();
    let err = Config::resolve(&cli.global, None, &env(&[])).unwrap_err();
    assert!(err.message.contains("/nonexistent/gatehouse.toml"), "{}", err.message);
    drop(dir);
}

#[test]
fn integrations_come_from_the_file_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("app.pem");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let file = format!("[github]\napp_id = \"42\"\napp_private_key_file = \"{}\"\n", key.display());
    let environment = env(&[
        ("GATEHOUSE_GITHUB_WEBHOOK_SECRET_FILE", secret.to_str().unwrap()),
        ("GATEHOUSE_GITLAB_WEBHOOK_TOKEN", "glt"),
        ("GATEHOUSE_WEBHOOKS_PIPELINE_PATHS", "ci/**, Jenkinsfile"),
    ]);
    let config = resolve(dir.path(), &file, &[], &environment).unwrap();
    let github = config.integrations.github.as_ref().unwrap();
    assert_eq!(github.webhook_secret.expose(), "s3cret");
    assert_eq!(github.api_url, "https://api.github.com");
    assert_eq!(github.app.as_ref().unwrap().app_id, "42");
    assert_eq!(config.integrations.gitlab.as_ref().unwrap().webhook_token.expose(), "glt");
    assert_eq!(config.integrations.pipeline_paths, vec!["ci/**", "Jenkinsfile"]);
    assert!(!format!("{:?}", config.integrations).contains("s3cret"), "secrets are never printed");

    let defaults = resolve(dir.path(), "", &[], &env(&[])).unwrap();
    assert!(defaults.integrations.github.is_none());
    assert!(defaults.integrations.pipeline_paths.contains(&".github/workflows/**".to_owned()));
}

#[test]
fn incomplete_integrations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (file, fragment) in [
        ("[github]\napp_id = \"1\"\n", "webhook_secret"),
        ("[github]\nwebhook_secret = \"x\"\napp_id = \"1\"\n", "go together"),
        ("[github]\nwebhook_secret = \"x\"\napi_url = \"http://github.example.com\"\n", "must be https"),
        ("[github]\nwebhook_secret = \"x\"\napp_id = \"1\"\napp_private_key_file = \"/nonexistent\"\n", "cannot read"),
        ("[webhooks]\npipeline_paths = []\n", "non-empty"),
        ("[github]\nsecret = \"x\"\n", "secret"),
    ] {
        let error = resolve(dir.path(), file, &[], &env(&[])).err().unwrap();
        assert!(error.message.contains(fragment), "{file}: {}", error.message);
    }
}

#[test]
fn mfa_settings_come_from_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        resolve(dir.path(), "[mfa]\nfresh_minutes = 5\n", &[], &env(&[("GATEHOUSE_MFA_STEP_UP", "false")])).unwrap();
    assert!(!config.mfa_step_up);
    assert_eq!(config.mfa_fresh_minutes, 5);
    let defaults = resolve(dir.path(), "", &[], &env(&[])).unwrap();
    assert!(defaults.mfa_step_up && defaults.mfa_required, "people need a second factor unless configured otherwise");
    let relaxed = resolve(dir.path(), "[mfa]\nrequired = false\nstep_up = false\n", &[], &env(&[])).unwrap();
    assert!(!relaxed.mfa_step_up && !relaxed.mfa_required);
    assert_eq!(defaults.mfa_fresh_minutes, 15);
    assert!(resolve(dir.path(), "", &[], &env(&[("GATEHOUSE_MFA_STEP_UP", "maybe")])).is_err());
    assert!(resolve(dir.path(), "[mfa]\nfresh_minutes = 0\n", &[], &env(&[])).is_err());
}

#[test]
fn outbound_rules_come_from_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let defaults = resolve(dir.path(), "", &[], &env(&[])).unwrap();
    assert_eq!(defaults.outbound, gatehouse_domain::outbound::OutboundRules::default(), "public addresses only");
    let file = "[outbound]\nallow_loopback = true\nallow_private = [\"10.0.0.0/8\", \"fd00::/8\"]\n";
    let config = resolve(dir.path(), file, &[], &env(&[])).unwrap();
    assert!(config.outbound.allow_loopback);
    assert_eq!(
        config.outbound.allow_private.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["10.0.0.0/8", "fd00::/8"]
    );
    let environment = env(&[
        ("GATEHOUSE_OUTBOUND_ALLOW_LOOPBACK", "true"),
        ("GATEHOUSE_OUTBOUND_ALLOW_PRIVATE", "192.168.0.0/16, 172.16.0.0/12"),
    ]);
    let config = resolve(dir.path(), "", &[], &environment).unwrap();
    assert!(config.outbound.allow_loopback);
    assert_eq!(config.outbound.allow_private.len(), 2);
    let error = resolve(dir.path(), "[outbound]\nallow_private = [\"10.0.0.0/99\"]\n", &[], &env(&[])).err().unwrap();
    assert!(error.message.contains("allow_private") && error.message.contains("10.0.0.0/99"), "{}", error.message);
}

#[test]
fn failed_authentication_limits_and_metrics_token_come_from_file_or_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = resolve(dir.path(), "", &[], &env(&[])).unwrap();
    assert_eq!(
        (config.auth_failure_limit, config.auth_failure_window_seconds, config.auth_failure_max_tracked),
        (10, 60, 4096)
    );
    assert!(!config.metrics_require_token);
    let file = "[auth]\nfailure_limit = 5\nfailure_window_seconds = 30\n[metrics]\nrequire_token = true\n";
    let config = resolve(dir.path(), file, &[], &env(&[("GATEHOUSE_AUTH_FAILURE_MAX_TRACKED", "100")])).unwrap();
    assert_eq!(
        (config.auth_failure_limit, config.auth_failure_window_seconds, config.auth_failure_max_tracked),
        (5, 30, 100)
    );
    assert!(config.metrics_require_token);
    let error = resolve(dir.path(), "[auth]\nfailure_limit = 0\n", &[], &env(&[])).err().unwrap();
    assert!(error.message.contains("failure_limit"), "{}", error.message);
}

#[test]
fn scim_may_manage_admins_only_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    assert!(!resolve(dir.path(), "", &[], &env(&[])).unwrap().scim_manage_admins, "off by default");
    assert!(resolve(dir.path(), "[scim]\nmanage_admins = true\n", &[], &env(&[])).unwrap().scim_manage_admins);
    let from_env = resolve(dir.path(), "", &[], &env(&[("GATEHOUSE_SCIM_MANAGE_ADMINS", "true")])).unwrap();
    assert!(from_env.scim_manage_admins);
    assert!(resolve(dir.path(), "[scim]\nmanage_admin = true\n", &[], &env(&[])).is_err(), "unknown keys are refused");
}

#[test]
fn http_timeouts_and_the_connection_cap_come_from_file_or_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = resolve(dir.path(), "", &[], &env(&[])).unwrap();
    assert_eq!(config.http_limits, gatehouse_server::HttpLimits::default());
    let file = "[http]\nheader_read_timeout_seconds = 2\nidle_timeout_seconds = 5\n";
    let environment =
        env(&[("GATEHOUSE_HTTP_MAX_CONNECTIONS", "8"), ("GATEHOUSE_HTTP_REQUEST_BODY_TIMEOUT_SECONDS", "3")]);
    let limits = resolve(dir.path(), file, &[], &environment).unwrap().http_limits;
    assert_eq!(limits.header_read_timeout, Duration::from_secs(2));
    assert_eq!(limits.request_body_timeout, Duration::from_secs(3));
    assert_eq!(limits.idle_timeout, Duration::from_secs(5));
    assert_eq!(limits.max_connections, 8);
    let error = resolve(dir.path(), "[http]\nmax_connections = 0\n", &[], &env(&[])).err().unwrap();
    assert!(error.message.contains("max_connections"), "{}", error.message);
    let error = resolve(dir.path(), "[http]\nidle_timeout_seconds = 0\n", &[], &env(&[])).err().unwrap();
    assert!(error.message.contains("idle_timeout_seconds"), "{}", error.message);
}

#[test]
fn sqlite_memory_comes_from_file_or_environment_and_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(resolve(dir.path(), "", &[], &env(&[])).unwrap().sqlite_memory_mib, 64);
    let from_file = resolve(dir.path(), "[database]\nsqlite_memory_mib = 16\n", &[], &env(&[])).unwrap();
    assert_eq!(from_file.sqlite_memory_mib, 16);
    let from_env = resolve(dir.path(), "", &[], &env(&[("GATEHOUSE_DATABASE_SQLITE_MEMORY_MIB", "0")])).unwrap();
    assert_eq!(from_env.sqlite_memory_mib, 0, "0 lifts the bound");
    let error = resolve(dir.path(), "[database]\nsqlite_memory_mib = 99999999\n", &[], &env(&[])).err().unwrap();
    assert!(error.message.contains("sqlite_memory_mib"), "{}", error.message);
}

#[test]
fn notification_targets_are_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("ops.secret");
    std::fs::write(&secret_file, "from-a-file\n").unwrap();
    let file = format!(
        "[notify.ops]\nurl = \"https://hooks.example.com/ops\"\nkind = \"webhook\"\nsecret = \"s3cret-value\"\n\
         [notify.chat-room_2]\nurl = \"https://hooks.slack.com/services/T0/B0/XYZ\"\nkind = \"slack\"\n\
         [notify.filed]\nurl = \"http://10.0.0.5:8080/hook\"\nkind = \"webhook\"\nsecret_file = \"{}\"\n",
        secret_file.display()
    );
    let config = resolve(dir.path(), &file, &[], &env(&[])).unwrap();
    let targets = &config.notify.targets;
    assert_eq!(targets.keys().collect::<Vec<_>>(), ["chat-room_2", "filed", "ops"]);
    assert_eq!(targets["ops"].kind, TargetKind::Webhook);
    assert_eq!(targets["ops"].secret.as_ref().map(Secret::expose), Some("s3cret-value"));
    assert_eq!(targets["filed"].secret.as_ref().map(Secret::expose), Some("from-a-file"));
    assert_eq!(targets["chat-room_2"].kind, TargetKind::Slack);
    assert!(targets["chat-room_2"].secret.is_none(), "a Slack target's secret is optional");
    let shown = format!("{:?}", config.notify);
    assert!(!shown.contains("s3cret") && !shown.contains("XYZ"), "{shown}");

    let refused = |text: &str, needle: &str| {
        let error = resolve(dir.path(), text, &[], &env(&[])).expect_err("refused").message;
        assert!(error.contains(needle), "`{needle}` not in: {error}");
        assert!(!error.contains("s3cret") && !error.contains("/B0/"), "a secret was echoed: {error}");
    };
    let hook = "url = \"https://hooks.example.com/B0/x\"\nkind = \"webhook\"\nsecret = \"s3cret\"\n";
    refused(&format!("[notify.Ops]\n{hook}"), "a-z, 0-9");
    refused(&format!("[notify.{}]\n{hook}", "a".repeat(65)), "1 to 64");
    refused("[notify.ops]\nkind = \"webhook\"\nsecret = \"s3cret\"\n", "needs url");
    refused(
        "[notify.ops]\nurl = \"ftp://hooks.example.com/B0/\"\nkind = \"webhook\"\nsecret = \"s3cret\"\n",
        "http or https",
    );
    refused("[notify.ops]\nurl = \"not a url /B0/\"\nkind = \"slack\"\n", "http or https");
    refused("[notify.ops]\nurl = \"https://hooks.example.com/B0/\"\nkind = \"email\"\n", "`webhook` or `slack`");
    refused("[notify.ops]\nurl = \"https://hooks.example.com/B0/\"\n", "needs kind");
    refused("[notify.ops]\nurl = \"https://hooks.example.com/B0/\"\nkind = \"webhook\"\n", "needs secret");
    refused(&format!("[notify.ops]\n{hook}secret_file = \"/nonexistent\"\n"), "not both");
    refused("[notify.ops]\nurl = \"https://hooks.example.com/B0/\"\nkind = \"webhook\"\nsecret = \"\"\n", "is empty");
    refused(&format!("[notify.ops]\n{hook}retries = 3\n"), "retries");
    refused(
        "[notify.ops]\nurl = \"https://hooks.example.com/B0/\"\nkind = \"webhook\"\nsecret_file = \"/nonexistent/x\"\n",
        "cannot read [notify.ops] secret_file",
    );
}

#[test]
fn the_scheduler_interval_comes_from_file_or_environment_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let seconds = |file: &str, vars: &[(&str, &str)]| {
        resolve(dir.path(), file, &[], &env(vars)).map(|config| config.scheduler_interval.as_secs())
    };
    assert_eq!(seconds("", &[]).unwrap(), 5, "every five seconds by default");
    assert_eq!(seconds("[scheduler]\ninterval_seconds = 30\n", &[]).unwrap(), 30);
    assert_eq!(seconds("", &[("GATEHOUSE_SCHEDULER_INTERVAL_SECONDS", "2")]).unwrap(), 2);
    for file in ["[scheduler]\ninterval_seconds = 0\n", "[scheduler]\ninterval_seconds = 3601\n"] {
        let error = seconds(file, &[]).err().unwrap();
        assert!(error.message.contains("interval_seconds"), "{}", error.message);
    }
}

#[test]
fn the_outbox_interval_comes_from_file_or_environment_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let seconds = |file: &str, vars: &[(&str, &str)]| {
        resolve(dir.path(), file, &[], &env(vars)).map(|config| config.outbox_interval.as_secs())
    };
    assert_eq!(seconds("", &[]).unwrap(), 1, "every second by default");
    assert_eq!(seconds("[outbox]\ninterval_seconds = 60\n", &[]).unwrap(), 60);
    assert_eq!(seconds("", &[("GATEHOUSE_OUTBOX_INTERVAL_SECONDS", "3600")]).unwrap(), 3600);
    for file in ["[outbox]\ninterval_seconds = 0\n", "[outbox]\ninterval_seconds = 3601\n"] {
        let error = seconds(file, &[]).err().unwrap();
        assert!(error.message.contains("[outbox] interval_seconds"), "{}", error.message);
    }
}

#[test]
fn the_public_url_must_be_able_to_hold_passkeys() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(resolve(dir.path(), "", &[], &env(&[])).unwrap().public_url, None);
    let file = "public_url = \"https://gatehouse.example.com\"\n";
    let config = resolve(dir.path(), file, &[], &env(&[])).unwrap();
    assert_eq!(config.public_url.unwrap().as_str(), "https://gatehouse.example.com/");
    let local = env(&[("GATEHOUSE_PUBLIC_URL", "http://localhost:8080")]);
    assert_eq!(resolve(dir.path(), file, &[], &local).unwrap().public_url.unwrap().as_str(), "http://localhost:8080/");
    for (bad, says) in [
        ("http://gatehouse.example.com", "must be https"),
        ("http://127.0.0.1:8080", "IP address"),
        ("https://10.0.0.1", "IP address"),
    ] {
        let refused = resolve(dir.path(), &format!("public_url = \"{bad}\"\n"), &[], &env(&[])).unwrap_err();
        assert!(refused.to_string().contains(says), "{bad}: {refused}");
    }
}
