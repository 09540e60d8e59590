//! How the binary fails: one sentence on stderr and the contract's exit
//! code (1: a check failed or the request was refused; 2: usage or
//! configuration error, or nothing to talk to).

use std::fmt;
use std::process::ExitCode;

#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// The request was refused or a check failed.
    pub fn refused(message: impl Into<String>) -> Self {
        Self { code: 1, message: message.into() }
    }

    /// Bad usage, bad configuration, or an environment we cannot work in.
    pub fn config(message: impl Into<String>) -> Self {
        Self { code: 2, message: message.into() }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

pub type CliResult<T> = Result<T, CliError>;
