//! `gatehouse review export ID --out FILE` and `gatehouse review verify FILE
//! --public-key KEY`: a closed campaign's proof bundle, fetched as the
//! server made it and checked offline. Verification trusts nothing in the
//! file but what the audit key signed and the proofs tie to it: the
//! snapshot and decisions must recompute to the digests their entries
//! signed (`review::check_export`).

use std::path::Path;

use gatehouse_audit::bundle::{self, Bundle};
use gatehouse_domain::review::{EXPORT_FORMAT, check_export};
use serde_json::json;

use crate::args::{GlobalArgs, OutputFormat};
use crate::client::{Client, encode_segment};
use crate::error::{CliError, CliResult};
use crate::output::table;

pub async fn export(args: &GlobalArgs, id: &str, out: &Path) -> CliResult<()> {
    let client = Client::new(args)?;
    let bundle: Bundle = client.get(&format!("/api/v1/reviews/{}/export", encode_segment(id))).await?;
    let body = serde_json::to_vec(&bundle).map_err(|e| CliError::config(format!("cannot encode the export: {e}")))?;
    crate::files::write_whole(out, &body)?;
    println!(
        "wrote {}: campaign {}, {} items, {} entries with their proofs",
        out.display(),
        id,
        bundle.sections.get("snapshot").and_then(|s| s.as_array()).map_or(0, Vec::len),
        bundle.entries.len()
    );
    Ok(())
}

fn refused(message: impl std::fmt::Display) -> CliError {
    CliError::refused(format!("the review export does not verify: {message}"))
}

pub fn verify(args: &GlobalArgs, file: &Path, public_key: &str) -> CliResult<()> {
    let (parsed, verified, key) = super::review_file::read_verified(file, public_key, EXPORT_FORMAT, |e| refused(e))?;
    let summary = check_export(&parsed.sections, &verified.leaves).map_err(refused)?;
    if args.output == OutputFormat::Json {
        let report = json!({
            "verified": true,
            "campaign": summary.campaign,
            "name": summary.name,
            "checkpoint_size": verified.checkpoint.size,
            "entries": verified.leaves.len(),
            "items": summary.items,
            "decisions": summary.decisions,
            "reviewers": summary.reviewers,
            "defaults": summary.defaults,
            "kept": summary.kept,
            "revoked": summary.revoked,
            "narrowed": summary.narrowed,
            "suspended": summary.suspended,
            "revocations": summary.revocations_found,
        });
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        return Ok(());
    }
    println!(
        "verified: campaign {} ({}), {} entries proved against the checkpoint of {} entries signed by {}\n",
        summary.campaign,
        summary.name,
        verified.leaves.len(),
        verified.checkpoint.size,
        key.trim()
    );
    let rows: Vec<Vec<String>> = [
        ("items", summary.items),
        ("decisions by reviewers", summary.decisions),
        ("reviewers", summary.reviewers),
        ("defaults at the deadline", summary.defaults),
        ("kept", summary.kept),
        ("revoked", summary.revoked),
        ("narrowed", summary.narrowed),
        ("suspended", summary.suspended),
        ("revocations found", summary.revocations_found),
    ]
    .iter()
    .map(|(name, count)| vec![(*name).to_owned(), count.to_string()])
    .collect();
    print!("{}", table(&["WHAT", "COUNT"], &rows));
    Ok(())
}

/// A proof bundle file of `format`, read and its proofs verified against
/// the trusted key: the parsed bundle, what the proofs showed, and the key.
/// `refused` words a failure for the kind of file.
pub fn read_verified(
    file: &Path,
    public_key: &str,
    format: &str,
    refused: fn(&dyn std::fmt::Display) -> CliError,
) -> CliResult<(Bundle, bundle::VerifiedBundle, String)> {
    let key = crate::files::trusted_key(public_key)?;
    let bytes = std::fs::read(file).map_err(|e| CliError::config(format!("cannot read {}: {e}", file.display())))?;
    let parsed = bundle::parse(&bytes).map_err(|e| refused(&e))?;
    drop(bytes);
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    let verified = bundle::verify(&parsed, format, &key, workers).map_err(|e| refused(&e))?;
    Ok((parsed, verified, key))
}
