//! The HTTP client behind the client commands: bearer token in, JSON out,
//! problem+json turned into one clear sentence and the contract's exit code.

use gatehouse_server::api::dto::ListDto;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::args::GlobalArgs;
use crate::error::{CliError, CliResult};

pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(args: &GlobalArgs) -> CliResult<Self> {
        let token =
            args.token.clone().ok_or_else(|| CliError::config("no API token: pass --token or set GATEHOUSE_TOKEN"))?;
        Self::with_token(args, token)
    }

    /// A client that presents `token` (e.g. a CI job's OIDC token).
    pub fn with_token(args: &GlobalArgs, token: String) -> CliResult<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .user_agent(concat!("gatehouse-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CliError::config(format!("cannot build an HTTP client: {e}")))?;
        Ok(Self { http, base: args.server.trim_end_matches('/').to_owned(), token })
    }

    /// Follows `next_cursor` from `cursor` on: one page, or with `all` every
    /// page. `path` may already carry query parameters.
    pub async fn get_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: u32,
        mut cursor: Option<String>,
        all: bool,
    ) -> CliResult<ListDto<T>> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        loop {
            let mut url = format!("{path}{separator}limit={limit}");
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&cursor={}", encode_segment(cursor)));
            }
            let page: ListDto<T> = self.get(&url).await?;
            items.extend(page.items);
            match page.next_cursor {
                Some(next) if all => cursor = Some(next),
                next_cursor => return Ok(ListDto { items, next_cursor }),
            }
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        self.send(Method::GET, path, None::<&()>).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> CliResult<T> {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        self.send(Method::POST, path, None::<&()>).await
    }

    pub async fn patch<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> CliResult<T> {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// Posts `body` as it is, under `content_type` (a multipart form).
    pub async fn post_bytes<T: DeserializeOwned>(&self, path: &str, content_type: &str, body: Vec<u8>) -> CliResult<T> {
        let url = format!("{}{path}", self.base);
        let request = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        self.answer(request).await
    }

    /// The body of a successful GET as it came (a file to keep byte for
    /// byte), or its problem.
    pub async fn get_bytes(&self, path: &str, timeout: std::time::Duration) -> CliResult<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        let response = self.http.get(&url).bearer_auth(&self.token).timeout(timeout).send().await.map_err(|e| {
            CliError::config(format!("cannot reach the gatehouse server at {}: {}", self.base, root_cause(&e)))
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| CliError::config(format!("reading the answer failed: {e}")))?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(problem_error(status, &bytes))
    }

    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        self.send(Method::DELETE, path, None::<&()>).await
    }

    /// Sends a request and hands back the status and body as they came,
    /// for callers that read refusals themselves.
    pub async fn post_raw<B: Serialize>(&self, path: &str, body: &B) -> CliResult<(StatusCode, Vec<u8>)> {
        let url = format!("{}{path}", self.base);
        let response = self.http.post(&url).bearer_auth(&self.token).json(body).send().await.map_err(|e| {
            CliError::config(format!("cannot reach the gatehouse server at {}: {}", self.base, root_cause(&e)))
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| CliError::config(format!("reading the answer failed: {e}")))?;
        Ok((status, bytes.to_vec()))
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> CliResult<T> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.answer(request).await
    }

    /// Sends `request` and reads its JSON answer, or its problem.
    async fn answer<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> CliResult<T> {
        let response = request.send().await.map_err(|e| {
            CliError::config(format!("cannot reach the gatehouse server at {}: {}", self.base, root_cause(&e)))
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| CliError::config(format!("reading the answer failed: {e}")))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| CliError::config(format!("the server's answer is not what this client expects: {e}")));
        }
        Err(problem_error(status, &bytes))
    }
}

/// Keeps a user-typed value from changing the path or query it is put in.
pub fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Turns a problem+json answer into one sentence; a 4xx is a refusal (exit
/// 1), anything else a failure to work with the server (exit 2).
pub fn problem_error(status: StatusCode, body: &[u8]) -> CliError {
    let detail = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
    let message = format!("{} ({})", detail, status.as_u16());
    if status.is_client_error() { CliError::refused(message) } else { CliError::config(message) }
}
