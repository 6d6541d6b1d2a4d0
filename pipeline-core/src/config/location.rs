//! Positions in a configuration file and the errors that point at them.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A configuration file's name and text, for turning byte offsets into lines.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) file: Arc<Path>,
    pub(crate) text: Arc<str>,
}

impl Source {
    pub(crate) fn new(file: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        Self {
            file: Arc::from(file.into()),
            text: text.into(),
        }
    }

    /// An error at a byte range of this file.
    pub(crate) fn error(&self, span: Range<usize>, message: impl Into<String>) -> ConfigError {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(start, |nl| start - nl - 1) + 1;
        ConfigError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// A value and the byte range it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Located<T> {
    pub(crate) value: T,
    pub(crate) span: Range<usize>,
}

impl<T> Located<T> {
    pub(crate) fn new(value: T, span: Range<usize>) -> Self {
        Self { value, span }
    }
}

/// One problem in a configuration file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", file.display())]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters of UTF-8 bytes).
    pub column: usize,
    /// What is wrong and what to do.
    pub message: String,
}

/// Every problem found in a configuration file, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(error: ConfigError) -> Self {
        Self(vec![error])
    }
}

/// A "did you mean" suffix for an error message (empty when nothing is close).
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    pipeline_graph_rules::closest(word, candidates)
        .map_or_else(String::new, |c| format!("; did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let source = Source::new("a.toml", "x = 1\n  y = 2\n");
        let error = source.error(8..9, "bad");
        assert_eq!((error.line, error.column), (2, 3));
        assert_eq!(error.to_string(), "a.toml:2:3: bad");
    }

    #[test]
    fn typos_name_their_nearest_key() {
        assert_eq!(
            did_you_mean("skipable", ["inputs", "skippable"]),
            "; did you mean `skippable`?"
        );
        assert_eq!(did_you_mean("zzz", ["inputs", "skippable"]), "");
    }
}
