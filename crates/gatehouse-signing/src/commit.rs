//! A git commit object as `git cat-file commit` prints it: headers, a blank
//! line, the message. A signature lives in the `gpgsig` header (or
//! `gpgsig-sha256` in SHA-256 repositories), its continuation lines
//! starting with one space. What was signed is the object without those
//! headers, byte for byte.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("the commit object is empty")]
    Empty,
    #[error("the commit object is not UTF-8 in its headers")]
    NotText,
    #[error("the commit object has no `tree` header")]
    NoTree,
    #[error("the commit object's header line {0} is malformed")]
    MalformedHeader(usize),
    #[error("the commit object is larger than {0} bytes")]
    TooLarge(usize),
}

/// The kind of signature a commit carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureKind {
    Ssh,
    OpenPgp,
    /// X.509 (gpgsm) or anything else: not accepted.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub tree: String,
    pub parents: Vec<String>,
    /// `Name <email> time zone`, as written.
    pub author: Option<String>,
    pub committer: Option<String>,
    /// The armored signature, when there is one.
    pub signature: Option<String>,
    /// The bytes the signature covers.
    pub signed_payload: Vec<u8>,
}

/// Commit objects larger than this are refused outright.
pub const MAX_COMMIT_BYTES: usize = 4 * 1024 * 1024;

const SIGNATURE_HEADERS: [&str; 2] = ["gpgsig", "gpgsig-sha256"];

pub fn parse_commit(raw: &[u8]) -> Result<Commit, CommitError> {
    if raw.is_empty() {
        return Err(CommitError::Empty);
    }
    if raw.len() > MAX_COMMIT_BYTES {
        return Err(CommitError::TooLarge(MAX_COMMIT_BYTES));
    }
    let header_end = find_blank_line(raw).unwrap_or(raw.len());
    let headers = std::str::from_utf8(&raw[..header_end]).map_err(|_| CommitError::NotText)?;

    let mut commit = Commit {
        tree: String::new(),
        parents: Vec::new(),
        author: None,
        committer: None,
        signature: None,
        signed_payload: Vec::new(),
    };
    let mut signatures: Vec<(String, String)> = Vec::new();
    let mut payload = Vec::with_capacity(raw.len());
    let mut in_signature = false;
    for (number, line) in headers.split_inclusive('\n').enumerate() {
        if let Some(continuation) = line.strip_prefix(' ') {
            match (in_signature, signatures.last_mut()) {
                (true, Some((_, text))) => text.push_str(continuation),
                (false, _) if number > 0 => payload.extend_from_slice(line.as_bytes()),
                _ => return Err(CommitError::MalformedHeader(number + 1)),
            }
            continue;
        }
        let content = line.trim_end_matches('\n');
        let (name, value) = content.split_once(' ').ok_or(CommitError::MalformedHeader(number + 1))?;
        if SIGNATURE_HEADERS.contains(&name) {
            in_signature = true;
            signatures.push((name.to_owned(), format!("{value}\n")));
            continue;
        }
        in_signature = false;
        payload.extend_from_slice(line.as_bytes());
        match name {
            "tree" => commit.tree = value.to_owned(),
            "parent" => commit.parents.push(value.to_owned()),
            "author" => commit.author = Some(value.to_owned()),
            "committer" => commit.committer = Some(value.to_owned()),
            _ => {}
        }
    }
    if commit.tree.is_empty() {
        return Err(CommitError::NoTree);
    }
    payload.extend_from_slice(&raw[header_end..]);
    commit.signed_payload = payload;
    // SHA-1 repositories sign in `gpgsig`; SHA-256 ones in `gpgsig-sha256`.
    commit.signature = signatures
        .iter()
        .find(|(name, _)| name == "gpgsig")
        .or_else(|| signatures.first())
        .map(|(_, text)| text.clone());
    Ok(commit)
}

/// The offset of the blank line ending the headers (pointing at its `\n`).
fn find_blank_line(raw: &[u8]) -> Option<usize> {
    raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 1)
}

impl Commit {
    pub fn signature_kind(&self) -> Option<SignatureKind> {
        let signature = self.signature.as_deref()?;
        Some(if signature.starts_with("-----BEGIN SSH SIGNATURE-----") {
            SignatureKind::Ssh
        } else if signature.starts_with("-----BEGIN PGP SIGNATURE-----") {
            SignatureKind::OpenPgp
        } else {
            SignatureKind::Other
        })
    }

    /// The author's email, from `Name <email> time zone`.
    pub fn author_email(&self) -> Option<&str> {
        let author = self.author.as_deref()?;
        let start = author.find('<')? + 1;
        let end = start + author[start..].find('>')?;
        Some(&author[start..end])
    }
}

#[cfg(test)]
mod tests;
