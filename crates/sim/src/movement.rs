//! Movement in continuous time: each person's day is planned once as a sequence of legs
//! (walking from one point to another at constant speed, or dwelling in place), and the
//! position at any moment is read from the plan. Nothing is stepped; the simulator samples the
//! plan wherever it needs to (scan windows, ground truth).

use rand::{Rng, RngExt, SeedableRng};

use crate::geometry::{Point, distance};
use crate::noise;
use crate::scenario::{Finish, Movement, ScheduleStep, minutes_of};

const DAY_S: f64 = 86_400.0;

/// One piece of a plan: from `start` to `end` (seconds since the scenario began) the person
/// moves in a straight line from `from` to `to` (the same point when dwelling).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leg {
    /// Start, seconds since the scenario began.
    pub start: f64,
    /// End, seconds since the scenario began.
    pub end: f64,
    /// Position at `start`.
    pub from: Point,
    /// Position at `end`.
    pub to: Point,
    /// Direction the person faces, a unit vector (east = [1, 0], north = [0, 1]).
    pub facing: Point,
}

/// Where someone is at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Position, metres.
    pub at: Point,
    /// Direction faced, as a unit vector.
    pub facing: Point,
}

/// A person's whole plan: legs in time order, with gaps while absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trajectory {
    legs: Vec<Leg>,
}

impl Trajectory {
    /// Plans `movement` for each presence period `(arrival, departure)` (seconds since the
    /// scenario began, in order). `seed` fixes every random choice.
    #[must_use]
    pub fn plan(movement: &Movement, periods: &[(f64, f64)], seed: u64) -> Self {
        let mut legs = Vec::new();
        for (i, &(arrive, leave)) in periods.iter().enumerate() {
            let mut rng = rand::rngs::StdRng::seed_from_u64(noise::hash(&[seed, i as u64]));
            plan_period(movement, arrive, leave, &mut rng, &mut legs);
        }
        Self { legs }
    }

    /// The legs, in time order.
    #[must_use]
    pub fn legs(&self) -> &[Leg] {
        &self.legs
    }

    /// Where the person is at `t`, or `None` while absent.
    #[must_use]
    pub fn at(&self, t: f64) -> Option<Pose> {
        let i = self
            .legs
            .partition_point(|leg| leg.start <= t)
            .checked_sub(1)?;
        let leg = &self.legs[i];
        if t > leg.end {
            return None;
        }
        let span = leg.end - leg.start;
        let f = if span > 0.0 {
            (t - leg.start) / span
        } else {
            0.0
        };
        Some(Pose {
            at: [
                leg.from[0] + (leg.to[0] - leg.from[0]) * f,
                leg.from[1] + (leg.to[1] - leg.from[1]) * f,
            ],
            facing: leg.facing,
        })
    }
}

fn dwell(rng: &mut impl Rng, range: [u32; 2]) -> f64 {
    f64::from(rng.random_range(range[0]..=range[1]).max(1))
}

/// A point uniformly within `radius` of `centre`.
fn around(rng: &mut dyn rand::Rng, centre: Point, radius: f64) -> Point {
    if radius <= 0.0 {
        return centre;
    }
    let r = radius * rng.random_range(0.0f64..1.0).sqrt();
    let a = rng.random_range(0.0..std::f64::consts::TAU);
    [centre[0] + r * a.cos(), centre[1] + r * a.sin()]
}

/// A random direction to face, radians.
fn facing(rng: &mut dyn rand::Rng) -> f64 {
    rng.random_range(0.0..std::f64::consts::TAU)
}

/// Plans `movement` from `arrive` to `leave` (one presence period), appending to `legs`.
fn plan_period(
    movement: &Movement,
    arrive: f64,
    leave: f64,
    rng: &mut impl Rng,
    legs: &mut Vec<Leg>,
) {
    let mut plan = Planner {
        legs,
        t: arrive,
        leave,
    };
    match movement {
        Movement::Schedule { steps } => plan_schedule(steps, arrive, leave, rng, plan.legs),
        Movement::Stay { at, spread_m } => {
            let spot = around(rng, *at, *spread_m);
            let heading = facing(rng);
            plan.push(leave - arrive, spot, spot, heading);
        }
        Movement::Waypoints {
            points,
            speed_mps,
            dwell_s,
        } => plan_waypoints(&mut plan, rng, points, *speed_mps, *dwell_s),
        Movement::RandomWalk {
            area,
            speed_mps,
            dwell_s,
            finish,
        } => plan_random_walk(&mut plan, rng, *area, *speed_mps, *dwell_s, finish.as_ref()),
    }
}

/// Legs being planned for one period: where planning has got to, and the departure that cuts
/// everything short.
struct Planner<'a> {
    legs: &'a mut Vec<Leg>,
    /// The end of the last leg planned, seconds since the scenario began.
    t: f64,
    /// Departure, seconds since the scenario began.
    leave: f64,
}

impl Planner<'_> {
    /// A leg of `length` seconds from `from` to `to`, facing `heading` (radians), cut short
    /// at departure (then it stops where the person is at that moment).
    fn push(&mut self, length: f64, from: Point, to: Point, heading: f64) {
        let t = self.t;
        let end = (t + length).min(self.leave);
        if end > t {
            self.legs.push(Leg {
                start: t,
                end,
                from,
                to: if end < t + length {
                    // Cut short by departure: stop where the person is at that moment.
                    let f = (end - t) / length;
                    [
                        from[0] + (to[0] - from[0]) * f,
                        from[1] + (to[1] - from[1]) * f,
                    ]
                } else {
                    to
                },
                facing: [heading.cos(), heading.sin()],
            });
        }
        self.t = end;
    }

    /// Walks from `from` to `to` at `speed_mps`, facing the way one goes.
    fn walk(&mut self, from: Point, to: Point, speed_mps: f64) {
        let length = distance(from, to) / speed_mps;
        if length > 0.0 {
            self.push(length, from, to, (to[1] - from[1]).atan2(to[0] - from[0]));
        }
    }
}

/// A timetable: each step's movement over its part of the day within the period (a step
/// that is itself a schedule is skipped; checking refuses it).
fn plan_schedule(
    steps: &[ScheduleStep],
    arrive: f64,
    leave: f64,
    rng: &mut impl Rng,
    legs: &mut Vec<Leg>,
) {
    let day_start = (arrive / DAY_S).floor() * DAY_S;
    for step in steps {
        let (Some(from), Some(to)) = (minutes_of(&step.from), minutes_of(&step.to)) else {
            continue;
        };
        let a = (day_start + f64::from(from) * 60.0).max(arrive);
        let b = (day_start + f64::from(to) * 60.0).min(leave);
        if a < b && !matches!(step.movement, Movement::Schedule { .. }) {
            plan_period(&step.movement, a, b, rng, legs);
        }
    }
}

/// Round a route until departure: pause at a point, walk to the next.
fn plan_waypoints(
    plan: &mut Planner<'_>,
    rng: &mut impl Rng,
    points: &[Point],
    speed_mps: f64,
    dwell_s: [u32; 2],
) {
    let mut here = points[0];
    let mut next = 0;
    while plan.t < plan.leave {
        let pause = dwell(rng, dwell_s);
        let heading = facing(rng);
        plan.push(pause, here, here, heading);
        next = (next + 1) % points.len();
        let there = points[next];
        plan.walk(here, there, speed_mps);
        here = there;
    }
}

/// Pauses at random points of `area` and walks between them; with a finish, the walk ends
/// early enough to reach it and stay its dwell until departure.
fn plan_random_walk(
    plan: &mut Planner<'_>,
    rng: &mut impl Rng,
    area: [Point; 2],
    speed_mps: f64,
    dwell_s: [u32; 2],
    finish: Option<&Finish>,
) {
    let (arrive, leave) = (plan.t, plan.leave);
    let (walk_until, last) = match finish {
        Some(f) => {
            let stay = dwell(rng, f.dwell_s).min(leave - arrive);
            (leave - stay, Some(around(rng, f.at, f.spread_m)))
        }
        None => (leave, None),
    };
    let [lo, hi] = area;
    let pick = |rng: &mut dyn rand::Rng| {
        [
            rng.random_range(lo[0]..=hi[0]),
            rng.random_range(lo[1]..=hi[1]),
        ]
    };
    let mut here = pick(rng);
    while plan.t < walk_until {
        let pause = dwell(rng, dwell_s).min(walk_until - plan.t);
        let heading = facing(rng);
        plan.push(pause, here, here, heading);
        if plan.t >= walk_until {
            break;
        }
        let there = pick(rng);
        if last.is_some() && plan.t + distance(here, there) / speed_mps > walk_until {
            // No time for another aisle: head for the finish now.
            break;
        }
        plan.walk(here, there, speed_mps);
        here = there;
    }
    if let Some(spot) = last {
        plan.walk(here, spot, speed_mps);
        let heading = facing(rng);
        let rest = leave - plan.t;
        plan.push(rest, spot, spot, heading);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk() -> Movement {
        Movement::RandomWalk {
            area: [[1.0, 1.0], [9.0, 5.0]],
            speed_mps: 1.0,
            dwell_s: [10, 60],
            finish: None,
        }
    }

    #[test]
    fn a_schedule_follows_its_steps_within_presence() {
        let day = Movement::Schedule {
            steps: vec![
                crate::scenario::ScheduleStep {
                    from: "08:00".into(),
                    to: "10:00".into(),
                    movement: walk(),
                },
                crate::scenario::ScheduleStep {
                    from: "10:00".into(),
                    to: "10:30".into(),
                    movement: Movement::Stay {
                        at: [2.0, 18.0],
                        spread_m: 0.0,
                    },
                },
            ],
        };
        // Present 09:00 to 12:00 on the second day.
        let (arrive, leave) = (86_400.0 + 9.0 * 3_600.0, 86_400.0 + 12.0 * 3_600.0);
        let plan = Trajectory::plan(&day, &[(arrive, leave)], 9);
        assert!(plan.at(arrive - 1.0).is_none());
        let walking = plan.at(arrive + 1_800.0).unwrap().at;
        assert!(walking[1] <= 5.0);
        assert_eq!(plan.at(86_400.0 + 10.25 * 3_600.0).unwrap().at, [2.0, 18.0]);
        assert!(
            plan.at(86_400.0 + 11.0 * 3_600.0).is_none(),
            "no step after 10:30"
        );
    }

    #[test]
    fn a_walk_with_a_finish_ends_there_and_stays() {
        let shop = Movement::RandomWalk {
            area: [[1.0, 1.0], [9.0, 5.0]],
            speed_mps: 1.0,
            dwell_s: [10, 60],
            finish: Some(crate::scenario::Finish {
                at: [9.5, 0.5],
                spread_m: 0.0,
                dwell_s: [120, 120],
            }),
        };
        let plan = Trajectory::plan(&shop, &[(0.0, 1_000.0)], 5);
        assert_eq!(plan.at(1_000.0).unwrap().at, [9.5, 0.5]);
        // The last 120 s are spent there, less the walk to it (at most 10 m at 1 m/s).
        assert_eq!(plan.at(891.0).unwrap().at, [9.5, 0.5]);
        assert_ne!(plan.at(500.0).unwrap().at, [9.5, 0.5]);
        let spread = Movement::Stay {
            at: [5.0, 5.0],
            spread_m: 1.0,
        };
        let spots: Vec<Point> = (0..50)
            .map(|seed| {
                Trajectory::plan(&spread, &[(0.0, 10.0)], seed)
                    .at(5.0)
                    .unwrap()
                    .at
            })
            .collect();
        assert!(spots.iter().all(|p| distance(*p, [5.0, 5.0]) <= 1.0));
        assert!(spots.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn a_plan_covers_presence_exactly_and_stays_in_the_area() {
        let periods = [(100.0, 2_000.0), (90_000.0, 93_600.0)];
        let plan = Trajectory::plan(&walk(), &periods, 42);
        assert_eq!(plan.at(99.0), None);
        assert_eq!(plan.at(2_000.5), None);
        assert_eq!(plan.at(50_000.0), None);
        for t in (100..2_000).chain(90_000..93_600) {
            let pose = plan.at(f64::from(t)).unwrap();
            assert!((1.0..=9.0).contains(&pose.at[0]) && (1.0..=5.0).contains(&pose.at[1]));
        }
        let legs = plan.legs();
        assert!(legs.windows(2).all(|w| w[0].end <= w[1].start));
        assert_eq!(legs.first().unwrap().start, 100.0);
        assert_eq!(legs.last().unwrap().end, 93_600.0);
    }

    #[test]
    fn movement_is_continuous_and_no_faster_than_the_speed() {
        let plan = Trajectory::plan(&walk(), &[(0.0, 3_600.0)], 7);
        let mut last = plan.at(0.0).unwrap().at;
        for tenth in 1..36_000 {
            let now = plan.at(f64::from(tenth) / 10.0).unwrap().at;
            assert!(distance(last, now) <= 0.1 + 1e-9);
            last = now;
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_plan_and_another_differs() {
        let a = Trajectory::plan(&walk(), &[(0.0, 3_600.0)], 1);
        assert_eq!(a, Trajectory::plan(&walk(), &[(0.0, 3_600.0)], 1));
        assert_ne!(a, Trajectory::plan(&walk(), &[(0.0, 3_600.0)], 2));
    }

    #[test]
    fn waypoints_are_visited_in_order_and_stay_is_still() {
        let route = Movement::Waypoints {
            points: vec![[0.0, 0.0], [10.0, 0.0]],
            speed_mps: 2.0,
            dwell_s: [5, 5],
        };
        let plan = Trajectory::plan(&route, &[(0.0, 100.0)], 3);
        assert_eq!(plan.at(2.0).unwrap().at, [0.0, 0.0]);
        assert_eq!(plan.at(7.5).unwrap().at, [5.0, 0.0]);
        assert_eq!(plan.at(7.5).unwrap().facing, [1.0, 0.0]);
        assert_eq!(plan.at(12.0).unwrap().at, [10.0, 0.0]);
        let still = Trajectory::plan(
            &Movement::Stay {
                at: [3.0, 4.0],
                spread_m: 0.0,
            },
            &[(0.0, 50.0)],
            3,
        );
        assert_eq!(still.at(25.0).unwrap().at, [3.0, 4.0]);
        assert_eq!(still.legs().len(), 1);
    }
}
