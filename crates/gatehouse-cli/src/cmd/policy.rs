//! `gatehouse policy validate`.

use gatehouse_policy::{Policies, PolicyError, PolicySetSource};

use crate::args::PolicyCommand;
use crate::config::Config;
use crate::error::{CliError, CliResult};

pub fn run(config: &Config, command: &PolicyCommand) -> CliResult<()> {
    match command {
        PolicyCommand::Validate => validate(config),
        PolicyCommand::Test { files } => test(config, files),
    }
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
