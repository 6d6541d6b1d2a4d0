//! The text and JSON forms of values (`Value::from_text`, `to_json`, …):
//! what a command line's `--set node=value` and a web form read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;

use pipeline_core::value::{ValueError, ValueType};
use pipeline_core::{Value, serde_value};
use proptest::prelude::*;
use serde_json::json;

fn parse<T: Value>(text: &str) -> Result<T, String> {
    T::from_text(text).expect("has a text form")
}

fn round_trip<T: Value + PartialEq + std::fmt::Debug>(value: T) {
    let text = value.to_text().expect("has a text form");
    assert_eq!(parse::<T>(&text).as_ref(), Ok(&value), "text {text:?}");
    let json = value.to_json().expect("has a JSON form");
    assert_eq!(T::from_json(&json).unwrap().as_ref(), Ok(&value), "{json}");
}

#[test]
fn std_scalars_read_their_from_str_form() {
    assert_eq!(parse::<f64>(" 1600 "), Ok(1600.0));
    assert_eq!(parse::<u8>("7"), Ok(7));
    assert!(parse::<u8>("300").unwrap_err().contains("too large"));
    assert_eq!(parse::<bool>("true"), Ok(true));
    assert_eq!(parse::<char>("λ"), Ok('λ'));
    assert_eq!(
        parse::<String>(" kept as is "),
        Ok(" kept as is ".to_owned())
    );
    assert_eq!(
        parse::<PathBuf>("data/x.csv"),
        Ok(PathBuf::from("data/x.csv"))
    );
    assert_eq!(
        parse::<i128>("-170141183460469231731687303715884105728"),
        Ok(i128::MIN)
    );
    assert!(parse::<f64>("NaN").unwrap().is_nan());
}

#[test]
fn collections_read_json() {
    assert_eq!(parse::<Vec<f64>>("[1, 2.5, 3]"), Ok(vec![1.0, 2.5, 3.0]));
    assert_eq!(
        parse::<Vec<String>>(r#"["a", "b"]"#),
        Ok(vec!["a".to_owned(), "b".to_owned()])
    );
    assert_eq!(parse::<Option<u32>>("null"), Ok(None));
    assert_eq!(parse::<Option<u32>>("4"), Ok(Some(4)));
    assert_eq!(
        parse::<BTreeMap<String, f64>>(r#"{"a": 1}"#),
        Ok(BTreeMap::from([("a".to_owned(), 1.0)]))
    );
    assert_eq!(
        parse::<BTreeMap<u8, bool>>(r#"{"3": true}"#),
        Ok(BTreeMap::from([(3, true)]))
    );
    assert_eq!(
        parse::<BTreeSet<i32>>("[3, 1, 3]"),
        Ok(BTreeSet::from([1, 3]))
    );
    assert_eq!(
        parse::<(u8, String, bool)>(r#"[1, "x", false]"#),
        Ok((1, "x".to_owned(), false))
    );
    let error = parse::<Vec<u8>>("[1, -2]").unwrap_err();
    assert!(error.starts_with("item 1: "), "{error}");
    let error = parse::<Vec<u8>>("[1, 2").unwrap_err();
    assert!(error.starts_with("not valid JSON"), "{error}");
    let error = parse::<(u8, u8)>("[1]").unwrap_err();
    assert!(error.contains("2 items"), "{error}");
}

#[test]
fn text_and_json_forms_round_trip() {
    round_trip(1.5_f64);
    round_trip(f64::INFINITY);
    round_trip(-3_i64);
    round_trip(u128::MAX);
    round_trip(true);
    round_trip('x');
    round_trip(String::from("héllo, \"world\""));
    round_trip(String::from("123"));
    round_trip(PathBuf::from("data/in put.csv"));
    round_trip(vec![vec![1_u8], vec![]]);
    round_trip(Some(String::from("a")));
    round_trip(None::<f32>);
    round_trip(BTreeMap::from([(2_i8, String::from("two"))]));
    round_trip(BTreeSet::from(['a', 'b']));
    round_trip((1_u16, vec![0.5_f64]));
    round_trip(());
}

#[test]
fn json_forms_are_natural() {
    assert_eq!(2.5_f64.to_json(), Some(json!(2.5)));
    assert_eq!(f64::NAN.to_json(), Some(json!("NaN")));
    assert_eq!(u128::MAX.to_json(), Some(json!(u128::MAX.to_string())));
    assert_eq!(vec![(1_u8, true)].to_json(), Some(json!([[1, true]])));
    assert_eq!(
        BTreeMap::from([(1_u8, None::<bool>)]).to_json(),
        Some(json!({"1": null}))
    );
}

#[test]
fn examples_are_valid_values() {
    fn valid<T: Value>() {
        let example = T::text_example().expect("has an example");
        assert!(parse::<T>(&example).is_ok(), "{example}");
    }
    valid::<f64>();
    valid::<u64>();
    valid::<bool>();
    valid::<char>();
    valid::<String>();
    valid::<PathBuf>();
    valid::<Vec<String>>();
    valid::<Option<Vec<i32>>>();
    valid::<BTreeMap<String, Vec<f64>>>();
    valid::<BTreeSet<u8>>();
    assert_eq!(
        Vec::<String>::text_example().as_deref(),
        Some(r#"["text"]"#)
    );
}

#[test]
fn erased_parse_errors_name_type_text_and_example() {
    let error = ValueType::of::<u32>().parse("-1").unwrap_err();
    assert_eq!(
        error.to_string(),
        "\"-1\" is not a valid u32: invalid digit found in string (for example 42)"
    );
    let error = ValueType::of::<Vec<f64>>().parse("1,2").unwrap_err();
    assert!(error.to_string().contains("(for example [1.5])"), "{error}");
    let erased = ValueType::of::<Vec<u32>>()
        .from_json(&json!([1, 2]))
        .unwrap();
    assert_eq!(erased.downcast_ref::<Vec<u32>>(), Some(&vec![1, 2]));
    assert!(ValueType::of::<f64>().has_text_form());
}

struct Opaque;

impl Value for Opaque {
    fn encode(&self, _: &mut Vec<u8>) -> Result<(), ValueError> {
        Ok(())
    }
    fn decode(_: &mut &[u8]) -> Result<Self, ValueError> {
        Ok(Opaque)
    }
}

#[test]
fn types_without_a_text_form_say_so() {
    let opaque = ValueType::of::<Opaque>();
    assert!(!opaque.has_text_form());
    assert_eq!(
        opaque.parse("x").unwrap_err().to_string(),
        "a value of type Opaque cannot be given as text"
    );
    assert_eq!(opaque.to_json(&Opaque), None);
    assert!(Vec::<Opaque>::from_text("[]").is_none());
    assert!(!ValueType::of::<Option<Opaque>>().has_text_form());
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Statistic {
    Mean,
    Median,
    TrimmedMean,
}
serde_value!(Statistic);

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Unit {
    Metre,
    Foot,
}
serde_value!(Unit);

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Thresholds {
    payment: f64,
    score: f64,
}
serde_value!(Thresholds);

/// `FromStr` and `Display` win over JSON where a type has them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Celsius(f64);
serde_value!(Celsius);

impl FromStr for Celsius {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let number = s
            .strip_suffix("°C")
            .ok_or("expected a number and °C, like 21°C")?;
        number.parse().map(Celsius).map_err(|e| format!("{e}"))
    }
}

impl Display for Celsius {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}°C", self.0)
    }
}

#[test]
fn serde_enums_read_bare_words_and_json() {
    assert_eq!(parse::<Statistic>("Median"), Ok(Statistic::Median));
    assert_eq!(parse::<Statistic>("median"), Ok(Statistic::Median));
    assert_eq!(
        parse::<Statistic>("trimmed_mean"),
        Ok(Statistic::TrimmedMean)
    );
    assert_eq!(parse::<Statistic>("\"Mean\""), Ok(Statistic::Mean));
    assert_eq!(parse::<Unit>("foot"), Ok(Unit::Foot));
    assert_eq!(parse::<Unit>("FOOT"), Ok(Unit::Foot));
    let error = parse::<Statistic>("average").unwrap_err();
    assert!(error.contains("`Mean`, `Median`"), "{error}");
    assert_eq!(Statistic::Median.to_text().as_deref(), Some("Median"));
    assert_eq!(Statistic::text_example().as_deref(), Some("Mean"));
    assert_eq!(Unit::text_example().as_deref(), Some("metre"));
    round_trip(Statistic::TrimmedMean);
}

#[test]
fn serde_structs_read_json_and_name_missing_fields() {
    assert_eq!(
        parse::<Thresholds>(r#"{"payment": 1600, "score": 2.5}"#),
        Ok(Thresholds {
            payment: 1600.0,
            score: 2.5
        })
    );
    let error = parse::<Thresholds>(r#"{"payment": 1600}"#).unwrap_err();
    assert!(error.contains("missing field `score`"), "{error}");
    assert_eq!(
        Thresholds::text_example().as_deref(),
        Some(r#"{"payment":0.0,"score":0.0}"#)
    );
    round_trip(Thresholds {
        payment: 1.0,
        score: 2.0,
    });
}

#[test]
fn serde_types_with_from_str_use_it_and_still_read_json() {
    assert_eq!(parse::<Celsius>("21.5°C"), Ok(Celsius(21.5)));
    assert_eq!(parse::<Celsius>("21.5"), Ok(Celsius(21.5)), "JSON fallback");
    assert_eq!(
        parse::<Celsius>("warm"),
        Err("expected a number and °C, like 21°C".to_owned())
    );
    assert_eq!(Celsius(3.0).to_text().as_deref(), Some("3°C"));
    assert_eq!(Celsius(3.0).to_json(), Some(json!(3.0)));
    round_trip(Celsius(-4.5));
}

/// What a user types for a string, and for an optional one (`--set`, a web
/// form): a JSON string's quotes are never kept, `null` and nothing at all
/// are `None`, and a quoted `"null"` or `""` is that text.
#[test]
fn strings_read_bare_or_as_json_and_options_read_null_and_nothing_as_none() {
    let some = |s: &str| Ok(Some(s.to_owned()));
    assert_eq!(parse::<String>("North"), Ok("North".to_owned()));
    assert_eq!(parse::<String>("\"North\""), Ok("North".to_owned()));
    assert_eq!(parse::<String>(" \"North\" "), Ok("North".to_owned()));
    assert_eq!(
        parse::<String>(r#""say \"hi\"""#),
        Ok("say \"hi\"".to_owned())
    );
    assert_eq!(parse::<String>("null"), Ok("null".to_owned()));
    assert_eq!(parse::<String>(""), Ok(String::new()));
    assert_eq!(
        parse::<PathBuf>("\"in put.csv\""),
        Ok(PathBuf::from("in put.csv"))
    );
    let error = parse::<String>("\"North").unwrap_err();
    assert!(error.contains("JSON string"), "{error}");
    assert!(parse::<String>("\"North\" and South").is_err());

    assert_eq!(parse::<Option<String>>("North"), some("North"));
    assert_eq!(parse::<Option<String>>("\"North\""), some("North"));
    assert_eq!(parse::<Option<String>>("null"), Ok(None));
    assert_eq!(parse::<Option<String>>(" null "), Ok(None));
    assert_eq!(parse::<Option<String>>("\"null\""), some("null"));
    assert_eq!(parse::<Option<String>>(""), Ok(None));
    assert_eq!(parse::<Option<String>>("  "), Ok(None));
    assert_eq!(parse::<Option<String>>("\"\""), some(""));
    assert_eq!(parse::<Option<f64>>(""), Ok(None));
    assert_eq!(parse::<Option<f64>>("2.5"), Ok(Some(2.5)));
    assert_eq!(
        parse::<Option<Statistic>>("\"Median\""),
        Ok(Some(Statistic::Median))
    );

    // What `get` shows reads back as the same value.
    let shown = |value: Option<&str>| value.map(str::to_owned).to_text().unwrap();
    assert_eq!(shown(None), "null");
    assert_eq!(shown(Some("North")), "North");
    assert_eq!(shown(Some("null")), "\"null\"");
    assert_eq!(shown(Some("")), "\"\"");
    assert_eq!(shown(Some(" ")), "\" \"");
    assert_eq!(shown(Some("\"North\"")), r#""\"North\"""#);
    assert_eq!(
        String::from("\"q\"").to_text().as_deref(),
        Some(r#""\"q\"""#)
    );
    assert_eq!(String::from("null").to_text().as_deref(), Some("null"));
}

/// Any string, optional or not, in the text `get` shows reads back as the
/// same value; texts shaped like the special cases are drawn often.
fn tricky_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        Just(String::new()),
        Just("null".to_owned()),
        "[ \"]{0,2}(null|North|)[ \"\\\\]{0,2}",
        "\\PC{0,12}",
    ]
}

proptest! {
    #[test]
    fn any_string_text_reads_back_as_the_same_value(text in tricky_text()) {
        round_trip(text.clone());
        round_trip(Some(text.clone()));
        round_trip(PathBuf::from(&text));
        round_trip(Some(PathBuf::from(&text)));
        round_trip(vec![Some(text.clone()), None]);
        round_trip(BTreeMap::from([(text.clone(), Some(text))]));
    }

    #[test]
    fn any_optional_number_text_reads_back_as_the_same_value(n in any::<Option<i64>>()) {
        round_trip(n);
    }
}

/// A serde newtype over a string: its text is its JSON string's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Label(String);
serde_value!(Label);

proptest! {
    #[test]
    fn any_serde_string_text_reads_back_as_the_same_value(text in tricky_text()) {
        round_trip(Label(text.clone()));
        round_trip(Some(Label(text)));
    }
}

#[test]
fn an_empty_path_is_refused_and_an_empty_optional_path_is_none() {
    use std::path::PathBuf;
    let refused = PathBuf::from_text("").unwrap().unwrap_err();
    assert!(refused.contains("an empty path names no file"), "{refused}");
    assert!(PathBuf::from_text("  ").unwrap().is_err());
    assert_eq!(
        PathBuf::from_text("data/x.csv"),
        Some(Ok(PathBuf::from("data/x.csv")))
    );
    assert_eq!(Option::<PathBuf>::from_text(""), Some(Ok(None)));
}
