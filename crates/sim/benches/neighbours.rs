//! Finding the phones within radio range of each scanning phone: the simulator's spatial grid
//! against comparing every pair, at the densities of the bundled district market (2,000 people
//! in 200 m × 120 m) and of the same crowd spread over a city district.
//! `cargo bench -p bluezone-sim --bench neighbours`; figures in docs/PERFORMANCE.md.

#![allow(missing_docs)] // criterion's macros generate undocumented items.

use bluezone_sim::geometry::{Point, distance_squared};
use bluezone_sim::grid::Grid;
use bluezone_sim::noise::{hash, unit};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn crowd(n: u64, width: f64, depth: f64) -> Vec<Point> {
    (0..n)
        .map(|i| [unit(hash(&[1, i])) * width, unit(hash(&[2, i])) * depth])
        .collect()
}

fn neighbours(c: &mut Criterion) {
    let range = 53.0; // the default radio model's range
    let mut group = c.benchmark_group("neighbours_of_every_phone");
    group.sample_size(10);
    for (name, n, width, depth) in [
        ("market_2000_200x120m", 2_000, 200.0, 120.0),
        ("district_2000_1000x1000m", 2_000, 1_000.0, 1_000.0),
        ("city_20000_3000x3000m", 20_000, 3_000.0, 3_000.0),
    ] {
        let points = crowd(n, width, depth);
        let r2 = range * range;
        group.bench_with_input(BenchmarkId::new("grid", name), &points, |b, points| {
            b.iter(|| {
                let grid = Grid::build(range, width, depth, points);
                let mut out = Vec::new();
                let mut found = 0usize;
                for p in points {
                    out.clear();
                    grid.candidates(*p, range, &mut out);
                    found += out
                        .iter()
                        .filter(|&&i| distance_squared(points[i as usize], *p) <= r2)
                        .count();
                }
                found
            });
        });
        group.bench_with_input(BenchmarkId::new("all_pairs", name), &points, |b, points| {
            b.iter(|| {
                let mut found = 0usize;
                for p in points {
                    found += points
                        .iter()
                        .filter(|q| distance_squared(**q, *p) <= r2)
                        .count();
                }
                found
            });
        });
    }
    group.finish();
}

criterion_group!(benches, neighbours);
criterion_main!(benches);
