//! Conformance of the `audit_log` area: The audit log: numbered without gaps, under concurrency too.

use super::*;

pub async fn audit_entries_are_numbered_without_gaps(store: Arc<dyn Store>) {
    assert_eq!(store.audit_size().await.unwrap(), 0);
    let detailed = AuditRecord::new(T0, Actor::Anonymous, "auth.token", "gatehouse")
        .outcome(Outcome::Failure, "unknown token")
        .origin(&RequestOrigin {
            request_id: Some("req-1".into()),
            source_ip: Some("10.0.0.7".into()),
            ..Default::default()
        })
        .details(json!({"presented_prefix": "gth_", "attempt": 3, "nested": {"ok": false}}));
    assert_eq!(store.append_audit(detailed.clone()).await.unwrap(), 0);
    let bot = service(&*store, "deploy-bot").await;
    assert_eq!(store.append_audit(record("decision")).await.unwrap(), 2);

    let entries = store.list_audit(0, 10).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.index).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(entries[0].record, detailed, "an entry reads back exactly as written");
    assert_eq!(entries[1].record.action, "identity.create");
    assert_eq!(store.list_audit(2, 10).await.unwrap().len(), 1);
    assert!(store.list_audit(3, 10).await.unwrap().is_empty());
    let _ = bot;
}

pub async fn concurrent_appends_stay_gap_free(store: Arc<dyn Store>) {
    let writers: Vec<_> = (0..16)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for j in 0..5 {
                    store.append_audit(record(&format!("writer.{i}.{j}"))).await.expect("appended");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer finished");
    }
    let entries = store.list_audit(0, 500).await.unwrap();
    assert_eq!(entries.len(), 80);
    assert!(entries.iter().enumerate().all(|(i, e)| e.index == i as u64));
}

pub async fn audit_search_filters_and_checkpoints(store: Arc<dyn Store>) {
    use crate::store::AuditFilter;
    assert_eq!(store.latest_checkpoint().await.unwrap(), None);
    let later = T0 + Duration::hours(1);
    store.append_audit(AuditRecord::new(T0, Actor::System, "policy.reload", "gatehouse")).await.unwrap();
    store.append_audit(AuditRecord::new(T0, Actor::Anonymous, "auth.token", "gatehouse")).await.unwrap();
    store.append_audit(AuditRecord::new(later, Actor::Anonymous, "auth.token", "token:t-1")).await.unwrap();
    store
        .append_audit_batch(vec![
            AuditRecord::new(later, Actor::System, "policy.reload", "gatehouse")
                .outcome(Outcome::Failure, "a policy did not parse"),
            AuditRecord::new(later, Actor::System, "policy.reload", "gatehouse"),
        ])
        .await
        .unwrap();
    assert_eq!(store.audit_size().await.unwrap(), 5);

    let indexes = |entries: Vec<crate::audit::AuditEntry>| entries.iter().map(|e| e.index).collect::<Vec<_>>();
    let by_action = AuditFilter { action: Some("auth.token".into()), ..AuditFilter::default() };
    assert_eq!(indexes(store.search_audit(&by_action, 0, 10).await.unwrap()), vec![1, 2]);
    assert_eq!(indexes(store.search_audit(&by_action, 2, 10).await.unwrap()), vec![2], "from index `start` on");
    let by_resource = AuditFilter { resource: Some("token:t-1".into()), ..AuditFilter::default() };
    assert_eq!(indexes(store.search_audit(&by_resource, 0, 10).await.unwrap()), vec![2]);
    let since = AuditFilter { since: Some(later), ..AuditFilter::default() };
    assert_eq!(indexes(store.search_audit(&since, 0, 10).await.unwrap()), vec![2, 3, 4]);
    let until = AuditFilter { until: Some(later), ..AuditFilter::default() };
    assert_eq!(indexes(store.search_audit(&until, 0, 10).await.unwrap()), vec![0, 1], "until is exclusive");
    let both = AuditFilter {
        action: Some("policy.reload".into()),
        since: Some(later),
        ..AuditFilter::default()
    };
    assert_eq!(indexes(store.search_audit(&both, 0, 1).await.unwrap()), vec![3], "every condition, at most `limit`");
    assert_eq!(indexes(store.search_audit_newest(&by_action, None, 10).await.unwrap()), vec![2, 1], "newest first");
    assert_eq!(indexes(store.search_audit_newest(&by_action, None, 1).await.unwrap()), vec![2], "at most `limit`");
    assert_eq!(indexes(store.search_audit_newest(&by_action, Some(2), 10).await.unwrap()), vec![1], "below `before`");
    assert!(store.search_audit_newest(&by_action, Some(1), 10).await.unwrap().is_empty());
    assert_eq!(indexes(store.search_audit_newest(&AuditFilter::default(), Some(4), 2).await.unwrap()), vec![3, 2]);
    let actor = store.list_audit(1, 1).await.unwrap()[0].to_json()["actor"].as_str().map(str::to_owned);
    let by_actor = AuditFilter { actor, ..AuditFilter::default() };
    assert_eq!(indexes(store.search_audit(&by_actor, 0, 10).await.unwrap()), vec![1, 2]);

    let leaves = store.list_audit_leaves(0, 10).await.unwrap();
    assert_eq!(leaves.iter().map(|(index, _)| *index).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4]);
    assert!(leaves.iter().all(|(_, leaf)| !leaf.is_empty()));
    let checkpoint = store.latest_checkpoint().await.unwrap().expect("a signed checkpoint after appends");
    assert_eq!(checkpoint.tree_size, 5);
    assert!(checkpoint.note.contains(&checkpoint.tree_size.to_string()));
    let nodes = store.find_tree_nodes(&[(0, 0), (0, 4), (2, 0)]).await.unwrap();
    assert_eq!(nodes.len(), 3);
    let err = store.find_tree_nodes(&[(0, 5)]).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "the tree has no sixth leaf: {err:?}");
}
