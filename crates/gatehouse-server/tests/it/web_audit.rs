//! The console's audit pages over HTTP (both engines): the log newest
//! first with its filters and pages, an entry with its inclusion proof, the
//! signed checkpoint with its key, the export (verified offline here as
//! `gatehouse audit verify` would); and what is refused: anyone without
//! `audit.read` (a 403 page showing nothing, and a `denied` entry), bad
//! filters and forged cursors (400), an unknown entry (404).

use base64::Engine as _;
use gatehouse_audit::export::Verifier;
use gatehouse_audit::merkle;
use gatehouse_domain::audit::{Actor, AuditRecord, Outcome};
use gatehouse_domain::clock::Clock;
use gatehouse_testkit::{TestApp, TestResponse, engine_test, with_database};
use time::macros::datetime;

use crate::people::{Directory, grant};
use crate::web::{page, settings, start_session};

fn assert_html(response: &TestResponse, status: u16) -> String {
    assert_eq!(response.status.as_u16(), status, "{}", response.text);
    let kind = response.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(kind.starts_with("text/html"), "{kind}: {}", response.text);
    unescape(&response.text)
}

/// The text of a page with askama's escapes undone.
fn unescape(html: &str) -> String {
    html.replace("&#34;", "\"").replace("&#39;", "'").replace("&#60;", "<").replace("&#62;", ">").replace("&#38;", "&")
}

/// The entries a log page lists, in the order shown.
fn seqs(html: &str) -> Vec<u64> {
    html.split("<th scope=\"row\"><a href=\"/ui/audit/entries/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect()
}

/// The target of the link named `name` (`Older`, `Newer`, `Newest`).
fn link(html: &str, name: &str) -> Option<String> {
    let end = html.find(&format!("\">{name}</a>"))?;
    let start = html[..end].rfind("href=\"")? + "href=\"".len();
    Some(html[start..end].to_owned())
}

/// `count` entries by the system, `policy.reload` on `test:<n>`.
async fn append_many(app: &TestApp, count: usize) {
    let now = app.clock.now();
    let records =
        (0..count).map(|n| AuditRecord::new(now, Actor::System, "policy.reload", format!("test:{n}"))).collect();
    app.store.append_audit_batch(records).await.unwrap();
}

async fn size(app: &TestApp) -> u64 {
    app.store.audit_size().await.unwrap()
}

engine_test!(an_auditor_reads_the_log_newest_first_a_page_at_a_time_with_filters, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let directory = Directory::new(&app).await;
        let ana = directory.person(&app, "ana").await;
        grant(&app, &ana.id, "auditor", "*").await;
        start_session(&app, &ana.id, "ana-secret").await;
        append_many(&app, 70).await;
        let at = datetime!(2030-01-01 09:00:00 UTC);
        app.store
            .append_audit(
                AuditRecord::new(at, Actor::Anonymous, "auth.token", "gatehouse")
                    .outcome(Outcome::Failure, "unknown token"),
            )
            .await
            .unwrap();
        let newest = size(&app).await - 1;

        // The first page: the newest 50, newest first, each a link.
        let first = assert_html(&page(&app, "/ui/audit", "ana-secret").await, 200);
        let shown = seqs(&first);
        assert_eq!(shown.len(), 50, "{first}");
        assert_eq!(shown[0], newest);
        assert!(shown.windows(2).all(|pair| pair[0] == pair[1] + 1), "{shown:?}");
        for expected in [
            "<caption>",
            "<th scope=\"col\">Seq</th>",
            "datetime=\"2030-01-01T09:00:00",
            "2030-01-01 09:00 UTC",
            "auth.token",
            "anonymous",
            "failure",
            "test:69",
            "aria-current=\"page\">Audit</a>",
            "<label for=\"filter-action\">",
        ] {
            assert!(first.contains(expected), "missing {expected}: {first}");
        }
        assert!(link(&first, "Newer").is_none() && link(&first, "Newest").is_none());

        // Older, then back: the pages meet without a gap or an overlap.
        let older = link(&first, "Older").expect("an older page");
        assert_eq!(older, format!("/ui/audit?before={}", shown[49]));
        let second = assert_html(&page(&app, &older, "ana-secret").await, 200);
        let second_seqs = seqs(&second);
        assert_eq!(second_seqs[0], shown[49] - 1);
        assert!(second_seqs.windows(2).all(|pair| pair[0] == pair[1] + 1));
        assert_eq!(link(&second, "Newest").as_deref(), Some("/ui/audit"));
        let newer = link(&second, "Newer").expect("a newer page");
        assert_eq!(newer, format!("/ui/audit?after={}", second_seqs[0]));
        let back = assert_html(&page(&app, &newer, "ana-secret").await, 200);
        assert_eq!(seqs(&back), shown, "newer than the second page is the first again");
        if *second_seqs.last().unwrap() == 0 {
            assert!(link(&second, "Older").is_none());
        }

        // Filters: by action and resource, exactly the one.
        let one = assert_html(&page(&app, "/ui/audit?action=policy.reload&resource=test%3A5", "ana-secret").await, 200);
        assert_eq!(seqs(&one).len(), 1, "{one}");
        assert!(one.contains("test:5") && one.contains("<option value=\"policy.reload\" selected>"));
        assert!(one.contains("value=\"test:5\""), "the form shows the filter");
        // Blank fields (a submitted form's) are no filter.
        let blank = "/ui/audit?actor=&action=&resource=&outcome=&from=&to=";
        assert_eq!(seqs(&assert_html(&page(&app, blank, "ana-secret").await, 200)), shown);
        // By action, paged: the links carry the filter.
        let reloads = assert_html(&page(&app, "/ui/audit?action=policy.reload", "ana-secret").await, 200);
        let older = link(&reloads, "Older").expect("more than a page of reloads");
        assert!(older.starts_with("/ui/audit?action=policy.reload&before="), "{older}");
        let rest = assert_html(&page(&app, &older, "ana-secret").await, 200);
        assert!(rest.contains("<td><code>policy.reload</code></td>") && !rest.contains("auth.token</code>"));
        // By time, as a browser's datetime-local field sends it (UTC), and as RFC 3339.
        for query in [
            "from=2030-01-01T09:00&to=2030-01-01T09:00:01",
            "from=2030-01-01T09%3A00%3A00Z",
            "from=2030-01-01T10:00:00%2B01:00&outcome=failure&actor=anonymous",
        ] {
            let timed = assert_html(&page(&app, &format!("/ui/audit?{query}"), "ana-secret").await, 200);
            assert_eq!(seqs(&timed), vec![newest], "{query}: {timed}");
        }
        let timed = assert_html(&page(&app, "/ui/audit?to=2030-01-01T09:00", "ana-secret").await, 200);
        assert!(!seqs(&timed).contains(&newest), "to is exclusive");
        assert!(timed.contains("value=\"2030-01-01T09:00:00\""), "the form shows the time as its field reads it");
        // Each actor links to their entries; an entry to its actor's and its resource's.
        assert!(first.contains("<a href=\"/ui/audit?actor=anonymous\" title=\"Entries by this actor\">anonymous</a>"));
        let shown_entry = assert_html(&page(&app, &format!("/ui/audit/entries/{newest}"), "ana-secret").await, 200);
        assert!(shown_entry.contains("href=\"/ui/audit?actor=anonymous\">Entries by this actor</a>"), "{shown_entry}");
        assert!(shown_entry.contains("href=\"/ui/audit?resource=gatehouse\">Entries on this resource</a>"));
        let by_ana = assert_html(&page(&app, &format!("/ui/audit?actor={}", ana.id), "ana-secret").await, 200);
        let rows = seqs(&by_ana).len();
        assert!(rows > 0, "her enrolment: {by_ana}");
        assert_eq!(by_ana.matches("\">ana@example.com</a></td>").count(), rows, "hers only");
        let none = assert_html(&page(&app, "/ui/audit?actor=nobody", "ana-secret").await, 200);
        assert!(none.contains("No entry matches these filters."));
    }
));

engine_test!(an_entry_shows_its_leaf_and_proof_and_the_checkpoint_its_key, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let directory = Directory::new(&app).await;
        let ana = directory.person(&app, "ana").await;
        grant(&app, &ana.id, "auditor", "*").await;
        start_session(&app, &ana.id, "ana-secret").await;
        append_many(&app, 5).await;
        let seq = 3;

        let shown = assert_html(&page(&app, &format!("/ui/audit/entries/{seq}"), "ana-secret").await, 200);
        let entry = app.store.list_audit(seq, 1).await.unwrap().remove(0);
        let leaf = base64::engine::general_purpose::STANDARD.encode(merkle::leaf_hash(&entry.leaf_bytes()));
        let proof = app
            .get(&format!("/api/v1/audit/proof/inclusion?index={seq}"), &app.admin_token)
            .await
            .assert_status(200)
            .clone();
        let checkpoint = app.get("/api/v1/audit/checkpoint", &app.admin_token).await;
        let root = checkpoint.text.lines().nth(2).unwrap().to_owned();
        assert!(shown.contains(&format!("<h1>Audit entry {seq}</h1>")));
        assert!(shown.contains(&leaf), "the leaf hash: {shown}");
        assert!(shown.contains(&root), "the checkpoint's root");
        assert!(shown.contains(&format!("<dt>Tree size</dt><dd>{}</dd>", proof["tree_size"])));
        let hashes = proof["hashes"].as_array().unwrap();
        assert!(!hashes.is_empty());
        for hash in hashes {
            assert!(shown.contains(hash.as_str().unwrap()), "the API's audit path: {hash}");
        }
        assert!(shown.contains("leads from this leaf to the root of the latest signed checkpoint"));
        assert!(shown.contains("<pre class=\"audit-json\""));
        assert!(shown.contains(&entry.record.action) && shown.contains(&entry.record.resource));
        assert!(shown.contains("href=\"/ui/audit/checkpoint\""));

        // The checkpoint: the note, its size and root, its signer, the key and the command.
        let key = app.get("/api/v1/audit/public-key", &app.admin_token).await.text.trim().to_owned();
        let page_text = assert_html(&page(&app, "/ui/audit/checkpoint", "ana-secret").await, 200);
        assert!(page_text.contains(checkpoint.text.trim_end()), "the signed note whole: {page_text}");
        assert!(page_text.contains(&root));
        assert!(page_text.contains(&key));
        assert!(page_text.contains("Its signature verifies with the audit key below."));
        let key_id = key.split('+').nth(1).unwrap();
        assert!(page_text.contains(&format!("key id <code>{key_id}</code>")));
        let size = checkpoint.text.lines().nth(1).unwrap();
        assert!(
            page_text.contains(&format!("gatehouse audit verify gatehouse-audit-{size}.jsonl --public-key '{key}'"))
        );
        assert!(page_text.contains("href=\"/ui/audit/export\""));
    }
));

engine_test!(the_export_is_the_clis_file_and_verifies_offline, |engine| with_database(engine, |db| async move {
    let app = TestApp::with_settings(&db, settings()).await;
    let directory = Directory::new(&app).await;
    let ana = directory.person(&app, "ana").await;
    grant(&app, &ana.id, "auditor", "*").await;
    start_session(&app, &ana.id, "ana-secret").await;
    // More than one read's worth of leaves.
    for _ in 0..3 {
        append_many(&app, 900).await;
    }

    let response = page(&app, "/ui/audit/export", "ana-secret").await;
    assert_eq!(response.status.as_u16(), 200, "{}", response.text);
    let header = |name: &str| response.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(header("content-type"), "application/x-ndjson");
    let checkpoint = app.get("/api/v1/audit/checkpoint", &app.admin_token).await.text;
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    assert!(size > 2_700);
    assert_eq!(header("content-disposition"), format!("attachment; filename=\"gatehouse-audit-{size}.jsonl\""));
    assert_eq!(header("x-content-type-options"), "nosniff");

    // What `gatehouse audit verify` checks, with the key from the API.
    let key = app.get("/api/v1/audit/public-key", &app.admin_token).await.text;
    let mut lines = response.text.lines();
    let mut verifier = Verifier::new(lines.next().unwrap(), Some(&key)).expect("the header");
    for line in lines {
        verifier.line(line).expect("a good line");
    }
    assert_eq!(verifier.entries(), size);
    let verified = verifier.finish().map_err(|(error, _)| error).expect("the export verifies");
    assert_eq!(verified.size, size);
    assert!(response.text.ends_with('\n'));
    assert_eq!(u64::try_from(response.text.lines().count()).unwrap(), size + 2);
}));

engine_test!(without_audit_read_the_pages_show_nothing_and_the_refusal_is_recorded, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let directory = Directory::new(&app).await;
        let cy = directory.person(&app, "cy").await;
        start_session(&app, &cy.id, "cy-secret").await;
        append_many(&app, 3).await;
        let key = app.get("/api/v1/audit/public-key", &app.admin_token).await.text.trim().to_owned();
        let checkpoint = app.get("/api/v1/audit/checkpoint", &app.admin_token).await.text;
        let root = checkpoint.lines().nth(2).unwrap().to_owned();

        // No Audit link for them.
        let inbox = assert_html(&page(&app, "/ui", "cy-secret").await, 200);
        assert!(!inbox.contains("href=\"/ui/audit\""));
        let before = size(&app).await;
        for path in [
            "/ui/audit",
            "/ui/audit?action=policy.reload",
            "/ui/audit/entries/1",
            "/ui/audit/checkpoint",
            "/ui/audit/export",
        ] {
            let refused = page(&app, path, "cy-secret").await;
            let html = assert_html(&refused, 403);
            assert!(html.contains("audit.read"), "{path}: {html}");
            for leaked in ["test:1", "policy.reload</code>", key.as_str(), root.as_str(), "gatehouse-audit-export"] {
                assert!(!html.contains(leaked), "{path} shows {leaked}");
            }
            assert!(refused.headers.get("content-disposition").is_none());
        }
        // An unknown entry is refused the same: the refusal comes first.
        assert_html(&page(&app, "/ui/audit/entries/999999", "cy-secret").await, 403);

        // Each refusal is the API's: a `denied` entry for `audit.read` by them.
        let denied = app
            .get(&format!("/api/v1/audit/entries?actor={}&outcome=denied&start={before}", cy.id), &app.admin_token)
            .await
            .assert_status(200)
            .clone();
        let items = denied["items"].as_array().unwrap();
        assert_eq!(items.len(), 6, "{denied}");
        assert!(items.iter().all(|item| item["action"] == "audit.read"));

        // Nobody signed in: to sign in first, and back.
        let anonymous = page(&app, "/ui/audit/checkpoint", "").await;
        assert_eq!(anonymous.status.as_u16(), 303);
        assert_eq!(
            anonymous.headers.get("location").unwrap().to_str().unwrap(),
            "/auth/login?return_to=%2Fui%2Faudit%2Fcheckpoint"
        );
        assert_eq!(page(&app, "/ui/audit/export", "forged").await.status.as_u16(), 303);
    }
));

engine_test!(bad_filters_forged_cursors_and_unknown_entries_are_refused, |engine| with_database(
    engine,
    |db| async move {
        let app = TestApp::with_settings(&db, settings()).await;
        let directory = Directory::new(&app).await;
        let ana = directory.person(&app, "ana").await;
        grant(&app, &ana.id, "auditor", "*").await;
        start_session(&app, &ana.id, "ana-secret").await;
        append_many(&app, 3).await;
        let past_the_end = size(&app).await + 1;

        let long = "a".repeat(300);
        for (query, says) in [
            ("from=yesterday".to_owned(), "from must be an RFC 3339 time"),
            ("to=2026-13-01T00:00".to_owned(), "to must be an RFC 3339 time"),
            ("action=made.up".to_owned(), "not an audit action"),
            ("outcome=maybe".to_owned(), "outcome must be"),
            (format!("actor={long}"), "longer than 256"),
            (format!("resource={long}"), "longer than 256"),
            ("colour=blue".to_owned(), "colour"),
            ("before=abc".to_owned(), "cursor of this log"),
            ("before=-1".to_owned(), "cursor of this log"),
            ("after=%2B1".to_owned(), "cursor of this log"),
            (format!("before={past_the_end}"), "cursor of this log"),
            ("after=18446744073709551616".to_owned(), "cursor of this log"),
            ("before=1&after=0".to_owned(), "one cursor"),
        ] {
            let refused = page(&app, &format!("/ui/audit?{query}"), "ana-secret").await;
            let html = assert_html(&refused, 400);
            assert!(html.contains(says), "{query}: {html}");
            assert!(!html.contains("<table>"), "{query} lists nothing");
        }

        let missing = assert_html(&page(&app, "/ui/audit/entries/999999", "ana-secret").await, 404);
        assert!(missing.contains("no entry 999999"));
        assert_html(&page(&app, "/ui/audit/entries/abc", "ana-secret").await, 400);
        assert_html(&page(&app, "/ui/audit/entries/-1", "ana-secret").await, 400);
    }
));
