//! Configuration values: native TOML values and Taipy's typed strings
//! (`"2:int"`, `"1.5:float"`, `"True:bool"`, `"1d0h0m0s:timedelta"`,
//! `"name:SECTION"`, `"GLOBAL:SCOPE"`, `"DAILY:FREQUENCY"`, `"mod.f:function"`,
//! `"mod.C:class"`, `"2024-01-01T00:00:00:datetime"`, `"text:str"`) and
//! environment templates (`"ENV[NAME]"`, `"ENV[NAME]:int"`), decoded the way
//! Taipy's loader decodes them.

use std::collections::BTreeMap;
use std::time::Duration;

use toml::Spanned;
use toml::de::DeValue;

/// A configuration value, after Taipy's typed strings and `ENV[…]` templates
/// are decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    /// `true`, `"True:bool"`, `"ENV[FLAG]:bool"`.
    Bool(bool),
    /// `1000`, `"1000:int"`.
    Integer(i128),
    /// `1.5`, `"1.5:float"`.
    Float(f64),
    /// A duration: `"1d0h0m0s:timedelta"`.
    Duration(Duration),
    /// Any other string (with a `:SECTION`, `:SCOPE`, `:FREQUENCY`,
    /// `:function`, `:class`, `:datetime` or `:str` suffix removed).
    String(String),
    /// An array.
    Array(Vec<ConfigValue>),
    /// A table.
    Table(BTreeMap<String, ConfigValue>),
}

impl ConfigValue {
    /// `"integer"`, `"string"`, …: for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ConfigValue::Bool(_) => "boolean",
            ConfigValue::Integer(_) => "integer",
            ConfigValue::Float(_) => "float",
            ConfigValue::Duration(_) => "duration",
            ConfigValue::String(_) => "string",
            ConfigValue::Array(_) => "array",
            ConfigValue::Table(_) => "table",
        }
    }
}

/// Looks up environment variables (the process environment, or a stand-in in tests).
pub(crate) type Env<'e> = &'e dyn Fn(&str) -> Option<String>;

/// Whether `ENV[…]` templates are read, or kept as text (for keys that are
/// accepted and not used: a variable they name need not be set).
#[derive(Clone, Copy)]
pub(crate) enum Templates<'e> {
    Resolve(Env<'e>),
    Keep,
}

/// Decodes a TOML value; the error says what is wrong with it.
pub(crate) fn decode(
    value: &Spanned<DeValue<'_>>,
    templates: Templates<'_>,
) -> Result<ConfigValue, String> {
    Ok(match value.get_ref() {
        DeValue::String(text) => decode_string(text, templates)?,
        DeValue::Integer(integer) => {
            let digits = integer.as_str().replace('_', "");
            let n = i128::from_str_radix(&digits, integer.radix())
                .map_err(|e| format!("integer {integer} is out of range: {e}"))?;
            ConfigValue::Integer(n)
        }
        DeValue::Float(float) => ConfigValue::Float(
            float
                .as_str()
                .replace('_', "")
                .parse::<f64>()
                .map_err(|e| format!("float {float} does not parse: {e}"))?,
        ),
        DeValue::Boolean(b) => ConfigValue::Bool(*b),
        DeValue::Datetime(_) => {
            return Err("TOML dates and times are not supported as values".to_owned());
        }
        DeValue::Array(items) => ConfigValue::Array(
            items
                .iter()
                .map(|item| decode(item, templates))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(table) => ConfigValue::Table(
            table
                .iter()
                .map(|(k, v)| Ok((k.get_ref().to_string(), decode(v, templates)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// The Taipy type suffixes a string may end with.
const SUFFIXES: [&str; 11] = [
    "bool",
    "str",
    "int",
    "float",
    "datetime",
    "timedelta",
    "function",
    "class",
    "SCOPE",
    "FREQUENCY",
    "SECTION",
];

/// Taipy's `Frequency` names.
const FREQUENCIES: [&str; 5] = ["DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY"];

/// Decodes one string: an `ENV[NAME]` template, a typed string, or plain text.
pub(crate) fn decode_string(text: &str, templates: Templates<'_>) -> Result<ConfigValue, String> {
    if let Some((variable, kind)) = env_template(text) {
        let Templates::Resolve(env) = templates else {
            return Ok(ConfigValue::String(text.to_owned()));
        };
        let value = env(variable).ok_or_else(|| {
            format!("environment variable `{variable}` is not set (`{text}` reads it); set it or write the value here")
        })?;
        let typed = |what: &str| {
            format!("environment variable `{variable}` is {value:?}, not {what} (`{text}`)")
        };
        return Ok(match kind {
            Some("bool") => ConfigValue::Bool(
                parse_bool(&value).ok_or_else(|| typed("a boolean (true or false)"))?,
            ),
            Some("int") => {
                ConfigValue::Integer(value.trim().parse().map_err(|_| typed("an integer"))?)
            }
            Some("float") => {
                ConfigValue::Float(value.trim().parse().map_err(|_| typed("a number"))?)
            }
            _ => ConfigValue::String(value),
        });
    }
    let Some((value, kind)) = text.rsplit_once(':') else {
        return Ok(ConfigValue::String(text.to_owned()));
    };
    if !SUFFIXES.contains(&kind) {
        return Ok(ConfigValue::String(text.to_owned()));
    }
    let wrong = |what: &str| format!("`{text}` is not {what}: `{value}` does not parse as one");
    Ok(match kind {
        "bool" => {
            ConfigValue::Bool(parse_bool(value).ok_or_else(|| wrong("a boolean (True or False)"))?)
        }
        "int" => ConfigValue::Integer(value.trim().parse().map_err(|_| wrong("an integer"))?),
        "float" => ConfigValue::Float(value.trim().parse().map_err(|_| wrong("a number"))?),
        "timedelta" => ConfigValue::Duration(
            parse_timedelta(value).ok_or_else(|| wrong("a duration (like `1d2h30m0s`)"))?,
        ),
        "FREQUENCY" if !FREQUENCIES.contains(&value) => {
            return Err(format!(
                "`{text}` is not a frequency: use one of {}",
                FREQUENCIES.join(", ")
            ));
        }
        "function" => ConfigValue::String(value.rsplit('.').next().unwrap_or(value).to_owned()),
        _ => ConfigValue::String(value.to_owned()),
    })
}

/// `ENV[NAME]` or `ENV[NAME]:type` (`bool`, `str`, `int`, `float`): the name and type.
fn env_template(text: &str) -> Option<(&str, Option<&str>)> {
    let rest = text.strip_prefix("ENV[")?;
    let (name, after) = rest.split_once(']')?;
    let mut chars = name.chars();
    let valid_name = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_');
    if !valid_name {
        return None;
    }
    match after {
        "" => Some((name, None)),
        ":bool" | ":str" | ":int" | ":float" => Some((name, Some(&after[1..]))),
        _ => None,
    }
}

/// Taipy's booleans: `true` or `false`, any case.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Taipy's durations: `[<n>d][<n>h][<n>m][<n>s]`, each part optional, numbers
/// possibly fractional (`1d0h0m0s`, `2h30m`, `1.5d`).
fn parse_timedelta(text: &str) -> Option<Duration> {
    let mut seconds = 0.0;
    let mut number = String::new();
    let mut units = ['d', 'h', 'm', 's'].into_iter();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        if c == ' ' && number.is_empty() {
            continue;
        }
        // The unit must come after the previous one (d, then h, m, s).
        let scale = loop {
            match units.next()? {
                unit if unit == c => break unit,
                _ => continue,
            }
        };
        let value: f64 = number.parse().ok()?;
        number.clear();
        any = true;
        seconds += value
            * match scale {
                'd' => 86_400.0,
                'h' => 3_600.0,
                'm' => 60.0,
                _ => 1.0,
            };
    }
    (any && number.is_empty()).then(|| Duration::from_secs_f64(seconds))
}

/// `"name:SECTION"` → `name`, `"pkg.module.func:function"` → `func`,
/// `"GLOBAL:SCOPE"` → `GLOBAL`; anything else unchanged.
pub(crate) fn strip_reference(text: &str) -> String {
    match text.rsplit_once(':') {
        Some((name, "SECTION" | "SCOPE" | "str")) => name.to_owned(),
        Some((path, "function")) => path.rsplit('.').next().unwrap_or(path).to_owned(),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn plain(text: &str) -> ConfigValue {
        decode_string(text, Templates::Resolve(&no_env)).unwrap()
    }

    #[test]
    fn taipy_typed_strings_are_decoded() {
        assert_eq!(plain("1000:int"), ConfigValue::Integer(1000));
        assert_eq!(plain("1.5:float"), ConfigValue::Float(1.5));
        assert_eq!(plain("True:bool"), ConfigValue::Bool(true));
        assert_eq!(plain("mean"), ConfigValue::String("mean".into()));
        assert_eq!(plain("mean:str"), ConfigValue::String("mean".into()));
        assert_eq!(plain("a:b"), ConfigValue::String("a:b".into()));
        assert_eq!(
            plain("DAILY:FREQUENCY"),
            ConfigValue::String("DAILY".into())
        );
        assert_eq!(
            plain("algos.algos.scale:function"),
            ConfigValue::String("scale".into())
        );
        assert_eq!(
            strip_reference("algos.algos.preprocess:function"),
            "preprocess"
        );
        assert_eq!(strip_reference("scored_df:SECTION"), "scored_df");
    }

    #[test]
    fn taipy_timedeltas_become_durations() {
        assert_eq!(
            plain("1d0h0m0s:timedelta"),
            ConfigValue::Duration(Duration::from_secs(86_400))
        );
        assert_eq!(
            plain("2h30m:timedelta"),
            ConfigValue::Duration(Duration::from_secs(9_000))
        );
        assert_eq!(
            plain("1.5d:timedelta"),
            ConfigValue::Duration(Duration::from_secs(129_600))
        );
        for bad in [
            "1x:timedelta",
            "1h2d:timedelta",
            ":timedelta",
            "12:timedelta",
        ] {
            assert!(decode_string(bad, Templates::Keep).is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_typed_strings_say_what_they_should_be() {
        let error = decode_string("two:int", Templates::Keep).unwrap_err();
        assert_eq!(
            error,
            "`two:int` is not an integer: `two` does not parse as one"
        );
        assert!(decode_string("yes:bool", Templates::Keep).is_err());
        assert!(decode_string("HOURLY:FREQUENCY", Templates::Keep).is_err());
    }

    #[test]
    fn env_templates_are_read_and_typed_or_name_the_missing_variable() {
        let env = |name: &str| match name {
            "WORKERS" => Some("4".to_owned()),
            "FLAG" => Some("TRUE".to_owned()),
            "WORD" => Some("four".to_owned()),
            _ => None,
        };
        let resolve = |text: &str| decode_string(text, Templates::Resolve(&env));
        assert_eq!(resolve("ENV[WORKERS]:int"), Ok(ConfigValue::Integer(4)));
        assert_eq!(resolve("ENV[WORKERS]"), Ok(ConfigValue::String("4".into())));
        assert_eq!(resolve("ENV[FLAG]:bool"), Ok(ConfigValue::Bool(true)));
        assert_eq!(
            resolve("ENV[WORD]:int").unwrap_err(),
            "environment variable `WORD` is \"four\", not an integer (`ENV[WORD]:int`)"
        );
        assert_eq!(
            resolve("ENV[MISSING]").unwrap_err(),
            "environment variable `MISSING` is not set (`ENV[MISSING]` reads it); set it or write the value here"
        );
        // Kept as text where the value is not used.
        assert_eq!(
            decode_string("ENV[MISSING]", Templates::Keep),
            Ok(ConfigValue::String("ENV[MISSING]".into()))
        );
        // Not a template: an invalid name, an unknown type.
        assert_eq!(plain("ENV[1X]"), ConfigValue::String("ENV[1X]".into()));
    }
}
