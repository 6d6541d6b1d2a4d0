//! What a package's `Cargo.toml` says about where its code is: its library
//! and build script, its other targets (whose files are not the crate's), and
//! the directories of its path dependencies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

/// A package read from its manifest.
#[derive(Debug, Clone)]
pub(crate) struct Package {
    /// The directory of its `Cargo.toml`.
    pub(crate) dir: PathBuf,
    /// `package.name`.
    pub(crate) name: String,
    /// `package.version` (`None` when inherited from a workspace we could not read).
    pub(crate) version: Option<String>,
    /// The manifest.
    pub(crate) manifest: Table,
    /// The workspace the package belongs to (its directory and manifest),
    /// which `workspace = true` entries refer to.
    pub(crate) workspace: Option<(PathBuf, Table)>,
}

impl Package {
    /// Reads the package in `dir`, and the manifest of its workspace.
    pub(crate) fn read(dir: &Path) -> Result<Self, String> {
        let manifest = read_toml(&dir.join("Cargo.toml"))?;
        let workspace = workspace_of(dir, &manifest);
        let package = manifest
            .get("package")
            .and_then(Value::as_table)
            .ok_or_else(|| format!("{} has no [package]", dir.join("Cargo.toml").display()))?;
        let name = package
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{} has no package name", dir.join("Cargo.toml").display()))?
            .to_owned();
        let version = match package.get("version") {
            Some(Value::String(version)) => Some(version.clone()),
            Some(Value::Table(inherit))
                if inherit.get("workspace") == Some(&Value::Boolean(true)) =>
            {
                workspace
                    .as_ref()
                    .and_then(|(_, ws)| {
                        ws.get("workspace")?
                            .get("package")?
                            .get("version")?
                            .as_str()
                    })
                    .map(str::to_owned)
            }
            // No version: cargo reads it as 0.0.0.
            None => Some("0.0.0".to_owned()),
            Some(_) => None,
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            name,
            version,
            manifest,
            workspace,
        })
    }

    /// The library's root file, if the package has a library.
    pub(crate) fn lib_root(&self) -> Option<PathBuf> {
        let explicit = self
            .manifest
            .get("lib")
            .and_then(|lib| lib.get("path"))
            .and_then(Value::as_str);
        let root = match explicit {
            Some(path) => self.dir.join(path),
            None => self.dir.join("src/lib.rs"),
        };
        root.is_file().then_some(root)
    }

    /// The build script, if the package has one.
    pub(crate) fn build_script(&self) -> Option<PathBuf> {
        let build = self.manifest.get("package").and_then(|p| p.get("build"));
        let path = match build {
            Some(Value::Boolean(false)) => return None,
            Some(Value::String(path)) => self.dir.join(path),
            _ => self.dir.join("build.rs"),
        };
        path.is_file().then_some(path)
    }

    /// The root files of every target cargo builds from this package:
    /// declared ones and the ones cargo discovers (`src/main.rs`,
    /// `src/bin/*.rs`, `tests/*.rs`, `examples/*.rs`, `benches/*.rs`, and
    /// `*/main.rs` in those), the library and the build script too.
    pub(crate) fn target_roots(&self) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = Vec::new();
        roots.extend(self.lib_root());
        roots.extend(self.build_script());
        for kind in ["bin", "test", "example", "bench"] {
            if let Some(Value::Array(targets)) = self.manifest.get(kind) {
                for target in targets {
                    if let Some(path) = target.get("path").and_then(Value::as_str) {
                        roots.push(self.dir.join(path));
                    }
                }
            }
        }
        roots.push(self.dir.join("src/main.rs"));
        for dir in ["src/bin", "tests", "examples", "benches"] {
            let Ok(entries) = std::fs::read_dir(self.dir.join(dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    roots.push(path.join("main.rs"));
                } else if path.extension().is_some_and(|ext| ext == "rs") {
                    roots.push(path);
                }
            }
        }
        roots.retain(|root| root.is_file());
        roots.sort();
        roots.dedup();
        roots
    }

    /// The directories of the path dependencies this manifest declares (all
    /// kinds, all targets; `workspace = true` looked up in the package's
    /// workspace), and of the `[patch]` and `[replace]` entries of that
    /// workspace.
    pub(crate) fn path_dependencies(&self) -> Vec<PathBuf> {
        let mut tables: Vec<&Table> = Vec::new();
        let kinds = ["dependencies", "dev-dependencies", "build-dependencies"];
        for kind in kinds {
            tables.extend(self.manifest.get(kind).and_then(Value::as_table));
        }
        if let Some(Value::Table(targets)) = self.manifest.get("target") {
            for target in targets.values() {
                for kind in kinds {
                    tables.extend(target.get(kind).and_then(Value::as_table));
                }
            }
        }
        let inherited = self.workspace.as_ref().and_then(|(dir, ws)| {
            Some((dir, ws.get("workspace")?.get("dependencies")?.as_table()?))
        });
        let mut dirs = Vec::new();
        for table in tables {
            for (key, spec) in table {
                if let Some(path) = spec.get("path").and_then(Value::as_str) {
                    dirs.push(self.dir.join(path));
                } else if spec.get("workspace") == Some(&Value::Boolean(true))
                    && let Some((ws_dir, deps)) = inherited
                    && let Some(path) = deps
                        .get(key)
                        .and_then(|d| d.get("path"))
                        .and_then(Value::as_str)
                {
                    dirs.push(ws_dir.join(path));
                }
            }
        }
        if let Some((dir, ws)) = &self.workspace {
            dirs.extend(patched_paths(dir, ws));
        }
        dirs
    }
}

/// The workspace a package belongs to: the one its `package.workspace` names,
/// else the nearest manifest with a `[workspace]` at or above its directory.
fn workspace_of(dir: &Path, manifest: &Table) -> Option<(PathBuf, Table)> {
    if manifest.contains_key("workspace") {
        return Some((dir.to_path_buf(), manifest.clone()));
    }
    let explicit = manifest
        .get("package")
        .and_then(|p| p.get("workspace"))
        .and_then(Value::as_str);
    if let Some(path) = explicit {
        let root = dir.join(path);
        return read_toml(&root.join("Cargo.toml"))
            .ok()
            .map(|ws| (root, ws));
    }
    dir.ancestors().skip(1).find_map(|ancestor| {
        let ws = read_toml(&ancestor.join("Cargo.toml")).ok()?;
        ws.contains_key("workspace")
            .then(|| (ancestor.to_path_buf(), ws))
    })
}

/// The directories of `[patch.*]` and `[replace]` entries with a path in a
/// workspace manifest.
pub(crate) fn patched_paths(workspace_dir: &Path, workspace: &Table) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut tables: Vec<&Table> = Vec::new();
    if let Some(Value::Table(patches)) = workspace.get("patch") {
        tables.extend(patches.values().filter_map(Value::as_table));
    }
    tables.extend(workspace.get("replace").and_then(Value::as_table));
    for table in tables {
        for spec in table.values() {
            if let Some(path) = spec.get("path").and_then(Value::as_str) {
                dirs.push(workspace_dir.join(path));
            }
        }
    }
    dirs
}

/// Every package reachable from `start` through path dependencies and
/// workspace patches, by name.
pub(crate) fn path_packages(start: &Package) -> BTreeMap<String, Vec<Package>> {
    let mut found: BTreeMap<String, Vec<Package>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut pending = start.path_dependencies();
    seen.insert(super::modules::canonical(&start.dir));
    while let Some(dir) = pending.pop() {
        let dir = super::modules::canonical(&dir);
        if !seen.insert(dir.clone()) {
            continue;
        }
        let Ok(package) = Package::read(&dir) else {
            continue;
        };
        pending.extend(package.path_dependencies());
        found.entry(package.name.clone()).or_default().push(package);
    }
    found
}

/// A TOML file as a table.
pub(crate) fn read_toml(path: &Path) -> Result<Table, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.parse::<Table>()
        .map_err(|e| format!("cannot parse {}: {e}", path.display()))
}

/// A manifest's digest: its parsed content (comments and formatting do not count).
pub(crate) fn manifest_digest(manifest: &Table) -> [u8; 32] {
    super::digest::of_bytes(manifest.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, path: &str, text: &str) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn targets_and_path_dependencies_are_read_from_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "Cargo.toml",
            "[workspace]\nmembers = [\"app\"]\n[workspace.package]\nversion = \"1.2.0\"\n[workspace.dependencies]\nshared = { path = \"shared\" }\n",
        );
        write(
            root,
            "app/Cargo.toml",
            "[package]\nname = \"app\"\nversion.workspace = true\n[dependencies]\nshared.workspace = true\nhelpers = { path = \"../helpers\", package = \"helpers-crate\" }\n[target.'cfg(unix)'.dev-dependencies]\nunixy = { path = \"../unixy\" }\n[[bin]]\nname = \"tool\"\npath = \"tools/tool.rs\"\n",
        );
        write(root, "app/src/lib.rs", "");
        write(root, "app/src/main.rs", "");
        write(root, "app/tools/tool.rs", "");
        write(root, "app/tests/it.rs", "");
        write(root, "app/build.rs", "");
        write(
            root,
            "shared/Cargo.toml",
            "[package]\nname = \"shared\"\nversion = \"0.3.0\"\n",
        );
        write(
            root,
            "helpers/Cargo.toml",
            "[package]\nname = \"helpers-crate\"\nversion = \"0.1.0\"\n[dependencies]\nshared = { path = \"../shared\" }\n",
        );
        write(root, "unixy/Cargo.toml", "[package]\nname = \"unixy\"\n");
        let app = Package::read(&root.join("app")).unwrap();

        assert_eq!(app.version.as_deref(), Some("1.2.0"));
        assert_eq!(app.lib_root(), Some(root.join("app/src/lib.rs")));
        assert_eq!(app.build_script(), Some(root.join("app/build.rs")));
        let names: Vec<String> = app
            .target_roots()
            .iter()
            .map(|p| {
                p.strip_prefix(root.join("app"))
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(
            names,
            [
                "build.rs",
                "src/lib.rs",
                "src/main.rs",
                "tests/it.rs",
                "tools/tool.rs"
            ]
        );

        let packages = path_packages(&app);
        let versions: Vec<(&str, Option<&str>)> = packages
            .values()
            .flatten()
            .map(|p| (p.name.as_str(), p.version.as_deref()))
            .collect();
        assert_eq!(
            versions,
            [
                ("helpers-crate", Some("0.1.0")),
                ("shared", Some("0.3.0")),
                ("unixy", Some("0.0.0"))
            ]
        );
    }

    #[test]
    fn a_manifest_digest_ignores_comments_and_formatting() {
        let a: Table = "[package]\nname = \"a\" # the name\nversion = \"1.0.0\"\n"
            .parse()
            .unwrap();
        let b: Table = "[package]\nversion = \"1.0.0\"\n\n\nname = \"a\"\n"
            .parse()
            .unwrap();
        let c: Table = "[package]\nname = \"a\"\nversion = \"1.0.1\"\n"
            .parse()
            .unwrap();
        assert_eq!(manifest_digest(&a), manifest_digest(&b));
        assert_ne!(manifest_digest(&a), manifest_digest(&c));
    }
}
