#![doc = include_str!("../README.md")]

mod crypto;
pub mod error;
mod schema;
mod store;

pub use crypto::MasterKey;
pub use error::StoreError;
pub use schema::{APPLICATION_ID, LATEST as SCHEMA_VERSION};
pub use store::{PurgeReport, RowId, Store, StoreStats, StoredValue, Table};
