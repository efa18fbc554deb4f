//! Grouping adverts into scan windows and handing each window to the core.
//!
//! A desktop scanner listens continuously; the core folds sightings per RPI and scan window
//! (its exposure windows count scans). The batcher cuts the stream into windows of a fixed
//! length by the adverts' own timestamps, gives each an id, and delivers each window's
//! sightings to a [`SightingSink`] in one call when the window closes.

use std::collections::HashSet;

use bluezone_core::{CoreError, SightingInput, SightingSink};
use bluezone_protocol::Advertisement;

use crate::frame::AdvertFrame;

/// What the batcher did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// Frames offered.
    pub frames: u64,
    /// Frames dropped because they carry no FD6F service data.
    pub not_exposure_notification: u64,
    /// FD6F frames dropped because the stack gave no RSSI.
    pub without_rssi: u64,
    /// Sightings handed to the sink.
    pub delivered: u64,
    /// Of those, accepted by the core.
    pub accepted: u64,
    /// Of those, refused by the core (malformed, implausible RSSI, too old, from the future).
    pub refused: u64,
    /// Windows delivered.
    pub windows: u64,
    /// Distinct well-formed RPIs heard.
    pub distinct_rpis: usize,
}

/// An FD6F advert taken in, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    /// The frame.
    pub frame: AdvertFrame,
    /// Its RPI and AEM (`None` when malformed: the core will refuse it).
    pub advert: Option<Advertisement>,
    /// The scan window it went into.
    pub window: u64,
}

/// Cuts adverts into scan windows and delivers them to a sink.
pub struct Batcher<'a> {
    sink: &'a dyn SightingSink,
    window_secs: i64,
    window: u64,
    window_start: Option<i64>,
    pending: Vec<SightingInput>,
    rpis: HashSet<[u8; 16]>,
    summary: BatchSummary,
}

impl<'a> Batcher<'a> {
    /// A batcher delivering to `sink` in windows of `window_secs` seconds (at least 1).
    #[must_use]
    pub fn new(sink: &'a dyn SightingSink, window_secs: i64) -> Self {
        Self {
            sink,
            window_secs: window_secs.max(1),
            window: 0,
            window_start: None,
            pending: Vec::new(),
            rpis: HashSet::new(),
            summary: BatchSummary::default(),
        }
    }

    /// Takes one frame: returns what was heard if it is an FD6F advert with an RSSI. A frame
    /// past the current window closes and delivers it first.
    ///
    /// # Errors
    /// The sink's error when delivering a closed window (its sightings are kept and
    /// delivered with the next window).
    pub fn push(&mut self, frame: &AdvertFrame) -> Result<Option<Heard>, CoreError> {
        self.summary.frames += 1;
        if !frame.is_exposure_notification() {
            self.summary.not_exposure_notification += 1;
            return Ok(None);
        }
        match self.window_start {
            Some(start) if frame.time >= start + self.window_secs || frame.time < start => {
                self.flush()?;
                self.window += 1;
                self.window_start = Some(frame.time);
            }
            None => self.window_start = Some(frame.time),
            Some(_) => {}
        }
        let Some(sighting) = frame.to_sighting(self.window) else {
            self.summary.without_rssi += 1;
            return Ok(None);
        };
        self.pending.push(sighting);
        let advert = frame.advertisement();
        if let Some(a) = &advert {
            self.rpis.insert(a.rpi.0);
        }
        self.summary.distinct_rpis = self.rpis.len();
        Ok(Some(Heard {
            frame: frame.clone(),
            advert,
            window: self.window,
        }))
    }

    /// Delivers the open window now (at the end of a scan, or on a timer).
    ///
    /// # Errors
    /// The sink's error; the sightings stay pending.
    pub fn flush(&mut self) -> Result<(), CoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let report = self.sink.deliver(&self.pending)?;
        self.summary.delivered += self.pending.len() as u64;
        self.summary.accepted += report.accepted;
        self.summary.refused +=
            report.malformed + report.implausible_rssi + report.from_the_future + report.too_old;
        self.summary.windows += 1;
        self.pending.clear();
        Ok(())
    }

    /// Delivers what is pending and says what happened.
    ///
    /// # Errors
    /// The sink's error.
    pub fn finish(mut self) -> Result<BatchSummary, CoreError> {
        self.flush()?;
        Ok(self.summary)
    }
}
