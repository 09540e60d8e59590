//! Single sign-on for people: OpenID Connect authorization code flow with
//! PKCE (S256), `state` and `nonce`, against the company's identity
//! provider; server-side sessions in an HttpOnly, SameSite=Lax cookie
//! (Secure except on loopback), with idle and absolute timeouts.
//!
//! The login in flight travels in a sealed, short-lived cookie (state,
//! nonce, PKCE verifier), so any node sharing the sealing key can finish
//! it. A person is linked by issuer and subject, or on first login by a
//! verified email to an existing human identity; anyone else is refused
//! unless auto-provisioning is on.

pub mod cookies;
pub mod login;
pub mod provider;
pub mod return_to;

use std::time::Duration;

use crate::integrations::Secret;

#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// This server's `/auth/callback`, as registered at the IdP.
    pub redirect_url: String,
    /// Create a human identity for a verified email nobody has yet.
    pub auto_provision: bool,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// A session ends this long after login, whatever its use.
    pub session_absolute: Duration,
}

impl OidcSettings {
    /// `scheme://host[:port]` of the redirect URL: the server's own origin,
    /// which cookie-authenticated state-changing requests must carry.
    pub fn origin(&self) -> String {
        let after_scheme = self.redirect_url.find("://").map_or(0, |i| i + 3);
        let end = self.redirect_url[after_scheme..].find('/').map_or(self.redirect_url.len(), |i| after_scheme + i);
        self.redirect_url[..end].to_owned()
    }

    /// Cookies are `Secure` unless the server is on loopback (local set-ups).
    pub fn secure_cookies(&self) -> bool {
        !gatehouse_domain::workload::is_loopback_url(&self.redirect_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(redirect: &str) -> OidcSettings {
        OidcSettings {
            issuer: "https://idp".into(),
            client_id: "c".into(),
            client_secret: Secret::new("s"),
            redirect_url: redirect.into(),
            auto_provision: false,
            session_idle: Duration::from_secs(1),
            session_absolute: Duration::from_secs(2),
        }
    }

    #[test]
    fn the_origin_comes_from_the_redirect_url() {
        assert_eq!(settings("https://gatehouse.example.com/auth/callback").origin(), "https://gatehouse.example.com");
        assert!(settings("https://gatehouse.example.com/auth/callback").secure_cookies());
        assert_eq!(settings("http://127.0.0.1:8080/auth/callback").origin(), "http://127.0.0.1:8080");
        assert!(!settings("http://127.0.0.1:8080/auth/callback").secure_cookies());
    }
}
