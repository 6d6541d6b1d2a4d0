//! The rules a `#[task]` function must follow, each broken rule an error on the
//! offending token that says what to write instead.

use syn::{FnArg, GenericArgument, GenericParam, PathArguments, ReturnType, Type};

use super::parse::{ParamKind, Task};
use crate::ctxt::Ctxt;

/// Pushes one error per broken rule.
pub(crate) fn check(cx: &Ctxt, task: &Task) {
    let sig = &task.item.sig;
    if let Some(asyncness) = &sig.asyncness {
        cx.error_spanned_by(
            asyncness,
            "a task cannot be `async`: tasks run on worker threads; make it a plain `fn` (block on futures inside it if you must)",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error_spanned_by(
            unsafety,
            "a task cannot be `unsafe fn`: the runtime calls it with no way to uphold its safety contract; make it safe and use an `unsafe` block inside",
        );
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned_by(variadic, "a task cannot be variadic");
    }
    for param in &sig.generics.params {
        match param {
            GenericParam::Lifetime(_) => {}
            GenericParam::Type(_) | GenericParam::Const(_) => cx.error_spanned_by(
                param,
                "a task cannot be generic: the runtime must know the type of every data node it reads and writes; write a non-generic wrapper `#[task] fn name(x: &Concrete) -> Out { generic(x) }`",
            ),
        }
    }
    for input in &sig.inputs {
        if let FnArg::Receiver(receiver) = input {
            cx.error_spanned_by(
                receiver,
                "a task cannot take `self`: every parameter is a data node; make it a free function",
            );
        }
    }
    for param in &task.params {
        if let Some(impl_trait) = find_impl_trait(&param.ty) {
            cx.error_spanned_by(
                impl_trait,
                "a task cannot take `impl Trait`: the runtime must know the data node's type; name a concrete type",
            );
            continue;
        }
        match &param.kind {
            ParamKind::MutBorrowed => cx.error_spanned_by(
                &param.ty,
                "a task cannot take `&mut`: data nodes are shared between tasks and never changed in place; take `&T` and return the new value as an output",
            ),
            ParamKind::Borrowed(inner) => {
                if let Type::Reference(inner) = &**inner {
                    cx.error_spanned_by(
                        inner,
                        "a task takes `&T`, not a reference to a reference; remove one `&`",
                    );
                }
            }
            ParamKind::Owned => {}
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        if let Some(impl_trait) = find_impl_trait(ty) {
            cx.error_spanned_by(
                impl_trait,
                "a task cannot return `impl Trait`: the runtime must know each output's type; name a concrete type",
            );
        }
        if let Type::Never(never) = &**ty {
            cx.error_spanned_by(
                never,
                "a task must return its outputs; it cannot return `!`",
            );
        }
    }
    if let Some((true, span)) = task.args.skippable
        && task.returns.outputs.is_empty()
    {
        cx.error_at(
            span,
            "a task without outputs cannot be skippable: nothing would record that it ran, so it would never run; remove `skippable` or return the task's result",
        );
    }
}

/// The first `impl Trait` inside a type, if any.
fn find_impl_trait(ty: &Type) -> Option<&Type> {
    match ty {
        Type::ImplTrait(_) => Some(ty),
        Type::Reference(r) => find_impl_trait(&r.elem),
        Type::Ptr(p) => find_impl_trait(&p.elem),
        Type::Slice(s) => find_impl_trait(&s.elem),
        Type::Array(a) => find_impl_trait(&a.elem),
        Type::Paren(p) => find_impl_trait(&p.elem),
        Type::Group(g) => find_impl_trait(&g.elem),
        Type::Tuple(t) => t.elems.iter().find_map(find_impl_trait),
        Type::Path(p) => p
            .path
            .segments
            .iter()
            .find_map(|segment| match &segment.arguments {
                PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
                    GenericArgument::Type(ty) => find_impl_trait(ty),
                    _ => None,
                }),
                _ => None,
            }),
        _ => None,
    }
}
