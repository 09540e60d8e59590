//! The console's review pages over HTTP (both engines): a reviewer's items
//! by campaign, each shown whole before its forms; keep, revoke, narrow and
//! delegate through the API's own decision, with the step-up panel in
//! place; the campaigns and a campaign's page for a reader; and what an
//! attacker tries (a stranger, one's own access, no Origin, a stale or
//! wrong factor, a second decision, unknown and malformed input), each
//! refused with a page and nothing changed.

use axum::http::Method;
use gatehouse_testkit::{TestApp, engine_test, with_database};
use serde_json::{Value, json};
use time::Duration;

use crate::people::{Directory, Person, grant};
use crate::web::{assert_html, browse, location, new_cookie, page, post, settings, start_session};

/// Sec and Sue review (group `security`, with Ana); Ana and Bo deploy to
/// production; Eve views the project and reviews nothing.
struct Cast {
    sec: Person,
    sue: Person,
    ana: Person,
    bo: Person,
    eve: Person,
}

async fn cast(app: &TestApp) -> Cast {
    let directory = Directory::new(app).await;
    let sec = directory.person(app, "sec").await;
    let sue = directory.person(app, "sue").await;
    let ana = directory.person(app, "ana").await;
    let bo = directory.person(app, "bo").await;
    let eve = directory.person(app, "eve").await;
    directory.group(app, "security", &[&sec, &sue, &ana]).await;
    grant(app, &ana.id, "deployer", "environment:acme/web:production").await;
    grant(app, &bo.id, "deployer", "environment:acme/web:production").await;
    grant(app, &eve.id, "viewer", "project:acme/web").await;
    for (person, secret) in [(&sec, "sec-secret"), (&sue, "sue-secret"), (&ana, "ana-secret"), (&bo, "bo-secret")] {
        start_session(app, &person.id, secret).await;
    }
    start_session(app, &eve.id, "eve-secret").await;
    start_session(app, &app.admin_id.to_string(), "admin-secret").await;
    Cast { sec, sue, ana, bo, eve }
}

fn quarterly() -> Value {
    json!({
        "name": "Production deployers",
        "scope": {"role": "deployer", "scope": "environment:acme/web:*"},
        "reviewers": ["group:security"],
        "fallback": "role:admin",
        "duration": "5d",
        "recurrence": "quarterly",
        "on_no_response": "revoke",
    })
}

async fn open(app: &TestApp, body: Value) -> String {
    let opened = app.post("/api/v1/reviews", &app.admin_token, body).await;
    opened.assert_status(201)["id"].as_str().unwrap().to_owned()
}

async fn items(app: &TestApp, campaign: &str) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/reviews/{campaign}/items"), &app.admin_token).await;
    listed.assert_status(200)["items"].as_array().unwrap().clone()
}

/// The number of the item about `person` (with `role`, when given).
fn item_of(items: &[Value], person: &Person, role: Option<&str>) -> u64 {
    items
        .iter()
        .find(|item| item["item"]["identity"] == person.id.as_str() && role.is_none_or(|r| item["item"]["role"] == r))
        .unwrap()["item"]["number"]
        .as_u64()
        .unwrap()
}

fn decisions_made(items: &[Value]) -> usize {
    items.iter().map(|item| item["decisions"].as_array().unwrap().len()).sum()
}

async fn active_roles(app: &TestApp, person: &Person) -> Vec<String> {
    let listed = app.get(&format!("/api/v1/grants?identity_id={}", person.id), &app.admin_token).await;
    listed.assert_status(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["revoked_at"].is_null())
        .map(|g| g["role"].as_str().unwrap().to_owned())
        .collect()
}

async fn entries(app: &TestApp, action: &str) -> Vec<Value> {
    let listed = app.get(&format!("/api/v1/audit/entries?action={action}&limit=500"), &app.admin_token).await;
    listed.assert_status(200)["items"].as_array().unwrap().clone()
}

/// The next TOTP step's code (a code is used once).
fn next_code(app: &TestApp, person: &Person) -> String {
    app.clock.advance(Duration::seconds(30));
    person.code_now(app)
}

fn decision_path(campaign: &str, item: u64) -> String {
    format!("/ui/reviews/{campaign}/items/{item}/decision")
}

engine_test!(a_reviewer_reads_each_item_whole_and_keeps_one_after_stepping_up, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let cast = cast(&app).await;
        let id = open(&app, quarterly()).await;
        let list = items(&app, &id).await;
        let ana_item = item_of(&list, &cast.ana, None);
        let bo_item = item_of(&list, &cast.bo, None);

        // Sec's items, by campaign, with its progress and deadline, each whole.
        let shown = page(&app, "/ui/reviews", "sec-secret").await;
        let html = assert_html(&shown, 200).to_owned();
        for expected in [
            "Production deployers",
            "0 of 2 items decided",
            "2026-06-06 09:00 UTC",
            "deployer on environment:acme/web:production",
            "Granted by</dt><dd>admin@example.com",
            "Last used</dt><dd><time datetime=\"2026-06-01T09:00:00.000Z\">",
            "<strong>keep</strong>: used 0 days ago",
            &format!("/ui/reviews/{id}/items/{ana_item}/decision"),
            &format!("/ui/reviews/{id}/items/{bo_item}/decision"),
            ">Keep access</button>",
            ">Revoke access</button>",
            ">Narrow access</button>",
            ">Delegate</button>",
            r#"type="date""#,
        ] {
            assert!(html.contains(expected), "missing {expected}: {html}");
        }
        assert!(html.find("used 0 days ago").unwrap() < html.find(">Keep access</button>").unwrap());
        assert!(!html.contains("All campaigns"), "a reviewer reads only their own");
        // The inbox is the API's: the same items.
        let assigned = app.get("/api/v1/reviews/assigned", &cast.sec.token).await;
        assert_eq!(assigned.assert_status(200)["items"].as_array().unwrap().len(), 2);

        // Ana, in the reviewing group, reviews Bo's access but never her own.
        let html = page(&app, "/ui/reviews", "ana-secret").await.text;
        assert!(html.contains(&format!("/items/{bo_item}/decision")), "{html}");
        assert!(!html.contains(&format!("/items/{ana_item}/decision")), "{html}");
        // Eve reviews nothing.
        assert!(assert_html(&page(&app, "/ui/reviews", "eve-secret").await, 200).contains("No access waits"));

        let keep_path = decision_path(&id, ana_item);
        let keep = "decision=keep&reason=on+call";
        // Forged from another site: no Origin, or another one.
        for origin in [None, Some("https://evil.example")] {
            let forged = browse(&app, Method::POST, &keep_path, "sec-secret", origin, keep).await;
            assert!(assert_html(&forged, 403).contains("Origin"));
        }
        // No fresh second factor: the step-up panel in the item, holding the decision.
        let asked = post(&app, &keep_path, "sec-secret", keep).await;
        let html = assert_html(&asked, 200).to_owned();
        assert!(html.contains("needs your second factor"), "{html}");
        assert!(html.contains("Verify and keep"));
        assert!(html.contains(r#"autocomplete="one-time-code""#));
        assert!(html.contains(r#"name="reason" value="on call""#), "{html}");
        assert_eq!(html.matches(r#"id="step-up""#).count(), 1);
        assert!(html.find(&format!("Item {ana_item}:")).unwrap() < html.find("Verify and keep").unwrap());
        // A wrong code: refused, the panel again.
        app.clock.advance(Duration::seconds(30));
        let wrong = post(&app, &keep_path, "sec-secret", &format!("{keep}&code=000000")).await;
        assert!(assert_html(&wrong, 403).contains("Verify and keep"), "{}", wrong.text);
        assert_eq!(decisions_made(&items(&app, &id).await), 0, "nothing decided");

        // The right code: verified, decided, announced.
        let code = next_code(&app, &cast.sec);
        let kept = post(&app, &keep_path, "sec-secret", &format!("{keep}&code={code}")).await;
        assert_eq!(kept.status.as_u16(), 303, "{}", kept.text);
        assert_eq!(location(&kept), "/ui/reviews?done=keep");
        let cookie = new_cookie(&kept).expect("the session is rotated at step-up");
        let after = page(&app, &location(&kept), &cookie).await;
        let html = assert_html(&after, 200);
        assert!(html.contains(r#"role="status""#) && html.contains("You kept the access."), "{html}");
        assert!(html.contains("1 of 2 items decided"));
        assert!(!html.contains(&format!("/items/{ana_item}/decision")), "decided: no longer waiting");

        // The decision is the API's: the reviewer, the second factor, the recommendation shown.
        let list = items(&app, &id).await;
        let decided = list.iter().find(|item| item["item"]["number"] == ana_item).unwrap();
        let decision = &decided["decisions"][0];
        assert_eq!(decision["reviewer"], cast.sec.id);
        assert_eq!(decision["verdict"]["decision"], "keep", "{decision}");
        assert_eq!(decision["shown"], "keep");
        assert_eq!(decision["mfa_method"], "totp");
        assert_eq!(decision["reason"], "on call");
        let audit = entries(&app, "review.decide").await;
        let entry = audit.iter().find(|e| e["outcome"] == "success").expect("the decision is audited");
        assert_eq!(entry["details"]["item"], ana_item);
        assert_eq!(entry["details"]["shown"], "keep");
        assert_eq!(entry["details"]["final"], true);

        // A second decision on the same item: refused with the reason, not overwritten.
        let code = next_code(&app, &cast.sue);
        let again = post(&app, &keep_path, "sue-secret", &format!("decision=revoke&code={code}")).await;
        assert!(assert_html(&again, 409).contains("already decided"), "{}", again.text);
        assert!(new_cookie(&again).is_some(), "the factor verified stays verified");
        assert_eq!(decisions_made(&items(&app, &id).await), 1);
        assert_eq!(active_roles(&app, &cast.ana).await, ["deployer"]);
    }
));

engine_test!(decisions_an_attacker_tries_on_the_pages_are_refused_and_change_nothing, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let cast = cast(&app).await;
        let id = open(&app, quarterly()).await;
        let list = items(&app, &id).await;
        let ana_item = item_of(&list, &cast.ana, None);
        let bo_item = item_of(&list, &cast.bo, None);
        let denied_before = entries(&app, "review.decide").await.len();

        // Someone who reviews nothing here, with a fresh factor: refused.
        let code = next_code(&app, &cast.eve);
        let stranger =
            post(&app, &decision_path(&id, bo_item), "eve-secret", &format!("decision=revoke&code={code}")).await;
        assert!(assert_html(&stranger, 403).contains("not a reviewer"), "{}", stranger.text);
        let eve = new_cookie(&stranger).expect("verified");
        // And without one: refused the same, not asked for a factor.
        let again = post(&app, &decision_path(&id, bo_item), &eve, "decision=revoke").await;
        assert!(!assert_html(&again, 403).contains("Verify and"), "{}", again.text);
        // Nor may Eve read the campaign.
        assert_html(&page(&app, &format!("/ui/reviews/{id}"), &eve).await, 403);

        // The item's own identity, in the reviewing group: refused.
        let code = next_code(&app, &cast.ana);
        let own = post(&app, &decision_path(&id, ana_item), "ana-secret", &format!("decision=keep&code={code}")).await;
        assert!(assert_html(&own, 403).contains("own access"), "{}", own.text);
        let ana = new_cookie(&own).expect("verified");

        // Unknown and malformed input.
        let unknown = gatehouse_domain::ids::CampaignId::new();
        assert_html(&post(&app, &decision_path(&unknown.to_string(), 0), &ana, "decision=keep").await, 404);
        assert_html(&post(&app, &decision_path(&id, 999), &ana, "decision=keep").await, 404);
        assert_html(&page(&app, &format!("/ui/reviews/{unknown}"), "admin-secret").await, 404);
        assert_html(&page(&app, "/ui/reviews/not-an-id", "sec-secret").await, 400);
        assert_html(&page(&app, "/ui/reviews?surprise=1", "sec-secret").await, 400);
        assert_html(&page(&app, &format!("/ui/reviews/{id}?after=x"), "sec-secret").await, 400);
        let path = format!("/ui/reviews/{id}/items/not-a-number/decision");
        assert_html(&post(&app, &path, &ana, "decision=keep").await, 400);
        let bo_path = decision_path(&id, bo_item);
        assert_html(&post(&app, &bo_path, &ana, "decision=keep&surprise=1").await, 400);
        assert_html(&post(&app, &bo_path, &ana, "reason=no+decision").await, 400);
        assert_html(&post(&app, &bo_path, &ana, "decision=suspend").await, 400);
        let huge = format!("decision=keep&reason={}", "a".repeat(3 * 1024 * 1024));
        assert_html(&post(&app, &bo_path, &ana, &huge).await, 413);
        // What the domain refuses, announced on the page.
        for (form, said) in [
            ("decision=narrow&role=admin", "does not allow less"),
            ("decision=keep&until=2020-01-01", "keep until"),
            (&format!("decision=delegate&to={}", cast.eve.id), "another eligible reviewer"),
            (&format!("decision=keep&reason={}", "x".repeat(2_000)), "at most"),
        ] {
            let refused = post(&app, &bo_path, &ana, form).await;
            assert!(assert_html(&refused, 422).contains(said), "{form}: {}", refused.text);
            assert!(refused.text.contains(r#"class="notice problem""#));
        }

        // A stale factor: the panel again, and no decision.
        app.clock.advance(Duration::minutes(20));
        let stale = post(&app, &bo_path, &ana, "decision=revoke").await;
        assert!(assert_html(&stale, 200).contains("Verify and revoke"), "{}", stale.text);

        assert_eq!(decisions_made(&items(&app, &id).await), 0, "nothing decided");
        assert_eq!(active_roles(&app, &cast.bo).await, ["deployer"]);
        let audit = entries(&app, "review.decide").await;
        assert!(audit.iter().all(|e| e["outcome"] != "success"));
        assert!(audit.len() >= denied_before + 2, "the refusals are recorded");
    }
));

engine_test!(narrow_delegate_and_revoke_apply_and_a_reader_sees_every_campaign, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let cast = cast(&app).await;
        grant(&app, &cast.bo.id, "developer", "project:acme/web").await;
        let body = json!({
            "name": "Everyone",
            "scope": {"scope": "**"},
            "reviewers": ["group:security"],
            "fallback": "role:admin",
            "duration": "7d",
        });
        let everyone = open(&app, body).await;
        let quarterly = open(&app, quarterly()).await;
        let list = items(&app, &everyone).await;
        let developer = item_of(&list, &cast.bo, Some("developer"));
        let bo_deployer = item_of(&list, &cast.bo, Some("deployer"));
        let ana_item = item_of(&list, &cast.ana, Some("deployer"));

        // Both campaigns, each with its own items.
        let html = page(&app, "/ui/reviews", "sec-secret").await.text;
        assert!(html.contains("Everyone") && html.contains("Production deployers"), "{html}");
        // The narrow form offers the smaller roles only; delegation, the other reviewers.
        assert!(html.contains(r#"<option value="viewer">viewer</option>"#), "{html}");
        assert!(html.contains(&format!(r#"<option value="{}">sue@example.com</option>"#, cast.sue.id)));

        // Narrow Bo's developer grant to viewer.
        let code = next_code(&app, &cast.sec);
        let narrowed = post(
            &app,
            &decision_path(&everyone, developer),
            "sec-secret",
            &format!("decision=narrow&role=viewer&scope=&code={code}"),
        )
        .await;
        assert_eq!((narrowed.status.as_u16(), location(&narrowed).as_str()), (303, "/ui/reviews?done=narrow"));
        let sec = new_cookie(&narrowed).unwrap();
        let roles = active_roles(&app, &cast.bo).await;
        assert!(roles.contains(&"viewer".to_owned()) && !roles.contains(&"developer".to_owned()), "{roles:?}");
        assert!(page(&app, "/ui/reviews?done=narrow", &sec).await.text.contains("You narrowed the access"));

        // Delegate Ana's item to Sue: Sue decides it now, Sec no longer can.
        let handed =
            post(&app, &decision_path(&everyone, ana_item), &sec, &format!("decision=delegate&to={}", cast.sue.id))
                .await;
        assert_eq!(location(&handed), "/ui/reviews?done=delegate", "{}", handed.text);
        let html = page(&app, "/ui/reviews", &sec).await.text;
        assert!(html.contains("You cannot decide this item now"), "{html}");
        assert!(html.contains("Delegated to</dt><dd>sue@example.com"));
        let html = page(&app, "/ui/reviews", "sue-secret").await.text;
        assert!(html.contains(&format!("/ui/reviews/{everyone}/items/{ana_item}/decision")), "{html}");
        let refused = post(&app, &decision_path(&everyone, ana_item), &sec, "decision=keep").await;
        assert!(assert_html(&refused, 403).contains("not a reviewer"), "{}", refused.text);

        // Revoke Bo's deployer grant, with a reason: gone at once.
        let revoked =
            post(&app, &decision_path(&everyone, bo_deployer), &sec, "decision=revoke&reason=left+team").await;
        assert_eq!(location(&revoked), "/ui/reviews?done=revoke", "{}", revoked.text);
        assert_eq!(active_roles(&app, &cast.bo).await, ["viewer"]);

        // A reviewer's campaign page: their own items only.
        let html = page(&app, &format!("/ui/reviews/{everyone}"), &sec).await.text;
        assert!(html.contains("Your items"), "{html}");
        assert!(!html.contains("Decisions digest"), "not closed yet");

        // A reader: every campaign, and a campaign's whole page.
        let html = page(&app, "/ui/reviews", "admin-secret").await.text;
        assert!(html.contains("All campaigns"), "{html}");
        assert!(html.contains(&format!(r#"<a href="/ui/reviews/{everyone}">Everyone</a>"#)));
        assert!(html.contains(&format!(r#"<a href="/ui/reviews/{quarterly}">Production deployers</a>"#)));
        assert!(html.contains("<caption>") && html.contains(r#"<th scope="col">Decided</th>"#));
        let shown = page(&app, &format!("/ui/reviews/{everyone}"), "admin-secret").await;
        let html = assert_html(&shown, 200).to_owned();
        for expected in [
            "group:security",
            "role:admin",
            "Snapshot digest",
            "2 of ",
            "narrow to role viewer",
            "delegate to sue@example.com",
            "“left team”",
            "eve@example.com",
            r#"<th scope="row">"#,
        ] {
            assert!(html.contains(expected), "missing {expected}: {html}");
        }
        // Closed early: its results on the list.
        app.post(&format!("/api/v1/reviews/{quarterly}/close"), &app.admin_token, json!({})).await.assert_status(200);
        let html = page(&app, "/ui/reviews", "admin-secret").await.text;
        assert!(html.contains("by default") && html.contains(">closed</td>"), "{html}");
    }
));
