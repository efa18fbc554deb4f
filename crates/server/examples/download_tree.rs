//! Builds a server site for the download benchmark (`scripts/bench-downloads`): a secret,
//! a database and a files folder in DIR holding 14 days of hourly key files (336 files,
//! each padded to the default 1,000 keys), published as `bluezone server run` would, so that
//! `bluezone server run --db DIR/server.db --files DIR/files --secret-file DIR/secret`
//! serves them.
//!
//! Usage: `cargo run --release -p bluezone-server --example download_tree -- DIR`

use std::path::PathBuf;
use std::sync::Arc;

use bluezone_server::files::FolderFileStore;
use bluezone_server::run::{load_or_create_secret, unix_now};
use bluezone_server::store::{CaseClaims, ServerStore, SqliteServerStore, StoredKey};
use bluezone_server::{Authority, AuthorityConfig, AuthorityKeys};

/// Hourly files over 14 days.
const HOURS: i64 = 14 * 24;
/// Real keys per hourly upload (the rest of each file is padding).
const KEYS_PER_HOUR: u32 = 14;

fn main() -> Result<(), String> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: download_tree DIR (a new or empty folder)")?,
    );
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let secret = load_or_create_secret(&dir.join("secret"))?;
    let keys = AuthorityKeys::derive(&secret, "452", "v1").map_err(|e| e.to_string())?;
    let store =
        Arc::new(SqliteServerStore::open(&dir.join("server.db")).map_err(|e| e.to_string())?);
    let files = Arc::new(FolderFileStore::new(dir.join("files")).map_err(|e| e.to_string())?);
    let authority = Authority::new(
        AuthorityConfig::default(),
        keys,
        store.clone(),
        files,
        [1; 32],
    );
    // The oldest file half an hour inside the 14-day window, the newest half an hour old.
    let first = unix_now() - HOURS * 3600 + 1800;
    for hour in 0..HOURS {
        let at = first + hour * 3600;
        let day = u32::try_from(at / 600).map_err(|e| e.to_string())? / 144 * 144;
        let stored: Vec<StoredKey> = (0..KEYS_PER_HOUR)
            .map(|i| {
                let mut key_data = [0u8; 16];
                key_data[..8].copy_from_slice(&hour.to_le_bytes());
                key_data[8..12].copy_from_slice(&i.to_le_bytes());
                StoredKey {
                    key_data,
                    rolling_start: day - 144 * (1 + i % 13),
                    rolling_period: 144,
                    transmission_risk: 0,
                    publish_after: at - 1,
                }
            })
            .collect();
        let mut certificate_id = [0u8; 32];
        certificate_id[..8].copy_from_slice(&hour.to_le_bytes());
        let claims = CaseClaims {
            report_type: 1,
            symptom_onset_interval: None,
        };
        store
            .insert_upload(&certificate_id, claims, &stored, at - 1)
            .map_err(|e| e.to_string())?;
        let names = authority.publish_files(at).map_err(|e| e.message)?;
        if names.len() != 1 {
            return Err(format!("hour {hour}: {} files published", names.len()));
        }
    }
    println!("{HOURS} hourly files in {}", dir.display());
    Ok(())
}
