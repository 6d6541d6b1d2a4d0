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
    let parsed = pipeline_graph_rules::resources::memory_mib(&value);
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
    let parsed = pipeline_graph_rules::resources::duration_secs(&value);
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
