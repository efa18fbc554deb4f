//! `bluezone server` and `bluezone official`: run the health-authority server, show the
//! public keys apps pin, and add officials.

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use base64ct::{Base64, Encoding};
use bluezone_server::AuthorityConfig;
use bluezone_server::run::{RunConfig, serve, unix_now};
use clap::{Args, Subcommand};
use p256::pkcs8::EncodePublicKey;

use crate::output::CliError;

/// `bluezone server ...`
#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Run the server (until Ctrl-C), publishing key files on a schedule.
    Run(RunArgs),
    /// Print the public keys an app must pin: the upload key and the key-file signing key.
    Keys(KeysArgs),
    /// Write the download tree (`v1/index.txt`, `v1/files/<name>`, and `headers.json` with
    /// the headers to set on each) to a folder, for an object store or CDN origin.
    Export(ExportArgs),
    /// Show the current risk configuration, or sign and publish a new one (`--set`) with the
    /// next sequence; phones fetch it from `/v1/risk-config.json`.
    RiskConfig(RiskConfigArgs),
}

/// Arguments of `bluezone server risk-config`.
#[derive(Debug, Args)]
pub struct RiskConfigArgs {
    #[command(flatten)]
    common: Common,
    /// Folder of published files (key files, risk configurations). Default: the folder
    /// `bluezone-files` on SQLite; on PostgreSQL, the database itself, so every instance
    /// serves every file (a folder given there must be one shared by every instance).
    #[arg(long, value_name = "DIR")]
    files: Option<PathBuf>,
    /// The document to publish (JSON, `docs/PROTOCOL.md`): its `sequence` and `issued_at`
    /// are set when it is signed. An invalid document is refused with the field named.
    #[arg(long, value_name = "DOCUMENT.json")]
    set: Option<PathBuf>,
}

/// Arguments of `bluezone server export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    common: Common,
    /// Folder of published files (key files, risk configurations). Default: the folder
    /// `bluezone-files` on SQLite; on PostgreSQL, the database itself, so every instance
    /// serves every file (a folder given there must be one shared by every instance).
    #[arg(long, value_name = "DIR")]
    files: Option<PathBuf>,
    /// Where to write the tree (created if missing; files that left the index are removed).
    #[arg(long, value_name = "DIR")]
    to: PathBuf,
    /// `max-age` of the index written into headers.json, in seconds.
    #[arg(long, default_value_t = bluezone_server::downloads::DEFAULT_INDEX_MAX_AGE, value_name = "SECONDS")]
    index_max_age: u32,
}

/// `bluezone official ...`
#[derive(Debug, Subcommand)]
pub enum OfficialCommand {
    /// Add an official; the password comes from BLUEZONE_OFFICIAL_PASSWORD or standard input.
    Add(AddArgs),
}

/// Storage and identity shared by the server commands.
#[derive(Debug, Args)]
pub struct Common {
    /// The server's SQLite database.
    #[arg(long, default_value = "bluezone-server.db")]
    db: PathBuf,
    /// The database: a SQLite file path, or a PostgreSQL URL (`postgres://user@host/db`)
    /// that several server instances can share. Default: the SQLite file of `--db`.
    #[arg(long, conflicts_with = "db", value_name = "PATH|postgres://…")]
    database: Option<String>,
    /// The 32-byte master secret (owner-readable only; `server run` and `official add`
    /// create it if missing, `server keys` never does).
    #[arg(long, default_value = "bluezone-server.secret")]
    secret_file: PathBuf,
    /// Key id written into key-file signatures (the mobile country code).
    #[arg(long, default_value = "452")]
    key_id: String,
    /// Key version written into key-file signatures.
    #[arg(long, default_value = "v1")]
    key_version: String,
}

/// Arguments of `bluezone server run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    common: Common,
    /// Folder of published files (key files, risk configurations). Default: the folder
    /// `bluezone-files` on SQLite; on PostgreSQL, the database itself, so every instance
    /// serves every file (a folder given there must be one shared by every instance).
    #[arg(long, value_name = "DIR")]
    files: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Seconds between publishing runs.
    #[arg(long, default_value_t = 3600)]
    publish_every: u64,
    /// Files are padded with random keys up to this many.
    #[arg(long, default_value_t = 1000)]
    min_keys_per_file: usize,
    /// A proxy (HTTPS terminator, CDN) whose client-address header is believed, as an
    /// address or network (repeatable), e.g. `--trusted-proxy 10.0.0.0/8`. Without one, the
    /// peer address is the client: behind a proxy every phone would share one rate limit.
    #[arg(long = "trusted-proxy", value_name = "ADDRESS/BITS")]
    trusted_proxies: Vec<bluezone_server::client::IpNetwork>,
    /// The header trusted proxies put the client's address in (`x-forwarded-for`: the
    /// rightmost address not of a trusted proxy; any other header: one address).
    #[arg(long, default_value = "x-forwarded-for", value_name = "NAME")]
    client_ip_header: String,
    /// Most connections open at once; more wait to be accepted.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Shortest time, in milliseconds, before a sealed reply (verify, certificate, publish)
    /// goes out, so that a proxy cannot tell a success from a refusal by its timing.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    reply_floor_ms: u64,
    /// Withdraw and publish again even when every published file fails the start-up check
    /// (after the files folder was lost). Without it the server refuses to start then,
    /// since a wrong --files is the likelier cause.
    #[arg(long)]
    republish_lost_files: bool,
    /// How log lines on standard error are written: `text`, or `json` (one object per line,
    /// for a log shipper). `RUST_LOG` filters them (default `info`).
    #[arg(long, default_value = "text", value_name = "text|json")]
    log_format: bluezone_server::logging::LogFormat,
    /// `max-age`, in seconds, that the index (`/v1/index.txt`) may be cached for by CDNs and
    /// phones; key files, whose names are never reused, are cached for a year.
    #[arg(long, default_value_t = bluezone_server::downloads::DEFAULT_INDEX_MAX_AGE, value_name = "SECONDS")]
    index_max_age: u32,
    /// Also serve `/healthz`, `/readyz` and `/metrics` (Prometheus) on this address, e.g.
    /// `127.0.0.1:9464`. `/metrics` is served nowhere else: it counts uploads.
    #[arg(long, value_name = "ADDRESS")]
    ops_listen: Option<SocketAddr>,
    /// On SIGTERM or Ctrl-C, the longest wait, in seconds, for requests in flight to be
    /// answered before the process exits.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    shutdown_grace: u64,
}

/// Arguments of `bluezone server keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(flatten)]
    common: Common,
}

/// Arguments of `bluezone official add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    common: Common,
    /// The official's login name.
    #[arg(long)]
    name: String,
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Invalid(e.to_string())
}

fn run_config(common: &Common, files: Option<PathBuf>, listen: SocketAddr) -> RunConfig {
    let (db, postgres) = match &common.database {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            (common.db.clone(), Some(url.clone()))
        }
        Some(path) => (PathBuf::from(path), None),
        None => (common.db.clone(), None),
    };
    let files = files.or_else(|| postgres.is_none().then(|| PathBuf::from("bluezone-files")));
    RunConfig {
        db,
        postgres,
        files,
        secret_file: common.secret_file.clone(),
        listen,
        key_id: common.key_id.clone(),
        key_version: common.key_version.clone(),
        publish_every_secs: 3600,
        authority: AuthorityConfig::default(),
        trusted_proxies: Vec::new(),
        client_ip_header: None,
        limits: bluezone_server::serve::ServeLimits::default(),
        republish_lost_files: false,
        sealed_reply_floor: std::time::Duration::from_millis(100),
        index_max_age: bluezone_server::downloads::DEFAULT_INDEX_MAX_AGE,
        ops_listen: None,
    }
}

/// The authority of an existing database, secret and files folder (never creates them).
fn existing_authority(
    common: &Common,
    files: Option<&std::path::Path>,
) -> Result<std::sync::Arc<bluezone_server::Authority>, CliError> {
    let config = run_config(
        common,
        files.map(std::path::Path::to_owned),
        "127.0.0.1:0".parse().map_err(fail)?,
    );
    bluezone_server::run::existing_authority(&config).map_err(fail)
}

/// Runs a `server` subcommand.
pub fn run(command: &ServerCommand) -> Result<(), CliError> {
    match command {
        ServerCommand::Run(args) => {
            let mut config = run_config(&args.common, args.files.clone(), args.listen);
            config.publish_every_secs = args.publish_every;
            config.authority.min_keys_per_file = args.min_keys_per_file;
            config.trusted_proxies.clone_from(&args.trusted_proxies);
            config.client_ip_header = Some(args.client_ip_header.to_ascii_lowercase());
            config.limits.max_connections = args.max_connections;
            config.sealed_reply_floor = std::time::Duration::from_millis(args.reply_floor_ms);
            config.republish_lost_files = args.republish_lost_files;
            config.index_max_age = args.index_max_age;
            config.ops_listen = args.ops_listen;
            config.limits.shutdown_grace = std::time::Duration::from_secs(args.shutdown_grace);
            bluezone_server::logging::init(args.log_format).map_err(fail)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(serve(config)).map_err(fail)
        }
        ServerCommand::Export(args) => {
            let authority = existing_authority(&args.common, args.files.as_deref())?;
            let report = bluezone_server::export::export(
                &authority,
                unix_now(),
                &args.to,
                args.index_max_age,
            )
            .map_err(fail)?;
            writeln!(
                std::io::stdout().lock(),
                "exported {} files to {} ({} written, {} removed)",
                report.files,
                args.to.display(),
                report.written,
                report.removed.len()
            )?;
            Ok(())
        }
        ServerCommand::RiskConfig(args) => {
            let authority = existing_authority(&args.common, args.files.as_deref())?;
            let published = match &args.set {
                Some(path) => {
                    let text = std::fs::read(path)?;
                    let document: bluezone_protocol::risk_config::RiskConfigDocument =
                        serde_json::from_slice(&text)
                            .map_err(|e| fail(format!("{}: {e}", path.display())))?;
                    Some(
                        authority
                            .publish_risk_config(document, None, unix_now())
                            .map_err(fail)?,
                    )
                }
                None => authority.risk_config().map_err(fail)?,
            };
            let mut out = std::io::stdout().lock();
            match published {
                Some(p) => writeln!(
                    out,
                    "risk configuration {} issued at {}{}: {}",
                    p.verified.document.sequence,
                    p.verified.document.issued_at,
                    if args.set.is_some() {
                        " (published)"
                    } else {
                        ""
                    },
                    p.verified.document.note
                )?,
                None => writeln!(out, "no risk configuration published")?,
            }
            Ok(())
        }
        ServerCommand::Keys(args) => {
            let config = run_config(
                &args.common,
                Some(PathBuf::from("unused")),
                "127.0.0.1:0".parse().map_err(fail)?,
            );
            // Read-only: never creates a secret (a mistyped path must not print a new key).
            let secret = bluezone_server::run::load_secret(&config.secret_file).map_err(fail)?;
            let keys = bluezone_server::AuthorityKeys::derive(
                &secret,
                &config.key_id,
                &config.key_version,
            )
            .map_err(fail)?;
            let spki = keys
                .file_signer()
                .verifying_key()
                .to_public_key_der()
                .map_err(fail)?;
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "upload key (HPKE X25519, base64): {}",
                Base64::encode_string(&keys.upload_key().public_key())
            )?;
            writeln!(
                out,
                "key-file signer {}-{} (P-256 SubjectPublicKeyInfo, base64): {}",
                config.key_id,
                config.key_version,
                Base64::encode_string(spki.as_bytes())
            )?;
            Ok(())
        }
    }
}

/// Runs an `official` subcommand.
pub fn run_official(command: &OfficialCommand) -> Result<(), CliError> {
    match command {
        OfficialCommand::Add(args) => {
            let password = match std::env::var("BLUEZONE_OFFICIAL_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let config = run_config(
                &args.common,
                Some(std::env::temp_dir()),
                "127.0.0.1:0".parse().map_err(fail)?,
            );
            let authority = bluezone_server::run::authority(&config).map_err(fail)?;
            let id = authority
                .create_official(&args.name, &password, unix_now())
                .map_err(|e| CliError::Invalid(format!("{} ({})", e.message, e.code)))?;
            writeln!(
                std::io::stdout().lock(),
                "official {} added (id {id})",
                args.name
            )?;
            Ok(())
        }
    }
}
