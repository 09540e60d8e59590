//! CI workload identity: OIDC tokens minted for CI jobs (GitHub Actions,
//! GitLab CI, …), verified against their issuer's published keys and
//! matched to a trust binding.

pub mod cache;
pub mod jwks;
pub mod verify;

pub use cache::VerifiedCache;
pub use jwks::{JwksCache, JwksSettings};
pub use verify::{Refusal, VerifiedWorkload, looks_like_jwt, verify};
