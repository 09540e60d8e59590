//! Copying audit entries to a SIEM: each durable entry as one JSON line (its
//! canonical leaf JSON) on stdout or appended to a file. The log itself does
//! not depend on it; a failed write is reported and the log goes on.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::{Arc, Mutex};

use gatehouse_domain::store::{AuditForwarder, DurableEntry};

use crate::config::AuditForward;
use crate::error::{CliError, CliResult};

struct JsonLines {
    sink: Mutex<Box<dyn Write + Send>>,
}

impl AuditForwarder for JsonLines {
    fn forward(&self, entries: &[DurableEntry]) {
        let mut buffer = Vec::with_capacity(entries.iter().map(|entry| entry.leaf.len() + 1).sum());
        for entry in entries {
            buffer.extend_from_slice(&entry.leaf);
            buffer.push(b'\n');
        }
        let mut sink = self.sink.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(error) = sink.write_all(&buffer).and_then(|()| sink.flush()) {
            tracing::warn!(%error, "could not forward audit entries");
        }
    }
}

pub fn forwarder(target: Option<&AuditForward>) -> CliResult<Option<Arc<dyn AuditForwarder>>> {
    let sink: Box<dyn Write + Send> = match target {
        None => return Ok(None),
        Some(AuditForward::Stdout) => Box::new(std::io::stdout()),
        Some(AuditForward::File(path)) => Box::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| CliError::config(format!("cannot open audit forward file {}: {e}", path.display())))?,
        ),
    };
    Ok(Some(Arc::new(JsonLines { sink: Mutex::new(sink) })))
}
