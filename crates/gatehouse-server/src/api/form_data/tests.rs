//! The multipart reader against bodies as clients write them.

use super::{Part, boundary, parts};

#[track_caller]
fn check(body: &[u8], expected: &[Part]) {
    assert_eq!(parts(body, "XyZ").unwrap(), expected);
}

#[test]
fn reads_named_parts_with_binary_content() {
    let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{\"kind\":\"dpa\"}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dpa.pdf\"\r\n\r\n\x00\r\n--X\xff\r\n--XyZ--\r\n";
    check(
        body,
        &[
            Part { name: "metadata".into(), filename: None, content: b"{\"kind\":\"dpa\"}".to_vec() },
            Part { name: "file".into(), filename: Some("dpa.pdf".into()), content: b"\x00\r\n--X\xff".to_vec() },
        ],
    );
}

#[test]
fn the_boundary_comes_from_the_content_type() {
    assert_eq!(boundary("multipart/form-data; boundary=abc").as_deref(), Some("abc"));
    assert_eq!(boundary("Multipart/Form-Data; charset=x; boundary=\"a b\"").as_deref(), Some("a b"));
    assert_eq!(boundary("application/json"), None);
}

#[test]
fn malformed_bodies_are_refused() {
    for body in [
        &b"no boundary"[..],
        b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nnever ends",
        b"--XyZ\r\n\r\n\r\nx\r\n--XyZ--",
    ] {
        assert!(parts(body, "XyZ").is_err(), "{}", String::from_utf8_lossy(body));
    }
}
