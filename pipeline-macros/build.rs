//! Records the compiler that builds this crate, for the `Compiler` part of
//! every task's code fingerprint.
//!
//! Cargo builds a proc-macro crate and the crates that use it with one
//! `rustc`, and rebuilds (and re-runs this script) when that `rustc` changes,
//! so the version recorded here is the one that compiles the tasks.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let version = Command::new(&rustc)
        .arg("-vV")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| String::from_utf8(output.stdout).ok());
    let recorded = match version {
        // `rustc-env` values are one line.
        Some(version) => version.trim().replace('\n', "; "),
        // Unknown: a value that changes every time this script runs (every
        // time the compiler changes), never a stable guess.
        None => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_nanos());
            format!(
                "unknown rustc `{rustc}` (build {nanos}-{})",
                std::process::id()
            )
        }
    };
    println!("cargo:rustc-env=PIPELINE_MACROS_RUSTC_VERSION={recorded}");
}
