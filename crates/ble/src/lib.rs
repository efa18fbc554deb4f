//! Desktop Bluetooth for Bluezone: listen to real exposure-notification beacons from a laptop
//! (Linux through BlueZ, macOS, Windows) with the same core the phones run.
//!
//! - [`frame`]: one advertisement as a desktop stack reports it ([`AdvertFrame`]: service
//!   data, RSSI, TX power level if advertised), the filter that keeps FD6F adverts, and the
//!   JSON-lines form used for recordings.
//! - [`batch`]: [`Batcher`] groups frames into scan windows and hands each window to a
//!   `SightingSink` (the core's port, which a `Tracer` implements, as the simulator's radio
//!   does), so nothing downstream knows whether adverts came from a phone, the simulator,
//!   a recording or this scanner.
//! - [`scanner`]: the btleplug source, with [`BleError`] saying exactly why scanning cannot
//!   start (no system bus, no Bluetooth service, no adapter, no permission, adapter off).
//! - [`replay`]: a recorded JSON-lines file as a source, for tests and for QA.
//!
//! Decoding stays in the protocol crate and validation in the core; this crate only moves
//! bytes and timestamps.

pub mod batch;
pub mod error;
pub mod frame;
pub mod replay;
pub mod scanner;

pub use batch::{BatchSummary, Batcher, Heard};
pub use error::BleError;
pub use frame::AdvertFrame;
