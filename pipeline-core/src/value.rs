//! The [`Value`] trait every data node type implements, its type-erased form
//! ([`ValueType`], [`ErasedValue`]) and the implementations for std types.
//!
//! A value has a *canonical encoding*: equal values encode to equal bytes, and the
//! blake3 digest of those bytes is the value's [`Fingerprint`]. The encoding is also
//! what a persistent store writes to disk.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fingerprint::Fingerprint;

#[doc(hidden)]
#[macro_use]
pub mod text;

pub(crate) mod definition;
mod erased;
mod error;
mod std_impls;

use definition::Value;

pub use erased::ValueType;
use erased::*;
pub use error::{ValueError, short_type_name};
pub use std_impls::{decode_serde, encode_serde, render_serde};
use text::Json;
pub use text::TextError;

/// A value shared between the version cache, the store and running tasks.
///
/// Tasks receive `&T` borrowed from it: values are never cloned or serialized
/// between tasks of one process.
pub type ErasedValue = Arc<dyn Any + Send + Sync>;

/// Where lazy values may put the files they produce while being materialized,
/// and the runtime's memory for decoded values.
#[derive(Clone, Copy)]
pub struct MaterializeContext<'a> {
    /// A directory on the same file system as the store's objects, for files that
    /// the store may later adopt by renaming them.
    pub scratch_dir: &'a Path,
    /// Decoded values kept between tasks (see [`ValueMemory`](crate::memory::ValueMemory)): a value
    /// may keep what it decoded or wrote here, and find what others kept.
    pub memory: &'a crate::memory::ValueMemory,
    /// The store's cache of partial results, if any: a query over stored
    /// frames takes the aggregations it holds from there (see
    /// [`crate::partial_results`]).
    pub partials: Option<&'a dyn crate::partial_results::PartialResults>,
}

impl fmt::Debug for MaterializeContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MaterializeContext")
            .field("scratch_dir", &self.scratch_dir)
            .field("memory", &self.memory)
            .field("partials", &self.partials.is_some())
            .finish()
    }
}

/// A value after the executor materialized it: ready to share and fingerprinted.
#[derive(Debug)]
pub struct Materialized<T> {
    /// The value to hand to consumers (for a lazy frame: a scan of the written file).
    pub value: T,
    /// The fingerprint of the value's canonical encoding.
    pub fingerprint: Fingerprint,
    /// A file in the scratch directory that already holds the canonical encoding,
    /// if materializing wrote one; the store may adopt it instead of encoding again.
    pub file: Option<PathBuf>,
}

/// What a store offers a value it reads back: the fingerprint the value is
/// stored under, and the files of the other values it holds.
///
/// A *view* (a value that is a recipe over another stored value, such as a
/// few derived columns over a data frame's file) names that value by
/// fingerprint in its encoding, lists it in [`Value::references`], and finds
/// its file here when it is read in a new process.
///
/// ```
/// use std::path::PathBuf;
/// use pipeline_core::{Value};
/// use pipeline_core::fingerprint::Fingerprint;
/// use pipeline_core::value::{StoreContext, ValueError};
///
/// /// The first `len` bytes of another stored value, read from its file.
/// struct Head { of: Fingerprint, len: u64, bytes: Vec<u8> }
///
/// impl Value for Head {
///     fn encode(&self, out: &mut Vec<u8>) -> Result<(), ValueError> {
///         out.extend_from_slice(self.of.as_bytes());
///         out.extend_from_slice(&self.len.to_le_bytes());
///         Ok(())
///     }
///     fn decode(_: &mut &[u8]) -> Result<Self, ValueError> {
///         Err(ValueError::decode::<Self>("a view is read through its store"))
///     }
///     fn decode_stored(input: &mut &[u8], ctx: &StoreContext<'_>) -> Result<Self, ValueError> {
///         let (of, len) = input.split_at(32);
///         let of = Fingerprint::from_bytes(of.try_into().unwrap());
///         let len = u64::from_le_bytes(len.try_into().unwrap());
///         *input = &[];
///         let file = ctx.file_of(&of)?;
///         let mut bytes = std::fs::read(&file).map_err(|source| ValueError::Io {
///             action: "cannot read",
///             path: file,
///             source,
///         })?;
///         bytes.truncate(len as usize);
///         Ok(Head { of, len, bytes })
///     }
///     fn references(&self) -> Vec<Fingerprint> {
///         vec![self.of]
///     }
/// }
///
/// // What a store does when it reads the view back: hands it the file of
/// // the value it names.
/// let dir = tempfile::tempdir().unwrap();
/// let of = Fingerprint::of_bytes(b"hello, world");
/// std::fs::write(dir.path().join("hello"), b"hello, world").unwrap();
/// let files = |fp: &Fingerprint| {
///     if *fp == of { Ok(dir.path().join("hello")) } else { Err("not stored".to_owned()) }
/// };
/// let head = Head { of, len: 5, bytes: b"hello".to_vec() };
/// let mut encoded = Vec::new();
/// head.encode(&mut encoded).unwrap();
/// let ctx = StoreContext::new(head.fingerprint().unwrap(), &files);
/// let read = Head::decode_stored(&mut encoded.as_slice(), &ctx).unwrap();
/// assert_eq!(read.bytes, b"hello");
/// assert_eq!(read.references(), vec![of]);
/// ```
pub struct StoreContext<'a> {
    fingerprint: Fingerprint,
    files: &'a dyn Fn(&Fingerprint) -> Result<PathBuf, String>,
}

impl<'a> StoreContext<'a> {
    /// A context for reading the value stored under `fingerprint`; `files`
    /// returns the checked file of another stored value, or why it has none.
    pub fn new(
        fingerprint: Fingerprint,
        files: &'a dyn Fn(&Fingerprint) -> Result<PathBuf, String>,
    ) -> Self {
        Self { fingerprint, files }
    }

    /// The fingerprint of the value being read.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The file holding the canonical encoding of the stored value
    /// `fingerprint`, checked against its content hash. A value small enough
    /// to live in the database is written out to a scratch file first.
    ///
    /// # Errors
    /// [`ValueError::Reference`] if the store does not hold that value intact.
    pub fn file_of(&self, fingerprint: &Fingerprint) -> Result<PathBuf, ValueError> {
        (self.files)(fingerprint).map_err(|reason| ValueError::Reference {
            fingerprint: *fingerprint,
            reason,
        })
    }
}

impl fmt::Debug for StoreContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreContext")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Implements [`Value`] for types that implement `serde::Serialize` and
/// `serde::Deserialize`, using a canonical compact encoding.
///
/// The type's schema (see [`Value::schema`]) is traced with
/// `serde-reflection`: field names, order and types, of the type and of every
/// type it contains. Reordering, renaming or retyping a field changes it, so
/// values stored under the old definition are never decoded as the new one.
/// A type `serde-reflection` cannot trace (a `Deserialize` that rejects the
/// tracer's sample values, say) is refused when stored, with a message; give
/// it a schema by hand with `serde_value!(Type, schema = "1")` and change the
/// string whenever the type's layout changes.
///
/// The type's JSON form is serde's; its text form (what a command line's
/// `--set node=…` reads, see [`Value::from_text`]) is its `FromStr` and
/// `Display` where it has both, else JSON, with a bare word standing for a
/// string and, for an enum, naming a variant without regard to case, `_` or
/// `-` (`median` for `Median`). Its example in messages is its `Default`
/// where it has one, else an enum's first variant.
///
/// Use ordered collections (`BTreeMap`, not `HashMap`) inside such types: a
/// `HashMap` iterates in a random order, so equal maps would get different
/// fingerprints and never be skipped.
///
/// ```
/// use pipeline_core::{serde_value, Value};
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct Thresholds { payment: f64, score: f64 }
/// serde_value!(Thresholds);
///
/// /// A type whose schema its author pins.
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Pinned { label: String }
/// serde_value!(Pinned, schema = "1");
///
/// let t = Thresholds { payment: 1000.0, score: 1.5 };
/// let mut bytes = Vec::new();
/// t.encode(&mut bytes).unwrap();
/// assert_eq!(Thresholds::decode(&mut bytes.as_slice()).unwrap(), t);
/// assert_ne!(Thresholds::schema().unwrap(), Pinned::schema().unwrap());
/// ```
#[macro_export]
macro_rules! serde_value {
    ($ty:ty, schema = $pin:expr $(,)?) => {
        $crate::serde_value!(@impl $ty, $crate::schema::pinned::<$ty>($pin));
    };
    (@impl $ty:ty, $schema:expr) => {
        impl $crate::Value for $ty {
            fn encode(&self, out: &mut ::std::vec::Vec<u8>) -> ::std::result::Result<(), $crate::value::ValueError> {
                $crate::value::encode_serde(self, out)
            }
            fn decode(input: &mut &[u8]) -> ::std::result::Result<Self, $crate::value::ValueError> {
                $crate::value::decode_serde(input)
            }
            fn render(&self) -> ::std::option::Option<::std::string::String> {
                $crate::value::render_serde(self)
            }
            fn schema() -> ::std::result::Result<$crate::fingerprint::Fingerprint, $crate::value::ValueError> {
                $schema
            }
            fn from_text(
                text: &str,
            ) -> ::std::option::Option<::std::result::Result<Self, ::std::string::String>> {
                #[allow(unused_imports)]
                use $crate::value::text::{ViaFromStr as _, ViaSerde as _};
                ::std::option::Option::Some(
                    (&&$crate::value::text::SerdeText::<$ty>::new()).read_text(text),
                )
            }
            fn from_json(
                json: &$crate::value::text::Json,
            ) -> ::std::option::Option<::std::result::Result<Self, ::std::string::String>> {
                ::std::option::Option::Some($crate::value::text::serde_from_json(json))
            }
            fn to_json(&self) -> ::std::option::Option<$crate::value::text::Json> {
                $crate::value::text::serde_to_json(self)
            }
            fn to_text(&self) -> ::std::option::Option<::std::string::String> {
                #[allow(unused_imports)]
                use $crate::value::text::{ViaFromStr as _, ViaSerde as _};
                (&&$crate::value::text::SerdeText::<$ty>::new()).write_text(self)
            }
            fn text_example() -> ::std::option::Option<::std::string::String> {
                #[allow(unused_imports)]
                use $crate::value::text::{ExampleFromDefault as _, ExampleFromShape as _};
                (&&$crate::value::text::SerdeExample::<$ty>::new()).example()
            }
        }
    };
    ($($ty:ty),+ $(,)?) => {$(
        $crate::serde_value!(@impl $ty, $crate::schema::traced::<$ty>());
    )+};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Value + PartialEq + fmt::Debug>(value: T) {
        let mut bytes = Vec::new();
        value.encode(&mut bytes).unwrap();
        let mut input = bytes.as_slice();
        assert_eq!(T::decode(&mut input).unwrap(), value);
        assert!(input.is_empty());
        let ty = ValueType::of::<T>();
        let erased = ty.decode(&bytes).unwrap();
        assert_eq!(
            ty.fingerprint(&*erased).unwrap(),
            value.fingerprint().unwrap()
        );
    }

    #[test]
    fn std_values_round_trip() {
        round_trip(42_i64);
        round_trip(-1.25_f64);
        round_trip(true);
        round_trip('λ');
        round_trip(String::from("héllo"));
        round_trip(vec![Some(1_u32), None]);
        round_trip((1_u8, String::from("a"), vec![2.5_f32]));
        round_trip(BTreeMap::from([(String::from("k"), 3_i32)]));
        round_trip(PathBuf::from("data/x.csv"));
        round_trip(());
    }

    #[test]
    fn std_values_render_like_debug() {
        assert_eq!(1.0_f64.render().as_deref(), Some("1.0"));
        assert_eq!(String::from("a").render().as_deref(), Some("\"a\""));
        assert_eq!(
            vec![Some(1_u8), None].render().as_deref(),
            Some("[Some(1), None]")
        );
        assert_eq!((1_i32, true).render().as_deref(), Some("(1, true)"));
        let erased: ErasedValue = Arc::new(BTreeMap::from([(1_u8, 'x')]));
        assert_eq!(
            ValueType::of::<BTreeMap<u8, char>>()
                .render(&*erased)
                .as_deref(),
            Some("{1: 'x'}")
        );
    }

    #[test]
    fn type_names_read_like_rust() {
        assert_eq!(ValueType::of::<f64>().name(), "f64");
        assert_eq!(
            ValueType::of::<Vec<Option<String>>>().name(),
            "Vec<Option<String>>"
        );
        assert_eq!(short_type_name("alloc::vec::Vec<my::Thing>"), "Vec<Thing>");
    }

    #[test]
    fn truncated_bytes_are_a_decode_error_not_a_panic() {
        let mut bytes = Vec::new();
        String::from("hello").encode(&mut bytes).unwrap();
        bytes.truncate(bytes.len() - 1);
        assert!(matches!(
            String::decode(&mut bytes.as_slice()),
            Err(ValueError::Decode { .. })
        ));
        assert!(ValueType::of::<Vec<u64>>().decode(&[255; 8]).is_err());
    }

    #[test]
    fn a_path_names_itself_and_collections_pass_their_paths_on() {
        let paths = vec![PathBuf::from("a.csv"), PathBuf::from("b.csv")];
        let erased: ErasedValue = Arc::new(Some(paths.clone()));
        let ty = ValueType::of::<Option<Vec<PathBuf>>>();
        assert!(ty.names_files());
        assert_eq!(
            ty.external_files(&*erased),
            [Path::new("a.csv"), Path::new("b.csv")]
        );
        assert!(!ValueType::of::<Vec<String>>().names_files());
        // The fingerprint is the path as written, never the file's state.
        assert_eq!(
            paths[0].fingerprint().unwrap(),
            PathBuf::from("a.csv").fingerprint().unwrap()
        );
    }

    #[test]
    fn schemas_compose_and_differ_by_type() {
        let schema = |ty: ValueType| ty.schema().unwrap();
        assert_ne!(
            schema(ValueType::of::<Vec<i64>>()),
            schema(ValueType::of::<Vec<u64>>())
        );
        assert_ne!(
            schema(ValueType::of::<(String, i64)>()),
            schema(ValueType::of::<(i64, String)>())
        );
        assert_eq!(
            schema(ValueType::of::<Option<f64>>()),
            Option::<f64>::schema().unwrap()
        );
    }
}
