//! Sightings as the shells hand them over, and their validation.
//!
//! Shells pass what the platform gives them, undecoded: raw advertising data (Android scan
//! records, desktop stacks), a service-data map (iOS), or FD6F service data alone. Decoding
//! happens here, once, in Rust. Anything malformed, implausible, from the future or too old
//! is refused and counted by reason; it never reaches storage.

use bluezone_protocol::{Advertisement, AssociatedEncryptedMetadata, RollingProximityIdentifier};

use crate::config::TracerConfig;

/// The advert bytes of one sighting, in whichever form the platform provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdvertData {
    /// Raw advertising data: a sequence of AD structures.
    Raw(Vec<u8>),
    /// Service UUID strings mapped to service data.
    ServiceDataMap(Vec<(String, Vec<u8>)>),
    /// The FD6F service data alone (RPI and AEM, 20 bytes).
    ServiceData(Vec<u8>),
    /// An advert already decoded (by the simulator or a test).
    Decoded(Advertisement),
}

/// One advert heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SightingInput {
    /// What was heard.
    pub advert: AdvertData,
    /// Received signal strength in dBm, as measured (before any receiver correction).
    pub rssi: i16,
    /// Unix time (seconds) at which it was heard.
    pub time: i64,
    /// The shell's id of the scan window it was heard in, if the shell tracks them.
    pub scan_window: Option<u64>,
}

/// A sighting that passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidSighting {
    /// Identifier heard.
    pub rpi: RollingProximityIdentifier,
    /// Its encrypted metadata.
    pub aem: AssociatedEncryptedMetadata,
    /// Received signal strength in dBm.
    pub rssi: i8,
    /// Unix time (seconds).
    pub time: i64,
    /// The shell's scan-window id.
    pub scan_window: Option<u64>,
}

/// Why a sighting was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Not a well-formed exposure-notification advert.
    Malformed,
    /// An RSSI no radio reports (outside −127..=20 dBm; Android uses 127 for "unknown").
    ImplausibleRssi,
    /// Heard later than the clock's now plus the tolerance.
    FromTheFuture,
    /// Heard longer ago than the engine accepts.
    TooOld,
}

/// Counts of what one `record_sightings` call accepted and refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct IngestReport {
    /// Sightings accepted and folded.
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

impl IngestReport {
    /// Counts one refusal.
    pub fn count(&mut self, rejection: Rejection) {
        match rejection {
            Rejection::Malformed => self.malformed += 1,
            Rejection::ImplausibleRssi => self.implausible_rssi += 1,
            Rejection::FromTheFuture => self.from_the_future += 1,
            Rejection::TooOld => self.too_old += 1,
        }
    }

    /// Adds another report's counts to this one.
    pub fn add(&mut self, other: &Self) {
        self.accepted += other.accepted;
        self.malformed += other.malformed;
        self.implausible_rssi += other.implausible_rssi;
        self.from_the_future += other.from_the_future;
        self.too_old += other.too_old;
    }

    /// All refusals.
    #[must_use]
    pub const fn rejected(&self) -> u64 {
        self.malformed + self.implausible_rssi + self.from_the_future + self.too_old
    }
}

/// Decodes and checks one sighting against the clock's `now`.
///
/// # Errors
/// The [`Rejection`] reason.
pub fn validate(
    input: &SightingInput,
    now: i64,
    config: &TracerConfig,
) -> Result<ValidSighting, Rejection> {
    if input.time > now.saturating_add(config.future_tolerance_secs) {
        return Err(Rejection::FromTheFuture);
    }
    if input.time < now.saturating_sub(config.max_sighting_age_secs) || input.time < 0 {
        return Err(Rejection::TooOld);
    }
    let rssi = i8::try_from(input.rssi)
        .ok()
        .filter(|r| (-127..=20).contains(r))
        .ok_or(Rejection::ImplausibleRssi)?;
    let advert = match &input.advert {
        AdvertData::Raw(bytes) => Advertisement::from_advertising_data(bytes),
        AdvertData::ServiceDataMap(map) => Advertisement::from_service_data_map(
            map.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
        ),
        AdvertData::ServiceData(bytes) => Advertisement::from_service_data(bytes),
        AdvertData::Decoded(ad) => Ok(*ad),
    }
    .map_err(|_| Rejection::Malformed)?;
    Ok(ValidSighting {
        rpi: advert.rpi,
        aem: advert.aem,
        rssi,
        time: input.time,
        scan_window: input.scan_window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    fn input(advert: AdvertData, rssi: i16, time: i64) -> SightingInput {
        SightingInput {
            advert,
            rssi,
            time,
            scan_window: Some(3),
        }
    }

    fn ad() -> Advertisement {
        Advertisement {
            rpi: RollingProximityIdentifier([7; 16]),
            aem: AssociatedEncryptedMetadata([1, 2, 3, 4]),
        }
    }

    #[test]
    fn accepts_every_advert_form() {
        let config = TracerConfig::default();
        let forms = [
            AdvertData::Raw(ad().to_legacy_payload().to_vec()),
            AdvertData::ServiceDataMap(vec![("FD6F".into(), ad().service_data().to_vec())]),
            AdvertData::ServiceData(ad().service_data().to_vec()),
            AdvertData::Decoded(ad()),
        ];
        for form in forms {
            let v = validate(&input(form, -60, NOW), NOW, &config).unwrap();
            assert_eq!(
                (v.rpi, v.aem, v.rssi, v.time),
                (ad().rpi, ad().aem, -60, NOW)
            );
            assert_eq!(v.scan_window, Some(3));
        }
    }

    #[test]
    fn refuses_with_reasons() {
        let config = TracerConfig::default();
        let good = || AdvertData::Decoded(ad());
        let cases = [
            (
                input(AdvertData::Raw(vec![1, 2, 3]), -60, NOW),
                Rejection::Malformed,
            ),
            (
                input(AdvertData::ServiceData(vec![0; 19]), -60, NOW),
                Rejection::Malformed,
            ),
            (input(good(), 127, NOW), Rejection::ImplausibleRssi),
            (input(good(), -128, NOW), Rejection::ImplausibleRssi),
            (input(good(), 21, NOW), Rejection::ImplausibleRssi),
            (input(good(), -60, NOW + 61), Rejection::FromTheFuture),
            (input(good(), -60, NOW - 6 * 3600 - 1), Rejection::TooOld),
        ];
        for (case, reason) in cases {
            assert_eq!(validate(&case, NOW, &config), Err(reason), "{case:?}");
        }
        assert!(validate(&input(good(), -60, NOW + 60), NOW, &config).is_ok());
        assert!(validate(&input(good(), 20, NOW - 6 * 3600), NOW, &config).is_ok());
        let mut report = IngestReport::default();
        report.count(Rejection::TooOld);
        report.count(Rejection::Malformed);
        assert_eq!(report.rejected(), 2);
    }
}
