//! Conformance of the `webhooks` area: Webhook deliveries: recorded once, replays refused.

use super::*;

pub async fn webhook_deliveries_are_recorded_once(store: Arc<dyn Store>) {
    let delivery =
        |source: &str, id: &str, body: &str, at: OffsetDateTime| WebhookDelivery::new(source, id, body.as_bytes(), at);
    let indexes = store
        .record_webhook_delivery(
            delivery("github", "d-1", "{\"n\":1}", T0),
            vec![record("pipeline.config.changed"), record("webhook")],
        )
        .await
        .unwrap();
    assert_eq!(indexes, vec![0, 1]);
    let err = store
        .record_webhook_delivery(delivery("github", "d-1", "{\"n\":2}", T0), vec![record("webhook")])
        .await
        .unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.to_string().contains("`d-1` was received before")), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), 2, "a replay writes nothing");
    store.record_webhook_delivery(delivery("gitlab", "d-1", "{\"n\":1}", T0), vec![record("webhook")]).await.unwrap();
}

pub async fn webhook_replays_under_a_new_delivery_id_are_refused(store: Arc<dyn Store>) {
    let delivery = |id: &str, body: &str, at: OffsetDateTime| WebhookDelivery::new("github", id, body.as_bytes(), at);
    store.record_webhook_delivery(delivery("d-1", "{\"n\":1}", T0), vec![record("webhook")]).await.unwrap();
    let size = store.audit_size().await.unwrap();
    // The same body under a fresh id, while remembered: a replay.
    let later = T0 + REPLAY_WINDOW - Duration::seconds(1);
    let err =
        store.record_webhook_delivery(delivery("d-2", "{\"n\":1}", later), vec![record("webhook")]).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.to_string().contains("repeats the body of delivery `d-1`")), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), size, "a replay writes nothing");
    // Another body is another delivery.
    store.record_webhook_delivery(delivery("d-3", "{\"n\":3}", later), vec![record("webhook")]).await.unwrap();
    // Past the window, what was received before it is forgotten (the
    // table stays bounded): the first body is accepted again, and the
    // delivery received inside the window is still refused.
    let past = T0 + REPLAY_WINDOW + Duration::seconds(1);
    store.record_webhook_delivery(delivery("d-4", "{\"n\":1}", past), vec![record("webhook")]).await.unwrap();
    let err =
        store.record_webhook_delivery(delivery("d-5", "{\"n\":3}", past), vec![record("webhook")]).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.to_string().contains("`d-3`")), "{err:?}");
}
