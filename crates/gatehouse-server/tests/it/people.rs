//! People for the approved channel's tests: provisioned by a SCIM client,
//! each with a token and an enrolled authenticator (so a fresh second
//! factor), put in directory groups; and the CI service that deploys.

use axum::http::{Method, Request};
use gatehouse_domain::clock::Clock;
use gatehouse_mfa::TotpSecret;
use gatehouse_testkit::{TestApp, TestResponse};
use serde_json::{Value, json};

/// A week: the scheduler tests move the clock a day and more.
const TOKEN_TTL: i64 = 7 * 86_400;

pub(crate) struct Person {
    pub(crate) id: String,
    pub(crate) token: String,
    totp: Option<TotpSecret>,
}

pub(crate) async fn grant(app: &TestApp, who: &str, role: &str, scope: &str) {
    let body = json!({"identity_id": who, "role": role, "scope": scope});
    app.post("/api/v1/grants", &app.admin_token, body).await.assert_status(201);
}

impl Person {
    /// The code the person's authenticator shows now.
    pub(crate) fn code_now(&self, app: &TestApp) -> String {
        let secret = self.totp.as_ref().expect("enrolled");
        secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap())
    }
}

/// Proves a fresh second factor again with the person's authenticator.
pub(crate) async fn verify(app: &TestApp, person: &Person) {
    let secret = person.totp.as_ref().expect("enrolled");
    let code = secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
    app.post("/api/v1/mfa/verify", &person.token, json!({"code": code})).await.assert_status(200);
}

pub(crate) fn problem_type(response: &TestResponse) -> String {
    response.body["type"].as_str().unwrap_or_default().to_owned()
}

/// The company's SCIM client, as the identity provider runs it.
pub(crate) struct Directory {
    token: String,
}

impl Directory {
    pub(crate) async fn new(app: &TestApp) -> Self {
        let bot = app.create_service("okta-scim").await;
        grant(app, &bot, "scim-provisioner", "*").await;
        Self { token: app.create_token(&bot, TOKEN_TTL).await }
    }

    async fn post(&self, app: &TestApp, path: &str, body: Value) -> Value {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/scim+json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        app.send(request).await.assert_status(201).clone()
    }

    /// Turns `active` off, as the IdP does when someone leaves.
    pub(crate) async fn deactivate(&self, app: &TestApp, person: &Person) {
        let body = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
        let request = Request::builder()
            .method(Method::PATCH)
            .uri(format!("/scim/v2/Users/{}", person.id))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/scim+json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        assert_eq!(app.send(request).await.assert_status(200)["active"], false);
    }

    /// `NAME@example.com`, with a token and a confirmed authenticator.
    pub(crate) async fn person(&self, app: &TestApp, name: &str) -> Person {
        self.person_managed_by(app, name, None).await
    }

    /// [`Directory::person`], whose manager (the SCIM enterprise extension's) is `manager`.
    pub(crate) async fn person_managed_by(&self, app: &TestApp, name: &str, manager: Option<&Person>) -> Person {
        let email = format!("{name}@example.com");
        let mut body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email,
                              "emails": [{"value": email, "primary": true}], "active": true});
        if let Some(manager) = manager {
            body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
                json!({"manager": {"value": manager.id}});
        }
        let user = self.post(app, "/scim/v2/Users", body).await;
        let id = user["id"].as_str().unwrap().to_owned();
        let token = app.create_token(&id, TOKEN_TTL).await;
        let started = app.post("/api/v1/mfa/totp", &token, json!({})).await.assert_status(200).clone();
        let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
        let code = secret.code_at(u64::try_from(app.clock.now().unix_timestamp()).unwrap());
        app.post("/api/v1/mfa/totp/confirm", &token, json!({"code": code})).await.assert_status(200);
        Person { id, token, totp: Some(secret) }
    }

    pub(crate) async fn group(&self, app: &TestApp, name: &str, members: &[&Person]) {
        let members: Vec<Value> = members.iter().map(|person| json!({"value": person.id})).collect();
        self.post(
            app,
            "/scim/v2/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name, "members": members}),
        )
        .await;
    }
}

/// The CI service `ci-web`, allowed to deploy acme/web to production.
pub(crate) async fn ci_service(app: &TestApp) -> Person {
    let id = app.create_service("ci-web").await;
    grant(app, &id, "deployer", "environment:acme/web:production").await;
    Person { token: app.create_token(&id, TOKEN_TTL).await, id, totp: None }
}
