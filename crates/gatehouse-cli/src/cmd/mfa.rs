//! `gatehouse mfa enroll|confirm|verify`: your TOTP second factor.

use gatehouse_server::api::dto::{CodeRequest, EnrollmentDto, RecoveryCodesDto, VerifiedDto};
use serde_json::json;

use crate::args::{GlobalArgs, MfaCommand, OutputFormat};
use crate::client::Client;
use crate::error::{CliError, CliResult};

pub async fn run(args: &GlobalArgs, command: &MfaCommand) -> CliResult<()> {
    let client = Client::new(args)?;
    match command {
        MfaCommand::Enroll { qr } => {
            let enrollment: EnrollmentDto = client.post("/api/v1/mfa/totp", &json!({})).await?;
            if let Some(path) = qr {
                std::fs::write(path, &enrollment.qr_svg)
                    .map_err(|e| CliError::config(format!("cannot write {}: {e}", path.display())))?;
            }
            match args.output {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&enrollment).unwrap_or_default()),
                OutputFormat::Table => {
                    println!("secret: {}", enrollment.secret);
                    println!("uri:    {}", enrollment.otpauth_uri);
                    println!("Add it to your authenticator app, then: gatehouse mfa confirm CODE");
                }
            }
        }
        MfaCommand::Confirm { code } => {
            let confirmed: RecoveryCodesDto = client
                .post("/api/v1/mfa/totp/confirm", &CodeRequest { code: Some(code.clone()), recovery_code: None })
                .await?;
            match args.output {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&confirmed).unwrap_or_default()),
                OutputFormat::Table => {
                    println!("Second factor confirmed. One-time recovery codes (shown once; keep them safe):");
                    for code in &confirmed.recovery_codes {
                        println!("  {code}");
                    }
                }
            }
        }
        MfaCommand::Verify { code, recovery } => {
            let body = match (code, recovery) {
                (Some(code), None) => CodeRequest { code: Some(code.clone()), recovery_code: None },
                (None, Some(recovery)) => CodeRequest { code: None, recovery_code: Some(recovery.clone()) },
                _ => return Err(CliError::config("give a code or --recovery CODE")),
            };
            let verified: VerifiedDto = client.post("/api/v1/mfa/verify", &body).await?;
            match args.output {
                OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&verified).unwrap_or_default()),
                OutputFormat::Table => println!("MFA-fresh until {}", verified.fresh_until),
            }
        }
    }
    Ok(())
}
