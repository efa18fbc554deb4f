//! Running the server as a process: the secret file, the storage, the HTTP listener and the
//! hourly publisher, shut down cleanly on Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::api::{AppState, router};
use crate::authority::{Authority, AuthorityConfig, AuthorityKeys};
use crate::files::FolderFileStore;
use crate::store::SqliteServerStore;

/// Everything `bluezone server` needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// SQLite database file.
    pub db: PathBuf,
    /// Folder for published key files.
    pub files: PathBuf,
    /// File holding the 32-byte master secret (created, mode 0600, if missing).
    pub secret_file: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Key-file signature key id and version.
    pub key_id: String,
    /// Key-file signature key version.
    pub key_version: String,
    /// Seconds between publishing runs.
    pub publish_every_secs: u64,
    /// The authority's rules.
    pub authority: AuthorityConfig,
}

/// Unix time now.
#[must_use]
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Reads the master secret, or creates it from the OS generator (readable by the owner only).
///
/// # Errors
/// A message when the file cannot be read or written, or is not 32 bytes.
pub fn load_or_create_secret(path: &std::path::Path) -> Result<[u8; 32], String> {
    match std::fs::read(path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| format!("{} is not a 32-byte secret", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            rand::Rng::fill_bytes(&mut rand::rng(), &mut secret);
            write_private(path, &secret)?;
            Ok(secret)
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Builds the authority over the configured storage.
///
/// # Errors
/// A message when storage or keys cannot be set up.
pub fn authority(config: &RunConfig) -> Result<Arc<Authority>, String> {
    let secret = load_or_create_secret(&config.secret_file)?;
    let keys = AuthorityKeys::derive(&secret, &config.key_id, &config.key_version)?;
    let store = SqliteServerStore::open(&config.db).map_err(|e| e.to_string())?;
    let files = FolderFileStore::new(config.files.clone()).map_err(|e| e.to_string())?;
    let mut seed = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
    Ok(Arc::new(Authority::new(
        config.authority.clone(),
        keys,
        Arc::new(store),
        Arc::new(files),
        seed,
    )))
}

/// Serves until Ctrl-C, publishing every `publish_every_secs` (and once at start).
///
/// # Errors
/// A message when the listener cannot be bound or the server fails.
pub async fn serve(config: RunConfig) -> Result<(), String> {
    let authority = authority(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    eprintln!(
        "bluezone-server listening on http://{} (officials: /official)",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let publisher = {
        let authority = authority.clone();
        let every = Duration::from_secs(config.publish_every_secs.max(1));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                let authority = authority.clone();
                match tokio::task::spawn_blocking(move || authority.publish_files(unix_now())).await
                {
                    Ok(Ok(files)) if !files.is_empty() => {
                        eprintln!("published {}", files.join(", "));
                    }
                    Ok(Err(e)) => eprintln!("publishing failed: {}", e.message),
                    Err(e) => eprintln!("publishing failed: {e}"),
                    Ok(Ok(_)) => {}
                }
            }
        })
    };
    let state = AppState {
        authority,
        clock: Arc::new(unix_now),
    };
    let result = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string());
    publisher.abort();
    result
}
