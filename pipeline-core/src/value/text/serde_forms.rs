//! The text forms of [`serde_value!`](crate::serde_value) types: `FromStr` /
//! `Display` where the type has them, serde JSON otherwise (autoref
//! specialization at the macro's expansion site, where the type is concrete),
//! and an example from `Default` or an enum's first variant.

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::DeserializeOwned;

use super::strict::unknown_field;
use super::{Json, json_to_text, looks_like_json};
use crate::Value;

/// Selects a `serde_value!` type's text form; see [`serde_value!`](crate::serde_value).
#[doc(hidden)]
pub struct SerdeText<T>(PhantomData<fn() -> T>);

impl<T> SerdeText<T> {
    /// The selector.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

/// The text form of types with `FromStr` and `Display` (preferred).
#[doc(hidden)]
pub trait ViaFromStr<T> {
    /// Reads text: `FromStr`, else JSON.
    fn read_text(&self, text: &str) -> Result<T, String>;
    /// Writes text: `Display`.
    fn write_text(&self, value: &T) -> Option<String>;
}

impl<T> ViaFromStr<T> for &SerdeText<T>
where
    T: FromStr + Display + DeserializeOwned,
    T::Err: Display,
{
    fn read_text(&self, text: &str) -> Result<T, String> {
        match text.trim().parse::<T>() {
            Ok(value) => Ok(value),
            Err(error) => serde_from_text::<T>(text).map_err(|_| error.to_string()),
        }
    }

    fn write_text(&self, value: &T) -> Option<String> {
        Some(value.to_string())
    }
}

/// The text form of other serde types: JSON.
#[doc(hidden)]
pub trait ViaSerde<T> {
    /// Reads text: JSON, a bare word standing for a string.
    fn read_text(&self, text: &str) -> Result<T, String>;
    /// Writes text: compact JSON, a string as its bare text (quoted where
    /// the bare text would read as another value).
    fn write_text(&self, value: &T) -> Option<String>;
}

impl<T: serde::Serialize + DeserializeOwned> ViaSerde<T> for SerdeText<T> {
    fn read_text(&self, text: &str) -> Result<T, String> {
        serde_from_text(text)
    }

    fn write_text(&self, value: &T) -> Option<String> {
        json_to_text(serde_to_json(value), |text| {
            serde_to_json(&serde_from_text::<T>(text).ok()?)
        })
    }
}

/// Selects a `serde_value!` type's example: its `Default` where it has one.
#[doc(hidden)]
pub struct SerdeExample<T>(PhantomData<fn() -> T>);

impl<T> SerdeExample<T> {
    /// The selector.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

/// The example of types with `Default` (preferred): the default's text.
#[doc(hidden)]
pub trait ExampleFromDefault<T> {
    /// The example.
    fn example(&self) -> Option<String>;
}

impl<T: Value + Default> ExampleFromDefault<T> for &SerdeExample<T> {
    fn example(&self) -> Option<String> {
        T::default().to_text()
    }
}

/// The example of other serde types: an enum's first variant.
#[doc(hidden)]
pub trait ExampleFromShape<T> {
    /// The example.
    fn example(&self) -> Option<String>;
}

impl<T: DeserializeOwned> ExampleFromShape<T> for SerdeExample<T> {
    fn example(&self) -> Option<String> {
        match shape::<T>() {
            Shape::Enum(variants) => variants.first().map(|v| (*v).to_owned()),
            Shape::Other => None,
        }
    }
}

/// A serde value as JSON.
#[doc(hidden)]
pub fn serde_to_json<T: serde::Serialize>(value: &T) -> Option<Json> {
    serde_json::to_value(value).ok()
}

/// A serde value from JSON; a field of an object that the type does not
/// take is refused (see [`unknown_field`]), where serde would drop it.
#[doc(hidden)]
pub fn serde_from_json<T: DeserializeOwned>(json: &Json) -> Result<T, String> {
    checked(T::deserialize(json).map_err(|e| e.to_string()), Some(json))
}

/// What was read from `json`, unless `json` has a field the type does not
/// take; a read that failed names that field too (a misspelt field is often
/// a missing one as well).
fn checked<T: DeserializeOwned>(read: Result<T, String>, json: Option<&Json>) -> Result<T, String> {
    match (read, json.and_then(unknown_field::<T>)) {
        (Ok(value), None) => Ok(value),
        (Ok(_), Some(unknown)) => Err(unknown.to_string()),
        (Err(error), None) => Err(error),
        (Err(error), Some(unknown)) => Err(format!("{error}; {unknown}")),
    }
}

/// A serde value from text: JSON (see [`serde_from_json`]); else the bare
/// word as a JSON string; else, for an enum, the variant the word names
/// without regard to case, `_` or `-`.
fn serde_from_text<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let text = text.trim();
    let syntax = match serde_json::from_str::<T>(text) {
        Err(error) if error.is_syntax() || error.is_eof() => error,
        read => {
            let json = serde_json::from_str::<Json>(text).ok();
            return checked(read.map_err(|e| e.to_string()), json.as_ref());
        }
    };
    if looks_like_json(text) {
        return Err(format!("not valid JSON: {syntax}"));
    }
    let word = Json::String(text.to_owned());
    let error = match T::deserialize(&word) {
        Ok(value) => return Ok(value),
        Err(error) => error.to_string(),
    };
    if let Shape::Enum(variants) = shape::<T>() {
        let wanted = loose(text);
        if let Some(variant) = variants.iter().find(|v| loose(v) == wanted) {
            return T::deserialize(&Json::String((*variant).to_owned())).map_err(|e| e.to_string());
        }
    }
    Err(error)
}

/// A name without case, `_` or `-`.
fn loose(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// What serde says a type looks like, as far as the text form needs it.
enum Shape {
    /// An enum with these variant names.
    Enum(&'static [&'static str]),
    /// Anything else.
    Other,
}

/// Asks `T`'s `Deserialize` what it expects, through a deserializer that
/// records the enum variants it is offered and fails.
fn shape<T: DeserializeOwned>() -> Shape {
    let mut probe = Probe(None);
    let _ = T::deserialize(&mut probe);
    probe.0.map_or(Shape::Other, Shape::Enum)
}

struct Probe(Option<&'static [&'static str]>);

#[derive(Debug)]
struct Probed;

impl Display for Probed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("probed")
    }
}

impl std::error::Error for Probed {}

impl serde::de::Error for Probed {
    fn custom<M: Display>(_: M) -> Self {
        Probed
    }
}

impl<'de> serde::Deserializer<'de> for &mut Probe {
    type Error = Probed;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Probed> {
        Err(Probed)
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probed> {
        self.0 = Some(variants);
        Err(Probed)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}
