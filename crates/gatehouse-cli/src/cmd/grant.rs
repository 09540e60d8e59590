//! `gatehouse grant add|list|revoke`.

use gatehouse_server::api::dto::{CreateGrantRequest, GrantDto, ListDto};

use super::identity::print_more_hint;
use crate::args::{GlobalArgs, GrantCommand};
use crate::client::{Client, encode_segment};
use crate::error::CliResult;
use crate::output::{or_dash, print};

const HEADERS: &[&str] = &["ID", "IDENTITY", "ROLE", "SCOPE", "CREATED", "EXPIRES", "REVOKED"];

fn row(grant: &GrantDto) -> Vec<String> {
    vec![
        grant.id.clone(),
        grant.identity_id.clone(),
        grant.role.clone(),
        grant.scope.clone(),
        grant.created_at.clone(),
        or_dash(grant.expires_at.as_deref()),
        or_dash(grant.revoked_at.as_deref()),
    ]
}

pub async fn run(args: &GlobalArgs, command: &GrantCommand) -> CliResult<()> {
    let client = Client::new(args)?;
    match command {
        GrantCommand::Add { identity, role, scope, expires_at } => {
            let body = CreateGrantRequest {
                identity_id: identity.clone(),
                role: role.clone(),
                scope: scope.clone(),
                expires_at: expires_at.clone(),
            };
            let grant: GrantDto = client.post("/api/v1/grants", &body).await?;
            print(args.output, &grant, HEADERS, vec![row(&grant)]);
        }
        GrantCommand::List { identity, page } => {
            let path = match identity {
                Some(identity) => format!("/api/v1/grants?identity_id={}", encode_segment(identity)),
                None => "/api/v1/grants".to_owned(),
            };
            let list: ListDto<GrantDto> = client.get_pages(&path, page.limit, page.cursor.clone(), page.all).await?;
            let rows = list.items.iter().map(row).collect();
            print(args.output, &list, HEADERS, rows);
            print_more_hint(args, list.next_cursor.as_deref());
        }
        GrantCommand::Revoke { id } => {
            let grant: GrantDto = client.delete(&format!("/api/v1/grants/{}", encode_segment(id))).await?;
            print(args.output, &grant, HEADERS, vec![row(&grant)]);
        }
    }
    Ok(())
}
