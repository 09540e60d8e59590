//! Running the binary: one-shot commands and a server process that is
//! stopped (SIGKILL) when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_gatehouse");

/// A `gatehouse` command with a clean environment apart from PATH, so no
/// developer setting leaks in. Outbound fetches may reach loopback, where the
/// tests' OIDC issuers and GitHub stand-in listen.
pub fn gatehouse(data_dir: &Path, database_url: &str) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEHOUSE_DATA_DIR", data_dir)
        .env("GATEHOUSE_DATABASE_URL", database_url)
        .env("GATEHOUSE_LOG_LEVEL", "info")
        .env("GATEHOUSE_OUTBOUND_ALLOW_LOOPBACK", "true")
        .stdin(Stdio::null());
    command
}

pub fn run(command: &mut Command) -> Output {
    command.output().expect("run gatehouse")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Server {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Server {
    /// Starts `gatehouse serve` and waits until `/readyz` answers.
    pub async fn start(data_dir: &Path, database_url: &str) -> Self {
        Self::start_with(data_dir, database_url, &[]).await
    }

    /// Starts `gatehouse serve` with extra environment variables.
    pub async fn start_with(data_dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Self {
        Self::start_on(free_port(), data_dir, database_url, env).await
    }

    /// Starts `gatehouse serve` on a given port (for redirect URLs known in advance).
    pub async fn start_on(port: u16, data_dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Self {
        let log = data_dir.with_extension(format!("{port}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let child = gatehouse(data_dir, database_url)
            .envs(env.iter().copied())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn serve");
        let server = Server { child, url: format!("http://127.0.0.1:{port}"), log };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = http();
        while Instant::now() < deadline {
            if let Ok(response) = client.get(format!("{}/readyz", self.url)).send().await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not become ready; log:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([format!("-{signal}"), self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait(mut self) -> Option<i32> {
        let status = self.child.wait().unwrap();
        status.code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// POSTs `body` as the bearer of `token`: the status and the JSON answer.
    pub async fn post(&self, path: &str, token: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let response =
            http().post(format!("{}{path}", self.url)).bearer_auth(token).json(body).send().await.expect("POST sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// GETs `path` as the bearer of `token`: the status and the JSON answer.
    pub async fn get(&self, path: &str, token: &str) -> (u16, serde_json::Value) {
        let response = http().get(format!("{}{path}", self.url)).bearer_auth(token).send().await.expect("GET sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// The one-time admin token `serve` wrote into `data_dir`.
pub fn bootstrap_token(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("bootstrap-admin-token")).expect("bootstrap token").trim().to_owned()
}

/// An async HTTP client for the tests' API calls.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// Enrolls and confirms a TOTP second factor for the token's owner, as a
/// person does with an authenticator app (codes computed here), so the
/// token may act: `serve` requires a second factor of people by default,
/// and a fresh one for privileged actions.
pub async fn enable_mfa(server: &Server, token: &str) {
    let (_, enrollment) = server.post("/api/v1/mfa/totp", token, &serde_json::Value::Null).await;
    let secret = gatehouse_mfa::TotpSecret::from_base32(enrollment["secret"].as_str().expect("enrollment")).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (status, answer) =
        server.post("/api/v1/mfa/totp/confirm", token, &serde_json::json!({"code": secret.code_at(now)})).await;
    assert_eq!(status, 200, "{answer}");
}

/// The bootstrap admin's token, with a confirmed and fresh second factor.
pub async fn admin_token(server: &Server, data_dir: &Path) -> String {
    let token = bootstrap_token(data_dir);
    enable_mfa(server, &token).await;
    token
}
