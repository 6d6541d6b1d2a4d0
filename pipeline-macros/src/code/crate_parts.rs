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
    let mut compiler = Digest::new("compiler");
    compiler.str(RUSTC_VERSION);
    for flag in &invocation.flags {
        compiler.str(flag);
    }
    let compiler = compiler.finish();
    let unreadable = |reason: &str| CrateCode {
        crate_sources: Part::unreadable(reason),
        dependencies: Part::unreadable(reason),
        compiler,
        files: BTreeSet::new(),
        root: invocation.crate_root.clone(),
    };
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
    let workspace_manifest = workspace
        .as_ref()
        .and_then(|(_, _, manifest)| manifest.as_ref());
    let package = match Package::read(&manifest_dir, workspace_manifest) {
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
    let path_packages = package::path_packages(package, workspace.map(|ws| (workspace_dir, ws)));
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
mod profile_tmp {
    use super::*;
    #[test]
    #[ignore]
    fn profile_customer_analysis() {
        let ws = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap();
        let inv = Invocation {
            crate_root: Some(ws.join("customer-analysis/src/lib.rs")),
            manifest_dir: Some(ws.join("customer-analysis")),
            package: Some(("customer-analysis".into(), "0.1.0".into())),
            flags: vec![],
        };
        let env = |name: &str| std::env::var(name).ok();
        let t = std::time::Instant::now();
        let code = compute(&inv, &env);
        eprintln!("total {:?}", t.elapsed());
        eprintln!("{}", code.crate_sources.source_list());
        eprintln!(
            "{}",
            code.dependencies
                .source_list()
                .lines()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
#[cfg(test)]
mod profile_tmp2 {
    #[test]
    #[ignore]
    fn phases() {
        use std::time::Instant;
        let ws = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap();
        let mut texts = Vec::new();
        for d in [
            "customer-analysis/src",
            "pipeline-core/src",
            "pipeline-macros/src",
        ] {
            for e in walk(&ws.join(d)) {
                texts.push(std::fs::read_to_string(e).unwrap());
            }
        }
        let total: usize = texts.iter().map(|t| t.len()).sum();
        eprintln!("{} files {} bytes", texts.len(), total);
        let t = Instant::now();
        let streams: Vec<proc_macro2::TokenStream> =
            texts.iter().map(|t| t.parse().unwrap()).collect();
        eprintln!("lex {:?}", t.elapsed());
        let t = Instant::now();
        let files: Vec<syn::File> = texts.iter().map(|t| syn::parse_file(t).unwrap()).collect();
        eprintln!("lex+parse {:?}", t.elapsed());
        let t = Instant::now();
        let mut out = Vec::new();
        for mut f in files {
            syn::visit_mut::VisitMut::visit_file_mut(&mut super::super::tokens::Normalize, &mut f);
            out.push(quote::ToTokens::into_token_stream(f));
        }
        eprintln!("normalize+print {:?}", t.elapsed());
        let t = Instant::now();
        for s in &out {
            let mut d = super::Digest::new("x");
            super::super::tokens::hash(s.clone(), &mut d);
        }
        eprintln!("hash {:?}", t.elapsed());
        let t = Instant::now();
        for s in &streams {
            super::super::scan::scan(s.clone(), &|_| None);
        }
        eprintln!("scan {:?}", t.elapsed());
    }
    fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                v.extend(walk(&p))
            } else if p.extension().is_some_and(|e| e == "rs") {
                v.push(p)
            }
        }
        v
    }
}
