//! `gatehouse policy validate`.

use gatehouse_policy::{Policies, PolicyError, PolicySetSource};

use gatehouse_server::api::dto::MatrixDto;

use crate::args::{MatrixFormat, PolicyCommand};
use crate::config::Config;
use crate::error::{CliError, CliResult};

pub fn run(config: &Config, command: &PolicyCommand) -> CliResult<()> {
    match command {
        PolicyCommand::Validate => validate(config),
        PolicyCommand::Test { files } => test(config, files),
        PolicyCommand::Matrix { .. } => Err(CliError::config("the matrix is asked of the server")),
    }
}

/// `gatehouse policy matrix`: the server's matrix as Markdown, CSV or JSON.
pub async fn matrix(args: &crate::args::GlobalArgs, format: MatrixFormat) -> CliResult<()> {
    let client = crate::client::Client::new(args)?;
    let matrix: MatrixDto = client.get("/api/v1/policy/matrix").await?;
    let rows: Vec<[String; 5]> = matrix
        .rows
        .iter()
        .map(|r| {
            let allowed_by: Vec<String> = r
                .grants
                .iter()
                .zip(&r.roles)
                .map(|(grant, role)| format!("grant {grant} ({role})"))
                .chain(r.policies.iter().map(|p| format!("policy {p}")))
                .collect();
            [
                format!("{} ({})", r.identity_name, r.identity_id),
                r.action.clone(),
                format!("{}:{}", r.resource.kind, r.resource.id),
                allowed_by.join("; "),
                String::new(),
            ]
        })
        .collect();
    match format {
        MatrixFormat::Json => println!("{}", serde_json::to_string_pretty(&matrix).unwrap_or_default()),
        MatrixFormat::Csv => {
            println!("identity_id,identity_name,action,resource_type,resource_id,grants,roles,policies");
            for r in &matrix.rows {
                let fields = [
                    r.identity_id.clone(),
                    r.identity_name.clone(),
                    r.action.clone(),
                    r.resource.kind.clone(),
                    r.resource.id.clone(),
                    r.grants.join(" "),
                    r.roles.join(" "),
                    r.policies.join(" "),
                ];
                println!("{}", fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            }
        }
        MatrixFormat::Md => {
            println!(
                "# Access matrix\n\nPolicy set sha256 `{}`; {} resources.\n",
                matrix.policy_hash,
                matrix.resources.len()
            );
            println!("| identity | action | resource | allowed by |\n| --- | --- | --- | --- |");
            for [identity, action, resource, allowed_by, _] in rows {
                println!("| {} | `{action}` | `{resource}` | {} |", md_cell(&identity), md_cell(&allowed_by));
            }
        }
    }
    Ok(())
}

fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n']) { format!("\"{}\"", field.replace('"', "\"\"")) } else { field.to_owned() }
}

fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn load(config: &Config) -> CliResult<Policies> {
    let source = PolicySetSource::read_dir(&config.policy_dir).map_err(|e| CliError::config(e.to_string()))?;
    Policies::from_source(&source).map_err(|e| CliError::refused(format!("{}: {e}", config.policy_dir.display())))
}

fn test(config: &Config, files: &[std::path::PathBuf]) -> CliResult<()> {
    let policies = load(config)?;
    let (mut passed, mut failed) = (0, 0);
    for file in super::policy_test::files_to_run(&config.policy_dir, files)? {
        let result = super::policy_test::run_file(&policies, &file)?;
        passed += result.passed;
        failed += result.failures.len();
        for failure in result.failures {
            eprintln!("FAIL {failure}");
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 { Err(CliError::refused(format!("{failed} policy test(s) failed"))) } else { Ok(()) }
}

fn validate(config: &Config) -> CliResult<()> {
    let dir = &config.policy_dir;
    let source = PolicySetSource::read_dir(dir).map_err(|e| CliError::config(e.to_string()))?;
    match Policies::from_source(&source) {
        Ok(policies) => {
            let roles: Vec<String> = policies.roles().into_iter().map(|r| r.name).collect();
            println!(
                "{} is valid: {} roles ({}), {} other policies; sha256 {}",
                dir.display(),
                roles.len(),
                roles.join(", "),
                policies.static_policies().len(),
                policies.hash()
            );
            let campaigns: Vec<&str> =
                policies.reviews().campaigns.iter().map(|loaded| loaded.definition.name.as_str()).collect();
            if !campaigns.is_empty() {
                println!(
                    "{}: {} review campaign(s) ({})",
                    gatehouse_policy::reviews::REVIEWS_FILE,
                    campaigns.len(),
                    campaigns.join(", ")
                );
            }
            for (rule, line, name) in gatehouse_server::notify::unknown_targets(policies.approvals(), &config.notify) {
                eprintln!(
                    "warning: {}:{line}: rule `{rule}` notifies `{name}`, but no [notify.{name}] section configures it \
                     (`serve` would refuse to start)",
                    dir.join(gatehouse_policy::approvals::APPROVALS_FILE).display()
                );
            }
            for (line, name) in gatehouse_server::notify::unknown_vendor_targets(&policies, &config.notify) {
                eprintln!(
                    "warning: {}:{line}: notify names `{name}`, but no [notify.{name}] section configures it \
                     (`serve` would refuse to start)",
                    dir.join(gatehouse_policy::vendor_access::VENDOR_ACCESS_FILE).display()
                );
            }
            for (line, name) in gatehouse_server::notify::unknown_review_targets(&policies, &config.notify) {
                eprintln!(
                    "warning: {}:{line}: notify names `{name}`, but no [notify.{name}] section configures it \
                     (`serve` would refuse to start)",
                    dir.join(gatehouse_policy::reviews::REVIEWS_FILE).display()
                );
            }
            Ok(())
        }
        Err(PolicyError::Invalid(problems)) => {
            for problem in &problems {
                eprintln!("{}", with_dir(dir, problem));
            }
            Err(CliError::refused(format!("{} has {} problem(s)", dir.display(), problems.len())))
        }
        Err(other) => Err(CliError::config(other.to_string())),
    }
}

fn with_dir(dir: &std::path::Path, problem: &gatehouse_policy::PolicyProblem) -> String {
    let mut located = problem.clone();
    if !located.file.starts_with('(') {
        located.file = dir.join(&located.file).display().to_string();
    }
    located.to_string()
}
