//! The two cookies: the session secret (`__Host-gatehouse_session`, or
//! `gatehouse_session` on plain-http loopback) and `gatehouse_login` (the
//! sealed login in flight).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

use super::OidcSettings;

/// The session cookie whenever cookies are Secure. A browser keeps a
/// `__Host-` cookie only if it is Secure, `Path=/` and has no `Domain`, so
/// no sibling subdomain and no plain-http page can plant or shadow it.
pub const SESSION_SECURE: &str = "__Host-gatehouse_session";
/// The session cookie on plain-http loopback (local set-ups), where a
/// browser refuses `__Host-` cookies because they cannot be Secure.
pub const SESSION_PLAIN: &str = "gatehouse_session";
pub const LOGIN: &str = "gatehouse_login";

/// The session cookie's name for a server whose cookies are (not) Secure.
pub fn session_name(secure: bool) -> &'static str {
    if secure { SESSION_SECURE } else { SESSION_PLAIN }
}

/// Whether this server's cookies are Secure (no single sign-on: not).
pub fn secure(oidc: Option<&OidcSettings>) -> bool {
    oidc.is_some_and(OidcSettings::secure_cookies)
}

/// The session secret the request carries, under this server's name only:
/// where cookies are Secure, an unprefixed `gatehouse_session` is ignored.
pub fn read_session(headers: &HeaderMap, oidc: Option<&OidcSettings>) -> Option<String> {
    read(headers, session_name(secure(oidc)))
}

/// The `Set-Cookie` value carrying a session secret.
pub fn set_session(secret: &str, secure: bool) -> String {
    set(session_name(secure), secret, "/", None, secure)
}

/// The `Set-Cookie` value ending the session cookie.
pub fn clear_session(secure: bool) -> String {
    clear(session_name(secure), "/", secure)
}

/// A new random secret (256 bits, base64url): a session cookie, a login's
/// state, nonce or PKCE verifier.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

/// The value of cookie `name` in the request, if sent.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Secure when asked.
pub fn set(name: &str, value: &str, path: &str, max_age: Option<u64>, secure: bool) -> String {
    let mut cookie = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    cookie
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(name: &str, path: &str, secure: bool) -> String {
    set(name, "", path, Some(0), secure)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn cookies_are_read_and_written() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; gatehouse_session=abc; b=2"));
        assert_eq!(read(&headers, SESSION_PLAIN).as_deref(), Some("abc"));
        assert_eq!(read(&headers, SESSION_SECURE), None);
        assert_eq!(read(&headers, LOGIN), None);
        assert_eq!(set(SESSION_PLAIN, "v", "/", None, false), "gatehouse_session=v; Path=/; HttpOnly; SameSite=Lax");
        assert_eq!(clear(LOGIN, "/auth", false), "gatehouse_login=; Path=/auth; HttpOnly; SameSite=Lax; Max-Age=0");
    }

    #[test]
    fn a_secure_session_cookie_is_a_host_cookie() {
        // `__Host-`: Secure, Path=/, no Domain.
        assert_eq!(set_session("v", true), "__Host-gatehouse_session=v; Path=/; HttpOnly; SameSite=Lax; Secure");
        assert_eq!(clear_session(true), "__Host-gatehouse_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure");
        assert_eq!(set_session("v", false), "gatehouse_session=v; Path=/; HttpOnly; SameSite=Lax");
        assert!(!set_session("v", true).contains("Domain"));
    }
}
