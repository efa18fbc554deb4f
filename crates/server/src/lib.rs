//! The Bluezone health-authority server: officials issue one-time codes for positive cases;
//! phones exchange a code for a token and the token for a certificate bound to the HMAC of
//! their keys; they upload the keys sealed with HPKE; the server publishes signed GAEN key
//! files, padded with random keys, that every phone downloads.
//!
//! [`authority::Authority`] holds every rule; [`api`] is the HTTP layer (axum);
//! [`store::ServerStore`] and [`files::FileStore`] are the storage seams (SQLite and a local
//! folder by default).

pub mod api;
pub mod authority;
pub mod client;
pub mod downloads;
pub mod error;
pub mod export;
pub mod files;
pub mod limits;
pub mod logging;
pub mod loopback;
pub mod metrics;
pub mod ops;
pub mod passwords;
pub mod publishing;
pub mod run;
pub mod serve;
pub mod store;

pub use api::{AppState, router};
pub use authority::{Authority, AuthorityConfig, AuthorityError, AuthorityKeys};
pub use error::ApiError;
