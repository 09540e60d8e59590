//! The two cookies: `gatehouse_session` (the session secret) and
//! `gatehouse_login` (the sealed login in flight).

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

pub const SESSION: &str = "gatehouse_session";
pub const LOGIN: &str = "gatehouse_login";

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
        assert_eq!(read(&headers, SESSION).as_deref(), Some("abc"));
        assert_eq!(read(&headers, LOGIN), None);
        assert_eq!(set(SESSION, "v", "/", None, true), "gatehouse_session=v; Path=/; HttpOnly; SameSite=Lax; Secure");
        assert_eq!(clear(LOGIN, "/auth", false), "gatehouse_login=; Path=/auth; HttpOnly; SameSite=Lax; Max-Age=0");
    }
}
