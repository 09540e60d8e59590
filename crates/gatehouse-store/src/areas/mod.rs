//! The table code of each area: one file per area trait of
//! [`gatehouse_domain::store`], each holding that trait's one
//! `impl … for SqlStore`, and the SQL helpers only that area uses.

pub(crate) mod approvals;
pub(crate) mod audit_log;
pub(crate) mod break_glass;
pub(crate) mod commit_authors;
pub(crate) mod grants;
pub(crate) mod group_mappings;
pub(crate) mod identities;
pub(crate) mod installation;
pub(crate) mod mfa;
pub(crate) mod outbox;
pub(crate) mod passkeys;
pub(crate) mod reviews;
pub(crate) mod scim_groups;
pub(crate) mod scim_users;
pub(crate) mod sessions;
pub(crate) mod signing_keys;
pub(crate) mod tokens;
pub(crate) mod vendors;
pub(crate) mod webhooks;
pub(crate) mod workload;
