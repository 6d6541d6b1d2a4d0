//! Digests of code parts: a length-prefixed blake3 hasher, the sources a part
//! lists, and the never-stable digest of a part that could not be read.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A blake3 hasher fed with length-prefixed fields, so that distinct
/// sequences of fields never produce one byte stream.
pub(crate) struct Digest(blake3::Hasher);

impl Digest {
    /// A hasher separated from other uses by `domain`.
    pub(crate) fn new(domain: &str) -> Self {
        let mut digest = Self(blake3::Hasher::new());
        digest.str(domain);
        digest
    }

    /// Feeds bytes, prefixed by their length.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// Feeds a string, prefixed by its length.
    pub(crate) fn str(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes())
    }

    /// Feeds one byte (a tag).
    pub(crate) fn tag(&mut self, tag: u8) -> &mut Self {
        self.0.update(&[tag]);
        self
    }

    /// The digest of everything fed.
    pub(crate) fn finish(&self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

/// The digest of a byte string.
pub(crate) fn of_bytes(bytes: &[u8]) -> [u8; 32] {
    *blake3::hash(bytes).as_bytes()
}

/// A digest that no other build produces: for a part that could not be read,
/// so that its tasks re-run after every build instead of trusting a guess.
pub(crate) fn never_stable() -> [u8; 32] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let local = 0u8;
    let mut digest = Digest::new("never-stable");
    digest
        .bytes(&nanos.to_le_bytes())
        .bytes(&std::process::id().to_le_bytes())
        .bytes(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes())
        .bytes(&(&raw const local as usize).to_le_bytes());
    digest.finish()
}

/// One source a part covers: a file of the crate, a dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    /// What it is, for people (`src/helpers.rs`, `polars`).
    pub(crate) label: String,
    /// Its content's digest.
    pub(crate) digest: [u8; 32],
}

/// A code part: its digest and the sources it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) digest: [u8; 32],
    pub(crate) sources: Vec<Source>,
}

/// The label prefix of an unreadable part (`pipeline_core::code::CodeSource::UNREADABLE`).
const UNREADABLE: &str = "unreadable: ";

impl Part {
    /// The part made of `sources` (the digest covers every label and digest,
    /// in label order, and nothing else).
    pub(crate) fn of_sources(domain: &str, mut sources: Vec<Source>) -> Self {
        sources.sort_by(|a, b| a.label.cmp(&b.label));
        sources.dedup_by(|a, b| a.label == b.label && a.digest == b.digest);
        let mut digest = Digest::new(domain);
        digest.bytes(&(sources.len() as u64).to_le_bytes());
        for source in &sources {
            digest.str(&source.label).bytes(&source.digest);
        }
        Self {
            digest: digest.finish(),
            sources,
        }
    }

    /// A part that could not be read, and why: its digest is
    /// [`never_stable`], its one source says why.
    pub(crate) fn unreadable(reason: &str) -> Self {
        let digest = never_stable();
        Self {
            digest,
            sources: vec![Source {
                label: format!("{UNREADABLE}{reason}"),
                digest,
            }],
        }
    }

    /// Whether the part could not be read.
    pub(crate) fn is_unreadable(&self) -> bool {
        self.sources
            .first()
            .is_some_and(|source| source.label.starts_with(UNREADABLE))
    }

    /// `label\tdigest` lines (the first 64 bits of each digest, in hex), as
    /// `pipeline_core::__private::CodeSpec` takes them.
    pub(crate) fn source_list(&self) -> String {
        let mut out = String::new();
        for source in &self.sources {
            let label: String = source
                .label
                .chars()
                .map(|c| if c == '\t' || c == '\n' { ' ' } else { c })
                .collect();
            let short = u64::from_be_bytes(source.digest[..8].try_into().expect("8 bytes"));
            out.push_str(&format!("{label}\t{short:016x}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(label: &str, content: &str) -> Source {
        Source {
            label: label.to_owned(),
            digest: of_bytes(content.as_bytes()),
        }
    }

    #[test]
    fn a_part_depends_on_its_sources_not_on_their_order() {
        let a = Part::of_sources("p", vec![source("a", "1"), source("b", "2")]);
        let b = Part::of_sources("p", vec![source("b", "2"), source("a", "1")]);
        let changed = Part::of_sources("p", vec![source("a", "1"), source("b", "3")]);
        let renamed = Part::of_sources("p", vec![source("a", "1"), source("c", "2")]);
        assert_eq!(a, b);
        assert_ne!(a.digest, changed.digest);
        assert_ne!(a.digest, renamed.digest);
    }

    #[test]
    fn an_unreadable_part_is_never_the_same_twice() {
        let first = Part::unreadable("no CARGO_MANIFEST_DIR");
        let second = Part::unreadable("no CARGO_MANIFEST_DIR");
        assert_ne!(first.digest, second.digest);
        assert!(first.is_unreadable());
        assert!(
            first
                .source_list()
                .starts_with("unreadable: no CARGO_MANIFEST_DIR\t")
        );
    }
}
