//! `bluezone store match`: which of a phone's sightings the given key files match, the
//! exposure windows they make and the decision the phone reaches with them, from a phone's
//! exported store or one filled by `bluezone scan --db` at a test site. Read-only unless
//! `--record` (then the files are matched as the phone matches them, and stored).

use std::io::Write;
use std::path::PathBuf;

use bluezone_core::inspect::{InspectedWindow, MatchInspection, inspect_matches};
use bluezone_core::risk_model::RiskModel;
use bluezone_core::{ManualClock, MasterKey, StorageLocation, Tracer, TracerConfig};
use bluezone_protocol::DayNumber;
use bluezone_protocol::cwa::CwaRiskLevel;
use bluezone_store::{Store, StoreError};
use clap::Args;

use crate::hexarg::parse_hex_array;
use crate::output::CliError;

/// Arguments of `bluezone store match`.
#[derive(Debug, Args)]
pub struct MatchArgs {
    /// The phone's store (an encrypted SQLite file).
    #[arg(long, value_name = "PATH")]
    db: PathBuf,
    /// The store's master key: 64 hex digits.
    #[arg(long, value_name = "HEX", value_parser = parse_hex_array::<32>)]
    key: [u8; 32],
    /// The key files (zips with export.bin and export.sig), in order.
    #[arg(value_name = "FILE.zip", required = true)]
    files: Vec<PathBuf>,
    /// The signer's public key: base64 SubjectPublicKeyInfo, or a file holding it or a PEM.
    #[arg(long, value_name = "BASE64|FILE")]
    public_key: String,
    /// Trust the key only under this key id (default: the ids the files' signatures claim).
    #[arg(long)]
    key_id: Option<String>,
    /// Trust the key only under this key version (default: the versions the files claim).
    #[arg(long)]
    key_version: Option<String>,
    /// The day to match as (YYYY-MM-DD, UTC; default today): sightings and windows of the 14
    /// days up to it count, as on the phone that day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    today: Option<String>,
    /// Also match the files that verify into the store, as the phone does (windows and the
    /// files' hashes stored, the notified flag set; data past retention on `--today` purged).
    #[arg(long)]
    record: bool,
    /// Print JSON (one object) instead of text.
    #[arg(long)]
    json: bool,
}

fn invalid(message: String) -> CliError {
    CliError::Invalid(message)
}

/// Runs `bluezone store match`.
///
/// # Errors
/// [`CliError`] for unreadable files, a wrong key, a store that is not one, a bad date.
pub fn run(args: &MatchArgs) -> Result<(), CliError> {
    if !args.db.is_file() {
        return Err(invalid(format!("no database at {}", args.db.display())));
    }
    let today = match &args.today {
        Some(text) => DayNumber::from_civil_date(text)
            .ok_or_else(|| invalid(format!("--today {text}: not a date (YYYY-MM-DD)")))?,
        None => DayNumber::from_unix_seconds(unix_now())
            .map_err(|e| invalid(format!("the system clock: {e}")))?,
    };
    let zips = args
        .files
        .iter()
        .map(|path| {
            std::fs::read(path).map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))
        })
        .collect::<Result<Vec<Vec<u8>>, CliError>>()?;
    let zip_refs: Vec<&[u8]> = zips.iter().map(Vec::as_slice).collect();
    let config = TracerConfig {
        trusted_signers: crate::keys::trusted_keys(
            &zip_refs,
            &args.public_key,
            args.key_id.as_deref(),
            args.key_version.as_deref(),
        )?,
        ..TracerConfig::default()
    };
    let master = MasterKey::from_bytes(args.key);
    let inspection = {
        let mut store = Store::open_read_only(&args.db, &master).map_err(|e| match e {
            StoreError::WrongKey => invalid(format!(
                "the key does not open {} (wrong key)",
                args.db.display()
            )),
            StoreError::NotAStore => {
                invalid(format!("{} is not a Bluezone store", args.db.display()))
            }
            other => invalid(format!("cannot open {}: {other}", args.db.display())),
        })?;
        inspect_matches(&mut store, &config, &zip_refs, today)
            .map_err(|e| invalid(format!("{}: {e}", args.db.display())))?
    };
    let recorded = if args.record {
        let clock = std::sync::Arc::new(ManualClock::new(i64::from(today.get()) * 86_400 + 43_200));
        let tracer = Tracer::open_with(
            config,
            StorageLocation::File(args.db.clone()),
            &master,
            clock,
            bluezone_core::ports::system_random(),
        )
        .map_err(|e| invalid(format!("{}: {e}", args.db.display())))?;
        // Refused files are shown above and never reach the phone's state.
        let verified: Vec<&[u8]> = zip_refs
            .iter()
            .zip(&inspection.files)
            .filter(|(_, file)| file.refused.is_none())
            .map(|(zip, _)| *zip)
            .collect();
        let status = tracer
            .process_key_files(&verified)
            .map_err(|e| invalid(format!("recording: {e}")))?;
        Some(status.notify)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = to_json(args, today, &inspection, recorded);
        writeln!(out, "{value}")?;
    } else {
        write_text(&mut out, args, today, &inspection, recorded)?;
    }
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const fn level_name(level: Option<CwaRiskLevel>) -> Option<&'static str> {
    match level {
        Some(CwaRiskLevel::Low) => Some("low"),
        Some(CwaRiskLevel::High) => Some("high"),
        None => None,
    }
}

fn file_name(args: &MatchArgs, i: usize) -> String {
    args.files
        .get(i)
        .map_or_else(|| format!("#{i}"), |p| p.display().to_string())
}

fn configuration(inspection: &MatchInspection) -> String {
    inspection.risk_sequence.map_or_else(
        || "built-in parameters".to_owned(),
        |sequence| format!("the authority's configuration {sequence}"),
    )
}

fn write_text(
    out: &mut impl Write,
    args: &MatchArgs,
    today: DayNumber,
    inspection: &MatchInspection,
    recorded: Option<bool>,
) -> Result<(), CliError> {
    writeln!(
        out,
        "store {} as of {}: model {}, {}; {} windows already stored",
        args.db.display(),
        today.to_civil_date(),
        inspection.model.name(),
        configuration(inspection),
        inspection.stored_windows
    )?;
    for (i, file) in inspection.files.iter().enumerate() {
        match &file.refused {
            Some(error) => writeln!(out, "file {}: refused: {error}", file_name(args, i))?,
            None => writeln!(
                out,
                "file {}: {} keys, {} heard{}",
                file_name(args, i),
                file.keys,
                file.matched_keys,
                if file.already_matched {
                    " (already matched by the phone)"
                } else {
                    ""
                }
            )?,
        }
    }
    if inspection.windows.is_empty() {
        writeln!(out, "no new exposure windows")?;
    } else {
        writeln!(
            out,
            "day         duration  min dB  typical dB (mean)  report type                   infectiousness  TRL  weighted min  score min  level"
        )?;
        for window in &inspection.windows {
            write_window(out, window)?;
        }
    }
    for (day, shown) in inspection.decision.days.iter().zip(&inspection.status.days) {
        let verdict = match (&inspection.model, shown.over_threshold) {
            (RiskModel::GaenDailySummaries(config), over) => format!(
                "{} the threshold of {:.1}",
                if over { "reaches" } else { "below" },
                config.notify_score / 60.0
            ),
            (RiskModel::Cwa { .. }, true) => "high risk".to_owned(),
            (RiskModel::Cwa { .. }, false) => "not high risk".to_owned(),
        };
        writeln!(
            out,
            "day {}: score {:.1} minutes in {} windows, {verdict}",
            day.day.to_civil_date(),
            day.score_sum / 60.0,
            day.windows,
        )?;
    }
    match inspection.decision.exposure_day {
        Some(day) => writeln!(
            out,
            "decision: notify (most recent exposure day {})",
            day.to_civil_date()
        )?,
        None => writeln!(out, "decision: no notification")?,
    }
    if let Some(notify) = recorded {
        writeln!(
            out,
            "recorded into the store; the phone now {}",
            if notify {
                "notifies"
            } else {
                "does not notify"
            }
        )?;
    }
    Ok(())
}

fn write_window(out: &mut impl Write, w: &InspectedWindow) -> Result<(), CliError> {
    let a = w.attenuation;
    writeln!(
        out,
        "{}  {:>5} s  {:>6}  {:>3}–{:<3} ({:>3})      {:<28}  {:<14}  {:>3}  {:>12.1}  {:>9.1}  {}",
        w.window.day.to_civil_date(),
        w.duration_secs,
        a.min_db,
        a.typical_min_db,
        a.typical_max_db,
        a.typical_mean_db,
        format!("{:?}", w.window.report_type),
        format!("{:?}", w.window.infectiousness),
        w.window.transmission_risk,
        w.weighted_seconds / 60.0,
        w.score / 60.0,
        level_name(w.level).unwrap_or("")
    )?;
    Ok(())
}

fn to_json(
    args: &MatchArgs,
    today: DayNumber,
    inspection: &MatchInspection,
    recorded: Option<bool>,
) -> serde_json::Value {
    let files: Vec<serde_json::Value> = inspection
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            serde_json::json!({
                "file": file_name(args, i),
                "sha256": hex(&f.sha256),
                "refused": f.refused.as_ref().map(ToString::to_string),
                "keys": f.keys,
                "matchedKeys": f.matched_keys,
                "alreadyMatched": f.already_matched,
            })
        })
        .collect();
    let windows: Vec<serde_json::Value> = inspection
        .windows
        .iter()
        .map(|w| {
            serde_json::json!({
                "file": file_name(args, w.file),
                "day": w.window.day.to_civil_date(),
                "durationSeconds": w.duration_secs,
                "minAttenuationDb": w.attenuation.min_db,
                "typicalAttenuationMinDb": w.attenuation.typical_min_db,
                "typicalAttenuationMaxDb": w.attenuation.typical_max_db,
                "typicalAttenuationMeanDb": w.attenuation.typical_mean_db,
                "reportType": format!("{:?}", w.window.report_type),
                "infectiousness": format!("{:?}", w.window.infectiousness),
                "transmissionRiskLevel": w.window.transmission_risk,
                "calibrationConfidence": format!("{:?}", w.window.calibration_confidence),
                "scans": w.window.scans.len(),
                "weightedMinutes": w.weighted_seconds / 60.0,
                "scoreMinutes": w.score / 60.0,
                "level": level_name(w.level),
            })
        })
        .collect();
    let days: Vec<serde_json::Value> = inspection
        .decision
        .days
        .iter()
        .zip(&inspection.status.days)
        .map(|(d, shown)| {
            serde_json::json!({
                "day": d.day.to_civil_date(),
                "scoreMinutes": d.score_sum / 60.0,
                "windows": d.windows,
                "overThreshold": shown.over_threshold,
            })
        })
        .collect();
    let notify_minutes = match &inspection.model {
        RiskModel::GaenDailySummaries(config) => Some(config.notify_score / 60.0),
        RiskModel::Cwa { .. } => None,
    };
    serde_json::json!({
        "store": args.db.display().to_string(),
        "today": today.to_civil_date(),
        "model": inspection.model.name(),
        "riskConfigSequence": inspection.risk_sequence,
        "notifyWeightedMinutes": notify_minutes,
        "storedWindows": inspection.stored_windows,
        "files": files,
        "windows": windows,
        "days": days,
        "notify": inspection.decision.notify,
        "exposureDay": inspection.decision.exposure_day.map(DayNumber::to_civil_date),
        "recorded": recorded,
    })
}
