//! `#[task(...)]`'s input as plain data: the attribute's arguments and the
//! function's signature, classified but not yet judged (that is `check`'s job).

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Expr, ExprLit, FnArg, GenericArgument, ItemFn, Lit, LitStr, Meta, PathArguments, ReturnType,
    Token, Type,
};

use crate::ctxt::Ctxt;
use crate::util::did_you_mean;

/// The arguments of `#[task(...)]`.
#[derive(Default)]
pub(crate) struct Args {
    /// `skippable` (or `skippable = true|false`): the flag and where it was written.
    pub(crate) skippable: Option<(bool, Span)>,
    /// `version = "…"`: replaces the code fingerprint.
    pub(crate) version: Option<LitStr>,
    /// `name = "…"`: the registered name.
    pub(crate) name: Option<LitStr>,
    /// `env = ["NAME", …]`: environment variables whose values go into the task's key.
    pub(crate) env: Option<Vec<LitStr>>,
    /// `cpus`, `memory`, `time`, `partition`: what a remote executor asks for.
    pub(crate) resources: super::resources::Resources,
}

/// A parsed `#[task]` function.
pub(crate) struct Task {
    pub(crate) args: Args,
    pub(crate) item: ItemFn,
    /// The typed parameters, in order (a `self` receiver is not among them).
    pub(crate) params: Vec<Param>,
    /// What the function returns.
    pub(crate) returns: Returns,
}

/// One parameter: a data node read.
pub(crate) struct Param {
    /// The parameter's type as written.
    pub(crate) ty: Type,
    /// How the node's value reaches it.
    pub(crate) kind: ParamKind,
}

/// How a parameter receives its data node's value.
pub(crate) enum ParamKind {
    /// `&T`: borrowed from the node, never copied (`T` is the referent).
    Borrowed(Box<Type>),
    /// `&mut T`: not allowed.
    MutBorrowed,
    /// `T`: a clone of the node's value.
    Owned,
}

/// A function's return type, split into outputs.
pub(crate) struct Returns {
    /// The return type as written (`None` for no `->`).
    pub(crate) ty: Option<Type>,
    /// Whether the function returns `…Result<T, E>` or `…Result<T>` (an `Err` fails the job).
    pub(crate) fallible: bool,
    /// `E` of `Result<T, E>`, when written.
    pub(crate) error: Option<Type>,
    /// One type per output (the elements of a returned tuple).
    pub(crate) outputs: Vec<Type>,
    /// Whether the (ok) type is written as a tuple, even `(T,)`, so it is destructured.
    pub(crate) tuple: bool,
}

/// Parses the attribute arguments; every malformed one is reported.
pub(crate) fn args(cx: &Ctxt, tokens: TokenStream) -> Args {
    let mut args = Args::default();
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(metas) => metas,
        Err(error) => {
            cx.syn_error(error);
            return args;
        }
    };
    for meta in metas {
        let key = meta.path().get_ident().map(ToString::to_string);
        match key.as_deref() {
            Some("skippable") => {
                let value = match &meta {
                    Meta::Path(_) => Some(true),
                    Meta::NameValue(nv) => match &nv.value {
                        Expr::Lit(ExprLit {
                            lit: Lit::Bool(b), ..
                        }) => Some(b.value),
                        other => {
                            cx.error_spanned_by(
                                other,
                                "`skippable` is a flag: write `#[task(skippable)]` (or `skippable = false`)",
                            );
                            None
                        }
                    },
                    Meta::List(list) => {
                        cx.error_spanned_by(
                            list,
                            "`skippable` is a flag: write `#[task(skippable)]`",
                        );
                        None
                    }
                };
                if let Some(value) = value {
                    if args.skippable.is_some() {
                        cx.error_spanned_by(&meta, "`skippable` is given twice; keep one");
                    } else {
                        args.skippable = Some((value, meta.span()));
                    }
                }
            }
            Some(key @ ("version" | "name")) => {
                let Some(lit) = string_value(cx, &meta, key) else {
                    continue;
                };
                let slot = if key == "version" {
                    &mut args.version
                } else {
                    &mut args.name
                };
                if lit.value().trim().is_empty() {
                    cx.error_spanned_by(&lit, format_args!("`{key}` must not be empty"));
                } else if slot.is_some() {
                    cx.error_spanned_by(&meta, format_args!("`{key}` is given twice; keep one"));
                } else {
                    *slot = Some(lit);
                }
            }
            Some("env") => {
                let names = env_names(cx, &meta);
                if args.env.is_some() {
                    cx.error_spanned_by(
                        &meta,
                        "`env` is given twice; list every variable in one `env = [\"…\", …]`",
                    );
                } else {
                    args.env = Some(names);
                }
            }
            Some(key) if super::resources::KEYS.contains(&key) => {
                args.resources.read(cx, key, &meta);
            }
            _ => {
                let key = quote::ToTokens::to_token_stream(meta.path())
                    .to_string()
                    .replace(' ', "");
                let known = ["skippable", "version", "name", "env"]
                    .into_iter()
                    .chain(super::resources::KEYS);
                let hint = match did_you_mean(&key, known) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => {
                        "expected `skippable`, `version = \"…\"`, `name = \"…\"`, `env = [\"…\"]`, \
                         or a resource: `cpus = 4`, `memory = \"8G\"`, `time = \"30m\"`, `partition = \"…\"`"
                            .to_owned()
                    }
                };
                cx.error_spanned_by(
                    meta.path(),
                    format_args!("unknown `#[task]` argument `{key}`; {hint}"),
                );
            }
        }
    }
    args
}

/// The names of `env = ["NAME", …]`; each malformed or repeated one is reported.
fn env_names(cx: &Ctxt, meta: &Meta) -> Vec<LitStr> {
    const HINT: &str =
        "`env` takes a list of environment variable names: write `env = [\"NAME\", …]`";
    let array = match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Array(array) => array,
            Expr::Lit(ExprLit {
                lit: Lit::Str(name),
                ..
            }) => {
                cx.error_spanned_by(
                    name,
                    format_args!(
                        "`env` takes a list, even of one name: write `env = [\"{}\"]`",
                        name.value().escape_debug()
                    ),
                );
                return Vec::new();
            }
            other => {
                cx.error_spanned_by(other, HINT);
                return Vec::new();
            }
        },
        _ => {
            cx.error_spanned_by(meta, HINT);
            return Vec::new();
        }
    };
    let mut names: Vec<LitStr> = Vec::new();
    for element in &array.elems {
        let Expr::Lit(ExprLit {
            lit: Lit::Str(name),
            ..
        }) = element
        else {
            let hint = match element {
                Expr::Path(path) if path.path.get_ident().is_some() => format!(
                    "write the variable's name as a string: `\"{}\"`",
                    quote::ToTokens::to_token_stream(path)
                ),
                _ => "write each variable's name as a string literal: `\"NAME\"`".to_owned(),
            };
            cx.error_spanned_by(
                element,
                format_args!("`env` lists names, not expressions; {hint}"),
            );
            continue;
        };
        let value = name.value();
        if value.is_empty() {
            cx.error_spanned_by(name, "an environment variable name cannot be empty");
        } else if value.contains('=') || value.contains('\0') {
            cx.error_spanned_by(
                name,
                format_args!("`{}` is not an environment variable name: a name cannot contain `=` or a NUL byte", value.escape_debug()),
            );
        } else if value.trim() != value {
            cx.error_spanned_by(
                name,
                format_args!(
                    "`{}` has spaces around it; write `\"{}\"`",
                    value.escape_debug(),
                    value.trim()
                ),
            );
        } else if names.iter().any(|earlier| earlier.value() == value) {
            cx.error_spanned_by(
                name,
                format_args!("`{value}` is listed twice in `env`; keep one"),
            );
        } else {
            names.push(name.clone());
        }
    }
    names
}

/// The string of `key = "…"`, or an error saying how to write it.
fn string_value(cx: &Ctxt, meta: &Meta, key: &str) -> Option<LitStr> {
    let hint = format!("`{key}` takes a string: write `{key} = \"…\"`");
    match meta {
        Meta::NameValue(nv) => match &nv.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.clone()),
            other => {
                cx.error_spanned_by(other, hint);
                None
            }
        },
        _ => {
            cx.error_spanned_by(meta, hint);
            None
        }
    }
}

/// Parses the annotated item as a function and classifies its signature.
pub(crate) fn task(args: Args, item: TokenStream) -> syn::Result<Task> {
    let item: ItemFn = syn::parse2(item).map_err(|error| {
        syn::Error::new(
            error.span(),
            "`#[task]` goes on a function: `#[task] fn name(input: &Type) -> Output { … }`",
        )
    })?;
    let params = item
        .sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => Some(Param {
                ty: (*typed.ty).clone(),
                kind: match &*typed.ty {
                    Type::Reference(r) if r.mutability.is_some() => ParamKind::MutBorrowed,
                    Type::Reference(r) => ParamKind::Borrowed(r.elem.clone()),
                    _ => ParamKind::Owned,
                },
            }),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let returns = returns(&item.sig.output);
    Ok(Task {
        args,
        item,
        params,
        returns,
    })
}

/// Splits a return type into its outputs: `()` has none, a tuple one per
/// element, anything else one; `…Result<T, E>` is the same for `T`.
fn returns(output: &ReturnType) -> Returns {
    let ty = match output {
        ReturnType::Default => {
            return Returns {
                ty: None,
                fallible: false,
                error: None,
                outputs: Vec::new(),
                tuple: false,
            };
        }
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let (fallible, value, error) = match result_types(&ty) {
        Some((ok, error)) => (true, ok.clone(), error.cloned()),
        None => (false, ty.clone(), None),
    };
    let (outputs, tuple) = match ungroup(&value) {
        Type::Tuple(tuple) => (tuple.elems.iter().cloned().collect(), true),
        _ => (vec![value], false),
    };
    Returns {
        ty: Some(ty),
        fallible,
        error,
        outputs,
        tuple,
    }
}

/// `T` and `E` of a type written `Result<T, E>`, or `T` of
/// `some::path::Result<T>` or of an alias whose name ends in `Result`
/// (`PolarsResult<T>`, `IoResult<T>`).
fn result_types(ty: &Type) -> Option<(&Type, Option<&Type>)> {
    let Type::Path(path) = ungroup(ty) else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    if !last.ident.to_string().ends_with("Result") {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty),
        _ => None,
    });
    let ok = types.next()?;
    Some((ok, types.next()))
}

/// Looks through invisible groups (types passed through `macro_rules!`) and parentheses.
pub(crate) fn ungroup(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungroup(&group.elem),
        Type::Paren(paren) => ungroup(&paren.elem),
        _ => ty,
    }
}
