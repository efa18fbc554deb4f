//! `bluezone scan`: listen to real exposure-notification beacons with the laptop's Bluetooth
//! (or replay a recording) and feed them, a scan window at a time, into a real engine:
//! in memory, or an encrypted store with `--db`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bluezone_ble::replay::parse_recording;
use bluezone_ble::scanner::ScanEnd;
use bluezone_ble::{AdvertFrame, BatchSummary, Batcher, Heard};
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
    /// Length of a scan window: adverts heard in one window are stored as one scan.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    window: Duration,
    /// One JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// Record into this encrypted store (created if missing) instead of memory.
    #[arg(long, value_name = "PATH", requires = "key")]
    db: Option<PathBuf>,
    /// The store's master key: 64 hex digits (with `--db`).
    #[arg(long, value_name = "HEX", value_parser = parse_hex_array::<32>)]
    key: Option<[u8; 32]>,
    /// Read adverts from a recording (JSON lines) instead of the radio.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Also write every advert heard to this file, in the form `--replay` reads.
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    record: Option<PathBuf>,
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

fn print_heard(out: &mut impl Write, heard: &Heard, json: bool) -> std::io::Result<()> {
    let f = &heard.frame;
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
        });
        return writeln!(out, "{line}");
    }
    let attenuation = f
        .attenuation_db()
        .map_or_else(String::new, |a| format!("  attenuation {a} dB"));
    writeln!(
        out,
        "{} UTC  {}  rssi {} dBm{attenuation}  window {}  from {}",
        clock_text(f.time),
        rpi.map_or_else(|| "malformed".to_owned(), |r| format!("RPI {}…", &r[..8])),
        f.rssi.unwrap_or_default(),
        heard.window,
        f.address
    )
}

fn print_summary(out: &mut impl Write, s: &BatchSummary, json: bool) -> std::io::Result<()> {
    if json {
        let line = serde_json::json!({ "summary": {
            "frames": s.frames,
            "not_exposure_notification": s.not_exposure_notification,
            "without_rssi": s.without_rssi,
            "delivered": s.delivered,
            "accepted": s.accepted,
            "refused": s.refused,
            "windows": s.windows,
            "distinct_rpis": s.distinct_rpis,
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
    )
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
    // A replay runs on the recording's own time, so old captures are not refused as stale.
    let replay_clock = recording
        .as_ref()
        .map(|frames| Arc::new(ManualClock::new(frames.first().map_or(0, |f| f.time))));
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
    let window = i64::try_from(args.window.as_secs()).unwrap_or(i64::MAX);
    let mut batcher = Batcher::new(&tracer, window);
    let mut recorder = match &args.record {
        Some(path) => Some(BufWriter::new(File::create(path)?)),
        None => None,
    };
    let mut failure: Option<CliError> = None;
    let mut take = |frame: AdvertFrame| -> ControlFlow<()> {
        if let Some(clock) = &replay_clock {
            clock.set(frame.time);
        }
        let step = (|| -> Result<(), CliError> {
            if let Some(file) = recorder.as_mut() {
                writeln!(
                    file,
                    "{}",
                    frame.to_json_line().map_err(std::io::Error::other)?
                )?;
            }
            if let Some(heard) = batcher
                .push(&frame)
                .map_err(|e| CliError::Invalid(format!("storing sightings failed: {e}")))?
            {
                print_heard(&mut std::io::stdout().lock(), &heard, args.json)?;
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
    match recording {
        Some(frames) => {
            for frame in frames {
                if take(frame).is_break() {
                    break;
                }
            }
        }
        None => {
            let mut adapter = |name: &str| {
                if !args.json {
                    eprintln!(
                        "listening on {name} for {} s (Ctrl-C stops)",
                        args.duration.as_secs()
                    );
                }
            };
            let end = bluezone_ble::scanner::scan(args.duration, &mut adapter, &mut take)
                .map_err(|e| CliError::Invalid(format!("cannot scan: {e}")))?;
            match end {
                ScanEnd::Interrupted => eprintln!("interrupted: saving what was heard"),
                ScanEnd::StreamEnded => {
                    eprintln!("the Bluetooth stack stopped reporting adverts before the end");
                }
                ScanEnd::TimeUp | ScanEnd::Stopped => {}
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some(mut file) = recorder {
        file.flush()?;
    }
    let summary = batcher
        .finish()
        .map_err(|e| CliError::Invalid(format!("storing sightings failed: {e}")))?;
    print_summary(&mut std::io::stdout().lock(), &summary, args.json)?;
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
}
