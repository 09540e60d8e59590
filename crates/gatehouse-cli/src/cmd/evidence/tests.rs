//! `--meta` pairs typed as the server reads them, and the form they go in.

use serde_json::json;

use super::{form, metadata};

#[test]
fn meta_pairs_are_typed_per_field() {
    let pairs: Vec<String> = ["date=2026-03-01", "scope=API, web", "open_critical=0", "product_in_scope=true"]
        .iter()
        .map(|pair| (*pair).to_owned())
        .collect();
    assert_eq!(
        metadata("pentest", &pairs).unwrap(),
        json!({"kind": "pentest", "date": "2026-03-01", "scope": ["API", "web"], "open_critical": 0,
               "product_in_scope": true})
    );
    for bad in [vec!["open_critical=some"], vec!["no-equals"], vec!["a=1", "a=2"], vec!["kind=dpa"]] {
        let pairs: Vec<String> = bad.iter().map(|pair| (*pair).to_owned()).collect();
        assert!(metadata("pentest", &pairs).is_err(), "{bad:?}");
    }
}

#[test]
fn the_form_holds_both_parts_and_a_boundary_absent_from_the_file() {
    let (boundary, body) = form(&json!({"kind": "dpa"}), "d\"pa.pdf", b"\x00bytes");
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with(&format!("--{boundary}\r\n")), "{text}");
    assert!(text.contains("name=\"file\"; filename=\"d_pa.pdf\""), "{text}");
    assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")), "{text}");
    assert_eq!(text.matches(&boundary).count(), 3);
}
