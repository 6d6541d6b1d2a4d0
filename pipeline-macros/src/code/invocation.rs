//! The rustc invocation the macro runs in: the crate root it compiles, the
//! package cargo builds it for, and the flags that can change what the code
//! does. Under cargo a proc macro runs inside rustc, so `std::env::args()`
//! are rustc's arguments and cargo's variables are in the environment.

use std::path::PathBuf;

/// What the macro knows about the compilation it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invocation {
    /// The crate root file rustc compiles (`src/lib.rs`), as given.
    pub(crate) crate_root: Option<PathBuf>,
    /// `CARGO_MANIFEST_DIR`.
    pub(crate) manifest_dir: Option<PathBuf>,
    /// `CARGO_PKG_NAME` and `CARGO_PKG_VERSION`.
    pub(crate) package: Option<(String, String)>,
    /// rustc's arguments, less those that cannot change the compiled code
    /// (output paths, diagnostics, lints, incremental caches).
    pub(crate) flags: Vec<String>,
}

impl Invocation {
    /// The invocation of the running process.
    pub(crate) fn current() -> Self {
        let args = expand_argument_files(std::env::args().collect());
        let var = |name: &str| std::env::var(name).ok();
        Self {
            crate_root: crate_root(&args).map(|root| {
                // rustc reads a relative root from its working directory.
                std::env::current_dir().map_or_else(|_| root.clone(), |cwd| cwd.join(&root))
            }),
            manifest_dir: var("CARGO_MANIFEST_DIR").map(PathBuf::from),
            package: var("CARGO_PKG_NAME").zip(var("CARGO_PKG_VERSION")),
            flags: code_flags(args.get(1..).unwrap_or_default()),
        }
    }
}

/// rustc's arguments with each `@path` argument replaced by the lines of
/// that file (cargo passes long command lines that way); an unreadable file
/// stays as it is (no crate root is then found: the parts are unreadable).
fn expand_argument_files(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        match arg
            .strip_prefix('@')
            .and_then(|path| std::fs::read_to_string(path).ok())
        {
            Some(text) => out.extend(text.lines().map(str::to_owned)),
            None => out.push(arg),
        }
    }
    out
}

/// rustc options that take their value as the next argument.
const TAKES_VALUE: &[&str] = &[
    "-o",
    "--out-dir",
    "-L",
    "-l",
    "--extern",
    "--cfg",
    "--check-cfg",
    "--crate-name",
    "--edition",
    "--emit",
    "--crate-type",
    "-C",
    "--codegen",
    "-Z",
    "--cap-lints",
    "--target",
    "--error-format",
    "--json",
    "--print",
    "--explain",
    "-W",
    "-A",
    "-D",
    "-F",
    "--warn",
    "--allow",
    "--deny",
    "--forbid",
    "--force-warn",
    "--remap-path-prefix",
    "--sysroot",
    "--color",
    "--diagnostic-width",
    "--env-set",
    "--crate-attr",
];

/// The crate root among rustc's arguments: the one free argument that names
/// a `.rs` file.
pub(crate) fn crate_root(args: &[String]) -> Option<PathBuf> {
    let mut roots = Vec::new();
    let mut skip_next = false;
    for arg in args.iter().skip(1) {
        if skip_next {
            skip_next = false;
            continue;
        }
        if TAKES_VALUE.contains(&arg.as_str()) {
            skip_next = true;
            continue;
        }
        if !arg.starts_with('-') && arg.ends_with(".rs") {
            roots.push(PathBuf::from(arg));
        }
    }
    // Not rustc (rust-analyzer's proc-macro server), or not one root: unknown.
    (roots.len() == 1).then(|| roots.remove(0))
}

/// `-C` settings that cannot change what the compiled code computes.
const NEUTRAL_CODEGEN: &[&str] = &[
    "metadata",
    "extra-filename",
    "incremental",
    "debuginfo",
    "split-debuginfo",
    "strip",
    "embed-bitcode",
];

/// Options (with their values) that cannot change what the compiled code
/// computes: where outputs go, how diagnostics look, which lints fire.
const NEUTRAL_OPTIONS: &[&str] = &[
    "-o",
    "--out-dir",
    "--emit",
    "--error-format",
    "--json",
    "--color",
    "--diagnostic-width",
    "--cap-lints",
    "--check-cfg",
    "-W",
    "-A",
    "-D",
    "-F",
    "--warn",
    "--allow",
    "--deny",
    "--forbid",
    "--force-warn",
    "--print",
    "--explain",
];

/// rustc's arguments less the neutral ones, `--extern name=path` reduced to
/// its name (the path names a build directory; the dependency itself is
/// covered by Cargo.lock) and `-L dependency=…` dropped (likewise).
pub(crate) fn code_flags(args: &[String]) -> Vec<String> {
    let mut flags = Vec::new();
    let mut args = args.iter().peekable();
    while let Some(arg) = args.next() {
        let (option, inline_value) = match arg.split_once('=') {
            Some((option, value)) if option.starts_with("--") => (option, Some(value.to_owned())),
            _ => match arg.as_str() {
                short
                    if short.len() > 2
                        && ["-C", "-Z", "-L", "-l", "-W", "-A", "-D", "-F"]
                            .contains(&&short[..2]) =>
                {
                    (&short[..2], Some(short[2..].to_owned()))
                }
                other => (other, None),
            },
        };
        if !option.starts_with('-') {
            flags.push(arg.clone());
            continue;
        }
        let value = match inline_value {
            Some(value) => Some(value),
            None if TAKES_VALUE.contains(&option) => args.next().cloned(),
            None => None,
        };
        let neutral = NEUTRAL_OPTIONS.contains(&option)
            || (matches!(option, "-C" | "--codegen")
                && value.as_deref().is_some_and(|v| {
                    NEUTRAL_CODEGEN.contains(&v.split('=').next().unwrap_or_default())
                }))
            || (option == "-L"
                && value
                    .as_deref()
                    .is_some_and(|v| v.starts_with("dependency=")));
        if neutral {
            continue;
        }
        let value = if option == "--extern" {
            value.map(|v| v.split('=').next().unwrap_or_default().to_owned())
        } else {
            value
        };
        flags.push(match value {
            Some(value) => format!("{option} {value}"),
            None => option.to_owned(),
        });
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_crate_root_is_the_free_rs_argument() {
        let rustc = args(
            "rustc --crate-name app --edition=2024 src/lib.rs --error-format=json --crate-type lib -C opt-level=0 --out-dir /t/deps -L dependency=/t/deps --extern serde=/t/deps/libserde-1.rlib",
        );
        assert_eq!(crate_root(&rustc), Some(PathBuf::from("src/lib.rs")));
        assert_eq!(crate_root(&args("rust-analyzer-proc-macro-srv")), None);
        assert_eq!(
            crate_root(&args("rustc -o out.rs src/main.rs")),
            Some(PathBuf::from("src/main.rs"))
        );
    }

    #[test]
    fn argument_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("args");
        std::fs::write(&file, "--crate-name\napp\nsrc/lib.rs\n").unwrap();
        let expanded = expand_argument_files(args(&format!("rustc @{}", file.display())));
        assert_eq!(expanded, args("rustc --crate-name app src/lib.rs"));
        assert_eq!(crate_root(&expanded), Some(PathBuf::from("src/lib.rs")));
    }

    #[test]
    fn flags_keep_what_changes_code_and_drop_what_does_not() {
        let build = args(
            "--crate-name app --edition=2024 src/lib.rs --error-format=json --json=diagnostic-rendered-ansi --crate-type lib --emit=dep-info,metadata,link -C opt-level=0 -C embed-bitcode=no -C debuginfo=2 --cfg feature=\"fast\" -C metadata=0123 -C extra-filename=-0123 --out-dir /t/deps -C incremental=/t/inc -L dependency=/t/deps --extern serde=/t/deps/libserde-1.rlib -Ctarget-cpu=native -Wunused --cap-lints allow",
        );
        assert_eq!(
            code_flags(&build),
            [
                "--crate-name app",
                "--edition 2024",
                "src/lib.rs",
                "--crate-type lib",
                "-C opt-level=0",
                "--cfg feature=\"fast\"",
                "--extern serde",
                "-C target-cpu=native",
            ]
        );
        let check = args(
            "--crate-name app --edition=2024 src/lib.rs --error-format=json --crate-type lib --emit=dep-info,metadata -C opt-level=0 --cfg feature=\"fast\" -C metadata=4567 --out-dir /other/deps -L dependency=/other/deps --extern serde=/other/deps/libserde-2.rmeta -C target-cpu=native --diagnostic-width=80",
        );
        assert_eq!(code_flags(&check), code_flags(&build));
    }
}
