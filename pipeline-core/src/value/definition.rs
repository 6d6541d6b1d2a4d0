//! The [`Value`] trait itself, defined here so that its one public path is
//! the crate root (`pipeline_core::Value`); the rest of [`value`](super)
//! (erased types, contexts, std implementations) refers to it as
//! `super::Value`.

use std::any::Any;
use std::path::Path;

use super::text;
use super::{MaterializeContext, Materialized, StoreContext, ValueError, short_type_name};
use crate::fingerprint::Fingerprint;

/// A type that can be stored in a data node.
///
/// Implemented for the std scalars, `String`, `PathBuf`, `Vec`, `Option`,
/// `BTreeMap`, `BTreeSet` and tuples up to four elements; for your own
/// `serde` types use [`serde_value!`](crate::serde_value).
///
/// The encoding must be canonical: two values a user considers equal must encode
/// to the same bytes, or writing an equal value would invalidate consumers.
///
/// ```
/// use pipeline_core::Value;
/// let a = vec![1.5_f64, 2.0];
/// assert_eq!(a.fingerprint().unwrap(), vec![1.5_f64, 2.0].fingerprint().unwrap());
/// let mut bytes = Vec::new();
/// a.encode(&mut bytes).unwrap();
/// assert_eq!(Vec::<f64>::decode(&mut bytes.as_slice()).unwrap(), a);
/// ```
pub trait Value: Any + Send + Sync + Sized {
    /// Appends the canonical encoding of `self` to `out`.
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError>;

    /// Decodes one value from the front of `input`, advancing it past the bytes read.
    fn decode(input: &mut &[u8]) -> Result<Self, ValueError>;

    /// The fingerprint of the canonical encoding.
    fn fingerprint(&self) -> Result<Fingerprint, ValueError> {
        let mut bytes = Vec::with_capacity(32);
        self.encode(&mut bytes)?;
        Ok(Fingerprint::of_bytes(&bytes))
    }

    /// The type's name as people write it (`f64`, `Vec<String>`), used in messages
    /// and in TOML configurations.
    fn type_name() -> String {
        short_type_name(std::any::type_name::<Self>())
    }

    /// The extension of the value's file in a store (`objects/<fingerprint>.<ext>`).
    fn extension() -> &'static str {
        "bin"
    }

    /// A short, Debug-like rendering of the value for people (comparisons of
    /// scenarios, reports), or `None` when the type has none (the default).
    /// Implemented for the std scalars, strings, paths and their collections;
    /// [`serde_value!`](crate::serde_value) types render as JSON.
    fn render(&self) -> Option<String> {
        None
    }

    /// Reads a value as people type it on a command line or in a form: the
    /// type's `FromStr` where it has one (`1.5`, `true`, `data/x.csv`), else
    /// JSON (`[1, 2, 3]`, a bare word standing for a JSON string). `None` when
    /// the type has no text form, whatever the text: callers ask `from_text("")`
    /// to learn whether it has one.
    ///
    /// Defaults to JSON through [`from_json`](Self::from_json). Implemented
    /// for the std scalars, `String`, `PathBuf` and their collections;
    /// [`serde_value!`](crate::serde_value) types use their `FromStr` where
    /// they have one, else serde JSON. A `String` or `PathBuf` is the text
    /// as typed, or a JSON string when it starts with `"` (its quotes
    /// removed); an `Option` is `None` for `null` or empty text, else `Some`
    /// of the inner type's text.
    ///
    /// ```
    /// use pipeline_core::Value;
    /// assert_eq!(String::from_text("\"North\""), Some(Ok("North".to_owned())));
    /// assert_eq!(Option::<String>::from_text("North"), Some(Ok(Some("North".to_owned()))));
    /// assert_eq!(Option::<String>::from_text("\"null\""), Some(Ok(Some("null".to_owned()))));
    /// assert_eq!(Option::<String>::from_text("null"), Some(Ok(None)));
    /// assert_eq!(Option::<String>::from_text(""), Some(Ok(None)));
    /// assert_eq!(f64::from_text("1600"), Some(Ok(1600.0)));
    /// assert_eq!(Vec::<u8>::from_text("[1, 2]"), Some(Ok(vec![1, 2])));
    /// assert!(u8::from_text("300").unwrap().is_err());
    /// ```
    fn from_text(text: &str) -> Option<Result<Self, String>> {
        text::json_from_text(text)
    }

    /// Reads a value from JSON; `None` when the type has no JSON form,
    /// whatever the input (callers ask `from_json(&Json::Null)` to learn
    /// whether it has one). None by default.
    fn from_json(json: &serde_json::Value) -> Option<Result<Self, String>> {
        let _ = json;
        None
    }

    /// The value as JSON (numbers, strings, arrays, objects: what
    /// [`from_json`](Self::from_json) reads back), or `None` when the type
    /// has no JSON form (the default).
    fn to_json(&self) -> Option<serde_json::Value> {
        None
    }

    /// The value in the text form [`from_text`](Self::from_text) reads
    /// (`Display` for `FromStr` types), or `None`. Defaults to compact JSON
    /// from [`to_json`](Self::to_json), a JSON string as its bare text where
    /// that reads back as the same value (else quoted: `"null"`).
    fn to_text(&self) -> Option<String> {
        text::json_to_text(self.to_json(), |text| {
            Self::from_text(text)?.ok()?.to_json()
        })
    }

    /// A valid text of the type, for messages (`1.5` for `f64`), or `None`
    /// (the default).
    fn text_example() -> Option<String> {
        None
    }

    /// The value as a polars lazy frame, for displays that show data frames
    /// as tables (the command line, a web view), or `None` (the default).
    /// `LazyFrame`, `DataFrame` and [`lazy_frame_value!`](crate::lazy_frame_value)
    /// types return themselves.
    #[cfg(feature = "polars")]
    fn as_lazy_frame(&self) -> Option<polars::prelude::LazyFrame> {
        None
    }

    /// Turns a freshly produced value into its shareable form. Lazy values (a
    /// polars query) execute here; plain values are only fingerprinted.
    fn materialize(self, _ctx: &MaterializeContext<'_>) -> Result<Materialized<Self>, ValueError> {
        let fingerprint = self.fingerprint()?;
        Ok(Materialized {
            value: self,
            fingerprint,
            file: None,
        })
    }

    /// Writes the canonical encoding to `path` (the store makes this atomic).
    fn write_file(&self, path: &Path) -> Result<(), ValueError> {
        let mut bytes = Vec::new();
        self.encode(&mut bytes)?;
        crate::write_pieces::write_file(path, &bytes).map_err(|source| ValueError::Io {
            action: "cannot write",
            path: path.to_owned(),
            source,
        })
    }

    /// The stored values this value's encoding names by fingerprint (a view's
    /// underlying values). A store keeps them as long as it keeps this value,
    /// and records this value only together with them. None by default.
    ///
    /// A view must be a data node's own type: the implementations for `Vec`,
    /// `Option`, tuples and maps neither pass references on nor decode through
    /// a store, so a view nested in them would not be kept or readable.
    fn references(&self) -> Vec<Fingerprint> {
        Vec::new()
    }

    /// Decodes a value a store held in its database; `ctx` gives the files of
    /// the values it [references](Self::references). Defaults to
    /// [`decode`](Self::decode).
    fn decode_stored(input: &mut &[u8], ctx: &StoreContext<'_>) -> Result<Self, ValueError> {
        let _ = ctx;
        Self::decode(input)
    }

    /// Reads a value from its file in a store; `ctx` gives the fingerprint it
    /// is stored under and the files of the values it
    /// [references](Self::references). Defaults to [`read_file`](Self::read_file).
    fn read_stored_file(path: &Path, ctx: &StoreContext<'_>) -> Result<Self, ValueError> {
        let _ = ctx;
        Self::read_file(path)
    }

    /// The fingerprint of the layout of the type's encoding: what decides
    /// whether bytes stored by an earlier build still decode as this type.
    /// A stored value records it; bytes recorded under another schema are
    /// never decoded (the value counts as missing and its producer runs
    /// again), and task keys include their input and output types' schemas.
    ///
    /// The std types compose theirs (`Vec<T>` from `T`'s);
    /// [`serde_value!`](crate::serde_value) traces field names, order and
    /// types with `serde-reflection`. The default is the type's full name:
    /// a hand-written `Value` answers for its own encoding and should return
    /// a new schema (say, `schema::pinned::<Self>("2")`) whenever the encoding
    /// changes.
    ///
    /// # Errors
    /// When the layout cannot be determined (a serde type that cannot be
    /// traced and has no pinned schema): such a value is never stored.
    fn schema() -> Result<Fingerprint, ValueError> {
        Ok(crate::schema::named(std::any::type_name::<Self>()))
    }

    /// Whether values of this type may name external files (see
    /// [`external_files`](Self::external_files)). Override both together;
    /// `false` (the default) spares every file check.
    fn names_files() -> bool {
        false
    }

    /// Appends the external files (or directories) the value stands for. The
    /// runtime looks at them on every submit, and a node's effective
    /// fingerprint covers their content: editing a file re-runs the tasks
    /// that read a value naming it. `PathBuf` names itself, and `Vec`,
    /// `Option`, maps and tuples pass their items' files on. None by default.
    fn external_files<'a>(&'a self, out: &mut Vec<&'a Path>) {
        let _ = out;
    }

    /// Reads a value written by [`write_file`](Self::write_file).
    fn read_file(path: &Path) -> Result<Self, ValueError> {
        let bytes = std::fs::read(path).map_err(|source| ValueError::Io {
            action: "cannot read",
            path: path.to_owned(),
            source,
        })?;
        let mut input = bytes.as_slice();
        let value = Self::decode(&mut input)?;
        if !input.is_empty() {
            return Err(ValueError::decode::<Self>(format!(
                "{} trailing bytes in {}",
                input.len(),
                path.display()
            )));
        }
        Ok(value)
    }
}
