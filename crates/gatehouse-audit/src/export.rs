//! The audit export file and its offline verification.
//!
//! JSON Lines: first `{"format":"gatehouse-audit-export/v1","origin":…,
//! "public_key":…}`, then one `{"index":N,"leaf":<base64 leaf bytes>}` per
//! entry from 0, and last `{"checkpoint":<signed note>}` for the tree of
//! exactly those entries.
//!
//! Verification is two passes over the lines. [`Verifier`] is the fast one:
//! it recomputes every leaf hash and the root and checks the checkpoint's
//! signature, in O(log n) memory. Only if the root does not match does
//! [`Locator`] make a second pass that reads inside each leaf (its own
//! `index` and the `prev_root` of the tree before it) to name the first
//! altered entry.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::merkle::{Frontier, Hash, leaf_hash};
use crate::note_key::NoteVerifier;

pub const FORMAT: &str = "gatehouse-audit-export/v1";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub origin: String,
    pub public_key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryLine<'a> {
    index: u64,
    #[serde(borrow)]
    leaf: &'a str,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointLine {
    checkpoint: String,
}

pub fn header_line(origin: &str, public_key: &str) -> String {
    let header = Header { format: FORMAT.to_owned(), origin: origin.to_owned(), public_key: public_key.to_owned() };
    serde_json::to_string(&header).unwrap_or_default()
}

pub fn entry_line(index: u64, leaf: &[u8]) -> String {
    serde_json::to_string(&EntryLine { index, leaf: &STANDARD.encode(leaf) }).unwrap_or_default()
}

pub fn checkpoint_line(note: &str) -> String {
    serde_json::to_string(&CheckpointLine { checkpoint: note.to_owned() }).unwrap_or_default()
}

/// Why an export does not verify, naming the first bad entry when one can
/// be named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct VerifyError {
    pub index: Option<u64>,
    pub message: String,
}

impl VerifyError {
    fn at(index: u64, message: impl Into<String>) -> Self {
        Self { index: Some(index), message: message.into() }
    }

    fn general(message: impl Into<String>) -> Self {
        Self { index: None, message: message.into() }
    }
}

/// What a verified export proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

/// A line after the header: an entry, or the closing checkpoint.
enum Line {
    Entry { index: u64, leaf: Vec<u8> },
    Checkpoint(String),
}

/// A line after the header with its leaf already hashed: what the fast pass
/// consumes. Making one is the costly part (parse, decode, hash) and needs
/// no state, so a caller may make them on several threads.
pub enum HashedLine {
    Entry { index: u64, leaf_hash: Hash },
    Checkpoint(String),
}

/// `{"index":N,"leaf":"<base64>"}` exactly as `entry_line` writes it, read
/// without a JSON parser; anything else goes to the full parser.
fn split_entry_line(line: &[u8]) -> Option<(u64, &[u8])> {
    let rest = line.strip_prefix(b"{\"index\":")?;
    let digits = rest.iter().position(|b| !b.is_ascii_digit())?;
    if digits == 0 || digits > 19 || (digits > 1 && rest[0] == b'0') {
        return None;
    }
    let index = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    let leaf = rest[digits..].strip_prefix(b",\"leaf\":\"")?.strip_suffix(b"\"}")?;
    (!leaf.contains(&b'"') && !leaf.contains(&b'\\')).then_some((index, leaf))
}

/// Parses one line after the header and hashes its leaf. `expected` is the
/// index the line should hold, for error messages.
pub fn hash_line(line: &[u8], expected: u64) -> Result<HashedLine, VerifyError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some((index, encoded)) = split_entry_line(line) {
        let leaf = STANDARD
            .decode(encoded)
            .map_err(|_| VerifyError::at(expected, format!("entry {expected}: the leaf is not base64")))?;
        return Ok(HashedLine::Entry { index, leaf_hash: leaf_hash(&leaf) });
    }
    let text = std::str::from_utf8(line)
        .map_err(|_| VerifyError::at(expected, format!("entry {expected}: the line is not UTF-8")))?;
    Ok(match parse_line(text, expected)? {
        Line::Entry { index, leaf } => HashedLine::Entry { index, leaf_hash: leaf_hash(&leaf) },
        Line::Checkpoint(note) => HashedLine::Checkpoint(note),
    })
}

fn parse_line(line: &str, expected: u64) -> Result<Line, VerifyError> {
    if line.starts_with("{\"checkpoint\"") {
        let parsed: CheckpointLine = serde_json::from_str(line)
            .map_err(|e| VerifyError::at(expected, format!("the checkpoint line is malformed: {e}")))?;
        return Ok(Line::Checkpoint(parsed.checkpoint));
    }
    let parsed: EntryLine = serde_json::from_str(line)
        .map_err(|e| VerifyError::at(expected, format!("entry {expected}: the line is malformed: {e}")))?;
    let leaf = STANDARD
        .decode(parsed.leaf)
        .map_err(|_| VerifyError::at(expected, format!("entry {expected}: the leaf is not base64")))?;
    Ok(Line::Entry { index: parsed.index, leaf })
}

/// The fast pass.
pub struct Verifier {
    verifier: NoteVerifier,
    origin: String,
    frontier: Frontier,
    checkpoint: Option<String>,
}

impl Verifier {
    /// Reads the header. With `trusted_key`, the export must be signed by
    /// that key; without, the header's own key is used (which proves the
    /// export is intact, not who made it).
    pub fn new(header: &str, trusted_key: Option<&str>) -> Result<Self, VerifyError> {
        let header: Header = serde_json::from_str(header)
            .map_err(|e| VerifyError::general(format!("the first line is not an export header: {e}")))?;
        if header.format != FORMAT {
            return Err(VerifyError::general(format!("unknown export format `{}`", header.format)));
        }
        let key = match trusted_key {
            Some(trusted) if trusted.trim() != header.public_key => {
                return Err(VerifyError::general(format!(
                    "the export names the key `{}`, not the trusted key `{}`",
                    header.public_key,
                    trusted.trim()
                )));
            }
            Some(trusted) => trusted.trim(),
            None => &header.public_key,
        };
        let verifier = NoteVerifier::parse(key).map_err(|e| VerifyError::general(format!("bad public key: {e}")))?;
        Ok(Self { verifier, origin: header.origin, frontier: Frontier::empty(), checkpoint: None })
    }

    /// Entries read so far.
    pub fn entries(&self) -> u64 {
        self.frontier.size()
    }

    /// Feeds the next line after the header.
    pub fn line(&mut self, line: &str) -> Result<(), VerifyError> {
        let hashed = hash_line(line.as_bytes(), self.frontier.size())?;
        self.accept(hashed)
    }

    /// Feeds the next line after the header, already hashed by [`hash_line`].
    pub fn accept(&mut self, line: HashedLine) -> Result<(), VerifyError> {
        let expected = self.frontier.size();
        if self.checkpoint.is_some() {
            return Err(VerifyError::at(expected, "lines follow the checkpoint, which must be the last line"));
        }
        match line {
            HashedLine::Checkpoint(note) => self.checkpoint = Some(note),
            HashedLine::Entry { index, leaf_hash } => {
                if index != expected {
                    return Err(VerifyError::at(
                        expected,
                        format!("entry {expected} is missing or out of order (found entry {index} in its place)"),
                    ));
                }
                self.frontier.push_hash(leaf_hash);
            }
        }
        Ok(())
    }

    /// Checks the checkpoint against everything read. `Err` with
    /// `needs_locating = true` means the entries do not produce the signed
    /// root: run a [`Locator`] pass to name the entry.
    pub fn finish(self) -> Result<Verified, (VerifyError, bool)> {
        let count = self.frontier.size();
        let note = self.checkpoint.ok_or_else(|| {
            (
                VerifyError::at(
                    count,
                    format!("the export ends after {count} entries without its checkpoint (truncated)"),
                ),
                false,
            )
        })?;
        let checkpoint = Checkpoint::open(&note, &self.verifier)
            .map_err(|e| (VerifyError::general(format!("the checkpoint is not authentic: {e}")), false))?;
        if checkpoint.origin != self.origin {
            return Err((
                VerifyError::general(format!(
                    "the checkpoint is for `{}`, the export for `{}`",
                    checkpoint.origin, self.origin
                )),
                false,
            ));
        }
        if count < checkpoint.size {
            return Err((
                VerifyError::at(
                    count,
                    format!("entries from {count} on are missing: the checkpoint covers {}", checkpoint.size),
                ),
                false,
            ));
        }
        if count > checkpoint.size {
            return Err((
                VerifyError::at(
                    checkpoint.size,
                    format!("entries from {} on are not covered by the checkpoint", checkpoint.size),
                ),
                false,
            ));
        }
        if self.frontier.root() != checkpoint.root {
            return Err((VerifyError::general("the entries do not produce the checkpoint's root"), true));
        }
        Ok(Verified { origin: checkpoint.origin, size: checkpoint.size, root: checkpoint.root })
    }
}

#[derive(Deserialize)]
struct LeafFields {
    index: u64,
    prev_root: Option<String>,
}

/// The second pass: finds the first entry whose content disagrees with its
/// position or with the root its successor recorded.
#[derive(Default)]
pub struct Locator {
    frontier: Frontier,
    found: Option<VerifyError>,
}

impl Locator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next line after the header.
    pub fn line(&mut self, line: &str) {
        if self.found.is_some() {
            return;
        }
        let position = self.frontier.size();
        let Ok(Line::Entry { leaf, .. }) = parse_line(line, position) else { return };
        let fields: Option<LeafFields> = serde_json::from_slice(&leaf).ok();
        match fields {
            None => {
                self.found =
                    Some(VerifyError::at(position, format!("entry {position} is not a gatehouse audit entry")));
                return;
            }
            Some(fields) if fields.index != position => {
                self.found = Some(VerifyError::at(
                    position,
                    format!("entry {position} holds entry {} (entries were reordered)", fields.index),
                ));
                return;
            }
            Some(LeafFields { prev_root: Some(recorded), .. }) if position > 0 => {
                if recorded != STANDARD.encode(self.frontier.root()) {
                    self.found = Some(VerifyError::at(
                        position - 1,
                        format!(
                            "entry {} was altered: entry {position} recorded a different log before it",
                            position - 1
                        ),
                    ));
                    return;
                }
            }
            Some(_) => {}
        }
        self.frontier.push(leaf_hash(&leaf));
    }

    /// The first bad entry; the last one when every link held (only the
    /// last entry has no successor to vouch for it).
    pub fn finish(self) -> VerifyError {
        self.found.unwrap_or_else(|| {
            let last = self.frontier.size().saturating_sub(1);
            VerifyError::at(last, format!("entry {last} was altered: the log's root does not match its checkpoint"))
        })
    }
}

#[cfg(test)]
mod tests;
