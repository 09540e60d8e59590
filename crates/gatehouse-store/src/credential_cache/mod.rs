//! Credentials (token, owner, grants) kept in memory between requests, so
//! authenticating a known token costs no four-table read.
//!
//! Correctness rests on one rule: an entry is served only under the stamp
//! it was read under, and every committed change of a credential moves the
//! stamp before the change is acknowledged. An entry is stamped with the
//! value read *before* its database read, so a read that overlapped a
//! change is never served afterwards. Where the stamp comes from depends on
//! who can change credentials; see [`Stamps`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use gatehouse_domain::store::{Credential, StoreError};
use gatehouse_domain::token::TokenHash;

pub(crate) mod epoch_reads;

use epoch_reads::EpochReads;

/// At most this many credentials are kept; a full cache is emptied and
/// refilled by the next reads (tokens in use are few; this bounds memory
/// against a flood of distinct valid tokens).
const CAPACITY: usize = 65_536;

/// Where the stamps come from.
pub(crate) enum Stamps {
    /// This process sees every write (the embedded SQLite engine): a
    /// counter in memory, moved by the writer after every batch that may
    /// change a credential (not after bookkeeping alone: last-use stamps,
    /// attempt counts).
    Local,
    /// Other processes write too (PostgreSQL): the database's
    /// `credential_epoch`, which triggers move in every transaction that
    /// changes a credential, read for every request.
    Database(Arc<EpochReads>),
}

pub(crate) struct CredentialCache {
    stamps: Stamps,
    /// The local counter, or the newest database epoch seen.
    generation: AtomicU64,
    entries: RwLock<HashMap<[u8; 32], (u64, Credential)>>,
}

impl CredentialCache {
    pub(crate) fn new(stamps: Stamps) -> Self {
        Self { stamps, generation: AtomicU64::new(0), entries: RwLock::new(HashMap::new()) }
    }

    /// The stamp for a read about to start; on PostgreSQL, a query.
    pub(crate) async fn stamp(&self) -> Result<u64, StoreError> {
        match &self.stamps {
            Stamps::Local => Ok(self.generation.load(Ordering::Acquire)),
            Stamps::Database(epoch) => epoch.current().await,
        }
    }

    /// The credential for `hash` read under `stamp`, if one is kept.
    pub(crate) fn get(&self, hash: &TokenHash, stamp: u64) -> Option<Credential> {
        let entries = self.entries.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        match entries.get(hash.as_bytes()) {
            Some((kept, credential)) if *kept == stamp => Some(credential.clone()),
            _ => None,
        }
    }

    /// Keeps `credential`, read after `stamp` was. A stamp older than the
    /// newest seen is dropped; a newer one (another process changed a
    /// credential) first empties the cache.
    pub(crate) fn put(&self, stamp: u64, credential: &Credential) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let newest = self.generation.load(Ordering::Acquire);
        if stamp < newest || (stamp > newest && matches!(self.stamps, Stamps::Local)) {
            return;
        }
        if stamp > newest {
            self.generation.store(stamp, Ordering::Release);
            entries.clear();
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(*credential.hash.as_bytes(), (stamp, credential.clone()));
    }

    /// A token's last use, stamped after the credential was kept: the kept
    /// copy learns it, so authentication does not stamp again within the
    /// granularity. The stamp does not move: the last use decides nothing
    /// about access (it is not in `credential_epoch` either), so every kept
    /// credential stays valid. A copy read before the stamp and kept after
    /// it shows the older use; the next stamp corrects it.
    pub(crate) fn note_use(&self, hash: &TokenHash, last_used_at: time::OffsetDateTime) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, credential)) = entries.get_mut(hash.as_bytes())
            && credential.token.last_used_at.is_none_or(|kept| kept < last_used_at)
        {
            credential.token.last_used_at = Some(last_used_at);
        }
    }

    /// Called after every committed change of what authenticates a caller
    /// (not after bookkeeping such as a last-use stamp). The local counter
    /// moves; a database epoch has already moved, so this only frees memory.
    pub(crate) fn invalidate(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if matches!(self.stamps, Stamps::Local) {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        entries.clear();
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

    fn local_stamp(cache: &CredentialCache) -> u64 {
        assert!(matches!(cache.stamps, Stamps::Local));
        cache.generation.load(Ordering::Acquire)
    }

    #[test]
    fn serves_what_it_was_given_until_invalidated() {
        let cache = CredentialCache::new(Stamps::Local);
        let kept = credential("gth_a");
        cache.put(local_stamp(&cache), &kept);
        assert_eq!(cache.get(&kept.hash, local_stamp(&cache)).map(|c| c.token.id), Some(kept.token.id));
        cache.invalidate();
        assert!(cache.get(&kept.hash, local_stamp(&cache)).is_none());
    }

    #[test]
    fn a_read_that_overlapped_a_change_is_not_kept() {
        let cache = CredentialCache::new(Stamps::Local);
        let stamp = local_stamp(&cache);
        cache.invalidate(); // a change committed while the read ran
        let stale = credential("gth_b");
        cache.put(stamp, &stale);
        assert!(cache.get(&stale.hash, stamp).is_none(), "dropped, not kept under its old stamp");
        assert!(cache.get(&stale.hash, local_stamp(&cache)).is_none());
    }

    #[test]
    fn a_last_use_is_noted_without_moving_the_stamp() {
        let cache = CredentialCache::new(Stamps::Local);
        let kept = credential("gth_c");
        let stamp = local_stamp(&cache);
        cache.put(stamp, &kept);
        let used = time::OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(3);
        cache.note_use(&kept.hash, used);
        assert_eq!(local_stamp(&cache), stamp);
        let served = cache.get(&kept.hash, stamp).expect("still kept");
        assert_eq!(served.token.last_used_at, Some(used));
        cache.note_use(&kept.hash, used - time::Duration::minutes(1));
        assert_eq!(cache.get(&kept.hash, stamp).unwrap().token.last_used_at, Some(used), "never moves back");
        cache.note_use(&TokenHash::of("gth_unknown"), used);
        assert!(cache.get(&TokenHash::of("gth_unknown"), stamp).is_none(), "an unknown token is not added");
    }

    #[test]
    fn other_tokens_miss() {
        let cache = CredentialCache::new(Stamps::Local);
        cache.put(local_stamp(&cache), &credential("gth_d"));
        assert!(cache.get(&TokenHash::of("gth_e"), local_stamp(&cache)).is_none());
    }

    fn database_stamps() -> Stamps {
        use futures_util::FutureExt;
        Stamps::Database(EpochReads::new(Box::new(|| async { Ok(0) }.boxed())))
    }

    #[test]
    fn a_database_epoch_serves_only_under_the_epoch_read() {
        let cache = CredentialCache::new(database_stamps());
        let kept = credential("gth_f");
        cache.put(7, &kept);
        assert!(cache.get(&kept.hash, 7).is_some());
        assert!(cache.get(&kept.hash, 8).is_none(), "another process changed a credential");
    }

    #[test]
    fn a_newer_epoch_empties_the_cache_and_an_older_one_is_dropped() {
        let cache = CredentialCache::new(database_stamps());
        let (first, second) = (credential("gth_g"), credential("gth_h"));
        cache.put(3, &first);
        cache.put(5, &second);
        assert!(cache.get(&first.hash, 3).is_none(), "emptied when epoch 5 was seen");
        assert!(cache.get(&second.hash, 5).is_some());
        cache.put(4, &first); // a read that began before epoch 5 and ended after
        assert!(cache.get(&first.hash, 4).is_none());
        cache.invalidate();
        assert!(cache.get(&second.hash, 5).is_none(), "invalidating frees memory");
        cache.put(5, &second);
        assert!(cache.get(&second.hash, 5).is_some(), "the epoch is the database's, not moved here");
    }
}
