//! A crate's files: its module tree from the crate root (`mod x;` in nested
//! directories, `#[path]`, modules inside inline modules, modules that are
//! compiled out), the files it includes, and, as a safety net, every `.rs`
//! file next to its modules that no module declares (a macro may declare it).
//!
//! Over-including is always safe (a file that does not matter only costs a
//! re-run when it changes); missing a file is not, so wherever the rules of
//! rustc leave a doubt, every candidate is taken.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::digest::{self, Digest};
use super::scan::{self, ModDecl};
use super::tokens;

/// The digests of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileDigest {
    /// A module file: its normalized tokens and its bytes.
    Module { tokens: [u8; 32], bytes: [u8; 32] },
    /// An included file (code or data): its bytes.
    Included { bytes: [u8; 32] },
    /// A declared module or include whose file does not exist (compiled out,
    /// or the build fails): recorded so that creating it counts.
    Missing,
}

/// What walking a crate (or several roots of one package) found.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    /// Every file, by its canonical path.
    pub(crate) files: BTreeMap<PathBuf, FileDigest>,
    /// Environment variables read at compile time (`env!`, `option_env!`,
    /// `cargo:rerun-if-env-changed=` of a build script).
    pub(crate) env_reads: BTreeSet<String>,
    /// Some file asks for source positions (`line!()`): then whitespace
    /// counts, in every file of the tree.
    pub(crate) uses_positions: bool,
    /// What could not be followed (the tree is then unreadable).
    pub(crate) unresolved: Vec<String>,
}

impl Tree {
    /// The digest of one file, as the part counts it: its bytes if
    /// positions are used, else its tokens.
    pub(crate) fn digest(&self, path: &Path) -> [u8; 32] {
        match &self.files[path] {
            FileDigest::Module { tokens, bytes } => {
                if self.uses_positions {
                    *bytes
                } else {
                    *tokens
                }
            }
            FileDigest::Included { bytes } => *bytes,
            FileDigest::Missing => digest::of_bytes(b"\0missing"),
        }
    }
}

/// How a module file's own `mod x;` declarations are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A crate root or a `mod.rs`: children next to it.
    ModRs,
    /// `a.rs`: children in `a/`.
    NonModRs,
    /// Loaded by `#[path]` (or found by the sweep under another name): both
    /// places are taken.
    Either,
}

/// Walks module trees; [`Walker::finish`] returns what it found.
pub(crate) struct Walker<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    tree: Tree,
    /// Directories where a module's children live, for the sweep.
    module_dirs: BTreeSet<PathBuf>,
    /// Walking a build script: its `cargo:rerun-if-…` inputs count.
    build_script: bool,
    /// The package directory, which a build script's inputs are relative to.
    package_dir: PathBuf,
    /// Whether doc comments and optional commas are dropped (the crate's own
    /// files), or every token counts (path dependencies: cheaper to read).
    normalize: bool,
}

impl<'a> Walker<'a> {
    /// A walker that answers `env!("X")` in include paths with `env`;
    /// `normalize` drops doc comments and optional commas (see [`tokens`]).
    pub(crate) fn new(env: &'a dyn Fn(&str) -> Option<String>, normalize: bool) -> Self {
        Self {
            normalize,
            env,
            tree: Tree::default(),
            module_dirs: BTreeSet::new(),
            build_script: false,
            package_dir: PathBuf::new(),
        }
    }

    /// Walks a build script of the package in `package_dir`: its module tree,
    /// and the files and environment variables it declares to cargo with
    /// literal `cargo:rerun-if-changed=` / `rerun-if-env-changed=` lines.
    pub(crate) fn build_script(&mut self, path: &Path, package_dir: &Path) {
        self.build_script = true;
        self.package_dir = package_dir.to_path_buf();
        self.module(path, Kind::ModRs);
        self.build_script = false;
    }

    /// Walks the module tree of a crate root (`src/lib.rs`, `build.rs`, …).
    pub(crate) fn root(&mut self, path: &Path) {
        self.module(path, Kind::ModRs);
    }

    /// Adds every `.rs` file (and `dir/mod.rs`) in the directories where
    /// walked modules keep their children that no walk reached and that is
    /// not in `exclude` (the files of the package's other targets), with the
    /// trees they declare, until nothing new turns up.
    pub(crate) fn sweep(&mut self, exclude: &BTreeSet<PathBuf>) {
        let mut swept = BTreeSet::new();
        loop {
            let pending: Vec<PathBuf> = self.module_dirs.difference(&swept).cloned().collect();
            if pending.is_empty() {
                return;
            }
            for dir in pending {
                swept.insert(dir.clone());
                for (file, kind) in orphan_candidates(&dir) {
                    let known = canonical(&file);
                    if !self.tree.files.contains_key(&known) && !exclude.contains(&known) {
                        self.module(&file, kind);
                    }
                }
            }
        }
    }

    /// The directories where the walked modules keep their children.
    pub(crate) fn module_dirs(&self) -> Vec<PathBuf> {
        self.module_dirs.iter().cloned().collect()
    }

    /// The files walked so far (canonical paths).
    pub(crate) fn files(&self) -> impl Iterator<Item = &PathBuf> {
        self.tree.files.keys()
    }

    /// What the walk found.
    pub(crate) fn finish(self) -> Tree {
        self.tree
    }

    fn module(&mut self, path: &Path, kind: Kind) {
        let path = canonical(path);
        if self.tree.files.contains_key(&path) {
            return;
        }
        let text = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                self.tree.files.insert(path, FileDigest::Missing);
                return;
            }
            Err(error) => {
                self.tree
                    .unresolved
                    .push(format!("cannot read {}: {error}", path.display()));
                return;
            }
        };
        let bytes = digest::of_bytes(&text);
        let lex = if self.normalize {
            tokens::file_tokens
        } else {
            tokens::raw_file_tokens
        };
        let Some(tokens) = std::str::from_utf8(&text).ok().and_then(lex) else {
            // Not UTF-8, or our lexer disagrees with rustc's: its modules and
            // includes cannot be followed, so the tree cannot be trusted.
            self.tree.unresolved.push(format!(
                "{} cannot be read as Rust tokens, so the modules and files it declares cannot be followed",
                path.display()
            ));
            self.tree.files.insert(
                path,
                FileDigest::Module {
                    tokens: bytes,
                    bytes,
                },
            );
            return;
        };
        let mut token_digest = Digest::new("module-tokens");
        tokens::hash(tokens.clone(), &mut token_digest);
        self.tree.files.insert(
            path.clone(),
            FileDigest::Module {
                tokens: token_digest.finish(),
                bytes,
            },
        );
        let bases = child_bases(&path, kind);
        self.module_dirs.extend(bases.iter().cloned());
        self.follow(&path, &bases, tokens);
    }

    /// Follows what the tokens of `file` declare and include; `bases` are
    /// where its `mod x;` children live.
    fn follow(&mut self, file: &Path, bases: &[PathBuf], tokens: proc_macro2::TokenStream) {
        let found = scan::scan(tokens, self.env);
        self.tree.env_reads.extend(found.env_reads);
        self.tree.uses_positions |= found.uses_positions;
        self.tree.unresolved.extend(
            found
                .unresolved
                .into_iter()
                .map(|reason| format!("{}: {reason}", file.display())),
        );
        let dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
        for decl in &found.modules {
            self.declared_module(&dir, bases, decl);
        }
        for include in &found.includes {
            let target = dir.join(&include.path);
            self.included(&target, include.rust, bases);
        }
        if self.build_script {
            for input in &found.build_inputs {
                self.build_input(input);
            }
        }
    }

    fn declared_module(&mut self, dir: &Path, bases: &[PathBuf], decl: &ModDecl) {
        let mut candidates: Vec<(PathBuf, Kind)> = Vec::new();
        for path in &decl.paths {
            // Outside inline modules `#[path]` is relative to the file's
            // directory; inside them, to where the inline modules' children go.
            candidates.push((dir.join(path), Kind::Either));
            for base in bases {
                candidates.push((
                    base.join(decl.inline.iter().collect::<PathBuf>())
                        .join(path),
                    Kind::Either,
                ));
            }
        }
        // The default places, also when `#[path]` sits in a `cfg_attr`.
        for base in bases {
            let parent = base.join(decl.inline.iter().collect::<PathBuf>());
            candidates.push((parent.join(format!("{}.rs", decl.name)), Kind::NonModRs));
            candidates.push((parent.join(&decl.name).join("mod.rs"), Kind::ModRs));
        }
        let mut found_any = false;
        for (candidate, kind) in &candidates {
            if candidate.is_file() {
                found_any = true;
                let kind = if candidate.file_name().is_some_and(|n| n == "mod.rs") {
                    Kind::ModRs
                } else {
                    *kind
                };
                self.module(candidate, kind);
            }
        }
        if !found_any {
            let expected = candidates
                .iter()
                .find(|(_, kind)| *kind == Kind::NonModRs)
                .or(candidates.first())
                .map(|(path, _)| path.clone());
            if let Some(expected) = expected {
                self.tree
                    .files
                    .entry(canonical(&expected))
                    .or_insert(FileDigest::Missing);
            }
        }
    }

    fn included(&mut self, path: &Path, rust: bool, bases: &[PathBuf]) {
        let path = canonical(path);
        if self.tree.files.contains_key(&path) {
            return;
        }
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                self.tree.files.insert(path, FileDigest::Missing);
                return;
            }
            Err(error) => {
                self.tree
                    .unresolved
                    .push(format!("cannot read {}: {error}", path.display()));
                return;
            }
        };
        self.tree.files.insert(
            path.clone(),
            FileDigest::Included {
                bytes: digest::of_bytes(&bytes),
            },
        );
        if rust {
            // Included code declares modules where the including file would,
            // and includes relative to itself.
            match std::str::from_utf8(&bytes)
                .ok()
                .and_then(|text| text.parse().ok())
            {
                Some(tokens) => {
                    let mut bases = bases.to_vec();
                    bases.extend(path.parent().map(Path::to_path_buf));
                    self.follow(&path, &bases, tokens);
                }
                None => self.tree.unresolved.push(format!(
                    "{} is included as code but cannot be read as Rust tokens",
                    path.display()
                )),
            }
        }
    }

    /// A build script's declared input: a file or directory (every file
    /// under it counts), or an environment variable.
    fn build_input(&mut self, input: &scan::BuildInput) {
        match input {
            scan::BuildInput::Env(name) => {
                self.tree.env_reads.insert(name.clone());
            }
            scan::BuildInput::Unknown(line) => self.tree.unresolved.push(format!(
                "the build script declares an input formatted at run time (`{line}`)"
            )),
            scan::BuildInput::Path(path) => {
                let target = self.package_dir.join(path);
                if target.is_dir() {
                    for file in files_under(&target) {
                        self.included(&file, false, &[]);
                    }
                } else {
                    self.included(&target, false, &[]);
                }
            }
        }
    }
}

/// Where the children of a module file live.
fn child_bases(path: &Path, kind: Kind) -> Vec<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let own = path.file_stem().map(|stem| dir.join(stem));
    match (kind, own) {
        (Kind::ModRs, _) | (_, None) => vec![dir],
        (Kind::NonModRs, Some(own)) => vec![own],
        (Kind::Either, Some(own)) => vec![dir, own],
    }
}

/// The `.rs` files of `dir` and the `mod.rs` files of its subdirectories.
fn orphan_candidates(dir: &Path) -> Vec<(PathBuf, Kind)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            let module = path.join("mod.rs");
            if module.is_file() {
                out.push((module, Kind::ModRs));
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let kind = if path.file_name().is_some_and(|n| n == "mod.rs") {
                Kind::ModRs
            } else {
                Kind::NonModRs
            };
            out.push((path, kind));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every file under `dir`, sorted (symbolic links to directories are not followed).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                pending.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// The canonical form of a path (symbolic links resolved) if it exists,
/// else the path with `.` and `..` resolved as written.
pub(crate) fn canonical(path: &Path) -> PathBuf {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return canonical;
    }
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    // A missing file in an existing directory: resolve the directory.
    match (out.parent().map(std::fs::canonicalize), out.file_name()) {
        (Some(Ok(dir)), Some(name)) => dir.join(name),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A crate in a temporary directory: `(path, text)` files.
    fn tree_of(files: &[(&str, &str)]) -> (tempfile::TempDir, Tree) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let env = |name: &str| (name == "OUT_DIR").then(|| "gen".to_owned());
        let mut walker = Walker::new(&env, true);
        walker.root(&dir.path().join("src/lib.rs"));
        let tree = walker.finish();
        (dir, tree)
    }

    fn labels(dir: &tempfile::TempDir, tree: &Tree) -> Vec<String> {
        let root = canonical(dir.path());
        let mut labels: Vec<String> = tree
            .files
            .iter()
            .map(|(path, digest)| {
                let label = path.strip_prefix(&root).unwrap().display().to_string();
                match digest {
                    FileDigest::Missing => format!("{label} (missing)"),
                    _ => label,
                }
            })
            .collect();
        labels.sort();
        labels
    }

    #[test]
    fn the_module_tree_follows_nested_directories_paths_and_inline_modules() {
        let (dir, tree) = tree_of(&[
            (
                "src/lib.rs",
                "mod a; mod b; #[path = \"other/c_impl.rs\"] mod c; mod inline { mod d; } #[cfg(windows)] mod e;",
            ),
            ("src/a.rs", "mod nested;"),
            ("src/a/nested.rs", "pub fn f() {}"),
            ("src/b/mod.rs", "mod deeper;"),
            ("src/b/deeper.rs", ""),
            ("src/other/c_impl.rs", "mod beside;"),
            ("src/other/beside.rs", ""),
            ("src/inline/d.rs", ""),
            (
                "src/e.rs",
                "// compiled out on this platform, still counted",
            ),
            (
                "src/main.rs",
                "// not reached from lib.rs, not in a module directory walked here: see the sweep",
            ),
        ]);
        assert_eq!(
            labels(&dir, &tree),
            [
                "src/a.rs",
                "src/a/nested.rs",
                "src/b/deeper.rs",
                "src/b/mod.rs",
                "src/e.rs",
                "src/inline/d.rs",
                "src/lib.rs",
                "src/other/beside.rs",
                "src/other/c_impl.rs",
            ]
        );
        assert!(tree.unresolved.is_empty());
    }

    #[test]
    fn a_module_that_does_not_lex_cannot_be_followed() {
        let (_dir, tree) = tree_of(&[
            ("src/lib.rs", "mod odd;"),
            ("src/odd.rs", "mod child; const S: &str = \"unterminated;"),
        ]);
        assert_eq!(tree.unresolved.len(), 1, "{:?}", tree.unresolved);
        assert!(tree.unresolved[0].contains("odd.rs"));
    }

    #[test]
    fn a_declared_module_without_a_file_is_recorded_missing() {
        let (dir, tree) = tree_of(&[("src/lib.rs", "#[cfg(feature = \"x\")] mod absent;")]);
        assert_eq!(
            labels(&dir, &tree),
            ["src/absent.rs (missing)", "src/lib.rs"]
        );
    }

    #[test]
    fn included_files_count_by_content() {
        let digest_with = |table: &str| {
            let (_dir, tree) = tree_of(&[
                (
                    "src/lib.rs",
                    "mod data; include!(concat!(env!(\"OUT_DIR\"), \"/gen.rs\"));",
                ),
                (
                    "src/data.rs",
                    "pub const TABLE: &str = include_str!(\"../data/table.csv\");",
                ),
                ("data/table.csv", table),
                ("src/gen/gen.rs", "pub const GENERATED: u8 = 1;"),
            ]);
            let paths: Vec<PathBuf> = tree.files.keys().cloned().collect();
            (
                paths.iter().map(|p| tree.digest(p)).collect::<Vec<_>>(),
                paths,
                tree.env_reads,
            )
        };
        let (before, paths, env_reads) = digest_with("id,score\n1,0.5\n");
        let (after, _, _) = digest_with("id,score\n1,0.75\n");
        assert!(paths.iter().any(|p| p.ends_with("data/table.csv")));
        assert!(paths.iter().any(|p| p.ends_with("gen.rs")), "{paths:?}");
        assert_ne!(before, after);
        assert_eq!(env_reads.into_iter().collect::<Vec<_>>(), ["OUT_DIR"]);
    }

    #[test]
    fn files_next_to_the_modules_that_no_module_declares_are_swept_in() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        // `declare!` could expand to `mod generated;`.
        write("src/lib.rs", "mod helpers; declare!(generated);");
        write("src/helpers.rs", "");
        write("src/generated.rs", "mod child;");
        write("src/generated/child.rs", "");
        write("src/main.rs", "mod cli;");
        write("src/cli.rs", "");
        let env = |_: &str| None;
        let mut others = Walker::new(&env, false);
        others.root(&dir.path().join("src/main.rs"));
        let exclude: BTreeSet<PathBuf> = others.finish().files.into_keys().collect();
        let mut walker = Walker::new(&env, true);
        walker.root(&dir.path().join("src/lib.rs"));
        walker.sweep(&exclude);
        let tree = walker.finish();
        assert_eq!(
            labels(&dir, &tree),
            [
                "src/generated.rs",
                "src/generated/child.rs",
                "src/helpers.rs",
                "src/lib.rs"
            ]
        );
    }

    #[test]
    fn positions_make_whitespace_count() {
        let digest_of = |lib: &str| {
            let (_dir, tree) = tree_of(&[("src/lib.rs", lib)]);
            let path = tree.files.keys().next().unwrap().clone();
            (tree.digest(&path), tree.uses_positions)
        };
        let (plain, positions) = digest_of("pub fn f() -> u32 { 1 }");
        assert!(!positions);
        assert_eq!(plain, digest_of("pub fn f() -> u32 {\n    1\n}").0);
        let (at_line, positions) = digest_of("pub fn f() -> u32 { line!() }");
        assert!(positions);
        assert_ne!(at_line, digest_of("\npub fn f() -> u32 { line!() }").0);
    }

    #[test]
    fn a_build_script_counts_the_inputs_it_declares() {
        let digest_with = |proto: &str| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(dir.path().join("proto")).unwrap();
            std::fs::write(dir.path().join("proto/api.proto"), proto).unwrap();
            std::fs::write(
                dir.path().join("build.rs"),
                "fn main() { println!(\"cargo:rerun-if-changed=proto\"); println!(\"cargo:rerun-if-env-changed=API_LEVEL\"); }",
            )
            .unwrap();
            let env = |_: &str| None;
            let mut walker = Walker::new(&env, true);
            walker.build_script(&dir.path().join("build.rs"), dir.path());
            let tree = walker.finish();
            let digests: Vec<[u8; 32]> = tree.files.keys().map(|p| tree.digest(p)).collect();
            (digests, tree.env_reads)
        };
        let (v1, env_reads) = digest_with("message A {}");
        assert_eq!(v1.len(), 2);
        assert_ne!(v1, digest_with("message B {}").0);
        assert_eq!(env_reads.into_iter().collect::<Vec<_>>(), ["API_LEVEL"]);
    }
}
