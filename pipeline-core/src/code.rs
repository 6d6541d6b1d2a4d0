//! A task's code identity: the parts its code fingerprint is made of, kept
//! apart so that a job can say which part changed.

use std::fmt;
use std::sync::Arc;

use crate::fingerprint::{Fingerprint, FingerprintHasher};

/// One part of what a task's code fingerprint covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CodePart {
    /// An explicit `#[task(version = "…")]` pin (or a hand-built task's
    /// version string): the user answers for everything it stands for.
    Version,
    /// The task function's own tokens.
    TaskTokens,
    /// The sources of the crate that defines the task.
    CrateSources,
    /// The resolved versions of the crate's dependencies.
    Dependencies,
    /// The compiler and the build settings.
    Compiler,
}

impl CodePart {
    /// The part as people read it in a job's reason (`crate sources`).
    pub fn as_str(self) -> &'static str {
        match self {
            CodePart::Version => "version",
            CodePart::TaskTokens => "task tokens",
            CodePart::CrateSources => "crate sources",
            CodePart::Dependencies => "dependencies",
            CodePart::Compiler => "compiler",
        }
    }
}

impl fmt::Display for CodePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a task's code fingerprint is made of: a digest per [`CodePart`] and
/// the environment variables the task declared (their values are read at
/// submit time and go into the task's key, not into this identity).
///
/// ```
/// use pipeline_core::code::{CodeIdentity, CodePart};
/// let pinned = CodeIdentity::pinned("2");
/// assert_eq!(pinned.parts()[0].0, CodePart::Version);
/// assert_ne!(pinned.fingerprint(), CodeIdentity::pinned("3").fingerprint());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CodeIdentity {
    parts: Arc<[(CodePart, Fingerprint)]>,
    env: Arc<[Arc<str>]>,
    fingerprint: Fingerprint,
}

impl CodeIdentity {
    /// An identity made of the given parts (sorted by part; a part given
    /// twice keeps its last digest) and declared environment variable names.
    pub fn new(
        parts: impl IntoIterator<Item = (CodePart, Fingerprint)>,
        env: impl IntoIterator<Item = impl Into<Arc<str>>>,
    ) -> Self {
        let mut sorted: Vec<(CodePart, Fingerprint)> = Vec::new();
        for (part, digest) in parts {
            match sorted.iter_mut().find(|(p, _)| *p == part) {
                Some(slot) => slot.1 = digest,
                None => sorted.push((part, digest)),
            }
        }
        sorted.sort_by_key(|(part, _)| *part);
        let mut env: Vec<Arc<str>> = env.into_iter().map(Into::into).collect();
        env.sort();
        env.dedup();
        let fingerprint = combine(&sorted, &env);
        Self {
            parts: sorted.into(),
            env: env.into(),
            fingerprint,
        }
    }

    /// The identity of code pinned by an explicit version string.
    pub fn pinned(version: &str) -> Self {
        Self::new(
            [(
                CodePart::Version,
                FingerprintHasher::with_domain("task-code")
                    .update_str(version)
                    .finish(),
            )],
            std::iter::empty::<Arc<str>>(),
        )
    }

    /// The digest of every part and environment name together: what a task
    /// key covers of the code.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The parts, sorted by [`CodePart`].
    pub fn parts(&self) -> &[(CodePart, Fingerprint)] {
        &self.parts
    }

    /// The digest of one part, if the identity has it.
    pub fn part(&self, part: CodePart) -> Option<Fingerprint> {
        self.parts
            .iter()
            .find(|(p, _)| *p == part)
            .map(|(_, digest)| *digest)
    }

    /// The environment variables the task declared, sorted.
    pub fn env(&self) -> &[Arc<str>] {
        &self.env
    }

    /// The parts whose digests differ from `earlier`'s (or that only one of
    /// the two has), in part order.
    pub fn changed_since(&self, earlier: &CodeIdentity) -> Vec<CodePart> {
        let mut changed: Vec<CodePart> = self
            .parts
            .iter()
            .filter(|(part, digest)| earlier.part(*part) != Some(*digest))
            .map(|(part, _)| *part)
            .collect();
        changed.extend(
            earlier
                .parts
                .iter()
                .filter(|(part, _)| self.part(*part).is_none())
                .map(|(part, _)| *part),
        );
        changed.sort();
        changed
    }
}

/// A lone fingerprint as a [`CodePart::Version`] identity (hand-built tasks).
impl From<Fingerprint> for CodeIdentity {
    fn from(fingerprint: Fingerprint) -> Self {
        Self::new(
            [(CodePart::Version, fingerprint)],
            std::iter::empty::<Arc<str>>(),
        )
    }
}

impl fmt::Debug for CodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("CodeIdentity");
        for (part, digest) in self.parts.iter() {
            out.field(part.as_str(), &digest.short());
        }
        if !self.env.is_empty() {
            out.field("env", &self.env);
        }
        out.finish()
    }
}

/// One part alone, without environment names, is its own digest (so a
/// version pin's fingerprint is the version's digest); anything else is
/// hashed together.
fn combine(parts: &[(CodePart, Fingerprint)], env: &[Arc<str>]) -> Fingerprint {
    if let ([(_, digest)], []) = (parts, env) {
        return *digest;
    }
    let mut hasher = FingerprintHasher::with_domain("code-identity");
    hasher.update_u64(parts.len() as u64);
    for (part, digest) in parts {
        hasher.update_str(part.as_str()).update_fingerprint(digest);
    }
    hasher.update_u64(env.len() as u64);
    for name in env {
        hasher.update_str(name);
    }
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(text: &str) -> Fingerprint {
        Fingerprint::of_bytes(text.as_bytes())
    }

    #[test]
    fn every_part_and_env_name_counts() {
        let base = CodeIdentity::new(
            [
                (CodePart::TaskTokens, digest("a")),
                (CodePart::Compiler, digest("c")),
            ],
            ["X"],
        );
        let other_part = CodeIdentity::new(
            [
                (CodePart::TaskTokens, digest("a")),
                (CodePart::Compiler, digest("d")),
            ],
            ["X"],
        );
        let other_env = CodeIdentity::new(
            [
                (CodePart::TaskTokens, digest("a")),
                (CodePart::Compiler, digest("c")),
            ],
            ["Y"],
        );
        assert_ne!(base.fingerprint(), other_part.fingerprint());
        assert_ne!(base.fingerprint(), other_env.fingerprint());
        assert_eq!(other_part.changed_since(&base), [CodePart::Compiler]);
    }

    #[test]
    fn order_of_parts_does_not_matter() {
        let a = CodeIdentity::new(
            [
                (CodePart::Compiler, digest("c")),
                (CodePart::TaskTokens, digest("a")),
            ],
            ["B", "A"],
        );
        let b = CodeIdentity::new(
            [
                (CodePart::TaskTokens, digest("a")),
                (CodePart::Compiler, digest("c")),
            ],
            ["A", "B"],
        );
        assert_eq!(a, b);
        assert_eq!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn a_part_only_one_side_has_is_a_change() {
        let pinned = CodeIdentity::pinned("1");
        let tokens = CodeIdentity::new(
            [(CodePart::TaskTokens, digest("a"))],
            std::iter::empty::<Arc<str>>(),
        );
        assert_eq!(
            tokens.changed_since(&pinned),
            [CodePart::Version, CodePart::TaskTokens]
        );
    }
}
