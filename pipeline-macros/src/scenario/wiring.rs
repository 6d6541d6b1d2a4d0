//! The scenario's tasks as the generated code sees them, and the compile-time
//! assertions rustc checks on their wiring.
//!
//! Each task's path is named in one place only: the scenario type's task table
//! (`__PIPELINE_TASKS`: registered name, skippable flag, arities and definition
//! of each task, in declaration order), which the rest of the generated code
//! reads. There the path is resolved so that every mistake is one clear error
//! on the user's token:
//!
//! - a `#[task]` function: its task struct (the type `#[task]` emits);
//! - a function without `#[task]`: a stand-in type named like the function,
//!   which is not a task, so the error says "`double` is not a task" and how to
//!   make it one (rustc alone would say "expected type, found function");
//! - a misspelt name: rustc's "cannot find value" with its suggestions.
//!
//! How: `use path as alias;` binds the alias in every namespace where the path
//! exists, so it is a type only when the function has its `#[task]` struct;
//! otherwise the alias is found one scope further out, where it names the
//! stand-in. For a single-segment path, an empty `macro_rules!` of the same
//! name keeps the `use` from failing on a misspelt name, which the stand-in's
//! check (`let _ = name;`) then reports as rustc does for any unknown value.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::Ident;

use super::check::name;
use super::parse::{ScenarioDef, TaskUse};
use crate::util::{ordinal, respan, upper_camel};

/// The arities a wiring error names exactly; past this it says "more than".
const MAX_NAMED_ARITY: usize = 16;

/// The fields of a task table entry.
#[derive(Clone, Copy)]
pub(crate) enum Field {
    /// `&'static str`: the registered name.
    Name,
    /// `bool`: `#[task(skippable)]`.
    Skippable,
    /// `usize`: the number of parameters.
    InputCount,
    /// `usize`: the number of outputs.
    OutputCount,
    /// `fn() -> TaskDef`: the task for the runtime.
    Def,
}

/// `Scenario::__PIPELINE_TASKS[index].field`, as the rest of the generated code reads a task.
pub(crate) fn table_field(def: &ScenarioDef, index: usize, field: Field) -> TokenStream {
    let ident = &def.ident;
    let field = syn::Index::from(field as usize);
    quote!(#ident::__PIPELINE_TASKS[#index].#field)
}

/// The associated const holding the task table (inside `impl Scenario`). With
/// `valid`, each entry also carries the assertions on its nodes' types.
pub(crate) fn task_table(def: &ScenarioDef, valid: bool) -> TokenStream {
    let private = quote!(::pipeline_core::__private);
    let count = def.tasks.len();
    let mut stand_ins = TokenStream::new();
    let mut seen = HashSet::new();
    for task in &def.tasks {
        let last = last_segment(task);
        if seen.insert(last.to_string()) {
            // Spanned on the user's name: rustc's help points there.
            stand_ins.extend(quote_spanned!(last.span()=> pub struct #last {}));
        }
    }
    let node_aliases = if valid {
        def.nodes
            .iter()
            .enumerate()
            .map(|(index, node)| {
                let alias = format_ident!("__pipeline_node_{}", index);
                let ty = &node.ty;
                quote!(type #alias = #ty;)
            })
            .collect()
    } else {
        TokenStream::new()
    };
    let entries = def
        .tasks
        .iter()
        .enumerate()
        .map(|(index, task)| entry(def, index, task, valid));
    quote! {
        /// Each task's registered name, skippable flag, arities and definition.
        #[doc(hidden)]
        #[allow(dead_code, non_camel_case_types, unused_imports, unused_macros)]
        const __PIPELINE_TASKS: [(&'static str, bool, usize, usize, fn() -> #private::TaskDef); #count] = {
            trait __PipelinePick<F> { type Out; }
            impl<F> __PipelinePick<F> for [(); 0] { type Out = F; }
            /// What a task's path names when it is a function without `#[task]`.
            mod __pipeline_function { #stand_ins }
            #node_aliases
            [#(#entries),*]
        };
    }
}

/// The last segment of a task's path (the function's name).
fn last_segment(task: &TaskUse) -> &Ident {
    &task
        .path
        .segments
        .last()
        .expect("a parsed path has a segment")
        .ident
}

/// One task's entry: its path resolved (see the module docs), its type
/// assertions, and the tuple.
fn entry(def: &ScenarioDef, index: usize, task: &TaskUse, valid: bool) -> TokenStream {
    let private = quote!(::pipeline_core::__private);
    let path = &task.path;
    let last = last_segment(task);
    let alias = Ident::new("__pipeline_task", last.span());
    let single = path.leading_colon.is_none() && path.segments.len() == 1;
    // The stand-in, one scope out. For a single-segment path it only resolves
    // if the function exists (else rustc reports the unknown value there).
    let stand_in = if single {
        let exists = quote_spanned!(last.span()=> { let _ = #path; 0 });
        quote! {
            type #alias = <[(); #exists] as __PipelinePick<__pipeline_function::#last>>::Out;
        }
    } else {
        quote!(type #alias = __pipeline_function::#last;)
    };
    let keep_use_resolving = single.then(|| quote!(macro_rules! #last { () => {} }));
    let task_ref = task_as_trait(task, alias.to_token_stream());
    let assertions = if valid {
        type_checks(def, index, task, &task_ref)
    } else {
        TokenStream::new()
    };
    let (_, last_span) = path_spans(task);
    let field = |item: &str| {
        let item = Ident::new(item, last_span);
        quote_spanned!(last_span=> #task_ref::#item)
    };
    let (name, skippable, inputs, outputs, def_fn) = (
        field("NAME"),
        field("SKIPPABLE"),
        field("INPUT_COUNT"),
        field("OUTPUT_COUNT"),
        field("def"),
    );
    quote! {{
        #stand_in
        {
            #keep_use_resolving
            use #path as #alias;
            #assertions
            (#name, #skippable, #inputs, #outputs, #def_fn as fn() -> #private::TaskDef)
        }
    }}
}

/// `<self_type as Task>`, spanned from the path's first token to its last, so
/// that rustc underlines the user's whole path (a type that is not a task is
/// then one error there, however often it is used).
fn task_as_trait(task: &TaskUse, self_type: TokenStream) -> TokenStream {
    let (first, last) = path_spans(task);
    let open = quote_spanned!(first=> <);
    let close = quote_spanned!(last=> as ::pipeline_core::__private::Task>);
    quote!(#open #self_type #close)
}

/// The spans of the first and last tokens of a task's path.
pub(crate) fn path_spans(task: &TaskUse) -> (Span, Span) {
    let path = &task.path;
    let first = path
        .leading_colon
        .as_ref()
        .map_or_else(|| path.segments[0].ident.span(), |colon| colon.spans[0]);
    (first, last_segment(task).span())
}

/// The compile-time assertions that need no task type, in one anonymous
/// const: each task's arities, and distinct registered names.
pub(crate) fn checks(def: &ScenarioDef) -> TokenStream {
    let mut out = TokenStream::new();
    for (index, task) in def.tasks.iter().enumerate() {
        out.extend(arity_check(def, index, task, Role::Input));
        out.extend(arity_check(def, index, task, Role::Output));
    }
    out.extend(distinct_name_checks(def));
    quote! {
        #[allow(non_camel_case_types, dead_code)]
        const _: () = {
            #out
        };
    }
}

/// The expression naming a task in the graph: its alias, else its registered name.
pub(crate) fn graph_task_name(def: &ScenarioDef, index: usize) -> TokenStream {
    match &def.tasks[index].alias {
        Some(alias) => name(alias).into_token_stream(),
        None => table_field(def, index, Field::Name),
    }
}

/// Two tasks of one scenario registered under one name (`#[task(name = "…")]`)
/// would collide in the graph: one `const` assertion per pair, on the later task.
fn distinct_name_checks(def: &ScenarioDef) -> TokenStream {
    let mut out = TokenStream::new();
    for (later_index, later) in def.tasks.iter().enumerate() {
        for (earlier_index, earlier) in def.tasks[..later_index].iter().enumerate() {
            if later.alias.is_some() && earlier.alias.is_some() {
                continue; // two aliases: compared by the check phase
            }
            let later_name = name(later.local_name());
            let message = format!(
                "tasks `{}` and `{later_name}` are registered under the same name (`#[task(name = …)]`); give this one its own name in the scenario: `{later_name}(…) -> … as {later_name}`",
                name(earlier.local_name()),
            );
            let (earlier_name, later_name) = (
                graph_task_name(def, earlier_index),
                graph_task_name(def, later_index),
            );
            let (first, last) = path_spans(later);
            let assertion = quote_spanned!(first=> ::std::assert!);
            let args = quote_spanned!(last=>
                (!::pipeline_core::__private::str_eq(#earlier_name, #later_name), #message)
            );
            out.extend(quote_spanned!(last=> const _: () = #assertion #args;));
        }
    }
    out
}

/// Which side of a task a node is wired to.
#[derive(Clone, Copy)]
enum Role {
    Input,
    Output,
}

/// `const _: () = match <count> { n => {}, k => panic!("…"), … };` with one
/// message per possible arity, so the error names both numbers.
fn arity_check(def: &ScenarioDef, index: usize, task: &TaskUse, role: Role) -> TokenStream {
    let task_name = name(task.local_name());
    let (wired, span, count) = match role {
        Role::Input => (
            task.inputs.len(),
            task.inputs_span,
            table_field(def, index, Field::InputCount),
        ),
        Role::Output => (
            task.outputs.len(),
            task.outputs_span,
            table_field(def, index, Field::OutputCount),
        ),
    };
    let message = |actual: &str, actual_is_one: bool| -> String {
        match role {
            Role::Input => format!(
                "task `{task_name}` takes {actual} input{}, but {wired} data node{} {} wired to its parameters here; list one data node per parameter, in order",
                if actual_is_one { "" } else { "s" },
                if wired == 1 { "" } else { "s" },
                if wired == 1 { "is" } else { "are" },
            ),
            Role::Output => format!(
                "task `{task_name}` returns {actual} output{}, but {wired} data node{} {} wired to its outputs here; list one data node per output, in order (`-> (a, b)` for a tuple)",
                if actual_is_one { "" } else { "s" },
                if wired == 1 { "" } else { "s" },
                if wired == 1 { "is" } else { "are" },
            ),
        }
    };
    let arms = (0..=MAX_NAMED_ARITY).filter(|&n| n != wired).map(|n| {
        let text = message(&n.to_string(), n == 1);
        quote_spanned!(span=> #n => ::std::panic!(#text),)
    });
    let more = message(&format!("more than {MAX_NAMED_ARITY}"), false);
    quote_spanned! {span=>
        const _: () = match #count {
            #wired => {}
            #(#arms)*
            _ => ::std::panic!(#more),
        };
    }
}

/// For each node wired to the task, an assertion that its type is the task's
/// type at that position.
fn type_checks(
    def: &ScenarioDef,
    index: usize,
    task: &TaskUse,
    task_ref: &TokenStream,
) -> TokenStream {
    let node_index: HashMap<String, usize> = def
        .nodes
        .iter()
        .enumerate()
        .rev()
        .map(|(i, node)| (name(&node.name), i))
        .collect();
    let mut out = TokenStream::new();
    for role in [Role::Input, Role::Output] {
        let wired = match role {
            Role::Input => &task.inputs,
            Role::Output => &task.outputs,
        };
        for (position, node) in wired.iter().enumerate() {
            let node_alias = format_ident!("__pipeline_node_{}", node_index[&name(node)]);
            out.extend(type_check(
                def,
                index,
                task,
                task_ref,
                role,
                position,
                node,
                &node_alias,
            ));
        }
    }
    out
}

/// A function holding a trait whose `on_unimplemented` message names the node,
/// its type, the task, the parameter (or output) and the type there, and an
/// assertion `NodeType: Trait<TaskType>` spanned on the node's name. The trait
/// is implemented only for `T: Trait<T>`; its name (unique to the scenario,
/// task and position) is what rustc's help line shows.
#[allow(clippy::too_many_arguments)]
fn type_check(
    def: &ScenarioDef,
    index: usize,
    task: &TaskUse,
    task_ref: &TokenStream,
    role: Role,
    position: usize,
    node: &Ident,
    node_alias: &Ident,
) -> TokenStream {
    let task_name = name(task.local_name());
    let node_name = name(node);
    let nth = ordinal(position + 1);
    let (message, note, list, side, function_side) = match role {
        Role::Input => (
            format!(
                "data node `{node_name}` holds `{{Self}}`, but the {nth} parameter of task `{task_name}` takes `{{T}}`"
            ),
            format!(
                "data nodes are passed in parameter order: wire a node of type `{{T}}` here, or change the type of `{node_name}`"
            ),
            quote!(Inputs),
            "Parameter",
            "parameter",
        ),
        Role::Output => (
            format!(
                "data node `{node_name}` holds `{{Self}}`, but the {nth} output of task `{task_name}` is `{{T}}`"
            ),
            format!(
                "outputs are written in order: wire a node of type `{{T}}` here, or change the type of `{node_name}`"
            ),
            quote!(Outputs),
            "Output",
            "output",
        ),
    };
    let trait_name = format_ident!(
        "{side}{}Of{}In{}",
        position + 1,
        upper_camel(&task_name),
        def.ident,
        span = node.span()
    );
    let function = format_ident!("__pipeline_wiring_{}_{}_{}", index, function_side, position);
    let private = quote!(::pipeline_core::__private);
    let position_type =
        (0..position).fold(quote!(#private::Z), |inner, _| quote!(#private::S<#inner>));
    // The assertion is spanned on the node's name, so rustc reports it there;
    // only the task keeps its path's span (a path that is not a task is
    // reported by the table entry, once).
    let span = node.span();
    let head = respan(quote!(const _: () = <#node_alias as #trait_name<<), span);
    let tail = respan(
        quote!(::#list as #private::Nth<#position_type, #node_alias>>::Type>>::HOLDS;),
        span,
    );
    quote! {
        fn #function() {
            #[diagnostic::on_unimplemented(
                message = #message,
                label = "expected `{T}`, found `{Self}`",
                note = #note
            )]
            trait #trait_name<T: ?Sized> {
                const HOLDS: ();
            }
            impl<T: ?Sized> #trait_name<T> for T {
                const HOLDS: () = ();
            }
            #head #task_ref #tail
        }
    }
}
