//! Code as tokens: whitespace and comments are not tokens, so they never
//! count; doc comments and optional commas are dropped where no macro can
//! read them; everything else counts, spacing included (`a && b` is not
//! `a & &b`).
//!
//! Normalizing goes through syn's syntax tree, so only punctuation that the
//! grammar makes optional is dropped, never a token that changes meaning
//! (`(x,)` keeps its comma: syn prints a one-element tuple with one).

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, Expr, Item};

use super::digest::Digest;

/// The name a dropped doc comment is renamed to; [`hash`] skips attributes
/// with this name. (Renaming instead of removing lets one visitor handle
/// every node that has attributes.)
const DROPPED_DOC: &str = "__pipeline_macros_dropped_doc";

/// A file's tokens, normalized, or its tokens as lexed when syn cannot parse
/// it (a syntax newer than syn's: nothing is dropped then). `None` when the
/// text does not lex (only a module that is compiled out can be like that).
pub(crate) fn file_tokens(text: &str) -> Option<TokenStream> {
    match syn::parse_file(text) {
        Ok(mut file) => {
            Normalize.visit_file_mut(&mut file);
            Some(file.into_token_stream())
        }
        Err(_) => text.parse().ok(),
    }
}

/// A file's tokens as lexed, nothing dropped but whitespace and comments
/// (path dependencies: lexing is a third of the cost of parsing).
pub(crate) fn raw_file_tokens(text: &str) -> Option<TokenStream> {
    text.parse().ok()
}

/// A function's tokens, normalized as a file's are.
pub(crate) fn item_tokens(item: &syn::ItemFn) -> TokenStream {
    let mut item = Item::Fn(item.clone());
    Normalize.visit_item_mut(&mut item);
    item.into_token_stream()
}

/// Feeds `tokens` to `digest`: each token's kind and text, each punctuation
/// mark's spacing, each group's delimiter; dropped doc comments are skipped.
pub(crate) fn hash(tokens: TokenStream, digest: &mut Digest) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut index = 0;
    while index < tokens.len() {
        if let Some(width) = dropped_doc_width(&tokens[index..]) {
            index += width;
            continue;
        }
        match &tokens[index] {
            TokenTree::Punct(punct) => {
                digest.tag(b'p').str(&punct.as_char().to_string());
                digest.tag(match punct.spacing() {
                    Spacing::Joint => b'j',
                    Spacing::Alone => b'a',
                });
            }
            TokenTree::Ident(ident) => {
                digest.tag(b'i').str(&ident.to_string());
            }
            TokenTree::Literal(literal) => {
                digest.tag(b'l').str(&literal.to_string());
            }
            TokenTree::Group(group) => {
                digest.tag(match group.delimiter() {
                    Delimiter::Parenthesis => b'(',
                    Delimiter::Brace => b'{',
                    Delimiter::Bracket => b'[',
                    Delimiter::None => b'0',
                });
                hash(group.stream(), digest);
                digest.tag(b'.');
            }
        }
        index += 1;
    }
}

/// The number of tokens of a dropped doc comment (`#[…]` or `#![…]` whose
/// attribute is named [`DROPPED_DOC`]) at the start of `tokens`, if one is there.
fn dropped_doc_width(tokens: &[TokenTree]) -> Option<usize> {
    let TokenTree::Punct(hash) = tokens.first()? else {
        return None;
    };
    if hash.as_char() != '#' {
        return None;
    }
    let inner = matches!(tokens.get(1), Some(TokenTree::Punct(p)) if p.as_char() == '!');
    let width = if inner { 3 } else { 2 };
    let TokenTree::Group(group) = tokens.get(width - 1)? else {
        return None;
    };
    let first = group.stream().into_iter().next();
    (group.delimiter() == Delimiter::Bracket
        && matches!(first, Some(TokenTree::Ident(ident)) if ident == DROPPED_DOC))
    .then_some(width)
}

/// Drops what cannot change a program: doc comments and optional commas,
/// except inside an item that a macro may read (see [`macro_reads`]).
struct Normalize;

impl Normalize {
    fn item_attrs(&mut self, attrs: &[Attribute]) -> bool {
        !attrs.iter().any(macro_reads)
    }
}

/// Whether an attribute may be a macro that reads its item's tokens, doc
/// comments and commas included (clap turns doc comments into help texts,
/// displaydoc into `Display` messages). Only the attributes listed here are
/// known not to: inert built-in attributes, lint tools, `#[task]` itself, and
/// derives of the standard traits, serde's and thiserror's.
fn macro_reads(attr: &Attribute) -> bool {
    let path = path_text(attr.path());
    if path == "derive" {
        let mut all_known = true;
        let parsed = attr.parse_nested_meta(|meta| {
            let derived = path_text(&meta.path);
            let name = derived.rsplit("::").next().unwrap_or_default();
            all_known &= KNOWN_DERIVES.contains(&name)
                && (derived == name
                    || KNOWN_DERIVE_CRATES
                        .iter()
                        .any(|krate| derived.starts_with(krate)));
            Ok(())
        });
        return parsed.is_err() || !all_known;
    }
    let tool = path.split("::").next().unwrap_or_default();
    !(INERT_ATTRIBUTES.contains(&path.as_str())
        || ["rustfmt", "clippy", "diagnostic"].contains(&tool)
        || OUR_ATTRIBUTES.contains(&path.as_str()))
}

/// `a::b` for a path (leading `::` dropped).
fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// Built-in attributes that are not macros and read no tokens.
const INERT_ATTRIBUTES: &[&str] = &[
    "doc",
    "allow",
    "warn",
    "deny",
    "forbid",
    "expect",
    "must_use",
    "inline",
    "cold",
    "deprecated",
    "track_caller",
    "non_exhaustive",
    "repr",
    "cfg",
    "test",
    "ignore",
    "should_panic",
    "automatically_derived",
    "no_mangle",
    "export_name",
    "link_section",
    "link",
    "link_name",
    "used",
    "macro_export",
    "macro_use",
    "path",
    "target_feature",
    "unsafe",
    "no_std",
    "no_implicit_prelude",
    "recursion_limit",
    "type_length_limit",
    "windows_subsystem",
    "global_allocator",
    "panic_handler",
    "no_main",
    "feature",
    "debugger_visualizer",
    "collapse_debuginfo",
    "instruction_set",
    "naked",
    // Helper attributes of the derives below, read only by them.
    "serde",
    "error",
    "from",
    "source",
    "backtrace",
];

/// `#[task]`, which reads no doc comment into what it generates.
const OUR_ATTRIBUTES: &[&str] = &["task", "pipeline_core::task", "pipeline_macros::task"];

/// Derives that read neither doc comments nor optional commas.
const KNOWN_DERIVES: &[&str] = &[
    "Debug",
    "Clone",
    "Copy",
    "PartialEq",
    "Eq",
    "PartialOrd",
    "Ord",
    "Hash",
    "Default",
    "Serialize",
    "Deserialize",
    "Error",
];

/// The paths those derives are also written with.
const KNOWN_DERIVE_CRATES: &[&str] = &["std::", "core::", "serde::", "thiserror::"];

/// Drops the resource arguments (`cpus`, `memory`, `time`, `partition`)
/// of a `#[task(…)]` attribute: what a task asks of the machine that runs
/// it does not change what it computes, so it is not part of its key.
fn drop_task_resources(attr: &mut Attribute) {
    if !OUR_ATTRIBUTES.contains(&path_text(attr.path()).as_str()) {
        return;
    }
    let syn::Meta::List(list) = &mut attr.meta else {
        return;
    };
    let parser = Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated;
    let Ok(args) = syn::parse::Parser::parse2(parser, list.tokens.clone()) else {
        return;
    };
    let kept: Punctuated<syn::Meta, syn::Token![,]> = args
        .into_iter()
        .filter(|meta| {
            !meta
                .path()
                .get_ident()
                .is_some_and(|key| crate::task::RESOURCE_KEYS.iter().any(|k| key == k))
        })
        .collect();
    if kept.is_empty() {
        // `#[task(cpus = 4)]` is `#[task]`, not `#[task()]`.
        attr.meta = syn::Meta::Path(list.path.clone());
    } else {
        list.tokens = kept.into_token_stream();
    }
}

/// Whether an expression is block-like: as a match arm's body it needs no comma.
fn block_like(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Block(_)
            | Expr::If(_)
            | Expr::Match(_)
            | Expr::Loop(_)
            | Expr::While(_)
            | Expr::ForLoop(_)
            | Expr::Unsafe(_)
            | Expr::TryBlock(_)
            | Expr::Const(_)
    )
}

/// Drops the trailing separator of a list where the grammar makes it optional.
fn drop_trailing<T, P>(list: &mut Punctuated<T, P>) {
    list.pop_punct();
}

impl VisitMut for Normalize {
    fn visit_item_mut(&mut self, item: &mut Item) {
        let attrs: &[Attribute] = match item {
            Item::Const(i) => &i.attrs,
            Item::Enum(i) => &i.attrs,
            Item::ExternCrate(i) => &i.attrs,
            Item::Fn(i) => &i.attrs,
            Item::ForeignMod(i) => &i.attrs,
            Item::Impl(i) => &i.attrs,
            Item::Macro(i) => &i.attrs,
            Item::Mod(i) => &i.attrs,
            Item::Static(i) => &i.attrs,
            Item::Struct(i) => &i.attrs,
            Item::Trait(i) => &i.attrs,
            Item::TraitAlias(i) => &i.attrs,
            Item::Type(i) => &i.attrs,
            Item::Union(i) => &i.attrs,
            Item::Use(i) => &i.attrs,
            _ => return,
        };
        if self.item_attrs(attrs) {
            visit_mut::visit_item_mut(self, item);
        }
    }

    fn visit_impl_item_mut(&mut self, item: &mut syn::ImplItem) {
        let attrs: &[Attribute] = match item {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            syn::ImplItem::Macro(i) => &i.attrs,
            _ => return,
        };
        if self.item_attrs(attrs) {
            visit_mut::visit_impl_item_mut(self, item);
        }
    }

    fn visit_trait_item_mut(&mut self, item: &mut syn::TraitItem) {
        let attrs: &[Attribute] = match item {
            syn::TraitItem::Const(i) => &i.attrs,
            syn::TraitItem::Fn(i) => &i.attrs,
            syn::TraitItem::Type(i) => &i.attrs,
            syn::TraitItem::Macro(i) => &i.attrs,
            _ => return,
        };
        if self.item_attrs(attrs) {
            visit_mut::visit_trait_item_mut(self, item);
        }
    }

    fn visit_foreign_item_mut(&mut self, item: &mut syn::ForeignItem) {
        let attrs: &[Attribute] = match item {
            syn::ForeignItem::Fn(i) => &i.attrs,
            syn::ForeignItem::Static(i) => &i.attrs,
            syn::ForeignItem::Type(i) => &i.attrs,
            syn::ForeignItem::Macro(i) => &i.attrs,
            _ => return,
        };
        if self.item_attrs(attrs) {
            visit_mut::visit_foreign_item_mut(self, item);
        }
    }

    fn visit_attribute_mut(&mut self, attr: &mut Attribute) {
        if attr.path().is_ident("doc") && matches!(attr.meta, syn::Meta::NameValue(_)) {
            let span = proc_macro2::Span::call_site();
            attr.meta = syn::Meta::Path(syn::Ident::new(DROPPED_DOC, span).into());
        }
        drop_task_resources(attr);
    }

    fn visit_arm_mut(&mut self, arm: &mut syn::Arm) {
        if block_like(&arm.body) {
            arm.comma = None;
        }
        visit_mut::visit_arm_mut(self, arm);
    }

    fn visit_expr_match_mut(&mut self, expr: &mut syn::ExprMatch) {
        if let Some(last) = expr.arms.last_mut() {
            last.comma = None;
        }
        visit_mut::visit_expr_match_mut(self, expr);
    }

    fn visit_expr_array_mut(&mut self, expr: &mut syn::ExprArray) {
        drop_trailing(&mut expr.elems);
        visit_mut::visit_expr_array_mut(self, expr);
    }

    fn visit_expr_call_mut(&mut self, expr: &mut syn::ExprCall) {
        drop_trailing(&mut expr.args);
        visit_mut::visit_expr_call_mut(self, expr);
    }

    fn visit_expr_method_call_mut(&mut self, expr: &mut syn::ExprMethodCall) {
        drop_trailing(&mut expr.args);
        visit_mut::visit_expr_method_call_mut(self, expr);
    }

    fn visit_expr_struct_mut(&mut self, expr: &mut syn::ExprStruct) {
        if expr.rest.is_none() {
            drop_trailing(&mut expr.fields);
        }
        visit_mut::visit_expr_struct_mut(self, expr);
    }

    fn visit_expr_tuple_mut(&mut self, expr: &mut syn::ExprTuple) {
        drop_trailing(&mut expr.elems);
        visit_mut::visit_expr_tuple_mut(self, expr);
    }

    fn visit_expr_closure_mut(&mut self, expr: &mut syn::ExprClosure) {
        drop_trailing(&mut expr.inputs);
        visit_mut::visit_expr_closure_mut(self, expr);
    }

    fn visit_fields_named_mut(&mut self, fields: &mut syn::FieldsNamed) {
        drop_trailing(&mut fields.named);
        visit_mut::visit_fields_named_mut(self, fields);
    }

    fn visit_fields_unnamed_mut(&mut self, fields: &mut syn::FieldsUnnamed) {
        drop_trailing(&mut fields.unnamed);
        visit_mut::visit_fields_unnamed_mut(self, fields);
    }

    fn visit_item_enum_mut(&mut self, item: &mut syn::ItemEnum) {
        drop_trailing(&mut item.variants);
        visit_mut::visit_item_enum_mut(self, item);
    }

    fn visit_signature_mut(&mut self, sig: &mut syn::Signature) {
        if sig.variadic.is_none() {
            drop_trailing(&mut sig.inputs);
        }
        visit_mut::visit_signature_mut(self, sig);
    }

    fn visit_generics_mut(&mut self, generics: &mut syn::Generics) {
        drop_trailing(&mut generics.params);
        visit_mut::visit_generics_mut(self, generics);
    }

    fn visit_where_clause_mut(&mut self, clause: &mut syn::WhereClause) {
        drop_trailing(&mut clause.predicates);
        visit_mut::visit_where_clause_mut(self, clause);
    }

    fn visit_angle_bracketed_generic_arguments_mut(
        &mut self,
        args: &mut syn::AngleBracketedGenericArguments,
    ) {
        drop_trailing(&mut args.args);
        visit_mut::visit_angle_bracketed_generic_arguments_mut(self, args);
    }

    fn visit_parenthesized_generic_arguments_mut(
        &mut self,
        args: &mut syn::ParenthesizedGenericArguments,
    ) {
        drop_trailing(&mut args.inputs);
        visit_mut::visit_parenthesized_generic_arguments_mut(self, args);
    }

    fn visit_use_group_mut(&mut self, group: &mut syn::UseGroup) {
        drop_trailing(&mut group.items);
        visit_mut::visit_use_group_mut(self, group);
    }

    fn visit_pat_tuple_mut(&mut self, pat: &mut syn::PatTuple) {
        drop_trailing(&mut pat.elems);
        visit_mut::visit_pat_tuple_mut(self, pat);
    }

    fn visit_pat_tuple_struct_mut(&mut self, pat: &mut syn::PatTupleStruct) {
        drop_trailing(&mut pat.elems);
        visit_mut::visit_pat_tuple_struct_mut(self, pat);
    }

    fn visit_pat_struct_mut(&mut self, pat: &mut syn::PatStruct) {
        if pat.rest.is_none() {
            drop_trailing(&mut pat.fields);
        }
        visit_mut::visit_pat_struct_mut(self, pat);
    }

    fn visit_pat_slice_mut(&mut self, pat: &mut syn::PatSlice) {
        drop_trailing(&mut pat.elems);
        visit_mut::visit_pat_slice_mut(self, pat);
    }

    fn visit_type_tuple_mut(&mut self, ty: &mut syn::TypeTuple) {
        drop_trailing(&mut ty.elems);
        visit_mut::visit_type_tuple_mut(self, ty);
    }

    fn visit_type_bare_fn_mut(&mut self, ty: &mut syn::TypeBareFn) {
        if ty.variadic.is_none() {
            drop_trailing(&mut ty.inputs);
        }
        visit_mut::visit_type_bare_fn_mut(self, ty);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of_file(text: &str) -> [u8; 32] {
        let mut digest = Digest::new("test");
        hash(file_tokens(text).expect("lexes"), &mut digest);
        digest.finish()
    }

    fn digest_of_fn(text: &str) -> [u8; 32] {
        let mut digest = Digest::new("test");
        hash(item_tokens(&syn::parse_str(text).unwrap()), &mut digest);
        digest.finish()
    }

    #[test]
    fn whitespace_comments_and_doc_comments_do_not_count() {
        let original = "pub fn scale(x: f64) -> f64 { x * 2.0 }";
        let reformatted = "//! The helpers.\n\n/// Scales.\npub fn scale(\n    x: f64, // the input\n) -> f64 {\n    /* twice */ x * 2.0\n}\n";
        assert_eq!(digest_of_file(original), digest_of_file(reformatted));
    }

    #[test]
    fn resources_of_a_task_do_not_count() {
        let plain = "#[task(skippable)]\nfn f(x: &i64) -> i64 { *x }";
        let with_resources = "#[pipeline_core::task(skippable, cpus = 4, memory = \"8G\", time = \"1h\", partition = \"big\")]\nfn f(x: &i64) -> i64 { *x }";
        let path = "#[pipeline_core::task(skippable)]\nfn f(x: &i64) -> i64 { *x }";
        assert_eq!(digest_of_file(path), digest_of_file(with_resources));
        assert_eq!(
            digest_of_file("#[task]\nfn f(x: &i64) -> i64 { *x }"),
            digest_of_file("#[task(cpus = 2)]\nfn f(x: &i64) -> i64 { *x }")
        );
        assert_ne!(
            digest_of_file(plain),
            digest_of_file("#[task]\nfn f(x: &i64) -> i64 { *x }"),
            "other arguments still count"
        );
    }

    #[test]
    fn a_changed_literal_or_operator_counts() {
        let original = digest_of_file("pub fn scale(x: f64) -> f64 { x * 2.0 }");
        assert_ne!(
            original,
            digest_of_file("pub fn scale(x: f64) -> f64 { x * 3.0 }")
        );
        assert_ne!(
            original,
            digest_of_file("pub fn scale(x: f64) -> f64 { x * 2.00 }")
        );
        assert_ne!(
            original,
            digest_of_file("pub fn scale(x: f64) -> f64 { x / 2.0 }")
        );
    }

    #[test]
    fn spacing_of_punctuation_counts() {
        // `a && b` short-circuits, `a & &b` does not.
        assert_ne!(
            digest_of_file("fn f(a: bool, b: bool) -> bool { a && b }"),
            digest_of_file("fn f(a: bool, b: bool) -> bool { a & &b }")
        );
    }

    #[test]
    fn optional_commas_do_not_count() {
        let wrapped = "struct S {\n    a: i64,\n    b: i64,\n}\nfn f(x: i64, y: i64,) -> Vec<i64> { let v = [x, y,]; g(v[0], y,); match x { 0 => { 1 } , _ => 2, }; v.to_vec() }";
        let flat = "struct S { a: i64, b: i64 }\nfn f(x: i64, y: i64) -> Vec<i64> { let v = [x, y]; g(v[0], y); match x { 0 => { 1 } _ => 2 }; v.to_vec() }";
        assert_eq!(digest_of_file(wrapped), digest_of_file(flat));
    }

    #[test]
    fn the_comma_of_a_one_element_tuple_counts() {
        assert_ne!(
            digest_of_file("fn f(x: i64) -> (i64,) { (x,) }"),
            digest_of_file("fn f(x: i64) -> (i64) { (x) }")
        );
        assert_ne!(
            digest_of_file("fn f(x: i64) { let t = match x { _ => (x,) }; dbg!(t); }"),
            digest_of_file("fn f(x: i64) { let t = match x { _ => (x) }; dbg!(t); }")
        );
        assert_ne!(
            digest_of_file("fn f<'a>(x: &'a (i64,)) {}"),
            digest_of_file("fn f<'a>(x: &'a (i64)) {}")
        );
    }

    #[test]
    fn commas_inside_macro_calls_count() {
        // A `macro_rules!` can match `m!(x)` and `m!(x,)` differently.
        assert_ne!(
            digest_of_file("fn f() -> i64 { m!(1,) }"),
            digest_of_file("fn f() -> i64 { m!(1) }")
        );
    }

    #[test]
    fn doc_comments_count_on_items_a_macro_reads() {
        // clap's derive turns doc comments into help texts.
        let clap = |doc: &str| {
            digest_of_file(&format!(
                "#[derive(Parser)]\nstruct Cli {{\n    /// {doc}\n    input: String,\n}}"
            ))
        };
        assert_ne!(clap("The input file."), clap("The data file."));
        let attribute = |doc: &str| {
            digest_of_file(&format!(
                "#[my_macro]\nmod m {{\n    /// {doc}\n    fn f() {{}}\n}}"
            ))
        };
        assert_ne!(attribute("One."), attribute("Two."));
    }

    #[test]
    fn doc_comments_do_not_count_under_known_derives_and_task() {
        let serde = |doc: &str| {
            digest_of_file(&format!(
                "#[derive(Debug, Clone, serde::Serialize)]\n#[serde(rename_all = \"camelCase\")]\nstruct Row {{\n    /// {doc}\n    id: u64,\n}}"
            ))
        };
        assert_eq!(serde("The id."), serde("The row's id."));
        let task = |doc: &str| {
            digest_of_file(&format!(
                "/// {doc}\n#[task(skippable)]\nfn t(x: &i64) -> i64 {{ *x }}"
            ))
        };
        assert_eq!(task("One."), task("Two."));
    }

    #[test]
    fn a_file_syn_cannot_parse_is_compared_by_its_raw_tokens() {
        // Not valid Rust, but it lexes: every token counts, comments do not.
        assert!(syn::parse_file("fn f({ 1, })").is_err());
        assert_eq!(
            digest_of_file("fn f({ 1, })"),
            digest_of_file("fn f( /* c */ {\n 1 , })")
        );
        assert_ne!(
            digest_of_file("fn f({ 1, })"),
            digest_of_file("fn f({ 1 })")
        );
        assert!(file_tokens("fn f() { \"unterminated }").is_none());
    }

    #[test]
    fn function_tokens_ignore_docs_and_trailing_commas() {
        let original = digest_of_fn("fn double(x: &i64) -> i64 { x * 2 }");
        assert_eq!(
            original,
            digest_of_fn("/// Doubles.\nfn double(\n    x: &i64,\n) -> i64 {\n    x * 2 // why\n}")
        );
        assert_ne!(
            original,
            digest_of_fn("fn double(x: &i64) -> i64 { x * 3 }")
        );
        assert_eq!(
            digest_of_fn("fn f(x: &i64) -> Vec<i64> { vec![*x, 1] }"),
            digest_of_fn("fn f(x: &i64) -> Vec<i64> { vec![*x, 1] }")
        );
        assert_ne!(
            digest_of_fn("fn f(x: &i64) -> (i64,) { let t = (*x,); t }"),
            digest_of_fn("fn f(x: &i64) -> (i64,) { let t = (*x); t }")
        );
        assert_eq!(
            digest_of_fn("fn f(x: &i64) -> i64 { g(*x,) }"),
            digest_of_fn("fn f(x: &i64) -> i64 { g(*x) }")
        );
    }
}
