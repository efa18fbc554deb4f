//! What the tracer saves between runs in the store's sealed settings table: one typed value
//! per setting, each with its own codec ([`Saved`]), read and written through [`load`] and
//! [`save`].
//!
//! | setting | value | stored form |
//! |---|---|---|
//! | `pending_upload` | an upload not yet acknowledged (`Option<PendingUpload>`) | JSON; `null` once acknowledged |
//! | `downloaded_key_files` | the [`DownloadLedger`] | JSON (earlier versions: names one a line) |
//! | `processed_key_files` | [`ProcessedFiles`]: SHA-256 and day of every file matched | 36-byte records |
//! | `exposure_notified` | [`Notified`]: whether the person was told of an exposure | one byte, 0 or 1 |
//! | `driver_state` | [`DriverState`]: the phone driver's bytes ([`crate::driver::SavedState`]) | as given |
//! | `chaff_next_at` | [`ChaffDue`]: when the next fake upload sequence is due | 8 bytes, Unix seconds, big-endian |
//! | `risk_config` | the authority's [`RiskConfigDocument`] the phone applied (verified before it was saved) | its JSON, checked again when read |
//!
//! A value that does not decode is a [`SavedStateError::Damaged`], never silently a
//! default. The callers decide what damage means: values whose loss only costs repeated
//! work (the ledger, the processed files, the notified flag) start afresh through
//! [`load_or_default`], which logs it; a damaged pending upload could never be sent and is
//! destroyed at the next maintenance. The names never change: stored data is found by them.

use std::collections::BTreeSet;

use bluezone_protocol::risk_config::RiskConfigDocument;
use bluezone_store::{Store, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;
use zeroize::Zeroizing;

use crate::downloads::{DownloadLedger, valid_name};
use crate::error::CoreError;
use crate::upload::PendingUpload;

/// A saved value that cannot be read or written.
#[derive(Debug, Error)]
pub(crate) enum SavedStateError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The value was stored intact (its seal opened) but does not decode.
    #[error("the saved {setting} is damaged: {reason}")]
    Damaged {
        /// The setting's name.
        setting: &'static str,
        /// What is wrong, without any of the value's content.
        reason: String,
    },
}

impl From<SavedStateError> for CoreError {
    fn from(error: SavedStateError) -> Self {
        match error {
            SavedStateError::Store(e) => Self::Store(e),
            damaged @ SavedStateError::Damaged { .. } => Self::LocalState(damaged.to_string()),
        }
    }
}

/// A value kept in one setting, with its codec.
pub(crate) trait Saved: Sized {
    /// The setting's name.
    const SETTING: &'static str;

    /// The stored form (zeroized once written: some values hold secrets).
    ///
    /// # Errors
    /// [`SavedStateError::Damaged`] when the value cannot be encoded.
    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, SavedStateError>;

    /// Reads the stored form.
    ///
    /// # Errors
    /// [`SavedStateError::Damaged`] for anything that is not a stored form of the value.
    fn decode(bytes: &[u8]) -> Result<Self, SavedStateError>;

    /// The error for a stored form that does not decode.
    fn damaged(reason: impl Into<String>) -> SavedStateError {
        SavedStateError::Damaged {
            setting: Self::SETTING,
            reason: reason.into(),
        }
    }
}

/// The saved value, if any.
///
/// # Errors
/// Store errors; [`SavedStateError::Damaged`].
pub(crate) fn load<T: Saved>(store: &Store) -> Result<Option<T>, SavedStateError> {
    store
        .get_setting(T::SETTING)?
        .map(|bytes| T::decode(&bytes))
        .transpose()
}

/// The saved value; the default when there is none or it is damaged (logged as a warning).
/// Only for values whose loss costs repeated work, never correctness.
///
/// # Errors
/// Store errors.
pub(crate) fn load_or_default<T: Saved + Default>(store: &Store) -> Result<T, StoreError> {
    match load(store) {
        Ok(value) => Ok(value.unwrap_or_default()),
        Err(SavedStateError::Store(e)) => Err(e),
        Err(damaged) => {
            log::warn!("{damaged}; starting afresh");
            Ok(T::default())
        }
    }
}

/// Whether a value is saved (intact or not).
///
/// # Errors
/// Store errors.
pub(crate) fn is_saved<T: Saved>(store: &Store) -> Result<bool, StoreError> {
    Ok(store.get_setting(T::SETTING)?.is_some())
}

/// Saves `value`, replacing the previous one.
///
/// # Errors
/// Store errors; [`SavedStateError::Damaged`] when the value cannot be encoded.
pub(crate) fn save<T: Saved>(store: &mut Store, value: &T) -> Result<(), SavedStateError> {
    let bytes = value.encode()?;
    store.put_setting(T::SETTING, &bytes)?;
    Ok(())
}

/// What a JSON error says about where it failed, without the content it quotes.
fn json_reason(error: &serde_json::Error) -> String {
    format!(
        "{:?} error at line {} column {}",
        error.classify(),
        error.line(),
        error.column()
    )
}

/// `value` as JSON, for the values stored so.
fn to_json<T: Saved + Serialize>(value: &T) -> Result<Zeroizing<Vec<u8>>, SavedStateError> {
    serde_json::to_vec(value)
        .map(Zeroizing::new)
        .map_err(|e| T::damaged(json_reason(&e)))
}

/// The value stored as JSON in `bytes`.
fn from_json<T: Saved + DeserializeOwned>(bytes: &[u8]) -> Result<T, SavedStateError> {
    serde_json::from_slice(bytes).map_err(|e| T::damaged(json_reason(&e)))
}

impl Saved for Option<PendingUpload> {
    const SETTING: &'static str = "pending_upload";

    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, SavedStateError> {
        to_json(self)
    }

    fn decode(bytes: &[u8]) -> Result<Self, SavedStateError> {
        from_json(bytes)
    }
}

impl Saved for DownloadLedger {
    const SETTING: &'static str = "downloaded_key_files";

    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, SavedStateError> {
        to_json(self)
    }

    /// JSON, or the earlier form: the names processed, one a line.
    fn decode(bytes: &[u8]) -> Result<Self, SavedStateError> {
        let mut ledger = if bytes.trim_ascii_start().first() == Some(&b'{') {
            from_json(bytes)?
        } else {
            let text =
                std::str::from_utf8(bytes).map_err(|_| Self::damaged("a name is not UTF-8"))?;
            let mut processed = BTreeSet::new();
            for name in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                if !valid_name(name) {
                    return Err(Self::damaged("a line is not a key-file name"));
                }
                processed.insert(name.to_owned());
            }
            Self {
                processed,
                failing: Vec::new(),
            }
        };
        ledger.enforce_cap();
        Ok(ledger)
    }
}

/// Length of one [`ProcessedFiles`] record: a SHA-256 and a little-endian day number.
const PROCESSED_RECORD_LEN: usize = 36;

/// The key files matched within the retention period: the SHA-256 of each one's
/// `export.bin` and the day it was matched, so a file is never matched twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProcessedFiles(pub(crate) Vec<([u8; 32], u32)>);

impl ProcessedFiles {
    /// Whether a file with this hash was matched.
    pub(crate) fn contains(&self, sha256: &[u8; 32]) -> bool {
        self.0.iter().any(|(hash, _)| hash == sha256)
    }

    /// Adds the entries not there yet, then forgets those matched before `first_kept_day`.
    pub(crate) fn merge(&mut self, added: &[([u8; 32], u32)], first_kept_day: u32) {
        for entry in added {
            if !self.contains(&entry.0) {
                self.0.push(*entry);
            }
        }
        self.0.retain(|(_, day)| *day >= first_kept_day);
    }
}

impl Saved for ProcessedFiles {
    const SETTING: &'static str = "processed_key_files";

    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, SavedStateError> {
        Ok(Zeroizing::new(
            self.0
                .iter()
                .flat_map(|(hash, day)| hash.iter().copied().chain(day.to_le_bytes()))
                .collect(),
        ))
    }

    fn decode(bytes: &[u8]) -> Result<Self, SavedStateError> {
        let records = bytes.chunks_exact(PROCESSED_RECORD_LEN);
        if !records.remainder().is_empty() {
            return Err(Self::damaged("its length is not a whole number of records"));
        }
        Ok(Self(
            records
                .map(|record| {
                    let (hash, day) = record.split_at(32);
                    let mut h = [0u8; 32];
                    h.copy_from_slice(hash);
                    let mut d = [0u8; 4];
                    d.copy_from_slice(day);
                    (h, u32::from_le_bytes(d))
                })
                .collect(),
        ))
    }
}

/// Whether the person has been told of an exposure (so they are told once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Notified(pub(crate) bool);

impl Saved for Notified {
    const SETTING: &'static str = "exposure_notified";

    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, SavedStateError> {
        Ok(Zeroizing::new(vec![u8::from(self.0)]))
    }

    fn decode(bytes: &[u8]) -> Result<Self, SavedStateError> {
        match bytes {
            [0] => Ok(Self(false)),
            [1] => Ok(Self(true)),
            _ => Err(Self::damaged("not a single 0 or 1 byte")),
        }
    }
}

/// The phone driver's saved state, opaque here (the driver decodes it:
/// [`crate::driver::SavedState::from_bytes`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DriverState(pub(crate) Vec<u8>);

impl Saved for DriverState {
    const SETTING: &'static str = "driver_state";

    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, SavedStateError> {
        Ok(Zeroizing::new(self.0.clone()))
    }

    fn decode(bytes: &[u8]) -> Result<Self, SavedStateError> {
        Ok(Self(bytes.to_vec()))
    }
}

/// When the next fake upload sequence is due ([`crate::chaff`]), Unix seconds. Kept so the
/// background job that wakes at that time finds it due, whichever process it runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChaffDue(pub(crate) i64);

impl Saved for ChaffDue {
    const SETTING: &'static str = "chaff_next_at";

    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, SavedStateError> {
        Ok(Zeroizing::new(self.0.to_be_bytes().to_vec()))
    }

    fn decode(bytes: &[u8]) -> Result<Self, SavedStateError> {
        let bytes: [u8; 8] = bytes.try_into().map_err(|_| Self::damaged("not 8 bytes"))?;
        Ok(Self(i64::from_be_bytes(bytes)))
    }
}

impl Saved for RiskConfigDocument {
    const SETTING: &'static str = "risk_config";

    fn encode(&self) -> Result<Zeroizing<Vec<u8>>, SavedStateError> {
        to_json(self)
    }

    /// The JSON, whose values must still be in range.
    fn decode(bytes: &[u8]) -> Result<Self, SavedStateError> {
        let document: Self = from_json(bytes)?;
        document
            .validate()
            .map_err(|e| Self::damaged(crate::risk_config::refusal_kind(&e)))?;
        Ok(document)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::downloads::{DownloadFailure, KeyFileRefusal};
    use bluezone_protocol::messages::PublishKey;
    use bluezone_store::MasterKey;
    use rand::SeedableRng;

    fn store() -> Store {
        Store::open_in_memory(
            &MasterKey::from_bytes([7; 32]),
            Box::new(rand::rngs::StdRng::seed_from_u64(7)),
        )
        .expect("store")
    }

    /// `value` survives a trip through the store, and each of `damaged` is refused.
    fn round_trips<T: Saved + PartialEq + std::fmt::Debug>(value: &T, damaged: &[&[u8]]) {
        let mut store = store();
        assert!(load::<T>(&store).expect("nothing saved").is_none());
        assert!(!is_saved::<T>(&store).expect("store"));
        save(&mut store, value).expect("save");
        assert!(is_saved::<T>(&store).expect("store"));
        assert_eq!(load::<T>(&store).expect("load").as_ref(), Some(value));
        refuses::<T>(damaged);
    }

    /// Each of `damaged` is refused with the setting named, decoded or loaded.
    fn refuses<T: Saved + std::fmt::Debug>(damaged: &[&[u8]]) {
        let mut store = store();
        for bytes in damaged {
            match T::decode(bytes) {
                Err(SavedStateError::Damaged { setting, .. }) => assert_eq!(setting, T::SETTING),
                other => panic!("{:?} read {bytes:?} as {other:?}", T::SETTING),
            }
            store.put_setting(T::SETTING, bytes).expect("put");
            assert!(matches!(
                load::<T>(&store),
                Err(SavedStateError::Damaged { .. })
            ));
        }
    }

    #[test]
    fn a_pending_upload_round_trips_and_an_acknowledged_one_reads_as_none() {
        let pending = PendingUpload {
            token: "token".into(),
            secret: "c2VjcmV0".into(),
            keys: vec![PublishKey {
                key: "AAAAAAAAAAAAAAAAAAAAAA==".into(),
                rolling_start_number: 2_890_000,
                rolling_period: 144,
                transmission_risk: 0,
            }],
            certificate: Some("cert".into()),
            created_at: 1_793_491_200,
        };
        let mut store = store();
        save(&mut store, &Some(pending.clone())).expect("save");
        let loaded = load::<Option<PendingUpload>>(&store)
            .expect("load")
            .flatten();
        assert_eq!(loaded.as_ref().map(|p| p.created_at), Some(1_793_491_200));
        assert_eq!(
            loaded.encode().expect("encode").as_slice(),
            Some(pending).encode().expect("encode").as_slice()
        );
        save::<Option<PendingUpload>>(&mut store, &None).expect("acknowledged");
        let raw = store
            .get_setting("pending_upload")
            .expect("get")
            .expect("saved");
        assert_eq!(raw.as_slice(), b"null");
        assert!(matches!(
            load::<Option<PendingUpload>>(&store),
            Ok(Some(None))
        ));
        refuses::<Option<PendingUpload>>(&[b"{garbage", b"", b"[]"]);
    }

    #[test]
    fn the_download_ledger_round_trips_and_reads_the_earlier_form() {
        let mut ledger = DownloadLedger::default();
        ledger.record_processed("a.zip");
        let reason = DownloadFailure::Refused(KeyFileRefusal::UnknownSigner);
        ledger.record_failure("b.zip", reason, 7);
        round_trips(&ledger, &[b"{broken", b"x.zip\n../bad\n", b"\xff\xfe"]);
        let old = DownloadLedger::decode(b"x.zip\r\ny.zip\n\n").expect("earlier form");
        assert_eq!(old.processed.len(), 2);
        assert!(old.failing.is_empty());
        assert_eq!(
            DownloadLedger::decode(b"").expect("empty"),
            DownloadLedger::default()
        );
    }

    #[test]
    fn processed_files_round_trip_merge_and_forget_old_days() {
        let files = ProcessedFiles(vec![([1; 32], 20_000), ([2; 32], 20_010)]);
        round_trips(&files, &[&[0; 35], &[0; 37]]);
        assert_eq!(
            ProcessedFiles::decode(b"").expect("empty"),
            ProcessedFiles::default()
        );
        let mut merged = files.clone();
        merged.merge(&[([2; 32], 20_011), ([3; 32], 20_011)], 20_005);
        assert_eq!(merged.0, [([2; 32], 20_010), ([3; 32], 20_011)]);
        assert!(merged.contains(&[3; 32]) && !merged.contains(&[1; 32]));
    }

    #[test]
    fn the_risk_configuration_round_trips_and_must_still_be_valid() {
        let risk = bluezone_protocol::risk::RiskConfig::default();
        let document = RiskConfigDocument::new(4, 1_793_491_200, &risk, "note");
        let mut out_of_range = document.clone();
        out_of_range
            .parameters
            .gaen_mut()
            .expect("gaen")
            .days_to_consider = 0;
        let out_of_range = serde_json::to_vec(&out_of_range).expect("json");
        round_trips(&document, &[b"{", b"null", &out_of_range]);
    }

    #[test]
    fn the_notified_flag_is_one_byte() {
        round_trips(&Notified(true), &[b"", &[2], &[1, 1]]);
        round_trips(&Notified(false), &[]);
        round_trips(&ChaffDue(1_793_491_200), &[b"", &[1; 7], &[1; 9]]);
        assert_eq!(Notified(false).encode().expect("encode").as_slice(), [0]);
    }

    #[test]
    fn driver_state_is_kept_as_given() {
        round_trips(&DriverState(b"BZD1 anything".to_vec()), &[]);
    }

    #[test]
    fn damage_starts_afresh_only_where_asked_and_never_quotes_the_value() {
        let mut store = store();
        store
            .put_setting(ProcessedFiles::SETTING, &[9; 40])
            .expect("put");
        assert_eq!(
            load_or_default::<ProcessedFiles>(&store).expect("store"),
            ProcessedFiles::default()
        );
        store
            .put_setting(
                <Option<PendingUpload>>::SETTING,
                br#"{"token":"sekrit-token","secret":5}"#,
            )
            .expect("put");
        let error = CoreError::from(load::<Option<PendingUpload>>(&store).expect_err("damaged"));
        let text = error.to_string();
        assert!(matches!(error, CoreError::LocalState(_)), "{text}");
        assert!(
            text.contains("pending_upload") && !text.contains("sekrit"),
            "{text}"
        );
    }
}
