//! What every test file of the workspace used to rebuild for itself, in one place.
//!
//! A dev-dependency only: nothing here ships. The pieces:
//! - [`secrets`]: distinctive secret bytes and the check that a text (a `Debug` print, a log
//!   line, an error) shows none of them in any of the forms a leak takes;
//! - [`signer`]: the test health authority's key-file signer and the keys a phone trusts;
//! - [`keys`]: diagnosis keys, the adverts a phone with a given key sends, signed key files;
//! - [`phone`]: a [`bluezone_core::Tracer`] at a given time on a manual clock;
//! - [`engine`]: a phone engine that only records what a driver hands over;
//! - [`files`]: a SQLite database's files on disk, to compare or search;
//! - [`cli`]: the `bluezone` binary run as a test runs it, with its failures shown;
//! - [`uploads`]: an upload's body as a phone builds it.

pub mod cli;
pub mod engine;
pub mod files;
pub mod keys;
pub mod phone;
pub mod secrets;
pub mod signer;
pub mod uploads;

/// 2026-11-01 08:00 UTC, Unix seconds: the morning most tests live on.
pub const MORNING: i64 = 1_793_491_200 + 8 * 3600;
