//! The Bluezone QA simulator.
//!
//! A [`scenario::Scenario`] describes a place, the people in it and their phones, how they
//! move and who tests positive. [`run::simulate`] plays it: people move in continuous time
//! ([`movement`]), a [`grid::Grid`] finds who is near whom, the [`radio`] model and each
//! operating system's [`policy`] decide which adverts are heard, and every phone is a real
//! `bluezone-core` Tracer. Positive people upload through a real server on loopback; every
//! phone downloads, matches and scores with the real code. Ground truth comes from the true
//! distances, and [`report`] compares the two, with [`plot`]s. [`sweep`] re-scores the same
//! run under other risk parameters. [`history`] makes synthetic histories for benchmarks,
//! and [`bench_fixtures`] the benchmarks' stores and key files made of them.

pub mod bench_fixtures;
pub mod geometry;
pub mod grid;
pub mod history;
pub mod movement;
pub mod noise;
pub mod output;
pub mod phones;
pub mod plot;
pub mod policy;
pub mod radio;
pub mod report;
pub mod run;
pub mod scenario;
pub mod settings;
pub mod sweep;
