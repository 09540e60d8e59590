//! Conformance of the `commit_authors` area: who signed which commit, kept
//! with the verification's entry.

use super::*;
use crate::audit::AuditAction;
use crate::change::{CommitAuthor, CommitSha};

fn fact(commit: &CommitSha, signer: &Identity, repository: Option<&str>, at: OffsetDateTime) -> CommitAuthor {
    CommitAuthor {
        commit: commit.clone(),
        repository: repository.map(str::to_owned),
        identity_id: signer.id,
        key_fingerprint: "SHA256:k".into(),
        verification: AuditAction::PushVerify,
        recorded_at: at,
    }
}

pub async fn commit_authors_are_recorded_with_their_verification(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let bob = human(&*store, "Bob", "bob@example.com").await;
    let c1: CommitSha = "a".repeat(40).parse().unwrap();
    let c2: CommitSha = "b".repeat(64).parse().unwrap();
    let unknown: CommitSha = "c".repeat(40).parse().unwrap();
    let before = store.audit_size().await.unwrap();
    let index = store
        .record_commit_authors(
            vec![fact(&c1, &ana, Some("acme/web"), T0), fact(&c2, &bob, None, T0)],
            record("push.verify"),
        )
        .await
        .unwrap();
    assert_eq!(index, before, "the verification's entry is written with the facts");
    assert_eq!(store.audit_size().await.unwrap(), before + 1);
    assert_eq!(store.commit_authors(std::slice::from_ref(&c1)).await.unwrap(), vec![fact(&c1, &ana, Some("acme/web"), T0)]);
    assert_eq!(store.commit_authors(std::slice::from_ref(&c2)).await.unwrap(), vec![fact(&c2, &bob, None, T0)]);
    assert_eq!(store.commit_authors(std::slice::from_ref(&unknown)).await.unwrap(), vec![]);
    assert_eq!(store.commit_authors(&[]).await.unwrap(), vec![]);

    // Verified again later: the first record stays; a new signer or
    // repository of the same commit is another fact.
    let later = T0 + Duration::minutes(5);
    store
        .record_commit_authors(
            vec![fact(&c1, &ana, Some("acme/web"), later), fact(&c1, &bob, Some("acme/web"), later)],
            record("commit.verify"),
        )
        .await
        .unwrap();
    let both = store.commit_authors(&[c1.clone(), unknown, c1.clone()]).await.unwrap();
    assert_eq!(both, vec![fact(&c1, &ana, Some("acme/web"), T0), fact(&c1, &bob, Some("acme/web"), later)]);
    assert_eq!(store.commit_authors(&[c1, c2]).await.unwrap().len(), 3);
}

pub async fn commit_authors_name_existing_identities(store: Arc<dyn Store>) {
    let ana = human(&*store, "Ana", "ana@example.com").await;
    let mut ghost = ana.clone();
    ghost.id = IdentityId::new();
    let commit: CommitSha = "d".repeat(40).parse().unwrap();
    let before = store.audit_size().await.unwrap();
    let err = store.record_commit_authors(vec![fact(&commit, &ghost, None, T0)], record("commit.verify")).await;
    assert!(err.is_err(), "a fact about nobody is refused: {err:?}");
    assert_eq!(store.audit_size().await.unwrap(), before, "and nothing is written");
    assert_eq!(store.commit_authors(&[commit]).await.unwrap(), vec![]);
}
