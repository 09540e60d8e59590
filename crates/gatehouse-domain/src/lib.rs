//! The gatehouse domain: who exists (identities), what they hold (tokens,
//! grants), what they may do (authorization), and what is written down about
//! it (audit records). No I/O lives here; storage is reached through the
//! [`store::Store`] trait, which each engine implements.

pub mod access;
pub mod audit;
pub mod auth_failures;
pub mod authorization;
pub mod change;
pub mod clock;
pub mod delegation;
pub mod evidence;
pub mod glob;
pub mod grant;
pub mod identity;
pub mod ids;
pub mod mfa;
pub mod notify;
pub mod outbound;
pub mod passkey;
pub mod review;
pub mod scim;
pub mod session;
pub mod setup;
pub mod signing;
pub mod span;
pub mod store;
pub mod token;
pub mod validity;
pub mod vendor;
pub mod webhook;
pub mod workload;
pub mod workload_exchange;

#[cfg(feature = "conformance")]
pub mod conformance;
