//! Conformance of the `mfa` area: Second factors: enrollment, codes, recovery codes, throttling, reset.

use super::*;

pub async fn mfa_attempts_are_claimed_atomically(store: Arc<dyn Store>) {
    let ana = human(&*store, "ana", "ana@example.com").await;
    let err = store.mfa_claim_attempt(ana.id, T0).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    store.mfa_begin(ana.id, vec![1, 2, 3], T0, record("mfa.enroll")).await.unwrap();
    let size = store.audit_size().await.unwrap();
    // Many attempts at once: only the limit is claimed, the rest find the lock.
    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.mfa_claim_attempt(ana.id, T0).await.expect("claimed or locked") })
        })
        .collect();
    let mut claimed = Vec::new();
    for attempt in attempts {
        match attempt.await.expect("attempt finished") {
            MfaAttempt::Claimed(record) => claimed.push(record.failures),
            MfaAttempt::Locked { until } => assert_eq!(until, T0 + Duration::seconds(FIRST_LOCK_SECONDS)),
        }
    }
    claimed.sort_unstable();
    assert_eq!(claimed, (1..=FAILURES_BEFORE_LOCK).collect::<Vec<_>>());
    assert_eq!(store.audit_size().await.unwrap(), size, "claims are throttling state, not audit entries");
    // Once the lock ends, the next attempt is claimed and locks for longer;
    // a right code (mfa_succeed) clears the count.
    let later = T0 + Duration::seconds(FIRST_LOCK_SECONDS);
    let MfaAttempt::Claimed(after) = store.mfa_claim_attempt(ana.id, later).await.unwrap() else {
        panic!("the lock has ended")
    };
    assert_eq!(after.failures, FAILURES_BEFORE_LOCK + 1);
    assert!(after.is_locked_at(later));
    store.mfa_succeed(ana.id, Some(7), None, None, later, record("mfa.verify")).await.unwrap();
    let MfaAttempt::Claimed(cleared) = store.mfa_claim_attempt(ana.id, later).await.unwrap() else {
        panic!("a right code clears the lock")
    };
    assert_eq!((cleared.failures, cleared.locked_until), (1, None));
}

pub async fn mfa_enrollment_is_confirmed_once(store: Arc<dyn Store>) {
    let ana = human(&*store, "ana", "ana@example.com").await;
    assert_eq!(store.mfa_find(ana.id).await.unwrap(), None);
    let before = store.audit_size().await.unwrap();
    store.mfa_begin(ana.id, vec![1, 2, 3], T0, record("mfa.enroll")).await.unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    let pending = store.mfa_find(ana.id).await.unwrap().expect("begun");
    assert_eq!((pending.sealed_secret.clone(), pending.confirmed_at, pending.failures), (vec![1, 2, 3], None, 0));
    // Restarting an unconfirmed enrollment replaces the secret.
    store.mfa_begin(ana.id, vec![4, 5], T0, record("mfa.enroll")).await.unwrap();
    assert_eq!(store.mfa_find(ana.id).await.unwrap().unwrap().sealed_secret, vec![4, 5]);

    let at = T0 + Duration::minutes(1);
    store.mfa_succeed(ana.id, Some(10), Some(vec!["r1".into(), "r2".into()]), None, at, record("mfa.confirm")).await.unwrap();
    let confirmed = store.mfa_find(ana.id).await.unwrap().unwrap();
    assert_eq!((confirmed.confirmed_at, confirmed.last_step), (Some(at), Some(10)));

    let before = store.audit_size().await.unwrap();
    let err = store.mfa_begin(ana.id, vec![9], at, record("mfa.enroll")).await.unwrap_err();
    assert_eq!(err, StoreError::Conflict(Conflict::FactorEnrolled));
    assert_eq!(err.to_string(), "a second factor is enrolled already; an admin can reset it");
    assert_eq!(store.audit_size().await.unwrap(), before, "a refused enrollment writes no entry");
    assert_eq!(store.mfa_find(ana.id).await.unwrap(), Some(confirmed), "and changes nothing");
}

pub async fn mfa_codes_are_used_once(store: Arc<dyn Store>) {
    let ana = human(&*store, "ana", "ana@example.com").await;
    store.mfa_begin(ana.id, vec![1], T0, record("mfa.enroll")).await.unwrap();
    store.mfa_succeed(ana.id, Some(10), Some(vec!["r".into()]), None, T0, record("mfa.confirm")).await.unwrap();
    let before = store.audit_size().await.unwrap();
    for step in [10, 9] {
        let err = store.mfa_succeed(ana.id, Some(step), None, None, T0, record("mfa.verify")).await.unwrap_err();
        assert_eq!(err, StoreError::Conflict(Conflict::CodeUsed), "step {step}");
        assert_eq!(err.to_string(), "this code was used already; wait for the next one");
    }
    assert_eq!(store.audit_size().await.unwrap(), before, "a replayed code writes no entry");
    store.mfa_succeed(ana.id, Some(11), None, None, T0, record("mfa.verify")).await.unwrap();
    assert_eq!(store.mfa_find(ana.id).await.unwrap().unwrap().last_step, Some(11));
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
}

pub async fn mfa_recovery_codes_are_used_once(store: Arc<dyn Store>) {
    let ana = human(&*store, "ana", "ana@example.com").await;
    let secret = TokenSecret::generate();
    let token =
        store.create_token(new_token(&ana, &secret, T0 + Duration::days(1)), record("token.create")).await.unwrap();
    store.mfa_begin(ana.id, vec![1], T0, record("mfa.enroll")).await.unwrap();
    store
        .mfa_succeed(ana.id, Some(1), Some(vec!["r1".into(), "r2".into()]), None, T0, record("mfa.confirm"))
        .await
        .unwrap();
    for _ in 0..3 {
        store.mfa_claim_attempt(ana.id, T0).await.unwrap();
    }
    let at = T0 + Duration::minutes(1);
    store.mfa_use_recovery_code(ana.id, "r1", Some(token.id), at, record("mfa.recover")).await.unwrap();
    let after = store.mfa_find(ana.id).await.unwrap().unwrap();
    assert_eq!((after.failures, after.locked_until), (0, None), "a recovery code clears failures");
    assert_eq!(store.find_token(token.id).await.unwrap().unwrap().mfa_verified_at, Some(at));

    let before = store.audit_size().await.unwrap();
    for (identity, code) in [(ana.id, "r1"), (ana.id, "nope"), (IdentityId::new(), "r2")] {
        let err = store.mfa_use_recovery_code(identity, code, None, at, record("mfa.recover")).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }), "{code}: {err:?}");
    }
    assert_eq!(store.audit_size().await.unwrap(), before);
    store.mfa_use_recovery_code(ana.id, "r2", None, at, record("mfa.recover")).await.unwrap();
}

pub async fn mfa_reset_removes_the_factor(store: Arc<dyn Store>) {
    let ana = human(&*store, "ana", "ana@example.com").await;
    let secret = TokenSecret::generate();
    let token =
        store.create_token(new_token(&ana, &secret, T0 + Duration::days(1)), record("token.create")).await.unwrap();
    store.mfa_begin(ana.id, vec![1], T0, record("mfa.enroll")).await.unwrap();
    store.mfa_succeed(ana.id, Some(1), Some(vec!["r1".into()]), Some(token.id), T0, record("mfa.confirm")).await.unwrap();
    assert_eq!(store.find_token(token.id).await.unwrap().unwrap().mfa_verified_at, Some(T0));

    let before = store.audit_size().await.unwrap();
    store.mfa_reset(ana.id, T0, record("mfa.reset")).await.unwrap();
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    assert_eq!(store.mfa_find(ana.id).await.unwrap(), None);
    assert_eq!(store.find_token(token.id).await.unwrap().unwrap().mfa_verified_at, None, "tokens verify again");
    assert!(!store.find_credential(&secret.hash()).await.unwrap().unwrap().mfa_enrolled);
    let err = store.mfa_use_recovery_code(ana.id, "r1", None, T0, record("mfa.recover")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "recovery codes go with the factor: {err:?}");

    let err = store.mfa_reset(ana.id, T0, record("mfa.reset")).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    store.mfa_begin(ana.id, vec![2], T0, record("mfa.enroll")).await.unwrap();
}
