//! The Bluezone QA simulator. Today it holds [`history`]: synthetic phone histories, fed
//! through the real engine, that serve as fixtures for storage and matching benchmarks.
//! Scenario simulation (movement, radio model, ground truth) comes next.

pub mod history;
pub mod scenario;
