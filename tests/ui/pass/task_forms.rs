//! Every form `#[task]` accepts compiles, and the functions stay callable.

use std::collections::BTreeMap;
use std::path::Path;

use pipeline_core::task;

/// A plain task: always runs.
#[task]
fn plain(x: &i64) -> i64 {
    x + 1
}

#[task(skippable)]
fn skippable(x: &i64) -> i64 {
    x + 1
}

#[task(skippable = false)]
fn explicitly_not_skippable(x: &i64) -> i64 {
    x + 1
}

#[task(skippable, version = "2")]
fn versioned(x: &i64) -> i64 {
    x + 1
}

#[task(name = "renamed_task", version = "2024-05-01")]
fn renamed(x: &i64) -> i64 {
    x + 1
}

/// `&str`, `&Path` and `&[T]` read `String`, `PathBuf` and `Vec<T>` nodes.
#[task]
fn borrowed_views(text: &str, path: &Path, values: &[f64]) -> String {
    format!("{text} {} {}", path.display(), values.len())
}

/// By value: the task receives a clone.
#[task]
fn by_value(mut values: Vec<f64>, factor: f64) -> Vec<f64> {
    values.iter_mut().for_each(|v| *v *= factor);
    values
}

/// Explicit lifetimes and patterns are fine.
#[task]
fn with_lifetime<'a>(text: &'a str, (low, high): (i64, i64)) -> Option<String> {
    (low < high).then(|| text.to_owned())
}

#[task]
fn several_outputs(x: &i64) -> (i64, String, bool) {
    (*x, x.to_string(), *x > 0)
}

#[task]
fn one_element_tuple(x: &i64) -> (i64,) {
    (*x,)
}

#[task]
fn fallible(text: &String) -> Result<i64, std::num::ParseIntError> {
    text.parse()
}

#[task]
fn fallible_alias(path: &Path) -> std::io::Result<u64> {
    Ok(std::fs::metadata(path)?.len())
}

/// An alias of `Result` named as polars names its own (`PolarsResult<T>`).
type ParseResult<T> = Result<T, std::num::ParseIntError>;

#[task]
fn fallible_named_alias(text: &String) -> ParseResult<i64> {
    text.parse()
}

#[task]
fn fallible_several(x: &i64) -> Result<(i64, i64), String> {
    if *x < 0 {
        return Err(format!("{x} is negative"));
    }
    Ok((x / 2, x % 2))
}

/// No outputs: a sink (not skippable).
#[task]
fn sink(x: &i64) {
    let _ = x;
}

#[task]
fn fallible_sink(x: &i64) -> Result<(), String> {
    if *x == 0 { Err("zero".into()) } else { Ok(()) }
}

#[task]
fn no_inputs() -> BTreeMap<String, i64> {
    BTreeMap::new()
}

pub mod nested {
    #[pipeline_core::task(skippable)]
    pub fn public(x: &i64) -> i64 {
        *x
    }

    #[pipeline_core::task]
    pub(crate) fn crate_visible(x: &i64) -> i64 {
        *x
    }
}

#[task]
fn r#type(x: &i64) -> i64 {
    *x
}

/// `#[cfg]` on the function also removes what `#[task]` generates for it.
#[task]
#[cfg(any())]
fn configured_out(x: &NotEvenAType) -> i64 {
    x.0
}

fn main() {
    assert_eq!(plain(&1), 2);
    assert_eq!(skippable(&1), 2);
    assert_eq!(explicitly_not_skippable(&1), 2);
    assert_eq!(versioned(&1), 2);
    assert_eq!(renamed(&1), 2);
    assert_eq!(borrowed_views("a", Path::new("b"), &[1.0]), "a b 1");
    assert_eq!(by_value(vec![1.0], 2.0), [2.0]);
    assert_eq!(with_lifetime("t", (1, 2)).as_deref(), Some("t"));
    assert_eq!(several_outputs(&1), (1, "1".to_owned(), true));
    assert_eq!(one_element_tuple(&1), (1,));
    assert_eq!(fallible(&"3".to_owned()), Ok(3));
    assert!(fallible_alias(Path::new("/definitely/missing")).is_err());
    assert!(fallible_named_alias(&"x".to_owned()).is_err());
    assert_eq!(fallible_several(&5), Ok((2, 1)));
    sink(&1);
    assert!(fallible_sink(&0).is_err());
    assert!(no_inputs().is_empty());
    assert_eq!(nested::public(&1), 1);
    assert_eq!(nested::crate_visible(&1), 1);
    assert_eq!(r#type(&1), 1);

    let names: Vec<&str> = pipeline_core::__private::registered_tasks()
        .map(|task| task.name())
        .collect();
    for expected in ["plain", "renamed_task", "type", "public", "sink"] {
        assert!(names.contains(&expected), "{expected} is not in {names:?}");
    }
}
