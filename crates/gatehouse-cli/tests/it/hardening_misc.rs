//! Attacks on a running server (issue 24, hole 7): a policy change whose
//! audit entry cannot be written must not take effect.

use std::time::Duration;

use gatehouse_testkit::{Engine, engine_test, with_database};
use serde_json::json;

use crate::support::Server;

/// A trigger that makes the database refuse every `policy.reload` entry.
fn refuse_reload_entries(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => {
            "CREATE TRIGGER refuse_policy_reload BEFORE INSERT ON audit_entries \
             WHEN NEW.action = 'policy.reload' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        }
        Engine::Postgres => {
            "CREATE FUNCTION refuse_policy_reload() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN IF NEW.action = 'policy.reload' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER refuse_policy_reload BEFORE INSERT ON audit_entries \
             FOR EACH ROW EXECUTE FUNCTION refuse_policy_reload()"
        }
    }
}

fn allow_reload_entries(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "DROP TRIGGER refuse_policy_reload",
        Engine::Postgres => "DROP TRIGGER refuse_policy_reload ON audit_entries",
    }
}

engine_test!(a_policy_reload_whose_audit_entry_fails_does_not_take_effect, |engine| with_database(
    engine,
    |db| async move {
        let data_dir = db.dir.path().join("data");
        let server = Server::start(&data_dir, &db.url).await;
        let admin = crate::support::admin_token(&server, &data_dir).await;
        let (_, bot) = server.post("/api/v1/identities", &admin, &json!({"kind": "service", "name": "reader"})).await;
        let (_, token) =
            server.post("/api/v1/tokens", &admin, &json!({"identity_id": bot["id"], "ttl_seconds": 600})).await;
        let token = token["token"].as_str().unwrap().to_owned();
        let ask = json!({"action": "pipeline.view", "resource": {"type": "Project", "id": "acme/web"}});
        // A decision batched with a refused reload entry fails with it; ask again.
        let decide = || async {
            for _ in 0..20 {
                let (status, answer) = server.post("/api/v1/authorize", &token, &ask).await;
                if status == 200 {
                    return answer["decision"].as_str().unwrap().to_owned();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("authorize kept failing");
        };
        assert_eq!(decide().await, "deny");

        db.execute(refuse_reload_entries(engine)).await;
        std::fs::write(
            data_dir.join("policy/custom.cedar"),
            "@id(\"everyone-sees-web\")\npermit (principal, action == Action::\"pipeline.view\", resource == Project::\"acme/web\");\n",
        )
        .unwrap();
        // The reloader looks every second; give it several tries (and a SIGHUP).
        for attempt in 0..30 {
            if attempt == 10 {
                server.signal("HUP");
            }
            assert_eq!(decide().await, "deny", "a reload took effect without its audit entry");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(server.log_text().contains("could not audit a policy reload"), "{}", server.log_text());

        // Once the entry can be written, the same change takes effect, audited.
        db.execute(allow_reload_entries(engine)).await;
        let mut reloaded = false;
        for _ in 0..100 {
            if decide().await == "allow" {
                reloaded = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(reloaded, "the audited reload did not take effect");
        let store = db.open_store().await;
        let entries = store
            .search_audit(
                &gatehouse_domain::store::AuditFilter { action: Some("policy.reload".into()), ..Default::default() },
                0,
                50,
            )
            .await
            .unwrap();
        assert_eq!(entries.iter().filter(|e| e.record.outcome.as_str() == "success").count(), 1);
    }
));
