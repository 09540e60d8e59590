//! Real git repositories with commits signed by real `ssh-keygen` and `gpg`
//! keys, for the signing tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How a commit is signed.
#[derive(Debug, Clone)]
pub enum Signing {
    None,
    /// The private key file.
    Ssh(PathBuf),
    /// The OpenPGP key's fingerprint (in this sandbox's GNUPGHOME).
    Gpg(String),
}

/// A temporary folder holding keys, a GNUPGHOME and a work repository.
pub struct GitSandbox {
    pub dir: tempfile::TempDir,
}

impl Default for GitSandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl GitSandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let gnupg = dir.path().join("gnupg");
        std::fs::create_dir_all(&gnupg).expect("gnupg dir");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        }
        let sandbox = Self { dir };
        sandbox.run(sandbox.root(), "git", &["init", "-q", "-b", "main", "work"]);
        sandbox.git(&["config", "user.name", "Ana"]);
        sandbox.git(&["config", "user.email", "ana@example.com"]);
        sandbox
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn work(&self) -> PathBuf {
        self.root().join("work")
    }

    /// The environment every tool runs with: this sandbox's home and keys.
    pub fn command(&self, program: &str, cwd: &Path) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(cwd)
            .env("GNUPGHOME", self.root().join("gnupg"))
            .env("HOME", self.root())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("GIT_DIR");
        command
    }

    pub fn run(&self, cwd: &Path, program: &str, args: &[&str]) -> String {
        let output = self.command(program, cwd).args(args).output().expect("run");
        assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn git(&self, args: &[&str]) -> String {
        self.run(&self.work(), "git", args)
    }

    /// A new ed25519 SSH key: (private key path, public key line).
    pub fn ssh_key(&self, name: &str) -> (PathBuf, String) {
        let path = self.root().join(format!("{name}_ed25519"));
        self.run(
            self.root(),
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path.to_str().expect("utf-8")],
        );
        let public = std::fs::read_to_string(path.with_extension("pub")).expect("public key");
        (path, public.trim().to_owned())
    }

    /// A new OpenPGP signing key for `email`, expiring after `expiry` (`1d`,
    /// `never`): (fingerprint, armored public key).
    pub fn gpg_key(&self, email: &str, expiry: &str) -> (String, String) {
        let uid = format!("{email} <{email}>");
        self.run(
            self.root(),
            "gpg",
            &["--batch", "--quiet", "--passphrase", "", "--quick-gen-key", &uid, "ed25519", "sign", expiry],
        );
        let listing = self.run(self.root(), "gpg", &["--batch", "--with-colons", "--list-keys", email]);
        let fingerprint = listing
            .lines()
            .find(|line| line.starts_with("fpr:"))
            .and_then(|line| line.split(':').nth(9))
            .expect("fingerprint")
            .to_owned();
        (fingerprint.clone(), self.gpg_export(&fingerprint))
    }

    pub fn gpg_export(&self, fingerprint: &str) -> String {
        self.run(self.root(), "gpg", &["--batch", "--armor", "--export", fingerprint])
    }

    /// Imports the revocation certificate gpg made with the key, and returns
    /// the revoked public key.
    pub fn gpg_revoke(&self, fingerprint: &str) -> String {
        let path = self.root().join(format!("gnupg/openpgp-revocs.d/{fingerprint}.rev"));
        let certificate = std::fs::read_to_string(path).expect("revocation certificate");
        let certificate =
            certificate.replace(":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----");
        let file = self.root().join("revoke.asc");
        std::fs::write(&file, certificate).expect("write");
        self.run(self.root(), "gpg", &["--batch", "--quiet", "--import", file.to_str().expect("utf-8")]);
        self.gpg_export(fingerprint)
    }

    /// Writes `file`, commits it (signed as asked) and returns the commit id.
    pub fn commit(&self, file: &str, content: &str, signing: &Signing) -> String {
        let path = self.work().join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, content).expect("write");
        self.git(&["add", file]);
        let message = format!("change {file}");
        match signing {
            Signing::None => self.git(&["commit", "-q", "--no-gpg-sign", "-m", &message]),
            Signing::Ssh(key) => self.git(&[
                "-c",
                "gpg.format=ssh",
                "-c",
                &format!("user.signingkey={}", key.display()),
                "commit",
                "-q",
                "-S",
                "-m",
                &message,
            ]),
            Signing::Gpg(fingerprint) => self.git(&[
                "-c",
                "gpg.format=openpgp",
                "-c",
                &format!("user.signingkey={fingerprint}"),
                "commit",
                "-q",
                "-S",
                "-m",
                &message,
            ]),
        };
        self.git(&["rev-parse", "HEAD"]).trim().to_owned()
    }

    /// The raw commit object.
    pub fn cat(&self, id: &str) -> String {
        self.git(&["cat-file", "commit", id])
    }
}
