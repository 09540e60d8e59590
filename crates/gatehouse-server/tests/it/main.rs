//! The HTTP API, driven without a socket, on both engines.
#![allow(clippy::unwrap_used, reason = "tests")]

mod audit;
mod break_glass;
mod evidence;
mod hardening_authz;
mod hardening_flood;
mod hardening_misc;
mod hardening_scim;
mod hardening_web;
mod identity;
mod integrations;
mod mfa;
mod notify;
mod onboarding;
mod operations;
mod owners;
mod passkeys;
mod people;
mod policy;
mod problem_json;
mod properties;
mod requests;
mod review_triggers;
mod reviews;
mod routes;
mod scheduler;
mod scim;
mod separation_of_duties;
mod sessions;
mod signing;
mod sso;
mod tokens;
mod vendor_enforcement;
mod vendors;
mod webhooks;
mod workload;
