//! Scenarios: readable TOML descriptions of a place, the people in it with their phones, how
//! they move, the days, and the events of a positive case. Parsing checks everything a
//! simulation relies on, and every error names the line and the field.
//!
//! ```toml
//! name = "A corner shop"
//! date = "2026-11-07"        # the first simulated day (UTC)
//! days = 1
//!
//! [place]
//! width_m = 12.0
//! depth_m = 8.0
//! walls = [{ from = [0.0, 4.0], to = [6.0, 4.0], attenuation_db = 8.0 }]
//! shelves = [{ at = [7.0, 2.0], size = [3.0, 1.0], attenuation_db = 5.0 }]
//!
//! [[people]]
//! name = "cashier"
//! phone = { os = "android", model = "Samsung Galaxy A52" }
//! carry = "pocket"           # hand, pocket or bag
//! present = { from = "08:00", to = "17:00" }
//! movement = { kind = "stay", at = [1.0, 1.0] }
//!
//! [[people]]
//! name = "shopper"
//! count = 20                 # shopper#1 .. shopper#20
//! phone = { os = "ios", model = "iPhone 12" }
//! present = { from = "09:00", to = "12:00" }
//! movement = { kind = "random_walk", area = [[2.0, 2.0], [11.0, 7.0]], speed_mps = 0.8, dwell_s = [30, 240] }
//!
//! [[people]]
//! name = "walker"
//! count = 40
//! phone = { os = "android", model = "Oppo A15", app = "background" }  # app: foreground or background (default)
//! ios_share = 0.25           # optional: this share of the group carries iPhones instead
//! ios_model = "iPhone 11"    # optional (default iPhone 11)
//! present = { from = "10:00", to = "11:00" }
//! movement = { kind = "random_walk", area = [[2.0, 2.0], [11.0, 7.0]], speed_mps = 1.0, dwell_s = [10, 60] }
//!
//! [[events]]
//! day = 1
//! at = "18:00"
//! person = "cashier"
//! kind = "tests_positive"    # the official issues a code; the person enters it and uploads
//! enters_code_after_minutes = 20   # optional (default 0; codes last 60 minutes)
//! consents = true            # optional: false = verifies the code but declines to upload
//!
//! [[events]]                 # also: bluetooth_on, reboots, opens_app, closes_app
//! day = 1
//! at = "09:30"
//! person = "shopper#3"
//! kind = "bluetooth_off"
//!
//! [driver]
//! gatt_fallback = true       # read iPhones' payloads over GATT (default true)
//! ```

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

use crate::policy::{DriverSettings, Policies, PolicyOverrides};
use crate::radio::RadioModel;
use crate::settings::{ContactRule, RiskSettings};

/// A scenario that cannot be used: the line (1-based) and field where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}, {field}: {message}")]
pub struct ScenarioError {
    /// 1-based line in the file.
    pub line: usize,
    /// The field, e.g. `people[2].movement.speed_mps`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A whole scenario.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Title.
    pub name: String,
    /// What it represents.
    #[serde(default)]
    pub description: String,
    /// First day, `YYYY-MM-DD` (UTC).
    pub date: Spanned<String>,
    /// Days simulated (1 to 14).
    #[serde(default = "one")]
    pub days: Spanned<u32>,
    /// The place.
    pub place: Place,
    /// The people.
    pub people: Vec<People>,
    /// What happens.
    #[serde(default)]
    pub events: Vec<Event>,
    /// Radio model overrides (`[radio]`).
    #[serde(default)]
    pub radio: Option<Spanned<RadioModel>>,
    /// Operating-system policy overrides (`[policies.android]`, `[policies.ios]`).
    #[serde(default)]
    pub policies: Option<Spanned<PolicyOverrides>>,
    /// The phones' driver settings (`[driver]`).
    #[serde(default)]
    pub driver: Option<Spanned<DriverSettings>>,
    /// The close-contact rule (`[truth]`).
    #[serde(default)]
    pub truth: Option<Spanned<ContactRule>>,
    /// Risk parameter overrides (`[risk]`).
    #[serde(default)]
    pub risk: Option<Spanned<RiskSettings>>,
}

fn one() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

/// The place: a rectangle with walls and shelves that attenuate the radio.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// East-west size in metres.
    pub width_m: Spanned<f64>,
    /// North-south size in metres.
    pub depth_m: Spanned<f64>,
    /// Wall segments.
    #[serde(default)]
    pub walls: Vec<Wall>,
    /// Shelves (axis-aligned boxes).
    #[serde(default)]
    pub shelves: Vec<Shelf>,
}

/// A wall segment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wall {
    /// One end, metres.
    pub from: Spanned<[f64; 2]>,
    /// The other end, metres.
    pub to: Spanned<[f64; 2]>,
    /// Loss through it, dB.
    pub attenuation_db: Spanned<f64>,
}

/// A shelf.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shelf {
    /// South-west corner, metres.
    pub at: Spanned<[f64; 2]>,
    /// Width and depth, metres.
    pub size: Spanned<[f64; 2]>,
    /// Loss through it, dB.
    pub attenuation_db: Spanned<f64>,
}

/// The phone someone carries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phone {
    /// Operating system.
    pub os: Os,
    /// Model name (for calibration).
    pub model: String,
    /// Where the app is (default: in the background, the phone in a pocket or bag).
    #[serde(default)]
    pub app: AppMode,
}

/// Where the exposure-notification app is on a phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppMode {
    /// On screen (and the screen on).
    Foreground,
    /// In the background, the screen off.
    #[default]
    Background,
}

/// A phone operating system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    /// Android.
    Android,
    /// iOS.
    Ios,
}

/// Where the phone is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Carry {
    /// In the hand.
    Hand,
    /// In a trouser or jacket pocket.
    #[default]
    Pocket,
    /// In a bag.
    Bag,
}

/// When someone is in the place, each day.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Presence {
    /// Arrival, `HH:MM` UTC.
    pub from: Spanned<String>,
    /// Departure, `HH:MM` UTC.
    pub to: Spanned<String>,
}

/// How someone moves while present.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Movement {
    /// Stays at one point (each member of a group somewhere within `spread_m` of it).
    Stay {
        /// The point, metres.
        at: [f64; 2],
        /// Radius around the point where each member stays, metres (default 0).
        #[serde(default)]
        spread_m: f64,
    },
    /// Walks a route, pausing at each point.
    Waypoints {
        /// The route, metres.
        points: Vec<[f64; 2]>,
        /// Walking speed, m/s.
        speed_mps: f64,
        /// Pause at each point: shortest and longest, seconds.
        dwell_s: [u32; 2],
    },
    /// Walks between random points of an area, pausing at each.
    RandomWalk {
        /// The area: south-west and north-east corners, metres.
        area: [[f64; 2]; 2],
        /// Walking speed, m/s.
        speed_mps: f64,
        /// Pause at each point: shortest and longest, seconds.
        dwell_s: [u32; 2],
        /// Where the visit ends (a checkout, a counter), if anywhere.
        #[serde(default)]
        finish: Option<Finish>,
    },
    /// A timetable: different movements at different times of the day (a shift, a break in
    /// the staff room). Times outside the presence hours are ignored.
    Schedule {
        /// The parts of the day, in order, not overlapping.
        steps: Vec<ScheduleStep>,
    },
}

/// One part of a day's schedule: from `from` to `to`, move as `movement`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleStep {
    /// Start, `HH:MM` UTC.
    pub from: String,
    /// End, `HH:MM` UTC.
    pub to: String,
    /// How the person moves meanwhile (not itself a schedule).
    pub movement: Movement,
}

/// The last stop of a random walk: the person walks there and stays until leaving.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finish {
    /// The point, metres.
    pub at: [f64; 2],
    /// Radius around it where each person stands, metres (default 0).
    #[serde(default)]
    pub spread_m: f64,
    /// How long before leaving the person gets there: shortest and longest, seconds.
    pub dwell_s: [u32; 2],
}

/// One person, or a group of alike people (`count`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct People {
    /// Name (a group's members are `name#1`, `name#2`, ...).
    pub name: Spanned<String>,
    /// How many (default 1, at most 10,000).
    #[serde(default = "one")]
    pub count: Spanned<u32>,
    /// Their phone.
    pub phone: Phone,
    /// Where they carry it.
    #[serde(default)]
    pub carry: Carry,
    /// When they are present.
    pub present: Presence,
    /// How they move.
    pub movement: Spanned<Movement>,
    /// This share of the group (0 to 1) carries iPhones instead of `phone`.
    #[serde(default)]
    pub ios_share: Option<Spanned<f64>>,
    /// The iPhone model of that share (default `iPhone 11`).
    #[serde(default)]
    pub ios_model: Option<String>,
}

/// What happens to someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Tests positive: an official issues a code, the person enters it and uploads.
    TestsPositive,
    /// Switches Bluetooth off.
    BluetoothOff,
    /// Switches Bluetooth on again.
    BluetoothOn,
    /// The phone reboots (off for two minutes; the app comes back from its saved state).
    Reboots,
    /// Opens the app (foreground, screen on).
    OpensApp,
    /// Leaves the app (background, screen off).
    ClosesApp,
}

/// An event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// Day (1-based).
    pub day: Spanned<u32>,
    /// Time, `HH:MM` UTC.
    pub at: Spanned<String>,
    /// Who: a name, or `group#n`.
    pub person: Spanned<String>,
    /// What.
    pub kind: EventKind,
    /// Minutes between the official issuing the code and the person entering it (default 0;
    /// codes are valid for 60 minutes, so a longer wait makes the upload fail).
    #[serde(default = "zero")]
    pub enters_code_after_minutes: Spanned<u32>,
    /// Whether the person agrees to upload once the code is verified (default yes).
    #[serde(default = "yes")]
    pub consents: bool,
}

fn zero() -> Spanned<u32> {
    Spanned::new(0..0, 0)
}

fn yes() -> bool {
    true
}

/// Minutes after midnight of an `HH:MM` time.
#[must_use]
pub fn minutes_of(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60 && text.len() == 5).then_some(h * 60 + m)
}

/// Days since 1970 of a real `YYYY-MM-DD` date between 2020 and 2100 (the calendar is
/// `protocol::time`'s).
#[must_use]
pub fn days_of(text: &str) -> Option<i64> {
    let day = bluezone_protocol::DayNumber::from_civil_date(text)?;
    (2020..=2100)
        .contains(&text.get(..4)?.parse::<i64>().ok()?)
        .then(|| i64::from(day.get()))
}

impl Scenario {
    /// Parses and checks a scenario.
    ///
    /// # Errors
    /// [`ScenarioError`] with the line and field of the first problem.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let scenario: Self = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            ScenarioError {
                line: line_of(text, offset),
                field: e
                    .message()
                    .split('`')
                    .nth(1)
                    .unwrap_or("document")
                    .to_owned(),
                message: e.message().to_owned(),
            }
        })?;
        scenario.check(text)?;
        Ok(scenario)
    }

    /// The radio model: the defaults with the scenario's overrides.
    #[must_use]
    pub fn radio(&self) -> RadioModel {
        self.radio
            .as_ref()
            .map(|r| r.get_ref().clone())
            .unwrap_or_default()
    }

    /// The operating-system policies: the defaults with the scenario's overrides.
    #[must_use]
    pub fn policies(&self) -> Policies {
        self.policies
            .as_ref()
            .map_or_else(Policies::default, |p| p.get_ref().apply())
    }

    /// The driver settings.
    #[must_use]
    pub fn driver(&self) -> DriverSettings {
        self.driver
            .as_ref()
            .map(|d| *d.get_ref())
            .unwrap_or_default()
    }

    /// The close-contact rule.
    #[must_use]
    pub fn truth(&self) -> ContactRule {
        self.truth
            .as_ref()
            .map(|t| *t.get_ref())
            .unwrap_or_default()
    }

    /// The risk overrides.
    #[must_use]
    pub fn risk(&self) -> RiskSettings {
        self.risk.as_ref().map(|r| *r.get_ref()).unwrap_or_default()
    }

    /// Every person's full name (`name`, or `name#1..` for groups), in order.
    #[must_use]
    pub fn person_names(&self) -> Vec<String> {
        self.people
            .iter()
            .flat_map(|p| {
                let count = *p.count.get_ref();
                let name = p.name.get_ref().clone();
                (1..=count).map(move |i| {
                    if count == 1 {
                        name.clone()
                    } else {
                        format!("{name}#{i}")
                    }
                })
            })
            .collect()
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len())).map_or(1, |before| {
        before.bytes().filter(|b| *b == b'\n').count() + 1
    })
}

mod check;
#[cfg(test)]
mod tests;
