//! `gatehouse integration add|list|show|check|except|grant-exception|exceptions`.
//! `check` prints one line per rule and exits 1 when the integration does
//! not meet the API access standard.

use gatehouse_server::api::dto::{
    CheckReportDto, ExceptionDto, ExceptionListDto, GrantExceptionBody, IntegrationDto, IntegrationListDto,
    RegisterIntegrationRequest, RequestExceptionBody,
};

use crate::args::{GlobalArgs, IntegrationCommand};
use crate::client::{Client, encode_segment};
use crate::error::{CliError, CliResult};
use crate::output::{or_dash, print};

const HEADERS: &[&str] = &["ID", "VENDOR", "IDENTITY", "METHOD", "STATE", "IN FORCE", "REASONS"];

fn row(integration: &IntegrationDto) -> Vec<String> {
    vec![
        integration.id.clone(),
        integration.vendor.clone(),
        integration.identity_id.clone(),
        integration.method.clone(),
        integration.state.clone(),
        if integration.in_force { "yes" } else { "no" }.to_owned(),
        if integration.reasons.is_empty() { "-".to_owned() } else { integration.reasons.join("; ") },
    ]
}

const CHECK_HEADERS: &[&str] = &["RULE", "RESULT", "EXPECTED", "FOUND"];

fn check_rows(report: &CheckReportDto) -> Vec<Vec<String>> {
    report
        .findings
        .iter()
        .map(|finding| {
            let result = match (&finding.waived_by, finding.ok) {
                (_, true) => "ok".to_owned(),
                (Some(exception), false) => format!("waived ({exception})"),
                (None, false) => "FAIL".to_owned(),
            };
            vec![finding.rule.clone(), result, finding.expected.clone(), finding.found.clone()]
        })
        .collect()
}

const EXCEPTION_HEADERS: &[&str] = &["ID", "RULE", "STATE", "EXPIRES", "REQUESTED BY", "APPROVED BY", "REASON"];

fn exception_row(exception: &ExceptionDto) -> Vec<String> {
    vec![
        exception.id.clone(),
        exception.rule.clone(),
        exception.state.clone(),
        exception.expires_at.clone(),
        exception.requested_by.clone(),
        or_dash(exception.approved_by.as_deref()),
        exception.reason.clone(),
    ]
}

fn path(id: &str) -> String {
    format!("/api/v1/integrations/{}", encode_segment(id))
}

pub async fn run(args: &GlobalArgs, command: &IntegrationCommand) -> CliResult<()> {
    let client = Client::new(args)?;
    match command {
        IntegrationCommand::Add {
            vendor,
            identity,
            method,
            permissions,
            repositories,
            repository_names,
            token_ttl,
            refresh_ttl,
            webhook_signed,
            ip_allowlist,
            mtls,
            secret_rotated_at,
        } => {
            let body = RegisterIntegrationRequest {
                vendor_id: vendor.clone(),
                identity_id: identity.clone(),
                method: method.clone(),
                permissions: permissions.clone(),
                repositories: repositories.clone(),
                repository_names: Some(repository_names.clone()).filter(|names| !names.is_empty()),
                token_ttl: token_ttl.clone(),
                refresh_ttl: refresh_ttl.clone(),
                webhook_signature: Some(*webhook_signed),
                ip_allowlist: Some(ip_allowlist.clone()).filter(|ranges| !ranges.is_empty()),
                mtls: Some(*mtls),
                secret_rotated_at: secret_rotated_at.clone(),
            };
            let integration: IntegrationDto = client.post("/api/v1/integrations", &body).await?;
            print(args.output, &integration, HEADERS, vec![row(&integration)]);
        }
        IntegrationCommand::List { vendor } => {
            let path = match vendor {
                Some(vendor) => format!("/api/v1/integrations?vendor_id={}", encode_segment(vendor)),
                None => "/api/v1/integrations".to_owned(),
            };
            let list: IntegrationListDto = client.get(&path).await?;
            print(args.output, &list, HEADERS, list.items.iter().map(row).collect());
        }
        IntegrationCommand::Show { id } => {
            let integration: IntegrationDto = client.get(&path(id)).await?;
            print(args.output, &integration, HEADERS, vec![row(&integration)]);
        }
        IntegrationCommand::Check { id } => {
            let report: CheckReportDto = client.post(&format!("{}/check", path(id)), &serde_json::json!({})).await?;
            print(args.output, &report, CHECK_HEADERS, check_rows(&report));
            if !report.compliant {
                let failing = report.findings.iter().filter(|finding| !finding.ok && finding.waived_by.is_none());
                let rules: Vec<&str> = failing.map(|finding| finding.rule.as_str()).collect();
                return Err(CliError::refused(format!(
                    "integration `{id}` does not meet the API access standard: {}",
                    rules.join(", ")
                )));
            }
        }
        IntegrationCommand::Except { id, rule, reason, expires_in } => {
            let body = RequestExceptionBody {
                rule: rule.clone(),
                reason: reason.clone(),
                expires_at: None,
                duration: Some(expires_in.clone()),
            };
            let exception: ExceptionDto = client.post(&format!("{}/exceptions", path(id)), &body).await?;
            print(args.output, &exception, EXCEPTION_HEADERS, vec![exception_row(&exception)]);
        }
        IntegrationCommand::GrantException { id, exception } => {
            let grant = format!("{}/exceptions/{}/grant", path(id), encode_segment(exception));
            let granted: ExceptionDto = client.post(&grant, &GrantExceptionBody {}).await?;
            print(args.output, &granted, EXCEPTION_HEADERS, vec![exception_row(&granted)]);
        }
        IntegrationCommand::Exceptions { id } => {
            let list: ExceptionListDto = client.get(&format!("{}/exceptions", path(id))).await?;
            print(args.output, &list, EXCEPTION_HEADERS, list.items.iter().map(exception_row).collect());
        }
    }
    Ok(())
}
