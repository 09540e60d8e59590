//! Credentials (token, owner, grants) kept in memory between requests, so
//! authenticating a known token costs no database read.
//!
//! Correctness rests on one rule: every committed change of state empties
//! the cache before the change is acknowledged (the writer calls
//! [`CredentialCache::invalidate`] after its commit, before it answers).
//! An entry is stamped with the generation read *before* its database
//! read, so a read that overlapped a change is never served afterwards.
//!
//! Only a process that sees every write may cache: the embedded SQLite
//! engine. On PostgreSQL another `serve` process may revoke a token, and
//! revocation must hold on every node at once, so there the cache is off.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use gatehouse_domain::store::Credential;
use gatehouse_domain::token::TokenHash;

/// At most this many credentials are kept; a full cache is emptied and
/// refilled by the next reads (tokens in use are few; this bounds memory
/// against a flood of distinct valid tokens).
const CAPACITY: usize = 65_536;

pub(crate) struct CredentialCache {
    enabled: bool,
    generation: AtomicU64,
    entries: RwLock<HashMap<[u8; 32], (u64, Credential)>>,
}

impl CredentialCache {
    pub(crate) fn new(enabled: bool) -> Self {
        Self { enabled, generation: AtomicU64::new(0), entries: RwLock::new(HashMap::new()) }
    }

    /// The generation to stamp on what a read about to start will find.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The generation, when this process sees every change (the cache is on).
    pub(crate) fn generation_if_enabled(&self) -> Option<u64> {
        self.enabled.then(|| self.generation())
    }

    pub(crate) fn get(&self, hash: &TokenHash) -> Option<Credential> {
        if !self.enabled {
            return None;
        }
        let current = self.generation();
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        match entries.get(hash.as_bytes()) {
            Some((stamp, credential)) if *stamp == current => Some(credential.clone()),
            _ => None,
        }
    }

    /// Keeps `credential`, read after [`Self::generation`] returned `stamp`.
    pub(crate) fn put(&self, stamp: u64, credential: &Credential) {
        if !self.enabled || stamp != self.generation() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(*credential.hash.as_bytes(), (stamp, credential.clone()));
    }

    /// Forgets everything; called after every committed change of state.
    pub(crate) fn invalidate(&self) {
        if !self.enabled {
            return;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_domain::identity::{Identity, IdentityKind, IdentityStatus};
    use gatehouse_domain::ids::{IdentityId, TokenId};
    use gatehouse_domain::token::ApiToken;

    use super::*;

    fn credential(secret: &str) -> Credential {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let identity_id = IdentityId::new();
        Credential {
            token: ApiToken {
                id: TokenId::new(),
                identity_id,
                description: "t".into(),
                created_at: now,
                expires_at: now + time::Duration::hours(1),
                last_used_at: None,
                revoked_at: None,
                created_by: None,
                trust_binding_id: None,
                mfa_verified_at: None,
            },
            hash: TokenHash::of(secret),
            identity: Identity {
                id: identity_id,
                kind: IdentityKind::Human,
                name: "alice".into(),
                email: Some("alice@example.com".into()),
                status: IdentityStatus::Active,
                created_at: now,
                updated_at: now,
            },
            grants: Vec::new(),
            mfa_enrolled: false,
        }
    }

    #[test]
    fn serves_what_it_was_given_until_invalidated() {
        let cache = CredentialCache::new(true);
        let kept = credential("gth_a");
        cache.put(cache.generation(), &kept);
        assert_eq!(cache.get(&kept.hash).map(|c| c.token.id), Some(kept.token.id));
        cache.invalidate();
        assert!(cache.get(&kept.hash).is_none());
    }

    #[test]
    fn a_read_that_overlapped_a_change_is_not_kept() {
        let cache = CredentialCache::new(true);
        let stamp = cache.generation();
        cache.invalidate(); // a change committed while the read ran
        let stale = credential("gth_b");
        cache.put(stamp, &stale);
        assert!(cache.get(&stale.hash).is_none());
    }

    #[test]
    fn a_disabled_cache_keeps_nothing() {
        let cache = CredentialCache::new(false);
        let kept = credential("gth_c");
        cache.put(cache.generation(), &kept);
        assert!(cache.get(&kept.hash).is_none());
    }

    #[test]
    fn other_tokens_miss() {
        let cache = CredentialCache::new(true);
        cache.put(cache.generation(), &credential("gth_d"));
        assert!(cache.get(&TokenHash::of("gth_e")).is_none());
    }
}
