//! Reads a `multipart/form-data` body (RFC 7578) already held in memory:
//! the parts' names, file names and contents. Enough for uploads of a few
//! named parts; anything malformed is a 400 problem.

use crate::problem::ApiError;

/// One part of the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content: Vec<u8>,
}

fn malformed(why: &str) -> ApiError {
    ApiError::BadRequest(format!("the multipart/form-data body is malformed: {why}"))
}

/// The boundary of a `multipart/form-data` content type, or `None` when
/// `content_type` is another type.
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let media = params.next()?.trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut at = from;
    while at + needle.len() <= haystack.len() {
        let offset = haystack[at..=haystack.len() - needle.len()].iter().position(|&byte| byte == first)?;
        at += offset;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// A `key="value"` parameter of a `Content-Disposition` header.
fn disposition_param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case(key).then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// Every part of `body`, in order.
pub fn parts(body: &[u8], boundary: &str) -> Result<Vec<Part>, ApiError> {
    if boundary.is_empty() || boundary.len() > 70 {
        return Err(malformed("the boundary has 1 to 70 characters"));
    }
    let delimiter = format!("--{boundary}").into_bytes();
    let start = find(body, &delimiter, 0).ok_or_else(|| malformed("no boundary line"))?;
    let mut at = start + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(parts);
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err(malformed("a boundary line does not end with CRLF"));
        }
        at += 2;
        let headers_end = find(body, b"\r\n\r\n", at).ok_or_else(|| malformed("a part's headers do not end"))?;
        let headers = std::str::from_utf8(&body[at..headers_end]).map_err(|_| malformed("a header is not UTF-8"))?;
        let mut name = None;
        let mut filename = None;
        for line in headers.split("\r\n") {
            let Some((key, value)) = line.split_once(':') else { continue };
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                name = disposition_param(value, "name");
                filename = disposition_param(value, "filename");
            }
        }
        let name = name.ok_or_else(|| malformed("a part has no Content-Disposition name"))?;
        let content_start = headers_end + 4;
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&delimiter);
        let content_end = find(body, &closing, content_start).ok_or_else(|| malformed("a part does not end"))?;
        parts.push(Part { name, filename, content: body[content_start..content_end].to_vec() });
        at = content_end + closing.len();
    }
}

#[cfg(test)]
mod tests;
