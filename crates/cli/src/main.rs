//! `bluezone`: the command-line tool for QA engineers, researchers and operators.
//!
//! Each subcommand lives in its own module; this file only parses arguments and maps errors
//! to exit codes (2 for bad arguments, from clap; 1 for failures at run time).

mod bench;
mod bench_match_io;
mod bench_radio;
mod hexarg;
mod keys;
mod output;
mod risk;
mod scan;
mod server;
mod sim;
mod store;
mod store_match;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Bluezone: GAEN-compatible exposure notification tools.
#[derive(Debug, Parser)]
#[command(name = "bluezone", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect keys: derive the identifiers a Temporary Exposure Key broadcasts.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Simulations for QA: BLE scenarios with ground truth, reports and plots.
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Benchmarks: ours against a baseline, in one run.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The health-authority server.
    #[command(subcommand)]
    Server(server::ServerCommand),
    /// Manage the officials who issue codes.
    #[command(subcommand)]
    Official(server::OfficialCommand),
    /// Inspect an encrypted store.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Risk models outside a phone: check a model against a file of test cases.
    #[command(subcommand)]
    Risk(risk::RiskCommand),
    /// Listen to exposure-notification beacons with this computer's Bluetooth (or replay a
    /// recording) through a real engine.
    Scan(scan::ScanArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keys(command) => keys::run(&command),
        Command::Sim(command) => sim::run(&command),
        Command::Store(command) => store::run(&command),
        Command::Risk(command) => risk::run(&command),
        Command::Bench(command) => bench::run(&command),
        Command::Server(command) => server::run(&command),
        Command::Official(command) => server::run_official(&command),
        Command::Scan(args) => scan::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
