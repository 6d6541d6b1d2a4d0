//! [`Reader`]: reads the values of a TOML configuration's tables (tables,
//! names, booleans, integers, strings, typed strings and `ENV[...]`), and
//! collects every error with its place in the file. The sections are read by
//! `document` and `taipy`.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::location::{ConfigError, Located, Source, did_you_mean};
use super::values::{ConfigValue, Env, Templates, decode, strip_reference};

/// A key of a table, with its span.
pub(super) type Key<'i> = Spanned<std::borrow::Cow<'i, str>>;
/// A key and its value.
pub(super) type Entry<'i> = (&'i Key<'i>, &'i Spanned<DeValue<'i>>);

/// Collects errors while reading; every problem is kept.
pub(crate) struct Reader<'s> {
    pub(super) source: &'s Source,
    pub(super) env: Env<'s>,
    pub(super) errors: Vec<ConfigError>,
}

impl<'s> Reader<'s> {
    pub(crate) fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.errors.push(self.source.error(span, message));
    }

    /// Entries of a table in file order (the parser's map is sorted by key).
    pub(crate) fn entries<'i>(table: &'i DeTable<'i>) -> Vec<Entry<'i>> {
        let mut entries: Vec<Entry<'i>> = table.iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        entries
    }

    pub(crate) fn table<'i>(
        &mut self,
        value: &'i Spanned<DeValue<'i>>,
        what: &str,
    ) -> Option<&'i DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            other => {
                self.error(
                    value.span(),
                    format!("{what} must be a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    /// Whether `key` is one this section reads. A key close to one of those is
    /// a typo (an error); any other key is a Taipy property, whose value is
    /// only checked for well-formed typed strings.
    pub(crate) fn reads(
        &mut self,
        key: &Key<'_>,
        value: &Spanned<DeValue<'_>>,
        read: &[&str],
        section: &str,
    ) -> bool {
        let name = key.get_ref().as_ref();
        if read.contains(&name) {
            return true;
        }
        let hint = did_you_mean(name, read.iter().copied());
        if !hint.is_empty() {
            self.error(
                key.span(),
                format!(
                    "unknown key `{name}` in {section}{hint} (keys read here: {}; other keys are kept as Taipy properties and not used)",
                    read.join(", ")
                ),
            );
        } else {
            self.ignored(value);
        }
        false
    }

    /// Checks a value that is accepted and not used: its typed strings must be
    /// well formed; `ENV[…]` templates are not read.
    pub(crate) fn ignored(&mut self, value: &Spanned<DeValue<'_>>) {
        if let Err(reason) = decode(value, Templates::Keep) {
            self.error(value.span(), reason);
        }
    }

    /// A value that is used: typed strings decoded, `ENV[…]` read.
    pub(crate) fn value(&mut self, value: &Spanned<DeValue<'_>>) -> Option<ConfigValue> {
        decode(value, Templates::Resolve(self.env))
            .map_err(|reason| self.error(value.span(), reason))
            .ok()
    }

    /// A name: a plain string or a Taipy `"name:SECTION"` / `"module.func:function"`,
    /// possibly from `ENV[…]`.
    pub(super) fn name(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        what: &str,
    ) -> Option<Located<String>> {
        match value.get_ref() {
            DeValue::String(_) => match self.value(value)? {
                ConfigValue::String(text) => {
                    Some(Located::new(strip_reference(&text), value.span()))
                }
                other => {
                    self.error(
                        value.span(),
                        format!("{what} must be a name, found {}", other.kind()),
                    );
                    None
                }
            },
            other => {
                self.error(
                    value.span(),
                    format!("{what} must be a string, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub(super) fn names(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        what: &str,
    ) -> Vec<Located<String>> {
        match value.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .filter_map(|item| self.name(item, what))
                .collect(),
            other => {
                self.error(
                    value.span(),
                    format!(
                        "{what} must be an array of names, found {}",
                        other.type_str()
                    ),
                );
                Vec::new()
            }
        }
    }

    pub(super) fn bool(&mut self, value: &Spanned<DeValue<'_>>, what: &str) -> Option<bool> {
        match self.value(value)? {
            ConfigValue::Bool(b) => Some(b),
            other => {
                self.error(
                    value.span(),
                    format!("{what} must be a boolean, found {}", other.kind()),
                );
                None
            }
        }
    }

    pub(crate) fn integer(&mut self, value: &Spanned<DeValue<'_>>, what: &str) -> Option<i128> {
        match self.value(value)? {
            ConfigValue::Integer(n) => Some(n),
            other => {
                self.error(
                    value.span(),
                    format!("{what} must be an integer, found {}", other.kind()),
                );
                None
            }
        }
    }

    pub(crate) fn string(&mut self, value: &Spanned<DeValue<'_>>, what: &str) -> Option<String> {
        match self.value(value)? {
            ConfigValue::String(text) => Some(text),
            other => {
                self.error(
                    value.span(),
                    format!("{what} must be a string, found {}", other.kind()),
                );
                None
            }
        }
    }
}
