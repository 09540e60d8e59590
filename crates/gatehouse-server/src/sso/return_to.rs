//! Where a login sends the browser back to: only a path on this server.
//!
//! `return_to` comes from whoever built the login link, so it is parsed as
//! a browser would parse a `Location` value, and anything that could leave
//! this origin is replaced by the default (never echoed). Browsers read `\`
//! as `/` and drop tabs and newlines inside URLs, so `/\evil.example` and
//! `/<TAB>/evil.example` are both `//evil.example`: another host.

/// Where a login goes when `return_to` is absent or refused.
pub const DEFAULT_RETURN_TO: &str = "/api/v1/whoami";

/// The longest `return_to` kept; longer ones are refused, not cut.
pub const MAX_RETURN_TO_LEN: usize = 2048;

/// `candidate` if it is a path on this origin, else [`DEFAULT_RETURN_TO`].
pub fn safe_return_to(candidate: Option<&str>) -> String {
    candidate.filter(|path| is_same_origin_path(path)).unwrap_or(DEFAULT_RETURN_TO).to_owned()
}

/// Whether a `Location` value is a path-absolute reference that no browser
/// resolves to another origin, read both as given and once
/// percent-decoded (in case something down the line decodes it again).
pub fn is_same_origin_path(candidate: &str) -> bool {
    if candidate.is_empty() || candidate.len() > MAX_RETURN_TO_LEN {
        return false;
    }
    // Visible ASCII only: no controls (tab, CR, LF, NUL…), no spaces, no
    // DEL, nothing a browser might strip or normalize away.
    if !candidate.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    is_plain_path(candidate) && percent_decode(candidate).is_some_and(|decoded| is_plain_path(&decoded))
}

/// One path, starting with exactly one `/`: no backslash anywhere (a
/// browser's `/`), no control character, and a path part (before `?` or
/// `#`) without empty or dot segments, so it cannot become
/// `//host` through normalization.
fn is_plain_path(path: &str) -> bool {
    if !path.starts_with('/') || path.contains('\\') || path.chars().any(char::is_control) {
        return false;
    }
    let path_part = path.split(['?', '#']).next().unwrap_or_default();
    if path_part.contains("//") {
        return false;
    }
    path_part.split('/').skip(1).all(|segment| segment != "." && segment != "..")
}

/// `%XX` decoded once; `None` if an escape is malformed or the result is
/// not UTF-8 (refused, not guessed at).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = bytes.get(at + 1..at + 3)?;
            let value = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            decoded.push(value);
            at += 3;
        } else {
            decoded.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
mod tests;
