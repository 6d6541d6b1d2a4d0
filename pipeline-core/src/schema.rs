//! Schema fingerprints: the layout of a value type's encoding (see
//! [`Value::schema`](crate::Value::schema)), composed for the std types,
//! traced with `serde-reflection` for serde types, pinned by hand where
//! tracing cannot tell.
//!
//! ```
//! use pipeline_core::{Value, schema};
//! assert_eq!(i64::schema().unwrap(), schema::named("i64"));
//! assert_ne!(Vec::<i64>::schema().unwrap(), Vec::<u64>::schema().unwrap());
//! ```

use std::any::TypeId;
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

use parking_lot::RwLock;
use serde_reflection::{Format, FormatHolder, Registry, Samples, Tracer, TracerConfig};

use crate::fingerprint::{Fingerprint, FingerprintHasher};
use crate::value::{ValueError, short_type_name};

/// The schema of a type known by its name alone (a scalar, or a type whose
/// encoding its author answers for).
pub fn named(name: &str) -> Fingerprint {
    FingerprintHasher::with_domain("schema-named")
        .update_str(name)
        .finish()
}

/// The schema of a generic container (`Vec`, `Option`, tuples) from its
/// parameters' schemas.
///
/// # Errors
/// Never; a `Result` so that it composes with the parameters' `?`.
pub fn composite(container: &str, parameters: &[Fingerprint]) -> Result<Fingerprint, ValueError> {
    let mut hasher = FingerprintHasher::with_domain("schema-composite");
    hasher
        .update_str(container)
        .update_u64(parameters.len() as u64);
    for parameter in parameters {
        hasher.update_fingerprint(parameter);
    }
    Ok(hasher.finish())
}

/// A schema its author pins with a version string: `T`'s name and `pin`.
/// Change the string whenever the type's encoding changes.
///
/// # Errors
/// Never; a `Result` for symmetry with [`traced`].
pub fn pinned<T: ?Sized>(pin: &str) -> Result<Fingerprint, ValueError> {
    Ok(FingerprintHasher::with_domain("schema-pinned")
        .update_str(std::any::type_name::<T>())
        .update_str(pin)
        .finish())
}

/// The schema of a serde type, traced with `serde-reflection`: the format of
/// `T` and of every named type it contains (field names, order and types,
/// enum variants), hashed in a canonical order.
///
/// # Errors
/// When `T` cannot be traced (its `Deserialize` rejects the tracer's sample
/// values, or needs a self-describing format): the message says how to pin a
/// schema instead.
pub fn traced<T: serde::de::DeserializeOwned>() -> Result<Fingerprint, ValueError> {
    let untraceable = |reason: String| ValueError::Encode {
        type_name: short_type_name(std::any::type_name::<T>()),
        reason: format!(
            "serde-reflection cannot trace its layout ({reason}), so values stored under an \
             earlier definition could not be told apart: declare its schema by hand with \
             `serde_value!({}, schema = \"1\")` and change the string whenever its fields change",
            short_type_name(std::any::type_name::<T>())
        ),
    };
    let (format, registry) = trace::<T>().map_err(untraceable)?;
    // A BTreeMap: serialized in name order.
    let text =
        serde_json::to_string(&(&format, &registry)).map_err(|e| untraceable(e.to_string()))?;
    Ok(FingerprintHasher::with_domain("schema-serde")
        .update_str(&text)
        .finish())
}

/// Traces `T` until every enum it contains, however deeply, has every
/// variant traced. `serde-reflection` completes an enum only when it is the
/// root type; an enum inside a sequence, an option or a field is completed
/// here by tracing the root again while any enum it named stays incomplete.
fn trace<T: serde::de::DeserializeOwned>() -> Result<(Format, Registry), String> {
    let mut enums: BTreeSet<String> = BTreeSet::new();
    // Each attempt learns the names of enums left incomplete by the last.
    for _ in 0..64 {
        let mut tracer = Tracer::new(TracerConfig::default());
        let samples = Samples::new();
        let mut root = None;
        for _ in 0..100_000 {
            let (format, _) = tracer
                .trace_type_once::<T>(&samples)
                .map_err(|e| e.to_string())?;
            let mut progress = false;
            if let Format::TypeName(name) = &format {
                progress |= tracer.check_incomplete_enum(name).is_some();
            }
            for name in &enums {
                progress |= tracer.check_incomplete_enum(name).is_some();
            }
            root = Some(format);
            if !progress {
                break;
            }
        }
        let mut root = root.ok_or("nothing was traced")?;
        match tracer.registry() {
            Ok(registry) => {
                root.normalize().map_err(|e| e.to_string())?;
                return Ok((root, registry));
            }
            Err(serde_reflection::Error::MissingVariants(missing)) => {
                let known = enums.len();
                enums.extend(missing);
                if enums.len() == known {
                    return Err(format!("enums {enums:?} could not be traced whole"));
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("too many nested enums".to_owned())
}

type SchemaCache = RwLock<HashMap<TypeId, Result<Fingerprint, String>>>;

/// `compute`'s answer for the type `id`, computed once per process (tracing a
/// serde type costs microseconds; decisions ask often).
pub(crate) fn cached(
    id: TypeId,
    compute: fn() -> Result<Fingerprint, ValueError>,
) -> Result<Fingerprint, ValueError> {
    static CACHE: OnceLock<SchemaCache> = OnceLock::new();
    let cache = CACHE.get_or_init(SchemaCache::default);
    let known = cache.read().get(&id).cloned();
    let answer = match known {
        Some(answer) => answer,
        None => {
            let answer = compute().map_err(|e| e.to_string());
            cache.write().insert(id, answer.clone());
            answer
        }
    };
    answer.map_err(ValueError::Materialize)
}

#[cfg(test)]
mod tests {
    use super::*;

    mod before {
        #[derive(serde::Serialize, serde::Deserialize)]
        pub struct Customer {
            pub first: String,
            pub last: String,
        }
    }

    mod after {
        #[derive(serde::Serialize, serde::Deserialize)]
        pub struct Customer {
            pub last: String,
            pub first: String,
        }
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    enum Shape {
        Circle { radius: f64 },
        Square(f64),
        Point,
    }

    #[test]
    fn swapping_two_fields_of_one_type_changes_the_traced_schema() {
        let before = traced::<before::Customer>().unwrap();
        let after = traced::<after::Customer>().unwrap();
        assert_ne!(before, after);
        assert_eq!(before, traced::<before::Customer>().unwrap());
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Drawing {
        shapes: Vec<Shape>,
        highlight: Option<Shape>,
    }

    #[test]
    fn enums_are_traced_with_every_variant_however_deep() {
        assert!(traced::<Shape>().is_ok());
        assert!(traced::<Vec<Shape>>().is_ok());
        assert!(traced::<Drawing>().is_ok());
    }

    #[test]
    fn an_untraceable_type_is_an_error_that_says_how_to_pin_a_schema() {
        #[derive(serde::Deserialize)]
        #[serde(try_from = "u32")]
        struct NonZero(#[allow(dead_code)] u32);
        impl TryFrom<u32> for NonZero {
            type Error = String;
            fn try_from(n: u32) -> Result<Self, String> {
                if n == 0 {
                    Err("zero".into())
                } else {
                    Ok(Self(n))
                }
            }
        }
        let message = traced::<NonZero>().unwrap_err().to_string();
        assert!(message.contains("schema = \"1\""), "{message}");
    }

    #[test]
    fn a_pinned_schema_changes_with_its_string() {
        assert_ne!(
            pinned::<before::Customer>("1").unwrap(),
            pinned::<before::Customer>("2").unwrap()
        );
    }
}
