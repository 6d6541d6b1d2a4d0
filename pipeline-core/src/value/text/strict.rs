//! Fields of a JSON object that a serde type does not take. Serde drops an
//! unknown field of a struct without a word (unless the type says
//! `#[serde(deny_unknown_fields)]`), so `--set settings='{"dicount": 0.1}'`
//! would write the default discount and leave the typo unsaid.
//! [`unknown_field`] reads the JSON again through a deserializer that,
//! wherever the type asks for a struct or a struct variant (naming the
//! fields it takes, aliases included), checks the JSON object's keys
//! against them, at any depth.
//!
//! Only those are checked: a map (`BTreeMap`, `HashMap`) takes any key, a
//! struct with a `#[serde(flatten)]` field asks for a map and so takes any
//! key too, and what serde reads through its own buffer (untagged and
//! internally tagged enums, flattened fields) is not looked into. A
//! difference between this deserializer and serde_json's own fails only
//! this check, never the value: the caller refuses only the unknown field
//! found.

use std::cell::RefCell;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};
use serde_json::map::Iter as EntryIter;
use serde_json::{Error, Value as Json};

/// A field of the JSON that the type does not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownField {
    /// Where it is: `dicount`, `carrier.max_kgs`, `stops[2].town`.
    pub(crate) path: String,
    /// The struct (or enum variant) that does not take it.
    pub(crate) owner: String,
    /// The fields it takes.
    pub(crate) fields: &'static [&'static str],
}

impl fmt::Display for UnknownField {
    /// ``unknown field `carrier.max_kgs`; the fields of `Carrier`: name, max_kg``
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown field `{}`; the fields of `{}`: {}",
            self.path,
            self.owner,
            self.fields.join(", ")
        )
    }
}

/// The first field of `json` that `T` does not take, if any (`T` read
/// `json` already: this reads it again).
pub(crate) fn unknown_field<T: DeserializeOwned>(json: &Json) -> Option<UnknownField> {
    let found = RefCell::new(None);
    let _ = T::deserialize(Strict {
        json,
        path: String::new(),
        found: &found,
    });
    found.into_inner()
}

/// `json` at `path`, read as serde_json reads a `&Value`, except that a
/// struct's object is checked against its fields first.
struct Strict<'de, 'a> {
    json: &'de Json,
    path: String,
    found: &'a RefCell<Option<UnknownField>>,
}

/// `path` one step further: `.key` (or `key` at the top), or `[index]`.
fn step(path: &str, step: Step<'_>) -> String {
    match (path.is_empty(), step) {
        (_, Step::Here) => path.to_owned(),
        (_, Step::Index(index)) => format!("{path}[{index}]"),
        (true, Step::Key(key)) => key.to_owned(),
        (false, Step::Key(key)) => format!("{path}.{key}"),
    }
}

/// A step into a JSON value.
#[derive(Clone, Copy)]
enum Step<'k> {
    /// No step: the same value.
    Here,
    Key(&'k str),
    Index(usize),
}

impl<'de, 'a> Strict<'de, 'a> {
    fn child(&self, json: &'de Json, into: Step<'_>) -> Self {
        Strict {
            json,
            path: step(&self.path, into),
            found: self.found,
        }
    }

    fn seq(&self, items: &'de [Json]) -> Seq<'de, 'a> {
        Seq {
            items: items.iter().enumerate(),
            parent: self.child(self.json, Step::Here),
        }
    }

    fn map(&self, entries: &'de serde_json::Map<String, Json>) -> Map<'de, 'a> {
        Map {
            entries: entries.iter(),
            value: None,
            parent: self.child(self.json, Step::Here),
        }
    }

    /// Records the first key of `object` not among `fields`, as an error.
    fn check(
        &self,
        object: &serde_json::Map<String, Json>,
        owner: &str,
        fields: &'static [&'static str],
    ) -> Result<(), Error> {
        let Some(key) = object.keys().find(|key| !fields.contains(&key.as_str())) else {
            return Ok(());
        };
        let unknown = UnknownField {
            path: step(&self.path, Step::Key(key)),
            owner: owner.to_owned(),
            fields,
        };
        self.found.borrow_mut().get_or_insert(unknown);
        Err(de::Error::custom("unknown field"))
    }

    fn structure<V: Visitor<'de>>(
        self,
        owner: &str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.json {
            Json::Object(object) => {
                self.check(object, owner, fields)?;
                visitor.visit_map(self.map(object))
            }
            Json::Array(items) => visitor.visit_seq(self.seq(items)),
            other => other.deserialize_any(visitor),
        }
    }
}

/// The `deserialize_*` methods handed to serde_json's `&Value` as they are.
macro_rules! as_serde_json {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.json.$method(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Strict<'de, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.json {
            Json::Array(items) => visitor.visit_seq(self.seq(items)),
            Json::Object(entries) => visitor.visit_map(self.map(entries)),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.json {
            Json::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.json {
            Json::Array(items) => visitor.visit_seq(self.seq(items)),
            other => other.deserialize_seq(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.json {
            Json::Object(entries) => visitor.visit_map(self.map(entries)),
            other => other.deserialize_map(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.structure(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.json {
            Json::Object(entries) if entries.len() == 1 => {
                let (variant, value) = entries.iter().next().expect("one entry");
                visitor.visit_enum(Variant {
                    name: variant,
                    value: self.child(value, Step::Key(variant)),
                })
            }
            other => other.deserialize_enum(name, variants, visitor),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    as_serde_json! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_unit
        deserialize_identifier
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.json.deserialize_unit_struct(name, visitor)
    }
}

/// The items of a JSON array.
struct Seq<'de, 'a> {
    items: std::iter::Enumerate<std::slice::Iter<'de, Json>>,
    parent: Strict<'de, 'a>,
}

impl<'de> de::SeqAccess<'de> for Seq<'de, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some((index, item)) => seed
                .deserialize(self.parent.child(item, Step::Index(index)))
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of a JSON object.
struct Map<'de, 'a> {
    entries: EntryIter<'de>,
    value: Option<(&'de String, &'de Json)>,
    parent: Strict<'de, 'a>,
}

impl<'de> de::MapAccess<'de> for Map<'de, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        seed.deserialize(Key(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (key, value) = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value before its key"))?;
        seed.deserialize(self.parent.child(value, Step::Key(key)))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum's variant given as `{"Variant": value}`.
struct Variant<'de, 'a> {
    name: &'de str,
    value: Strict<'de, 'a>,
}

impl<'de, 'a> de::EnumAccess<'de> for Variant<'de, 'a> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        Ok((seed.deserialize(Key(self.name))?, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'de, '_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        de::Deserialize::deserialize(self.value.json)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.value)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.value.deserialize_seq(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.value.structure(self.name, fields, visitor)
    }
}

/// An object's key: a string, or a number or `bool` written as one (JSON
/// keys are strings), as serde_json reads keys.
struct Key<'de>(&'de str);

macro_rules! parsed_key {
    ($($method:ident $visit:ident $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0.parse::<$ty>() {
                Ok(value) => visitor.$visit(value),
                Err(_) => visitor.visit_borrowed_str(self.0),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let key = de::value::BorrowedStrDeserializer::<Error>::new(self.0);
        key.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    parsed_key! {
        deserialize_bool visit_bool bool, deserialize_i8 visit_i8 i8,
        deserialize_i16 visit_i16 i16, deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64, deserialize_u8 visit_u8 u8,
        deserialize_u16 visit_u16 u16, deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64, deserialize_f32 visit_f32 f32,
        deserialize_f64 visit_f64 f64
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Carrier {
        name: String,
        #[serde(default, alias = "limit_kg")]
        max_kg: f64,
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Settings {
        discount: f64,
        carrier: Carrier,
        #[serde(default)]
        stops: Vec<Carrier>,
        #[serde(default)]
        surcharges: BTreeMap<String, f64>,
        #[serde(default)]
        by_weight: BTreeMap<u32, Carrier>,
        #[serde(default)]
        tariffs: HashMap<String, Carrier>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Required {
        max_kg: f64,
    }

    crate::serde_value!(Carrier, Required);

    fn unknown(json: Json) -> Option<String> {
        Settings::deserialize(&json).expect("serde reads it");
        unknown_field::<Settings>(&json).map(|u| u.to_string())
    }

    #[test]
    fn a_field_the_struct_does_not_take_is_found_at_any_depth() {
        let carrier = json!({"name": "Post", "max_kg": 30.0});
        assert_eq!(
            unknown(json!({"dicount": 0.1, "discount": 0.2, "carrier": carrier})).as_deref(),
            Some(
                "unknown field `dicount`; the fields of `Settings`: discount, carrier, stops, \
                 surcharges, by_weight, tariffs, note"
            )
        );
        assert_eq!(
            unknown(json!({"discount": 0.2, "carrier": {"name": "Post", "max_kgs": 3}})).as_deref(),
            Some(
                "unknown field `carrier.max_kgs`; the fields of `Carrier`: name, limit_kg, max_kg"
            )
        );
        let stops = json!([carrier, {"name": "Rail", "max_kg": 9, "town": "Ulm"}]);
        let found = unknown(json!({"discount": 0.2, "carrier": carrier, "stops": stops}));
        assert!(found.unwrap().starts_with("unknown field `stops[1].town`;"));
        // Under a map's keys, numbers too, the values' structs are checked.
        for map in ["by_weight", "tariffs"] {
            let entries = json!({"10": {"name": "Post", "max_kg": 9, "colour": "red"}});
            let found = unknown(json!({"discount": 0.2, "carrier": carrier, map: entries}));
            let expected = format!("unknown field `{map}.10.colour`;");
            assert!(found.unwrap().starts_with(&expected), "{map}");
        }
    }

    #[test]
    fn maps_aliases_and_fields_left_out_when_serialized_are_taken() {
        let whole = json!({
            "discount": 0.2,
            "carrier": {"name": "Post", "limit_kg": 30},
            "surcharges": {"north": 1.5, "any region at all": 2},
            "tariffs": {"x": {"name": "Rail", "max_kg": 1}},
            "note": null,
        });
        assert_eq!(unknown(whole), None);
    }

    #[test]
    fn flattened_untagged_and_internally_tagged_types_take_any_field() {
        #[derive(Debug, Deserialize)]
        struct Labels {
            #[serde(rename = "kind")]
            _kind: String,
            #[serde(flatten)]
            _extra: BTreeMap<String, String>,
        }
        let labels = json!({"kind": "box", "colour": "red", "size": "L"});
        Labels::deserialize(&labels).unwrap();
        assert_eq!(unknown_field::<Labels>(&labels), None);

        #[derive(Debug, Deserialize)]
        #[serde(tag = "type")]
        enum Tagged {
            Box { _side: Option<f64> },
        }
        let tagged = json!({"type": "Box", "extra": 1});
        Tagged::deserialize(&tagged).unwrap();
        assert_eq!(unknown_field::<Tagged>(&tagged), None);
    }

    #[test]
    fn a_struct_variant_is_checked_against_its_fields() {
        #[derive(Debug, Deserialize)]
        enum Parcel {
            Letter,
            Box { _side: f64 },
        }
        for taken in [json!("Letter"), json!({"Box": {"_side": 1.0}})] {
            Parcel::deserialize(&taken).unwrap();
            assert_eq!(unknown_field::<Parcel>(&taken), None, "{taken}");
        }
        let typo = json!({"Box": {"_side": 1.0, "sied": 2.0}});
        Parcel::deserialize(&typo).unwrap();
        assert_eq!(
            unknown_field::<Parcel>(&typo).unwrap().to_string(),
            "unknown field `Box.sied`; the fields of `Box`: _side"
        );
    }

    #[test]
    fn parse_and_from_json_refuse_a_field_the_type_does_not_take() {
        let carrier = crate::value::ValueType::of::<Carrier>();
        let error = carrier
            .parse(r#"{"name": "Post", "max_kgs": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(
                "unknown field `max_kgs`; the fields of `Carrier`: name, limit_kg, max_kg"
            ),
            "{error}"
        );
        let error = carrier
            .from_json(&json!({"name": "Post", "max_kg": 3, "x": 1}))
            .unwrap_err();
        assert!(error.to_string().contains("unknown field `x`"), "{error}");
        assert!(carrier.parse(r#"{"name": "Post", "max_kg": 3}"#).is_ok());
        // A misspelt field that is also missing: both are said.
        let error = crate::value::ValueType::of::<Required>()
            .parse(r#"{"max_kgs": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("missing field `max_kg`")
                && error.contains("; unknown field `max_kgs`; the fields of `Required`: max_kg"),
            "{error}"
        );
    }
}
