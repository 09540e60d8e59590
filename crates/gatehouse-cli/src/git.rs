//! Reading a repository with the real `git`: revisions to ids, many commit
//! objects through one `git cat-file --batch`, the paths each commit
//! touches through one `git diff-tree --stdin`, and a push's new commits.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::{CliError, CliResult};

fn git(repo: &Path) -> Command {
    let mut command = Command::new("git");
    command.current_dir(repo).stdin(Stdio::null()).stderr(Stdio::piped());
    command
}

fn output(mut command: Command, what: &str) -> CliResult<String> {
    let output = command.output().map_err(|e| CliError::config(format!("cannot run git ({what}): {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(CliError::config(format!("git {what} failed: {}", stderr.trim())));
    }
    String::from_utf8(output.stdout).map_err(|_| CliError::config(format!("git {what} printed non-UTF-8")))
}

/// Full commit ids for `revs`, in order, from one `git rev-parse`; when
/// one is not a commit, names it.
pub fn rev_parse(repo: &Path, revs: &[String]) -> CliResult<Vec<String>> {
    if let Some(option) = revs.iter().find(|rev| rev.starts_with('-')) {
        return Err(CliError::config(format!("`{option}` is not a revision")));
    }
    let mut command = git(repo);
    command.arg("rev-parse").args(revs.iter().map(|rev| format!("{rev}^{{commit}}")));
    if let Ok(out) = output(command, "rev-parse") {
        let ids: Vec<String> = out.lines().map(str::to_owned).collect();
        if ids.len() == revs.len() {
            return Ok(ids);
        }
    }
    for rev in revs {
        let mut one = git(repo);
        one.args(["rev-parse", "--verify", "--quiet", "--end-of-options", &format!("{rev}^{{commit}}")]);
        if output(one, "rev-parse").is_err() {
            return Err(CliError::refused(format!("`{rev}` is not a commit")));
        }
    }
    Err(CliError::config("git rev-parse gave an unexpected answer"))
}

/// The commits reachable from `new` and from no existing ref: what a push
/// brings (in pre-receive the refs are not updated yet).
pub fn new_commits(repo: &Path, new: &str) -> CliResult<Vec<String>> {
    let mut command = git(repo);
    command.args(["rev-list", "--reverse", new, "--not", "--all"]);
    Ok(output(command, "rev-list")?.lines().map(str::to_owned).collect())
}

/// The raw objects of `ids`, read through one `git cat-file --batch`.
pub fn read_commits(repo: &Path, ids: &[String]) -> CliResult<Vec<Vec<u8>>> {
    let mut child = git(repo)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::config(format!("cannot run git cat-file: {e}")))?;
    let mut stdin = child.stdin.take().ok_or_else(|| CliError::config("git cat-file has no stdin"))?;
    let request: String = ids.iter().map(|id| format!("{id}\n")).collect();
    // Write from another thread so a large answer cannot block the request.
    let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .ok_or_else(|| CliError::config("git cat-file has no stdout"))?
        .read_to_end(&mut out)
        .map_err(|e| CliError::config(format!("reading git cat-file: {e}")))?;
    let _ = writer.join();
    let _ = child.wait();
    parse_batch(&out, ids.len())
}

/// `<id> <type> <size>\n<content>\n`, once per object.
fn parse_batch(mut out: &[u8], expected: usize) -> CliResult<Vec<Vec<u8>>> {
    let mut objects = Vec::with_capacity(expected);
    while !out.is_empty() {
        let header_end =
            out.iter().position(|&b| b == b'\n').ok_or_else(|| CliError::config("git cat-file: truncated"))?;
        let header = String::from_utf8_lossy(&out[..header_end]).into_owned();
        let mut fields = header.split(' ');
        let (id, kind, size) = (fields.next().unwrap_or_default(), fields.next(), fields.next());
        if kind == Some("missing") || size.is_none() {
            return Err(CliError::refused(format!("commit {id} is not in the repository")));
        }
        if kind != Some("commit") {
            return Err(CliError::refused(format!("{id} is a {}, not a commit", kind.unwrap_or("?"))));
        }
        let size: usize = size.unwrap_or_default().parse().map_err(|_| CliError::config("git cat-file: bad size"))?;
        let start = header_end + 1;
        let end = start + size;
        if out.len() < end + 1 {
            return Err(CliError::config("git cat-file: truncated object"));
        }
        objects.push(out[start..end].to_vec());
        out = &out[end + 1..];
    }
    Ok(objects)
}

/// The paths each commit changes against its first parent (all files for a
/// root commit), through one `git diff-tree --stdin`.
pub fn changed_paths(repo: &Path, ids: &[String]) -> CliResult<HashMap<String, Vec<String>>> {
    let mut child = git(repo)
        .args(["diff-tree", "--stdin", "-r", "--name-only", "--root", "-m", "--first-parent", "--no-renames"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::config(format!("cannot run git diff-tree: {e}")))?;
    let mut stdin = child.stdin.take().ok_or_else(|| CliError::config("git diff-tree has no stdin"))?;
    let request: String = ids.iter().map(|id| format!("{id}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(request.as_bytes()));
    let mut out = String::new();
    child
        .stdout
        .take()
        .ok_or_else(|| CliError::config("git diff-tree has no stdout"))?
        .read_to_string(&mut out)
        .map_err(|e| CliError::config(format!("reading git diff-tree: {e}")))?;
    let _ = writer.join();
    let _ = child.wait();
    let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut paths: HashMap<String, Vec<String>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in out.lines() {
        if wanted.contains(line) {
            current = Some(line.to_owned());
            paths.entry(line.to_owned()).or_default();
        } else if let Some(id) = &current
            && !line.is_empty()
        {
            paths.entry(id.clone()).or_default().push(line.to_owned());
        }
    }
    Ok(paths)
}

/// The repository's top folder (or the bare repository itself).
pub fn repository_path(repo: &Path) -> CliResult<std::path::PathBuf> {
    let mut command = git(repo);
    command.args(["rev-parse", "--absolute-git-dir"]);
    let git_dir = std::path::PathBuf::from(output(command, "rev-parse --absolute-git-dir")?.trim());
    Ok(if git_dir.file_name().is_some_and(|n| n == ".git") {
        git_dir.parent().map(Path::to_path_buf).unwrap_or(git_dir)
    } else {
        git_dir
    })
}

/// `…/acme/web.git` → `acme/web`.
pub fn project_from_path(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let name = name.strip_suffix(".git").unwrap_or(name);
    let owner = path.parent()?.file_name()?.to_str()?;
    Some(format!("{owner}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_output_is_split_into_objects() {
        let out = b"aaa commit 5\nhello\nbbb commit 3\nxyz\n";
        assert_eq!(parse_batch(out, 2).unwrap(), vec![b"hello".to_vec(), b"xyz".to_vec()]);
        assert!(parse_batch(b"ccc missing\n", 1).is_err());
        assert!(parse_batch(b"ddd blob 1\nx\n", 1).is_err());
        assert!(parse_batch(b"eee commit 10\nshort\n", 1).is_err());
    }

    #[test]
    fn projects_come_from_the_last_two_folders() {
        assert_eq!(project_from_path(Path::new("/srv/git/acme/web.git")), Some("acme/web".into()));
        assert_eq!(project_from_path(Path::new("/home/ana/acme/web")), Some("acme/web".into()));
    }
}
