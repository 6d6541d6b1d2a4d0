//! Values as people type them (a command line's `--set rate=0.2`, a web form)
//! and as JSON: the text and JSON forms of [`Value`], their erased operations
//! on [`ValueType`], the implementations for std types, and the helpers behind
//! [`serde_value!`](crate::serde_value).
//!
//! A type's *text form* is what its `FromStr` reads where it has one (`1.5`,
//! `true`, `data/x.csv`, `median`), else JSON (`[1, 2, 3]`,
//! `{"payment": 1000.0}`); a bare word stands for a JSON string, so a serde
//! enum reads `median` as well as `"median"` (its variant names compared
//! without regard to case, `_` or `-`).
//!
//! A string (`String`, `PathBuf`) is the text as typed, or a JSON string
//! when it starts with `"`: `North` and `"North"` are both `North`, so
//! quotes are never kept by accident. An `Option` is `None` for `null` and
//! for nothing at all (empty text), else `Some` of the inner type's text:
//! `"null"` and `""` quoted are those strings. [`Value::to_text`] writes
//! what reads back as the same value (`None` as `null`, `Some("null")` as
//! `"null"`, a string starting with `"` as a JSON string).

use std::any::Any;
use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use super::{Value, ValueType};

mod serde_forms;
mod strict;

#[doc(hidden)]
pub use serde_forms::{
    ExampleFromDefault, ExampleFromShape, SerdeExample, SerdeText, ViaFromStr, ViaSerde,
    serde_from_json, serde_to_json,
};
#[doc(hidden)]
pub use serde_json::Value as Json;

/// Why text or JSON could not be read as a value of a type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The type has no text or JSON form (it implements none of
    /// [`Value::from_text`] and [`Value::from_json`]).
    #[error("a value of type {type_name} cannot be given as text")]
    NoTextForm {
        /// The type.
        type_name: String,
    },
    /// The text does not read as the type.
    #[error("{text:?} is not a valid {type_name}: {reason}{}", example_hint(.example))]
    Invalid {
        /// The type.
        type_name: String,
        /// The text given (JSON, for a JSON input).
        text: String,
        /// What was wrong with it.
        reason: String,
        /// A valid text of the type, if the type can tell one.
        example: Option<String>,
    },
}

fn example_hint(example: &Option<String>) -> String {
    example
        .as_ref()
        .map_or_else(String::new, |e| format!(" (for example {e})"))
}

/// A value read from text or JSON, type-erased; `None`: no such form.
type Read = Option<Result<Box<dyn Any + Send + Sync>, String>>;

/// The erased text operations of one type (part of [`ValueType`]'s table).
pub(super) struct TextOps {
    from_text: fn(&str) -> Read,
    from_json: fn(&Json) -> Read,
    to_json: fn(&(dyn Any + Send + Sync)) -> Option<Json>,
    to_text: fn(&(dyn Any + Send + Sync)) -> Option<String>,
    text_example: fn() -> Option<String>,
}

/// The text operations of `T`, as plain generic functions.
pub(super) struct TextForms<T>(PhantomData<T>);

impl<T: Value> TextForms<T> {
    pub(super) const OPS: &'static TextOps = &TextOps {
        from_text: Self::from_text,
        from_json: Self::from_json,
        to_json: Self::to_json,
        to_text: Self::to_text,
        text_example: T::text_example,
    };

    fn from_text(text: &str) -> Read {
        T::from_text(text).map(|r| r.map(|v| Box::new(v) as Box<dyn Any + Send + Sync>))
    }

    fn from_json(json: &Json) -> Read {
        T::from_json(json).map(|r| r.map(|v| Box::new(v) as Box<dyn Any + Send + Sync>))
    }

    fn to_json(value: &(dyn Any + Send + Sync)) -> Option<Json> {
        super::downcast::<T>(value).to_json()
    }

    fn to_text(value: &(dyn Any + Send + Sync)) -> Option<String> {
        super::downcast::<T>(value).to_text()
    }
}

/// The text and JSON forms of values whose type is known only at run time
/// (what a command line or a web form does with a node's value).
///
/// ```
/// use pipeline_core::value::ValueType;
/// let rate = ValueType::of::<f64>();
/// let value = rate.parse("0.25").unwrap();
/// assert_eq!(value.downcast_ref::<f64>(), Some(&0.25));
/// assert_eq!(rate.to_text(&0.25_f64).as_deref(), Some("0.25"));
///
/// let err = rate.parse("a quarter").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "\"a quarter\" is not a valid f64: invalid float literal (for example 1.5)"
/// );
///
/// let weights = ValueType::of::<Vec<u32>>();
/// let value = weights.parse("[1, 2, 3]").unwrap();
/// assert_eq!(value.downcast_ref::<Vec<u32>>(), Some(&vec![1, 2, 3]));
/// assert_eq!(weights.to_json(&vec![1_u32, 2]), Some(serde_json::json!([1, 2])));
/// ```
impl ValueType {
    /// Reads a value of this type from its text form (see [`Value::from_text`]).
    ///
    /// # Errors
    /// [`TextError::NoTextForm`] if the type has none, [`TextError::Invalid`]
    /// (with the reason and a valid example) if the text does not read.
    pub fn parse(&self, text: &str) -> Result<Box<dyn Any + Send + Sync>, TextError> {
        match (self.0.text.from_text)(text) {
            None => Err(self.no_text_form()),
            Some(Ok(value)) => Ok(value),
            Some(Err(reason)) => Err(self.invalid(text.to_owned(), reason)),
        }
    }

    /// Reads a value of this type from JSON (see [`Value::from_json`]).
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn from_json(&self, json: &Json) -> Result<Box<dyn Any + Send + Sync>, TextError> {
        match (self.0.text.from_json)(json) {
            None => Err(self.no_text_form()),
            Some(Ok(value)) => Ok(value),
            Some(Err(reason)) => Err(self.invalid(json.to_string(), reason)),
        }
    }

    /// Whether values of this type can be read from text.
    pub fn has_text_form(&self) -> bool {
        (self.0.text.from_text)("").is_some()
    }

    /// A value of this type as JSON (see [`Value::to_json`]).
    ///
    /// # Panics
    /// If `value` is not of this type.
    pub fn to_json(&self, value: &(dyn Any + Send + Sync)) -> Option<Json> {
        (self.0.text.to_json)(value)
    }

    /// A value of this type in the text form [`parse`](Self::parse) reads
    /// (see [`Value::to_text`]).
    ///
    /// # Panics
    /// If `value` is not of this type.
    pub fn to_text(&self, value: &(dyn Any + Send + Sync)) -> Option<String> {
        (self.0.text.to_text)(value)
    }

    /// A valid text of this type, for messages (see [`Value::text_example`]).
    pub fn text_example(&self) -> Option<String> {
        (self.0.text.text_example)()
    }

    fn no_text_form(&self) -> TextError {
        TextError::NoTextForm {
            type_name: self.name(),
        }
    }

    fn invalid(&self, text: String, reason: String) -> TextError {
        TextError::Invalid {
            type_name: self.name(),
            text,
            reason,
            example: self.text_example(),
        }
    }
}

/// The text and JSON methods of the std implementations of [`Value`], one
/// line in each `impl` block.
macro_rules! text_forms {
    (number) => {
        fn from_text(text: &str) -> Option<Result<Self, String>> {
            Some(text::parse_str(text))
        }
        fn from_json(json: &text::Json) -> Option<Result<Self, String>> {
            Some(text::number_from_json(json))
        }
        fn to_json(&self) -> Option<text::Json> {
            Some(<Self as text::Number>::json(self))
        }
        fn to_text(&self) -> Option<String> {
            Some(self.to_string())
        }
        fn text_example() -> Option<String> {
            Some(<Self as text::Number>::EXAMPLE.to_owned())
        }
    };
    (from_str $example:literal, $json:ident, $from_json:expr) => {
        fn from_text(text: &str) -> Option<Result<Self, String>> {
            Some(text::parse_str(text))
        }
        fn from_json(json: &text::Json) -> Option<Result<Self, String>> {
            #[allow(clippy::redundant_closure_call)]
            Some(($from_json)(json))
        }
        fn to_json(&self) -> Option<text::Json> {
            Some(text::Json::$json((*self).into()))
        }
        fn to_text(&self) -> Option<String> {
            Some(self.to_string())
        }
        fn text_example() -> Option<String> {
            Some($example.to_owned())
        }
    };
    (unit) => {
        fn from_text(text: &str) -> Option<Result<Self, String>> {
            Some(match text.trim() {
                "" | "()" | "null" => Ok(()),
                other => Err(format!("expected (), found {other:?}")),
            })
        }
        fn from_json(json: &text::Json) -> Option<Result<Self, String>> {
            Some(match json {
                text::Json::Null => Ok(()),
                other => Err(format!("expected null, found {other}")),
            })
        }
        fn to_json(&self) -> Option<text::Json> {
            Some(text::Json::Null)
        }
        fn to_text(&self) -> Option<String> {
            Some("()".to_owned())
        }
        fn text_example() -> Option<String> {
            Some("()".to_owned())
        }
    };
    (string $example:literal, $from:expr, $text:expr) => {
        fn from_text(text: &str) -> Option<Result<Self, String>> {
            #[allow(clippy::redundant_closure_call)]
            Some(text::string_from_text(text).map(|s| ($from)(s.as_str())))
        }
        fn from_json(json: &text::Json) -> Option<Result<Self, String>> {
            #[allow(clippy::redundant_closure_call)]
            Some(text::string_from_json(json).map($from))
        }
        fn to_json(&self) -> Option<text::Json> {
            #[allow(clippy::redundant_closure_call)]
            Some(text::Json::String(($text)(self)))
        }
        fn to_text(&self) -> Option<String> {
            #[allow(clippy::redundant_closure_call)]
            Some(text::string_to_text(($text)(self)))
        }
        fn text_example() -> Option<String> {
            Some($example.to_owned())
        }
    };
    (path $example:literal) => {
        fn from_text(text: &str) -> Option<Result<Self, String>> {
            Some(text::path_from_text(text))
        }
        fn from_json(json: &text::Json) -> Option<Result<Self, String>> {
            Some(text::string_from_json(json).map(std::path::PathBuf::from))
        }
        fn to_json(&self) -> Option<text::Json> {
            Some(text::Json::String(self.to_string_lossy().into_owned()))
        }
        fn to_text(&self) -> Option<String> {
            Some(text::path_to_text(self))
        }
        fn text_example() -> Option<String> {
            Some($example.to_owned())
        }
    };
    (sequence $item:ident) => {
        fn from_json(json: &text::Json) -> Option<Result<Self, String>> {
            text::seq_from_json::<$item, Self>(json)
        }
        fn to_json(&self) -> Option<text::Json> {
            text::seq_to_json(self.iter())
        }
        fn text_example() -> Option<String> {
            text::seq_example::<$item>()
        }
    };
    (option $item:ident) => {
        fn from_text(text: &str) -> Option<Result<Self, String>> {
            let inner = $item::from_text(text)?;
            Some(if text::means_none(text) { Ok(None) } else { inner.map(Some) })
        }
        fn from_json(json: &text::Json) -> Option<Result<Self, String>> {
            let inner = $item::from_json(json)?;
            Some(if json.is_null() { Ok(None) } else { inner.map(Some) })
        }
        fn to_json(&self) -> Option<text::Json> {
            match self {
                None => $item::from_json(&text::Json::Null).map(|_| text::Json::Null),
                Some(value) => value.to_json(),
            }
        }
        fn to_text(&self) -> Option<String> {
            match self {
                None => $item::from_text("").map(|_| "null".to_owned()),
                Some(value) => value.to_text().map(text::some_to_text),
            }
        }
        fn text_example() -> Option<String> {
            $item::text_example()
        }
    };
    (map $key:ident, $value:ident) => {
        fn from_json(json: &text::Json) -> Option<Result<Self, String>> {
            text::map_from_json::<$key, $value>(json)
        }
        fn to_json(&self) -> Option<text::Json> {
            text::map_to_json(self)
        }
        fn text_example() -> Option<String> {
            text::map_example::<$key, $value>()
        }
    };
    (tuple $($name:ident),+) => {
        fn from_json(json: &text::Json) -> Option<Result<Self, String>> {
            $(let _has_form = $name::from_json(&text::Json::Null)?;)+
            let count = [$(stringify!($name)),+].len();
            Some(text::tuple_items(json, count).and_then(|items| {
                let mut positions = 0..;
                Ok(($(text::tuple_item::<$name>(items, &mut positions)?,)+))
            }))
        }
        #[allow(non_snake_case)]
        fn to_json(&self) -> Option<text::Json> {
            let ($($name,)+) = self;
            Some(text::Json::Array(vec![$($name.to_json()?),+]))
        }
        fn text_example() -> Option<String> {
            let items = vec![$(text::json_example::<$name>()?),+];
            Some(text::Json::Array(items).to_string())
        }
    };
}

/// The numbers' JSON form and example.
pub(super) trait Number: Display {
    /// A valid text.
    const EXAMPLE: &'static str;
    /// The number as JSON.
    fn json(&self) -> Json;
}

macro_rules! integers {
    ($($ty:ty),*) => {$(
        impl Number for $ty {
            const EXAMPLE: &'static str = "42";
            fn json(&self) -> Json {
                integer_to_json(self)
            }
        }
    )*};
}

integers!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

impl Number for f32 {
    const EXAMPLE: &'static str = "1.5";
    fn json(&self) -> Json {
        float_to_json(self.to_string())
    }
}

impl Number for f64 {
    const EXAMPLE: &'static str = "1.5";
    fn json(&self) -> Json {
        float_to_json(self.to_string())
    }
}

// ---------------------------------------------------------------------------
// Helpers of the std implementations (see `text_forms!` in `value.rs`).

/// Reads text through `FromStr`, ignoring surrounding whitespace.
pub(super) fn parse_str<T: FromStr>(text: &str) -> Result<T, String>
where
    T::Err: Display,
{
    text.trim().parse::<T>().map_err(|e| e.to_string())
}

/// A number from a JSON number, or from a string (`"NaN"`, or digits of an
/// integer wider than JSON numbers carry), through `FromStr`.
pub(super) fn number_from_json<T: FromStr>(json: &Json) -> Result<T, String>
where
    T::Err: Display,
{
    match json {
        Json::Number(n) => parse_str(&n.to_string()),
        Json::String(s) => parse_str(s),
        other => Err(format!("expected a number, found {other}")),
    }
}

/// An integer as a JSON number, or as a string when it does not fit one.
fn integer_to_json(value: &impl Display) -> Json {
    let text = value.to_string();
    if let Ok(n) = text.parse::<i64>() {
        return Json::from(n);
    }
    if let Ok(n) = text.parse::<u64>() {
        return Json::from(n);
    }
    Json::String(text)
}

/// A float (as its `Display` text) as a JSON number, or as a string where
/// JSON has none (NaN, infinities).
fn float_to_json(text: String) -> Json {
    text.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Json::String(text), Json::Number)
}

/// The text form of strings (`String`, `PathBuf`): the text as typed,
/// unless it starts with `"` (after spaces): then it is a JSON string, its
/// quotes removed and its escapes read (`"North"` is `North`, `"null"` is
/// `null`, `"say \"hi\""` is `say "hi"`), so quotes are never kept by
/// accident; one that is not valid JSON is refused.
pub(super) fn string_from_text(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if !trimmed.starts_with('"') {
        return Ok(text.to_owned());
    }
    serde_json::from_str::<String>(trimmed).map_err(|e| {
        format!(
            "text starting with `\"` is read as a JSON string, and this one is not valid JSON \
             ({e}); write it without the quotes, or as JSON with its inner quotes escaped \
             (`\"say \\\"hi\\\"\"`)"
        )
    })
}

/// A string in the text form [`string_from_text`] reads back: as is, or
/// as a JSON string where it starts with `"` (after spaces).
pub(super) fn string_to_text(text: String) -> String {
    if text.trim_start().starts_with('"') {
        Json::String(text).to_string()
    } else {
        text
    }
}

/// A path read from text, as a string is ([`string_from_text`]); nothing
/// at all (`--set path=`) is refused, as it names no file (`""` quoted is
/// the empty path, for who means it).
pub(super) fn path_from_text(text: &str) -> Result<std::path::PathBuf, String> {
    if text.trim().is_empty() {
        return Err("an empty path names no file: give a file's path (`data/input.csv`)".into());
    }
    string_from_text(text).map(std::path::PathBuf::from)
}

/// A path's text form, which [`path_from_text`] reads back: the empty
/// path quoted (`""`).
pub(super) fn path_to_text(path: &std::path::Path) -> String {
    let text = path.to_string_lossy().into_owned();
    if text.trim().is_empty() {
        Json::String(text).to_string()
    } else {
        string_to_text(text)
    }
}

/// Whether an `Option`'s text means `None`: `null`, or nothing at all
/// (empty or only spaces: `--set region=`, a form's blank field).
pub(super) fn means_none(text: &str) -> bool {
    matches!(text.trim(), "" | "null")
}

/// The text of `Some(value)` given the value's own text: as is, or as a
/// JSON string where the text alone would mean `None` (`""`, `"null"`).
pub(super) fn some_to_text(text: String) -> String {
    if means_none(&text) {
        Json::String(text).to_string()
    } else {
        text
    }
}

/// A string from a JSON string.
pub(super) fn string_from_json(json: &Json) -> Result<&str, String> {
    match json {
        Json::String(s) => Ok(s),
        other => Err(format!("expected a string, found {other}")),
    }
}

/// Whether `T` has a JSON form (see the contract of [`Value::from_json`]).
fn has_json_form<T: Value>() -> bool {
    T::from_json(&Json::Null).is_some()
}

/// Reads text as JSON, a bare word standing for a JSON string: the default
/// [`Value::from_text`] of types with a JSON form.
pub(super) fn json_from_text<T: Value>(text: &str) -> Option<Result<T, String>> {
    if !has_json_form::<T>() {
        return None;
    }
    let trimmed = text.trim();
    Some(match serde_json::from_str::<Json>(trimmed) {
        Ok(json) => match T::from_json(&json) {
            Some(Ok(value)) => Ok(value),
            Some(Err(reason)) => match json {
                // `123` for a string-like type: the text itself.
                Json::String(_) => Err(reason),
                _ => T::from_json(&Json::String(trimmed.to_owned()))
                    .and_then(Result::ok)
                    .ok_or(reason),
            },
            None => Err("no JSON form".to_owned()),
        },
        Err(syntax) => match T::from_json(&Json::String(trimmed.to_owned())) {
            Some(Ok(value)) => Ok(value),
            _ if looks_like_json(trimmed) => Err(format!("not valid JSON: {syntax}")),
            Some(Err(reason)) => Err(reason),
            None => Err(syntax.to_string()),
        },
    })
}

/// Whether text was meant as JSON rather than a bare word.
pub(super) fn looks_like_json(text: &str) -> bool {
    text.starts_with(['[', '{', '"'])
}

/// The default [`Value::to_text`]: compact JSON, a JSON string as its bare
/// text where `read` (the type's text reader, its result as JSON) reads
/// that back as the same string, else as a JSON string (`"null"`, `"42"`,
/// `" padded "` for a string-like serde type).
pub(crate) fn json_to_text(
    json: Option<Json>,
    read: impl Fn(&str) -> Option<Json>,
) -> Option<String> {
    match json? {
        Json::String(s) if read(&s).as_ref() == Some(&Json::String(s.clone())) => Some(s),
        Json::String(s) => Some(Json::String(s).to_string()),
        other => Some(other.to_string()),
    }
}

/// The example of `T` as JSON (its example text, read and written back).
pub(super) fn json_example<T: Value>() -> Option<Json> {
    let text = T::text_example()?;
    T::from_text(&text)?.ok()?.to_json()
}

/// An example collection holding one example item: `[1.5]`.
pub(super) fn seq_example<T: Value>() -> Option<String> {
    Some(Json::Array(vec![json_example::<T>()?]).to_string())
}

/// A map example with one entry: `{"key": 1.5}`.
pub(super) fn map_example<K: Value, V: Value>() -> Option<String> {
    let key = K::text_example()?;
    let mut map = serde_json::Map::new();
    map.insert(key, json_example::<V>()?);
    Some(Json::Object(map).to_string())
}

/// A collection from a JSON array, each item through `T::from_json`.
pub(super) fn seq_from_json<T: Value, C: FromIterator<T>>(
    json: &Json,
) -> Option<Result<C, String>> {
    if !has_json_form::<T>() {
        return None;
    }
    Some(match json {
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match T::from_json(item) {
                Some(Ok(value)) => Ok(value),
                Some(Err(reason)) => Err(format!("item {i}: {reason}")),
                None => Err(format!("item {i}: no JSON form")),
            })
            .collect(),
        other => Err(format!("expected a JSON array, found {other}")),
    })
}

/// Items as a JSON array, if every item has a JSON form.
pub(super) fn seq_to_json<'a, T: Value>(items: impl Iterator<Item = &'a T>) -> Option<Json> {
    items
        .map(Value::to_json)
        .collect::<Option<Vec<_>>>()
        .map(Json::Array)
}

/// A map from a JSON object: keys through `K::from_text`, values through
/// `V::from_json`.
pub(super) fn map_from_json<K: Value + Ord, V: Value>(
    json: &Json,
) -> Option<Result<std::collections::BTreeMap<K, V>, String>> {
    if K::from_text("").is_none() || !has_json_form::<V>() {
        return None;
    }
    Some(match json {
        Json::Object(entries) => entries
            .iter()
            .map(|(key, value)| {
                let k = match K::from_text(key)? {
                    Ok(k) => k,
                    Err(reason) => return Some(Err(format!("key {key:?}: {reason}"))),
                };
                Some(match V::from_json(value)? {
                    Ok(v) => Ok((k, v)),
                    Err(reason) => Err(format!("value of {key:?}: {reason}")),
                })
            })
            .map(|entry| entry.unwrap_or_else(|| Err("no text form".to_owned())))
            .collect(),
        other => Err(format!("expected a JSON object, found {other}")),
    })
}

/// A map as a JSON object (keys in their text form).
pub(super) fn map_to_json<K: Value, V: Value>(
    map: &std::collections::BTreeMap<K, V>,
) -> Option<Json> {
    let mut object = serde_json::Map::new();
    for (key, value) in map {
        object.insert(key.to_text()?, value.to_json()?);
    }
    Some(Json::Object(object))
}

/// The items of a JSON array of exactly `len` items.
pub(super) fn tuple_items(json: &Json, len: usize) -> Result<&[Json], String> {
    match json {
        Json::Array(items) if items.len() == len => Ok(items),
        other => Err(format!(
            "expected a JSON array of {len} items, found {other}"
        )),
    }
}

/// The next tuple item through `T::from_json`.
pub(super) fn tuple_item<T: Value>(
    items: &[Json],
    positions: &mut std::ops::RangeFrom<usize>,
) -> Result<T, String> {
    let index = positions.next().expect("an unbounded range");
    match T::from_json(&items[index]) {
        Some(Ok(value)) => Ok(value),
        Some(Err(reason)) => Err(format!("item {index}: {reason}")),
        None => Err(format!("item {index}: no JSON form")),
    }
}
