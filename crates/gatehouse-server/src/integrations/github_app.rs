//! Acting as a GitHub App: an App JWT (RS256, signed with the App's private
//! key) buys an installation token, which authenticates the answer to a
//! deployment protection rule.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use gatehouse_domain::outbound::OutboundRules;

use super::{GithubAppSettings, GithubSettings, Secret};
use crate::outbound::{OutboundClient, describe};

/// What a protection rule answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Approved,
    Rejected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approved => "approved",
            Verdict::Rejected => "rejected",
        }
    }
}

/// The answer to one deployment protection rule.
#[derive(Debug, Clone)]
pub struct ProtectionAnswer<'a> {
    pub installation_id: u64,
    pub callback_url: &'a str,
    pub environment: &'a str,
    pub verdict: Verdict,
    pub comment: &'a str,
}

pub struct GithubApp {
    client: OutboundClient,
    /// Installation tokens until shortly before they expire.
    tokens: Mutex<HashMap<u64, (Secret, OffsetDateTime)>>,
}

impl GithubApp {
    pub fn new(outbound: &OutboundRules) -> Self {
        let builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")));
        Self { client: OutboundClient::new(outbound, builder), tokens: Mutex::new(HashMap::new()) }
    }
}

/// The App JWT GitHub expects: `iss` the App id, issued a minute in the
/// past (clock drift), valid for nine minutes (GitHub's limit is ten).
pub fn app_jwt(app: &GithubAppSettings, now: OffsetDateTime) -> Result<String, String> {
    let key = EncodingKey::from_rsa_pem(app.private_key_pem.expose().as_bytes())
        .map_err(|e| format!("the GitHub App private key is not an RSA PEM key: {e}"))?;
    let iat = now.unix_timestamp() - 60;
    let claims = json!({"iat": iat, "exp": iat + 600 - 60, "iss": app.app_id});
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key)
        .map_err(|e| format!("cannot sign the App JWT: {e}"))
}

impl GithubApp {
    /// Sends `{environment_name, state, comment}` to the deployment's
    /// callback URL, which must lie below the configured API base.
    pub async fn answer_protection_rule(
        &self,
        github: &GithubSettings,
        answer: &ProtectionAnswer<'_>,
        now: OffsetDateTime,
    ) -> Result<(), String> {
        let ProtectionAnswer { installation_id, callback_url, environment, verdict, comment } = *answer;
        let base = format!("{}/", github.api_url.trim_end_matches('/'));
        if !callback_url.starts_with(&base) {
            return Err(format!("the callback URL is not below the configured GitHub API `{}`", github.api_url));
        }
        let app = github.app.as_ref().ok_or("no GitHub App is configured to answer deployment protection rules")?;
        let token = self.installation_token(github, app, installation_id, now).await?;
        let response = self
            .client
            .post(callback_url)
            .map_err(|e| format!("cannot reach GitHub: {e}"))?
            .bearer_auth(token.expose())
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .json(&json!({"environment_name": environment, "state": verdict.as_str(), "comment": comment}))
            .send()
            .await
            .map_err(|e| format!("cannot reach GitHub: {}", describe(&e)))?;
        if !response.status().is_success() {
            return Err(format!("GitHub answered the deployment callback with HTTP {}", response.status()));
        }
        Ok(())
    }

    async fn installation_token(
        &self,
        github: &GithubSettings,
        app: &GithubAppSettings,
        installation_id: u64,
        now: OffsetDateTime,
    ) -> Result<Secret, String> {
        if let Some((token, until)) =
            self.tokens.lock().unwrap_or_else(|p| p.into_inner()).get(&installation_id).cloned()
            && now < until
        {
            return Ok(token);
        }
        #[derive(Deserialize)]
        struct InstallationToken {
            token: String,
            expires_at: Option<String>,
        }
        let url = format!("{}/app/installations/{installation_id}/access_tokens", github.api_url.trim_end_matches('/'));
        let response = self
            .client
            .post(&url)
            .map_err(|e| format!("cannot reach GitHub: {e}"))?
            .bearer_auth(app_jwt(app, now)?)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
            .await
            .map_err(|e| format!("cannot reach GitHub: {}", describe(&e)))?;
        if !response.status().is_success() {
            return Err(format!("GitHub refused an installation token: HTTP {}", response.status()));
        }
        let issued: InstallationToken =
            response.json().await.map_err(|_| "GitHub's installation token answer is not JSON".to_owned())?;
        let expires = issued
            .expires_at
            .and_then(|at| OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339).ok())
            .unwrap_or(now + time::Duration::minutes(60));
        // Renew five minutes early.
        let until = expires - time::Duration::minutes(5);
        let token = Secret::new(issued.token);
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(installation_id, (token.clone(), until));
        Ok(token)
    }
}
