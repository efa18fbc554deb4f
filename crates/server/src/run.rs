//! Running the server as a process: start-up checks (the secret's file mode, where the
//! files folder is, every published key in an intact file), the storage, the hardened
//! HTTP listener (and the operations listener, if asked for) and the hourly publisher, shut
//! down cleanly on Ctrl-C or SIGTERM: no new connection is accepted, requests in flight are
//! answered (an upload being processed gets its answer and is stored) for up to
//! [`ServeLimits::shutdown_grace`](crate::serve::ServeLimits::shutdown_grace), a publish in
//! progress completes.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::api::{AppState, router};
use crate::authority::{Authority, AuthorityConfig, AuthorityKeys};
use crate::client::{ClientAddressPolicy, IpNetwork};
use crate::downloads::DownloadCache;
use crate::files::FileStore;
use crate::files::FolderFileStore;
use crate::metrics::Metrics;
use crate::ops::ops_router;
use crate::serve::{ServeLimits, serve as serve_http};
use crate::store::{PostgresServerStore, PublisherLock, ServerStore, SqliteServerStore};

/// Everything `bluezone server` needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// SQLite database file (unused when `postgres` is set).
    pub db: PathBuf,
    /// A PostgreSQL URL (`postgres://…`): the storage is that database instead of `db`,
    /// and several instances may share it.
    pub postgres: Option<String>,
    /// Folder for published files (key files, risk configurations). `None` keeps them in
    /// the PostgreSQL database, where every instance serves them (SQLite needs a folder).
    /// On PostgreSQL a folder must be the same one for every instance (a shared volume).
    pub files: Option<PathBuf>,
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
    /// Proxies (HTTPS terminators, CDNs) whose client-address header is believed.
    pub trusted_proxies: Vec<IpNetwork>,
    /// The header they set (default `x-forwarded-for`).
    pub client_ip_header: Option<String>,
    /// Connection and time limits of the listener.
    pub limits: ServeLimits,
    /// Withdraw and publish again even when every published file fails the start-up check
    /// (after a lost disk); without it the server refuses to start in that case.
    pub republish_lost_files: bool,
    /// Shortest time before a sealed reply is sent, so that its timing does not tell a
    /// success (a synced write) from a refusal (default 100 ms).
    pub sealed_reply_floor: Duration,
    /// `max-age` of the index, in seconds (default 300).
    pub index_max_age: u32,
    /// Where `/healthz`, `/readyz` and `/metrics` are also served, apart from the public
    /// routes (default: nowhere; `/metrics` is only served there).
    pub ops_listen: Option<SocketAddr>,
}

/// Unix time now.
#[must_use]
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Reads the master secret; it must exist, be 32 bytes and be readable by its owner only.
/// Read-only commands use this: they never create a secret (a mistyped path would otherwise
/// print the keys of a new, wrong authority).
///
/// # Errors
/// A message when the file is missing, unreadable, the wrong size, or open to others.
pub fn load_secret(path: &Path) -> Result<Zeroizing<[u8; 32]>, String> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no secret at {} (check --secret-file; `bluezone server run` creates one)",
                path.display()
            )
        } else {
            format!("cannot read {}: {e}", path.display())
        }
    })?);
    check_private(path)?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map(Zeroizing::new)
        .map_err(|_| format!("{} is not a 32-byte secret", path.display()))
}

/// Reads the master secret, or creates it from the OS generator (readable by the owner only).
///
/// # Errors
/// As [`load_secret`], or a message when a new secret cannot be written.
pub fn load_or_create_secret(path: &Path) -> Result<Zeroizing<[u8; 32]>, String> {
    match std::fs::metadata(path) {
        Ok(_) => load_secret(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = Zeroizing::new([0u8; 32]);
            rand::Rng::fill_bytes(&mut rand::rng(), secret.as_mut_slice());
            write_private(path, secret.as_slice())?;
            Ok(secret)
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Refuses a file that its group or others may read or write.
fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} is open to other users (mode {:04o}); run `chmod 600 {}`",
                path.display(),
                mode & 0o7777,
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
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

/// Where a file really is: the file itself resolved through links when it exists, else its
/// resolved folder.
fn resolved(path: &Path) -> Result<PathBuf, String> {
    if let Ok(real) = path.canonicalize() {
        return Ok(real);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let folder = parent
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", parent.display()))?;
    Ok(path
        .file_name()
        .map_or(folder.clone(), |name| folder.join(name)))
}

/// Refuses a files folder that holds (or is above) the secret or the database, also through
/// symbolic links: everything in that folder is published to the world by design.
///
/// # Errors
/// A message naming the file that would be exposed.
pub fn check_files_folder(config: &RunConfig) -> Result<(), String> {
    let Some(folder) = &config.files else {
        return Ok(());
    };
    std::fs::create_dir_all(folder)
        .map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    let files = folder
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", folder.display()))?;
    for (what, path) in [("secret", &config.secret_file), ("database", &config.db)] {
        if resolved(path)?.starts_with(&files) {
            return Err(format!(
                "the files folder {} would hold the {what} ({}): give --files a folder of its own",
                folder.display(),
                path.display()
            ));
        }
    }
    Ok(())
}

/// An exclusive lock held while the server runs: a second `server run` on the same
/// database or files folder is refused instead of publishing beside the first (its start-up
/// check would delete a file the first is about to record).
///
/// # Errors
/// A message when the lock is held by another process or cannot be taken.
pub fn lock_exclusively(path: &Path) -> Result<std::fs::File, String> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another bluezone server is running on {} (lock {} is held)",
            path.parent().unwrap_or(path).display(),
            path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {}: {e}", path.display())),
    }
}

/// The permission bits of a database file others may read (it holds officials' password
/// hashes, code HMACs and uploaded keys), if it is such a file.
fn database_open_to_others(db: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(db).ok()?.permissions().mode();
        (mode & 0o077 != 0).then_some(mode & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = db;
        None
    }
}

/// Builds the authority over the configured storage, creating the secret and the database
/// if they are missing.
///
/// # Errors
/// A message when storage or keys cannot be set up.
pub fn authority(config: &RunConfig) -> Result<Arc<Authority>, String> {
    authority_with(config, &load_or_create_secret(&config.secret_file)?)
}

/// Builds the authority over storage that must already exist (for commands that only read:
/// a mistyped path must not create a new, empty authority).
///
/// # Errors
/// A message when the database or the secret is missing, or storage cannot be opened.
pub fn existing_authority(config: &RunConfig) -> Result<Arc<Authority>, String> {
    if config.postgres.is_none() && !config.db.exists() {
        return Err(format!(
            "no database at {} (check --db)",
            config.db.display()
        ));
    }
    authority_with(config, &load_secret(&config.secret_file)?)
}

fn authority_with(
    config: &RunConfig,
    secret: &Zeroizing<[u8; 32]>,
) -> Result<Arc<Authority>, String> {
    let keys = AuthorityKeys::derive(secret, &config.key_id, &config.key_version)
        .map_err(|e| e.to_string())?;
    let (store, database_files): (Arc<dyn ServerStore>, Option<Arc<dyn FileStore>>) =
        match &config.postgres {
            Some(url) => {
                // The URL is not repeated: it may carry a password.
                let store = Arc::new(
                    PostgresServerStore::open(url)
                        .map_err(|e| format!("the PostgreSQL database: {e}"))?,
                );
                (store.clone(), Some(store))
            }
            None => (
                Arc::new(
                    SqliteServerStore::open(&config.db)
                        .map_err(|e| format!("{}: {e}", config.db.display()))?,
                ),
                None,
            ),
        };
    let files: Arc<dyn FileStore> = match (&config.files, database_files) {
        (Some(folder), _) => {
            Arc::new(FolderFileStore::new(folder.clone()).map_err(|e| e.to_string())?)
        }
        (None, Some(in_database)) => in_database,
        (None, None) => return Err("a SQLite server needs a files folder (--files)".into()),
    };
    let mut seed = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
    Ok(Arc::new(Authority::new(
        config.authority.clone(),
        keys,
        store,
        files,
        seed,
    )))
}

/// The lock file beside a database: `<db>.lock`.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Completes on Ctrl-C or SIGTERM (what service managers and container runtimes send).
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    () = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => interrupt.await,
        }
    }
    #[cfg(not(unix))]
    interrupt.await;
}

/// Checks what earlier publishers left ([`Authority::check_published_files`]) and logs it.
fn check_published(authority: &Authority, withdraw_all: bool) -> Result<(), String> {
    let check = authority
        .check_published_files(unix_now(), withdraw_all)
        .map_err(|e| format!("checking published files failed: {}", e.message))?;
    tracing::info!(
        intact = check.files_intact,
        withdrawn = check.files_withdrawn.len(),
        keys_to_publish_again = check.keys_republished,
        unrecorded_removed = check.orphans_removed.len(),
        interrupted_writes_removed = check.interrupted_writes_removed,
        "published files checked"
    );
    for name in &check.files_withdrawn {
        tracing::warn!(
            file = %name,
            "published file withdrawn: missing, altered or incomplete"
        );
    }
    Ok(())
}

/// One publishing run, if this instance is the publisher: it takes over when the lock is
/// free (checking first what the previous publisher left), publishes and purges.
/// `checked` says whether this instance has checked since it took the lock.
fn publish_once(authority: &Authority, metrics: &Metrics, checked: &mut bool, withdraw_all: bool) {
    match authority.take_publishing() {
        Ok(PublisherLock::Elsewhere) => {
            metrics.set_publisher(false);
            *checked = false;
            return;
        }
        Ok(PublisherLock::Taken) => {
            tracing::info!("this instance is now the publisher");
            *checked = false;
        }
        Ok(PublisherLock::Held) => {}
        Err(e) => {
            metrics.set_publisher(false);
            metrics.publish_failed();
            tracing::error!(error = %e.message, "publishing failed: the publisher lock");
            return;
        }
    }
    metrics.set_publisher(true);
    if !*checked {
        if let Err(e) = check_published(authority, withdraw_all) {
            metrics.publish_failed();
            tracing::error!(error = %e, "publishing failed");
            return;
        }
        *checked = true;
    }
    let now = unix_now();
    match authority.publish_files(now) {
        Ok(files) => {
            metrics.published(files.len());
            if !files.is_empty() {
                tracing::info!(files = files.len(), names = %files.join(","), "published");
            }
        }
        Err(e) => {
            metrics.publish_failed();
            tracing::error!(error = %e.message, "publishing failed");
        }
    }
    match authority.purge_expired(now) {
        Ok(report) if !report.files.is_empty() || report.keys > 0 => {
            tracing::info!(
                files = report.files.len(),
                keys = report.keys,
                "purged past retention"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e.message, "purging failed"),
    }
}

/// Publishes (and purges what is past retention) every `every` while this instance holds
/// the publisher lock, trying to take it when it is free, until told to stop; a run in
/// progress always completes. The lock is given up on the way out.
async fn publisher(
    authority: Arc<Authority>,
    metrics: Arc<Metrics>,
    every: Duration,
    withdraw_all: bool,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(every);
    let mut checked = true; // `serve` checked if it took the lock at start.
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        let (authority, run_metrics) = (authority.clone(), metrics.clone());
        let run = tokio::task::spawn_blocking(move || {
            publish_once(&authority, &run_metrics, &mut checked, withdraw_all);
            checked
        })
        .await;
        match run {
            Ok(now_checked) => checked = now_checked,
            Err(e) => {
                metrics.publish_failed();
                tracing::error!(error = %e, "publishing failed");
            }
        }
    }
    let _ = tokio::task::spawn_blocking(move || authority.resign_publishing()).await;
}

/// Completes once `stopping` says so (or its sender is gone).
async fn stopped(mut stopping: tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// Serves until Ctrl-C or SIGTERM, publishing every `publish_every_secs` (and once at
/// start, after checking that every published key is in an intact file). On a signal it
/// stops accepting, lets requests in flight and a publish in progress finish, and returns.
///
/// # Errors
/// A message when a start-up check fails, or the listener cannot be bound.
pub async fn serve(config: RunConfig) -> Result<(), String> {
    check_files_folder(&config)?;
    // One process per SQLite file; PostgreSQL takes several instances.
    let _database_lock = match config.postgres {
        None => Some(lock_exclusively(&lock_path(&config.db))?),
        Some(_) => None,
    };
    // A folder is one process's on SQLite; on PostgreSQL every instance shares it, and the
    // database's publisher lock decides who writes.
    let _folder_lock = match (&config.files, &config.postgres) {
        (Some(folder), None) => {
            let lock = lock_exclusively(&folder.join(".bluezone-server.lock"))?;
            crate::files::remove_partial_writes(folder).map_err(|e| e.to_string())?;
            Some(lock)
        }
        _ => None,
    };
    if let Some(mode) = database_open_to_others(&config.db).filter(|_| config.postgres.is_none()) {
        tracing::warn!(
            path = %config.db.display(),
            mode = %format_args!("{mode:04o}"),
            "the database is open to other users; run `chmod 600` on it"
        );
    }
    // Opening the storage blocks (the PostgreSQL store runs its driver on its own runtime).
    let authority = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || authority(&config))
            .await
            .map_err(|e| format!("opening the storage failed: {e}"))??
    };
    // The instance that takes the publisher lock checks, before serving, that every key
    // marked published is in an intact file; another instance's publisher did that already.
    {
        let authority = authority.clone();
        let withdraw_all = config.republish_lost_files;
        tokio::task::spawn_blocking(move || match authority.take_publishing() {
            Ok(PublisherLock::Elsewhere) => {
                tracing::info!("another instance is the publisher");
                Ok(())
            }
            Ok(_) => check_published(&authority, withdraw_all),
            Err(e) => Err(format!("the publisher lock: {}", e.message)),
        })
        .await
        .map_err(|e| e.to_string())??;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    tracing::info!(
        address = %listener.local_addr().map_err(|e| e.to_string())?,
        officials = "/official",
        "listening"
    );
    let ops_listener = match config.ops_listen {
        Some(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| format!("cannot listen on {address}: {e}"))?;
            tracing::info!(
                address = %listener.local_addr().map_err(|e| e.to_string())?,
                "operations endpoints listening"
            );
            Some(listener)
        }
        None => None,
    };
    let metrics = Arc::new(Metrics::new());
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let publishing = tokio::spawn(publisher(
        authority.clone(),
        metrics.clone(),
        Duration::from_secs(config.publish_every_secs.max(1)),
        config.republish_lost_files,
        stopping.clone(),
    ));
    let state = AppState {
        clients: Arc::new(ClientAddressPolicy {
            trusted_proxies: config.trusted_proxies.clone(),
            header: config.client_ip_header.clone(),
        }),
        sealed_reply_floor: config.sealed_reply_floor,
        // A second at the origin is invisible under minutes at the CDN, and spares the
        // database a query per poll.
        downloads: Arc::new(DownloadCache::new(
            config.index_max_age,
            Duration::from_secs(1),
        )),
        metrics,
        ..AppState::new(authority, Arc::new(unix_now))
    };
    let (signal_stop, signalled) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("stop signal received: no new connections, finishing requests in flight");
        let _ = signal_stop.send(true);
    });
    let ops = ops_listener.map(|listener| {
        let (app, signalled) = (ops_router(state.clone()), signalled.clone());
        tokio::spawn(serve_http(listener, app, config.limits, stopped(signalled)))
    });
    let result = serve_http(listener, router(state), config.limits, stopped(signalled))
        .await
        .map_err(|e| e.to_string());
    tracing::info!("shutting down");
    let _ = stop.send(true);
    let _ = publishing.await;
    if let Some(ops) = ops {
        let _ = ops.await;
    }
    tracing::info!("stopped");
    result
}
