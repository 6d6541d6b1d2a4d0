//! Small helpers shared by both macros.

use proc_macro2::{Span, TokenStream};

/// Sets the span of every token in `tokens` to `span`, so that rustc points at
/// the user's token (a node name, say) whatever generated code it reports on.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    use proc_macro2::{Group, TokenTree};
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                TokenTree::Group(respanned)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// The spans of the first and last tokens of `tokens` (the closing delimiter
/// for a trailing group), or `fallback` for no tokens.
///
/// Generated code that starts with the first span and ends with the last makes
/// rustc underline the user's whole type or path, not only its first token.
pub(crate) fn span_range(tokens: TokenStream, fallback: Span) -> (Span, Span) {
    use proc_macro2::TokenTree;
    let mut tokens = tokens.into_iter();
    let Some(first) = tokens.next() else {
        return (fallback, fallback);
    };
    let last = tokens.last().unwrap_or_else(|| first.clone());
    let end = match &last {
        TokenTree::Group(group) => group.span_close(),
        other => other.span(),
    };
    let start = match &first {
        TokenTree::Group(group) => group.span_open(),
        other => other.span(),
    };
    (start, end)
}

/// `<ty as ::pipeline_core::__private::Trait>::item`, spanned over `ty`'s
/// tokens so that an unsatisfied `ty: Trait` is reported on the whole type.
pub(crate) fn qualified(ty: &impl quote::ToTokens, r#trait: &str, item: &str) -> TokenStream {
    use quote::{quote, quote_spanned};
    let tokens = ty.to_token_stream();
    let (first, last) = span_range(tokens.clone(), Span::call_site());
    let r#trait = proc_macro2::Ident::new(r#trait, last);
    let item = proc_macro2::Ident::new(item, last);
    let open = quote_spanned!(first=> <);
    let close = quote_spanned!(last=> as ::pipeline_core::__private::#r#trait>::#item);
    quote!(#open #tokens #close)
}

/// `<ty as ::pipeline_core::__private::Trait>::item(args)`, spanned like [`qualified`].
pub(crate) fn qualified_call(
    ty: &impl quote::ToTokens,
    r#trait: &str,
    item: &str,
    args: TokenStream,
) -> TokenStream {
    let (_, last) = span_range(ty.to_token_stream(), Span::call_site());
    let mut out = qualified(ty, r#trait, item);
    let mut group = proc_macro2::Group::new(proc_macro2::Delimiter::Parenthesis, args);
    group.set_span(last);
    out.extend([proc_macro2::TokenTree::Group(group)]);
    out
}

/// Tokens as text for documentation: `Vec < f64 >` becomes `Vec<f64>`,
/// `vec ! [1.0 , 2.0]` becomes `vec![1.0, 2.0]`.
pub(crate) fn pretty(tokens: &impl quote::ToTokens) -> String {
    let mut text = tokens.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("& ", "&"),
        (" !", "!"),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" . ", "."),
        (" (", "("),
        ("! [", "!["),
        ("! (", "!("),
        ("! {", "!{"),
    ] {
        text = text.replace(from, to);
    }
    text
}

/// `preprocess_and_score` → `PreprocessAndScore` (raw identifiers lose their `r#`).
pub(crate) fn upper_camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = true;
    for ch in snake.trim_start_matches("r#").chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

/// The candidate closest to `name`, if it is close enough to be a likely typo
/// (the rule `scenario!`'s checks and the runtime's TOML loader use too).
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    pipeline_graph_rules::closest(name, candidates)
}

/// `1st`, `2nd`, `3rd`, `4th`, … for messages.
pub(crate) fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_becomes_upper_camel_case() {
        assert_eq!(upper_camel("preprocess_and_score"), "PreprocessAndScore");
        assert_eq!(upper_camel("r#type"), "Type");
        assert_eq!(upper_camel("split2"), "Split2");
    }

    #[test]
    fn close_names_are_suggested_and_far_ones_are_not() {
        let nodes = ["scored_df", "payment_threshold"];
        assert_eq!(did_you_mean("score_df", nodes), Some("scored_df"));
        assert_eq!(did_you_mean("revenue", nodes), None);
    }

    #[test]
    fn documented_tokens_read_like_source() {
        let ty: syn::Type = syn::parse_str("std::collections::BTreeMap<String, Vec<f64>>").unwrap();
        assert_eq!(pretty(&ty), "std::collections::BTreeMap<String, Vec<f64>>");
        let expr: syn::Expr = syn::parse_str("PathBuf::from(\"data/x.csv\")").unwrap();
        assert_eq!(pretty(&expr), "PathBuf::from(\"data/x.csv\")");
        let expr: syn::Expr = syn::parse_str("vec![1.0, 2.0]").unwrap();
        assert_eq!(pretty(&expr), "vec![1.0, 2.0]");
    }

    #[test]
    fn ordinals_read_like_english() {
        assert_eq!(ordinal(1), "1st");
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(3), "3rd");
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(22), "22nd");
    }
}
