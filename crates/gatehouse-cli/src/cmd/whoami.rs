//! `gatehouse whoami`.

use gatehouse_server::api::dto::WhoamiDto;

use crate::args::GlobalArgs;
use crate::client::Client;
use crate::error::CliResult;
use crate::output::print;

pub async fn run(args: &GlobalArgs) -> CliResult<()> {
    let client = Client::new(args)?;
    let me: WhoamiDto = client.get("/api/v1/whoami").await?;
    let grants: Vec<String> = me.grants.iter().map(|g| format!("{} on {}", g.role, g.scope)).collect();
    let row = vec![
        me.identity.id.clone(),
        me.identity.kind.clone(),
        me.identity.name.clone(),
        me.authentication.expires_at.clone(),
        if grants.is_empty() { "-".into() } else { grants.join(", ") },
    ];
    print(args.output, &me, &["ID", "KIND", "NAME", "TOKEN EXPIRES", "GRANTS"], vec![row]);
    Ok(())
}
