//! The parts every task of a crate shares: its sources, its resolved
//! dependencies, its compiler; computed from the files on disk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml::Table;

use super::digest::{self, Digest, Part, Source};
use super::invocation::Invocation;
use super::lockfile::Lockfile;
use super::modules::{Tree, Walker, canonical};
use super::package::{self, Package};

/// The crate-level parts of one crate.
#[derive(Debug)]
pub(crate) struct CrateCode {
    /// Every file of the crate's module tree (and of its package's library
    /// and build script), the files they include, the compile-time
    /// environment variables they read.
    pub(crate) crate_sources: Part,
    /// The Cargo.lock closure, the manifests, the sources of path dependencies.
    pub(crate) dependencies: Part,
    /// `rustc -vV` and the crate's compiler flags.
    pub(crate) compiler: [u8; 32],
    /// The crate's files (canonical): a task's own file must be one of them.
    files: BTreeSet<PathBuf>,
    /// The crate root, for messages.
    root: Option<PathBuf>,
}

impl CrateCode {
    /// Parts for a crate whose sources cannot be read: both unreadable.
    pub(crate) fn unreadable(invocation: &Invocation, reason: &str) -> Self {
        Self {
            crate_sources: Part::unreadable(reason),
            dependencies: Part::unreadable(reason),
            compiler: compiler_digest(invocation),
            files: BTreeSet::new(),
            root: invocation.crate_root.clone(),
        }
    }

    /// Whether `file` (canonical) is one of the crate's files.
    pub(crate) fn contains(&self, file: &Path) -> bool {
        self.files.contains(file)
    }

    /// The crate root as messages name it.
    pub(crate) fn root_label(&self) -> String {
        self.root.as_ref().map_or_else(
            || "an unknown crate root".to_owned(),
            |root| root.display().to_string(),
        )
    }
}

/// The rustc version the macro crate was built with (its build script asks).
const RUSTC_VERSION: &str = env!("PIPELINE_MACROS_RUSTC_VERSION");

/// Computes the parts; `env` answers compile-time environment variables.
pub(crate) fn compute(invocation: &Invocation, env: &dyn Fn(&str) -> Option<String>) -> CrateCode {
    let compiler = compiler_digest(invocation);
    let unreadable = |reason: &str| CrateCode::unreadable(invocation, reason);
    let Some(manifest_dir) = &invocation.manifest_dir else {
        return unreadable("no CARGO_MANIFEST_DIR (not built by cargo)");
    };
    let Some(root) = &invocation.crate_root else {
        return unreadable(
            "the crate root is not among the compiler's arguments (not rustc: rust-analyzer?)",
        );
    };
    let manifest_dir = canonical(manifest_dir);
    // The tokens of the files are not the compiler's: lexing them with
    // proc-macro2's own lexer is faster and leaves rustc's source map alone.
    // No token made here leaves this function.
    let _fallback = FallbackLexer::enter();
    let workspace = find_lockfile(&manifest_dir).map(|(dir, lock)| {
        let manifest = package::read_toml(&dir.join("Cargo.toml")).ok();
        (dir, lock, manifest)
    });
    let package = match Package::read(&manifest_dir) {
        Ok(package) => package,
        Err(reason) => return unreadable(&reason),
    };
    let (crate_sources, files) = crate_sources(root, &package, env);
    let dependencies = match &workspace {
        None => Part::unreadable(&format!(
            "no Cargo.lock in {} or above",
            manifest_dir.display()
        )),
        Some((dir, lock, manifest)) => {
            let identity = invocation.package.clone().unwrap_or_else(|| {
                (
                    package.name.clone(),
                    package.version.clone().unwrap_or_default(),
                )
            });
            dependencies(&package, &identity, dir, lock, manifest.as_ref(), env)
        }
    };
    CrateCode {
        crate_sources,
        dependencies,
        compiler,
        files,
        root: Some(root.clone()),
    }
}

/// `rustc -vV` and the flags of the crate's compilation.
fn compiler_digest(invocation: &Invocation) -> [u8; 32] {
    let mut compiler = Digest::new("compiler");
    compiler.str(RUSTC_VERSION);
    for flag in &invocation.flags {
        compiler.str(flag);
    }
    compiler.finish()
}

/// proc-macro2 lexes with its own lexer while this lives.
struct FallbackLexer;

impl FallbackLexer {
    fn enter() -> Self {
        proc_macro2::fallback::force();
        Self
    }
}

impl Drop for FallbackLexer {
    fn drop(&mut self) {
        proc_macro2::fallback::unforce();
    }
}

/// The directory holding the workspace's Cargo.lock (the nearest one at or
/// above the package) and its text.
fn find_lockfile(package_dir: &Path) -> Option<(PathBuf, String)> {
    package_dir.ancestors().find_map(|dir| {
        Some((
            dir.to_path_buf(),
            std::fs::read_to_string(dir.join("Cargo.lock")).ok()?,
        ))
    })
}

/// The crate's own sources: the module tree of `root`, and of the package's
/// library and build script, less the files of its other targets.
fn crate_sources(
    root: &Path,
    package: &Package,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Part, BTreeSet<PathBuf>) {
    let tree = package_tree(package, Some(root), true, env);
    let files = tree.files.keys().cloned().collect();
    (tree_part("crate-sources", &tree, &package.dir, env), files)
}

/// The files of a package: the module trees of `root` (if given), of the
/// library and of the build script, then the sweep for undeclared files,
/// the files of the package's other targets excluded.
fn package_tree(
    package: &Package,
    root: Option<&Path>,
    normalize: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Tree {
    let mut walker = Walker::new(env, normalize);
    let mut roots: Vec<PathBuf> = root.map(canonical).into_iter().collect();
    if let Some(root) = root {
        walker.root(root);
    }
    if let Some(lib) = package.lib_root()
        && !roots.contains(&canonical(&lib))
    {
        walker.root(&lib);
        roots.push(canonical(&lib));
    }
    if let Some(build) = package.build_script()
        && !roots.contains(&canonical(&build))
    {
        walker.build_script(&build, &package.dir);
        roots.push(canonical(&build));
    }
    let own: BTreeSet<PathBuf> = walker.files().cloned().collect();
    // The sweep takes the `.rs` files of the directories where the crate's
    // modules keep their children: another target's root there (`src/main.rs`
    // next to `src/lib.rs`) would be taken, with its tree. Other targets'
    // files reached only by `#[path]` from elsewhere are swept in:
    // over-including is safe.
    let module_dirs = walker.module_dirs();
    let mut others = Walker::new(env, false);
    for other in package.target_roots() {
        let other = canonical(&other);
        if !roots.contains(&other)
            && other
                .parent()
                .is_some_and(|dir| module_dirs.iter().any(|d| d == dir))
        {
            others.root(&other);
        }
    }
    let exclude: BTreeSet<PathBuf> = others
        .finish()
        .files
        .into_keys()
        .filter(|f| !own.contains(f))
        .collect();
    walker.sweep(&exclude);
    walker.finish()
}

/// A part listing a tree's files (by path relative to `dir`) and the values
/// of the environment variables it reads; unreadable if the tree is.
fn tree_part(domain: &str, tree: &Tree, dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Part {
    if let Some(first) = tree.unresolved.first() {
        let more = match tree.unresolved.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Part::unreadable(&format!("{first}{more}"));
    }
    let mut sources: Vec<Source> = tree
        .files
        .keys()
        .map(|path| Source {
            label: label(path, dir),
            digest: tree.digest(path),
        })
        .collect();
    for name in &tree.env_reads {
        let value = env(name);
        sources.push(Source {
            label: format!("${name}"),
            digest: digest::of_bytes(
                value
                    .as_deref()
                    .map_or(b"\0unset".as_slice(), str::as_bytes),
            ),
        });
    }
    Part::of_sources(domain, sources)
}

/// `path` relative to `dir` when inside it, else as it is.
fn label(path: &Path, dir: &Path) -> String {
    match path.strip_prefix(dir) {
        Ok(relative) => relative.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// The dependencies part: the package's and the workspace's manifests, and
/// per package of the Cargo.lock closure its version, source and checksum
/// (a registry or git package) or its sources (a path package).
fn dependencies(
    package: &Package,
    (name, version): &(String, String),
    workspace_dir: &Path,
    lock: &str,
    workspace: Option<&Table>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Part {
    let lock = match Lockfile::parse(lock) {
        Ok(lock) => lock,
        Err(reason) => return Part::unreadable(&reason),
    };
    let closure = match lock.closure(name, Some(version)) {
        Ok(closure) => closure,
        Err(reason) => {
            return Part::unreadable(&format!(
                "{reason} ({})",
                workspace_dir.join("Cargo.lock").display()
            ));
        }
    };
    let mut sources = vec![Source {
        label: "Cargo.toml".to_owned(),
        digest: package::manifest_digest(&package.manifest),
    }];
    if let Some(workspace) = workspace
        && canonical(workspace_dir) != package.dir
    {
        let up = package
            .dir
            .strip_prefix(canonical(workspace_dir))
            .map_or(0, |below| below.components().count());
        sources.push(Source {
            label: format!("{}Cargo.toml", "../".repeat(up)),
            digest: package::manifest_digest(workspace),
        });
    }
    let path_packages = package::path_packages(package);
    let mut by_name: BTreeMap<&str, Digest> = BTreeMap::new();
    for locked in closure.iter().skip(1) {
        let digest = by_name
            .entry(&locked.name)
            .or_insert_with(|| Digest::new("dependency"));
        digest.str(&locked.version);
        match &locked.source {
            Some(source) => {
                digest
                    .str(source)
                    .str(locked.checksum.as_deref().unwrap_or("-"));
            }
            None => {
                let found = path_packages.get(&locked.name).and_then(|candidates| {
                    candidates
                        .iter()
                        .find(|p| p.version.as_deref().is_none_or(|v| v == locked.version))
                });
                let Some(dependency) = found else {
                    return Part::unreadable(&format!(
                        "the path dependency `{} {}` is not reachable through the manifests' `path` entries",
                        locked.name, locked.version
                    ));
                };
                let part = path_package_part(dependency, env);
                if part.is_unreadable() {
                    let reason = part.sources[0].label.trim_start_matches("unreadable: ");
                    return Part::unreadable(&format!(
                        "path dependency `{}`: {reason}",
                        locked.name
                    ));
                }
                digest
                    .str("path")
                    .str(&dependency.dir.display().to_string())
                    .bytes(&package::manifest_digest(&dependency.manifest))
                    .bytes(&part.digest);
            }
        }
    }
    sources.extend(by_name.into_iter().map(|(name, digest)| Source {
        label: name.to_owned(),
        digest: digest.finish(),
    }));
    Part::of_sources("dependencies", sources)
}

/// The sources of a path dependency: its library's module tree and its
/// build script's, as for the crate itself, but every token counts (doc
/// comments and optional commas too: lexing without parsing costs a third). Its compile-time environment is
/// ours except `CARGO_MANIFEST_DIR` (its directory), the other `CARGO_`
/// variables (from its manifest, which counts) and `OUT_DIR` (its build
/// directory, which we cannot know: an include from it makes the part
/// unreadable).
fn path_package_part(dependency: &Package, env: &dyn Fn(&str) -> Option<String>) -> Part {
    let dir = dependency.dir.display().to_string();
    let dependency_env = |name: &str| match name {
        "CARGO_MANIFEST_DIR" => Some(dir.clone()),
        "OUT_DIR" => None,
        other if other.starts_with("CARGO_") => None,
        other => env(other),
    };
    let tree = package_tree(dependency, None, false, &dependency_env);
    tree_part("path-dependency", &tree, &dependency.dir, &dependency_env)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["helpers", "itoa"]

[[package]]
name = "helpers"
version = "0.1.0"

[[package]]
name = "itoa"
version = "1.0.10"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"
"#;

    /// A package `app` (library and binary) with a path dependency
    /// `helpers` and a registry dependency `itoa`, in a temporary directory.
    struct Fixture(tempfile::TempDir);

    impl Fixture {
        fn new() -> Self {
            let fixture = Self(tempfile::tempdir().unwrap());
            fixture.write("app/Cargo.toml", "[package]\nname = \"app\"\nversion = \"0.1.0\"\n[dependencies]\nhelpers = { path = \"../helpers\" }\nitoa = \"1\"\n");
            fixture.write("app/Cargo.lock", LOCK);
            fixture.write("app/src/lib.rs", "mod task;\npub use task::scaled;");
            fixture.write(
                "app/src/task.rs",
                "pub fn scaled(x: f64) -> f64 { helpers::scale(x) }",
            );
            fixture.write(
                "app/src/main.rs",
                "fn main() { println!(\"{}\", app::scaled(1.0)); }",
            );
            fixture.write("app/src/bin/other.rs", "fn main() {}");
            fixture.write(
                "helpers/Cargo.toml",
                "[package]\nname = \"helpers\"\nversion = \"0.1.0\"\n",
            );
            fixture.write(
                "helpers/src/lib.rs",
                "/// Scales.\npub fn scale(x: f64) -> f64 { x * 2.0 }",
            );
            fixture
        }

        fn write(&self, path: &str, text: &str) {
            let path = self.0.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        fn edit(&self, path: &str, from: &str, to: &str) {
            let text = std::fs::read_to_string(self.0.path().join(path)).unwrap();
            assert!(text.contains(from), "{path} has no {from}");
            self.write(path, &text.replace(from, to));
        }

        fn code(&self, root: &str) -> CrateCode {
            let dir = self.0.path().join("app");
            let invocation = Invocation {
                crate_root: Some(dir.join(root)),
                manifest_dir: Some(dir),
                package: Some(("app".to_owned(), "0.1.0".to_owned())),
                flags: vec!["--edition 2024".to_owned()],
            };
            compute(&invocation, &|_| None)
        }
    }

    fn labels(part: &Part) -> Vec<&str> {
        part.sources
            .iter()
            .map(|source| source.label.as_str())
            .collect()
    }

    #[test]
    fn a_library_is_its_module_tree_and_a_binary_adds_the_library() {
        let fixture = Fixture::new();
        let lib = fixture.code("src/lib.rs");
        let main = fixture.code("src/main.rs");
        assert_eq!(labels(&lib.crate_sources), ["src/lib.rs", "src/task.rs"]);
        assert_eq!(
            labels(&main.crate_sources),
            ["src/lib.rs", "src/main.rs", "src/task.rs"]
        );
        assert_eq!(labels(&lib.dependencies), ["Cargo.toml", "helpers", "itoa"]);
    }

    #[test]
    fn editing_the_binary_leaves_the_library_sources_unchanged() {
        let fixture = Fixture::new();
        let before = fixture.code("src/lib.rs");
        fixture.edit("app/src/main.rs", "1.0", "2.0");
        fixture.edit("app/src/bin/other.rs", "{}", "{ std::process::exit(1) }");
        let after = fixture.code("src/lib.rs");
        assert_eq!(before.crate_sources, after.crate_sources);
        assert_ne!(
            before.crate_sources,
            fixture.code("src/main.rs").crate_sources
        );
    }

    #[test]
    fn a_locked_version_bump_changes_the_dependencies_and_an_unrelated_package_does_not() {
        let fixture = Fixture::new();
        let before = fixture.code("src/lib.rs").dependencies;
        fixture.write(
            "app/Cargo.lock",
            &format!("{LOCK}\n[[package]]\nname = \"unrelated\"\nversion = \"2.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"cccc\"\n"),
        );
        assert_eq!(fixture.code("src/lib.rs").dependencies, before);
        fixture.write("app/Cargo.lock", &LOCK.replace("1.0.10", "1.0.11"));
        let bumped = fixture.code("src/lib.rs").dependencies;
        assert_ne!(bumped.digest, before.digest);
        let changed: Vec<&str> = bumped
            .sources
            .iter()
            .zip(&before.sources)
            .filter(|(a, b)| a != b)
            .map(|(a, _)| a.label.as_str())
            .collect();
        assert_eq!(changed, ["itoa"]);
    }

    #[test]
    fn a_path_dependency_counts_by_its_sources_and_the_manifests_by_their_content() {
        let fixture = Fixture::new();
        let before = fixture.code("src/lib.rs").dependencies;
        fixture.edit("helpers/src/lib.rs", "x * 2.0 }", "x * 2.0 } // twice");
        assert_eq!(fixture.code("src/lib.rs").dependencies, before, "a comment");
        fixture.edit("helpers/src/lib.rs", "x * 2.0", "x * 3.0");
        let edited = fixture.code("src/lib.rs").dependencies;
        assert_ne!(edited.digest, before.digest);
        fixture.edit(
            "app/Cargo.toml",
            "itoa = \"1\"\n",
            "itoa = \"1\"\n[profile.release]\nopt-level = 1\n",
        );
        assert_ne!(
            fixture.code("src/lib.rs").dependencies.digest,
            edited.digest
        );
    }

    #[test]
    fn what_cannot_be_read_is_unreadable_and_never_the_same_twice() {
        let fixture = Fixture::new();
        let without_cargo = Invocation {
            crate_root: Some(fixture.0.path().join("app/src/lib.rs")),
            manifest_dir: None,
            package: None,
            flags: Vec::new(),
        };
        let first = compute(&without_cargo, &|_| None);
        let second = compute(&without_cargo, &|_| None);
        assert!(first.crate_sources.is_unreadable() && first.dependencies.is_unreadable());
        assert_ne!(first.crate_sources.digest, second.crate_sources.digest);
        assert_ne!(first.dependencies.digest, second.dependencies.digest);

        // A path dependency including from its build directory, which only
        // its own compilation knows.
        fixture.edit(
            "helpers/src/lib.rs",
            "/// Scales.",
            "include!(concat!(env!(\"OUT_DIR\"), \"/gen.rs\"));",
        );
        let code = fixture.code("src/lib.rs");
        assert!(!code.crate_sources.is_unreadable());
        assert!(code.dependencies.is_unreadable());
        assert!(
            code.dependencies.sources[0]
                .label
                .contains("path dependency `helpers`"),
            "{:?}",
            code.dependencies.sources
        );

        fixture.write(
            "app/Cargo.lock",
            &LOCK.replace("name = \"helpers\"", "name = \"renamed\""),
        );
        assert!(fixture.code("src/lib.rs").dependencies.is_unreadable());
    }
}
