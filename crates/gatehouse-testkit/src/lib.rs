//! Test support shared by every crate's integration tests: a fresh database
//! per test on each engine ([`TestDatabase`]) and the [`engine_test!`] macro
//! that runs one test body on SQLite and on PostgreSQL.
//!
//! PostgreSQL comes from `GATEHOUSE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Each test creates its own
//! database there and drops it when the test passes; a failing test keeps
//! it for inspection. When PostgreSQL cannot be reached, the Postgres half
//! of a test prints "skipped" locally and fails under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test support: a failed step is a failed test")]

mod app;
pub mod bulk;
pub mod git_repo;
pub mod github_standin;
pub mod oidc_issuer;

use std::future::Future;
use std::sync::Arc;

use gatehouse_audit::note_key::NoteSigner;
use gatehouse_domain::store::{OpenedStore, Store};
pub use gatehouse_store::Engine;
use gatehouse_store::{AuditSettings, ConnectOptions};

pub use crate::app::{TestApp, TestResponse, test_settings, with_app};
use sqlx::Connection;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn postgres_admin_url() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A database made for one test.
pub struct TestDatabase {
    pub engine: Engine,
    /// Signs the audit checkpoints of every store this test opens.
    pub signer: Arc<NoteSigner>,
    /// The URL a `gatehouse` process would be given.
    pub url: String,
    /// Where SQLite's file lives (and any other files the test wants).
    pub dir: tempfile::TempDir,
    postgres_name: Option<String>,
}

impl TestDatabase {
    /// A fresh, empty database, or `None` when PostgreSQL is unavailable
    /// outside CI (the caller then reports the test as skipped).
    pub async fn create(engine: Engine) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        match engine {
            Engine::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
                Some(Self { engine, signer: test_signer(), url, dir, postgres_name: None })
            }
            Engine::Postgres => {
                let admin_url = postgres_admin_url();
                let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
                    Ok(conn) => conn,
                    Err(cause) if !under_ci() => {
                        eprintln!("skipped: PostgreSQL unavailable at {admin_url}: {cause}");
                        return None;
                    }
                    Err(cause) => panic!("PostgreSQL unavailable at {admin_url} under CI: {cause}"),
                };
                let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .expect("create test database");
                let url = replace_database(&admin_url, &name);
                Some(Self { engine, signer: test_signer(), url, dir, postgres_name: Some(name) })
            }
        }
    }

    pub async fn open_store(&self) -> Arc<dyn OpenedStore> {
        self.open_store_with(AuditSettings { signer: Some(self.signer.clone()), ..AuditSettings::default() }).await
    }

    pub async fn open_store_with(&self, audit: AuditSettings) -> Arc<dyn OpenedStore> {
        gatehouse_store::open(&self.url, ConnectOptions { audit, ..ConnectOptions::default() })
            .await
            .expect("open store")
    }

    /// Runs one SQL statement on the database outside any store, as an
    /// operator (or an attacker with database access) would: for tests that
    /// make the database refuse something.
    pub async fn execute(&self, sql: &str) {
        match self.engine {
            Engine::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.expect("connect to SQLite");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.expect("run SQL");
            }
            Engine::Postgres => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("connect to PostgreSQL");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.expect("run SQL");
            }
        }
    }

    /// Drops the PostgreSQL database (SQLite's file goes with `dir`). Called
    /// only when the test passed, so a failure leaves its data behind.
    pub async fn clean_up(self) {
        self.drop_now().await;
    }

    /// Drops the PostgreSQL database at once, cutting its connections: for
    /// tests of what happens when the database goes away.
    pub async fn drop_now(&self) {
        if let Some(name) = &self.postgres_name {
            let mut admin = sqlx::PgConnection::connect(&postgres_admin_url()).await.expect("connect to drop");
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut admin)
                .await
                .expect("drop test database");
        }
    }
}

fn test_signer() -> Arc<NoteSigner> {
    Arc::new(NoteSigner::generate("gatehouse-test").expect("valid key name"))
}

fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// Runs `body` with a fresh database on `engine`, then drops the database.
pub async fn with_database<F, Fut>(engine: Engine, body: F)
where
    F: FnOnce(Arc<TestDatabase>) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(database) = TestDatabase::create(engine).await else {
        return;
    };
    let database = Arc::new(database);
    body(Arc::clone(&database)).await;
    match Arc::try_unwrap(database) {
        Ok(database) => database.clean_up().await,
        Err(_) => panic!("the test kept its TestDatabase alive past its end"),
    }
}

/// Runs `body` with a fresh, migrated store on `engine`.
pub async fn with_store<F, Fut>(engine: Engine, body: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    with_database(engine, |database| async move {
        let store = database.open_store().await;
        body(store).await;
    })
    .await;
}

/// Declares a test that runs once per engine, as `NAME::sqlite` and
/// `NAME::postgres`. The body is an async block given the engine:
/// `engine_test!(name, |engine| async move { … })`.
#[macro_export]
macro_rules! engine_test {
    ($name:ident, |$engine:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $engine = $crate::Engine::Sqlite;
                $body.await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $engine = $crate::Engine::Postgres;
                $body.await
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn the_test_database_replaces_the_admin_one() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://h:5432", "x"), "postgres://h:5432/x");
    }
}
