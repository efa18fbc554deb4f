//! A phone engine that only records: for driver and session tests that look at what the
//! driver hands over, without a store.

use bluezone_core::{CoreError, CurrentAdvertisement, IngestReport, PhoneEngine, SightingInput};

/// Keeps every batch of sightings it is given and accepts them all; never advertises.
/// Driver state is kept in `saved` (start it with bytes to see whether a driver reads them).
#[derive(Debug, Default)]
pub struct RecordingEngine {
    /// Every batch handed over, in order.
    pub batches: Vec<Vec<SightingInput>>,
    /// The driver state, as last saved (or as the test started it).
    pub saved: Option<Vec<u8>>,
}

impl RecordingEngine {
    /// Every sighting handed over, batches joined.
    #[must_use]
    pub fn sightings(&self) -> Vec<SightingInput> {
        self.batches.concat()
    }
}

impl PhoneEngine for &mut RecordingEngine {
    fn current_advertisement(&mut self) -> Result<CurrentAdvertisement, CoreError> {
        Err(CoreError::InvalidConfig(
            "a recording engine never advertises",
        ))
    }

    fn record(&mut self, batch: &[SightingInput]) -> Result<IngestReport, CoreError> {
        self.batches.push(batch.to_vec());
        Ok(IngestReport {
            accepted: batch.len() as u64,
            ..IngestReport::default()
        })
    }

    fn load_driver_state(&mut self) -> Result<Option<Vec<u8>>, CoreError> {
        Ok(self.saved.clone())
    }

    fn save_driver_state(&mut self, bytes: &[u8]) -> Result<(), CoreError> {
        self.saved = Some(bytes.to_vec());
        Ok(())
    }
}
