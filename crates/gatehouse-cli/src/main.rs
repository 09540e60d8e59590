//! The `gatehouse` binary: parses the command line, resolves configuration,
//! and hands off to one module per subcommand. Exit codes: 0 success, 1 a
//! check failed or a request was refused, 2 usage or configuration error.

mod args;
mod bootstrap;
mod client;
mod cmd;
mod config;
mod error;
mod files;
mod forward;
mod git;
mod hook_input;
mod logging;
mod output;
mod policy_reload;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::config::{Config, ProcessEnvironment};
use crate::error::CliResult;

/// Many small, short-lived allocations on every request, from several
/// threads at once: mimalloc serves them from per-thread pages.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A reader that stops early (`gatehouse policy matrix | head`) is not an
/// error: `println!` panics on a closed pipe, so end quietly instead.
fn quiet_on_closed_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_closed_pipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gatehouse: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gatehouse: {error}");
            error.exit_code()
        }
    }
}

async fn run(cli: Cli) -> CliResult<()> {
    match &cli.command {
        Command::Init(args) => {
            let config = Config::resolve(&cli.global, None, &ProcessEnvironment)?;
            logging::init(&config);
            cmd::init::run(&config, args).await
        }
        Command::Serve(args) => {
            let config = Config::resolve(&cli.global, args.listen.as_deref(), &ProcessEnvironment)?;
            logging::init(&config);
            cmd::serve::run(&config).await
        }
        Command::Whoami => cmd::whoami::run(&cli.global).await,
        Command::Identity(command) => cmd::identity::run(&cli.global, command).await,
        Command::Token(command) => cmd::token::run(&cli.global, command).await,
        Command::Grant(command) => cmd::grant::run(&cli.global, command).await,
        Command::Binding(command) => cmd::binding::run(&cli.global, command).await,
        Command::Gate(args) => cmd::gate::run(&cli.global, args).await,
        Command::Key(command) => cmd::key::run(&cli.global, command).await,
        Command::VerifyCommit { repo, project, revs } => {
            cmd::verify::commits(&cli.global, repo.as_deref(), project.clone(), revs).await
        }
        Command::VerifyBlob { signature, file } => cmd::verify::blob(&cli.global, signature, file).await,
        Command::Hook(args::HookCommand::PreReceive) => cmd::verify::pre_receive(&cli.global).await,
        Command::Mfa(command) => cmd::mfa::run(&cli.global, command).await,
        Command::Request(command) => cmd::request::run(&cli.global, command).await,
        Command::BreakGlass(args) => cmd::break_glass::run(&cli.global, args).await,
        Command::Integration(command) => cmd::integration::run(&cli.global, command).await,
        Command::Vendor(command) => cmd::vendor::run(&cli.global, command).await,
        Command::Evidence(args) => cmd::evidence::run(&cli.global, args).await,
        Command::Review(command) => cmd::review::run(&cli.global, command).await,
        Command::Approvals(args::ApprovalsCommand::Check) => cmd::request::check_approvals(&cli.global).await,
        Command::Policy(args::PolicyCommand::Matrix { format }) => cmd::policy::matrix(&cli.global, *format).await,
        Command::Policy(command) => {
            let config = Config::resolve(&cli.global, None, &ProcessEnvironment)?;
            cmd::policy::run(&config, command)
        }
        Command::Audit(command) => {
            let config = Config::resolve(&cli.global, None, &ProcessEnvironment)?;
            cmd::audit::run(&config, command).await
        }
    }
}
