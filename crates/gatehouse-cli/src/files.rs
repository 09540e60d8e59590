//! Files gatehouse keeps on disk: the data dir (mode 0700) and secrets
//! (mode 0600, written whole or not at all).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{CliError, CliResult};

/// Creates `dir` (and parents) if missing, and makes it private to us.
pub fn create_private_dir(dir: &Path) -> CliResult<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| CliError::config(format!("cannot create data dir {}: {e}", dir.display())))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| CliError::config(format!("cannot restrict data dir {}: {e}", dir.display())))
}

/// Writes a secret to a new file with mode 0600. Refuses to overwrite.
pub fn write_secret_file(path: &Path, contents: &str) -> CliResult<()> {
    let tmp = path.with_extension("tmp");
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        // A hard link fails if the target exists, so nothing is overwritten.
        fs::hard_link(&tmp, path)?;
        fs::remove_file(&tmp)?;
        if let Some(parent) = path.parent() {
            fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| CliError::config(format!("cannot write {}: {e}", path.display())))
}

pub fn read_secret_file(path: &Path) -> CliResult<String> {
    let metadata = fs::metadata(path).map_err(|e| CliError::config(format!("cannot read {}: {e}", path.display())))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(CliError::config(format!(
            "{} is readable by others (mode {:o}); run `chmod 600` on it",
            path.display(),
            metadata.permissions().mode() & 0o777
        )));
    }
    fs::read_to_string(path).map_err(|e| CliError::config(format!("cannot read {}: {e}", path.display())))
}

/// Writes `bytes` to `out` whole or not at all: a `.partial` file synced,
/// then renamed over it.
pub fn write_whole(out: &Path, bytes: &[u8]) -> CliResult<()> {
    let write_error = |e: std::io::Error| CliError::config(format!("cannot write {}: {e}", out.display()));
    let tmp = out.with_extension("partial");
    let mut file = fs::File::create(&tmp).map_err(write_error)?;
    file.write_all(bytes).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    fs::rename(&tmp, out).map_err(write_error)
}

/// A trusted public key given on the command line: the key itself
/// (`name+id+key`), or a file holding it.
pub fn trusted_key(public_key: &str) -> CliResult<String> {
    if Path::new(public_key).is_file() {
        return fs::read_to_string(public_key)
            .map_err(|e| CliError::config(format!("cannot read the public key file {public_key}: {e}")));
    }
    Ok(public_key.to_owned())
}
