//! Node types a configuration may name, and how their defaults are read from
//! and written to TOML.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use super::decl::DefaultValue;
use super::values::ConfigValue;
use crate::Value;
use crate::value::{TextError, ValueType};

type ParseFn =
    Arc<dyn Fn(&ConfigValue) -> Result<Box<dyn Any + Send + Sync>, String> + Send + Sync>;
type RenderFn = Arc<dyn Fn(&(dyn Any + Send + Sync)) -> Option<ConfigValue> + Send + Sync>;

/// One known type: its operations, and optionally how to read and write its
/// defaults.
#[derive(Clone)]
pub struct TypeEntry {
    value_type: ValueType,
    parse: Option<ParseFn>,
    render: Option<RenderFn>,
}

impl TypeEntry {
    /// The type's operations.
    pub fn value_type(&self) -> ValueType {
        self.value_type
    }

    /// Reads a default of this type: with the type's own reader if it was
    /// registered with one, else through the type's JSON form (see
    /// [`Value::from_json`]; `[1.5, 2.0]` for a `Vec<f64>`, `"median"` for a
    /// serde enum); `None` if it has neither.
    pub fn parse(&self, value: &ConfigValue) -> Option<Result<Box<dyn Any + Send + Sync>, String>> {
        if let Some(parse) = &self.parse {
            return Some(parse(value));
        }
        self.parse_json(&to_json(value))
    }

    /// Reads a default given as the type's JSON form (`default_json`);
    /// `None` if the type has no JSON form.
    pub(crate) fn parse_json(
        &self,
        json: &serde_json::Value,
    ) -> Option<Result<Box<dyn Any + Send + Sync>, String>> {
        match self.value_type.from_json(json) {
            Ok(value) => Some(Ok(value)),
            Err(TextError::NoTextForm { .. }) => None,
            Err(TextError::Invalid { reason, .. }) => Some(Err(reason)),
        }
    }

    /// Reads a default as a file gives it.
    pub(crate) fn parse_default(
        &self,
        value: &DefaultValue,
    ) -> Option<Result<Box<dyn Any + Send + Sync>, String>> {
        match value {
            DefaultValue::Toml(value) => self.parse(value),
            DefaultValue::Json(json) => self.parse_json(json),
        }
    }

    /// Writes a value of this type as TOML: with the type's own writer if it
    /// was registered with one, else through its JSON form; `None` if it has
    /// neither.
    pub fn render(&self, value: &(dyn Any + Send + Sync)) -> Option<ConfigValue> {
        match &self.render {
            Some(render) => render(value),
            None => from_json(self.value_type.to_json(value)?),
        }
    }
}

/// A TOML value as JSON (integers too wide for JSON become strings, a
/// duration its seconds).
fn to_json(value: &ConfigValue) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        ConfigValue::Bool(b) => Json::Bool(*b),
        ConfigValue::Integer(n) => i64::try_from(*n)
            .map(Json::from)
            .or_else(|_| u64::try_from(*n).map(Json::from))
            .unwrap_or_else(|_| Json::String(n.to_string())),
        ConfigValue::Float(f) => serde_json::Number::from_f64(*f)
            .map_or_else(|| Json::String(f.to_string()), Json::Number),
        ConfigValue::Duration(d) => {
            serde_json::Number::from_f64(d.as_secs_f64()).map_or(Json::Null, Json::Number)
        }
        ConfigValue::String(s) => Json::String(s.clone()),
        ConfigValue::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        ConfigValue::Table(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// JSON as a TOML value; `None` for a `null`, which TOML cannot write.
fn from_json(json: serde_json::Value) -> Option<ConfigValue> {
    use serde_json::Value as Json;
    Some(match json {
        Json::Null => return None,
        Json::Bool(b) => ConfigValue::Bool(b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => ConfigValue::Integer(i.into()),
            (_, Some(u)) => ConfigValue::Integer(u.into()),
            _ => ConfigValue::Float(n.as_f64()?),
        },
        Json::String(s) => ConfigValue::String(s),
        Json::Array(items) => {
            ConfigValue::Array(items.into_iter().map(from_json).collect::<Option<_>>()?)
        }
        Json::Object(entries) => ConfigValue::Table(
            entries
                .into_iter()
                .map(|(k, v)| Some((k, from_json(v)?)))
                .collect::<Option<_>>()?,
        ),
    })
}

/// The types a configuration can name in `type = "…"`, by name.
///
/// [`TypeRegistry::with_builtins`] knows `bool`, the integer and float types,
/// `char`, `String` and `PathBuf`, with defaults. Every type in a registered
/// task's signature is known too, its defaults read and written through its
/// JSON form where it has one ([`Value::from_json`]: std collections,
/// [`serde_value!`](crate::serde_value) types); register your own types to
/// give them another TOML form:
///
/// ```
/// use pipeline_core::config::TypeRegistry;
/// use std::{fmt, str::FromStr};
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize)]
/// enum Metric { Mean, Median }
/// pipeline_core::serde_value!(Metric);
///
/// impl FromStr for Metric {
///     type Err = String;
///     fn from_str(s: &str) -> Result<Self, String> {
///         match s {
///             "mean" => Ok(Metric::Mean),
///             "median" => Ok(Metric::Median),
///             _ => Err(format!("unknown metric {s:?}")),
///         }
///     }
/// }
/// impl fmt::Display for Metric {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str(match self { Metric::Mean => "mean", Metric::Median => "median" })
///     }
/// }
///
/// let types = TypeRegistry::with_builtins().with_from_str::<Metric>();
/// assert!(types.get("f64").is_some());
/// assert!(types.get("Metric").is_some());
/// ```
#[derive(Clone, Default)]
pub struct TypeRegistry {
    by_name: BTreeMap<String, TypeEntry>,
}

fn integer<T: TryFrom<i128>>(value: &ConfigValue) -> Result<T, String> {
    match value {
        ConfigValue::Integer(n) => T::try_from(*n).map_err(|_| format!("{n} is out of range")),
        other => Err(format!("expected an integer, found a {}", other.kind())),
    }
}

fn float(value: &ConfigValue) -> Result<f64, String> {
    match value {
        ConfigValue::Float(f) => Ok(*f),
        ConfigValue::Integer(n) => Ok(*n as f64),
        other => Err(format!("expected a number, found a {}", other.kind())),
    }
}

fn string(value: &ConfigValue) -> Result<&str, String> {
    match value {
        ConfigValue::String(s) => Ok(s),
        other => Err(format!("expected a string, found a {}", other.kind())),
    }
}

impl TypeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The std scalar types, with TOML defaults.
    pub fn with_builtins() -> Self {
        macro_rules! integers {
            ($registry:ident, $($ty:ty),*) => {$(
                $registry = $registry.with::<$ty>(
                    |v| integer::<$ty>(v),
                    |n| ConfigValue::Integer(*n as i128),
                );
            )*};
        }
        let mut registry = Self::new();
        integers!(registry, i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);
        registry
            .with::<f64>(float, |f| ConfigValue::Float(*f))
            .with::<f32>(
                |v| float(v).map(|f| f as f32),
                |f| ConfigValue::Float(f64::from(*f)),
            )
            .with::<bool>(
                |v| match v {
                    ConfigValue::Bool(b) => Ok(*b),
                    other => Err(format!("expected a boolean, found a {}", other.kind())),
                },
                |b| ConfigValue::Bool(*b),
            )
            .with::<String>(
                |v| string(v).map(str::to_owned),
                |s| ConfigValue::String(s.clone()),
            )
            .with::<char>(
                |v| {
                    let s = string(v)?;
                    let mut chars = s.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => Ok(c),
                        _ => Err(format!("expected one character, found {s:?}")),
                    }
                },
                |c| ConfigValue::String(c.to_string()),
            )
            .with::<PathBuf>(
                |v| string(v).map(PathBuf::from),
                |p| {
                    p.to_str()
                        .map(|s| ConfigValue::String(s.to_owned()))
                        .unwrap_or(ConfigValue::String(String::new()))
                },
            )
    }

    /// Knows `T` by its [`Value::type_name`], without TOML defaults.
    pub fn with_type<T: Value>(mut self) -> Self {
        self.by_name.insert(
            T::type_name(),
            TypeEntry {
                value_type: ValueType::of::<T>(),
                parse: None,
                render: None,
            },
        );
        self
    }

    /// Knows `T` with defaults read by `FromStr` and written by `Display`.
    pub fn with_from_str<T>(self) -> Self
    where
        T: Value + FromStr + Display,
        T::Err: Display,
    {
        self.with::<T>(
            |v| string(v)?.parse::<T>().map_err(|e| e.to_string()),
            |t| ConfigValue::String(t.to_string()),
        )
    }

    /// Knows `T` with the given TOML reader and writer.
    pub fn with<T: Value>(
        mut self,
        parse: impl Fn(&ConfigValue) -> Result<T, String> + Send + Sync + 'static,
        render: impl Fn(&T) -> ConfigValue + Send + Sync + 'static,
    ) -> Self {
        self.by_name.insert(
            T::type_name(),
            TypeEntry {
                value_type: ValueType::of::<T>(),
                parse: Some(Arc::new(move |v| {
                    parse(v).map(|t| Box::new(t) as Box<dyn Any + Send + Sync>)
                })),
                render: Some(Arc::new(move |any| any.downcast_ref::<T>().map(&render))),
            },
        );
        self
    }

    /// The entry for a type name.
    pub fn get(&self, name: &str) -> Option<&TypeEntry> {
        self.by_name.get(name)
    }

    /// The entry for a type.
    pub fn get_type(&self, value_type: ValueType) -> Option<&TypeEntry> {
        self.by_name
            .get(&value_type.name())
            .filter(|e| e.value_type == value_type)
    }

    /// Adds `value_type` without defaults unless a richer entry exists.
    pub(crate) fn learn(&mut self, value_type: ValueType) {
        self.by_name.entry(value_type.name()).or_insert(TypeEntry {
            value_type,
            parse: None,
            render: None,
        });
    }

    /// Every known type name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }
}
