//! What a cell means beyond its column's type: markers read as null
//! (polars' `null_values`) and a decimal comma (polars' `decimal_comma`),
//! with polars' rules for both.
//!
//! - A cell equal to one of its column's null markers is null, whatever the
//!   column's type. The cell is compared as written, only its surrounding
//!   double quotes removed (so `"NA"` matches `NA`; a doubled quote inside
//!   stays doubled), after a line's `\r`.
//! - With [`NullValues::Named`], a column not named has the empty marker:
//!   a quoted empty text `""` is then null too, as in polars.
//! - With a decimal comma, every comma of a float cell is read as a point
//!   (`"1,5"` is 1.5; `1.5` stays 1.5).

use polars::prelude::{NullValues, PlSmallStr};

/// The null markers of one column (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NullMarkers(Box<[Box<[u8]>]>);

impl NullMarkers {
    /// The markers of each wanted column, named as in `wanted`, under
    /// `null_values`; `Err` with a column that [`NullValues::Named`] names
    /// but `header` does not have.
    pub(crate) fn of_columns<'a>(
        null_values: Option<&'a NullValues>,
        header: &[String],
        wanted: &[&str],
    ) -> Result<Vec<NullMarkers>, &'a str> {
        let markers = |values: &[&PlSmallStr]| {
            NullMarkers(values.iter().map(|v| v.as_bytes().into()).collect())
        };
        Ok(match null_values {
            None => vec![NullMarkers::default(); wanted.len()],
            Some(NullValues::AllColumnsSingle(value)) => {
                vec![markers(&[value]); wanted.len()]
            }
            Some(NullValues::AllColumns(values)) => {
                vec![markers(&values.iter().collect::<Vec<_>>()); wanted.len()]
            }
            Some(NullValues::Named(named)) => {
                // As polars compiles them: every column the empty marker,
                // then each named one its own (the last one given wins).
                let empty = PlSmallStr::EMPTY;
                let mut by_column = vec![&empty; wanted.len()];
                for (name, value) in named {
                    if !header.iter().any(|column| column == name.as_str()) {
                        return Err(name.as_str());
                    }
                    for (column, marker) in wanted.iter().zip(&mut by_column) {
                        if *column == name.as_str() {
                            *marker = value;
                        }
                    }
                }
                by_column.into_iter().map(|v| markers(&[v])).collect()
            }
        })
    }

    /// Whether the column has no markers (the common case, checked first).
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `field` (as written, quotes and all) is one of the markers.
    #[inline]
    pub(crate) fn matches(&self, field: &[u8]) -> bool {
        let inner = unquote(field);
        self.0.iter().any(|marker| **marker == *inner)
    }
}

/// The field without its surrounding double quotes, if it starts with one
/// (as polars does, the last byte is then dropped whatever it is).
#[inline]
pub(crate) fn unquote(field: &[u8]) -> &[u8] {
    match field {
        [b'"', inner @ .., _] => inner,
        [b'"'] => &[],
        _ => field,
    }
}

/// `field` with each comma a point, written into `scratch`; `field` itself
/// if it has none.
#[inline]
pub(crate) fn comma_as_point<'a>(field: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    if !field.contains(&b',') {
        return field;
    }
    scratch.clear();
    scratch.extend(field.iter().map(|&b| if b == b',' { b'.' } else { b }));
    scratch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Vec<String> {
        ["a", "b", "c"].map(str::to_owned).to_vec()
    }

    #[test]
    fn markers_match_cells_without_their_quotes_only() {
        let all = NullValues::AllColumns(vec!["NA".into(), "".into()]);
        let markers = NullMarkers::of_columns(Some(&all), &header(), &["a"]).unwrap();
        let [a] = &markers[..] else { panic!() };
        assert!(a.matches(b"NA"));
        assert!(a.matches(b"\"NA\""));
        assert!(a.matches(b"\"\""));
        assert!(!a.matches(b" NA"));
        assert!(!a.matches(b"na"));
        assert!(!a.matches(b"\"N\"\"A\""));
    }

    #[test]
    fn named_markers_go_to_their_columns_and_others_get_the_empty_one() {
        let named = NullValues::Named(vec![
            ("b".into(), "-".into()),
            ("c".into(), "x".into()),
            ("c".into(), "?".into()),
        ]);
        let markers = NullMarkers::of_columns(Some(&named), &header(), &["c", "a", "b"]).unwrap();
        assert!(markers[0].matches(b"?") && !markers[0].matches(b"x"));
        assert!(markers[1].matches(b"\"\"") && !markers[1].matches(b"-"));
        assert!(markers[2].matches(b"-"));
        let unknown = NullValues::Named(vec![("z".into(), "-".into())]);
        assert_eq!(
            NullMarkers::of_columns(Some(&unknown), &header(), &["a"]),
            Err("z")
        );
        let none = NullMarkers::of_columns(None, &header(), &["a", "b"]).unwrap();
        assert!(none.iter().all(NullMarkers::is_empty));
    }

    #[test]
    fn commas_become_points() {
        let mut scratch = Vec::new();
        assert_eq!(comma_as_point(b"1,5", &mut scratch), b"1.5");
        assert_eq!(comma_as_point(b"\"-2,25\"", &mut scratch), b"\"-2.25\"");
        assert_eq!(comma_as_point(b"7.5", &mut scratch), b"7.5");
    }
}
