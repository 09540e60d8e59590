//! Single sign-on end to end: a real OpenID provider (`oidc-provider` from
//! the npm registry, with its development login and consent screens) on
//! loopback, and a real `gatehouse serve`, walked the way a browser walks
//! them (redirects, forms, cookies per origin).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse_testkit::{engine_test, with_database};
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::Value;

use crate::support::{Server, free_port, http};

pub(crate) const CLIENT_ID: &str = "gatehouse";
pub(crate) const CLIENT_SECRET: &str = "a client secret for tests";

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/oidc-provider")
}

/// The OpenID provider process, killed when dropped.
pub(crate) struct Provider {
    child: Child,
    pub(crate) url: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn reserve_port() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

pub(crate) fn start_provider(redirect: &str) -> Provider {
    let dir = provider_dir();
    if !dir.join("node_modules/oidc-provider").exists() {
        let installed = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir)
            .status()
            .expect("npm runs");
        assert!(installed.success(), "npm ci in tests/oidc-provider failed");
    }
    let port = free_port();
    let child = Command::new("node")
        .args(["provider.mjs", &port.to_string(), CLIENT_ID, CLIENT_SECRET, redirect])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(std::env::temp_dir().join(format!("oidc-provider-{port}.log")))
                .map_or_else(|_| Stdio::null(), Stdio::from),
        )
        .spawn()
        .expect("node runs");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the OpenID provider did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Provider { child, url }
}

/// A browser, enough of one: follows redirects itself, keeps cookies per
/// origin (host and port), submits forms.
#[derive(Default)]
struct Browser {
    jars: HashMap<String, HashMap<String, String>>,
}

fn origin_of(url: &str) -> String {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    url[..end].to_owned()
}

struct Page {
    url: String,
    status: u16,
    body: String,
}

impl Browser {
    async fn request(
        &mut self,
        method: reqwest::Method,
        url: &str,
        form: Option<&[(&str, &str)]>,
        origin: Option<&str>,
    ) -> reqwest::Response {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let jar = self.jars.entry(origin_of(url)).or_default();
        let mut request = client.request(method, url);
        if !jar.is_empty() {
            request =
                request.header(COOKIE, jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "));
        }
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        if let Some(form) = form {
            request = request.form(form);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        for cookie in response.headers().get_all(SET_COOKIE) {
            let text = cookie.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") || text.contains("expires=Thu, 01 Jan 1970") {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
        response
    }

    /// Follows redirects from `url` until a page that is not one; stops
    /// before following a redirect to `stop_before` (returned as the page).
    async fn walk(
        &mut self,
        mut url: String,
        mut form: Option<Vec<(String, String)>>,
        stop_before: Option<&str>,
    ) -> Page {
        for _ in 0..20 {
            let fields: Option<Vec<(&str, &str)>> =
                form.as_ref().map(|f| f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect());
            let method = if fields.is_some() { reqwest::Method::POST } else { reqwest::Method::GET };
            let response = self.request(method, &url, fields.as_deref(), None).await;
            form = None;
            let status = response.status().as_u16();
            if let Some(location) = response.headers().get(LOCATION) {
                let location = location.to_str().unwrap();
                let next = if location.starts_with("http") {
                    location.to_owned()
                } else {
                    format!("{}{location}", origin_of(&url))
                };
                if stop_before.is_some_and(|prefix| next.starts_with(prefix)) {
                    return Page { url: next, status, body: String::new() };
                }
                url = next;
                continue;
            }
            return Page { url, status, body: response.text().await.unwrap() };
        }
        panic!("too many redirects");
    }

    /// Logs in at the provider's screens as `login`; returns the callback
    /// URL the provider sends the browser to (not yet followed).
    async fn sign_in(&mut self, gatehouse: &str, login: &str) -> String {
        let callback = format!("{gatehouse}/auth/callback");
        let mut page = self.walk(format!("{gatehouse}/auth/login"), None, Some(&callback)).await;
        for _ in 0..4 {
            if page.url.starts_with(&callback) {
                return page.url;
            }
            let action = form_action(&page.body).unwrap_or_else(|| panic!("no form at {}: {}", page.url, page.body));
            let target =
                if action.starts_with("http") { action.clone() } else { format!("{}{action}", origin_of(&page.url)) };
            // The login screen asks for a login and password; the consent
            // screen only to confirm. Both say which in a hidden `prompt`.
            let fields = if page.body.contains("name=\"login\"") {
                vec![
                    ("prompt".to_owned(), "login".to_owned()),
                    ("login".to_owned(), login.to_owned()),
                    ("password".to_owned(), "any".to_owned()),
                ]
            } else {
                vec![("prompt".to_owned(), "consent".to_owned())]
            };
            page = self.walk(target, Some(fields), Some(&callback)).await;
        }
        panic!("the provider never sent the browser back: {}", page.url);
    }
}

fn form_action(html: &str) -> Option<String> {
    let start = html.find("action=\"")? + 8;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}

engine_test!(people_sign_in_through_a_real_openid_provider, |engine| {
    with_database(engine, |db| async move {
        // The servers' ports are needed before they start (the provider must
        // know the redirect URLs); each stays bound here until its server
        // starts, so no other test takes it meanwhile.
        let (reserved, port) = reserve_port();
        let gatehouse = format!("http://127.0.0.1:{port}");
        // A second server, provisioning people on first login.
        let (open_reserved, open_port) = reserve_port();
        let open = format!("http://127.0.0.1:{open_port}");
        let provider = tokio::task::spawn_blocking({
            let redirects = format!("{gatehouse}/auth/callback,{open}/auth/callback");
            move || start_provider(&redirects)
        })
        .await
        .unwrap();
        let data_dir = db.dir.path().join("data");
        let redirect = format!("{gatehouse}/auth/callback");
        let env = [
            ("GATEHOUSE_OIDC_ISSUER", provider.url.as_str()),
            ("GATEHOUSE_OIDC_CLIENT_ID", CLIENT_ID),
            ("GATEHOUSE_OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("GATEHOUSE_OIDC_REDIRECT_URL", redirect.as_str()),
        ];
        drop(reserved);
        let server = Server::start_on(port, &data_dir, &db.url, &env).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        // Ana comes from the directory (SCIM), as people do.
        let (_, idp) = server
            .post("/api/v1/identities", &admin, &serde_json::json!({"kind": "service", "name": "okta-scim"}))
            .await;
        let grant = serde_json::json!({"identity_id": idp["id"], "role": "scim-provisioner", "scope": "*"});
        assert_eq!(server.post("/api/v1/grants", &admin, &grant).await.0, 201);
        let (_, scim_token) = server
            .post("/api/v1/tokens", &admin, &serde_json::json!({"identity_id": idp["id"], "ttl_seconds": 3600}))
            .await;
        let scim_token = scim_token["token"].as_str().unwrap().to_owned();
        let ana: Value = http()
            .post(format!("{gatehouse}/scim/v2/Users"))
            .bearer_auth(&scim_token)
            .header("content-type", "application/scim+json")
            .body(serde_json::json!({"userName": "ana@example.com", "emails": [{"value": "ana@example.com", "primary": true}], "displayName": "Ana"}).to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();

        // Success: linked on first login by her verified email.
        let mut browser = Browser::default();
        let callback = browser.sign_in(&gatehouse, "ana@example.com").await;
        // What an attacker who copied the browser's cookies and the callback would hold.
        let stolen = browser.jars.clone();
        let landed = browser.walk(callback.clone(), None, None).await;
        assert_eq!(landed.status, 200, "{}", landed.body);
        let me: Value = serde_json::from_str(&landed.body).unwrap();
        assert_eq!(me["identity"]["id"], ana["id"]);
        assert_eq!(me["authentication"]["method"], "session");

        // The code cannot be used twice, even with the login cookie.
        let mut replayer = Browser { jars: stolen };
        let replay = replayer.walk(callback, None, None).await;
        assert_eq!(replay.status, 401, "{}", replay.body);
        assert!(replay.body.contains("refused the code"), "{}", replay.body);

        // Cookie-authenticated changes need the server's own Origin.
        let no_origin = browser.request(reqwest::Method::POST, &format!("{gatehouse}/auth/logout"), None, None).await;
        assert_eq!(no_origin.status(), 403);
        let elsewhere = browser
            .request(reqwest::Method::POST, &format!("{gatehouse}/auth/logout"), None, Some("https://evil.example"))
            .await;
        assert_eq!(elsewhere.status(), 403);
        let out =
            browser.request(reqwest::Method::POST, &format!("{gatehouse}/auth/logout"), None, Some(&gatehouse)).await;
        assert_eq!(out.status(), 204);
        let after = browser.walk(format!("{gatehouse}/api/v1/whoami"), None, None).await;
        assert_eq!(after.status, 401);

        // Second login is by issuer and subject; sessions are listed.
        let mut again = Browser::default();
        let callback = again.sign_in(&gatehouse, "ana@example.com").await;
        assert_eq!(again.walk(callback, None, None).await.status, 200);
        let (_, sessions) =
            server.get(&format!("/api/v1/identities/{}/sessions", ana["id"].as_str().unwrap()), &admin).await;
        assert_eq!(sessions.as_array().unwrap().len(), 2);
        assert!(sessions[1]["revoked_at"].is_string(), "the logged-out session is ended: {sessions}");

        // Issue 24: another account at the provider whose verified email is
        // hers (`ANA@example.com`, another subject) is not linked to Ana: she
        // is linked already. Refused, audited, and no session.
        let mut impostor = Browser::default();
        let callback = impostor.sign_in(&gatehouse, "ANA@example.com").await;
        let refused = impostor.walk(callback, None, None).await;
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(refused.body.contains("already linked"), "{}", refused.body);
        assert_eq!(impostor.walk(format!("{gatehouse}/api/v1/whoami"), None, None).await.status, 401);
        let (_, sessions) =
            server.get(&format!("/api/v1/identities/{}/sessions", ana["id"].as_str().unwrap()), &admin).await;
        assert_eq!(sessions.as_array().unwrap().len(), 2, "the impostor got no session");

        // The directory deactivates her: the session fails on the very next request.
        let deactivated = http()
            .patch(format!("{gatehouse}/scim/v2/Users/{}", ana["id"].as_str().unwrap()))
            .bearer_auth(&scim_token)
            .header("content-type", "application/scim+json")
            .body(
                serde_json::json!({"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}).to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(deactivated.status(), 200);
        assert_eq!(again.walk(format!("{gatehouse}/api/v1/whoami"), None, None).await.status, 401);

        // Someone gatehouse does not know is refused.
        let mut stranger = Browser::default();
        let callback = stranger.sign_in(&gatehouse, "bob@example.com").await;
        let refused = stranger.walk(callback, None, None).await;
        assert_eq!(refused.status, 401);
        assert!(refused.body.contains("no gatehouse identity"), "{}", refused.body);

        // A callback whose state is not this login's is refused.
        let mut forger = Browser::default();
        let callback = forger.sign_in(&gatehouse, "ana@example.com").await;
        let tampered = callback.replace("state=", "state=x");
        let refused = forger.walk(tampered, None, None).await;
        assert_eq!(refused.status, 401);
        assert!(refused.body.contains("state does not match"), "{}", refused.body);

        // Logins, logouts and refusals are in the audit log.
        let count = |query: &'static str| {
            let (server, admin) = (&server, admin.clone());
            async move {
                let (_, entries) = server.get(&format!("/api/v1/audit/entries?{query}"), &admin).await;
                entries["items"].as_array().map_or(0, Vec::len)
            }
        };
        assert!(count("action=auth.login&outcome=success").await >= 2);
        // The unknown person and the second account each have their entry;
        // the replayed code and the forged state come from one address in
        // one window, so the first is written and the other is counted in
        // the failure ledger's summary.
        assert!(
            count("action=auth.login&outcome=failure").await >= 3,
            "unknown person, second account, and the first unvouched refusal"
        );
        assert_eq!(count("action=auth.logout").await, 1);
        drop(server);

        // Where configured, a verified email nobody has yet becomes a person.
        let open_dir = db.dir.path().join("open");
        let open_db = format!("sqlite://{}", db.dir.path().join("open.db").display());
        let open_redirect = format!("{open}/auth/callback");
        let open_env = [
            ("GATEHOUSE_OIDC_ISSUER", provider.url.as_str()),
            ("GATEHOUSE_OIDC_CLIENT_ID", CLIENT_ID),
            ("GATEHOUSE_OIDC_CLIENT_SECRET", CLIENT_SECRET),
            ("GATEHOUSE_OIDC_REDIRECT_URL", open_redirect.as_str()),
            ("GATEHOUSE_OIDC_AUTO_PROVISION", "true"),
        ];
        drop(open_reserved);
        let open_server = Server::start_on(open_port, &open_dir, &open_db, &open_env).await;
        let mut newcomer = Browser::default();
        let callback = newcomer.sign_in(&open, "carol@example.com").await;
        let landed = newcomer.walk(callback, None, None).await;
        assert_eq!(landed.status, 200, "{}", landed.body);
        let me: Value = serde_json::from_str(&landed.body).unwrap();
        assert_eq!(me["identity"]["email"], "carol@example.com");
        assert_eq!(me["identity"]["kind"], "human");
        // An unverified email is still refused.
        let mut unverified = Browser::default();
        let callback = unverified.sign_in(&open, "dave").await;
        assert_eq!(unverified.walk(callback, None, None).await.status, 401);
        drop(open_server);
    })
});
