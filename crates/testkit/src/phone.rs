//! A phone's engine (a [`Tracer`]) as tests open it: on a manual clock, with a seeded random
//! generator, trusting the test authority unless told otherwise.

use std::path::Path;
use std::sync::Arc;

use bluezone_core::{ManualClock, MasterKey, StorageLocation, Tracer, TracerConfig};
use rand::SeedableRng;

use crate::signer::{test_signer, trusting};

/// How to open a test phone; [`TestPhone::open`] opens it.
#[derive(Debug, Clone)]
pub struct TestPhone {
    config: TracerConfig,
    storage: StorageLocation,
    master_key: [u8; 32],
    seed: u64,
}

impl Default for TestPhone {
    fn default() -> Self {
        Self::new()
    }
}

impl TestPhone {
    /// An in-memory phone trusting [`test_signer`], master key `0x03` × 32, seed 3.
    #[must_use]
    pub fn new() -> Self {
        Self {
            config: TracerConfig {
                trusted_signers: trusting(&test_signer()),
                ..TracerConfig::default()
            },
            storage: StorageLocation::InMemory,
            master_key: [3; 32],
            seed: 3,
        }
    }

    /// With this configuration (replacing the trusted signers too).
    #[must_use]
    pub fn config(mut self, config: TracerConfig) -> Self {
        self.config = config;
        self
    }

    /// With the configuration changed by `change`.
    #[must_use]
    pub fn configure(mut self, change: impl FnOnce(&mut TracerConfig)) -> Self {
        change(&mut self.config);
        self
    }

    /// Stored in the file at `path` instead of in memory.
    #[must_use]
    pub fn file(mut self, path: &Path) -> Self {
        self.storage = StorageLocation::File(path.to_owned());
        self
    }

    /// Stored where `storage` says.
    #[must_use]
    pub fn storage(mut self, storage: StorageLocation) -> Self {
        self.storage = storage;
        self
    }

    /// With the master key `byte` × 32.
    #[must_use]
    pub fn master_key(mut self, byte: u8) -> Self {
        self.master_key = [byte; 32];
        self
    }

    /// With the random generator seeded by `seed` (the phone's keys follow from it).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The phone, reading the time from `clock`.
    ///
    /// # Panics
    /// If the tracer does not open (the test fails there).
    #[must_use]
    pub fn open(self, clock: &Arc<ManualClock>) -> Tracer {
        self.try_open(clock).expect("the test phone opens")
    }

    /// The phone, or why it did not open.
    ///
    /// # Errors
    /// What [`Tracer::open_with`] returns.
    pub fn try_open(self, clock: &Arc<ManualClock>) -> Result<Tracer, bluezone_core::CoreError> {
        Tracer::open_with(
            self.config,
            self.storage,
            &MasterKey::from_bytes(self.master_key),
            clock.clone(),
            Box::new(rand::rngs::StdRng::seed_from_u64(self.seed)),
        )
    }
}

/// A default [`TestPhone`] and the manual clock it reads, set to Unix second `now`.
#[must_use]
pub fn phone_at(now: i64) -> (Tracer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(now));
    (TestPhone::new().open(&clock), clock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_phone_reads_the_clock_it_was_given() {
        let (phone, clock) = phone_at(crate::MORNING);
        let first = phone.current_advertisement().expect("an advert");
        assert!(first.rotated_at <= crate::MORNING);
        clock.set(crate::MORNING + 86_400);
        let later = phone.current_advertisement().expect("an advert");
        assert!(later.rotated_at > crate::MORNING, "{later:?}");
    }
}
