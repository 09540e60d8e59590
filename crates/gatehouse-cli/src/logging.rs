//! Structured logs on stderr, as text or JSON lines. The level comes from
//! `[log] level` (`GATEHOUSE_LOG_LEVEL`), an `EnvFilter` directive. Text is
//! coloured only when stderr is a terminal: a file or a pipe gets plain text.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    // A log line that cannot be written (stderr on a full disk) is dropped:
    // the subscriber's own report of it goes through `eprintln!`, which
    // panics when stderr fails, and that took down whatever was logging
    // (a request, the audit writer). Colour only on a terminal.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .log_internal_errors(false);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
