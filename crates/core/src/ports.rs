//! What the engine needs from the outside world, as small traits: a clock and randomness.
//! Real implementations are the defaults; tests and the simulator inject their own.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Current Unix time in seconds.
    fn now(&self) -> i64;
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that only moves when told to: for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `now`.
    #[must_use]
    pub fn new(now: i64) -> Self {
        Self(AtomicI64::new(now))
    }

    /// Sets the time.
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Moves the time forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> i64 {
        (**self).now()
    }
}

/// A cryptographic random number generator the engine can own.
pub type SecureRandom = Box<dyn rand_core::CryptoRng + Send>;

/// The operating system's random number generator.
#[must_use]
pub fn system_random() -> SecureRandom {
    Box::new(rand_core::UnwrapErr(rand::rngs::SysRng))
}

/// Told when the person should be notified of an exposure (the platform posts the
/// notification). Called at most once per new exposure decision, from the thread that
/// processed the key files.
pub trait Notifier: Send + Sync {
    /// An exposure reached the notification threshold for the first time.
    fn exposure_detected(&self, status: &crate::exposure::ExposureStatus);
}

/// Where adverts heard go. Every source of sightings (a phone shell through the FFI, the
/// simulator's radio, a desktop Bluetooth scanner) hands its batches to a sink, so nothing
/// downstream knows where adverts came from. [`crate::Tracer`] is the sink that matters;
/// tests use recorders.
pub trait SightingSink: Send + Sync {
    /// Takes one batch of adverts heard (usually one scan window's worth).
    ///
    /// # Errors
    /// Whatever storing the batch failed with; refused sightings are counted in the
    /// returned report, not errors.
    fn deliver(
        &self,
        batch: &[crate::ingest::SightingInput],
    ) -> Result<crate::ingest::IngestReport, crate::error::CoreError>;
}
