//! `gatehouse identity create|list|show|suspend|reactivate|delete`.

use gatehouse_server::api::dto::{CreateIdentityRequest, IdentityDto, ListDto};

use crate::args::{GlobalArgs, IdentityCommand};
use crate::client::{Client, encode_segment};
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
            let body = CreateIdentityRequest { kind: kind.clone(), name: name.clone(), email: email.clone() };
            let identity: IdentityDto = client.post("/api/v1/identities", &body).await?;
            print_one(args, &identity);
        }
        IdentityCommand::List { page } => {
            let list: ListDto<IdentityDto> =
                client.get_pages("/api/v1/identities", page.limit, page.cursor.clone(), page.all).await?;
            let rows = list.items.iter().map(row).collect();
            print(args.output, &list, HEADERS, rows);
            print_more_hint(args, list.next_cursor.as_deref());
        }
        IdentityCommand::Show { id } => {
            let identity: IdentityDto = client.get(&format!("/api/v1/identities/{}", encode_segment(id))).await?;
            print_one(args, &identity);
        }
        IdentityCommand::Suspend { id } => {
            let identity: IdentityDto =
                client.post_empty(&format!("/api/v1/identities/{}/suspend", encode_segment(id))).await?;
            print_one(args, &identity);
        }
        IdentityCommand::Reactivate { id } => {
            let identity: IdentityDto =
                client.post_empty(&format!("/api/v1/identities/{}/reactivate", encode_segment(id))).await?;
            print_one(args, &identity);
        }
        IdentityCommand::Delete { id } => {
            let identity: IdentityDto = client.delete(&format!("/api/v1/identities/{}", encode_segment(id))).await?;
            print_one(args, &identity);
        }
    }
    Ok(())
}

/// Tells a person how to get the next page.
pub fn print_more_hint(args: &GlobalArgs, next_cursor: Option<&str>) {
    if let (Some(next), crate::args::OutputFormat::Table) = (next_cursor, args.output) {
        eprintln!("more: --cursor {next} (or --all)");
    }
}
