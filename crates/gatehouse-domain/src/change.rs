//! Changes gatehouse knows the authors of: a commit, named by its object id,
//! and the identities a verification proved signed it. Separation of duties
//! reads these facts instead of trusting what a caller says.

use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::audit::AuditAction;
use crate::ids::IdentityId;

/// A commit's object id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitSha(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a commit id (40 or 64 hex digits)")]
pub struct InvalidCommitSha(pub String);

impl FromStr for CommitSha {
    type Err = InvalidCommitSha;

    /// Accepts either case; the id is kept lowercase, as git prints it.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let valid = matches!(raw.len(), 40 | 64) && raw.bytes().all(|b| b.is_ascii_hexdigit());
        if valid { Ok(Self(raw.to_ascii_lowercase())) } else { Err(InvalidCommitSha(raw.to_owned())) }
    }
}

impl CommitSha {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One fact: `identity` signed `commit`, as the verification `verification`
/// proved with the key `key_fingerprint` at `recorded_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitAuthor {
    pub commit: CommitSha,
    /// The project (`org/repo`) the verification named, when it named one.
    pub repository: Option<String>,
    pub identity_id: IdentityId,
    pub key_fingerprint: String,
    /// `commit.verify` or `push.verify`.
    pub verification: AuditAction,
    pub recorded_at: OffsetDateTime,
}

/// What gatehouse knows about the authors of the commits a decision names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownAuthors {
    /// The identities recorded as authors of any of the commits, sorted,
    /// without repeats.
    pub authors: Vec<IdentityId>,
    /// Whether every commit named has at least one recorded author.
    pub all_known: bool,
}

impl KnownAuthors {
    /// The facts about `commits` among `recorded` (facts about these and
    /// perhaps other commits).
    pub fn of(commits: &[CommitSha], recorded: &[CommitAuthor]) -> Self {
        let mut authors: Vec<IdentityId> =
            recorded.iter().filter(|fact| commits.contains(&fact.commit)).map(|fact| fact.identity_id).collect();
        authors.sort();
        authors.dedup();
        let all_known =
            !commits.is_empty() && commits.iter().all(|commit| recorded.iter().any(|fact| &fact.commit == commit));
        Self { authors, all_known }
    }
}

/// The longest repository path a push may name (git allows longer; no
/// real pipeline configuration is).
pub const MAX_PATH_BYTES: usize = 4_096;

/// Why a path a caller names is not a path in a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPath {
    #[error("is empty")]
    Empty,
    #[error("is longer than 4096 bytes")]
    TooLong,
    #[error("holds a control character")]
    ControlCharacter,
    #[error("is not relative to the repository's top (a leading `/`, or an empty, `.` or `..` part)")]
    NotRelative,
}

/// Checks `path` is one git prints for a file of a repository: relative,
/// `/`-separated, without empty, `.` or `..` parts or control characters.
pub fn check_repository_path(path: &str) -> Result<(), InvalidPath> {
    if path.is_empty() {
        return Err(InvalidPath::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(InvalidPath::TooLong);
    }
    if path.chars().any(char::is_control) {
        return Err(InvalidPath::ControlCharacter);
    }
    if path.split('/').any(|part| matches!(part, "" | "." | "..")) {
        return Err(InvalidPath::NotRelative);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
