//! Where a command's output goes: text for people, or exactly one JSON
//! object on stdout with `--json` (an error object when the command failed
//! before printing its own).

use std::cell::Cell;

use serde_json::{Value as Json, json};

use super::error::CliError;

/// A command's output mode, and whether it printed its JSON object yet.
#[derive(Debug, Default)]
pub(crate) struct Output {
    /// Whether `--json` was given.
    pub(crate) json: bool,
    printed: Cell<bool>,
}

impl Output {
    /// Text output, or JSON output with `json`.
    pub(crate) fn new(json: bool) -> Self {
        Self {
            json,
            printed: Cell::new(false),
        }
    }

    /// Prints the command's JSON object (once: later calls print nothing).
    pub(crate) fn json_object(&self, value: Json) {
        if !self.printed.replace(true) {
            println!("{value}");
        }
    }

    /// Reports a failed command: `error: …` on stderr, and with `--json` an
    /// `{"error": …, "exit_code": …}` object on stdout unless the command
    /// printed its own.
    pub(crate) fn fail(&self, error: &CliError) {
        eprintln!("error: {error}");
        if self.json {
            self.json_object(json!({
                "error": error.to_string(),
                "exit_code": error.exit_code(),
            }));
        }
    }
}
