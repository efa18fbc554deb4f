//! When the advertised identifier changes.
//!
//! GAEN Bluetooth Specification v1.2: the RPI changes together with the Bluetooth random
//! address, about every 10 to 20 minutes, at randomised moments so that rotations cannot be
//! lined up across phones or predicted. At each rotation the phone advertises the RPI of the
//! interval the rotation falls in; since an RPI lives at least one interval (10 minutes), every
//! rotation changes the RPI. The shell restarts advertising at the rotation moment, which
//! makes the platform pick a new address at the same time.

use bluezone_protocol::{Advertisement, IntervalNumber};

/// The identifier being advertised and when it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentAdvertisement {
    /// RPI and AEM being advertised.
    pub advertisement: Advertisement,
    /// The interval whose RPI this is.
    pub interval: IntervalNumber,
    /// The full 31-byte legacy advertising payload.
    pub payload: [u8; bluezone_protocol::advert::LEGACY_PAYLOAD_LEN],
    /// Unix time (seconds) of the rotation that started this identifier.
    pub rotated_at: i64,
    /// Unix time (seconds) at which the shell must rotate: ask again and restart advertising.
    pub next_rotation_at: i64,
}

/// Whether a rotation is due at `now` for the identifier in force (if any).
#[must_use]
pub fn rotation_due(current: Option<&CurrentAdvertisement>, now: i64) -> bool {
    match current {
        None => true,
        // A clock that jumped backwards also rotates: never reuse a schedule it can't trust.
        Some(c) => now >= c.next_rotation_at || now < c.rotated_at,
    }
}

/// Draws the lifetime of the next identifier, uniformly in `[min_secs, max_secs]`.
pub fn draw_lifetime(rng: &mut dyn rand_core::CryptoRng, min_secs: u32, max_secs: u32) -> u32 {
    let span = max_secs.saturating_sub(min_secs);
    if span == 0 {
        return min_secs;
    }
    // Rejection sampling keeps the distribution uniform.
    let range = u64::from(span) + 1;
    let zone = u64::MAX - (u64::MAX % range);
    loop {
        let x = rng.next_u64();
        if x < zone {
            let offset = u32::try_from(x % range).unwrap_or(span);
            return min_secs + offset;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn lifetimes_cover_the_whole_range_and_nothing_else() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let draws: Vec<u32> = (0..20_000)
            .map(|_| draw_lifetime(&mut rng, 600, 1200))
            .collect();
        assert!(draws.iter().all(|d| (600..=1200).contains(d)));
        assert_eq!(*draws.iter().min().unwrap(), 600);
        assert_eq!(*draws.iter().max().unwrap(), 1200);
        let mean = draws.iter().map(|&d| f64::from(d)).sum::<f64>() / draws.len() as f64;
        assert!((mean - 900.0).abs() < 10.0, "{mean}");
        assert_eq!(draw_lifetime(&mut rng, 700, 700), 700);
    }
}
