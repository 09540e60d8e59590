//! Reading a repository with the real `git`: revisions to ids, many commit
//! objects through one `git cat-file --batch`, the paths each commit
//! touches through one `git diff-tree --stdin`, a push's new commits, and
//! the paths a ref update changes.

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

/// The paths a ref update from `old` to `new` changes: `git diff` between
/// them, or for a new ref (`old` all zeros) every path its new commits
/// touch; sorted, without repeats. Read NUL-separated and shown as the
/// server takes them: a control character (a newline in a name) escaped as
/// `\n`, bytes that are not UTF-8 replaced. Callers pass hex ids only (see
/// `hook_input`), so git sees no option.
pub fn update_paths(repo: &Path, old: &str, new: &str) -> CliResult<Vec<String>> {
    let mut command = git(repo);
    if old.bytes().all(|b| b == b'0') {
        command.args(["log", "--format=", "--name-only", "-z", "--no-renames", new, "--not", "--all"]);
    } else {
        command.args(["diff", "--name-only", "-z", "--no-renames", old, new, "--"]);
    }
    let output = command.output().map_err(|e| CliError::config(format!("cannot run git (diff --name-only): {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(CliError::config(format!("git diff --name-only failed: {}", stderr.trim())));
    }
    let mut paths: Vec<String> = output
        .stdout
        .split(|&b| b == 0)
        .filter(|path| !path.is_empty())
        .map(|path| {
            String::from_utf8_lossy(path)
                .chars()
                .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
                .collect()
        })
        .collect();
    paths.sort();
    paths.dedup();
    Ok(paths)
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
    fn update_paths_are_the_diff_or_a_new_refs_commits() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("git")
                .current_dir(repo)
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        let write = |name: &str| {
            let path = repo.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, name).unwrap();
        };
        run(&["init", "-q", "-b", "main"]);
        write("README.md");
        run(&["add", "-A"]);
        run(&["commit", "-q", "-m", "one"]);
        let first = run(&["rev-parse", "HEAD"]);
        write(".github/workflows/deploy.yml");
        write("odd\nname.txt");
        run(&["add", "-A"]);
        run(&["commit", "-q", "-m", "two"]);
        let second = run(&["rev-parse", "HEAD"]);
        let zero = "0".repeat(40);
        assert_eq!(
            update_paths(repo, &first, &second).unwrap(),
            vec![".github/workflows/deploy.yml".to_owned(), "odd\\nname.txt".to_owned()]
        );
        // A new ref: the paths of commits no ref reaches yet (here, none).
        assert!(update_paths(repo, &zero, &second).unwrap().is_empty());
        run(&["checkout", "-q", "--orphan", "other"]);
        write("Jenkinsfile");
        run(&["add", "Jenkinsfile"]);
        run(&["commit", "-q", "-m", "other"]);
        let other = run(&["rev-parse", "HEAD"]);
        run(&["checkout", "-q", "-f", "main"]);
        run(&["update-ref", "-d", "refs/heads/other"]);
        let paths = update_paths(repo, &zero, &other).unwrap();
        assert!(paths.contains(&"Jenkinsfile".to_owned()), "{paths:?}");
        assert!(update_paths(repo, &first, &"f".repeat(40)).is_err(), "an unknown object");
    }

    #[test]
    fn projects_come_from_the_last_two_folders() {
        assert_eq!(project_from_path(Path::new("/srv/git/acme/web.git")), Some("acme/web".into()));
        assert_eq!(project_from_path(Path::new("/home/ana/acme/web")), Some("acme/web".into()));
    }
}
