//! The server under write load while its database goes away: PostgreSQL
//! restarted, SQLite's disk full. Writes fail closed (503 problem+json),
//! nothing is half-written, everything works again by itself once the
//! database is back, no acknowledged write is lost, and the log verifies.
//!
//! Each test brings its own trouble: a PostgreSQL instance of its own
//! (initdb into a temp dir; the machine's shared one is never touched) and
//! a small tmpfs for SQLite. Without the PostgreSQL binaries or the right
//! to mount, a test fails under `CI` and prints "skipped" otherwise.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::support::{Server, free_port, gatehouse, http, run, stderr, stdout};

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Fails under CI, prints "skipped" otherwise: the test cannot run here.
#[track_caller]
fn skip(why: &str) {
    assert!(!under_ci(), "cannot run under CI: {why}");
    eprintln!("skipped: {why}");
}

// ---------------------------------------------------------------- load

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    /// `POST /api/v1/identities`: a change of state and its entry.
    CreateIdentity,
    /// `POST /api/v1/authorize`: a decision, durably audited.
    Authorize,
}

#[derive(Debug)]
struct Answer {
    started: Instant,
    write: Write,
    /// 0: no HTTP answer at all.
    status: u16,
    content_type: String,
    body: Value,
    /// The service identity's name (for `CreateIdentity`).
    name: Option<String>,
}

impl Answer {
    fn acknowledged(&self) -> bool {
        matches!(self.status, 200 | 201)
    }

    fn describe(&self) -> String {
        format!("{:?} answered {} ({}): {}", self.write, self.status, self.content_type, self.body)
    }
}

/// Writers sending identity creations and decisions in turn until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    writers: Vec<tokio::task::JoinHandle<Vec<Answer>>>,
}

impl Load {
    fn start(url: &str, token: &str, writers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let writers = (0..writers)
            .map(|writer| {
                let (url, token, stop) = (url.to_owned(), token.to_owned(), stop.clone());
                tokio::spawn(async move {
                    let client = http();
                    let mut answers = Vec::new();
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let name = format!("load-{writer}-{n}");
                        let body = json!({"kind": "service", "name": name});
                        let request = client.post(format!("{url}/api/v1/identities")).bearer_auth(&token).json(&body);
                        answers.push(send(request, Write::CreateIdentity, Some(name)).await);
                        let body = json!({"action": "pipeline.trigger", "resource": {"type": "Pipeline", "id": "acme/web:deploy"}});
                        let request = client.post(format!("{url}/api/v1/authorize")).bearer_auth(&token).json(&body);
                        answers.push(send(request, Write::Authorize, None).await);
                    }
                    answers
                })
            })
            .collect();
        Self { stop, writers }
    }

    async fn finish(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        let mut answers = Vec::new();
        for writer in self.writers {
            answers.extend(writer.await.unwrap());
        }
        answers
    }
}

async fn send(request: reqwest::RequestBuilder, write: Write, name: Option<String>) -> Answer {
    let started = Instant::now();
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let content_type =
                response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let body = response.json().await.unwrap_or(Value::Null);
            Answer { started, write, status, content_type, body, name }
        }
        Err(error) => {
            Answer { started, write, status: 0, content_type: String::new(), body: json!(error.to_string()), name }
        }
    }
}

/// How the writes were answered, for the test's output.
fn summary(answers: &[Answer]) -> String {
    let mut counts = std::collections::BTreeMap::<(String, u16), usize>::new();
    for answer in answers {
        *counts.entry((format!("{:?}", answer.write), answer.status)).or_default() += 1;
    }
    format!("{counts:?}")
}

/// Every refusal is a 503 `unavailable` problem: never a 500, never a bare
/// body, never a dropped connection.
#[track_caller]
fn assert_failures_are_unavailable(answers: &[Answer]) {
    for answer in answers.iter().filter(|a| !a.acknowledged()) {
        assert_eq!(answer.status, 503, "{}", answer.describe());
        assert_eq!(answer.content_type, "application/problem+json", "{}", answer.describe());
        assert_eq!(answer.body["type"], "urn:gatehouse:problem:unavailable", "{}", answer.describe());
    }
}

/// Polls `path` until it answers `status`, for at most `within`.
async fn wait_for_status(server: &Server, path: &str, status: u16, within: Duration) -> (u16, Value) {
    let deadline = Instant::now() + within;
    loop {
        let response = http().get(format!("{}{path}", server.url)).send().await.unwrap();
        let got = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        if got == status || Instant::now() > deadline {
            return (got, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Exports the log with the server stopped, verifies it against the
/// installation's key, and returns the entries' leaves by index.
fn export_and_verify(data_dir: &Path, url: &str) -> Vec<(u64, Value)> {
    let file = data_dir.with_extension("export.jsonl");
    let exported = run(gatehouse(data_dir, url).args(["audit", "export", "--out", file.to_str().unwrap()]));
    assert_eq!(exported.status.code(), Some(0), "{}", stderr(&exported));
    let key = std::fs::read_to_string(data_dir.join("audit-signing.key")).unwrap();
    let signer = gatehouse_audit::note_key::NoteSigner::parse(&key).unwrap();
    let public_key = signer.verifier().encode();
    let verified =
        run(gatehouse(data_dir, url).args(["audit", "verify", file.to_str().unwrap(), "--public-key", &public_key]));
    assert_eq!(verified.status.code(), Some(0), "{}", stderr(&verified));
    assert!(stdout(&verified).starts_with("verified: "), "{}", stdout(&verified));
    std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .filter_map(|line| {
            let line: Value = serde_json::from_str(line).unwrap();
            let leaf = STANDARD.decode(line["leaf"].as_str()?).unwrap();
            Some((line["index"].as_u64().unwrap(), serde_json::from_slice(&leaf).unwrap()))
        })
        .collect()
}

/// No acknowledged write is lost, and nothing is half-written: every
/// acknowledged decision's entry is in the log, and the load's identities
/// in the database are exactly those whose creation the log records, which
/// include every acknowledged one.
async fn assert_nothing_lost_or_half_written(answers: &[Answer], leaves: &[(u64, Value)], url: &str) {
    let indexes: HashSet<u64> = leaves.iter().map(|(index, _)| *index).collect();
    let mut decisions = 0;
    for answer in answers.iter().filter(|a| a.acknowledged() && a.write == Write::Authorize) {
        let index = answer.body["audit_index"].as_u64().expect("a decision names its entry");
        assert!(indexes.contains(&index), "acknowledged decision {index} is missing from the log");
        decisions += 1;
    }
    let logged: BTreeSet<String> = leaves
        .iter()
        .filter(|(_, leaf)| leaf["action"] == "identity.create" && leaf["outcome"] == "success")
        .filter_map(|(_, leaf)| leaf["details"]["name"].as_str().map(str::to_owned))
        .filter(|name| name.starts_with("load-"))
        .collect();
    let acknowledged: BTreeSet<String> = answers
        .iter()
        .filter(|a| a.acknowledged() && a.write == Write::CreateIdentity)
        .filter_map(|a| a.name.clone())
        .collect();
    assert!(decisions > 0 && !acknowledged.is_empty(), "the load wrote nothing");
    let lost: Vec<_> = acknowledged.difference(&logged).collect();
    assert!(lost.is_empty(), "acknowledged identities missing from the log: {lost:?}");

    let store = gatehouse_store::open(url, gatehouse_store::ConnectOptions::default()).await.unwrap();
    let mut stored = BTreeSet::new();
    let mut page = gatehouse_domain::store::PageRequest::first(500);
    loop {
        let found = store.list_identities(page.clone()).await.unwrap();
        stored.extend(found.items.into_iter().map(|identity| identity.name).filter(|name| name.starts_with("load-")));
        match found.next_after {
            Some(after) => page.after = Some(after),
            None => break,
        }
    }
    assert_eq!(stored, logged, "an identity without its entry, or an entry without its identity");
}

// ---------------------------------------------------------- disk full

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Result<Self, String> {
        std::fs::create_dir_all(path).unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!("cannot mount a tmpfs: {}", String::from_utf8_lossy(&output.stderr).trim()));
        }
        Ok(Self { path: path.to_owned() })
    }

    /// Fills what is left with a ballast file, and returns it.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let ballast = self.path.join("ballast");
        let mut file = std::fs::File::create(&ballast).unwrap();
        for chunk in [1 << 20, 4096, 512] {
            let zeros = vec![0u8; chunk];
            while file.write_all(&zeros).is_ok() {}
        }
        let _ = file.sync_all();
        ballast
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// SQLite's disk fills under write load: every write fails closed with a
/// 503 problem, `/healthz` stays 200, `/readyz` is 503 and says the disk is
/// full; once space returns, writes succeed again within a second with no
/// restart, and the log verifies with every acknowledged write in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_under_write_load_fails_closed_and_recovers() {
    let scratch = tempfile::tempdir().unwrap();
    let mount_point = scratch.path().join("fs");
    let disk = match Tmpfs::mount(&mount_point, "24m") {
        Ok(disk) => disk,
        Err(why) => return skip(&why),
    };
    // The data dir and the server's log are both on the small disk.
    let data_dir = mount_point.join("data");
    let url = format!("sqlite://{}", data_dir.join("gatehouse.db").display());
    let server = Server::start(&data_dir, &url).await;
    let token = crate::support::admin_token(&server, &data_dir).await;

    let load = Load::start(&server.url, &token, 4);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let filled_at = Instant::now();
    let ballast = disk.fill();

    let (status, ready) = wait_for_status(&server, "/readyz", 503, Duration::from_secs(5)).await;
    assert_eq!(status, 503, "readiness while the disk is full: {ready}");
    assert_eq!(ready["type"], "urn:gatehouse:problem:not-ready", "{ready}");
    assert!(ready["detail"].as_str().unwrap().contains("disk is full"), "{ready}");
    let health = http().get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(health.status(), 200, "liveness does not depend on the disk");
    tokio::time::sleep(Duration::from_millis(1000)).await;

    std::fs::remove_file(&ballast).unwrap();
    let freed_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let answers = load.finish().await;
    eprintln!("answers: {}", summary(&answers));

    assert_failures_are_unavailable(&answers);
    let while_full =
        answers.iter().filter(|a| a.started > filled_at + Duration::from_millis(300) && a.started < freed_at);
    assert!(while_full.clone().any(|a| a.status == 503), "no write failed while the disk was full");
    let settled = freed_at + Duration::from_secs(1);
    let after: Vec<_> = answers.iter().filter(|a| a.started > settled).collect();
    assert!(after.len() >= 8, "too few writes after space returned: {}", after.len());
    for answer in after {
        assert!(answer.acknowledged(), "a second after space returned: {}", answer.describe());
    }
    let (status, ready) = wait_for_status(&server, "/readyz", 200, Duration::from_secs(2)).await;
    assert_eq!(status, 200, "ready again: {ready}");

    drop(server);
    let leaves = export_and_verify(&data_dir, &url);
    assert_nothing_lost_or_half_written(&answers, &leaves, &url).await;
    drop(disk);
}

// ------------------------------------------------- PostgreSQL restart

/// A PostgreSQL instance of the test's own: initdb into a temp dir, trust
/// authentication, a free port. Stopped and removed when dropped.
struct OwnPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// Run the binaries as `postgres`: initdb refuses root.
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl OwnPostgres {
    fn start() -> Result<Self, String> {
        let bin = postgres_bin().ok_or("no PostgreSQL binaries in /usr/lib/postgresql/*/bin")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let as_postgres = is_root();
        let data = dir.path().join("pgdata");
        std::fs::create_dir(&data).map_err(|e| e.to_string())?;
        if as_postgres {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
            let chown = Command::new("chown").arg("postgres:").arg(&data).output().map_err(|e| e.to_string())?;
            if !chown.status.success() {
                return Err(format!(
                    "cannot give the data dir to `postgres`: {}",
                    String::from_utf8_lossy(&chown.stderr)
                ));
            }
        }
        let postgres = Self { bin, data, port: free_port(), as_postgres, _dir: dir };
        let data = postgres.data.to_str().unwrap().to_owned();
        postgres.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"])?;
        postgres.up()?;
        postgres
            .run("createdb", &["-h", "127.0.0.1", "-p", &postgres.port.to_string(), "-U", "postgres", "gatehouse"])?;
        Ok(postgres)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/gatehouse", self.port)
    }

    fn up(&self) -> Result<(), String> {
        let data = self.data.to_str().unwrap();
        let options = format!("-p {} -k {data} -c listen_addresses=127.0.0.1", self.port);
        let log = self.data.join("server.log");
        self.run("pg_ctl", &["-D", data, "-o", &options, "-l", log.to_str().unwrap(), "-w", "start"])
    }

    /// Stops at once, as a crash would: no checkpoint, connections cut.
    fn crash(&self) -> Result<(), String> {
        self.run("pg_ctl", &["-D", self.data.to_str().unwrap(), "-m", "immediate", "-w", "stop"])
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&path);
            command
        } else {
            Command::new(&path)
        };
        let output = command.args(args).stdin(Stdio::null()).output().map_err(|e| format!("{program}: {e}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self.crash();
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` holding initdb.
fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|output| stdout(&output).trim() == "0")
}

/// PostgreSQL stops (as a crash would) under write load and comes back:
/// `/readyz` is 503 while it is down and `/healthz` stays 200, writes fail
/// closed meanwhile, the same server process serves writes again once it
/// is back, and no acknowledged write is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_restart_under_write_load_loses_no_acknowledged_write() {
    let postgres = match OwnPostgres::start() {
        Ok(postgres) => postgres,
        Err(why) => return skip(&why),
    };
    let url = postgres.url();
    let scratch = tempfile::tempdir().unwrap();
    let data_dir = scratch.path().join("data");
    let server = Server::start(&data_dir, &url).await;
    let token = crate::support::admin_token(&server, &data_dir).await;

    let load = Load::start(&server.url, &token, 4);
    tokio::time::sleep(Duration::from_millis(800)).await;
    postgres.crash().unwrap();

    let (status, ready) = wait_for_status(&server, "/readyz", 503, Duration::from_secs(5)).await;
    assert_eq!(status, 503, "readiness while PostgreSQL is down: {ready}");
    assert_eq!(ready["type"], "urn:gatehouse:problem:not-ready", "{ready}");
    assert!(ready["detail"].as_str().unwrap().contains("database"), "{ready}");
    assert!(!ready["detail"].as_str().unwrap().contains("127.0.0.1"), "the cause stays in the log: {ready}");
    let health = http().get(format!("{}/healthz", server.url)).send().await.unwrap();
    assert_eq!(health.status(), 200, "liveness does not depend on the database");
    tokio::time::sleep(Duration::from_millis(1000)).await;

    postgres.up().unwrap();
    let restarted_at = Instant::now();
    let (status, ready) = wait_for_status(&server, "/readyz", 200, Duration::from_secs(10)).await;
    assert_eq!(status, 200, "ready again once PostgreSQL is back: {ready}");
    let ready_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let answers = load.finish().await;
    eprintln!("answers: {}", summary(&answers));

    assert_failures_are_unavailable(&answers);
    // Writes in flight at the crash, or sent while it lasted, fail closed
    // (a write sent during the outage may also wait in the pool until the
    // database is back, and then succeed: that is no loss either).
    let while_down = answers.iter().filter(|a| a.started < restarted_at);
    assert!(while_down.clone().any(|a| a.status == 503), "no write failed while PostgreSQL was down");
    let settled = ready_at + Duration::from_secs(1);
    let after: Vec<_> = answers.iter().filter(|a| a.started > settled).collect();
    assert!(after.len() >= 8, "too few writes after PostgreSQL came back: {}", after.len());
    for answer in after {
        assert!(answer.acknowledged(), "a second after PostgreSQL was ready again: {}", answer.describe());
    }

    drop(server);
    let leaves = export_and_verify(&data_dir, &url);
    assert_nothing_lost_or_half_written(&answers, &leaves, &url).await;
    drop(postgres);
}
