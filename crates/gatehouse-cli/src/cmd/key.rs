//! `gatehouse key add|list|remove`: signing keys of an identity (yours by default).

use std::io::Read;

use gatehouse_server::api::dto::{AddSigningKeyRequest, SigningKeyDto, WhoamiDto};

use crate::args::{GlobalArgs, KeyCommand};
use crate::client::{Client, encode_segment};
use crate::error::{CliError, CliResult};
use crate::output::print;

const HEADERS: &[&str] = &["ID", "KIND", "ALGORITHM", "FINGERPRINT", "CREATED"];

fn row(key: &SigningKeyDto) -> Vec<String> {
    vec![key.id.clone(), key.kind.clone(), key.algorithm.clone(), key.fingerprint.clone(), key.created_at.clone()]
}

async fn identity(client: &Client, given: Option<&String>) -> CliResult<String> {
    match given {
        Some(id) => Ok(id.clone()),
        None => Ok(client.get::<WhoamiDto>("/api/v1/whoami").await?.identity.id),
    }
}

pub async fn run(args: &GlobalArgs, command: &KeyCommand) -> CliResult<()> {
    let client = Client::new(args)?;
    match command {
        KeyCommand::Add { identity: who, file } => {
            let text = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| CliError::config(format!("reading stdin: {e}")))?;
                text
            } else {
                std::fs::read_to_string(file)
                    .map_err(|e| CliError::config(format!("cannot read {}: {e}", file.display())))?
            };
            let id = identity(&client, who.as_ref()).await?;
            let key: SigningKeyDto = client
                .post(
                    &format!("/api/v1/identities/{}/signing-keys", encode_segment(&id)),
                    &AddSigningKeyRequest { public_key: text },
                )
                .await?;
            print(args.output, &key, HEADERS, vec![row(&key)]);
        }
        KeyCommand::List { identity: who } => {
            let id = identity(&client, who.as_ref()).await?;
            let keys: Vec<SigningKeyDto> =
                client.get(&format!("/api/v1/identities/{}/signing-keys", encode_segment(&id))).await?;
            let rows = keys.iter().map(row).collect();
            print(args.output, &keys, HEADERS, rows);
        }
        KeyCommand::Remove { identity: who, id: key_id } => {
            let id = identity(&client, who.as_ref()).await?;
            let key: SigningKeyDto = client
                .delete(&format!("/api/v1/identities/{}/signing-keys/{}", encode_segment(&id), encode_segment(key_id)))
                .await?;
            print(args.output, &key, HEADERS, vec![row(&key)]);
        }
    }
    Ok(())
}
