//! `Cargo.lock`: the resolved dependency closure of a package (name,
//! version, source and checksum of every package it can reach, git
//! revisions included in the source).

use toml::{Table, Value};

/// One `[[package]]` of a lockfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Locked {
    pub(crate) name: String,
    pub(crate) version: String,
    /// `registry+…`, `git+…#rev`; `None` for a path package (workspace member
    /// or path dependency).
    pub(crate) source: Option<String>,
    pub(crate) checksum: Option<String>,
    /// `name`, `name version` or `name version (source)`.
    dependencies: Vec<String>,
}

/// A parsed lockfile.
#[derive(Debug)]
pub(crate) struct Lockfile {
    packages: Vec<Locked>,
}

impl Lockfile {
    /// Parses a lockfile's text.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let table: Table = text
            .parse()
            .map_err(|e| format!("cannot parse Cargo.lock: {e}"))?;
        let Some(Value::Array(entries)) = table.get("package") else {
            return Ok(Self {
                packages: Vec::new(),
            });
        };
        let text_of =
            |entry: &Value, key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
        let mut packages = Vec::new();
        for entry in entries {
            let (Some(name), Some(version)) = (text_of(entry, "name"), text_of(entry, "version"))
            else {
                return Err("Cargo.lock has a package without a name or version".to_owned());
            };
            let dependencies = match entry.get("dependencies") {
                Some(Value::Array(deps)) => deps
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                _ => Vec::new(),
            };
            packages.push(Locked {
                name,
                version,
                source: text_of(entry, "source"),
                checksum: text_of(entry, "checksum"),
                dependencies,
            });
        }
        Ok(Self { packages })
    }

    /// The path package `name` at `version` (any version when `None`) and
    /// every package it reaches, itself first, then sorted.
    pub(crate) fn closure(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<Vec<&Locked>, String> {
        let root = self
            .packages
            .iter()
            .position(|p| {
                p.name == name && p.source.is_none() && version.is_none_or(|v| p.version == v)
            })
            .ok_or_else(|| match version {
                Some(version) => format!("Cargo.lock has no package `{name} {version}`"),
                None => format!("Cargo.lock has no package `{name}`"),
            })?;
        let mut reached = vec![false; self.packages.len()];
        reached[root] = true;
        let mut pending = vec![root];
        while let Some(index) = pending.pop() {
            for dependency in &self.packages[index].dependencies {
                let target = self.resolve(dependency).ok_or_else(|| {
                    format!(
                        "Cargo.lock: `{}` depends on `{dependency}`, which it does not list",
                        self.packages[index].name
                    )
                })?;
                if !reached[target] {
                    reached[target] = true;
                    pending.push(target);
                }
            }
        }
        let mut closure: Vec<&Locked> = reached
            .iter()
            .enumerate()
            .filter(|&(index, &yes)| yes && index != root)
            .map(|(index, _)| &self.packages[index])
            .collect();
        closure.sort_by(|a, b| {
            (&a.name, &a.version, &a.source).cmp(&(&b.name, &b.version, &b.source))
        });
        closure.insert(0, &self.packages[root]);
        Ok(closure)
    }

    /// The package a dependency entry names.
    fn resolve(&self, entry: &str) -> Option<usize> {
        let mut words = entry.splitn(3, ' ');
        let name = words.next()?;
        let version = words.next();
        let source = words
            .next()
            .map(|s| s.trim_start_matches('(').trim_end_matches(')'));
        let mut matching = self.packages.iter().enumerate().filter(|(_, p)| {
            p.name == name
                && version.is_none_or(|v| p.version == v)
                && source.is_none_or(|s| p.source.as_deref() == Some(s))
        });
        let (first, _) = matching.next()?;
        // An ambiguous entry does not occur in a lockfile cargo wrote.
        matching.next().is_none().then_some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = r#"
version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["itoa", "helpers", "serde 1.0.200"]

[[package]]
name = "helpers"
version = "0.1.0"
dependencies = ["serde 1.0.100 (registry+https://github.com/rust-lang/crates.io-index)"]

[[package]]
name = "itoa"
version = "1.0.10"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"

[[package]]
name = "serde"
version = "1.0.100"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "bbbb"

[[package]]
name = "serde"
version = "1.0.200"
source = "git+https://github.com/serde-rs/serde?rev=abc#abc"

[[package]]
name = "unrelated"
version = "2.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "cccc"
"#;

    fn names(lock: &str) -> Vec<String> {
        Lockfile::parse(lock)
            .unwrap()
            .closure("app", Some("0.1.0"))
            .unwrap()
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect()
    }

    #[test]
    fn the_closure_follows_every_entry_form_and_leaves_others_out() {
        assert_eq!(
            names(LOCK),
            [
                "app 0.1.0",
                "helpers 0.1.0",
                "itoa 1.0.10",
                "serde 1.0.100",
                "serde 1.0.200"
            ]
        );
    }

    #[test]
    fn a_missing_root_or_dependency_is_an_error() {
        let lock = Lockfile::parse(LOCK).unwrap();
        assert!(lock.closure("app", Some("0.2.0")).is_err());
        let broken = LOCK.replace("\"itoa\", ", "\"itoa 9.9.9\", ");
        assert!(
            Lockfile::parse(&broken)
                .unwrap()
                .closure("app", None)
                .is_err()
        );
    }
}
