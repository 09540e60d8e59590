//! The lines git writes to a pre-receive hook's stdin, `<old> <new> <ref>`,
//! read strictly: a line that is not one refuses the push (deny by
//! default), and only hex object ids ever reach `git rev-list`, so no line
//! can pass git an option.

use crate::error::{CliError, CliResult};

/// One ref a push updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefUpdate<'a> {
    pub old: &'a str,
    pub new: &'a str,
    pub reference: &'a str,
}

impl RefUpdate<'_> {
    /// A deletion brings no commits: git sends the all-zero id as `new`.
    pub fn is_deletion(&self) -> bool {
        self.new.bytes().all(|b| b == b'0')
    }
}

/// A full object id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A full ref name as git sends it: `refs/…`, printable, no spaces.
fn is_ref_name(text: &str) -> bool {
    text.len() > "refs/".len() && text.starts_with("refs/") && !text.chars().any(|c| c.is_control())
}

/// Parses one line of the hook's input.
pub fn parse_ref_update(line: &str) -> CliResult<RefUpdate<'_>> {
    let refuse = || {
        let shown: String = line.chars().take(120).collect::<String>().escape_debug().to_string();
        CliError::refused(format!("the hook's input line `{shown}` is not `<old-id> <new-id> <ref>`"))
    };
    let mut fields = line.split(' ');
    let (Some(old), Some(new), Some(reference), None) = (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(refuse());
    };
    if !is_object_id(old) || !is_object_id(new) || old.len() != new.len() || !is_ref_name(reference) {
        return Err(refuse());
    }
    Ok(RefUpdate { old, new, reference })
}

#[cfg(test)]
mod tests;
