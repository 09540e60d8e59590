//! Where signed code enters: a commit (or artifact) signature traced to a
//! registered key, its identity, and that identity's right to push.

pub mod check;
pub mod pushed_change;

pub use check::{CommitCheck, CommitVerdict, Lookups, check_commit, commit_object_id};
