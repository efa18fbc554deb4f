//! Recordings as a source: a JSON-lines file of adverts and payload reads ([`Recorded`]; blank
//! lines and lines starting with `#` are skipped). `bluezone scan --record` writes this form
//! and `--replay` reads it, so a capture made in the field goes through the phone driver and
//! the engine again.
//!
//! A replay is an executor of the driver like the btleplug scanner, on the recording's own
//! clock: before each line, every timer the driver asked for up to the line's time fires at
//! its time; scans start at once; a read the driver asks for finishes when (and as) a
//! `gatt_read` line for that device says, and otherwise times out by the driver's own
//! deadline. The session ends at the last line's time. The same recording therefore gives the
//! same windows, reads and stored sightings every time.

use std::ops::ControlFlow;

use bluezone_core::PhoneEngine;
use bluezone_core::driver::{BluetoothState, Command, Event};

use crate::frame::Recorded;
use crate::session::{Session, Shown};

/// A recording that cannot be read: the line and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ReplayError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses a recording, refusing the first bad line.
///
/// # Errors
/// [`ReplayError`] naming the line.
pub fn parse_recording(text: &str) -> Result<Vec<Recorded>, ReplayError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            Recorded::from_json_line(l).map_err(|message| ReplayError {
                line: i + 1,
                message,
            })
        })
        .collect()
}

/// The time a replay of `lines` starts at (Unix ms): the first line's.
#[must_use]
pub fn start_time_ms(lines: &[Recorded]) -> i64 {
    lines.first().map_or(0, Recorded::time_ms)
}

/// Carries out commands as a replay does: a scan starts at once; reads wait for their line.
fn execute<E: PhoneEngine>(session: &mut Session<E>, mut commands: Vec<Command>) {
    while !commands.is_empty() {
        let mut next = Vec::new();
        for command in commands {
            if let Command::StartScan { .. } = command {
                let now = session.now_ms();
                next.extend(session.handle(now, Event::ScanStarted));
            }
        }
        commands = next;
    }
}

/// Replays `lines` through `session` (opened at [`start_time_ms`]), handing everything to
/// show to `on_shown`, then terminates the session at the last line's time. Stops early
/// (still terminating) when `on_shown` breaks; returns whether it ran to the end.
pub fn replay<E: PhoneEngine>(
    session: &mut Session<E>,
    lines: &[Recorded],
    on_shown: &mut dyn FnMut(Shown) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let start = start_time_ms(lines);
    let commands = session.start(start, BluetoothState::On);
    execute(session, commands);
    let mut flow = session.deliver(on_shown);
    let mut now = start;
    for line in lines {
        if flow.is_break() {
            break;
        }
        now = line.time_ms();
        let commands = session.timers_until(now);
        execute(session, commands);
        let commands = match line {
            Recorded::Advert(frame) => session.advert(frame),
            Recorded::Read(read) => session.read_finished(read),
        };
        execute(session, commands);
        flow = session.deliver(on_shown);
    }
    let commands = session.terminate(now);
    execute(session, commands);
    let end = session.deliver(on_shown);
    if flow.is_break() { flow } else { end }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_named() {
        let good = r#"{"time":1,"address":"a","rssi":-60,"service_data":{"FD6F":"00"}}"#;
        let text = format!("# a comment\n{good}\n\n{{\"time\": \"noon\"}}\n");
        let e = parse_recording(&text).unwrap_err();
        assert_eq!(e.line, 4);
        assert_eq!(
            parse_recording(&format!("{good}\n{good}")).unwrap().len(),
            2
        );
        let extra = good.replace("\"time\"", "\"tiem\"");
        assert_eq!(parse_recording(&extra).unwrap_err().line, 1);
        let read = r#"{"time":2,"address":"a","gatt_read":{"value":"00"}}"#;
        let lines = parse_recording(&format!("{good}\n{read}")).unwrap();
        assert!(matches!(lines[1], Recorded::Read(_)));
        assert_eq!(start_time_ms(&lines), 1_000);
        let bad_read = r#"{"time":2,"address":"a","gatt_read":{"value":"00"},"rssi":-1}"#;
        let e = parse_recording(&format!("{good}\n{bad_read}")).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.starts_with("gatt_read line:"), "{e}");
    }
}
