//! `gatehouse init`: initialize, then print the one-time admin token as the
//! last line of stdout.

use gatehouse_domain::clock::{SystemClock, format_rfc3339};

use crate::args::InitArgs;
use crate::bootstrap::initialize;
use crate::config::Config;
use crate::error::CliResult;

pub async fn run(config: &Config, args: &InitArgs) -> CliResult<()> {
    let done = initialize(config, &args.admin_email, args.admin_name.as_deref(), &SystemClock, None).await?;
    println!("initialized gatehouse in {} ({})", config.data_dir.display(), done.store.engine());
    println!("admin: {} <{}> ({})", done.admin.name, done.admin.email.as_deref().unwrap_or_default(), done.admin.id);
    println!("audit public key: {}", done.audit_public_key);
    println!(
        "admin API token, shown once (expires {}); keep it in a password manager:",
        format_rfc3339(done.admin_token_expires_at)
    );
    println!("{}", done.admin_token.expose());
    Ok(())
}
