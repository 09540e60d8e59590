//! `gatehouse binding add|list|remove`: trust bindings for CI jobs.

use gatehouse_server::api::dto::{CreateTrustBindingRequest, ListDto, TrustBindingDto};
use serde_json::{Map, Value};

use super::identity::print_more_hint;
use crate::args::{BindingCommand, GlobalArgs};
use crate::client::{Client, encode_segment};
use crate::error::{CliError, CliResult};
use crate::output::print;

const HEADERS: &[&str] = &["ID", "ISSUER", "AUDIENCE", "CLAIMS", "IDENTITY", "MAX TTL"];

fn row(binding: &TrustBindingDto) -> Vec<String> {
    vec![
        binding.id.clone(),
        binding.issuer.clone(),
        binding.audience.clone(),
        binding.claims.to_string(),
        binding.identity_id.clone(),
        format!("{}s", binding.max_ttl_seconds),
    ]
}

/// `NAME=VALUE` pairs into conditions; a name given twice becomes a list
/// of alternatives.
pub fn claim_conditions(pairs: &[String]) -> CliResult<Map<String, Value>> {
    let mut conditions = Map::new();
    for pair in pairs {
        let (name, value) = pair
            .split_once('=')
            .filter(|(name, _)| !name.is_empty())
            .ok_or_else(|| CliError::config(format!("--claim `{pair}` is not NAME=VALUE")))?;
        let value = Value::String(value.to_owned());
        match conditions.get_mut(name) {
            None => {
                conditions.insert(name.to_owned(), value);
            }
            Some(Value::Array(list)) => list.push(value),
            Some(existing) => *existing = Value::Array(vec![existing.clone(), value]),
        }
    }
    Ok(conditions)
}

pub async fn run(args: &GlobalArgs, command: &BindingCommand) -> CliResult<()> {
    let client = Client::new(args)?;
    match command {
        BindingCommand::Add { issuer, audience, claims, identity, max_ttl_seconds } => {
            let body = CreateTrustBindingRequest {
                issuer: issuer.clone(),
                audience: audience.clone(),
                claims: claim_conditions(claims)?,
                identity_id: identity.clone(),
                max_ttl_seconds: *max_ttl_seconds,
            };
            let binding: TrustBindingDto = client.post("/api/v1/trust-bindings", &body).await?;
            print(args.output, &binding, HEADERS, vec![row(&binding)]);
        }
        BindingCommand::List { page } => {
            let list: ListDto<TrustBindingDto> =
                client.get_pages("/api/v1/trust-bindings", page.limit, page.cursor.clone(), page.all).await?;
            let rows = list.items.iter().map(row).collect();
            print(args.output, &list, HEADERS, rows);
            print_more_hint(args, list.next_cursor.as_deref());
        }
        BindingCommand::Remove { id } => {
            let binding: TrustBindingDto =
                client.delete(&format!("/api/v1/trust-bindings/{}", encode_segment(id))).await?;
            print(args.output, &binding, HEADERS, vec![row(&binding)]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn repeated_names_become_alternatives() {
        let pairs: Vec<String> = ["repository_id=1", "ref=refs/heads/main", "ref=refs/tags/v*", "ref=x=y"]
            .iter()
            .map(|s| (*s).into())
            .collect();
        let conditions = claim_conditions(&pairs).unwrap();
        assert_eq!(conditions["repository_id"], "1");
        assert_eq!(conditions["ref"], json!(["refs/heads/main", "refs/tags/v*", "x=y"]));
        assert!(claim_conditions(&["novalue".to_owned()]).is_err());
        assert!(claim_conditions(&["=x".to_owned()]).is_err());
    }
}
