//! What a simulation found, in a form that is written as `report.json` (stable field order,
//! rounded figures, no wall-clock time, so the same scenario and seed give the same bytes) and
//! rendered as `report.md`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::settings::ContactRule;

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Scenario title.
    pub scenario: String,
    /// The seed of the run.
    pub seed: u64,
    /// First day.
    pub date: String,
    /// Days simulated.
    pub days: u32,
    /// The close-contact rule used for ground truth.
    pub truth: ContactRule,
    /// The risk parameters the phones scored with.
    pub risk: RiskSummary,
    /// Totals.
    pub totals: Totals,
    /// Each positive person's upload.
    pub uploads: Vec<UploadRow>,
    /// Detection by scanner and advertiser platform and app state: of the scan windows in
    /// which an advertiser was within the contact distance, the share in which the scanner's
    /// driver stored its identifier.
    pub detection: Vec<DetectionRow>,
    /// Each person.
    pub persons: Vec<PersonRow>,
    /// Measured attenuation by true distance, over every advert heard.
    pub attenuation_by_distance: Vec<DistanceBin>,
    /// Activity per 10 minutes while anyone was present.
    pub timeline: Vec<TimelineRow>,
}

/// The risk parameters in force.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RiskSummary {
    /// Attenuation bucket bounds, dB.
    pub attenuation_thresholds_db: [u8; 3],
    /// Bucket weights.
    pub attenuation_weights: [f64; 4],
    /// Weighted minutes that notify.
    pub notify_minutes: f64,
}

/// Totals over everyone who is not a positive case.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Totals {
    /// People simulated.
    pub people: u32,
    /// Positive cases (their uploads are the source of notifications).
    pub positives: u32,
    /// Close contacts who were notified.
    pub true_positives: u32,
    /// Notified but not close contacts.
    pub false_positives: u32,
    /// Close contacts who were not notified.
    pub false_negatives: u32,
    /// Neither.
    pub true_negatives: u32,
    /// Share of notifications that went to close contacts (none when nobody was notified).
    pub precision: Option<f64>,
    /// Share of close contacts notified (none when there were no close contacts).
    pub recall: Option<f64>,
    /// Share of scans made within the contact distance of a positive person in which that
    /// person's phone was heard.
    pub detection_continuity: Option<f64>,
    /// Scan windows run by all phones.
    pub scans: u64,
    /// Adverts heard and handed to the phones' engines.
    pub adverts_heard: u64,
    /// Adverts the engines refused (expected: none).
    pub adverts_refused: u64,
    /// Key files the server published.
    pub files_published: u32,
}

impl Totals {
    /// Counts one person's outcome (`TP`, `FP`, `FN`, `TN`; anything else is a positive case).
    pub fn count(&mut self, outcome: &str) {
        match outcome {
            "TP" => self.true_positives += 1,
            "FP" => self.false_positives += 1,
            "FN" => self.false_negatives += 1,
            "TN" => self.true_negatives += 1,
            _ => self.positives += 1,
        }
    }
}

/// One upload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UploadRow {
    /// Who.
    pub person: String,
    /// When the official issued the code, `day D HH:MM`.
    pub code_issued_at: String,
    /// When the person entered it.
    pub code_entered_at: String,
    /// The code was verified but the person declined to upload.
    pub declined: bool,
    /// Keys the server accepted.
    pub keys_accepted: Option<u32>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// One person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonRow {
    /// Full name (`group#n`).
    pub name: String,
    /// `android` or `ios`.
    pub os: &'static str,
    /// Phone model.
    pub model: String,
    /// `hand`, `pocket` or `bag`.
    pub carry: &'static str,
    /// Which calibration entry the phone used: `model`, `manufacturer` or `default`.
    pub calibration: &'static str,
    /// Tested positive in the scenario.
    pub positive: bool,
    /// Most minutes on one day within the contact distance of positive people (truth).
    pub true_contact_minutes: f64,
    /// A close contact by the rule.
    pub close_contact: bool,
    /// Most weighted exposure minutes on one day, as the phone measured them.
    pub measured_minutes: f64,
    /// The phone told its owner.
    pub notified: bool,
    /// `TP`, `FP`, `FN`, `TN`, or `positive`.
    pub outcome: &'static str,
    /// Scans this phone made within the contact distance of a positive person.
    pub scans_near_positive: u32,
    /// Of those, scans in which the positive person's phone was heard.
    pub scans_detecting_positive: u32,
    /// Share of the time present that the phone's driver was collecting (not paused, not
    /// rebooting).
    pub collecting_share: Option<f64>,
}

/// One cell of the detection matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionRow {
    /// The scanning phone's platform.
    pub scanner: &'static str,
    /// The advertising phone's platform.
    pub advertiser: &'static str,
    /// The advertiser's app state (`any` for Android, whose advert does not change).
    pub advertiser_app: &'static str,
    /// Scan windows with such an advertiser within the contact distance.
    pub windows_near: u64,
    /// Of those, windows in which the scanner stored its identifier.
    pub windows_detected: u64,
    /// `windows_detected / windows_near`.
    pub share: Option<f64>,
}

/// Attenuation statistics for one band of true distance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DistanceBin {
    /// From, metres.
    pub from_m: f64,
    /// To, metres.
    pub to_m: f64,
    /// Adverts heard in this band.
    pub adverts: u64,
    /// 10th percentile of attenuation, dB.
    pub p10_db: Option<u32>,
    /// Median attenuation, dB.
    pub median_db: Option<u32>,
    /// 90th percentile, dB.
    pub p90_db: Option<u32>,
}

/// Ten minutes of activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TimelineRow {
    /// Minutes since the first day began.
    pub minute: u32,
    /// People present at the start.
    pub present: u32,
    /// Scan windows started.
    pub scans: u32,
    /// Adverts heard.
    pub adverts_heard: u64,
    /// Scans made within the contact distance of a positive person.
    pub scans_near_positive: u32,
    /// Of those, scans that heard the positive person.
    pub scans_detecting_positive: u32,
}

/// `value` rounded to three decimals (keeps reports short and stable).
#[must_use]
pub fn round3(value: f64) -> f64 {
    (value * 1_000.0).round() / 1_000.0
}

/// `numerator / denominator`, or none when the denominator is zero.
#[must_use]
pub fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    (denominator > 0).then(|| round3(numerator as f64 / denominator as f64))
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{:.1} %", v * 100.0))
}

impl Report {
    /// The JSON form (pretty, with a final newline).
    ///
    /// # Errors
    /// Never in practice (every field serialises); the type says what serde says.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self).map(|mut s| {
            s.push('\n');
            s
        })
    }

    /// A readable Markdown page, linking the plots written beside it.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        self.write_settings(&mut md);
        self.write_result(&mut md);
        self.write_detection(&mut md);
        self.write_uptime(&mut md);
        self.write_uploads(&mut md);
        self.write_plots(&mut md);
        self.write_attenuation(&mut md);
        self.write_people(&mut md);
        md
    }

    /// The title and the settings: days, seed, the contact rule, the risk parameters.
    fn write_settings(&self, md: &mut String) {
        let _ = writeln!(md, "# {}\n", self.scenario);
        let _ = writeln!(
            md,
            "Simulated {} day(s) from {}, seed {}. A close contact spent at least {} minutes \
             within {} m of a positive person on one day. Phones notify at {} weighted minutes \
             (attenuation thresholds {:?} dB, weights {:?}).\n",
            self.days,
            self.date,
            self.seed,
            self.truth.minutes,
            self.truth.distance_m,
            self.risk.notify_minutes,
            self.risk.attenuation_thresholds_db,
            self.risk.attenuation_weights,
        );
    }

    /// The confusion matrix, precision, recall, detection continuity and the counts.
    fn write_result(&self, md: &mut String) {
        let t = &self.totals;
        let _ = writeln!(md, "## Result\n");
        let _ = writeln!(md, "| | notified | not notified |\n|---|---:|---:|");
        let _ = writeln!(
            md,
            "| close contact | {} (true positive) | {} (false negative) |",
            t.true_positives, t.false_negatives
        );
        let _ = writeln!(
            md,
            "| not a close contact | {} (false positive) | {} (true negative) |\n",
            t.false_positives, t.true_negatives
        );
        let _ = writeln!(
            md,
            "- **Precision** {} · **recall** {} · **detection continuity** {}",
            percent(t.precision),
            percent(t.recall),
            percent(t.detection_continuity)
        );
        let _ = writeln!(
            md,
            "- {} people, {} positive; {} scans, {} adverts heard ({} refused); {} key file(s) \
             published.\n",
            t.people, t.positives, t.scans, t.adverts_heard, t.adverts_refused, t.files_published
        );
    }

    /// Detection by scanner and advertiser platform.
    fn write_detection(&self, md: &mut String) {
        let _ = writeln!(md, "## Detection by platform\n");
        let _ = writeln!(
            md,
            "Scan windows in which a phone was within {} m, and the share in which the scanner's \
             driver stored its identifier (iPhones only through a GATT read).\n",
            self.truth.distance_m
        );
        let _ = writeln!(
            md,
            "| scanner | advertiser | advertiser app | windows near | detected | share |\n\
             |---|---|---|---:|---:|---:|"
        );
        for d in &self.detection {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                d.scanner,
                d.advertiser,
                d.advertiser_app,
                d.windows_near,
                d.windows_detected,
                percent(d.share)
            );
        }
    }

    /// Collection uptime while present, if any phone was present.
    fn write_uptime(&self, md: &mut String) {
        let shares: Vec<f64> = self
            .persons
            .iter()
            .filter_map(|p| p.collecting_share)
            .collect();
        if !shares.is_empty() {
            #[allow(clippy::cast_precision_loss)]
            let mean = shares.iter().sum::<f64>() / shares.len() as f64;
            let below = shares.iter().filter(|&&s| s < 0.99).count();
            let _ = writeln!(
                md,
                "\nCollection uptime while present: {} on average; {} phone(s) below 99 % \
                 (Bluetooth off, reboots).\n",
                percent(Some(round3(mean))),
                below
            );
        }
    }

    /// Each upload and how it went.
    fn write_uploads(&self, md: &mut String) {
        let _ = writeln!(md, "## Uploads\n");
        for u in &self.uploads {
            let outcome = match (&u.keys_accepted, &u.error) {
                (Some(n), _) => format!("{n} key(s) accepted"),
                (None, Some(e)) => format!("failed: {e}"),
                (None, None) if u.declined => "code verified, upload declined".to_owned(),
                (None, None) => "not attempted".to_owned(),
            };
            let _ = writeln!(
                md,
                "- {}: code issued {}, entered {}: {}",
                u.person, u.code_issued_at, u.code_entered_at, outcome
            );
        }
    }

    /// Links to the plots written beside the page.
    fn write_plots(&self, md: &mut String) {
        let _ = writeln!(
            md,
            "\n## Plots\n\n![Attenuation against true distance](attenuation-vs-distance.svg)\n\n\
             ![Detections over time](detections-over-time.svg)\n\n\
             ![Confusion matrix](confusion-matrix.svg)\n"
        );
    }

    /// Attenuation quantiles per true distance band.
    fn write_attenuation(&self, md: &mut String) {
        let _ = writeln!(md, "## Attenuation by true distance\n");
        let _ = writeln!(
            md,
            "| distance | adverts | p10 | median | p90 |\n|---|---:|---:|---:|---:|"
        );
        let db = |v: Option<u32>| v.map_or_else(|| "–".to_owned(), |v| format!("{v} dB"));
        for b in self
            .attenuation_by_distance
            .iter()
            .filter(|b| b.adverts > 0)
        {
            let _ = writeln!(
                md,
                "| {:.1}–{:.1} m | {} | {} | {} | {} |",
                b.from_m,
                b.to_m,
                b.adverts,
                db(b.p10_db),
                db(b.median_db),
                db(b.p90_db)
            );
        }
    }

    /// Everyone who was near a positive person or was notified.
    fn write_people(&self, md: &mut String) {
        let _ = writeln!(md, "\n## People\n");
        let _ = writeln!(
            md,
            "Everyone who was near a positive person or was notified; `report.json` lists all.\n"
        );
        let _ = writeln!(
            md,
            "| person | phone | carry | true minutes | measured minutes | notified | outcome | \
             scans detecting / near |\n|---|---|---|---:|---:|---|---|---:|"
        );
        for p in self
            .persons
            .iter()
            .filter(|p| p.positive || p.notified || p.true_contact_minutes > 0.0)
        {
            let _ = writeln!(
                md,
                "| {} | {} ({}, {} calibration) | {} | {:.1} | {:.1} | {} | {} | {} / {} |",
                p.name,
                p.model,
                p.os,
                p.calibration,
                p.carry,
                p.true_contact_minutes,
                p.measured_minutes,
                if p.notified { "yes" } else { "no" },
                p.outcome,
                p.scans_detecting_positive,
                p.scans_near_positive
            );
        }
    }
}
