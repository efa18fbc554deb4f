//! Plain data crossing the boundary, and their one-step conversions from the core's types.

/// A key trusted to sign key files.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrustedSigner {
    /// `verification_key_id`, e.g. "452".
    pub key_id: String,
    /// `verification_key_version`, e.g. "v1".
    pub key_version: String,
    /// The P-256 public key: base64 SubjectPublicKeyInfo or PEM.
    pub public_key: String,
}

/// The app's settings for the core.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BluezoneConfig {
    /// This model's calibrated transmit power in dBm.
    pub tx_power_dbm: i8,
    /// This model's RSSI correction in dB.
    pub rssi_correction_db: i8,
    /// Keys trusted to sign key files.
    pub trusted_signers: Vec<TrustedSigner>,
    /// The authority's upload key (base64, 32 bytes), if uploads are enabled.
    pub upload_public_key: Option<String>,
}

/// What to broadcast now.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CurrentAdvertisement {
    /// The 31-byte legacy advertising payload.
    pub payload: Vec<u8>,
    /// The FD6F service data (RPI and AEM, 20 bytes), for stacks that build the advert.
    pub service_data: Vec<u8>,
    /// The interval whose RPI this is.
    pub interval: u32,
    /// Unix seconds of the rotation that started it.
    pub rotated_at: i64,
    /// Unix seconds at which to rotate (ask again, restart advertising).
    pub next_rotation_at: i64,
}

impl From<bluezone_core::CurrentAdvertisement> for CurrentAdvertisement {
    fn from(c: bluezone_core::CurrentAdvertisement) -> Self {
        Self {
            payload: c.payload.to_vec(),
            service_data: c.advertisement.service_data().to_vec(),
            interval: c.interval.get(),
            rotated_at: c.rotated_at,
            next_rotation_at: c.next_rotation_at,
        }
    }
}

/// One service UUID and its data, as the platform reports them.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ServiceDataEntry {
    /// The UUID as text ("FD6F" or the 128-bit form).
    pub uuid: String,
    /// The service data.
    pub data: Vec<u8>,
}

/// The advert bytes, in whichever form the platform gives them (parsed in Rust).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Advert {
    /// Raw advertising data (Android `ScanRecord.getBytes()`).
    RawAdvertisingData {
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Service UUIDs to data (iOS `CBAdvertisementDataServiceDataKey`).
    ServiceDataMap {
        /// The entries.
        entries: Vec<ServiceDataEntry>,
    },
    /// The FD6F service data alone.
    ServiceData {
        /// The bytes.
        bytes: Vec<u8>,
    },
}

/// One advert heard.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Sighting {
    /// What was heard.
    pub advert: Advert,
    /// Measured RSSI in dBm.
    pub rssi: i16,
    /// Unix seconds.
    pub time: i64,
    /// The shell's scan-window id, if any.
    pub scan_window: Option<u64>,
}

/// What one batch of sightings did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct IngestReport {
    /// Accepted and folded.
    pub accepted: u64,
    /// Refused: malformed adverts.
    pub malformed: u64,
    /// Refused: implausible RSSI.
    pub implausible_rssi: u64,
    /// Refused: from the future.
    pub from_the_future: u64,
    /// Refused: too old.
    pub too_old: u64,
}

impl From<bluezone_core::IngestReport> for IngestReport {
    fn from(r: bluezone_core::IngestReport) -> Self {
        Self {
            accepted: r.accepted,
            malformed: r.malformed,
            implausible_rssi: r.implausible_rssi,
            from_the_future: r.from_the_future,
            too_old: r.too_old,
        }
    }
}

/// One day of exposure.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct ExposureDay {
    /// Unix seconds of the day's UTC midnight.
    pub day_start: i64,
    /// The day's score.
    pub score: f64,
    /// Minutes weighted by attenuation.
    pub weighted_minutes: f64,
    /// Whether the day reached the threshold.
    pub over_threshold: bool,
}

/// What to tell the person.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ExposureStatus {
    /// Show the exposure notification.
    pub notify: bool,
    /// Post it now: it became true with this call.
    pub newly_notified: bool,
    /// The most recent day over the threshold (Unix seconds of its midnight).
    pub exposure_day_start: Option<i64>,
    /// Days with exposure.
    pub days: Vec<ExposureDay>,
    /// Files matched by this call.
    pub files_matched: u32,
    /// Keys checked by this call.
    pub keys_checked: u64,
    /// Key files this download could not process (not served, or refused); each is retried
    /// later with back-off and listed in [`Diagnostics::failing_key_files`].
    pub files_failed: u32,
    /// Key files still to download after this call (its batch was full): when above zero,
    /// call `download_key_files` again at once.
    pub files_remaining: u32,
}

impl From<bluezone_core::ExposureStatus> for ExposureStatus {
    fn from(s: bluezone_core::ExposureStatus) -> Self {
        Self {
            notify: s.notify,
            newly_notified: s.newly_notified,
            exposure_day_start: s.exposure_day.map(|d| d.start_unix_seconds()),
            days: s
                .days
                .iter()
                .map(|d| ExposureDay {
                    day_start: d.day.start_unix_seconds(),
                    score: d.score,
                    weighted_minutes: d.weighted_minutes,
                    over_threshold: d.over_threshold,
                })
                .collect(),
            files_matched: s.files_matched,
            keys_checked: s.keys_checked,
            files_failed: s.files_failed,
            files_remaining: s.files_remaining,
        }
    }
}

/// A redeemed code.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerifiedCode {
    /// Opaque token.
    pub token: String,
    /// Report type recorded by the official.
    pub report_type: u8,
    /// Symptom onset interval, if recorded.
    pub symptom_onset_interval: Option<u32>,
}

impl From<bluezone_core::VerifiedCode> for VerifiedCode {
    fn from(v: bluezone_core::VerifiedCode) -> Self {
        Self {
            token: v.token,
            report_type: v.report_type,
            symptom_onset_interval: v.symptom_onset_interval,
        }
    }
}

impl From<VerifiedCode> for bluezone_core::VerifiedCode {
    fn from(v: VerifiedCode) -> Self {
        Self {
            token: v.token,
            report_type: v.report_type,
            symptom_onset_interval: v.symptom_onset_interval,
        }
    }
}

/// A health report on data collection.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Diagnostics {
    /// Distinct identifiers heard per hour, last 24 hours, oldest first.
    pub ids_heard_per_hour: Vec<u32>,
    /// Scans in the last 24 hours.
    pub scans_last_24h: u32,
    /// Longest gap between scans in the last 24 hours, seconds.
    pub longest_scan_gap_secs: Option<i64>,
    /// Gaps over 10 minutes.
    pub scan_gaps_over_10_min: u32,
    /// Unix seconds of the last rotation.
    pub last_rotation_at: Option<i64>,
    /// Bytes stored.
    pub storage_bytes: u64,
    /// Sightings accepted since opening.
    pub accepted_since_open: u64,
    /// Sightings refused since opening.
    pub refused_since_open: u64,
    /// Key files that failed and wait for a retry, in the order they first failed (at most
    /// 100).
    pub failing_key_files: Vec<FailingKeyFile>,
    /// How many key files are failing (all of them, even past the list's limit).
    pub failing_key_file_count: u32,
}

impl From<bluezone_core::Diagnostics> for Diagnostics {
    fn from(d: bluezone_core::Diagnostics) -> Self {
        Self {
            ids_heard_per_hour: d
                .ids_heard_per_hour
                .iter()
                .map(|h| h.distinct_rpis)
                .collect(),
            scans_last_24h: d.scans_last_24h,
            longest_scan_gap_secs: d.longest_scan_gap_secs,
            scan_gaps_over_10_min: d.scan_gaps_over_10_min,
            last_rotation_at: d.last_rotation_at,
            storage_bytes: d.storage_bytes,
            accepted_since_open: d.ingest_since_open.accepted,
            refused_since_open: d.ingest_since_open.rejected(),
            failing_key_files: d
                .failing_key_files
                .into_iter()
                .map(FailingKeyFile::from)
                .collect(),
            failing_key_file_count: d.failing_key_file_count,
        }
    }
}

/// A key file the server lists that could not be processed, and when it is tried again.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FailingKeyFile {
    /// The file's name in the server's index.
    pub name: String,
    /// Why it failed the last time.
    pub reason: DownloadFailure,
    /// Attempts so far, all failed.
    pub attempts: u32,
    /// Unix seconds from which it is tried again.
    pub next_retry_at: i64,
}

impl From<bluezone_core::FailingKeyFile> for FailingKeyFile {
    fn from(f: bluezone_core::FailingKeyFile) -> Self {
        Self {
            name: f.name,
            reason: f.reason.into(),
            attempts: f.attempts,
            next_retry_at: f.next_retry_at,
        }
    }
}

/// Why a key file could not be processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum DownloadFailure {
    /// The server answered this HTTP status instead of 200.
    HttpStatus {
        /// The status.
        status: u16,
    },
    /// The file arrived but was refused.
    Refused {
        /// What was wrong with it.
        kind: KeyFileRefusal,
    },
}

impl From<bluezone_core::DownloadFailure> for DownloadFailure {
    fn from(f: bluezone_core::DownloadFailure) -> Self {
        match f {
            bluezone_core::DownloadFailure::HttpStatus(status) => Self::HttpStatus { status },
            bluezone_core::DownloadFailure::Refused(kind) => Self::Refused { kind: kind.into() },
        }
    }
}

/// Why a downloaded key file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
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

impl From<bluezone_core::KeyFileRefusal> for KeyFileRefusal {
    fn from(k: bluezone_core::KeyFileRefusal) -> Self {
        use bluezone_core::KeyFileRefusal as K;
        match k {
            K::TooLarge => Self::TooLarge,
            K::MalformedZip => Self::MalformedZip,
            K::UnexpectedEntry => Self::UnexpectedEntry,
            K::MissingEntry => Self::MissingEntry,
            K::BadHeader => Self::BadHeader,
            K::MalformedExport => Self::MalformedExport,
            K::MalformedSignatureList => Self::MalformedSignatureList,
            K::NoSignature => Self::NoSignature,
            K::UnsupportedAlgorithm => Self::UnsupportedAlgorithm,
            K::UnknownSigner => Self::UnknownSigner,
            K::BadSignature => Self::BadSignature,
            K::TooManyKeys => Self::TooManyKeys,
            K::InvalidKey => Self::InvalidKey,
            K::InvalidHeader => Self::InvalidHeader,
            K::Other => Self::Other,
        }
    }
}
