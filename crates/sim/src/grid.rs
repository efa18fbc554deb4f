//! A uniform grid over the place, rebuilt at each time step, so that finding the phones near
//! one phone costs in proportion to its neighbours, not to the whole population.

use crate::geometry::Point;

/// Points bucketed into square cells (a counting sort: two flat arrays, no per-cell vectors).
#[derive(Debug, Clone, Default)]
pub struct Grid {
    cell: f64,
    cols: usize,
    rows: usize,
    starts: Vec<u32>,
    items: Vec<u32>,
}

impl Grid {
    /// A grid of `cell`-metre cells over a `width` × `depth` place, holding `points` (each
    /// identified by its index in the slice). A cell larger than the place (even infinite)
    /// gives one cell: every query returns every point.
    #[must_use]
    pub fn build(cell: f64, width: f64, depth: f64, points: &[Point]) -> Self {
        let cell = cell.clamp(0.5, width.max(depth).max(0.5) + 1.0);
        let cols = cells_along(width, cell);
        let rows = cells_along(depth, cell);
        let mut grid = Self {
            cell,
            cols,
            rows,
            starts: vec![0; cols * rows + 1],
            items: vec![0; points.len()],
        };
        let index: Vec<usize> = points.iter().map(|p| grid.cell_of(*p)).collect();
        for &c in &index {
            grid.starts[c + 1] += 1;
        }
        for c in 0..cols * rows {
            grid.starts[c + 1] += grid.starts[c];
        }
        let mut next = grid.starts.clone();
        for (i, &c) in index.iter().enumerate() {
            grid.items[next[c] as usize] = u32::try_from(i).unwrap_or(u32::MAX);
            next[c] += 1;
        }
        grid
    }

    fn coord(&self, v: f64, n: usize) -> usize {
        // Points outside the place (never, after validation) are clamped to its edge cells.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let c = (v / self.cell).floor().max(0.0) as usize;
        c.min(n - 1)
    }

    fn cell_of(&self, p: Point) -> usize {
        self.coord(p[1], self.rows) * self.cols + self.coord(p[0], self.cols)
    }

    /// Appends to `out` the indexes of every point in the cells that a circle of `radius`
    /// around `p` touches (a superset of the points within `radius`; the caller measures).
    pub fn candidates(&self, p: Point, radius: f64, out: &mut Vec<u32>) {
        let (x0, x1) = (
            self.coord(p[0] - radius, self.cols),
            self.coord(p[0] + radius, self.cols),
        );
        let (y0, y1) = (
            self.coord(p[1] - radius, self.rows),
            self.coord(p[1] + radius, self.rows),
        );
        for y in y0..=y1 {
            let row = y * self.cols;
            let (from, to) = (
                self.starts[row + x0] as usize,
                self.starts[row + x1 + 1] as usize,
            );
            out.extend_from_slice(&self.items[from..to]);
        }
    }
}

fn cells_along(length: f64, cell: f64) -> usize {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = (length / cell).ceil().max(1.0) as usize;
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::distance;
    use crate::noise::{hash, unit};

    #[test]
    fn candidates_contain_every_point_within_the_radius() {
        let points: Vec<Point> = (0..2_000u64)
            .map(|i| [unit(hash(&[1, i])) * 300.0, unit(hash(&[2, i])) * 200.0])
            .collect();
        for (cell, radius) in [(10.0, 10.0), (10.0, 25.0), (40.0, 3.0)] {
            let grid = Grid::build(cell, 300.0, 200.0, &points);
            let mut out = Vec::new();
            for probe in points.iter().step_by(97) {
                out.clear();
                grid.candidates(*probe, radius, &mut out);
                let mut found: Vec<u32> = out
                    .iter()
                    .copied()
                    .filter(|&i| distance(points[i as usize], *probe) <= radius)
                    .collect();
                found.sort_unstable();
                let expected: Vec<u32> = (0..2_000u32)
                    .filter(|&i| distance(points[i as usize], *probe) <= radius)
                    .collect();
                assert_eq!(found, expected);
                assert!(out.len() < 2_000, "the grid prunes");
            }
        }
    }

    #[test]
    fn edges_and_empty_grids() {
        let grid = Grid::build(5.0, 10.0, 10.0, &[[0.0, 0.0], [10.0, 10.0]]);
        let mut out = Vec::new();
        grid.candidates([10.0, 10.0], 1.0, &mut out);
        assert_eq!(out, vec![1]);
        let empty = Grid::build(5.0, 10.0, 10.0, &[]);
        out.clear();
        empty.candidates([5.0, 5.0], 100.0, &mut out);
        assert!(out.is_empty());
    }
}
