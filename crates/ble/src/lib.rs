//! Desktop Bluetooth for Bluezone: listen to real exposure-notification beacons from a laptop
//! (Linux through BlueZ, macOS, Windows) with the same phone driver and engine the phones run.
//!
//! - [`frame`]: what a desktop stack reports ([`AdvertFrame`]: service data, advertised
//!   services, Apple's overflow flag, RSSI, TX power level if advertised; [`ReadFrame`]: a
//!   payload read over GATT) and the JSON-lines form of recordings.
//! - [`session`]: [`Session`], the core's phone driver ([`bluezone_core::Phone`]) as a
//!   desktop runs it: the driver cuts continuous scanning into windows, stores each window's
//!   sightings through the engine, reads iPhones over GATT and pauses when Bluetooth goes;
//!   the session only keeps counts and the lines to show. Nothing downstream knows whether
//!   adverts came from a phone, the simulator, a recording or this scanner.
//! - [`scanner`]: the btleplug executor of the driver's commands, with [`BleError`] saying
//!   exactly why scanning cannot start (no system bus, no Bluetooth service, no adapter, no
//!   permission, adapter off).
//! - [`replay`]: a recording as the executor, on the recording's own clock (deterministic).
//!
//! Decoding stays in the protocol crate, validation in the core, and every decision about
//! windows, storing and reads in the driver; this crate only moves bytes and timestamps.

pub mod error;
pub mod frame;
pub mod replay;
pub mod scanner;
pub mod session;

pub use error::BleError;
pub use frame::{AdvertFrame, ReadFrame, ReadResult, Recorded};
pub use session::{Heard, ReadDone, ScanSummary, Session, Shown};
