//! Verified CI tokens kept between requests: a job that asks several
//! questions with one token pays for the signature check and the reads of
//! its binding, identity and grants once.
//!
//! An entry is stamped with the store's credential stamp read before the
//! verification began ([`StoreEngine::credential_stamp`]); any committed change
//! (a binding deleted, a grant revoked, an identity suspended), through
//! any node sharing the database, moves the stamp, and stale entries are
//! never served.
//! Entries also carry the JWKS epoch, which moves when any issuer's key set
//! changes, so a key the issuer withdraws stops counting at the next key
//! refresh. Expiry is re-checked on every use, and nothing is kept longer
//! than [`MAX_AGE`].
//!
//! [`StoreEngine::credential_stamp`]: gatehouse_domain::store::StoreEngine::credential_stamp

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gatehouse_domain::grant::Grant;
use gatehouse_domain::identity::Identity;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::verify::{LEEWAY_SECONDS, VerifiedWorkload};

const CAPACITY: usize = 16_384;
const MAX_AGE: Duration = Duration::from_secs(300);

/// A verified token with the identity and grants it acts with.
pub type Authenticated = (VerifiedWorkload, Identity, Vec<Grant>);

#[derive(Default)]
pub struct VerifiedCache {
    entries: RwLock<HashMap<[u8; 32], Entry>>,
}

/// What was verified, when, and under which stamp.
type Entry = (Stamp, Instant, Arc<Authenticated>);

/// The store's change generation and the JWKS epoch, both read before the
/// verification began.
pub type Stamp = (u64, u64);

pub fn token_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedCache {
    pub fn get(&self, key: &[u8; 32], stamp: Stamp, now: OffsetDateTime) -> Option<Arc<Authenticated>> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let (stored, inserted, found) = entries.get(key)?;
        let unexpired = now < found.0.expires_at + time::Duration::seconds(LEEWAY_SECONDS);
        (*stored == stamp && inserted.elapsed() < MAX_AGE && unexpired).then(|| found.clone())
    }

    pub fn put(&self, key: [u8; 32], stamp: Stamp, authenticated: Arc<Authenticated>) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, (stored, inserted, _)| *stored == stamp && inserted.elapsed() < MAX_AGE);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (stamp, Instant::now(), authenticated));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use gatehouse_domain::identity::{IdentityKind, IdentityStatus};
    use gatehouse_domain::ids::{IdentityId, TrustBindingId};
    use gatehouse_domain::workload::TrustBinding;
    use serde_json::Map;

    use super::*;

    fn authenticated(expires_at: OffsetDateTime) -> Arc<Authenticated> {
        let identity = Identity {
            id: IdentityId::new(),
            kind: IdentityKind::Service,
            name: "bot".into(),
            email: None,
            status: IdentityStatus::Active,
            created_at: expires_at,
            updated_at: expires_at,
        };
        let binding = TrustBinding {
            id: TrustBindingId::new(),
            issuer: "https://issuer".into(),
            audience: "a".into(),
            claims: BTreeMap::new(),
            identity_id: identity.id,
            max_ttl_seconds: 900,
            created_at: expires_at,
            created_by: None,
        };
        let workload = VerifiedWorkload {
            binding,
            issuer: "https://issuer".into(),
            subject: "s".into(),
            expires_at,
            claims: Map::new(),
        };
        Arc::new((workload, identity, Vec::new()))
    }

    #[test]
    fn entries_serve_only_their_stamp_and_until_expiry() {
        let cache = VerifiedCache::default();
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let key = token_key("a.b.c");
        cache.put(key, (1, 7), authenticated(now + time::Duration::minutes(5)));
        assert!(cache.get(&key, (1, 7), now).is_some());
        assert!(cache.get(&key, (2, 7), now).is_none(), "a committed change");
        assert!(cache.get(&key, (1, 8), now).is_none(), "an issuer's keys changed");
        assert!(cache.get(&token_key("x.y.z"), (1, 7), now).is_none());
        let later = now + time::Duration::minutes(5) + time::Duration::seconds(LEEWAY_SECONDS);
        assert!(cache.get(&key, (1, 7), later).is_none(), "expired, leeway included");
    }
}
