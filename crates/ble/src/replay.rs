//! Recorded adverts as a source: a JSON-lines file, one [`AdvertFrame`] per line (blank lines
//! and lines starting with `#` are skipped). `bluezone scan --record` writes this form and
//! `--replay` reads it, so a capture made in the field can be fed through the core again.

use crate::frame::AdvertFrame;

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
pub fn parse_recording(text: &str) -> Result<Vec<AdvertFrame>, ReplayError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| ReplayError {
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
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
    }
}
