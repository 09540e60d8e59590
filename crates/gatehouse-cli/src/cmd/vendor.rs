//! `gatehouse vendor add|list|show|approve|suspend|offboard|report`.

use gatehouse_server::api::dto::{
    ContractDto, CreateVendorRequest, LoggingDto, OffboardVendorRequest, ReportVendorDto, UpdateVendorRequest,
    VendorDto, VendorListDto, VendorReportDto,
};

use crate::args::{GlobalArgs, OutputFormat, ReportFormat, VendorCommand};
use crate::client::{Client, encode_segment};
use crate::error::CliResult;
use crate::output::{print, table};

const HEADERS: &[&str] = &["ID", "NAME", "TIER", "STATUS", "COMPLIANT", "EVIDENCE", "INTEGRATIONS"];

const REPORT_HEADERS: &[&str] =
    &["ID", "NAME", "TIER", "STATUS", "COMPLIANT", "EVIDENCE", "NEXT EXPIRY", "AT RISK", "REASONS"];

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

fn row(vendor: &VendorDto) -> Vec<String> {
    let evidence: Vec<String> = vendor.evidence.iter().map(|item| format!("{}:{}", item.kind, item.state)).collect();
    vec![
        vendor.id.clone(),
        vendor.name.clone(),
        vendor.tier.clone(),
        vendor.status.clone(),
        yes_no(vendor.compliant),
        evidence.join(" "),
        vendor.integrations.len().to_string(),
    ]
}

/// One report row; `separator` joins the list cells, `none` stands for
/// an empty one.
fn report_row(vendor: &ReportVendorDto, separator: &str, none: &str) -> Vec<String> {
    let evidence: Vec<String> = vendor
        .evidence
        .iter()
        .map(|item| match &item.valid_until {
            Some(until) => format!("{}:{}:{until}", item.kind, item.state),
            None => format!("{}:{}", item.kind, item.state),
        })
        .collect();
    let at_risk: Vec<String> = vendor.integrations_at_risk.iter().map(|integration| integration.id.clone()).collect();
    vec![
        vendor.id.clone(),
        vendor.name.clone(),
        vendor.tier.clone(),
        vendor.status.clone(),
        yes_no(vendor.compliant),
        evidence.join(separator),
        vendor.next_expiry.clone().unwrap_or_else(|| none.to_owned()),
        if at_risk.is_empty() { none.to_owned() } else { at_risk.join(separator) },
        vendor.reasons.join(separator),
    ]
}

/// One CSV cell (RFC 4180): quoted when it holds a comma, quote or line
/// break. A cell a spreadsheet would read as a formula (`=`, `+`, `-`,
/// `@` first) is prefixed with `'`: vendor names are typed by people.
pub fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

/// The report as CSV: a header row, then one row per vendor.
pub fn report_csv(report: &VendorReportDto) -> String {
    let header: Vec<String> = REPORT_HEADERS.iter().map(|h| h.to_lowercase().replace(' ', "_")).collect();
    let mut out = format!("{}\n", header.join(","));
    for vendor in &report.vendors {
        let cells: Vec<String> = report_row(vendor, "; ", "").iter().map(|cell| csv_cell(cell)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn status_change(status: &str) -> UpdateVendorRequest {
    UpdateVendorRequest { status: Some(status.to_owned()), ..UpdateVendorRequest::default() }
}

pub async fn run(args: &GlobalArgs, command: &VendorCommand) -> CliResult<()> {
    let client = Client::new(args)?;
    let path = |id: &str| format!("/api/v1/vendors/{}", encode_segment(id));
    let vendor = match command {
        VendorCommand::Add {
            name,
            tier,
            contract_start,
            contract_renewal,
            contract_end,
            data_access,
            business_owner,
            security_owner,
            logs,
            log_retention_days,
            logs_tamper_evident,
        } => {
            let logging = match (logs, log_retention_days) {
                (Some(what), Some(retention_days)) => Some(LoggingDto {
                    what: what.clone(),
                    retention_days: *retention_days,
                    tamper_evident: *logs_tamper_evident,
                }),
                _ => None,
            };
            let body = CreateVendorRequest {
                name: name.clone(),
                tier: tier.clone(),
                business_owner: business_owner.clone(),
                security_owner: security_owner.clone(),
                contract: ContractDto {
                    start: contract_start.clone(),
                    renewal: contract_renewal.clone(),
                    end: contract_end.clone(),
                },
                data_access: data_access.clone(),
                logging,
            };
            client.post::<_, VendorDto>("/api/v1/vendors", &body).await?
        }
        VendorCommand::List => {
            let list: VendorListDto = client.get("/api/v1/vendors").await?;
            print(args.output, &list, HEADERS, list.items.iter().map(row).collect());
            return Ok(());
        }
        VendorCommand::Show { id } => client.get(&path(id)).await?,
        VendorCommand::Approve { id, with_conditions } => {
            let status = if *with_conditions { "approved_with_conditions" } else { "approved" };
            client.patch(&path(id), &status_change(status)).await?
        }
        VendorCommand::Suspend { id } => client.patch(&path(id), &status_change("suspended")).await?,
        VendorCommand::Offboard { id, reason } => {
            let body = OffboardVendorRequest { reason: reason.clone() };
            client.post(&format!("{}/offboard", path(id)), &body).await?
        }
        VendorCommand::Report { format } => {
            let report: VendorReportDto = client.get("/api/v1/vendors/report").await?;
            let format = format.unwrap_or(match args.output {
                OutputFormat::Table => ReportFormat::Table,
                OutputFormat::Json => ReportFormat::Json,
            });
            match format {
                ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default()),
                ReportFormat::Csv => print!("{}", report_csv(&report)),
                ReportFormat::Table => {
                    let rows: Vec<Vec<String>> =
                        report.vendors.iter().map(|vendor| report_row(vendor, " ", "-")).collect();
                    print!("{}", table(REPORT_HEADERS, &rows));
                }
            }
            return Ok(());
        }
    };
    print(args.output, &vendor, HEADERS, vec![row(&vendor)]);
    if args.output == OutputFormat::Table {
        for reason in &vendor.reasons {
            println!("  - {reason}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
