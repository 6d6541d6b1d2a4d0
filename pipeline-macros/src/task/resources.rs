//! `#[task(cpus = 4, memory = "8G", time = "30m", partition = "bigmem")]`:
//! what a task asks of the machine a remote executor runs it on, checked at
//! compile time (the same forms `pipeline_core::resources` reads from a
//! configuration) and passed on as plain numbers. Not part of the task's key.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Expr, ExprLit, Lit, LitInt, LitStr, Meta};

use crate::ctxt::Ctxt;

/// The attribute keys this module reads.
pub(crate) const KEYS: [&str; 4] = ["cpus", "memory", "time", "partition"];

/// The resources given on `#[task]`, normalized.
#[derive(Default)]
pub(crate) struct Resources {
    cpus: Option<u32>,
    memory_mib: Option<u64>,
    time_secs: Option<u64>,
    partition: Option<String>,
}

impl Resources {
    /// Reads `key = value`; every malformed or repeated key is reported.
    pub(crate) fn read(&mut self, cx: &Ctxt, key: &str, meta: &Meta) {
        let Meta::NameValue(pair) = meta else {
            cx.error_spanned_by(
                meta,
                format_args!("`{key}` takes a value: {}", example(key)),
            );
            return;
        };
        let given = match key {
            "cpus" => self.cpus.is_some(),
            "memory" => self.memory_mib.is_some(),
            "time" => self.time_secs.is_some(),
            _ => self.partition.is_some(),
        };
        if given {
            cx.error_spanned_by(meta, format_args!("`{key}` is given twice; keep one"));
            return;
        }
        match (key, &pair.value) {
            (
                "cpus",
                Expr::Lit(ExprLit {
                    lit: Lit::Int(int), ..
                }),
            ) => self.cpus = cpus(cx, int),
            ("cpus", other) => cx.error_spanned_by(
                other,
                "`cpus` takes a whole number of CPUs: write `cpus = 4`",
            ),
            (
                _,
                Expr::Lit(ExprLit {
                    lit: Lit::Str(text),
                    ..
                }),
            ) => match key {
                "memory" => self.memory_mib = memory(cx, text),
                "time" => self.time_secs = time(cx, text),
                _ => self.partition = partition(cx, text),
            },
            (_, other) => cx.error_spanned_by(
                other,
                format_args!("`{key}` takes a string: {}", example(key)),
            ),
        }
    }

    /// `.with_resources(…)` on the task definition, or nothing.
    pub(crate) fn builder_call(&self) -> TokenStream {
        if self.cpus.is_none()
            && self.memory_mib.is_none()
            && self.time_secs.is_none()
            && self.partition.is_none()
        {
            return TokenStream::new();
        }
        let private = quote!(::pipeline_core::__private);
        let mut calls = TokenStream::new();
        if let Some(cpus) = self.cpus {
            calls.extend(quote!(.cpus(#cpus)));
        }
        if let Some(mib) = self.memory_mib {
            calls.extend(quote!(.memory_in_mib(#mib)));
        }
        if let Some(secs) = self.time_secs {
            calls.extend(quote!(.time_limit_of(::std::time::Duration::from_secs(#secs))));
        }
        if let Some(partition) = &self.partition {
            calls.extend(quote!(.partition(#partition)));
        }
        quote!(.with_resources(#private::Resources::new() #calls))
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "cpus" => "write `cpus = 4`",
        "memory" => "write `memory = \"8G\"`",
        "time" => "write `time = \"30m\"`",
        _ => "write `partition = \"name\"`",
    }
}

fn cpus(cx: &Ctxt, int: &LitInt) -> Option<u32> {
    match int.base10_parse::<u32>() {
        Ok(0) => {
            cx.error_spanned_by(int, "`cpus` must be at least 1");
            None
        }
        Ok(n) => Some(n),
        Err(_) => {
            cx.error_spanned_by(int, "`cpus` must be a whole number from 1 to 4294967295");
            None
        }
    }
}

fn memory(cx: &Ctxt, text: &LitStr) -> Option<u64> {
    let value = text.value();
    let parsed = parse_memory_mib(&value);
    if parsed.is_none() {
        cx.error_spanned_by(
            text,
            format_args!(
                "memory `{value}` is not a size: write a whole number with a unit K, M, G or T (`512M`, `8G`); a bare number is megabytes"
            ),
        );
    }
    parsed
}

fn time(cx: &Ctxt, text: &LitStr) -> Option<u64> {
    let value = text.value();
    let parsed = parse_duration_secs(&value);
    if parsed.is_none() {
        cx.error_spanned_by(
            text,
            format_args!(
                "time `{value}` is not a duration: write it as `90s`, `30m`, `2h30m`, `1d`, or as Slurm does (`MM:SS`, `HH:MM:SS`, `D-HH:MM:SS`, or minutes)"
            ),
        );
    }
    parsed
}

fn partition(cx: &Ctxt, text: &LitStr) -> Option<String> {
    let value = text.value();
    if value.is_empty() || value.chars().any(char::is_whitespace) {
        cx.error_spanned_by(
            text,
            format_args!(
                "partition `{value}` is not a partition name: it must be non-empty, without spaces"
            ),
        );
        return None;
    }
    Some(value)
}

/// MiB of `8G`, `512M`, `1T`, `2048K` or a bare number of MiB (as
/// `pipeline_core::resources::parse_memory_mib`).
fn parse_memory_mib(size: &str) -> Option<u64> {
    let text = size.trim();
    let digits = text.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let number: u64 = text[..digits].parse().ok()?;
    let unit = text[digits..].trim().to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let kib = match unit {
        "K" => number,
        "" | "M" => number.checked_mul(1 << 10)?,
        "G" => number.checked_mul(1 << 20)?,
        "T" => number.checked_mul(1 << 30)?,
        _ => return None,
    };
    Some(kib.div_ceil(1 << 10)).filter(|mib| *mib > 0)
}

/// Seconds of `2h30m`-style or Slurm-style durations (as
/// `pipeline_core::resources::parse_duration`).
fn parse_duration_secs(text: &str) -> Option<u64> {
    let trimmed = text.trim();
    let seconds = if trimmed.chars().any(|c| c.is_ascii_alphabetic()) {
        with_units(trimmed)?
    } else {
        slurm_form(trimmed)?
    };
    (seconds > 0).then_some(seconds)
}

fn with_units(text: &str) -> Option<u64> {
    const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
    let mut total: u64 = 0;
    let mut rest = text;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        let unit = rest[digits..].chars().next()?.to_ascii_lowercase();
        let position = UNITS[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
        total = total.checked_add(number.checked_mul(UNITS[position].1)?)?;
        next_unit = position + 1;
        rest = &rest[digits + 1..];
    }
    Some(total)
}

fn slurm_form(text: &str) -> Option<u64> {
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (days, clock) = match text.split_once('-') {
        Some((days, clock)) => (Some(number(days)?), clock),
        None => (None, text),
    };
    let parts: Vec<u64> = clock.split(':').map(number).collect::<Option<_>>()?;
    Some(match (days, parts.as_slice()) {
        (None, [minutes]) => minutes * 60,
        (None, [minutes, seconds]) => minutes * 60 + seconds,
        (None, [hours, minutes, seconds]) => hours * 3600 + minutes * 60 + seconds,
        (Some(d), [hours]) => d * 86_400 + hours * 3600,
        (Some(d), [hours, minutes]) => d * 86_400 + hours * 3600 + minutes * 60,
        (Some(d), [hours, minutes, seconds]) => d * 86_400 + hours * 3600 + minutes * 60 + seconds,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same cases as `pipeline_core::resources`' tests: both parsers
    /// must read a setting alike, whether on `#[task]` or in a configuration.
    #[test]
    fn sizes_and_durations_read_as_the_runtime_reads_them() {
        for (text, mib) in [
            ("8G", Some(8192)),
            ("8GiB", Some(8192)),
            ("512", Some(512)),
            ("1T", Some(1 << 20)),
            ("1500K", Some(2)),
            ("0", None),
            ("1.5G", None),
            ("8X", None),
        ] {
            assert_eq!(parse_memory_mib(text), mib, "{text}");
        }
        for (text, secs) in [
            ("90s", Some(90)),
            ("2h30m", Some(9000)),
            ("1d12h", Some(129_600)),
            ("45", Some(2700)),
            ("1-02:03:04", Some(93_784)),
            ("30m2h", None),
            ("0s", None),
            ("1:2:3:4", None),
        ] {
            assert_eq!(parse_duration_secs(text), secs, "{text}");
        }
    }
}
