//! Publishing: keys whose embargo has passed go into signed key files, padded with random
//! keys; the index lists the files a phone can still use; a start-up check proves every key
//! marked published is in an intact file, and repairs what is not.
//!
//! The order of a publish makes it atomic and idempotent:
//!
//! 1. the file is written under a name no other file has, synced, and linked into place
//!    (never over an existing file: [`crate::files::FileStore::put_new`]);
//! 2. one transaction records the file with its SHA-256 and marks its keys, only if every
//!    one of them is still unpublished ([`RecordOutcome`]).
//!
//! A crash between the two leaves an unrecorded file that no phone can see (only recorded
//! files are indexed or served) and keys still unpublished, which the next run publishes.
//! A crash after the second leaves both done. Nothing in between loses a key.

use std::collections::HashSet;

use bluezone_protocol::keyfile::{
    DiagnosisKey, ExportInfo, KeyFileLimits, ReportType, TrustedKeys, read_key_file, write_key_file,
};
use bluezone_protocol::refusal::RefusalCode;
use bluezone_protocol::{IntervalNumber, RollingPeriod};
use rand::{Rng, RngExt};
use sha2::{Digest, Sha256};

use crate::authority::{Authority, AuthorityError};
use crate::store::{PublishableKey, PublisherLock, PurgeReport, RecordOutcome};

/// How long a file must have been unrecorded before the start-up check deletes it, when
/// other instances share the database (and may be between writing and recording it).
const SHARED_ORPHAN_AGE_SECS: u64 = 600;

/// Names of published files: `<unix seconds>-<5 digits>.zip`.
fn is_key_file_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".zip") else {
        return false;
    };
    let Some((seconds, serial)) = stem.split_once('-') else {
        return false;
    };
    !seconds.is_empty()
        && seconds.len() <= 19
        && seconds.bytes().all(|b| b.is_ascii_digit())
        && serial.len() == 5
        && serial.bytes().all(|b| b.is_ascii_digit())
}

/// What the start-up check found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishingCheck {
    /// Recorded files found intact.
    pub files_intact: usize,
    /// Recorded files missing, altered or not holding their keys: withdrawn from the index,
    /// their keys published again.
    pub files_withdrawn: Vec<String>,
    /// Keys marked unpublished again because their file was withdrawn.
    pub keys_republished: u64,
    /// Files on disk that no record names (a publish interrupted before its commit):
    /// deleted, no phone ever saw them.
    pub orphans_removed: Vec<String>,
    /// Temporary files of writes interrupted before they were linked into place, deleted.
    pub interrupted_writes_removed: usize,
}

/// A published key file as served: its bytes and what caches key it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedFile {
    /// The file.
    pub bytes: Vec<u8>,
    /// Its SHA-256: the one recorded when it was written, else the hash of `bytes`.
    pub sha256: [u8; 32],
    /// Whether `sha256` is the recorded hash (always, once the start-up check has run).
    pub recorded_sha256: bool,
    /// Unix seconds it was published.
    pub created_at: i64,
}

impl Authority {
    /// Takes or keeps the right to publish: on a database shared by several instances only
    /// the one holding it publishes, and when that instance dies the next to ask takes it
    /// ([`PublisherLock::Taken`]: run [`Authority::check_published_files`] before
    /// publishing). In one process on SQLite the first call takes it.
    ///
    /// # Errors
    /// Internal errors (the database cannot be reached).
    pub fn take_publishing(&self) -> Result<PublisherLock, AuthorityError> {
        self.store
            .publisher_lock()
            .map_err(AuthorityError::internal)
    }

    /// Gives up the right to publish (at shutdown), so another instance takes it at once.
    pub fn resign_publishing(&self) {
        self.store.release_publisher_lock();
    }

    /// The oldest creation time of a file still in the index at `now`.
    fn index_since(&self, now: i64) -> i64 {
        now.saturating_sub(self.config.retention_secs)
    }

    /// Publishes every key whose embargo has passed, in signed files padded with random keys;
    /// returns the names of the new files. One publisher runs at a time in this process; a
    /// publish never replaces a file, and a key is in exactly one indexed file.
    ///
    /// # Errors
    /// Internal errors (storage); keys not yet recorded as published stay publishable.
    pub fn publish_files(&self, now: i64) -> Result<Vec<String>, AuthorityError> {
        let _one_publisher = self.publish_lock.lock().map_err(AuthorityError::internal)?;
        let mut names = Vec::new();
        let limit = u32::try_from(self.config.max_keys_per_file).unwrap_or(u32::MAX);
        let mut serial = 1u32;
        loop {
            let batch = self
                .store
                .publishable_keys(now, limit)
                .map_err(AuthorityError::internal)?;
            if batch.is_empty() {
                return Ok(names);
            }
            let keys = self.padded_keys(&batch)?;
            let info = ExportInfo {
                start_timestamp: u64::try_from(now - 3600).unwrap_or(0),
                end_timestamp: u64::try_from(now).unwrap_or(0),
                region: self.config.region.clone(),
                batch_num: 1,
                batch_size: 1,
            };
            let file = write_key_file(&info, &keys, self.keys.file_signer())
                .map_err(AuthorityError::internal)?;
            let sha256: [u8; 32] = Sha256::digest(&file).into();
            let ids: Vec<i64> = batch.iter().map(|p| p.id).collect();
            let key_count = u32::try_from(keys.len()).unwrap_or(u32::MAX);
            let name = loop {
                if serial > 99_999 {
                    return Err(AuthorityError::internal(format!(
                        "no free file name left for {now}"
                    )));
                }
                let name = format!("{now}-{serial:05}.zip");
                serial += 1;
                if !self
                    .files
                    .put_new(&name, &file)
                    .map_err(AuthorityError::internal)?
                {
                    continue; // A file of that name exists (an earlier run this second).
                }
                match self
                    .store
                    .record_file(&name, &sha256, &ids, key_count, now)
                    .map_err(AuthorityError::internal)?
                {
                    RecordOutcome::Recorded => break Some(name),
                    RecordOutcome::NameTaken => {
                        self.files.remove(&name).map_err(AuthorityError::internal)?;
                    }
                    RecordOutcome::KeysTaken => {
                        self.files.remove(&name).map_err(AuthorityError::internal)?;
                        break None;
                    }
                }
            };
            let Some(name) = name else {
                continue; // Another publisher took these keys: read the batch again.
            };
            self.audit(
                None,
                "publish",
                &format!("{name}: {} keys, {} real", keys.len(), ids.len()),
                now,
            )?;
            names.push(name);
        }
    }

    /// The batch's keys as they go into a file, with random keys added up to the minimum.
    fn padded_keys(&self, batch: &[PublishableKey]) -> Result<Vec<DiagnosisKey>, AuthorityError> {
        let mut keys = batch
            .iter()
            .map(diagnosis_key)
            .collect::<Result<Vec<DiagnosisKey>, AuthorityError>>()?;
        let mut rng = self.rng.lock().map_err(AuthorityError::internal)?;
        let real = keys.len();
        while keys.len() < self.config.min_keys_per_file {
            let mut fake = keys[rng.random_range(0..real)];
            rng.fill_bytes(&mut fake.key_data);
            keys.push(fake);
        }
        Ok(keys)
    }

    /// The index phones poll: the names of the files published within the retention period
    /// (the only ones a phone can still use), oldest first, one per line.
    ///
    /// # Errors
    /// Internal errors.
    pub fn index(&self, now: i64) -> Result<String, AuthorityError> {
        let files = self
            .store
            .files_since(self.index_since(now))
            .map_err(AuthorityError::internal)?;
        let mut text = String::with_capacity(files.len() * 24);
        for file in files {
            text.push_str(&file.name);
            text.push('\n');
        }
        Ok(text)
    }

    /// A published file that is in the index at `now`; nothing else in the folder is served.
    ///
    /// # Errors
    /// `file_not_found`, or internal errors.
    pub fn file(&self, name: &str, now: i64) -> Result<Vec<u8>, AuthorityError> {
        self.published_file(name, now).map(|file| file.bytes)
    }

    /// [`Authority::file`] with what a cache needs: its recorded SHA-256 (hashed now for a
    /// file published before hashes were kept) and when it was published.
    ///
    /// # Errors
    /// `file_not_found`, or internal errors.
    pub fn published_file(&self, name: &str, now: i64) -> Result<PublishedFile, AuthorityError> {
        let not_found = || AuthorityError::refused(RefusalCode::FileNotFound, "no such file");
        let record = self
            .store
            .file_record(name)
            .map_err(AuthorityError::internal)?
            .filter(|r| r.created_at >= self.index_since(now))
            .ok_or_else(not_found)?;
        let bytes = self
            .files
            .get(name)
            .map_err(AuthorityError::internal)?
            .ok_or_else(not_found)?;
        Ok(PublishedFile {
            sha256: record
                .sha256
                .unwrap_or_else(|| Sha256::digest(&bytes).into()),
            recorded_sha256: record.sha256.is_some(),
            created_at: record.created_at,
            bytes,
        })
    }

    /// Proves, at start, that every key marked published is in an intact file: each recorded
    /// file must exist and match the SHA-256 recorded when it was written (files published
    /// before hashes were kept must verify with the signing key and hold every key recorded
    /// in them). A file that fails is withdrawn from the index and its keys are published
    /// again with the next run. Key files on disk that no record names are deleted. Run it
    /// before the first publish, as the only publisher: in one process, or as the instance
    /// holding the database's publisher lock ([`Authority::take_publishing`]).
    ///
    /// When every one of two or more files fails, that is more likely a wrong `--files`
    /// folder than a lost disk: nothing is withdrawn and an error says so, unless
    /// `withdraw_all` confirms it.
    ///
    /// # Errors
    /// Internal errors (storage), or every file failing without `withdraw_all`.
    pub fn check_published_files(
        &self,
        now: i64,
        withdraw_all: bool,
    ) -> Result<PublishingCheck, AuthorityError> {
        let _one_publisher = self.publish_lock.lock().map_err(AuthorityError::internal)?;
        let mut check = PublishingCheck::default();
        let records = self.store.all_files().map_err(AuthorityError::internal)?;
        let recorded: HashSet<&str> = records.iter().map(|r| r.name.as_str()).collect();
        let mut failing = Vec::new();
        for record in &records {
            let bytes = self
                .files
                .get(&record.name)
                .map_err(AuthorityError::internal)?;
            let intact = bytes.is_some_and(|bytes| {
                let sha256: [u8; 32] = Sha256::digest(&bytes).into();
                match record.sha256 {
                    // Written and hashed by this server: the bytes are what it published,
                    // whichever key id and version signed them.
                    Some(recorded) => recorded == sha256,
                    None => self.legacy_file_is_intact(&record.name, &bytes, &sha256),
                }
            });
            if intact {
                check.files_intact += 1;
            } else {
                failing.push(record.name.clone());
            }
        }
        if failing.len() >= 2 && failing.len() == records.len() && !withdraw_all {
            return Err(AuthorityError::internal(format!(
                "all {} published files are missing or altered: is the files folder right? \
                 Nothing was withdrawn; to publish their keys again, start with \
                 --republish-lost-files",
                failing.len()
            )));
        }
        for name in failing {
            check.keys_republished += self
                .store
                .withdraw_file(&name, now)
                .map_err(AuthorityError::internal)?;
            self.audit(
                None,
                "withdraw_file",
                &format!("{name}: missing, altered or incomplete"),
                now,
            )?;
            check.files_withdrawn.push(name);
        }
        // Another instance's publish may be between writing a file and recording it: only
        // files unrecorded for longer than any publish takes are orphans then.
        let min_orphan_age = if self.store.shared_by_instances() {
            SHARED_ORPHAN_AGE_SECS
        } else {
            0
        };
        check.interrupted_writes_removed = self
            .files
            .remove_interrupted_writes(min_orphan_age)
            .map_err(AuthorityError::internal)?;
        for (name, age) in self.files.list().map_err(AuthorityError::internal)? {
            let old_enough = age.map_or(min_orphan_age == 0, |age| age >= min_orphan_age);
            if is_key_file_name(&name) && !recorded.contains(name.as_str()) && old_enough {
                self.files.remove(&name).map_err(AuthorityError::internal)?;
                check.orphans_removed.push(name);
            }
        }
        Ok(check)
    }

    /// A file published before hashes were recorded: it must verify with the current signing
    /// key and hold every key recorded in it; then its hash is recorded.
    fn legacy_file_is_intact(&self, name: &str, bytes: &[u8], sha256: &[u8; 32]) -> bool {
        let trusted = TrustedKeys::single(self.keys.file_signer().trusted_key());
        let Ok(file) = read_key_file(bytes, &trusted, &KeyFileLimits::default()) else {
            return false;
        };
        let held: HashSet<[u8; 16]> = file.keys.iter().map(|k| k.key_data).collect();
        let holds_all = self
            .store
            .file_keys(name)
            .is_ok_and(|keys| keys.iter().all(|k| held.contains(k)));
        holds_all && self.store.set_file_hash(name, sha256).is_ok()
    }

    /// Deletes what is past the retention period: files published before it (records and
    /// bytes) with their keys, keys that ended before it unpublished, expired codes and
    /// tokens. The audit log is kept.
    ///
    /// # Errors
    /// Internal errors.
    pub fn purge_expired(&self, now: i64) -> Result<PurgeReport, AuthorityError> {
        let _one_publisher = self.publish_lock.lock().map_err(AuthorityError::internal)?;
        let report = self
            .store
            .purge(self.index_since(now), now)
            .map_err(AuthorityError::internal)?;
        self.store
            .prune_attempts(now - crate::limits::LONGEST_WINDOW_SECS)
            .map_err(AuthorityError::internal)?;
        for name in &report.files {
            self.files.remove(name).map_err(AuthorityError::internal)?;
        }
        if !report.files.is_empty() || report.keys > 0 {
            self.audit(
                None,
                "purge",
                &format!(
                    "{} files, {} keys, {} uploads, {} codes, {} tokens",
                    report.files.len(),
                    report.keys,
                    report.uploads,
                    report.codes,
                    report.tokens
                ),
                now,
            )?;
        }
        Ok(report)
    }
}

/// A stored key as it goes into a file. A stored rolling period or report type out of range
/// (a damaged row the store let through) stops the publishing run instead of being published
/// as something else.
fn diagnosis_key(p: &PublishableKey) -> Result<DiagnosisKey, AuthorityError> {
    let rolling_period = RollingPeriod::new(p.key.rolling_period).map_err(|_| {
        AuthorityError::internal(format!("stored key {}: rolling period out of range", p.id))
    })?;
    let report_type = ReportType::from_i32(i32::from(p.claims.report_type)).ok_or_else(|| {
        AuthorityError::internal(format!("stored key {}: unknown report type", p.id))
    })?;
    Ok(DiagnosisKey {
        key_data: p.key.key_data,
        rolling_start: IntervalNumber::new(p.key.rolling_start),
        rolling_period,
        transmission_risk: p.key.transmission_risk,
        report_type,
        days_since_onset: p.claims.symptom_onset_interval.and_then(|onset| {
            let days = (i64::from(p.key.rolling_start) - i64::from(onset)).div_euclid(144);
            i8::try_from(days).ok().filter(|d| (-14..=14).contains(d))
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::is_key_file_name;

    #[test]
    fn key_file_names() {
        assert!(is_key_file_name("1793530800-00001.zip"));
        for name in [
            "1793530800-1.zip",
            "x-00001.zip",
            "1793530800-00001.zip.part",
            ".1793530800-00001.zip.ab.part",
            "bluezone-server.db",
            "-00001.zip",
        ] {
            assert!(!is_key_file_name(name), "{name}");
        }
    }
}
