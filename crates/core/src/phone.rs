//! The glue between the phone driver and the engine: the driver's engine requests
//! (an advertisement, a batch to store, its state to save) answered by a [`PhoneEngine`]
//! (the `Tracer`), so a platform only ever sees radio [`Command`]s. The FFI, the simulator
//! and the desktop scanner all drive a phone through this one type.

use crate::driver::{
    Command, Driver, DriverConfig, DriverCounters, EngineRequest, Event, Output, SavedState,
};
use crate::error::CoreError;
use crate::ingest::{IngestReport, SightingInput};
use crate::logging::Safe;
use crate::rotation::CurrentAdvertisement;
use crate::tracer::Tracer;

/// What a phone's driver needs from its engine.
pub trait PhoneEngine {
    /// The advertisement to put on air now.
    ///
    /// # Errors
    /// The engine's (a key that cannot be stored is never advertised).
    fn current_advertisement(&mut self) -> Result<CurrentAdvertisement, CoreError>;
    /// Stores a batch of sightings.
    ///
    /// # Errors
    /// The engine's; the engine keeps what it folded and stores it with the next batch.
    fn record(&mut self, batch: &[SightingInput]) -> Result<IngestReport, CoreError>;
    /// The driver's saved state.
    ///
    /// # Errors
    /// The engine's.
    fn load_driver_state(&mut self) -> Result<Option<Vec<u8>>, CoreError>;
    /// Saves the driver's state.
    ///
    /// # Errors
    /// The engine's.
    fn save_driver_state(&mut self, bytes: &[u8]) -> Result<(), CoreError>;
    /// A count that moves whenever the identifier on air must change before its time (see
    /// [`Tracer::identity_changes`]). Engines that never release keys early keep the default.
    ///
    /// # Errors
    /// The engine's.
    fn identity_changes(&mut self) -> Result<u64, CoreError> {
        Ok(0)
    }
}

/// The tracer answers a phone's requests, held by reference or shared.
macro_rules! tracer_engine {
    ($($holder:ty),+) => {$(
        impl PhoneEngine for $holder {
            fn current_advertisement(&mut self) -> Result<CurrentAdvertisement, CoreError> {
                Tracer::current_advertisement(self)
            }
            fn record(&mut self, batch: &[SightingInput]) -> Result<IngestReport, CoreError> {
                self.record_sightings(batch)
            }
            fn load_driver_state(&mut self) -> Result<Option<Vec<u8>>, CoreError> {
                self.driver_state()
            }
            fn save_driver_state(&mut self, bytes: &[u8]) -> Result<(), CoreError> {
                Tracer::save_driver_state(self, bytes)
            }
            fn identity_changes(&mut self) -> Result<u64, CoreError> {
                Tracer::identity_changes(self)
            }
        }
    )+};
}

tracer_engine!(&Tracer, std::sync::Arc<Tracer>);

/// What the glue saw of the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineCounters {
    /// Sightings the engine took, and refused, through this phone.
    pub ingest: IngestReport,
    /// Engine calls that failed.
    pub errors: u64,
    /// The last failure, in words (no secrets: engine errors carry none).
    pub last_error: Option<String>,
}

/// A phone: its driver and its engine. See the module documentation.
#[derive(Debug)]
pub struct Phone<E: PhoneEngine> {
    driver: Driver,
    engine: E,
    counters: EngineCounters,
    /// The engine's [`PhoneEngine::identity_changes`] when last looked at.
    identity_changes: u64,
}

impl<E: PhoneEngine> Phone<E> {
    /// A phone resuming from the state its engine saved (as on a fresh install when there
    /// is none). Hand it [`Event::Restarted`] (or [`Event::Enable`] on first use).
    ///
    /// # Errors
    /// [`CoreError::InvalidConfig`] for a bad driver config; the engine's when the saved
    /// state cannot be read.
    pub fn open(
        mut engine: E,
        config: DriverConfig,
        seed: u64,
        now_ms: i64,
    ) -> Result<Self, CoreError> {
        let bytes = engine.load_driver_state().inspect_err(|e| {
            log::warn!("the driver's saved state could not be loaded: {}", Safe(e));
        })?;
        let saved = match bytes {
            None => SavedState::default(),
            Some(bytes) => SavedState::from_bytes(&bytes).unwrap_or_else(|| {
                log::warn!(
                    "the driver's saved state ({} bytes) is unreadable: starting as on a fresh \
                     install",
                    bytes.len()
                );
                SavedState::default()
            }),
        };
        let driver =
            Driver::restore(config, seed, now_ms, saved).map_err(CoreError::InvalidConfig)?;
        Ok(Self::assemble(driver, engine))
    }

    /// A phone that ignores any saved state (a one-shot session such as `bluezone scan`,
    /// which should not report "collecting since" an earlier run). It still saves.
    ///
    /// # Errors
    /// [`CoreError::InvalidConfig`] for a bad driver config.
    pub fn fresh(
        engine: E,
        config: DriverConfig,
        seed: u64,
        now_ms: i64,
    ) -> Result<Self, CoreError> {
        let driver = Driver::new(config, seed, now_ms).map_err(CoreError::InvalidConfig)?;
        Ok(Self::assemble(driver, engine))
    }

    fn assemble(driver: Driver, mut engine: E) -> Self {
        let identity_changes = engine.identity_changes().unwrap_or(0);
        Self {
            driver,
            engine,
            counters: EngineCounters::default(),
            identity_changes,
        }
    }

    /// Hands one event to the driver, answers its engine requests, and returns the commands
    /// for the platform, in order. When the engine has released the key on air since the
    /// last event (an upload), the driver rotates first: the published identifier leaves
    /// the air at the next event, whoever made the upload.
    pub fn handle(&mut self, now_ms: i64, event: Event) -> Vec<Command> {
        let mut commands = Vec::new();
        match self.engine.identity_changes() {
            Ok(changes) if changes != self.identity_changes => {
                self.identity_changes = changes;
                self.step(now_ms, Event::IdentityChanged, &mut commands);
            }
            Ok(_) => {}
            Err(e) => self.failed(e),
        }
        self.step(now_ms, event, &mut commands);
        commands
    }

    fn step(&mut self, now_ms: i64, event: Event, commands: &mut Vec<Command>) {
        self.driver.handle(now_ms, event);
        while let Some(output) = self.driver.poll_output() {
            match output {
                Output::Command(command) => commands.push(command),
                Output::Engine(EngineRequest::Advertisement) => {
                    let answer = match self.engine.current_advertisement() {
                        Ok(current) => Event::Advertisement(current),
                        Err(e) => {
                            let text = e.to_string();
                            self.failed(e);
                            Event::AdvertisementUnavailable(text)
                        }
                    };
                    self.driver.handle(now_ms, answer);
                }
                Output::Engine(EngineRequest::Record(batch)) => match self.engine.record(&batch) {
                    Ok(report) => self.counters.ingest.add(&report),
                    Err(e) => self.failed(e),
                },
                Output::Engine(EngineRequest::SaveState(bytes)) => {
                    if let Err(e) = self.engine.save_driver_state(&bytes) {
                        self.failed(e);
                    }
                }
            }
        }
    }

    fn failed(&mut self, e: CoreError) {
        self.counters.errors += 1;
        self.counters.last_error = Some(e.to_string());
    }

    /// The driver (status, nearby count, counters, next wake-up).
    #[must_use]
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// The engine.
    #[must_use]
    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// The engine, mutably.
    pub fn engine_mut(&mut self) -> &mut E {
        &mut self.engine
    }

    /// What the glue saw of the engine.
    #[must_use]
    pub fn engine_counters(&self) -> &EngineCounters {
        &self.counters
    }

    /// Collection as diagnostics show it.
    #[must_use]
    pub fn collection(&self) -> CollectionReport {
        CollectionReport {
            status: self.driver.status(),
            nearby: self.driver.nearby(),
            driver: self.driver.counters(),
            engine_errors: self.counters.errors,
        }
    }
}

/// Collection as diagnostics show it (`Diagnostics::collection`): status, "nearby now" and the
/// driver's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CollectionReport {
    /// What the person sees.
    pub status: crate::driver::CollectionStatus,
    /// Phones heard in the last window, by distance class.
    pub nearby: Option<crate::driver::NearbyCount>,
    /// What the driver did.
    pub driver: DriverCounters,
    /// Engine calls that failed.
    pub engine_errors: u64,
}
