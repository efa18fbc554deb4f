//! `bluezone scan`: listen to real exposure-notification beacons with the laptop's Bluetooth
//! (or replay a recording) through the phone driver, as a desktop phone that never advertises:
//! the driver cuts the continuous scan into windows and stores each window's sightings in a
//! real engine (in memory, or an encrypted store with `--db`), and reads iPhones' payloads
//! over GATT. This module parses, prints and records; every decision is the driver's.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bluezone_ble::replay::{parse_recording, replay, start_time_ms};
use bluezone_ble::scanner::ScanEnd;
use bluezone_ble::{Heard, ReadDone, ReadResult, ScanSummary, Session, Shown};
use bluezone_core::driver::{AdvertKind, CollectionState, DriverConfig, Platform};
use bluezone_core::{
    Clock, ManualClock, MasterKey, StorageLocation, SystemClock, Tracer, TracerConfig,
    system_random,
};
use clap::Args;

use crate::hexarg::parse_hex_array;
use crate::output::CliError;

/// Arguments of `bluezone scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// How long to listen: `90s`, `5m`, `1h` (Ctrl-C stops early and still saves).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    duration: Duration,
    /// Length of a scan window, 10 s to 10 minutes: the driver stores the adverts heard in one
    /// window as one scan.
    #[arg(long, default_value = "60s", value_parser = parse_window)]
    window: Duration,
    /// Do not read iPhones' payloads over GATT (their adverts are then only counted).
    #[arg(long)]
    no_gatt: bool,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Record into this encrypted store (created if missing) instead of memory.
    #[arg(long, value_name = "PATH", requires = "key")]
    db: Option<PathBuf>,
    /// The store's master key: 64 hex digits (with `--db`).
    #[arg(long, value_name = "HEX", value_parser = parse_hex_array::<32>)]
    key: Option<[u8; 32]>,
    /// Read adverts (and GATT reads) from a recording (JSON lines) instead of the radio.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Also write every advert heard and every GATT read to this file, in the form
    /// `--replay` reads.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    record: Option<PathBuf>,
}

/// The phone driver's limits on a continuous scan's window.
const WINDOW_SECS: std::ops::RangeInclusive<u64> = 10..=600;

/// A scan window: a duration within [`WINDOW_SECS`].
fn parse_window(text: &str) -> Result<Duration, String> {
    let window = parse_duration(text)?;
    if WINDOW_SECS.contains(&window.as_secs()) {
        Ok(window)
    } else {
        Err(format!(
            "`{text}`: a scan window is 10 s to 10 minutes (the phone driver's limits)"
        ))
    }
}

/// The driver's settings for a desktop: it never advertises, listens continuously (cut into
/// windows of `window`), and reads iPhones over GATT unless told not to.
fn driver_config(window: Duration, gatt: bool) -> Result<DriverConfig, CliError> {
    let mut config = DriverConfig::default_for(Platform::Desktop);
    config.continuous_scan = true;
    config.continuous_window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    config.gatt.enabled = gatt;
    config
        .check()
        .map_err(|e| CliError::Invalid(format!("--window: {e}")))?;
    Ok(config)
}

/// `90s`, `5m`, `2h` or a plain number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: a duration is like 90s, 5m or 1h"))?;
    let seconds = match unit {
        "s" => value,
        "m" => value.saturating_mul(60),
        "h" => value.saturating_mul(3_600),
        _ => return Err(format!("`{text}`: the unit is s, m or h")),
    };
    if seconds == 0 || seconds > 7 * 86_400 {
        return Err(format!("`{text}`: between 1 second and 7 days"));
    }
    Ok(Duration::from_secs(seconds))
}

fn clock_text(unix: i64) -> String {
    let s = unix.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", s / 3_600, s / 60 % 60, s % 60)
}

fn window_text(window: Option<u64>) -> String {
    window.map_or_else(|| "-".to_owned(), |w| w.to_string())
}

fn print_heard(out: &mut impl Write, heard: &Heard, json: bool) -> std::io::Result<()> {
    let f = &heard.frame;
    let needs_read = heard.kind == AdvertKind::NeedsRead;
    let rpi = heard.advert.map(|a| hex::encode(a.rpi.0));
    if json {
        let line = serde_json::json!({
            "time": f.time,
            "address": f.address,
            "rpi": rpi,
            "aem": heard.advert.map(|a| hex::encode(a.aem.0)),
            "rssi": f.rssi,
            "tx_power_dbm": f.tx_power_dbm,
            "attenuation_db": f.attenuation_db(),
            "window": heard.window,
            "needs_read": needs_read,
        });
        return writeln!(out, "{line}");
    }
    let attenuation = f
        .attenuation_db()
        .map_or_else(String::new, |a| format!("  attenuation {a} dB"));
    let what = if needs_read {
        "iPhone, payload over GATT".to_owned()
    } else {
        rpi.map_or_else(|| "malformed".to_owned(), |r| format!("RPI {}…", &r[..8]))
    };
    writeln!(
        out,
        "{} UTC  {what}  rssi {} dBm{attenuation}  window {}  from {}",
        clock_text(f.time),
        f.rssi.unwrap_or_default(),
        window_text(heard.window),
        f.address
    )
}

fn print_read(out: &mut impl Write, read: &ReadDone, json: bool) -> std::io::Result<()> {
    let f = &read.frame;
    let outcome = match &f.gatt_read {
        ReadResult::Value(_) => "ok",
        ReadResult::Error(e) => e.as_str(),
    };
    if json {
        let line = serde_json::json!({
            "time": f.time,
            "address": f.address,
            "gatt_read": outcome,
            "rpi": read.advert.map(|a| hex::encode(a.rpi.0)),
            "aem": read.advert.map(|a| hex::encode(a.aem.0)),
            "asked": read.asked,
        });
        return writeln!(out, "{line}");
    }
    let what = match (&f.gatt_read, read.advert) {
        (_, Some(a)) => format!("RPI {}…  read over GATT", &hex::encode(a.rpi.0)[..8]),
        (ReadResult::Value(v), None) => format!("GATT read gave {} bytes, not a payload", v.len()),
        (ReadResult::Error(e), None) => format!("GATT read failed: {}", e.as_str()),
    };
    let ignored = if read.asked {
        ""
    } else {
        "  (not asked for: ignored)"
    };
    writeln!(
        out,
        "{} UTC  {what}  from {}{ignored}",
        clock_text(f.time),
        f.address
    )
}

fn print_summary(out: &mut impl Write, s: &ScanSummary, json: bool) -> std::io::Result<()> {
    let d = &s.driver;
    let g = &d.gatt;
    if json {
        let line = serde_json::json!({ "summary": {
            "frames": s.frames,
            "not_exposure_notification": s.not_exposure_notification,
            "without_rssi": s.without_rssi,
            "needs_read": s.needs_read,
            "delivered": s.delivered,
            "accepted": s.accepted,
            "refused": s.refused,
            "windows": s.windows,
            "distinct_rpis": s.distinct_rpis,
            "driver": {
                "windows": d.windows,
                "sightings": d.sightings,
                "unrelated": d.unrelated,
                "unread": d.unread,
                "late_results": d.late_results,
                "scan_failures": d.scan_failures,
                "gatt": {
                    "reads_started": g.reads_started,
                    "reads_succeeded": g.reads_succeeded,
                    "reads_failed": g.reads_failed,
                    "not_ours": g.not_ours,
                    "reused": g.reused,
                },
            },
            "status": s.status.to_string(),
            "engine_errors": s.engine_errors,
        }});
        return writeln!(out, "{line}");
    }
    writeln!(
        out,
        "summary: {} adverts, {} distinct RPIs in {} scan window(s); {} stored, {} refused by the \
         engine, {} without RSSI, {} not exposure notification",
        s.frames,
        s.distinct_rpis,
        s.windows,
        s.accepted,
        s.refused,
        s.without_rssi,
        s.not_exposure_notification
    )?;
    writeln!(
        out,
        "driver: {} scan window(s), {} sighting(s) to the engine, {} iPhone advert(s), {} unread; \
         GATT reads: {} started, {} succeeded, {} failed ({} not ours), {} reused; {}",
        d.windows,
        d.sightings,
        s.needs_read,
        d.unread,
        g.reads_started,
        g.reads_succeeded,
        g.reads_failed,
        g.not_ours,
        g.reused,
        s.status
    )
}

/// Unix time, ms.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Runs `bluezone scan`.
pub fn run(args: &ScanArgs) -> Result<(), CliError> {
    let recording = match &args.replay {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Invalid(format!("cannot read {}: {e}", path.display())))?;
            Some(
                parse_recording(&text)
                    .map_err(|e| CliError::Invalid(format!("{}: {e}", path.display())))?,
            )
        }
        None => None,
    };
    let config = driver_config(args.window, !args.no_gatt)?;
    // A replay runs on the recording's own time, so old captures are not refused as stale and
    // the driver's windows and read deadlines fall as they did.
    let start_ms = recording.as_deref().map_or_else(now_ms, start_time_ms);
    let replay_clock = recording
        .as_ref()
        .map(|_| Arc::new(ManualClock::new(start_ms.div_euclid(1000))));
    let clock: Arc<dyn Clock> = match &replay_clock {
        Some(c) => c.clone(),
        None => Arc::new(SystemClock),
    };
    let (storage, key) = match (&args.db, args.key) {
        (Some(path), Some(key)) => (
            StorageLocation::File(path.clone()),
            MasterKey::from_bytes(key),
        ),
        _ => {
            let mut bytes = [0u8; 32];
            rand::Rng::fill_bytes(&mut system_random(), &mut bytes);
            (StorageLocation::InMemory, MasterKey::from_bytes(bytes))
        }
    };
    let tracer = Tracer::open_with(
        TracerConfig::default(),
        storage,
        &key,
        clock,
        system_random(),
    )
    .map_err(|e| CliError::Invalid(format!("cannot open the store: {e}")))?;
    // The seed only jitters duty-cycled scans; a desktop scans continuously. A replay uses a
    // fixed one all the same, so it is reproducible whatever the settings.
    let seed = if recording.is_some() {
        0
    } else {
        rand::Rng::next_u64(&mut system_random())
    };
    let mut session = Session::open(&tracer, config, seed, start_ms, replay_clock)
        .map_err(|e| CliError::Invalid(format!("cannot start the phone driver: {e}")))?;
    let mut recorder = match &args.record {
        Some(path) => Some(BufWriter::new(File::create(path)?)),
        None => None,
    };
    let mut failure: Option<CliError> = None;
    let json = args.json;
    let mut show = |shown: Shown| -> ControlFlow<()> {
        let step = (|| -> Result<(), CliError> {
            let mut out = std::io::stdout().lock();
            match &shown {
                Shown::Advert(heard) => {
                    if let Some(file) = recorder.as_mut() {
                        let line = heard.frame.to_json_line().map_err(std::io::Error::other)?;
                        writeln!(file, "{line}")?;
                    }
                    if heard.kind != AdvertKind::Unrelated && heard.frame.rssi.is_some() {
                        print_heard(&mut out, heard, json)?;
                    }
                }
                Shown::Read(read) => {
                    if let Some(file) = recorder.as_mut() {
                        let line = read.frame.to_json_line().map_err(std::io::Error::other)?;
                        writeln!(file, "{line}")?;
                    }
                    print_read(&mut out, read, json)?;
                }
                Shown::Status(status, _) => {
                    let paused = matches!(status.state, CollectionState::Paused(_));
                    if paused || !json {
                        eprintln!("status: {status}");
                    }
                }
            }
            Ok(())
        })();
        match step {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                failure = Some(e);
                ControlFlow::Break(())
            }
        }
    };
    let mut never_scanned: Option<String> = None;
    match &recording {
        Some(lines) => {
            let _ = replay(&mut session, lines, &mut show);
        }
        None => {
            let mut adapter = |name: &str| {
                if !json {
                    eprintln!(
                        "listening on {name} for {} s (Ctrl-C stops)",
                        args.duration.as_secs()
                    );
                }
            };
            let outcome =
                bluezone_ble::scanner::scan(&mut session, args.duration, &mut adapter, &mut show)
                    .map_err(|e| CliError::Invalid(format!("cannot scan: {e}")))?;
            match outcome.end {
                ScanEnd::Interrupted => eprintln!("interrupted: saving what was heard"),
                ScanEnd::StreamEnded => {
                    eprintln!("the Bluetooth stack stopped reporting adverts before the end");
                }
                ScanEnd::TimeUp | ScanEnd::Stopped => {}
            }
            if let CollectionState::Paused(reason) = session.driver().status().state
                && !session.scan_started()
            {
                never_scanned = Some(
                    outcome
                        .last_error
                        .map_or_else(|| reason.to_string(), |e| e.to_string()),
                );
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(mut file) = recorder {
        file.flush()?;
    }
    let summary = session.summary();
    print_summary(&mut std::io::stdout().lock(), &summary, args.json)?;
    if let Some(why) = never_scanned {
        return Err(CliError::Invalid(format!("cannot scan: {why}")));
    }
    if let Some(why) = &summary.last_engine_error {
        return Err(CliError::Invalid(format!(
            "storing sightings failed {} time(s): {why}",
            summary.engine_errors
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3_600)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("soon").is_err());
        assert_eq!(clock_text(1_585_785_603), "00:00:03");
    }

    #[test]
    fn windows_are_within_the_drivers_limits() {
        assert_eq!(parse_window("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_window("10m"), Ok(Duration::from_secs(600)));
        for bad in ["9s", "11m", "1h"] {
            let e = parse_window(bad).unwrap_err();
            assert!(e.contains("10 s to 10 minutes"), "{e}");
        }
        assert!(parse_window("soon").is_err());
        let config = driver_config(Duration::from_secs(30), true).unwrap();
        assert!(config.continuous_scan && config.gatt.enabled);
        assert_eq!(config.continuous_window_ms, 30_000);
        assert!(driver_config(Duration::from_secs(5), false).is_err());
    }
}
