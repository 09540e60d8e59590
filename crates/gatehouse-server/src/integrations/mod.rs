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

/// A configured secret (webhook secret, the GitHub App's private key, the
/// OIDC client secret, an installation token); never printed, and wiped
/// from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl zeroize::Zeroize for Secret {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self);
    }
}

impl zeroize::ZeroizeOnDrop for Secret {}

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

/// The forges' webhook routes, each declared once with its OpenAPI entry.
pub fn routes() -> crate::api::Routes {
    crate::api::Routes::default()
        .routes(utoipa_axum::routes!(github::receive))
        .routes(utoipa_axum::routes!(gitlab::receive))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_secrets_are_wiped_from_memory() {
        fn wiped_when_dropped<T: zeroize::ZeroizeOnDrop>() {}
        wiped_when_dropped::<Secret>();
        let mut secret = Secret::new("-----BEGIN PRIVATE KEY-----");
        zeroize::Zeroize::zeroize(&mut secret);
        assert_eq!(secret.expose(), "");
        assert_eq!(format!("{:?}", Secret::new("s3cret")), "Secret(<redacted>)");
    }
}
