//! Links the demo's binaries as position-dependent executables: the loader
//! then has no relocations to apply at start (a PIE of this size has about
//! 140,000), which is most of the start-up time of a command that finds
//! everything up to date. Any pipeline binary can do the same (README,
//! "Speed").

fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
