//! Checking a parsed scenario: everything a simulation relies on, in file order (the calendar,
//! the place, the optional tables, the people and their movements, the events), stopping at
//! the first problem with its line and field.

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;

use super::{Movement, People, Scenario, ScenarioError, days_of, line_of, minutes_of};

/// What every check needs: the text (for line numbers) and the place's size.
struct Checker<'a> {
    text: &'a str,
    width: f64,
    depth: f64,
}

impl Checker<'_> {
    /// The error at `span`.
    fn err(&self, span: Range<usize>, field: String, message: &str) -> ScenarioError {
        ScenarioError {
            line: line_of(self.text, span.start),
            field,
            message: message.to_owned(),
        }
    }

    /// Whether `p` lies within the place.
    fn inside(&self, p: &[f64; 2]) -> bool {
        p.iter().all(|c| c.is_finite())
            && (0.0..=self.width).contains(&p[0])
            && (0.0..=self.depth).contains(&p[1])
    }

    /// Whether a circle of radius `r` around `at` (0 to 50 m) lies within the place.
    fn spread_ok(&self, at: [f64; 2], r: f64) -> bool {
        (0.0..=50.0).contains(&r)
            && self.inside(&[at[0] - r, at[1] - r])
            && self.inside(&[at[0] + r, at[1] + r])
    }
}

/// How a movement check reports a problem with one of its fields: `(field, message)`.
type Fail<'f> = &'f dyn Fn(&str, &str) -> Result<(), ScenarioError>;

impl Scenario {
    /// Checks everything a simulation relies on; the first problem found is the error.
    pub(super) fn check(&self, text: &str) -> Result<(), ScenarioError> {
        let at = Checker {
            text,
            width: *self.place.width_m.get_ref(),
            depth: *self.place.depth_m.get_ref(),
        };
        self.check_calendar(&at)?;
        self.check_place(&at)?;
        self.check_tables(&at)?;
        let mut names = HashSet::new();
        for (i, p) in self.people.iter().enumerate() {
            check_person(&at, i, p, &mut names)?;
        }
        self.check_events(&at)
    }

    /// The first day is a real date, and there are 1 to 14 days.
    fn check_calendar(&self, at: &Checker<'_>) -> Result<(), ScenarioError> {
        if days_of(self.date.get_ref()).is_none() {
            return Err(at.err(
                self.date.span(),
                "date".into(),
                "a date is YYYY-MM-DD (2020 to 2100)",
            ));
        }
        if !(1..=14).contains(self.days.get_ref()) {
            return Err(at.err(self.days.span(), "days".into(), "1 to 14 days"));
        }
        Ok(())
    }

    /// The place's size, and its walls and shelves inside it with plausible losses.
    fn check_place(&self, at: &Checker<'_>) -> Result<(), ScenarioError> {
        let place = &self.place;
        for (v, s, f) in [
            (at.width, place.width_m.span(), "place.width_m"),
            (at.depth, place.depth_m.span(), "place.depth_m"),
        ] {
            if !(1.0..=2_000.0).contains(&v) {
                return Err(at.err(s, f.into(), "between 1 and 2,000 metres"));
            }
        }
        for (i, wall) in place.walls.iter().enumerate() {
            for (p, name) in [(&wall.from, "from"), (&wall.to, "to")] {
                if !at.inside(p.get_ref()) {
                    return Err(at.err(
                        p.span(),
                        format!("place.walls[{i}].{name}"),
                        "outside the place",
                    ));
                }
            }
            check_loss(at, &wall.attenuation_db, &format!("place.walls[{i}]"))?;
        }
        for (i, shelf) in place.shelves.iter().enumerate() {
            let [x, y] = *shelf.at.get_ref();
            let [sx, sy] = *shelf.size.get_ref();
            if !at.inside(&[x, y]) || !at.inside(&[x + sx, y + sy]) || sx <= 0.0 || sy <= 0.0 {
                return Err(at.err(
                    shelf.at.span(),
                    format!("place.shelves[{i}]"),
                    "a shelf lies inside the place, with a positive size",
                ));
            }
            check_loss(at, &shelf.attenuation_db, &format!("place.shelves[{i}]"))?;
        }
        Ok(())
    }

    /// The optional `[radio]`, `[policies]`, `[truth]` and `[risk]` tables, each by its own
    /// check.
    fn check_tables(&self, at: &Checker<'_>) -> Result<(), ScenarioError> {
        if let Some(radio) = &self.radio
            && let Err((f, m)) = radio.get_ref().check()
        {
            return Err(at.err(radio.span(), format!("radio.{f}"), m));
        }
        if let Some(policies) = &self.policies {
            let applied = policies.get_ref().apply();
            for (os, policy) in [("android", &applied.android), ("ios", &applied.ios)] {
                if let Err((f, m)) = policy.check() {
                    return Err(at.err(policies.span(), format!("policies.{os}.{f}"), m));
                }
            }
        }
        if let Some(truth) = &self.truth
            && let Err((f, m)) = truth.get_ref().check()
        {
            return Err(at.err(truth.span(), format!("truth.{f}"), m));
        }
        if let Some(risk) = &self.risk
            && let Err((f, m)) = risk.get_ref().check()
        {
            return Err(at.err(risk.span(), format!("risk.{f}"), m));
        }
        Ok(())
    }

    /// Every event names a person, a day of the scenario and a time, and a code entry within
    /// a week.
    fn check_events(&self, at: &Checker<'_>) -> Result<(), ScenarioError> {
        let all = self.person_names();
        for (i, e) in self.events.iter().enumerate() {
            if !all.iter().any(|n| n == e.person.get_ref()) {
                return Err(at.err(
                    e.person.span(),
                    format!("events[{i}].person"),
                    "no such person",
                ));
            }
            if !(1..=*self.days.get_ref()).contains(e.day.get_ref()) {
                return Err(at.err(
                    e.day.span(),
                    format!("events[{i}].day"),
                    "a day of the scenario",
                ));
            }
            if minutes_of(e.at.get_ref()).is_none() {
                return Err(at.err(e.at.span(), format!("events[{i}].at"), "a time is HH:MM"));
            }
            if *e.enters_code_after_minutes.get_ref() > 7 * 24 * 60 {
                return Err(at.err(
                    e.enters_code_after_minutes.span(),
                    format!("events[{i}].enters_code_after_minutes"),
                    "at most 7 days (10,080 minutes)",
                ));
            }
        }
        Ok(())
    }
}

/// A wall's or shelf's loss (`<field>.attenuation_db`): 0 to 60 dB.
fn check_loss(at: &Checker<'_>, loss: &Spanned<f64>, field: &str) -> Result<(), ScenarioError> {
    if (0.0..=60.0).contains(loss.get_ref()) {
        return Ok(());
    }
    Err(at.err(loss.span(), format!("{field}.attenuation_db"), "0 to 60 dB"))
}

/// People group `i`: a unique name (added to `names`), a count, an iPhone share, presence
/// hours and a movement.
fn check_person(
    at: &Checker<'_>,
    i: usize,
    p: &People,
    names: &mut HashSet<String>,
) -> Result<(), ScenarioError> {
    let field = |f: &str| format!("people[{i}].{f}");
    let name = p.name.get_ref();
    if name.is_empty() || name.contains('#') || !names.insert(name.clone()) {
        return Err(at.err(
            p.name.span(),
            field("name"),
            "names are unique, non-empty, without '#'",
        ));
    }
    if !(1..=10_000).contains(p.count.get_ref()) {
        return Err(at.err(p.count.span(), field("count"), "1 to 10,000"));
    }
    if let Some(share) = &p.ios_share
        && !(0.0..=1.0).contains(share.get_ref())
    {
        return Err(at.err(share.span(), field("ios_share"), "0 to 1"));
    }
    check_presence(at, p, &field)?;
    let movement = &p.movement;
    let prefix = field("movement");
    let fail = |name: &str, message: &str| {
        Err(at.err(movement.span(), format!("{prefix}.{name}"), message))
    };
    check_movement(at, movement.get_ref(), &fail, true)
}

/// Arrival and departure are `HH:MM`, departure after arrival.
fn check_presence(
    at: &Checker<'_>,
    p: &People,
    field: &dyn Fn(&str) -> String,
) -> Result<(), ScenarioError> {
    let from = minutes_of(p.present.from.get_ref());
    let to = minutes_of(p.present.to.get_ref());
    match (from, to) {
        (Some(a), Some(b)) if a < b => Ok(()),
        (None, _) => Err(at.err(
            p.present.from.span(),
            field("present.from"),
            "a time is HH:MM",
        )),
        (_, None) => Err(at.err(p.present.to.span(), field("present.to"), "a time is HH:MM")),
        _ => Err(at.err(
            p.present.to.span(),
            field("present.to"),
            "departure after arrival",
        )),
    }
}

/// One movement (`top`: not a schedule's step), its problems told to `fail`.
fn check_movement(
    at: &Checker<'_>,
    movement: &Movement,
    fail: Fail<'_>,
    top: bool,
) -> Result<(), ScenarioError> {
    match movement {
        Movement::Schedule { steps } => {
            if !top {
                return fail("steps", "a schedule step cannot itself be a schedule");
            }
            check_schedule(at, steps, fail)
        }
        Movement::Stay { at: spot, spread_m } => {
            if !at.inside(spot) {
                return fail("at", "outside the place");
            }
            if !at.spread_ok(*spot, *spread_m) {
                return fail("spread_m", "0 to 50 m, the whole circle inside the place");
            }
            Ok(())
        }
        Movement::Waypoints {
            points,
            speed_mps,
            dwell_s,
        } => {
            if points.is_empty() || !points.iter().all(|p| at.inside(p)) {
                return fail("points", "at least one point, all inside the place");
            }
            check_walking(*speed_mps, *dwell_s, fail)
        }
        Movement::RandomWalk {
            area,
            speed_mps,
            dwell_s,
            finish,
        } => {
            if let Some(finish) = finish {
                if !at.inside(&finish.at) || !at.spread_ok(finish.at, finish.spread_m) {
                    return fail(
                        "finish",
                        "a point inside the place, spread 0 to 50 m within the place",
                    );
                }
                if finish.dwell_s[0] > finish.dwell_s[1] {
                    return fail("finish.dwell_s", "[shortest, longest]");
                }
            }
            let [a, b] = *area;
            if !at.inside(&a) || !at.inside(&b) || a[0] >= b[0] || a[1] >= b[1] {
                return fail("area", "[south-west, north-east] corners inside the place");
            }
            check_walking(*speed_mps, *dwell_s, fail)
        }
    }
}

/// A schedule: at least one step, in order, each with `HH:MM` times and a movement that is
/// not itself a schedule.
fn check_schedule(
    at: &Checker<'_>,
    steps: &[super::ScheduleStep],
    fail: Fail<'_>,
) -> Result<(), ScenarioError> {
    let mut last_end = 0;
    for (k, step) in steps.iter().enumerate() {
        let name = format!("steps[{k}]");
        match (minutes_of(&step.from), minutes_of(&step.to)) {
            (Some(a), Some(b)) if a < b && a >= last_end => last_end = b,
            _ => {
                return fail(
                    &name,
                    "HH:MM times, each step after the previous one and ending after it starts",
                );
            }
        }
        check_movement(
            at,
            &step.movement,
            &|f, m| fail(&format!("{name}.movement.{f}"), m),
            false,
        )?;
    }
    if steps.is_empty() {
        return fail("steps", "at least one step");
    }
    Ok(())
}

/// A walking speed of 0.1 to 3 m/s and pauses of `[shortest, longest]` seconds.
fn check_walking(speed_mps: f64, dwell_s: [u32; 2], fail: Fail<'_>) -> Result<(), ScenarioError> {
    if !(0.1..=3.0).contains(&speed_mps) {
        return fail("speed_mps", "0.1 to 3 m/s");
    }
    if dwell_s[0] > dwell_s[1] {
        return fail("dwell_s", "[shortest, longest]");
    }
    Ok(())
}
