//! A task's code identity, as `#[task]` records it (see
//! `docs/code-fingerprint.md`): the digests of the function's tokens, of its
//! crate's sources, of the resolved dependencies and of the compiler, each
//! with the sources it lists.
//!
//! The crate-level parts are computed once per rustc invocation (cached in a
//! static) from the files on disk. Whatever cannot be read makes its part
//! *unreadable*: a digest no other build produces, so that the task re-runs
//! after every build rather than trusting a guess.

mod crate_parts;
mod digest;
mod invocation;
mod lockfile;
mod modules;
mod package;
mod scan;
mod tokens;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use proc_macro2::TokenStream;
use quote::quote;
use syn::LitStr;

use crate_parts::CrateCode;
use digest::{Digest, Part};
use invocation::Invocation;

/// The `CodeIdentity` expression of a task: `version` pins its own code, `env`
/// lists the environment variables it declared.
pub(crate) fn identity(
    item: &syn::ItemFn,
    version: Option<&LitStr>,
    env: &[LitStr],
) -> TokenStream {
    let code = current_crate_code();
    let private = quote!(::pipeline_core::__private);
    let own = match version {
        Some(version) => quote!(#private::OwnCode::Pinned(#version)),
        None => {
            let mut task_tokens = Digest::new("task-tokens");
            tokens::hash(tokens::item_tokens(item), &mut task_tokens);
            let task_tokens = bytes(&task_tokens.finish());
            let crate_sources = match task_file(item) {
                Some(file) if code.contains(&file) => code.crate_sources.clone(),
                Some(file) if !code.crate_sources.is_unreadable() => Part::unreadable(&format!(
                    "the task's file {} is not in the module tree of {}",
                    file.display(),
                    code.root_label()
                )),
                None if !code.crate_sources.is_unreadable() => Part::unreadable(
                    "the task's source file is not known (a doctest, or remapped paths)",
                ),
                _ => code.crate_sources.clone(),
            };
            let digest = bytes(&crate_sources.digest);
            let list = crate_sources.source_list();
            quote! {
                #private::OwnCode::Tokens {
                    task_tokens: #task_tokens,
                    crate_sources: #digest,
                    crate_source_list: #list,
                }
            }
        }
    };
    let dependencies = bytes(&code.dependencies.digest);
    let dependency_list = code.dependencies.source_list();
    let compiler = bytes(&code.compiler);
    quote! {
        #private::code_identity(&#private::CodeSpec {
            own: #own,
            dependencies: #dependencies,
            dependency_sources: #dependency_list,
            compiler: #compiler,
            debug_assertions: ::std::cfg!(debug_assertions),
            panic_unwind: ::std::cfg!(panic = "unwind"),
            env: &[#(#env),*],
        })
    }
}

/// `[b0, b1, …]` for a digest.
fn bytes(digest: &[u8; 32]) -> TokenStream {
    quote!([#(#digest),*])
}

/// The file the task function is written in, as rustc knows it.
fn task_file(item: &syn::ItemFn) -> Option<PathBuf> {
    if !proc_macro::is_available() {
        return None;
    }
    let file = item.sig.ident.span().unwrap().local_file()?;
    let absolute = match std::env::current_dir() {
        Ok(cwd) => cwd.join(file),
        Err(_) => file,
    };
    Some(modules::canonical(&absolute))
}

/// The crate-level parts of the crate being compiled, computed on first use
/// and kept for the rest of the rustc invocation (and recomputed if another
/// crate is compiled by the same process, as rust-analyzer's proc-macro
/// server does).
fn current_crate_code() -> Arc<CrateCode> {
    static CACHE: Mutex<Option<(Invocation, Arc<CrateCode>)>> = Mutex::new(None);
    let invocation = Invocation::current();
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((cached, code)) = cache.as_ref()
        && *cached == invocation
    {
        return code.clone();
    }
    let env = |name: &str| std::env::var(name).ok();
    // A bug here must not break the user's build: the parts become unreadable.
    let computed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crate_parts::compute(&invocation, &env)
    }));
    let code = Arc::new(computed.unwrap_or_else(|_| {
        crate_parts::CrateCode::unreadable(
            &invocation,
            "pipeline-macros failed while reading the sources (a bug: please report it)",
        )
    }));
    *cache = Some((invocation, code.clone()));
    code
}
