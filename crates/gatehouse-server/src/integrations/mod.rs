//! Forges calling in: GitHub and GitLab webhooks, and the GitHub App that
//! answers deployment protection rules.
//!
//! Every delivery is authenticated (HMAC signature or shared token, compared
//! in constant time), recorded once (a delivery id or a body seen before,
//! within the replay window, is refused), and audited with what it caused.

pub mod github;
pub mod github_app;
pub mod gitlab;
pub mod push;
pub mod signature;

use std::fmt;

/// A configured secret; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The GitHub Actions OIDC issuer.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

#[derive(Debug, Clone)]
pub struct GithubSettings {
    /// The webhook secret `X-Hub-Signature-256` is computed with.
    pub webhook_secret: Secret,
    /// REST API base, `https://api.github.com` (or a GitHub Enterprise
    /// Server's `/api/v3`); callbacks are only ever sent below it.
    pub api_url: String,
    /// The GitHub App that answers deployment protection rules.
    pub app: Option<GithubAppSettings>,
    /// The issuer whose trust bindings say which service identity a
    /// repository's deployments act as.
    pub actions_issuer: String,
}

#[derive(Debug, Clone)]
pub struct GithubAppSettings {
    pub app_id: String,
    /// The App's private key, PEM (RSA).
    pub private_key_pem: Secret,
}

#[derive(Debug, Clone)]
pub struct GitlabSettings {
    /// The secret token GitLab sends as `X-Gitlab-Token`.
    pub webhook_token: Secret,
}

#[derive(Debug, Clone)]
pub struct Integrations {
    pub github: Option<GithubSettings>,
    pub gitlab: Option<GitlabSettings>,
    /// Paths (globs) whose change is a pipeline configuration change.
    pub pipeline_paths: Vec<String>,
}

/// What counts as pipeline configuration unless configured otherwise.
pub const DEFAULT_PIPELINE_PATHS: [&str; 5] =
    [".github/workflows/**", ".gitlab-ci.yml", ".gitlab/ci/**", "Jenkinsfile", "**/Jenkinsfile"];

impl Default for Integrations {
    fn default() -> Self {
        Self {
            github: None,
            gitlab: None,
            pipeline_paths: DEFAULT_PIPELINE_PATHS.iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}
