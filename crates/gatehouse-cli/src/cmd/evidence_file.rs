//! `gatehouse evidence --from --to [--environment] --out` and `gatehouse
//! evidence verify FILE --public-key KEY`: the auditor's evidence file,
//! fetched from the server as it came and checked offline. Verification
//! trusts nothing in the file but what the audit key signed and the proofs
//! tie to it: the deployments, reviews and summary are recomputed from the
//! proven entries and must equal the file's.

use std::path::Path;

use gatehouse_domain::evidence::{self, EvidenceQuery};
use serde_json::{Value, json};

use crate::args::{EvidenceArgs, GlobalArgs, OutputFormat};
use crate::client::{Client, encode_segment};
use crate::error::{CliError, CliResult};
use crate::output::table;

/// Building a file for a long period takes a while.
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

pub async fn export(args: &GlobalArgs, evidence: &EvidenceArgs) -> CliResult<()> {
    let (Some(from), Some(to), Some(out)) = (&evidence.from, &evidence.to, &evidence.out) else {
        return Err(CliError::config("`gatehouse evidence` needs --from, --to and --out"));
    };
    // Refused here with the server's own words, before a round trip.
    EvidenceQuery::parse(from, to, evidence.environment.as_deref()).map_err(|e| CliError::config(e.to_string()))?;
    let mut path = format!("/api/v1/evidence?from={}&to={}", encode_segment(from), encode_segment(to));
    if let Some(glob) = &evidence.environment {
        path.push_str(&format!("&environment={}", encode_segment(glob)));
    }
    let client = Client::new(args)?;
    let body = client.get_bytes(&path, EXPORT_TIMEOUT).await?;
    crate::files::write_whole(out, &body)?;
    let parsed: Value = serde_json::from_slice(&body).unwrap_or_default();
    let summary = &parsed["sections"]["summary"];
    println!(
        "wrote {}: {} deployments, {} entries with their proofs",
        out.display(),
        summary["deployments"],
        parsed["entries"].as_array().map_or(0, Vec::len)
    );
    Ok(())
}

fn refused(message: impl std::fmt::Display) -> CliError {
    CliError::refused(format!("the evidence file does not verify: {message}"))
}

pub fn verify(args: &GlobalArgs, file: &Path, public_key: &str) -> CliResult<()> {
    let (parsed, verified, key) =
        super::review_file::read_verified(file, public_key, evidence::FORMAT, |e| refused(e))?;
    let query = parsed
        .sections
        .get("query")
        .ok_or_else(|| refused("the file has no query section"))
        .and_then(|query| EvidenceQuery::from_json(query).map_err(|e| refused(format!("its query: {e}"))))?;
    let leaves: Vec<Value> = verified.leaves.into_iter().map(|(_, leaf)| leaf).collect();
    let recomputed = evidence::read(&query, &leaves);
    compare(&parsed.sections, &recomputed.sections(&query))?;

    let summary = recomputed.summary.to_json();
    if args.output == OutputFormat::Json {
        let report = json!({
            "verified": true,
            "query": query.to_json(),
            "checkpoint_size": verified.checkpoint.size,
            "entries": leaves.len(),
            "summary": summary,
            "missing": recomputed.missing,
        });
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        return Ok(());
    }
    println!(
        "verified: {} entries proved against the checkpoint of {} entries signed by {}",
        leaves.len(),
        verified.checkpoint.size,
        key.trim()
    );
    println!(
        "period {} to {}, environments {}\n",
        query.to_json()["from"].as_str().unwrap_or_default(),
        query.to_json()["to"].as_str().unwrap_or_default(),
        query.environment.as_deref().unwrap_or("all")
    );
    let s = &recomputed.summary;
    let rows: Vec<Vec<String>> = [
        ("deployments", s.deployments),
        ("with an approved request", s.approved),
        ("approving votes", s.approvals),
        ("exceptions (break-glass)", s.exceptions),
        ("no approval rule", s.without_rule),
        ("commits verified", s.commits_verified),
        ("commits refused", s.commits_refused),
        ("by integrations", s.by_integrations),
        ("integrations not in force", s.integrations_not_in_force),
        ("access reviews closed", s.reviews_closed),
        ("missing", s.missing),
    ]
    .iter()
    .map(|(name, count)| vec![(*name).to_owned(), count.to_string()])
    .collect();
    print!("{}", table(&["WHAT", "COUNT"], &rows));
    if !recomputed.missing.is_empty() {
        println!("\nmissing:");
        for item in &recomputed.missing {
            println!("  {item}");
        }
    }
    Ok(())
}

/// The file's sections must be exactly what its entries say; the first
/// difference is named.
fn compare(file: &serde_json::Map<String, Value>, recomputed: &serde_json::Map<String, Value>) -> CliResult<()> {
    if let Some(extra) = file.keys().find(|key| !recomputed.contains_key(*key)) {
        return Err(refused(format!("it has a section `{extra}` its entries do not make")));
    }
    // Itemized sections first, so a change names its item.
    let mut names: Vec<&String> = recomputed.keys().collect();
    names.sort_by_key(|name| !matches!(name.as_str(), "deployments" | "reviews"));
    for name in names {
        let expected = &recomputed[name.as_str()];
        let found = file.get(name).unwrap_or(&Value::Null);
        if found == expected {
            continue;
        }
        if let (Some(found), Some(expected)) = (found.as_array(), expected.as_array()) {
            let at = found.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(found.len().min(expected.len()));
            // The file's own item first: the one its entries do not make.
            let item = found.get(at).or_else(|| expected.get(at));
            let entry = item.and_then(|item| item.get("entry")).and_then(Value::as_u64);
            return Err(match entry {
                Some(entry) => refused(format!(
                    "its `{name}` section does not match its proven entries at the item of entry {entry}"
                )),
                None => refused(format!("its `{name}` section does not match its proven entries at item {at}")),
            });
        }
        return Err(refused(format!("its `{name}` section does not match its proven entries")));
    }
    Ok(())
}
