//! One download batch ([`crate::Tracer::download_batch`]): read the server's index, fetch
//! the files the [`DownloadLedger`] plans, match them, and record in the ledger what was
//! processed and what failed. The bookkeeping itself is pure and lives in
//! [`crate::downloads`]; this module does the fetching and the storing.

use crate::downloads::{self, DownloadFailure, DownloadLedger};
use crate::error::CoreError;
use crate::exposure::{ExposureStatus, OnRefusal};
use crate::logging::Safe;
use crate::tracer::Tracer;
use crate::transport::Transport;

/// Runs one batch; see [`crate::Tracer::download_batch`]. With `risk_config`, first fetches
/// the authority's risk configuration and applies it when newer, so this batch's files and
/// status are scored with it (once per run: [`crate::Tracer::download_all`] asks for it in
/// its first batch only).
pub(crate) fn download_batch(
    tracer: &Tracer,
    transport: &dyn Transport,
    cancelled: &dyn Fn() -> bool,
    risk_config: bool,
) -> Result<ExposureStatus, CoreError> {
    let _downloading = tracer.downloading.lock().map_err(|_| CoreError::Poisoned)?;
    let (mut ledger, max, now) = {
        let engine = tracer.lock()?;
        if engine.config.trusted_signers.0.is_empty() {
            return Err(CoreError::NoTrustedSigners);
        }
        (
            engine.download_ledger()?,
            engine.config.max_files_per_download,
            engine.clock.now(),
        )
    };
    if risk_config {
        crate::risk_config::fetch_and_apply(tracer, transport);
    }
    let reply = transport
        .get(downloads::INDEX_PATH)
        .inspect_err(|_| log::warn!("download: network failure fetching the index"))?;
    if reply.status != 200 {
        log::warn!("download: the index was refused with HTTP {}", reply.status);
        return crate::upload::answer::<()>(reply).map(|()| ExposureStatus::default());
    }
    let index = downloads::parse_index(&reply.body);
    drop(reply);
    log::debug!(
        "download: the index lists {} files ({} lines skipped, truncated: {})",
        index.names.len(),
        index.skipped_lines,
        index.truncated
    );
    if index.names.is_empty() && index.skipped_lines > 0 {
        // Not an index (a captive portal's page, say): keep what the phone remembers.
        log::warn!("download: the index lists no valid file name");
        return Err(CoreError::Protocol(
            "the key-file index lists no valid file name".into(),
        ));
    }
    let stored = ledger.clone();
    ledger.prune(&index.names);
    let plan = ledger.plan(&index.names, now, max);
    let mut names = Vec::with_capacity(plan.fetch.len());
    let mut bodies = Vec::with_capacity(plan.fetch.len());
    let mut files_failed = 0u32;
    let mut network_error = None;
    let planned = plan.fetch.len();
    let mut unreached = 0u32;
    for (position, name) in plan.fetch.into_iter().enumerate() {
        if cancelled() {
            unreached = u32::try_from(planned - position).unwrap_or(u32::MAX);
            log::info!("download: cancelled with {unreached} files not fetched");
            break;
        }
        match transport.get(&downloads::file_path(&name)) {
            Ok(reply) if reply.status == 200 => {
                names.push(name);
                bodies.push(reply.body);
            }
            Ok(reply) => {
                log::warn!("download: {name} not served (HTTP {})", reply.status);
                ledger.record_failure(&name, DownloadFailure::HttpStatus(reply.status), now);
                files_failed += 1;
            }
            Err(error) => {
                // Process what arrived; the rest waits for the next call.
                log::warn!("download: network failure fetching {name}; the rest waits");
                network_error = Some(error);
                break;
            }
        }
    }
    let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
    let matched = tracer.match_files(&refs, Some(&names), OnRefusal::Skip);
    drop(refs);
    drop(bodies);
    let (mut status, outcomes) = match matched {
        Ok(done) => done,
        Err(error) => {
            log::warn!("download: matching failed: {}", Safe(&error));
            tracer.lock()?.save_download_ledger(&stored, &ledger)?;
            return Err(error);
        }
    };
    record_outcomes(&mut ledger, &names, &outcomes, now, &mut files_failed);
    tracer.lock()?.save_download_ledger(&stored, &ledger)?;
    if let Some(error) = network_error {
        return Err(error.into());
    }
    status.files_failed = files_failed;
    status.files_remaining = plan.remaining.saturating_add(unreached);
    log::info!(
        "download batch: {} fetched, {} matched, {} already matched, {} failed, {} remaining, \
         {} waiting for a retry",
        names.len(),
        status.files_matched,
        status.files_already_matched,
        status.files_failed,
        status.files_remaining,
        plan.waiting
    );
    Ok(status)
}

/// Records each fetched file as processed, or failed with its refusal.
fn record_outcomes(
    ledger: &mut DownloadLedger,
    names: &[String],
    outcomes: &[Option<bluezone_protocol::keyfile::KeyFileError>],
    now: i64,
    files_failed: &mut u32,
) {
    for (name, outcome) in names.iter().zip(outcomes) {
        match outcome {
            None => ledger.record_processed(name),
            Some(error) => {
                ledger.record_failure(name, DownloadFailure::Refused(error.into()), now);
                *files_failed += 1;
            }
        }
    }
}
