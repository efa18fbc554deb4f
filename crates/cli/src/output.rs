//! Errors a subcommand can end with, and how they reach the user.

use std::fmt;
use std::io;

/// Why a subcommand failed at run time.
#[derive(Debug)]
pub enum CliError {
    /// Writing the output failed.
    Io(io::Error),
    /// The request cannot be carried out; the message says why.
    Invalid(String),
}

impl CliError {
    /// True when the reader of our output went away (`bluezone keys rpi ... | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Io(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "cannot write output: {e}"),
            Self::Invalid(why) => f.write_str(why),
        }
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}
