//! `#[task]`: parse the attribute and the function, check the rules, expand.

mod check;
mod expand;
mod parse;
mod resources;

pub(crate) use resources::KEYS as RESOURCE_KEYS;

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;

/// The whole `#[task(args)] item` transformation.
pub(crate) fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let args = parse::args(&cx, args);
    let task = match parse::task(args, item.clone()) {
        Ok(task) => task,
        Err(error) => {
            cx.syn_error(error);
            let mut out = cx.check().unwrap_err().to_compile_error();
            out.extend(item);
            return out;
        }
    };
    check::check(&cx, &task);
    match cx.check() {
        // Keep the function so that its callers do not report errors of their own.
        Err(errors) => {
            let mut out = errors.to_compile_error();
            out.extend(quote::ToTokens::into_token_stream(task.item));
            out
        }
        Ok(()) => expand::expand(&task),
    }
}
