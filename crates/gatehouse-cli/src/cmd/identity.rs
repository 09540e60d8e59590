//! `gatehouse identity create|list|show|suspend|reactivate|delete`.

use gatehouse_server::api::dto::{IdentityDto, ListDto};
use serde_json::json;

use crate::args::{GlobalArgs, IdentityCommand};
use crate::client::Client;
use crate::error::CliResult;
use crate::output::{or_dash, print};

const HEADERS: &[&str] = &["ID", "KIND", "NAME", "EMAIL", "STATUS", "CREATED"];

fn row(identity: &IdentityDto) -> Vec<String> {
    vec![
        identity.id.clone(),
        identity.kind.clone(),
        identity.name.clone(),
        or_dash(identity.email.as_deref()),
        identity.status.clone(),
        identity.created_at.clone(),
    ]
}

fn print_one(args: &GlobalArgs, identity: &IdentityDto) {
    print(args.output, identity, HEADERS, vec![row(identity)]);
}

pub async fn run(args: &GlobalArgs, command: &IdentityCommand) -> CliResult<()> {
    let client = Client::new(args)?;
    match command {
        IdentityCommand::Create { kind, name, email } => {
            let body = json!({ "kind": kind, "name": name, "email": email });
            let identity: IdentityDto = client.post("/api/v1/identities", &body).await?;
            print_one(args, &identity);
        }
        IdentityCommand::List { limit, cursor, all } => {
            let mut items = Vec::new();
            let mut cursor = cursor.clone();
            let next_cursor = loop {
                let mut path = format!("/api/v1/identities?limit={limit}");
                if let Some(cursor) = &cursor {
                    path.push_str(&format!("&cursor={cursor}"));
                }
                let page: ListDto<IdentityDto> = client.get(&path).await?;
                items.extend(page.items);
                match page.next_cursor {
                    Some(next) if *all => cursor = Some(next),
                    other => break other,
                }
            };
            let rows = items.iter().map(row).collect();
            print(args.output, &ListDto { items, next_cursor: next_cursor.clone() }, HEADERS, rows);
            if let (Some(next), crate::args::OutputFormat::Table) = (next_cursor, args.output) {
                eprintln!("more: --cursor {next} (or --all)");
            }
        }
        IdentityCommand::Show { id } => {
            let identity: IdentityDto = client.get(&format!("/api/v1/identities/{}", encode(id))).await?;
            print_one(args, &identity);
        }
        IdentityCommand::Suspend { id } => {
            let identity: IdentityDto =
                client.post_empty(&format!("/api/v1/identities/{}/suspend", encode(id))).await?;
            print_one(args, &identity);
        }
        IdentityCommand::Reactivate { id } => {
            let identity: IdentityDto =
                client.post_empty(&format!("/api/v1/identities/{}/reactivate", encode(id))).await?;
            print_one(args, &identity);
        }
        IdentityCommand::Delete { id } => {
            let identity: IdentityDto = client.delete(&format!("/api/v1/identities/{}", encode(id))).await?;
            print_one(args, &identity);
        }
    }
    Ok(())
}

/// Keeps a user-typed id from changing the path it is put in.
pub fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
