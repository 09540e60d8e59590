//! Signing where code enters, as people and CI run it: `gatehouse key`,
//! `gatehouse verify-commit`, `gatehouse verify-blob`, and a real
//! pre-receive hook on a bare repository refusing bad pushes.

use std::process::Output;

use gatehouse_testkit::git_repo::{GitSandbox, Signing};
use gatehouse_testkit::{engine_test, with_database};
use serde_json::Value;

use crate::support::{BINARY, Server, gatehouse, stderr, stdout};

/// When the OpenPGP key `fingerprint` expires, in seconds since the epoch
/// (gpg's own reading of it).
fn gpg_expiry(sandbox: &GitSandbox, fingerprint: &str) -> u64 {
    let listing = sandbox.run(sandbox.root(), "gpg", &["--batch", "--with-colons", "--list-keys", fingerprint]);
    let primary = listing.lines().find(|line| line.starts_with("pub:")).expect("a primary key");
    primary.split(':').nth(6).and_then(|field| field.parse().ok()).expect("an expiry")
}

async fn blocking(mut command: std::process::Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().expect("run")).await.unwrap()
}

engine_test!(a_pre_receive_hook_refuses_unsigned_and_unauthorized_pushes, |engine| {
    with_database(engine, |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let cli = |args: &[&str]| {
            let mut command = gatehouse(&data_dir, &db.url);
            command.env("GATEHOUSE_URL", &server.url).env("GATEHOUSE_TOKEN", &admin).args(args);
            command
        };
        let json = |output: &Output| -> Value {
            assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
            serde_json::from_str(&stdout(output)).unwrap()
        };
        let sandbox = GitSandbox::new();
        let mut people = Vec::new();
        for (name, role) in [
            ("ana", Some("maintainer")),
            ("carol", None),
            ("vic", Some("developer")),
            ("bob", Some("developer")),
            ("val", Some("viewer")),
        ] {
            let created = blocking(cli(&[
                "identity",
                "create",
                "--kind",
                "human",
                "--name",
                name,
                "--email",
                &format!("{name}@example.com"),
                "--output",
                "json",
            ]))
            .await;
            let id = json(&created)["id"].as_str().unwrap().to_owned();
            if let Some(role) = role {
                json(
                    &blocking(cli(&[
                        "grant",
                        "add",
                        "--identity",
                        &id,
                        "--role",
                        role,
                        "--scope",
                        "project:acme/web",
                        "--output",
                        "json",
                    ]))
                    .await,
                );
            }
            let (key, _) = sandbox.ssh_key(name);
            let public = key.with_extension("pub");
            let added = json(
                &blocking(cli(&["key", "add", "--identity", &id, public.to_str().unwrap(), "--output", "json"])).await,
            );
            assert_eq!(added["kind"], "ssh");
            people.push((id, key));
        }
        let listed = blocking(cli(&["key", "list", "--identity", &people[0].0])).await;
        assert!(stdout(&listed).contains("ssh-ed25519"), "{}", stdout(&listed));
        let (stranger, _) = sandbox.ssh_key("stranger");
        // Ana's OpenPGP key to be revoked.
        let (revoked, revoked_public) = sandbox.gpg_key("ana-revoked@example.com", "never");
        let key_file = sandbox.root().join("key.asc");
        std::fs::write(&key_file, &revoked_public).unwrap();
        json(
            &blocking(cli(&["key", "add", "--identity", &people[0].0, key_file.to_str().unwrap(), "--output", "json"]))
                .await,
        );

        // A bare repository at …/acme/web.git whose pre-receive hook asks gatehouse.
        let bare = sandbox.root().join("acme/web.git");
        std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
        sandbox.run(sandbox.root(), "git", &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
        let hook = bare.join("hooks/pre-receive");
        std::fs::write(&hook, format!("#!/bin/sh\nexec \"{BINARY}\" hook pre-receive\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        sandbox.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
        let push = || {
            let mut command = sandbox.command("git", &sandbox.work());
            command
                .args(["push", "-q", "origin", "main"])
                .env("GATEHOUSE_URL", &server.url)
                .env("GATEHOUSE_TOKEN", &admin);
            command
        };
        let remote_head = || sandbox.run(&bare, "git", &["rev-parse", "--verify", "-q", "main"]).trim().to_owned();
        let ssh = |i: usize| Signing::Ssh(people[i].1.clone());
        let work = sandbox.work();
        let verify_commit =
            |rev: &str| cli(&["verify-commit", "--repo", work.to_str().unwrap(), "--project", "acme/web", rev]);

        let first = sandbox.commit("src/lib.rs", "one", &ssh(0));
        let ok = blocking(push()).await;
        assert!(ok.status.success(), "{}", stderr(&ok));
        assert_eq!(remote_head(), first);

        // Commits made while every key was good; some go bad before the push.
        // Ana's OpenPGP key that expires seconds after it signed a commit and
        // was registered: first with two seconds to live; a machine too slow
        // for that gets a longer-lived key, not a failure.
        let mut lifetime = 2;
        let (by_expiring, expires_at) = loop {
            assert!(lifetime <= 64, "could not sign and register a key within {} seconds", lifetime / 2);
            let email = format!("ana-expiring-{lifetime}@example.com");
            let (expiring, expiring_public) = sandbox.gpg_key(&email, &format!("seconds={lifetime}"));
            let expires_at = gpg_expiry(&sandbox, &expiring);
            lifetime *= 2;
            std::fs::write(work.join("src/x.rs"), "x").unwrap();
            sandbox.git(&["add", "src/x.rs"]);
            let signing_key = format!("user.signingkey={expiring}");
            let args = ["-c", "gpg.format=openpgp", "-c", &signing_key, "commit", "-q", "-S", "-m", "change src/x.rs"];
            let committed = sandbox.command("git", &work).args(args).output().unwrap();
            if !committed.status.success() {
                sandbox.git(&["reset", "-q", "--hard", &first]);
                continue; // gpg found the key expired
            }
            let commit = sandbox.git(&["rev-parse", "HEAD"]).trim().to_owned();
            sandbox.git(&["reset", "-q", "--hard", &first]);
            std::fs::write(&key_file, &expiring_public).unwrap();
            let key_path = key_file.to_str().unwrap();
            let added = blocking(cli(&["key", "add", "--identity", &people[0].0, key_path, "--output", "json"])).await;
            if added.status.code() != Some(0) && stderr(&added).contains("expired") {
                continue;
            }
            json(&added);
            break (commit, expires_at);
        };
        let by_revoked = sandbox.commit("src/y.rs", "y", &Signing::Gpg(revoked.clone()));
        sandbox.git(&["reset", "-q", "--hard", &first]);
        let by_bob = sandbox.commit("src/z.rs", "z", &ssh(3));
        sandbox.git(&["reset", "-q", "--hard", &first]);
        let signed = sandbox.commit("src/w.rs", "w", &ssh(0));
        let altered_raw = sandbox.cat(&signed).replace("change src/w.rs", "change src/evil.rs");
        let altered = {
            let file = sandbox.root().join("altered");
            std::fs::write(&file, &altered_raw).unwrap();
            sandbox.git(&["hash-object", "-t", "commit", "-w", file.to_str().unwrap()]).trim().to_owned()
        };
        sandbox.git(&["reset", "-q", "--hard", &first]);

        let revoked_key = sandbox.root().join("revoked.asc");
        std::fs::write(&revoked_key, sandbox.gpg_revoke(&revoked)).unwrap();
        json(
            &blocking(cli(&[
                "key",
                "add",
                "--identity",
                &people[0].0,
                revoked_key.to_str().unwrap(),
                "--output",
                "json",
            ]))
            .await,
        );
        json(&blocking(cli(&["identity", "suspend", &people[3].0, "--output", "json"])).await);
        // The expiring key had seconds to live, and the work above took
        // about as long: wait out what is left of them, if anything.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        let left = std::time::Duration::from_secs(expires_at).saturating_sub(now);
        tokio::time::sleep(left).await;

        let mut cases: Vec<(&str, String, &str)> = vec![
            ("expired OpenPGP key", by_expiring, "expired"),
            ("revoked OpenPGP key", by_revoked, "is revoked"),
            ("suspended identity", by_bob, "bob is suspended"),
            ("altered after signing", altered, "changed after it was signed"),
        ];
        for (name, file, signing, fragment) in [
            ("unsigned", "src/a.rs", Signing::None, "not signed"),
            ("unknown key", "src/u.rs", Signing::Ssh(stranger.clone()), "registered to nobody"),
            ("no source.push", "src/b.rs", ssh(1), "carol may not push to acme/web"),
            ("a viewer", "src/v.rs", ssh(4), "val may not push to acme/web"),
            ("a developer editing CI", ".github/workflows/ci.yml", ssh(2), "vic may not edit pipeline configuration"),
        ] {
            let id = sandbox.commit(file, name, &signing);
            sandbox.git(&["reset", "-q", "--hard", &first]);
            cases.push((name, id, fragment));
        }
        for (name, bad, fragment) in cases {
            // The CLI, for CI jobs.
            let checked = blocking(verify_commit(&bad)).await;
            assert_eq!(checked.status.code(), Some(1), "{name}: {}", stderr(&checked));
            assert!(stderr(&checked).contains(fragment), "{name}: {}", stderr(&checked));
            // The hook, on a real push.
            sandbox.git(&["reset", "-q", "--hard", &bad]);
            let refused = blocking(push()).await;
            assert!(!refused.status.success(), "{name} was accepted");
            let said = stderr(&refused);
            assert!(said.contains(&format!("rejected {}", &bad[..12])) && said.contains(fragment), "{name}: {said}");
            assert_eq!(remote_head(), first, "{name}: the branch stays as it was");
            sandbox.git(&["reset", "-q", "--hard", &first]);
        }
        let by_vic = sandbox.commit("src/c.rs", "c", &ssh(2));
        assert!(blocking(push()).await.status.success());
        assert_eq!(remote_head(), by_vic);

        // verify-commit for CI jobs: exit 0 when every commit passes, 1 otherwise.
        let verified = blocking(cli(&[
            "verify-commit",
            "--repo",
            work.to_str().unwrap(),
            "--project",
            "acme/web",
            "HEAD~1",
            "HEAD",
        ]))
        .await;
        assert_eq!(verified.status.code(), Some(0), "{}", stderr(&verified));
        assert_eq!(stdout(&verified).lines().filter(|l| l.starts_with("ok ")).count(), 2);
        sandbox.commit("src/d.rs", "d", &Signing::None);
        let failed =
            blocking(cli(&["verify-commit", "--repo", work.to_str().unwrap(), "--project", "acme/web", "HEAD"])).await;
        assert_eq!(failed.status.code(), Some(1));
        assert!(stderr(&failed).contains("not signed"));
        let unknown = blocking(cli(&["verify-commit", "--repo", work.to_str().unwrap(), "no-such-rev"])).await;
        assert_eq!(unknown.status.code(), Some(1));

        // verify-blob for artifacts.
        let file = sandbox.root().join("release.tar");
        std::fs::write(&file, "bits").unwrap();
        sandbox.run(
            sandbox.root(),
            "ssh-keygen",
            &["-q", "-Y", "sign", "-n", "gatehouse", "-f", people[0].1.to_str().unwrap(), file.to_str().unwrap()],
        );
        let signature = sandbox.root().join("release.tar.sig");
        let ok =
            blocking(cli(&["verify-blob", "--signature", signature.to_str().unwrap(), file.to_str().unwrap()])).await;
        assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
        std::fs::write(&file, "bitz").unwrap();
        let changed =
            blocking(cli(&["verify-blob", "--signature", signature.to_str().unwrap(), file.to_str().unwrap()])).await;
        assert_eq!(changed.status.code(), Some(1));
        assert!(stderr(&changed).contains("changed after it was signed"));
    })
});
