//! `gatehouse evidence add|list`: a vendor's security evidence. `add`
//! uploads the file as a multipart form with its metadata typed from
//! `--meta KEY=VALUE` pairs. Without a subcommand, and `evidence verify`:
//! the auditor's evidence file (`evidence_file.rs`).

use std::path::Path;

use gatehouse_domain::vendor::ContentDigest;
use gatehouse_server::api::dto::{EvidenceDto, EvidenceListDto};
use serde_json::{Map, Value};

use crate::args::{EvidenceArgs, EvidenceCommand, GlobalArgs};
use crate::client::{Client, encode_segment};
use crate::error::{CliError, CliResult};
use crate::output::{or_dash, print};

const HEADERS: &[&str] = &["ID", "KIND", "STATE", "VALID UNTIL", "SIZE", "FILE", "DIGEST"];

fn row(item: &EvidenceDto) -> Vec<String> {
    vec![
        item.id.clone(),
        item.kind.clone(),
        item.state.clone(),
        or_dash(item.valid_until.as_deref()),
        item.size.to_string(),
        item.filename.clone(),
        item.digest.clone(),
    ]
}

/// The metadata of `--meta` pairs with the kind: `trust_services` and
/// `scope` are comma lists, `open_critical` a number, `product_in_scope`
/// true or false, the rest text. A key given twice is refused.
pub fn metadata(kind: &str, pairs: &[String]) -> CliResult<Value> {
    let mut fields = Map::new();
    fields.insert("kind".into(), Value::String(kind.to_owned()));
    for pair in pairs {
        let (key, value) =
            pair.split_once('=').ok_or_else(|| CliError::config(format!("`--meta {pair}`: expected KEY=VALUE")))?;
        let key = key.trim();
        let typed = match key {
            "trust_services" | "scope" => Value::Array(
                value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(|item| item.into()).collect(),
            ),
            "open_critical" => Value::from(
                value
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| CliError::config(format!("`--meta {pair}`: open_critical is a whole number")))?,
            ),
            "product_in_scope" => Value::Bool(
                value
                    .trim()
                    .parse::<bool>()
                    .map_err(|_| CliError::config(format!("`--meta {pair}`: product_in_scope is true or false")))?,
            ),
            "kind" => return Err(CliError::config("the kind is given with `--kind`, not `--meta`")),
            _ => Value::String(value.to_owned()),
        };
        if fields.insert(key.to_owned(), typed).is_some() {
            return Err(CliError::config(format!("`--meta {key}=…` is given twice")));
        }
    }
    Ok(Value::Object(fields))
}

/// A `multipart/form-data` body with the `metadata` and `file` parts, and
/// its boundary: derived from the file's digest, and checked not to occur
/// in the file.
pub fn form(metadata: &Value, filename: &str, content: &[u8]) -> (String, Vec<u8>) {
    let digest = ContentDigest::of(content).to_string();
    let mut attempt = 0u32;
    let boundary = loop {
        let candidate = format!("gatehouse-{attempt}-{}", &digest[..40]);
        let needle = candidate.as_bytes();
        if !content.windows(needle.len()).any(|window| window == needle) {
            break candidate;
        }
        attempt += 1;
    };
    let filename: String = filename.chars().map(|c| if c == '"' || c.is_control() { '_' } else { c }).collect();
    let mut body = Vec::with_capacity(content.len() + 512);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\nContent-Type: application/json\r\n\r\n{metadata}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

pub async fn run(args: &GlobalArgs, evidence: &EvidenceArgs) -> CliResult<()> {
    let command = match &evidence.command {
        None => return super::evidence_file::export(args, evidence).await,
        Some(EvidenceCommand::Verify { file, public_key }) => {
            return super::evidence_file::verify(args, file, public_key);
        }
        Some(command) => command,
    };
    let client = Client::new(args)?;
    match command {
        EvidenceCommand::Add { vendor, kind, file, meta } => {
            let metadata = metadata(kind, meta)?;
            let content =
                std::fs::read(file).map_err(|e| CliError::config(format!("cannot read `{}`: {e}", file.display())))?;
            let filename =
                Path::new(file).file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            let (boundary, body) = form(&metadata, &filename, &content);
            let path = format!("/api/v1/vendors/{}/evidence", encode_segment(vendor));
            let item: EvidenceDto =
                client.post_bytes(&path, &format!("multipart/form-data; boundary={boundary}"), body).await?;
            print(args.output, &item, HEADERS, vec![row(&item)]);
        }
        EvidenceCommand::List { vendor } => {
            let path = format!("/api/v1/vendors/{}/evidence", encode_segment(vendor));
            let list: EvidenceListDto = client.get(&path).await?;
            print(args.output, &list, HEADERS, list.items.iter().map(row).collect());
        }
        EvidenceCommand::Verify { .. } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
