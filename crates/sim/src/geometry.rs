//! Plane geometry for the radio model: points, and what lies between two phones (walls
//! crossed, shelves cut through).

/// A point in metres: east, north.
pub type Point = [f64; 2];

/// Distance between two points, metres.
#[must_use]
pub fn distance(a: Point, b: Point) -> f64 {
    distance_squared(a, b).sqrt()
}

/// Squared distance between two points, square metres (cheaper, for comparisons).
#[must_use]
pub fn distance_squared(a: Point, b: Point) -> f64 {
    let (dx, dy) = (a[0] - b[0], a[1] - b[1]);
    dx * dx + dy * dy
}

/// Whether segments `a–b` and `c–d` cross (touching counts).
#[must_use]
pub fn segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool {
    fn orient(p: Point, q: Point, r: Point) -> f64 {
        (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
    }
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    let on = |p: Point, q: Point, r: Point| {
        r[0] >= p[0].min(q[0])
            && r[0] <= p[0].max(q[0])
            && r[1] >= p[1].min(q[1])
            && r[1] <= p[1].max(q[1])
    };
    (d1 == 0.0 && on(c, d, a))
        || (d2 == 0.0 && on(c, d, b))
        || (d3 == 0.0 && on(a, b, c))
        || (d4 == 0.0 && on(a, b, d))
}

/// Length of segment `a–b` inside the axis-aligned box `[min, max]` (slab clipping), metres.
#[must_use]
pub fn length_inside_box(a: Point, b: Point, min: Point, max: Point) -> f64 {
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for axis in 0..2 {
        let delta = b[axis] - a[axis];
        if delta.abs() < 1e-12 {
            if a[axis] < min[axis] || a[axis] > max[axis] {
                return 0.0;
            }
            continue;
        }
        let (mut lo, mut hi) = ((min[axis] - a[axis]) / delta, (max[axis] - a[axis]) / delta);
        if lo > hi {
            std::mem::swap(&mut lo, &mut hi);
        }
        t0 = t0.max(lo);
        t1 = t1.min(hi);
        if t0 >= t1 {
            return 0.0;
        }
    }
    (t1 - t0) * distance(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossings() {
        assert!(segments_cross(
            [0.0, 0.0],
            [2.0, 2.0],
            [0.0, 2.0],
            [2.0, 0.0]
        ));
        assert!(!segments_cross(
            [0.0, 0.0],
            [1.0, 0.0],
            [0.0, 1.0],
            [1.0, 1.0]
        ));
        assert!(!segments_cross(
            [0.0, 0.0],
            [1.0, 1.0],
            [2.0, 0.0],
            [3.0, 5.0]
        ));
        // Touching an end counts; collinear apart does not.
        assert!(segments_cross(
            [0.0, 0.0],
            [1.0, 0.0],
            [1.0, 0.0],
            [1.0, 5.0]
        ));
        assert!(!segments_cross(
            [0.0, 0.0],
            [1.0, 0.0],
            [2.0, 0.0],
            [3.0, 0.0]
        ));
    }

    #[test]
    fn clipping_through_a_box() {
        let (min, max) = ([1.0, 0.0], [2.0, 1.0]);
        assert!((length_inside_box([0.0, 0.5], [3.0, 0.5], min, max) - 1.0).abs() < 1e-9);
        assert_eq!(length_inside_box([0.0, 2.0], [3.0, 2.0], min, max), 0.0);
        assert!((length_inside_box([1.5, 0.5], [5.0, 0.5], min, max) - 0.5).abs() < 1e-9);
        let diagonal = length_inside_box([0.0, -1.0], [3.0, 2.0], min, max);
        assert!((diagonal - 2f64.sqrt()).abs() < 1e-9, "{diagonal}");
        assert_eq!(length_inside_box([0.0, 0.5], [0.5, 0.5], min, max), 0.0);
    }
}
