//! A whole download run, as a platform's background job makes it: batches of
//! [`Tracer::download_batch`] until the server lists nothing new, cancellation honoured
//! between and within batches, and what the job's scheduler should do next.
//!
//! The job (Android's WorkManager, iOS's `BGTaskScheduler`) only carries out the answer:
//! post the notification when [`DownloadRun::status`] says `newly_notified` (whatever the
//! end), then report success, "retry with back-off" or "wait for the next period" as
//! [`DownloadEnd`] says. No error classification lives in Kotlin or Swift.

use crate::error::CoreError;
use crate::exposure::ExposureStatus;
use crate::tracer::Tracer;
use crate::transport::Transport;
use bluezone_store::StoreError;

/// The most batches one run makes (64 files each by default): a run of a phone that was
/// offline for the whole retention period needs about six.
pub const MAX_BATCHES: u32 = 64;

/// When a failed run should be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A passing condition (network, the server busy or down, the disk full, a timeout):
    /// retry with the scheduler's back-off.
    Soon,
    /// Retrying cannot help before something changes (a store the key does not open, no
    /// trusted signer configured, the server refusing this client, an internal failure):
    /// wait for the next scheduled run, do not retry in a loop.
    NextRun,
}

impl CoreError {
    /// Whether retrying the call that failed this way can help soon.
    #[must_use]
    pub fn retry(&self) -> Retry {
        match self {
            Self::Network(_) | Self::Protocol(_) => Retry::Soon,
            Self::Server {
                status: 408 | 429 | 500..=599,
                ..
            } => Retry::Soon,
            Self::Store(StoreError::Full | StoreError::Io(_) | StoreError::Sqlite(_)) => {
                Retry::Soon
            }
            _ => Retry::NextRun,
        }
    }
}

/// How a run ended.
#[derive(Debug)]
pub enum DownloadEnd {
    /// Every file the server lists was processed or is waiting for its own retry.
    Done,
    /// The caller cancelled: what was processed is kept; the next run continues.
    Cancelled,
    /// A batch failed; the batches before it are kept.
    Failed {
        /// What failed (log-safe).
        error: CoreError,
        /// When to try again.
        retry: Retry,
    },
}

/// What a run did, and how it ended.
#[derive(Debug)]
pub struct DownloadRun {
    /// The batches together: counts summed, `newly_notified` if any batch notified, the
    /// decision (`notify`, days) of the last batch that completed.
    pub status: ExposureStatus,
    /// Batches that completed.
    pub batches: u32,
    /// How the run ended.
    pub end: DownloadEnd,
}

impl Tracer {
    /// Downloads and processes everything new, batch after batch, until the server lists
    /// nothing this phone has not processed, `cancelled` says stop (checked before every
    /// file), a batch fails, a batch makes no progress, or [`MAX_BATCHES`] ran. Never
    /// returns an error: failures are in [`DownloadRun::end`] with their [`Retry`], and the
    /// batches before them are kept and counted.
    pub fn download_all(
        &self,
        transport: &dyn Transport,
        cancelled: &dyn Fn() -> bool,
    ) -> DownloadRun {
        let mut run = DownloadRun {
            status: ExposureStatus::default(),
            batches: 0,
            end: DownloadEnd::Done,
        };
        while run.batches < MAX_BATCHES {
            if cancelled() {
                run.end = DownloadEnd::Cancelled;
                break;
            }
            let first = run.batches == 0;
            match crate::download_batch::download_batch(self, transport, cancelled, first) {
                Ok(batch) => {
                    run.batches += 1;
                    let progress =
                        batch.files_matched + batch.files_already_matched + batch.files_failed;
                    merge(&mut run.status, batch);
                    if run.status.files_remaining == 0 {
                        break;
                    }
                    if cancelled() {
                        run.end = DownloadEnd::Cancelled;
                        break;
                    }
                    if progress == 0 {
                        // The server lists files this call could not move: stop here rather
                        // than ask again in a loop; they are counted in `files_remaining`.
                        break;
                    }
                }
                Err(error) if cancelled() => {
                    // Most likely the cancellation itself (the platform aborted the request).
                    drop(error);
                    run.end = DownloadEnd::Cancelled;
                    break;
                }
                Err(error) => {
                    let retry = error.retry();
                    run.end = DownloadEnd::Failed { error, retry };
                    break;
                }
            }
        }
        run
    }
}

/// Adds one batch to the run's total.
fn merge(total: &mut ExposureStatus, batch: ExposureStatus) {
    let newly_notified = total.newly_notified || batch.newly_notified;
    let files_matched = total.files_matched + batch.files_matched;
    let files_already_matched = total.files_already_matched + batch.files_already_matched;
    let files_failed = total.files_failed + batch.files_failed;
    let keys_checked = total.keys_checked + batch.keys_checked;
    *total = ExposureStatus {
        newly_notified,
        files_matched,
        files_already_matched,
        files_failed,
        keys_checked,
        ..batch
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportError;

    fn server(status: u16) -> CoreError {
        CoreError::Server {
            status,
            code: "x".into(),
            message: String::new(),
        }
    }

    #[test]
    fn passing_conditions_are_retried_soon_and_the_rest_waits_for_the_next_run() {
        let soon = [
            CoreError::Network(TransportError("timeout".into())),
            CoreError::Protocol("a captive portal's page".into()),
            server(408),
            server(429),
            server(500),
            server(503),
            CoreError::Store(StoreError::Full),
            CoreError::Store(StoreError::Io(std::io::Error::other("EIO"))),
        ];
        for e in &soon {
            assert_eq!(e.retry(), Retry::Soon, "{e:?}");
        }
        let next_run = [
            server(400),
            server(403),
            server(404),
            CoreError::Store(StoreError::WrongKey),
            CoreError::Store(StoreError::Corrupt("x".into())),
            CoreError::Store(StoreError::TooNew {
                found: 9,
                supported: 1,
            }),
            CoreError::NoTrustedSigners,
            CoreError::InvalidConfig("x"),
            CoreError::Poisoned,
        ];
        for e in &next_run {
            assert_eq!(e.retry(), Retry::NextRun, "{e:?}");
        }
    }

    #[test]
    fn batches_add_up_and_a_notification_in_any_batch_is_kept() {
        let mut total = ExposureStatus::default();
        merge(
            &mut total,
            ExposureStatus {
                notify: true,
                newly_notified: true,
                files_matched: 64,
                keys_checked: 100,
                files_remaining: 10,
                ..ExposureStatus::default()
            },
        );
        merge(
            &mut total,
            ExposureStatus {
                notify: true,
                files_matched: 10,
                files_failed: 1,
                keys_checked: 5,
                ..ExposureStatus::default()
            },
        );
        assert!(total.notify && total.newly_notified);
        assert_eq!((total.files_matched, total.files_failed), (74, 1));
        assert_eq!((total.keys_checked, total.files_remaining), (105, 0));
    }
}
