//! A user's own crate, outside the workspace, as a user meets it: written to
//! a temporary directory (`user_crate/` is the template), built with cargo,
//! and run as a new process at every step over one persistent store. Each
//! step edits what a user edits and checks the job's status and the value.
//!
//! Builds share one target directory under this package's target tmpdir, so
//! only the first run compiles the dependencies.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The user's crate in a temporary directory, its target directory and store.
struct UserCrate {
    dir: tempfile::TempDir,
}

impl UserCrate {
    /// Writes the template, with `pipeline-core` by absolute path and this
    /// workspace's Cargo.lock (so the same dependency versions resolve offline).
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("user_crate");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let manifest = std::fs::read_to_string(template.join("Cargo.toml.template"))
            .unwrap()
            .replace(
                "{pipeline_core}",
                &workspace.join("pipeline-core").display().to_string(),
            );
        std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
        std::fs::copy(workspace.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        for file in ["lib.rs", "helpers.rs", "main.rs"] {
            std::fs::copy(
                template.join("src").join(file),
                dir.path().join("src").join(file),
            )
            .unwrap();
        }
        Self { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Replaces `from` (which must be there) by `to` in `file`.
    fn edit(&self, file: &str, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.path(file)).unwrap();
        assert!(text.contains(from), "{file} has no `{from}`:\n{text}");
        std::fs::write(self.path(file), text.replacen(from, to, 1)).unwrap();
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.path(file), text).unwrap();
    }

    /// `cargo build`.
    fn build(&self) {
        self.cargo(&["build", "--quiet"]);
    }

    /// Runs cargo in the crate, offline when every dependency is already
    /// downloaded (else online: crates.io is reachable).
    fn cargo(&self, args: &[&str]) {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("user-crate-target");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let attempt = |offline: bool| {
            let mut command = Command::new(&cargo);
            command
                .args(args)
                .current_dir(self.dir.path())
                .env("CARGO_TARGET_DIR", &target)
                .env_remove("CARGO_BUILD_TARGET_DIR");
            if offline {
                command.arg("--offline");
            }
            command.output().expect("cargo runs")
        };
        let mut output = attempt(true);
        if !output.status.success() {
            output = attempt(false);
        }
        assert!(
            output.status.success(),
            "cargo {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Runs the built binary as a new process: the job's status and the value.
    fn run(&self) -> (String, String) {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("user-crate-target");
        let binary = format!("debug/user-pipeline{}", std::env::consts::EXE_SUFFIX);
        let output = Command::new(target.join(binary))
            .arg(self.path("store"))
            .output()
            .expect("the user's binary runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "the user's binary failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = |key: &str| -> String {
            stdout
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .unwrap_or_else(|| panic!("no `{key}` line in:\n{stdout}"))
                .trim()
                .to_owned()
        };
        (line("scaled "), line("value "))
    }

    fn build_and_run(&self) -> (String, String) {
        self.build();
        self.run()
    }
}

fn ran(value: &str) -> (String, String) {
    ("completed".to_owned(), value.to_owned())
}

fn skipped(value: &str) -> (String, String) {
    ("skipped".to_owned(), value.to_owned())
}

#[test]
fn a_task_reruns_when_code_it_can_run_changes_and_only_then() {
    let user = UserCrate::new();

    assert_eq!(user.build_and_run(), ran("20"), "first run computes");
    assert_eq!(user.run(), skipped("20"), "a new process skips");

    // A helper in another module: the task's own tokens are unchanged.
    user.edit("src/helpers.rs", "x * 2.0", "x * 3.0");
    assert_eq!(
        user.build_and_run(),
        ran("30"),
        "an edited helper re-runs the task"
    );
    assert_eq!(user.run(), skipped("30"));

    // Formatting, comments and doc comments only.
    user.write(
        "src/helpers.rs",
        "//! Helpers.\n\n/// The factor every price is scaled by: three.\npub fn scale(\n    x: f64, // the price\n) -> f64 {\n    /* three times */\n    x  *  3.0\n}\n",
    );
    user.edit(
        "src/lib.rs",
        "mod helpers;",
        "// The helpers.\nmod  helpers ;",
    );
    assert_eq!(
        user.build_and_run(),
        skipped("30"),
        "formatting re-runs nothing"
    );

    // The binary's own file is another crate than the library that holds the
    // task. (The comment in lib.rs makes rustc expand the library again, so
    // its sources are read again, main.rs among them if it were counted.)
    user.edit(
        "src/main.rs",
        "let submission = prices.submit()?;",
        "let submission = prices.submit()?;\n    let _edited = 1;",
    );
    user.edit("src/lib.rs", "// The helpers.", "// The helpers, again.");
    assert_eq!(
        user.build_and_run(),
        skipped("30"),
        "main.rs is not the task's crate"
    );

    // `version` pins the task's own code: the user answers for the helpers.
    user.edit(
        "src/lib.rs",
        "#[task(skippable)]",
        "#[task(skippable, version = \"1\")]",
    );
    assert_eq!(user.build_and_run(), ran("30"), "a new pin is new code");
    user.edit("src/helpers.rs", "x  *  3.0", "x * 4.0");
    assert_eq!(
        user.build_and_run(),
        skipped("30"),
        "with a version pin an edited helper is the user's to declare"
    );
    user.edit("src/lib.rs", "version = \"1\"", "version = \"2\"");
    assert_eq!(user.build_and_run(), ran("40"), "bumping the pin re-runs");
}

#[test]
fn a_task_reruns_when_a_dependency_version_changes_in_cargo_lock() {
    let user = UserCrate::new();
    let locked = |version: &str| {
        // `cargo update -p` needs the package in Cargo.lock already.
        user.cargo(&["metadata", "--quiet", "--format-version", "1"]);
        user.cargo(&[
            "update",
            "--quiet",
            "-p",
            "pin-project-lite",
            "--precise",
            version,
        ]);
        let lock = std::fs::read_to_string(user.path("Cargo.lock")).unwrap();
        let entry = format!("name = \"pin-project-lite\"\nversion = \"{version}\"");
        assert!(lock.contains(&entry), "Cargo.lock has no {entry}");
    };
    assert_eq!(user.build_and_run(), ran("20"));

    user.edit(
        "Cargo.toml",
        "[dependencies]\n",
        "[dependencies]\npin-project-lite = \"0.2\"\n",
    );
    locked("0.2.18");
    assert_eq!(user.build_and_run(), ran("20"), "a new dependency re-runs");
    assert_eq!(user.run(), skipped("20"));

    // Only Cargo.lock changes: the manifest still says "0.2".
    locked("0.2.19");
    assert_eq!(
        user.build_and_run(),
        ran("20"),
        "an upgraded dependency re-runs"
    );
    assert_eq!(user.run(), skipped("20"));
}
