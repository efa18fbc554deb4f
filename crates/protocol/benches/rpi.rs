//! RPI generation: the crypto of one diagnosis key (HKDF for RPIK and AEMK, then 144 AES
//! blocks), per key and over many keys, ours against a straightforward baseline.
//!
//! Baseline: the general `hkdf` crate called twice (two extracts) and AES one block per call,
//! which is how the specification reads. Ours: one shared extract with a precomputed
//! NULL-salt HMAC state, and all 144 blocks in one batched AES call.
//!
//! Run: `cargo bench -p bluezone-protocol --bench rpi`. Figures go in docs/PERFORMANCE.md.

use std::hint::black_box;

use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use bluezone_protocol::{IntervalNumber, RollingProximityIdentifier, TemporaryExposureKey};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const START: IntervalNumber = IntervalNumber::new(2_642_976);
const MANY: usize = 10_000;

/// RPIK and AEMK by the general `hkdf` crate, one full HKDF each, as the specification reads.
fn hkdf_keys(tek: &[u8; 16]) -> ([u8; 16], [u8; 16]) {
    let mut rpik = [0u8; 16];
    let mut aemk = [0u8; 16];
    hkdf::Hkdf::<sha2::Sha256>::new(None, tek)
        .expand(b"EN-RPIK", &mut rpik)
        .expect("16 bytes is a valid HKDF length");
    hkdf::Hkdf::<sha2::Sha256>::new(None, tek)
        .expand(b"EN-AEMK", &mut aemk)
        .expect("16 bytes is a valid HKDF length");
    (rpik, aemk)
}

/// The specification read literally: HKDF twice, AES one block at a time.
fn baseline(tek: &[u8; 16]) -> ([u8; 16], [RollingProximityIdentifier; 144]) {
    let (rpik, aemk) = hkdf_keys(tek);
    let cipher = Aes128::new(&Array::from(rpik));
    let mut out = [RollingProximityIdentifier::default(); 144];
    for (i, rpi) in (0u32..).zip(out.iter_mut()) {
        let mut block = [0u8; 16];
        block[..6].copy_from_slice(b"EN-RPI");
        block[12..].copy_from_slice(&(START.get() + i).to_le_bytes());
        let mut block = Array::from(block);
        cipher.encrypt_block(&mut block);
        *rpi = RollingProximityIdentifier(block.into());
    }
    (aemk, out)
}

/// The general `hkdf` crate twice, but our batched AES: separates the two gains.
fn baseline_hkdf_batched_aes(tek: &[u8; 16]) -> [RollingProximityIdentifier; 144] {
    let (rpik, aemk) = hkdf_keys(tek);
    black_box(&aemk);
    bluezone_protocol::RollingProximityIdentifierKey::from_bytes(rpik).daily_identifiers(START)
}

/// Ours: both keys from one extract, 144 blocks in one call.
fn ours(tek: &TemporaryExposureKey) -> [RollingProximityIdentifier; 144] {
    let keys = tek.derive_keys();
    black_box(&keys.aemk);
    keys.rpik.daily_identifiers(START)
}

/// The matching hot path: only the RPIK until something matches.
fn ours_rpik_only(tek: &TemporaryExposureKey) -> [RollingProximityIdentifier; 144] {
    tek.rpi_key().daily_identifiers(START)
}

/// The matcher's own loop: RPIK only, the 144 blocks encrypted in place in one buffer reused
/// for every key (`daily_identifiers_in_place`).
fn ours_in_place(tek: &TemporaryExposureKey, blocks: &mut [[u8; 16]; 144]) {
    tek.rpi_key().daily_identifiers_in_place(START, blocks);
}

fn keys(n: usize) -> Vec<[u8; 16]> {
    (0..n)
        .map(|i| {
            let mut k = [0u8; 16];
            k[..8].copy_from_slice(&(i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
            k
        })
        .collect()
}

fn one_key(c: &mut Criterion) {
    let raw = [0x75u8; 16];
    let tek = TemporaryExposureKey::from_bytes(raw);
    assert_eq!(baseline(&raw).1, ours(&tek), "baseline and ours agree");
    assert_eq!(baseline_hkdf_batched_aes(&raw), ours(&tek));
    let mut blocks = [[0u8; 16]; 144];
    ours_in_place(&tek, &mut blocks);
    assert_eq!(blocks.map(RollingProximityIdentifier), ours(&tek));
    let mut g = c.benchmark_group("one_key");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline_hkdf_twice_aes_per_block", |b| {
        b.iter(|| baseline(black_box(&raw)))
    });
    g.bench_function("hkdf_twice_batched_aes", |b| {
        b.iter(|| baseline_hkdf_batched_aes(black_box(&raw)))
    });
    g.bench_function("ours_shared_extract_batched_aes", |b| {
        b.iter(|| ours(black_box(&tek)))
    });
    g.bench_function("ours_rpik_only_batched_aes", |b| {
        b.iter(|| ours_rpik_only(black_box(&tek)))
    });
    let mut blocks = [[0u8; 16]; 144];
    g.bench_function("ours_rpik_only_in_place", |b| {
        b.iter(|| ours_in_place(black_box(&tek), &mut blocks));
    });
    g.finish();
}

fn many_keys(c: &mut Criterion) {
    let raw = keys(MANY);
    let teks: Vec<TemporaryExposureKey> = raw
        .iter()
        .map(|k| TemporaryExposureKey::from_bytes(*k))
        .collect();
    let mut g = c.benchmark_group("many_keys_10k");
    g.throughput(Throughput::Elements(MANY as u64));
    g.sample_size(20);
    g.bench_function("baseline_hkdf_twice_aes_per_block", |b| {
        b.iter(|| {
            raw.iter()
                .map(|k| baseline(k).1[143].0[0])
                .fold(0u8, |a, x| a ^ x)
        })
    });
    g.bench_function("ours_shared_extract_batched_aes", |b| {
        b.iter(|| {
            teks.iter()
                .map(|k| ours(k)[143].0[0])
                .fold(0u8, |a, x| a ^ x)
        })
    });
    g.bench_function("ours_rpik_only_batched_aes", |b| {
        b.iter(|| {
            teks.iter()
                .map(|k| ours_rpik_only(k)[143].0[0])
                .fold(0u8, |a, x| a ^ x)
        })
    });
    let mut blocks = [[0u8; 16]; 144];
    g.bench_function("ours_rpik_only_in_place", |b| {
        b.iter(|| {
            teks.iter()
                .map(|k| {
                    ours_in_place(k, &mut blocks);
                    blocks[143][0]
                })
                .fold(0u8, |a, x| a ^ x)
        })
    });
    g.finish();
}

criterion_group!(benches, one_key, many_keys);
criterion_main!(benches);
