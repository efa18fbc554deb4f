//! The phone's bookkeeping for downloading key files: reading the server's index, choosing
//! which files to fetch, remembering which were processed, and retrying the ones that fail
//! with exponential back-off. Pure logic (no I/O, no clock: the time comes in as an
//! argument); [`crate::Tracer::download_key_files`] fetches, processes and stores the
//! [`DownloadLedger`] sealed.
//!
//! The bookkeeping does not depend on the index's length. The ledger remembers the names
//! processed and failing, and every call prunes both to the names still listed: the server
//! lists a file for its retention window, and a name that has left the index never comes
//! back. So the ledger never holds more names than the current index, and a phone reaches
//! the newest files however many were ever published.
//!
//! The index is untrusted input: only [`MAX_INDEX_BYTES`] of it are read (its end, where
//! the newest files are), at most [`MAX_INDEX_NAMES`] names are kept (the last ones), and
//! lines that are not plain file names (see [`valid_name`]) are skipped.

use std::collections::{BTreeSet, HashSet};

use bluezone_protocol::keyfile::KeyFileError;
use serde::{Deserialize, Serialize};

/// Where the index of published key files is (`GET`), one name a line, oldest first.
pub const INDEX_PATH: &str = "/v1/index.txt";

/// Bytes of the index read at most (1 MiB). A longer index is read from its end: it lists
/// files oldest first, and files older than the retention period carry no useful key.
pub const MAX_INDEX_BYTES: usize = 1 << 20;

/// Names of the index kept at most (the last ones): more than two years of hourly files.
/// Also the hard cap on the names a [`DownloadLedger`] remembers.
pub const MAX_INDEX_NAMES: usize = 20_000;

/// Longest file name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 64;

/// Wait before the first retry of a failing file, in seconds (one hour).
pub const RETRY_FIRST_SECS: i64 = 3600;

/// Longest wait between two retries of a failing file, in seconds (one day).
pub const RETRY_MAX_SECS: i64 = 86_400;

/// Whether `name` may be fetched: 1 to [`MAX_NAME_LEN`] bytes of `[A-Za-z0-9._-]`, not
/// starting with a dot (so never `.`, `..` or a hidden name, and never a path).
#[must_use]
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The path of a key file on the server.
#[must_use]
pub fn file_path(name: &str) -> String {
    format!("/v1/files/{name}")
}

/// The server's index, as far as it could be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFileIndex {
    /// Valid names, in the index's order (oldest first), each once.
    pub names: Vec<String>,
    /// Non-empty lines skipped because they are not valid names.
    pub skipped_lines: u32,
    /// Whether the index was longer than the limits and only its end was read.
    pub truncated: bool,
}

/// Reads an index body within the limits: the last [`MAX_INDEX_BYTES`] (from the first
/// whole line), the last [`MAX_INDEX_NAMES`] valid names, invalid lines skipped and counted,
/// repeated names kept once. Never fails.
#[must_use]
pub fn parse_index(body: &[u8]) -> KeyFileIndex {
    let mut truncated = false;
    let mut text = body;
    if body.len() > MAX_INDEX_BYTES {
        truncated = true;
        text = &body[body.len() - MAX_INDEX_BYTES..];
        // Drop the first, probably partial, line.
        text = match text.iter().position(|&b| b == b'\n') {
            Some(end) => &text[end + 1..],
            None => &[],
        };
    }
    let mut names = Vec::new();
    let mut seen = HashSet::new();
    let mut skipped_lines = 0u32;
    for line in text.split(|&b| b == b'\n') {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match std::str::from_utf8(line) {
            Ok(name) if valid_name(name) => {
                if seen.insert(name) {
                    names.push(name.to_owned());
                }
            }
            _ => skipped_lines = skipped_lines.saturating_add(1),
        }
    }
    if names.len() > MAX_INDEX_NAMES {
        truncated = true;
        names.drain(..names.len() - MAX_INDEX_NAMES);
    }
    KeyFileIndex {
        names,
        skipped_lines,
        truncated,
    }
}

/// Why a key file could not be processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum DownloadFailure {
    /// The server answered this HTTP status instead of 200.
    HttpStatus(
        /// The status.
        #[cfg_attr(feature = "uniffi", uniffi(name = "status"))]
        u16,
    ),
    /// The file arrived but was refused.
    Refused(
        /// What was wrong with it.
        #[cfg_attr(feature = "uniffi", uniffi(name = "kind"))]
        KeyFileRefusal,
    ),
}

/// Why a downloaded key file was refused (the kind of the protocol's `KeyFileError`, without
/// its text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum KeyFileRefusal {
    /// Larger than the limits allow.
    TooLarge,
    /// Not a readable zip archive.
    MalformedZip,
    /// A zip entry other than `export.bin` and `export.sig`.
    UnexpectedEntry,
    /// `export.bin` or `export.sig` is missing.
    MissingEntry,
    /// `export.bin` lacks the export header.
    BadHeader,
    /// `export.bin` is malformed.
    MalformedExport,
    /// `export.sig` is malformed.
    MalformedSignatureList,
    /// The file is not signed.
    NoSignature,
    /// A signature algorithm other than ECDSA P-256 with SHA-256.
    UnsupportedAlgorithm,
    /// No signature is from a trusted key.
    UnknownSigner,
    /// A trusted key's signature does not verify: the file was altered.
    BadSignature,
    /// More keys than the limits allow.
    TooManyKeys,
    /// A key that cannot be right.
    InvalidKey,
    /// Header timestamps or batch numbers that cannot be right.
    InvalidHeader,
    /// Any other refusal.
    Other,
}

impl From<&KeyFileError> for KeyFileRefusal {
    fn from(error: &KeyFileError) -> Self {
        match error {
            KeyFileError::TooLarge { .. } => Self::TooLarge,
            KeyFileError::MalformedZip(_) => Self::MalformedZip,
            KeyFileError::UnexpectedEntry(_) => Self::UnexpectedEntry,
            KeyFileError::MissingEntry(_) => Self::MissingEntry,
            KeyFileError::BadHeader => Self::BadHeader,
            KeyFileError::MalformedExport(_) => Self::MalformedExport,
            KeyFileError::MalformedSignatureList(_) => Self::MalformedSignatureList,
            KeyFileError::NoSignature => Self::NoSignature,
            KeyFileError::UnsupportedAlgorithm(_) => Self::UnsupportedAlgorithm,
            KeyFileError::UnknownSigner(_) => Self::UnknownSigner,
            KeyFileError::BadSignature(_) => Self::BadSignature,
            KeyFileError::TooManyKeys(_) => Self::TooManyKeys,
            KeyFileError::InvalidKey { .. } => Self::InvalidKey,
            KeyFileError::InvalidHeader(_) => Self::InvalidHeader,
            _ => Self::Other,
        }
    }
}

/// A key file that failed and waits for its retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FailingKeyFile {
    /// The file's name in the index.
    pub name: String,
    /// Why it failed the last time.
    pub reason: DownloadFailure,
    /// Attempts so far, all failed.
    pub attempts: u32,
    /// Unix time (seconds) from which it is tried again.
    pub next_retry_at: i64,
}

/// The wait after the `attempts`-th failure of a file: [`RETRY_FIRST_SECS`], doubling with
/// each further failure, at most [`RETRY_MAX_SECS`].
#[must_use]
pub fn retry_delay_secs(attempts: u32) -> i64 {
    let doublings = attempts.saturating_sub(1).min(31);
    RETRY_FIRST_SECS
        .saturating_mul(1i64 << doublings)
        .min(RETRY_MAX_SECS)
}

/// What one download call should fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DownloadPlan {
    /// Names to fetch now, oldest first.
    pub fetch: Vec<String>,
    /// Unprocessed files due now that did not fit in this call.
    pub remaining: u32,
    /// Failing files whose retry is not due yet.
    pub waiting: u32,
}

/// What the phone remembers between download calls (stored sealed in the store's settings,
/// as JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadLedger {
    /// Names of the files processed (matched, or already matched), among those still listed.
    #[serde(default)]
    pub processed: BTreeSet<String>,
    /// Files that failed, oldest failure first, among those still listed.
    #[serde(default)]
    pub failing: Vec<FailingKeyFile>,
}

impl DownloadLedger {
    /// Forgets every name the index no longer lists: such a file is past retention and will
    /// not be listed again.
    pub fn prune(&mut self, index: &[String]) {
        let listed: HashSet<&str> = index.iter().map(String::as_str).collect();
        self.processed.retain(|name| listed.contains(name.as_str()));
        self.failing.retain(|f| listed.contains(f.name.as_str()));
        self.enforce_cap();
    }

    /// The safety cap: never more than [`MAX_INDEX_NAMES`] names of each kind. Pruning to
    /// the (bounded) index keeps the ledger below it; this only guards a damaged record.
    pub(crate) fn enforce_cap(&mut self) {
        while self.processed.len() > MAX_INDEX_NAMES {
            self.processed.pop_first();
        }
        if self.failing.len() > MAX_INDEX_NAMES {
            self.failing.drain(..self.failing.len() - MAX_INDEX_NAMES);
        }
    }

    /// The files to fetch now: the first `max` (at least one) unprocessed names of `index`,
    /// in its order, skipping failing files whose retry is not due at `now`. A retry due more
    /// than [`RETRY_MAX_SECS`] ahead (the clock went back) is due now.
    #[must_use]
    pub fn plan(&self, index: &[String], now: i64, max: usize) -> DownloadPlan {
        let max = max.max(1);
        let waiting: HashSet<&str> = self
            .failing
            .iter()
            .filter(|f| {
                f.next_retry_at > now && f.next_retry_at.saturating_sub(now) <= RETRY_MAX_SECS
            })
            .map(|f| f.name.as_str())
            .collect();
        let mut plan = DownloadPlan::default();
        for name in index {
            if self.processed.contains(name) {
                continue;
            }
            if waiting.contains(name.as_str()) {
                plan.waiting = plan.waiting.saturating_add(1);
            } else if plan.fetch.len() < max {
                plan.fetch.push(name.clone());
            } else {
                plan.remaining = plan.remaining.saturating_add(1);
            }
        }
        plan
    }

    /// Records that `name` was processed: it is not fetched again.
    pub fn record_processed(&mut self, name: &str) {
        self.failing.retain(|f| f.name != name);
        self.processed.insert(name.to_owned());
    }

    /// Records that `name` failed at `now` for `reason`; it is retried after
    /// [`retry_delay_secs`] of its attempts so far.
    pub fn record_failure(&mut self, name: &str, reason: DownloadFailure, now: i64) {
        self.processed.remove(name);
        if let Some(f) = self.failing.iter_mut().find(|f| f.name == name) {
            f.attempts = f.attempts.saturating_add(1);
            f.reason = reason;
            f.next_retry_at = now.saturating_add(retry_delay_secs(f.attempts));
        } else {
            self.failing.push(FailingKeyFile {
                name: name.to_owned(),
                reason,
                attempts: 1,
                next_retry_at: now.saturating_add(retry_delay_secs(1)),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("{i:08}.zip")).collect()
    }

    #[test]
    fn names_are_plain_bounded_file_names() {
        for good in [
            "1793491200-00001.zip",
            "a",
            "A_b-c.9",
            "x".repeat(64).as_str(),
        ] {
            assert!(valid_name(good), "{good}");
        }
        let long = "x".repeat(65);
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "../etc/passwd",
            "a/b",
            "a b",
            "a%2e",
            "é.zip",
            "a?b",
            long.as_str(),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_index_is_read_within_bounds_and_bad_lines_are_skipped() {
        let body = b"a.zip\r\n\n  b.zip  \n../x\n.hidden\na.zip\n\xff\xfe\nc.zip";
        let index = parse_index(body);
        assert_eq!(index.names, ["a.zip", "b.zip", "c.zip"]);
        assert_eq!(index.skipped_lines, 3);
        assert!(!index.truncated);
        assert_eq!(parse_index(b""), KeyFileIndex::default());

        // Too many names: the last ones are kept.
        let many = names(0..MAX_INDEX_NAMES + 10).join("\n");
        let index = parse_index(many.as_bytes());
        assert!(index.truncated);
        assert_eq!(index.names.len(), MAX_INDEX_NAMES);
        assert_eq!(index.names[0], "00000010.zip");

        // Too many bytes: the end is read, from its first whole line.
        let mut huge = vec![b'x'; MAX_INDEX_BYTES];
        huge.extend_from_slice(b"\nlast.zip\n");
        let index = parse_index(&huge);
        assert!(index.truncated);
        assert_eq!(index.names, ["last.zip"]);
        assert_eq!(index.skipped_lines, 0);
        // One enormous line: nothing.
        assert!(
            parse_index(&vec![b'y'; MAX_INDEX_BYTES + 1])
                .names
                .is_empty()
        );
    }

    #[test]
    fn the_plan_takes_unprocessed_files_oldest_first_and_counts_the_rest() {
        let index = names(0..2500);
        let mut ledger = DownloadLedger::default();
        for name in &index[..2400] {
            ledger.record_processed(name);
        }
        let plan = ledger.plan(&index, 0, 64);
        assert_eq!(plan.fetch, &index[2400..2464]);
        assert_eq!((plan.remaining, plan.waiting), (36, 0));
        for name in &plan.fetch {
            ledger.record_processed(name);
        }
        let plan = ledger.plan(&index, 0, 64);
        assert_eq!(plan.fetch, &index[2464..]);
        assert_eq!(plan.remaining, 0);
        // A batch of zero would never progress: at least one.
        assert_eq!(DownloadLedger::default().plan(&index, 0, 0).fetch.len(), 1);
    }

    #[test]
    fn pruning_forgets_names_that_left_the_index() {
        let mut ledger = DownloadLedger::default();
        for name in names(0..100) {
            ledger.record_processed(&name);
        }
        ledger.record_failure("00000150.zip", DownloadFailure::HttpStatus(404), 0);
        ledger.record_failure("gone.zip", DownloadFailure::HttpStatus(404), 0);
        // The index now lists files 50 to 199.
        let index = names(50..200);
        ledger.prune(&index);
        assert_eq!(ledger.processed.len(), 50);
        assert_eq!(
            ledger.processed.first().map(String::as_str),
            Some("00000050.zip")
        );
        assert_eq!(ledger.failing.len(), 1);
        // A growing, sliding index: the ledger stays as small as the index.
        for start in (0..5000).step_by(24) {
            let index = names(start..start + 336);
            ledger.prune(&index);
            let plan = ledger.plan(&index, 0, 64);
            for name in &plan.fetch {
                ledger.record_processed(name);
            }
            assert!(ledger.processed.len() <= index.len());
        }
    }

    #[test]
    fn failing_files_back_off_exponentially_up_to_a_day() {
        let delays: Vec<i64> = (1..=8).map(retry_delay_secs).collect();
        assert_eq!(
            delays,
            [3600, 7200, 14_400, 28_800, 57_600, 86_400, 86_400, 86_400]
        );
        assert_eq!(retry_delay_secs(u32::MAX), RETRY_MAX_SECS);

        let index = names(0..3);
        let mut ledger = DownloadLedger::default();
        let reason = DownloadFailure::Refused(KeyFileRefusal::BadSignature);
        ledger.record_failure(&index[1], reason, 1000);
        let plan = ledger.plan(&index, 1000, 64);
        assert_eq!(plan.fetch, [index[0].clone(), index[2].clone()]);
        assert_eq!(plan.waiting, 1);
        // Due again an hour later; a second failure waits two hours.
        assert_eq!(ledger.plan(&index, 4600, 64).fetch.len(), 3);
        ledger.record_failure(&index[1], DownloadFailure::HttpStatus(503), 4600);
        assert_eq!(ledger.failing[0].attempts, 2);
        assert_eq!(ledger.failing[0].next_retry_at, 4600 + 7200);
        assert_eq!(ledger.failing[0].reason, DownloadFailure::HttpStatus(503));
        // A clock set back by a week does not hold the retry for a week.
        assert_eq!(ledger.plan(&index, 4600 - 7 * 86_400, 64).waiting, 0);
        ledger.record_processed(&index[1]);
        assert!(ledger.failing.is_empty());
    }

    #[test]
    fn refusal_kinds_follow_key_file_errors() {
        assert_eq!(
            KeyFileRefusal::from(&KeyFileError::BadSignature("452".into())),
            KeyFileRefusal::BadSignature
        );
        assert_eq!(
            KeyFileRefusal::from(&KeyFileError::Write("x".into())),
            KeyFileRefusal::Other
        );
    }
}
