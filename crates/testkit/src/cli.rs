//! The `bluezone` binary run as a test runs it: output captured, failures shown with what the
//! program said.
//!
//! Integration tests of the CLI crate pass the binary Cargo built for them:
//! `Cli::new(env!("CARGO_BIN_EXE_bluezone"))`.

use std::path::PathBuf;
use std::process::{Command, Output};

/// A way to run the `bluezone` binary, with environment variables set for every run.
#[derive(Debug, Clone)]
pub struct Cli {
    program: PathBuf,
    env: Vec<(String, String)>,
}

impl Cli {
    /// Runs the binary at `program`.
    #[must_use]
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            env: Vec::new(),
        }
    }

    /// With `name=value` in the environment of every run.
    #[must_use]
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A command for `args`, ready to adjust (stdin, more environment) and run.
    #[must_use]
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs with `args` and returns what happened, successful or not.
    ///
    /// # Panics
    /// If the binary cannot be started.
    #[must_use]
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .expect("the bluezone binary runs")
    }

    /// Runs with `args`, expects success and returns standard output.
    ///
    /// # Panics
    /// If it fails (showing its exit status and standard error) or prints non-UTF-8.
    #[must_use]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "bluezone {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    /// Runs with `args`, expects failure and returns standard error.
    ///
    /// # Panics
    /// If it succeeds (showing its output) or prints non-UTF-8.
    #[must_use]
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "bluezone {} succeeded: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stderr).expect("UTF-8 output")
    }
}
