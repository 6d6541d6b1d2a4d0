//! `scenario!`: parse the declaration, check the graph rules, expand.

mod check;
mod expand;
mod parse;
mod wiring;

use proc_macro2::TokenStream;

use crate::ctxt::Ctxt;

/// The whole `scenario! { … }` transformation.
pub(crate) fn scenario(input: TokenStream) -> TokenStream {
    let def: parse::ScenarioDef = match syn::parse2(input) {
        Ok(def) => def,
        Err(error) => return error.to_compile_error(),
    };
    let cx = Ctxt::new();
    check::check(&cx, &def);
    match cx.check() {
        Ok(()) => expand::expand(&def, true),
        Err(errors) => {
            let mut out = errors.to_compile_error();
            out.extend(expand::expand(&def, false));
            out
        }
    }
}
