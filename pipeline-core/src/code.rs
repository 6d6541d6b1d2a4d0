//! A task's code identity: the parts its code fingerprint is made of, kept
//! apart so that a job can say which part changed, and the sources each part
//! covers (a file of the crate, a dependency), so that it can say which one.
//!
//! `#[task]` records all of this at compile time; `docs/code-fingerprint.md`
//! says what each part covers and what no part can cover.

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
///
/// Two identities are equal when their parts and environment names are:
/// [`sources`](Self::sources) only explain a change.
#[derive(Clone)]
pub struct CodeIdentity {
    parts: Arc<[(CodePart, Fingerprint)]>,
    env: Arc<[Arc<str>]>,
    sources: Arc<[CodeSource]>,
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
            sources: Arc::new([]),
            fingerprint,
        }
    }

    /// The same identity with the sources its parts cover (sorted by part,
    /// then label; a source of a part the identity lacks is dropped).
    ///
    /// Sources explain a change; they never decide one: the parts' digests
    /// already cover everything the sources list, and more.
    pub fn with_sources(mut self, sources: impl IntoIterator<Item = CodeSource>) -> Self {
        let mut sources: Vec<CodeSource> = sources
            .into_iter()
            .filter(|source| self.part(source.part).is_some())
            .collect();
        sources.sort_by(|a, b| (a.part, &a.label).cmp(&(b.part, &b.label)));
        sources.dedup_by(|a, b| a.part == b.part && a.label == b.label);
        self.sources = sources.into();
        self
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

    /// The sources the parts cover, sorted by part then label: the files of
    /// the crate (`src/helpers.rs`) under [`CodePart::CrateSources`], the
    /// dependencies (`polars`, `Cargo.toml`) under [`CodePart::Dependencies`].
    /// Empty for a hand-built task.
    pub fn sources(&self) -> &[CodeSource] {
        &self.sources
    }

    /// The sources added, removed or changed since `earlier`, in part then
    /// label order: what a reason names (`src/helpers.rs changed`).
    ///
    /// Only parts both identities have and whose digests differ are compared
    /// (a part one side lacks is a change of its own, see
    /// [`changed_since`](Self::changed_since)). A changed part can list no
    /// changed source: the part covers more than its sources (the compiler
    /// flags, say), or `earlier` was recorded without sources.
    ///
    /// ```
    /// use pipeline_core::code::{CodeIdentity, CodePart, CodeSource};
    /// use pipeline_core::fingerprint::Fingerprint;
    /// let identity = |helper: u64, digest: &[u8]| {
    ///     CodeIdentity::new(
    ///         [(CodePart::CrateSources, Fingerprint::of_bytes(digest))],
    ///         Vec::<String>::new(),
    ///     )
    ///     .with_sources([
    ///         CodeSource::new(CodePart::CrateSources, "src/lib.rs", 1),
    ///         CodeSource::new(CodePart::CrateSources, "src/helpers.rs", helper),
    ///     ])
    /// };
    /// let changes = identity(3, b"new").changed_sources_since(&identity(2, b"old"));
    /// assert_eq!(changes.len(), 1);
    /// assert_eq!(changes[0].to_string(), "src/helpers.rs changed");
    /// ```
    pub fn changed_sources_since(&self, earlier: &CodeIdentity) -> Vec<SourceChange> {
        let mut changes = Vec::new();
        for (part, digest) in self.parts.iter() {
            if earlier.part(*part).is_none_or(|old| old == *digest) {
                continue;
            }
            let now: Vec<&CodeSource> = self.sources_of(*part).collect();
            let then: Vec<&CodeSource> = earlier.sources_of(*part).collect();
            if then.is_empty() {
                continue;
            }
            for source in &now {
                match then.iter().find(|old| old.label == source.label) {
                    None => changes.push(SourceChange::new(source, SourceChangeKind::Added)),
                    Some(old) if old.digest != source.digest => {
                        changes.push(SourceChange::new(source, SourceChangeKind::Changed))
                    }
                    Some(_) => {}
                }
            }
            for old in &then {
                if !now.iter().any(|source| source.label == old.label) {
                    changes.push(SourceChange::new(old, SourceChangeKind::Removed));
                }
            }
        }
        changes.sort_by(|a, b| (a.part, &a.label).cmp(&(b.part, &b.label)));
        changes
    }

    fn sources_of(&self, part: CodePart) -> impl Iterator<Item = &CodeSource> {
        self.sources
            .iter()
            .filter(move |source| source.part == part)
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

impl PartialEq for CodeIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts && self.env == other.env
    }
}

impl Eq for CodeIdentity {}

impl std::hash::Hash for CodeIdentity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.fingerprint.hash(state);
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
        if !self.sources.is_empty() {
            out.field("sources", &self.sources.len());
        }
        out.finish()
    }
}

/// One source a [`CodePart`] covers, as recorded when the task was compiled:
/// a file of the crate (`src/helpers.rs`, `build.rs`, `data/table.csv` read by
/// `include_str!`), a dependency (`polars`, `Cargo.toml`, a path dependency
/// `helpers-crate`), with a short digest of its content.
///
/// A label starting with `unreadable: ` marks a part that could not be read
/// at compile time (`unreadable: no CARGO_MANIFEST_DIR`): its digest then
/// changes with every build, so the task re-runs after each rebuild; see
/// [`unreadable_reason`](Self::unreadable_reason).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CodeSource {
    part: CodePart,
    label: Arc<str>,
    digest: u64,
}

impl CodeSource {
    /// The label prefix of a part that could not be read at compile time.
    pub const UNREADABLE: &'static str = "unreadable: ";

    /// A source of `part` called `label` whose content has the short digest `digest`.
    pub fn new(part: CodePart, label: impl Into<Arc<str>>, digest: u64) -> Self {
        Self {
            part,
            label: label.into(),
            digest,
        }
    }

    /// The part that covers this source.
    pub fn part(&self) -> CodePart {
        self.part
    }

    /// What the source is, as people read it: a path relative to the
    /// package (`src/helpers.rs`), or a dependency's name.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The first 64 bits of the source's content digest (enough to tell
    /// that it changed; the part's own digest is the full one).
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// Why the part could not be read at compile time, if this source says so.
    pub fn unreadable_reason(&self) -> Option<&str> {
        self.label.strip_prefix(Self::UNREADABLE)
    }
}

/// What happened to one [`CodeSource`] between two identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceChangeKind {
    /// The source is new (a file added to the module tree, a new dependency).
    Added,
    /// The source is gone.
    Removed,
    /// The source's content changed.
    Changed,
}

/// One source added, removed or changed: `src/helpers.rs changed`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceChange {
    /// The part that covers the source.
    pub part: CodePart,
    /// The source's label (see [`CodeSource::label`]).
    pub label: Arc<str>,
    /// What happened to it.
    pub kind: SourceChangeKind,
}

impl SourceChange {
    fn new(source: &CodeSource, kind: SourceChangeKind) -> Self {
        Self {
            part: source.part,
            label: source.label.clone(),
            kind,
        }
    }
}

impl fmt::Display for SourceChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            SourceChangeKind::Added => "added",
            SourceChangeKind::Removed => "removed",
            SourceChangeKind::Changed => "changed",
        };
        write!(f, "{} {kind}", self.label)
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

    fn with_helper(digest_of_part: &str, helper: Option<u64>) -> CodeIdentity {
        let mut sources = vec![CodeSource::new(CodePart::CrateSources, "src/lib.rs", 1)];
        sources
            .extend(helper.map(|d| CodeSource::new(CodePart::CrateSources, "src/helpers.rs", d)));
        CodeIdentity::new(
            [
                (CodePart::CrateSources, digest(digest_of_part)),
                (CodePart::Compiler, digest("c")),
            ],
            std::iter::empty::<Arc<str>>(),
        )
        .with_sources(sources)
    }

    #[test]
    fn changed_sources_name_the_file_added_removed_or_changed() {
        let base = with_helper("a", Some(2));
        let changed = with_helper("b", Some(3));
        let removed = with_helper("c", None);

        let text = |changes: Vec<SourceChange>| -> Vec<String> {
            changes.iter().map(ToString::to_string).collect()
        };
        assert_eq!(
            text(changed.changed_sources_since(&base)),
            ["src/helpers.rs changed"]
        );
        assert_eq!(
            text(removed.changed_sources_since(&base)),
            ["src/helpers.rs removed"]
        );
        assert_eq!(
            text(base.changed_sources_since(&removed)),
            ["src/helpers.rs added"]
        );
    }

    #[test]
    fn sources_of_an_unchanged_part_are_not_compared_and_do_not_count() {
        let base = with_helper("a", Some(2));
        // Same part digest, other source digests (cannot come from one build,
        // but a part's digest is what decides).
        let same_part = with_helper("a", Some(9));
        assert!(same_part.changed_sources_since(&base).is_empty());
        assert_eq!(same_part.fingerprint(), base.fingerprint());
    }

    #[test]
    fn an_unreadable_part_says_why() {
        let source = CodeSource::new(
            CodePart::CrateSources,
            format!("{}no CARGO_MANIFEST_DIR", CodeSource::UNREADABLE),
            7,
        );
        assert_eq!(source.unreadable_reason(), Some("no CARGO_MANIFEST_DIR"));
        assert_eq!(
            CodeSource::new(CodePart::CrateSources, "src/lib.rs", 7).unreadable_reason(),
            None
        );
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
