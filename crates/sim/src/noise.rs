//! Deterministic noise: every random draw of the radio model is a hash of the seed and of what
//! it is about (the pair of phones, the scan, the packet), not a draw from a shared generator.
//! Results therefore do not depend on the order in which threads process receivers, and the
//! same scenario and seed give the same report, byte for byte.

/// SplitMix64's finaliser: a fast, well-mixed 64-bit permutation.
#[must_use]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of several values, in order.
#[must_use]
pub fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(0x6a09_e667_f3bc_c908, |h, p| mix(h ^ mix(*p)))
}

/// A uniform number in `[0, 1)` from a hash.
#[must_use]
pub fn unit(h: u64) -> f64 {
    // The top 53 bits, exactly representable.
    #[allow(clippy::cast_precision_loss)]
    let top = (h >> 11) as f64;
    top / (1u64 << 53) as f64
}

/// A standard normal number from a hash (Box–Muller).
#[must_use]
pub fn normal(h: u64) -> f64 {
    let u1 = unit(h).max(f64::MIN_POSITIVE);
    let u2 = unit(mix(h ^ 0x5851_f42d_4c95_7f2d));
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_uniform_and_normal_enough() {
        let n = 100_000u64;
        let units: Vec<f64> = (0..n).map(|i| unit(hash(&[7, i]))).collect();
        assert!(units.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = units.iter().sum::<f64>() / 100_000.0;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let normals: Vec<f64> = (0..n).map(|i| normal(hash(&[8, i]))).collect();
        let m = normals.iter().sum::<f64>() / 100_000.0;
        let var = normals.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 100_000.0;
        assert!(m.abs() < 0.02 && (var - 1.0).abs() < 0.03, "{m} {var}");
        let within = normals.iter().filter(|x| x.abs() < 1.96).count();
        assert!((94_000..96_000).contains(&within), "{within}");
    }

    #[test]
    fn order_matters_and_equal_inputs_agree() {
        assert_eq!(hash(&[1, 2, 3]), hash(&[1, 2, 3]));
        assert_ne!(hash(&[1, 2, 3]), hash(&[3, 2, 1]));
        assert_ne!(hash(&[1, 2]), hash(&[1, 2, 0]));
    }
}
