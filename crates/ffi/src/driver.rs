//! `BluezoneDriver`: the phone driver (`bluezone_core::driver`) and its glue
//! (`bluezone_core::Phone`) for the shells. The shell hands over every platform event with
//! the time and carries out the commands it gets back, in order; the engine's requests (the
//! advertisement to put on air, sightings to store, the driver's state to save) are answered
//! here by the tracer, so no sighting waits in Kotlin or Swift memory.
//!
//! `handle` is synchronous and cheap (it stores a batch at most). A panic inside it is
//! caught and returned as an internal error; the driver is then reopened from its saved
//! state and receives `Restarted(ProcessRestart)` before the next event, as after process
//! death.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard};

use bluezone_core::driver::{DriverConfig, Event, RestartReason};
use bluezone_core::{Phone, Tracer};

use crate::records::{
    CollectionReport, CollectionStatus, Diagnostics, DriverCommand, DriverEvent, DriverSettings,
    NearbyCount, Platform, driver_config,
};
use crate::{BluezoneError, BluezoneTracer};

/// The phone driver and what it needs to come back after a panic.
struct Slot {
    phone: Phone<Arc<Tracer>>,
    /// A panic left `phone` in an unknown state: reopen it before the next event.
    broken: bool,
    /// The reopened driver gets `Restarted(ProcessRestart)` before the next event.
    restart_pending: bool,
}

/// The driver of this phone's radio: events in, commands out.
#[derive(uniffi::Object)]
pub struct BluezoneDriver {
    tracer: Arc<Tracer>,
    config: DriverConfig,
    seed: u64,
    slot: Mutex<Slot>,
}

#[uniffi::export]
impl BluezoneDriver {
    /// A driver over `tracer`'s engine, resuming from the state it saved (off, as on a fresh
    /// install, when there is none). `settings` override the platform's defaults; `seed`
    /// feeds the scan jitter only (take it from the OS generator); `now_ms` is Unix ms.
    /// Send `Restarted` first after a process start, or `Enable` on first use.
    #[uniffi::constructor]
    pub fn new(
        tracer: Arc<BluezoneTracer>,
        platform: Platform,
        settings: Option<DriverSettings>,
        seed: u64,
        now_ms: i64,
    ) -> Result<Arc<Self>, BluezoneError> {
        let tracer = tracer.inner.clone();
        let config = driver_config(platform, settings);
        let phone = guarded(|| Phone::open(tracer.clone(), config.clone(), seed, now_ms))??;
        Ok(Arc::new(Self {
            tracer,
            config,
            seed,
            slot: Mutex::new(Slot {
                phone,
                broken: false,
                restart_pending: false,
            }),
        }))
    }

    /// Takes one event at `now_ms` (Unix ms) and returns the commands to carry out, in order.
    pub fn handle(
        &self,
        now_ms: i64,
        event: DriverEvent,
    ) -> Result<Vec<DriverCommand>, BluezoneError> {
        let event = Event::from(event);
        self.with_slot(now_ms, |phone, restart| {
            let mut commands = Vec::new();
            if restart {
                commands = phone.handle(now_ms, Event::Restarted(RestartReason::ProcessRestart));
            }
            commands.extend(phone.handle(now_ms, event));
            commands
        })
    }

    /// What to show the person.
    pub fn status(&self) -> Result<CollectionStatus, BluezoneError> {
        self.read(|phone| phone.driver().status())
    }

    /// Phones heard in the last completed window.
    pub fn nearby(&self) -> Result<Option<NearbyCount>, BluezoneError> {
        self.read(|phone| phone.driver().nearby())
    }

    /// When the driver next needs `DriverEvent.Timer` (Unix ms), if at all.
    pub fn next_wakeup(&self) -> Result<Option<i64>, BluezoneError> {
        self.read(|phone| phone.driver().next_wakeup())
    }

    /// Collection: status, "nearby now" and the driver's counts.
    pub fn collection(&self) -> Result<CollectionReport, BluezoneError> {
        self.read(Phone::collection)
    }

    /// The tracer's report on data collection with `collection` filled in (nothing in it
    /// leaves the phone).
    pub fn diagnostics(&self) -> Result<Diagnostics, BluezoneError> {
        let collection = self.read(Phone::collection)?;
        let mut diagnostics = guarded(|| self.tracer.diagnostics())??;
        diagnostics.collection = Some(collection);
        Ok(diagnostics.into())
    }
}

/// Test-only: a panic inside the driver's critical section, to prove it comes back.
#[cfg(feature = "testing")]
#[uniffi::export]
impl BluezoneDriver {
    /// Panics while holding the driver, as a bug in `handle` would.
    pub fn testing_panic(&self, now_ms: i64) -> Result<(), BluezoneError> {
        self.with_slot(now_ms, |_, _| panic!("deliberate panic for binding tests"))
    }
}

impl BluezoneDriver {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        // Every use of the slot runs under `catch_unwind` with the guard held outside it, so
        // the lock is never poisoned; if it were, `broken` decides what happens next.
        self.slot.lock().unwrap_or_else(|poisoned| {
            let mut slot = poisoned.into_inner();
            slot.broken = true;
            slot
        })
    }

    /// Runs `work` on the driver, reopening it first if an earlier call panicked; a panic in
    /// `work` marks it broken and becomes an internal error.
    fn with_slot<T>(
        &self,
        now_ms: i64,
        work: impl FnOnce(&mut Phone<Arc<Tracer>>, bool) -> T,
    ) -> Result<T, BluezoneError> {
        let mut slot = self.lock();
        if slot.broken {
            let reopened = guarded(|| {
                Phone::open(
                    self.tracer.clone(),
                    self.config.clone(),
                    self.seed.wrapping_add(now_ms.unsigned_abs()),
                    now_ms,
                )
            })??;
            slot.phone = reopened;
            slot.broken = false;
            slot.restart_pending = true;
        }
        let restart = slot.restart_pending;
        let outcome = guarded(|| work(&mut slot.phone, restart));
        match outcome {
            Ok(value) => {
                slot.restart_pending = false;
                Ok(value)
            }
            Err(e) => {
                slot.broken = true;
                Err(e)
            }
        }
    }

    /// Reads the driver (a read never changes it, so a broken one is read as it is).
    fn read<T>(&self, read: impl FnOnce(&Phone<Arc<Tracer>>) -> T) -> Result<T, BluezoneError> {
        let slot = self.lock();
        guarded(|| read(&slot.phone))
    }
}

/// Runs `work`, turning a panic into an internal error.
fn guarded<T>(work: impl FnOnce() -> T) -> Result<T, BluezoneError> {
    catch_unwind(AssertUnwindSafe(work))
        .map_err(|_| BluezoneError::internal("the phone driver panicked"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::records::{
        Advert, BluetoothState, BluezoneConfig, CollectionState, PauseReason, ScanReport,
    };

    fn now_ms() -> i64 {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        i64::try_from(since.as_millis()).unwrap()
    }

    fn driver(platform: Platform, settings: Option<DriverSettings>) -> Arc<BluezoneDriver> {
        let config = BluezoneConfig {
            tx_power_dbm: -15,
            rssi_correction_db: 0,
            trusted_signers: Vec::new(),
            upload_public_key: None,
            chaff_mean_interval_secs: None,
        };
        let tracer = BluezoneTracer::open(config, None, vec![7; 32]).unwrap();
        BluezoneDriver::new(tracer, platform, settings, 7, now_ms()).unwrap()
    }

    fn wake_at(commands: &[DriverCommand]) -> Option<i64> {
        commands.iter().find_map(|c| match c {
            DriverCommand::WakeAt { at_ms } => Some(*at_ms),
            _ => None,
        })
    }

    #[test]
    fn enable_advertises_scans_and_asks_for_a_wake_up() {
        let d = driver(Platform::Android, None);
        let t0 = now_ms();
        let commands = d.handle(t0, DriverEvent::Enable).unwrap();
        let advert = commands.iter().find_map(|c| match c {
            DriverCommand::StartAdvertising(request) => Some(request.clone()),
            _ => None,
        });
        let advert = advert.unwrap();
        assert_eq!((advert.payload.len(), advert.service_data.len()), (31, 20));
        assert!(advert.include_service_data && !advert.connectable);
        assert!(commands.iter().any(|c| matches!(
            c,
            DriverCommand::StartScan {
                window_ms: Some(4_000),
                ..
            }
        )));
        assert_eq!(wake_at(&commands), Some(t0 + 4_000));
        assert_eq!(d.next_wakeup().unwrap(), Some(t0 + 4_000));
        assert_eq!(d.status().unwrap().state, CollectionState::Collecting);

        // A payload heard, then the window ends: one sighting stored, one phone near.
        // Nothing changes, nothing to do.
        let again = d.handle(t0, DriverEvent::Enable).unwrap();
        assert!(again.is_empty(), "{again:?}");
        let report = ScanReport {
            device: "AA:BB:CC:DD:EE:FF".into(),
            advert: Advert::RawAdvertisingData {
                bytes: advert.payload,
            },
            service_uuids: Vec::new(),
            apple_overflow: false,
            rssi: -60,
            tx_power_dbm: None,
        };
        d.handle(t0 + 1_000, DriverEvent::ScanResult { report })
            .unwrap();
        let end = d.handle(t0 + 4_000, DriverEvent::Timer).unwrap();
        assert!(end.contains(&DriverCommand::StopScan), "{end:?}");
        let diagnostics = d.diagnostics().unwrap();
        assert_eq!(diagnostics.accepted_since_open, 1);
        let collection = diagnostics.collection.unwrap();
        assert_eq!(
            (collection.driver.windows, collection.driver.sightings),
            (1, 1)
        );
        assert_eq!(d.nearby().unwrap().map(|n| n.mid + n.near + n.far), Some(1));

        let off = d
            .handle(
                t0 + 5_000,
                DriverEvent::Bluetooth {
                    state: BluetoothState::Off,
                },
            )
            .unwrap();
        assert!(off.contains(&DriverCommand::StopAdvertising), "{off:?}");
        assert_eq!(
            d.status().unwrap().state,
            CollectionState::Paused(PauseReason::BluetoothOff)
        );
    }

    #[test]
    fn reads_past_the_payload_are_refused() {
        let d = driver(Platform::Ios, None);
        let t0 = now_ms();
        d.handle(t0, DriverEvent::Enable).unwrap();
        let answer = |offset| {
            d.handle(
                t0 + 10,
                DriverEvent::PayloadRequested { request: 9, offset },
            )
            .unwrap()
        };
        assert!(answer(25).contains(&DriverCommand::RespondToRead {
            request: 9,
            value: None
        }));
        assert!(answer(20).contains(&DriverCommand::RespondToRead {
            request: 9,
            value: Some(Vec::new())
        }));
    }

    #[test]
    fn a_panic_is_an_error_and_the_driver_resumes_from_its_saved_state() {
        let d = driver(Platform::Android, None);
        let t0 = now_ms();
        d.handle(t0, DriverEvent::Enable).unwrap();
        let e = d.with_slot(t0 + 1, |_, _| panic!("a bug")).err().unwrap();
        assert!(
            matches!(
                e,
                BluezoneError::Internal {
                    code: crate::error::codes::INTERNAL,
                    ..
                }
            ),
            "{e:?}"
        );
        // Reopened from the saved state (on), restarted, and collecting again.
        let commands = d.handle(t0 + 2, DriverEvent::ScanStarted).unwrap();
        assert!(
            commands
                .iter()
                .any(|c| matches!(c, DriverCommand::StartScan { .. })),
            "{commands:?}"
        );
        let collection = d.collection().unwrap();
        assert_eq!(collection.driver.restarts, 1);
        assert_eq!(collection.status.state, CollectionState::Collecting);
        // Only once.
        d.handle(t0 + 3, DriverEvent::Timer).unwrap();
        assert_eq!(d.collection().unwrap().driver.restarts, 1);
    }

    #[test]
    fn settings_override_the_platform_defaults_and_are_checked() {
        let quiet = DriverSettings {
            gatt_enabled: Some(false),
            scan_window_ms: Some(8_000),
            ..DriverSettings::default()
        };
        let config = driver_config(Platform::Android, Some(quiet.clone()));
        assert!(!config.gatt.enabled);
        assert_eq!(
            (config.scan_window_ms, config.scan_period_ms),
            (8_000, 300_000)
        );
        let d = driver(Platform::Android, Some(quiet));
        let commands = d.handle(now_ms(), DriverEvent::Enable).unwrap();
        assert!(commands.iter().any(|c| matches!(
            c,
            DriverCommand::StartScan {
                window_ms: Some(8_000),
                filters: crate::records::ScanFilters {
                    apple_manufacturer_data: false,
                    ..
                },
                ..
            }
        )));
        let tracer = BluezoneTracer::open(
            BluezoneConfig {
                tx_power_dbm: -15,
                rssi_correction_db: 0,
                trusted_signers: Vec::new(),
                upload_public_key: None,
                chaff_mean_interval_secs: None,
            },
            None,
            vec![7; 32],
        )
        .unwrap();
        let bad = DriverSettings {
            scan_window_ms: Some(10),
            ..DriverSettings::default()
        };
        let refused = BluezoneDriver::new(tracer, Platform::Android, Some(bad), 1, now_ms());
        assert!(matches!(
            refused.err(),
            Some(BluezoneError::InvalidInput {
                code: crate::error::codes::INVALID_CONFIG,
                ..
            })
        ));
    }
}
