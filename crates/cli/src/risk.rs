//! `bluezone risk`: the risk models outside a phone. `risk check <cases.json>` runs a file of
//! Corona-Warn-App's test-case format (its configuration and cases, e.g. CWA's published
//! `exposure-windows-risk-calculation.json`) through the engine's CWA model and reports every
//! case that does not come out as expected.

use std::io::Write;
use std::path::PathBuf;

use bluezone_protocol::cwa::CwaPlatform;
use bluezone_protocol::cwa::cases::{CaseFile, check_case};
use clap::{Args, Subcommand, ValueEnum};

use crate::output::CliError;

/// `bluezone risk ...`
#[derive(Debug, Subcommand)]
pub enum RiskCommand {
    /// Run a file of CWA's test-case format through the CWA model: one line per failing
    /// case, then `N passed, N failed`; the exit status is 1 if any failed.
    Check(CheckArgs),
}

/// Whose arithmetic to run where CWA's apps differ (docs/PROTOCOL.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Platform {
    /// CWA's iOS app (the source of its published expectations).
    Ios,
    /// CWA's Android app (a day's normalized time rounded to one decimal, fractional minutes
    /// in filters, days without a level dropped).
    Android,
}

/// Arguments of `bluezone risk check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The test-case file (JSON: `defaultRiskCalculationConfiguration` and `testCases`).
    #[arg(value_name = "CASES.json")]
    cases: PathBuf,
    /// Whose arithmetic to use where CWA's apps differ.
    #[arg(long, value_enum, default_value = "ios")]
    platform: Platform,
}

/// Runs a `risk` subcommand.
///
/// # Errors
/// [`CliError`] when the file cannot be read or is not of the format (the message names the
/// case and the field), or when a case fails.
pub fn run(command: &RiskCommand) -> Result<(), CliError> {
    match command {
        RiskCommand::Check(args) => check(args),
    }
}

fn check(args: &CheckArgs) -> Result<(), CliError> {
    let bytes = std::fs::read(&args.cases)
        .map_err(|e| CliError::Invalid(format!("cannot read {}: {e}", args.cases.display())))?;
    let file = CaseFile::parse(&bytes)
        .map_err(|e| CliError::Invalid(format!("{}: {e}", args.cases.display())))?;
    let platform = match args.platform {
        Platform::Ios => CwaPlatform::Ios,
        Platform::Android => CwaPlatform::Android,
    };
    let mut out = std::io::stdout().lock();
    let mut failed = 0usize;
    for (i, case) in file.cases.iter().enumerate() {
        let mismatches = check_case(case, &file.configuration, platform);
        if mismatches.is_empty() {
            continue;
        }
        failed += 1;
        let detail: Vec<String> = mismatches
            .iter()
            .map(|m| format!("{} expected {}, got {}", m.field, m.expected, m.actual))
            .collect();
        writeln!(
            out,
            "FAIL testCases[{i}] {:?}: {}",
            case.description,
            detail.join("; ")
        )?;
    }
    let passed = file.cases.len() - failed;
    writeln!(out, "{passed} passed, {failed} failed")?;
    if failed > 0 {
        return Err(CliError::Invalid(format!(
            "{failed} of {} cases failed",
            file.cases.len()
        )));
    }
    Ok(())
}
