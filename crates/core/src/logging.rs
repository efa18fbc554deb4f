//! The logging port. The core logs through the [`log`] facade: a library embedded in an app
//! does not choose where logs go; the app (the FFI's host, the CLI, the simulator) installs
//! a logger, and without one every record is dropped at no cost. Targets are the modules'
//! paths (`bluezone_core::download_batch`, `bluezone_core::exposure::matching`, ...).
//!
//! What is logged is what an engineer debugging a phone needs: the store opened or reset
//! and why, maintenance counts, each key file's outcome (its name, key and match counts, the
//! kind of refusal), download batch counts, the upload's steps with HTTP statuses and the
//! server's stable codes, and saved state that could not be read. Never key material:
//! no TEK, RPI, AEM, token, verification code, certificate or HMAC secret, and no sighting.
//! Errors are logged through [`Safe`], which keeps only their kind.

use std::fmt;

use crate::downloads::KeyFileRefusal;
use crate::error::{CoreError, ServerCode};

/// Longest server code logged as given; longer or unusual ones are not the server's codes.
const MAX_CODE_LEN: usize = 40;

/// An error as it may be logged: its kind, an HTTP status and the server's stable code,
/// never a message that could quote what a server or a file sent.
pub(crate) struct Safe<'a>(pub(crate) &'a CoreError);

impl fmt::Display for Safe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            CoreError::Server { status, code, .. } => {
                let text = code.as_str();
                // A code this version does not know is logged only if it looks like one.
                let plain = !matches!(code, ServerCode::Unknown(_))
                    || (text.len() <= MAX_CODE_LEN
                        && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
                let code = if plain { text } else { "<unusual>" };
                write!(f, "server refused: HTTP {status}, code {code}")
            }
            CoreError::Network(_) => f.write_str("network failure"),
            CoreError::Protocol(_) => f.write_str("unexpected answer from the server"),
            CoreError::LocalState(_) => f.write_str("local state unreadable"),
            CoreError::KeyFile { index, error } => {
                write!(
                    f,
                    "key file {index} refused: {:?}",
                    KeyFileRefusal::from(error)
                )
            }
            other => write!(f, "{other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::TransportError;

    #[test]
    fn errors_are_logged_by_kind_without_what_was_sent() {
        let server = |code: &str| CoreError::Server {
            status: 400,
            code: ServerCode::received(code),
            message: "message quoting c2VjcmV0".to_owned(),
        };
        let shown = |e: &CoreError| Safe(e).to_string();
        assert_eq!(
            shown(&server("code_used")),
            "server refused: HTTP 400, code code_used"
        );
        assert_eq!(
            shown(&server("c2VjcmV0")),
            "server refused: HTTP 400, code <unusual>"
        );
        for (error, kind) in [
            (
                CoreError::Network(TransportError("http://host/?c2VjcmV0".into())),
                "network failure",
            ),
            (
                CoreError::Protocol("quoting c2VjcmV0".into()),
                "unexpected answer from the server",
            ),
            (
                CoreError::LocalState("quoting c2VjcmV0".into()),
                "local state unreadable",
            ),
            (CoreError::InvalidCode, "a verification code is 8 digits"),
        ] {
            assert_eq!(shown(&error), kind);
        }
        let refused = CoreError::KeyFile {
            index: 2,
            error: bluezone_protocol::keyfile::KeyFileError::UnknownSigner("c2VjcmV0".into()),
        };
        assert_eq!(shown(&refused), "key file 2 refused: UnknownSigner");
    }
}
