//! The phone's own keys in the engine: the key in force (made and stored before use), the
//! advertisement on air and its rotation, and releasing today's key for an upload.

use bluezone_protocol::{Advertisement, IntervalNumber, RollingPeriod, TemporaryExposureKey};
use bluezone_store::Table;

use super::Engine;
use crate::error::CoreError;
use crate::own_keys::{OwnKey, key_for};
use crate::rotation::{CurrentAdvertisement, draw_lifetime, rotation_due};

impl Engine {
    /// The key in force at `interval`, made and stored first if there is none.
    fn key_in_force(&mut self, interval: IntervalNumber) -> Result<OwnKey, CoreError> {
        if let Some(key) = key_for(&self.keys, interval) {
            return Ok(key.clone());
        }
        let key = OwnKey {
            tek: TemporaryExposureKey::generate(&mut *self.rng),
            rolling_start: interval.rolling_start(),
            rolling_period: RollingPeriod::FULL_DAY,
        };
        self.store
            .append(Table::OwnKeys, interval.day(), &key.to_record())?;
        self.keys.push(key.clone());
        log::info!("a new daily key was made and stored");
        Ok(key)
    }

    /// The advertisement to broadcast at `now`, rotated when due.
    pub(crate) fn current_advertisement(
        &mut self,
        now: i64,
    ) -> Result<CurrentAdvertisement, CoreError> {
        if let Some(current) = self
            .current
            .filter(|_| !rotation_due(self.current.as_ref(), now))
        {
            return Ok(current);
        }
        let interval = IntervalNumber::from_unix_seconds(now)?;
        let key = self.key_in_force(interval)?;
        let derived = key.tek.derive_keys();
        let rpi = derived.rpik.identifier(interval);
        // Checked when the tracer opened: this cannot fail for a tracer that exists.
        let aem = derived.aemk.encrypt(&rpi, self.config.metadata()?);
        let advertisement = Advertisement { rpi, aem };
        let lifetime = draw_lifetime(
            &mut *self.rng,
            self.config.rotation_min_secs,
            self.config.rotation_max_secs,
        );
        // A key whose period ends before its day does was released by an upload: its
        // identifiers leave the air where its published period ends and the replacement
        // takes over. (Daily keys rotate across midnight like GAEN's: the 10-20 minute
        // lifetime is kept.)
        let key_end = key.rolling_start.get() + key.rolling_period.get();
        let mut next_rotation_at = now + i64::from(lifetime);
        if key_end % RollingPeriod::FULL_DAY.get() != 0 {
            next_rotation_at = next_rotation_at.min(i64::from(key_end) * 600);
        }
        let current = CurrentAdvertisement {
            advertisement,
            interval,
            payload: advertisement.to_legacy_payload(),
            rotated_at: now,
            next_rotation_at,
        };
        self.current = Some(current);
        log::debug!("rotated; next rotation at {next_rotation_at}");
        Ok(current)
    }

    /// Releases the key in force now: its rolling period ends with the current interval, and
    /// a new key covers the rest of its day. Broadcasting moves to the new key at the next
    /// interval.
    pub(crate) fn release_current_key(&mut self, now: i64) -> Result<(), CoreError> {
        let interval = IntervalNumber::from_unix_seconds(now)?;
        let Some(key) = key_for(&self.keys, interval).cloned() else {
            return Ok(());
        };
        let released_period = interval.get() - key.rolling_start.get() + 1;
        if released_period >= key.rolling_period.get() {
            return Ok(());
        }
        let released = OwnKey {
            rolling_period: RollingPeriod::new(released_period)?,
            ..key.clone()
        };
        let next = interval.wrapping_add(1);
        let rest = key.rolling_start.get() + key.rolling_period.get() - next.get();
        let replacement = OwnKey {
            tek: TemporaryExposureKey::generate(&mut *self.rng),
            rolling_start: next,
            rolling_period: RollingPeriod::new(rest)?,
        };
        let day = interval.day();
        let records = [released.to_record(), replacement.to_record()];
        self.store.append_batch(&[
            (Table::OwnKeys, day, records[0].as_slice()),
            (Table::OwnKeys, day, records[1].as_slice()),
        ])?;
        self.keys.push(released);
        self.keys.push(replacement);
        // The identifier on air (this interval's, of the released key) stays until the
        // interval ends, then the replacement's: no new address for the same identifier.
        let released_end = i64::from(next.get()) * 600;
        if let Some(current) = &mut self.current {
            current.next_rotation_at = current.next_rotation_at.min(released_end);
        }
        self.identity_changes += 1;
        log::info!(
            "today's key released after {released_period} intervals and replaced for the \
             remaining {rest}"
        );
        Ok(())
    }
}
