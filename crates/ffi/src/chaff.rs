//! Chaff for the background job: when the next fake upload sequence is due, and one call
//! that sends it if it is ([`BluezoneTracer::run_due_chaff`]). The schedule is the core's
//! ([`bluezone_core::chaff`]); the platform only wakes at [`BluezoneTracer::next_chaff_at`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use bluezone_core::ChaffReport;

use crate::download::DownloadCancellation;
use crate::error::BluezoneError;
use crate::{BluezoneTracer, HttpClient, off_thread, transport};

/// How often the pause inside a sequence looks at the cancellation flag.
const CANCEL_CHECK: Duration = Duration::from_millis(250);

/// Sleeps `gap` on this (worker) thread unless `cancellation` is set first; whether the
/// whole gap passed.
fn pause(gap: Duration, cancellation: &DownloadCancellation) -> bool {
    let end = Instant::now() + gap;
    loop {
        if cancellation.is_cancelled() {
            return false;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(CANCEL_CHECK));
    }
}

#[uniffi::export]
impl BluezoneTracer {
    /// When the next fake upload sequence is due (Unix seconds), for the platform to wake a
    /// background job then; `None` when chaff is off.
    pub fn next_chaff_at(&self) -> Result<Option<i64>, BluezoneError> {
        Ok(self.inner.next_chaff_at()?)
    }

    /// Sends a fake upload sequence through `http` if one is due, exactly as a real upload
    /// sends its requests (the pause between them included: up to 20 seconds on this
    /// call's own thread), and says when the next is due. Setting `cancellation` ends the
    /// sequence at the pause. Touches no key, no pending upload, no exposure state.
    pub async fn run_due_chaff(
        &self,
        http: Arc<dyn HttpClient>,
        cancellation: Arc<DownloadCancellation>,
    ) -> Result<ChaffReport, BluezoneError> {
        let inner = self.inner.clone();
        off_thread(move || {
            Ok(inner.run_due_chaff(&transport::Foreign(http), &|gap| pause(gap, &cancellation))?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_pause_ends_at_once_and_an_empty_one_passes() {
        let flag = DownloadCancellation::new();
        assert!(pause(Duration::ZERO, &flag));
        flag.cancel();
        assert!(!pause(Duration::from_secs(3600), &flag));
    }
}
