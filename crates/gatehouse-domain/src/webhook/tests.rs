//! Delivery digests and the replay window.

use time::macros::datetime;

use super::*;

#[test]
fn the_body_is_named_by_its_sha256() {
    assert_eq!(body_sha256(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    let delivery = WebhookDelivery::new("github", "d-1", b"{}", datetime!(2026-01-31 00:00 UTC));
    assert_eq!(delivery.body_sha256, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    assert_ne!(delivery.body_sha256, body_sha256(b"{} "), "one byte more is another body");
}

#[test]
fn deliveries_are_remembered_for_the_replay_window() {
    let delivery = WebhookDelivery::new("gitlab", "d-1", b"{}", datetime!(2026-01-31 00:00 UTC));
    assert_eq!(delivery.forget_before(), datetime!(2026-01-01 00:00 UTC));
}
