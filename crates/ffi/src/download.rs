//! The download job's one call: every batch until nothing is new, cancellable, with what the
//! platform's scheduler should do next decided here ([`DownloadEnd`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bluezone_core::{HeldRiskConfig, Retry};

use crate::error::{BluezoneError, from_core};
use crate::records::ExposureStatus;
use crate::{BluezoneTracer, HttpClient, off_thread, transport};

/// A flag the platform sets when its background job must stop (WorkManager's `onStopped`,
/// coroutine cancellation, `BGTask.expirationHandler`); the download checks it before every
/// file and between batches, a fake upload sequence during its pause.
#[derive(Debug, Default, uniffi::Object)]
pub struct DownloadCancellation {
    cancelled: AtomicBool,
}

#[uniffi::export]
impl DownloadCancellation {
    /// A flag not set.
    #[uniffi::constructor]
    #[must_use]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Asks the download to stop as soon as it can; what it processed is kept.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Whether [`DownloadCancellation::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }
}

/// How a download run ended, as the platform's job reports it to its scheduler.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum DownloadEnd {
    /// Everything new was processed: the job succeeded.
    Done,
    /// The job was cancelled; what was processed is kept and the next run goes on.
    Cancelled,
    /// A passing failure (network, server busy, disk full): retry with back-off.
    RetrySoon {
        /// The [`BluezoneError`] code (30 network, 40/41 server, 22 storage full, ...).
        code: u32,
        /// What failed (log-safe).
        reason: String,
    },
    /// Retrying cannot help before something changes (no trusted signer configured, a store
    /// the key does not open, the server refusing this client): report failure to the
    /// scheduler and wait for the next periodic run; never retry in a loop.
    WaitForNextRun {
        /// The [`BluezoneError`] code.
        code: u32,
        /// What failed (log-safe).
        reason: String,
    },
}

/// What a download run did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DownloadReport {
    /// The batches together. Post the exposure notification when `newly_notified` is true,
    /// whatever [`DownloadReport::end`] says.
    pub status: ExposureStatus,
    /// Batches that completed.
    pub batches: u32,
    /// What to tell the scheduler.
    pub end: DownloadEnd,
}

impl From<bluezone_core::DownloadRun> for DownloadReport {
    fn from(run: bluezone_core::DownloadRun) -> Self {
        let end = match run.end {
            bluezone_core::DownloadEnd::Done => DownloadEnd::Done,
            bluezone_core::DownloadEnd::Cancelled => DownloadEnd::Cancelled,
            bluezone_core::DownloadEnd::Failed { error, retry } => {
                let error = from_core(&error);
                let (code, reason) = (error.code(), error.to_string());
                match retry {
                    Retry::Soon => DownloadEnd::RetrySoon { code, reason },
                    Retry::NextRun => DownloadEnd::WaitForNextRun { code, reason },
                }
            }
        };
        Self {
            status: run.status.into(),
            batches: run.batches,
            end,
        }
    }
}

#[uniffi::export]
impl BluezoneTracer {
    /// The download job's work: downloads and processes every new key file through `http`,
    /// batch after batch, until the server lists nothing new or `cancellation` is set. Never
    /// fails: how it ended, and what to tell the scheduler, is in [`DownloadReport::end`].
    /// The platform's job only carries that out (and posts the notification when
    /// `status.newly_notified`).
    pub async fn download_all(
        &self,
        http: Arc<dyn HttpClient>,
        cancellation: Arc<DownloadCancellation>,
    ) -> DownloadReport {
        let inner = self.inner.clone();
        let run = off_thread(move || {
            let run =
                inner.download_all(&transport::Foreign(http), &|| cancellation.is_cancelled());
            Ok(DownloadReport::from(run))
        })
        .await;
        run.unwrap_or_else(|error: BluezoneError| DownloadReport {
            status: bluezone_core::ExposureStatus::default().into(),
            batches: 0,
            end: DownloadEnd::WaitForNextRun {
                code: error.code(),
                reason: error.to_string(),
            },
        })
    }

    /// The health authority's risk configuration this phone holds (fetched by
    /// [`BluezoneTracer::download_all`]): its sequence, when it was issued (Unix seconds) and
    /// the authority's note, for the app to show its age; `None` while the built-in
    /// parameters apply.
    pub fn risk_config(&self) -> Result<Option<HeldRiskConfig>, BluezoneError> {
        Ok(self.inner.risk_config()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bluezone_core::CoreError;
    use bluezone_store::StoreError;

    fn end_of(error: CoreError, retry: Retry) -> DownloadEnd {
        DownloadReport::from(bluezone_core::DownloadRun {
            status: bluezone_core::ExposureStatus::default(),
            batches: 2,
            end: bluezone_core::DownloadEnd::Failed { error, retry },
        })
        .end
    }

    #[test]
    fn failures_carry_their_stable_code_and_the_scheduler_s_answer() {
        let end = end_of(CoreError::Store(StoreError::Full), Retry::Soon);
        assert!(
            matches!(
                end,
                DownloadEnd::RetrySoon {
                    code: crate::error::codes::STORAGE_FULL,
                    ..
                }
            ),
            "{end:?}"
        );
        let end = end_of(CoreError::NoTrustedSigners, Retry::NextRun);
        assert!(
            matches!(
                end,
                DownloadEnd::WaitForNextRun {
                    code: crate::error::codes::NOT_CONFIGURED,
                    ..
                }
            ),
            "{end:?}"
        );
    }

    #[test]
    fn the_flag_is_set_once_cancelled() {
        let flag = DownloadCancellation::new();
        assert!(!flag.is_cancelled());
        flag.cancel();
        assert!(flag.is_cancelled());
    }
}
