//! `gatehouse audit export` and `gatehouse audit verify`.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::Path;

use gatehouse_audit::export::{
    HashedLine, Locator, Verifier, VerifyError, checkpoint_line, entry_line, hash_line, header_line,
};
use gatehouse_store::AuditSettings;

use crate::args::AuditCommand;
use crate::bootstrap::open_store;
use crate::config::Config;
use crate::error::{CliError, CliResult};

const PAGE: u32 = 5_000;

pub async fn run(config: &Config, command: &AuditCommand) -> CliResult<()> {
    match command {
        AuditCommand::Export { out } => export(config, out).await,
        AuditCommand::Verify { file, public_key } => verify(file, public_key.as_deref()),
    }
}

async fn export(config: &Config, out: &Path) -> CliResult<()> {
    let store = open_store(config, AuditSettings::default()).await?;
    let failed =
        |e: gatehouse_domain::store::StoreError| CliError::config(format!("reading the audit log failed: {e}"));
    let installation = store
        .find_installation()
        .await
        .map_err(failed)?
        .ok_or_else(|| CliError::config("gatehouse is not initialized"))?;
    let checkpoint = store
        .latest_checkpoint()
        .await
        .map_err(failed)?
        .ok_or_else(|| CliError::config("the audit log has no checkpoint yet"))?;

    let tmp = out.with_extension("partial");
    let write_error = |e: std::io::Error| CliError::config(format!("cannot write {}: {e}", out.display()));
    let mut writer = BufWriter::new(File::create(&tmp).map_err(write_error)?);
    writeln!(writer, "{}", header_line(&installation.audit_origin, &installation.audit_public_key))
        .map_err(write_error)?;
    let mut next = 0u64;
    while next < checkpoint.tree_size {
        let limit = u32::try_from((checkpoint.tree_size - next).min(u64::from(PAGE))).unwrap_or(PAGE);
        let leaves = store.list_audit_leaves(next, limit).await.map_err(failed)?;
        if leaves.is_empty() {
            return Err(CliError::config(format!("audit entry {next} is missing from the database")));
        }
        for (index, leaf) in leaves {
            if index != next {
                return Err(CliError::config(format!("audit entry {next} is missing from the database")));
            }
            writeln!(writer, "{}", entry_line(index, &leaf)).map_err(write_error)?;
            next += 1;
        }
    }
    writeln!(writer, "{}", checkpoint_line(&checkpoint.note)).map_err(write_error)?;
    writer.into_inner().map_err(|e| write_error(e.into_error()))?.sync_all().map_err(write_error)?;
    std::fs::rename(&tmp, out).map_err(write_error)?;
    println!("exported {} entries to {}", checkpoint.tree_size, out.display());
    Ok(())
}

fn verify(file: &Path, public_key: Option<&str>) -> CliResult<()> {
    let trusted = public_key.map(crate::files::trusted_key).transpose()?;
    let result = first_pass(file, trusted.as_deref())?;
    match result {
        Ok(verified) => {
            use base64::Engine as _;
            println!(
                "verified: {} entries, origin {}, root {}",
                verified.size,
                verified.origin,
                base64::engine::general_purpose::STANDARD.encode(verified.root)
            );
            Ok(())
        }
        Err((error, false)) => Err(refusal(&error)),
        Err((_, true)) => Err(refusal(&locate(file)?)),
    }
}

fn refusal(error: &VerifyError) -> CliError {
    match error.index {
        Some(index) => CliError::refused(format!("the audit export does not verify; first bad index {index}: {error}")),
        None => CliError::refused(format!("the audit export does not verify: {error}")),
    }
}

type FirstPass = Result<gatehouse_audit::export::Verified, (VerifyError, bool)>;

fn open_lines(file: &Path) -> CliResult<(BufReader<File>, u64)> {
    let handle = File::open(file).map_err(|e| CliError::config(format!("cannot read {}: {e}", file.display())))?;
    let length = handle.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((BufReader::with_capacity(1 << 20, handle), length))
}

fn progress(length: u64) -> Option<indicatif::ProgressBar> {
    // A bar only for people, and only when there is something to wait for.
    (std::io::stderr().is_terminal() && length > 50 << 20).then(|| {
        let bar = indicatif::ProgressBar::new(length);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} verifying {bytes}/{total_bytes} {bar:40} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    })
}

/// Lines per chunk: parsed, decoded and hashed in parallel, then folded
/// into the tree in order.
const CHUNK: usize = 16_384;

fn first_pass(file: &Path, trusted: Option<&str>) -> CliResult<FirstPass> {
    let (mut reader, length) = open_lines(file)?;
    let bar = progress(length);
    let read_error = |e: std::io::Error| CliError::config(format!("cannot read {}: {e}", file.display()));
    let mut header = Vec::new();
    if reader.read_until(b'\n', &mut header).map_err(read_error)? == 0 {
        return Ok(Err((VerifyError { index: None, message: "the file is empty".into() }, false)));
    }
    // A header that is not text is a bad export, not an unreadable file.
    let Ok(header) = std::str::from_utf8(&header) else {
        return Ok(Err((VerifyError { index: None, message: "the first line is not UTF-8".into() }, false)));
    };
    let mut verifier = match Verifier::new(header.trim_end_matches('\n'), trusted) {
        Ok(verifier) => verifier,
        Err(error) => return Ok(Err((error, false))),
    };
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(8);
    let mut read = 0u64;
    let mut chunk: Vec<Vec<u8>> = Vec::with_capacity(CHUNK);
    loop {
        chunk.clear();
        while chunk.len() < CHUNK {
            let mut line = Vec::with_capacity(600);
            let bytes = reader.read_until(b'\n', &mut line).map_err(read_error)?;
            if bytes == 0 {
                break;
            }
            read += bytes as u64;
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            chunk.push(line);
        }
        if chunk.is_empty() {
            break;
        }
        let base = verifier.entries();
        for hashed in hash_chunk(&chunk, base, workers) {
            if let Err(error) = hashed.and_then(|line| verifier.accept(line)) {
                return Ok(Err((error, false)));
            }
        }
        if let Some(bar) = &bar {
            bar.set_position(read);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(verifier.finish())
}

/// Parses and hashes `lines` (the first expected to hold entry `base`) on
/// `workers` threads; results in line order.
fn hash_chunk(lines: &[Vec<u8>], base: u64, workers: usize) -> Vec<Result<HashedLine, VerifyError>> {
    let per_worker = lines.len().div_ceil(workers.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(per_worker)
            .enumerate()
            .map(|(part, slice)| {
                let first = base + (part * per_worker) as u64;
                scope.spawn(move || {
                    slice.iter().enumerate().map(|(i, line)| hash_line(line, first + i as u64)).collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    vec![Err(VerifyError { index: None, message: "a verification thread failed".into() })]
                })
            })
            .collect()
    })
}

fn locate(file: &Path) -> CliResult<VerifyError> {
    let (reader, _) = open_lines(file)?;
    let mut locator = Locator::new();
    for line in reader.lines().skip(1) {
        let line = line.map_err(|e| CliError::config(format!("cannot read {}: {e}", file.display())))?;
        locator.line(&line);
    }
    Ok(locator.finish())
}
