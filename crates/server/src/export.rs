//! `bluezone server export --to DIR`: the download tree the server serves, written to a
//! folder for an object store or a CDN origin: `v1/index.txt`, `v1/files/<name>`,
//! `v1/risk-config.json` (when one is published) and `headers.json`, the `Content-Type` and `Cache-Control` (with the `ETag` and
//! `Last-Modified` the server sends) to set on each object.
//!
//! Every file is checked against the SHA-256 recorded when it was published before it is
//! written; each write goes to a temporary name in the same folder, is synced and renamed
//! into place, so a reader sees a whole file or the previous one. Files are written first,
//! then `headers.json`, then the index: an upload in that order never lists a file that is
//! not there. Running it again changes only what changed (it is idempotent) and removes the
//! files that have left the index.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::authority::{Authority, AuthorityError};
use crate::downloads::{
    FILE_CACHE_CONTROL, FILE_CONTENT_TYPE, INDEX_CONTENT_TYPE, RISK_CONFIG_CONTENT_TYPE, etag,
    index_cache_control,
};

/// Why an export stopped. Files already written stay (each is whole and verified); the
/// index is only replaced once every file it lists is in place.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The authority could not list or read the published files.
    #[error("reading the published files failed: {}", .0.message)]
    Authority(#[from] AuthorityError),
    /// A file's bytes do not match the hash recorded when it was published.
    #[error(
        "{name} does not match its recorded SHA-256: not exported (restart the server: its start-up check withdraws and republishes it)"
    )]
    Altered {
        /// The file.
        name: String,
    },
    /// A file has no recorded hash (published before hashes were kept).
    #[error(
        "{name} has no recorded SHA-256 yet: run `bluezone server run` once (its start-up check records it)"
    )]
    Unhashed {
        /// The file.
        name: String,
    },
    /// Writing the tree failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// What.
        source: std::io::Error,
    },
}

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Files in the index.
    pub files: usize,
    /// Files written (new or different); the others were already in place.
    pub written: usize,
    /// Files removed because they left the index.
    pub removed: Vec<String>,
}

/// `Content-Type` and cache headers of one object, as HTTP header names and values.
type Headers = BTreeMap<&'static str, String>;

/// Writes the download tree as served at `now` into `to` (created if missing); the index
/// may be cached for `index_max_age` seconds.
///
/// # Errors
/// [`ExportError`]: a file that fails its hash, storage or file-system failures.
pub fn export(
    authority: &Authority,
    now: i64,
    to: &Path,
    index_max_age: u32,
) -> Result<ExportReport, ExportError> {
    let files_dir = to.join("v1").join("files");
    std::fs::create_dir_all(&files_dir).map_err(|e| io(&files_dir, e))?;
    let index = authority.index(now)?;
    let mut report = ExportReport::default();
    let mut headers: BTreeMap<String, Headers> = BTreeMap::new();
    for name in index.lines() {
        let file = authority.published_file(name, now)?;
        if !file.recorded_sha256 {
            return Err(ExportError::Unhashed { name: name.into() });
        }
        if <[u8; 32]>::from(Sha256::digest(&file.bytes)) != file.sha256 {
            return Err(ExportError::Altered { name: name.into() });
        }
        if write_if_changed(&files_dir, name, &file.bytes)? {
            report.written += 1;
        }
        report.files += 1;
        let published =
            UNIX_EPOCH + Duration::from_secs(u64::try_from(file.created_at).unwrap_or(0));
        headers.insert(
            format!("v1/files/{name}"),
            Headers::from([
                ("Content-Type", FILE_CONTENT_TYPE.to_owned()),
                ("Cache-Control", FILE_CACHE_CONTROL.to_owned()),
                ("ETag", etag(&file.sha256)),
                ("Last-Modified", httpdate::fmt_http_date(published)),
            ]),
        );
    }
    let listed: std::collections::HashSet<&str> = index.lines().collect();
    for entry in std::fs::read_dir(&files_dir).map_err(|e| io(&files_dir, e))? {
        let entry = entry.map_err(|e| io(&files_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale =
            name.ends_with(".zip") && !name.starts_with('.') && !listed.contains(name.as_str());
        let interrupted = name.starts_with('.') && name.ends_with(".tmp");
        if stale || interrupted {
            std::fs::remove_file(entry.path()).map_err(|e| io(&entry.path(), e))?;
            if stale {
                report.removed.push(name);
            }
        }
    }
    report.removed.sort();
    if let Some(risk) = authority.risk_config()? {
        write_if_changed(&to.join("v1"), "risk-config.json", &risk.bytes)?;
        headers.insert(
            "v1/risk-config.json".to_owned(),
            Headers::from([
                ("Content-Type", RISK_CONFIG_CONTENT_TYPE.to_owned()),
                ("Cache-Control", index_cache_control(index_max_age)),
                ("ETag", etag(&risk.verified.sha256)),
            ]),
        );
    }
    headers.insert(
        "v1/index.txt".to_owned(),
        Headers::from([
            ("Content-Type", INDEX_CONTENT_TYPE.to_owned()),
            ("Cache-Control", index_cache_control(index_max_age)),
            ("ETag", etag(&Sha256::digest(index.as_bytes()).into())),
        ]),
    );
    let mut manifest = serde_json::to_vec_pretty(&headers).map_err(|e| io(to, e.into()))?;
    manifest.push(b'\n');
    write_if_changed(to, "headers.json", &manifest)?;
    write_if_changed(&to.join("v1"), "index.txt", index.as_bytes())?;
    Ok(report)
}

fn io(path: &Path, source: std::io::Error) -> ExportError {
    ExportError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Puts `bytes` at `dir/name` unless they are there already: written to a temporary name
/// in `dir`, synced, renamed over the old file, the folder synced. `true` if written.
fn write_if_changed(dir: &Path, name: &str, bytes: &[u8]) -> Result<bool, ExportError> {
    let path = dir.join(name);
    if std::fs::read(&path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        crate::files::sync_dir(dir)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(|e| io(&path, e))?;
    Ok(true)
}
