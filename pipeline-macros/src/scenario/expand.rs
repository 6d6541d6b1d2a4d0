//! Code generation for `scenario!`: the scenario struct with its constructors,
//! typed accessors and submit methods, the task and sequence enums, and the
//! compile-time assertions that make rustc check types and arities with its
//! caret on the user's tokens.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned;

use super::check::{GENERATED_ITEMS, name};
use super::parse::{NodeDecl, ScenarioDef, TaskUse};
use crate::util::{ordinal, pretty, qualified_call, respan, upper_camel};

/// The arities a wiring error names exactly; past this it says "more than".
const MAX_NAMED_ARITY: usize = 16;

/// Everything `scenario!` generates. When `valid` is false (the check phase
/// reported errors) the type is still generated, so that code using it does
/// not drown the real errors in its own, but its graph panics when built and
/// no type assertions are emitted.
pub(crate) fn expand(def: &ScenarioDef, valid: bool) -> TokenStream {
    let private = quote!(::pipeline_core::__private);
    let ident = &def.ident;
    let vis = &def.vis;
    let attrs = &def.attrs;
    let graph_name = name(ident);
    let task_enum = format_ident!("{}Task", ident);
    let sequence_enum = format_ident!("{}Sequence", ident);

    let struct_doc = struct_doc(def, &task_enum, &sequence_enum);
    let tasks_enum = tasks_enum(def, &task_enum);
    let sequences_enum = sequences_enum(def, &sequence_enum, &task_enum);
    let accessors = accessors(def);
    let graph_body = if valid {
        graph_builder(def)
    } else {
        quote! {
            ::std::panic!("scenario type `{}` did not compile: fix the errors `scenario!` reported", #graph_name)
        }
    };
    let checks = if valid {
        checks(def)
    } else {
        TokenStream::new()
    };

    quote! {
        #(#attrs)*
        #[doc = #struct_doc]
        #vis struct #ident {
            scenario: #private::Scenario,
        }

        #tasks_enum
        #sequences_enum

        impl #ident {
            /// The name of this scenario type and of its graph, as recorded in the store.
            pub const NAME: &'static str = #graph_name;

            /// The graph of this scenario type, built once per process.
            pub fn graph() -> #private::Arc<#private::Graph> {
                static GRAPH: #private::OnceLock<#private::Arc<#private::Graph>> =
                    #private::OnceLock::new();
                GRAPH.get_or_init(|| #graph_body).clone()
            }

            /// Creates a scenario of this type called `name`, writing the data node defaults.
            pub fn create(runtime: &#private::Runtime, name: &str) -> #private::Result<Self> {
                runtime
                    .create_scenario(Self::graph(), name)
                    .map(|scenario| Self { scenario })
            }

            /// The newest scenario of this type called `name`, if any.
            pub fn find(runtime: &#private::Runtime, name: &str) -> #private::Result<::std::option::Option<Self>> {
                ::std::result::Result::Ok(
                    runtime
                        .find_scenario(Self::graph(), name)?
                        .map(|scenario| Self { scenario }),
                )
            }

            /// The newest scenario of this type called `name`, created if there is none.
            pub fn find_or_create(runtime: &#private::Runtime, name: &str) -> #private::Result<Self> {
                runtime
                    .find_or_create_scenario(Self::graph(), name)
                    .map(|scenario| Self { scenario })
            }

            /// Opens the scenario of this type with the given id.
            pub fn open(runtime: &#private::Runtime, id: #private::ScenarioId) -> #private::Result<Self> {
                runtime
                    .open_scenario(Self::graph(), id)
                    .map(|scenario| Self { scenario })
            }

            /// Views an untyped scenario as this type, after checking that its graph
            /// is this type's: same name, data nodes (names and types), tasks and sequences.
            pub fn from_scenario(scenario: #private::Scenario) -> #private::Result<Self> {
                #private::check_scenario(&Self::graph(), &scenario)?;
                ::std::result::Result::Ok(Self { scenario })
            }

            /// The untyped scenario (id, name, history, events, nodes by name).
            pub fn scenario(&self) -> &#private::Scenario {
                &self.scenario
            }

            /// The untyped scenario.
            pub fn into_scenario(self) -> #private::Scenario {
                self.scenario
            }

            /// Submits every task, skipping those whose inputs and code are unchanged.
            pub fn submit(&self) -> #private::Result<#private::Submission> {
                self.scenario.submit()
            }

            /// Submits every task, running even those that could be skipped.
            pub fn submit_forced(&self) -> #private::Result<#private::Submission> {
                self.scenario.submit_forced()
            }

            /// Submits one task alone; its inputs must already have values.
            pub fn submit_task(&self, task: #task_enum) -> #private::Result<#private::Submission> {
                self.scenario.submit_task(task.name())
            }

            /// Submits one sequence alone: only its tasks run.
            pub fn submit_sequence(&self, sequence: #sequence_enum) -> #private::Result<#private::Submission> {
                self.scenario.submit_sequence(sequence.name())
            }

            /// Submits with explicit options (target, force, workers, cancellation).
            pub fn submit_with(&self, options: &#private::SubmitOptions) -> #private::Result<#private::Submission> {
                self.scenario.submit_with(options)
            }

            #accessors
        }

        impl ::std::clone::Clone for #ident {
            fn clone(&self) -> Self {
                Self { scenario: ::std::clone::Clone::clone(&self.scenario) }
            }
        }

        impl ::std::fmt::Debug for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_tuple(#graph_name).field(&self.scenario).finish()
            }
        }

        impl ::std::convert::From<#ident> for #private::Scenario {
            fn from(scenario: #ident) -> Self {
                scenario.scenario
            }
        }

        impl ::std::convert::AsRef<#private::Scenario> for #ident {
            fn as_ref(&self) -> &#private::Scenario {
                &self.scenario
            }
        }

        impl ::std::convert::TryFrom<#private::Scenario> for #ident {
            type Error = #private::Error;
            fn try_from(scenario: #private::Scenario) -> #private::Result<Self> {
                Self::from_scenario(scenario)
            }
        }

        #checks
    }
}

/// The struct's generated documentation: its graph in words.
fn struct_doc(def: &ScenarioDef, task_enum: &Ident, sequence_enum: &Ident) -> String {
    let mut doc = String::new();
    if def.attrs.iter().any(|a| a.path().is_ident("doc")) {
        doc.push('\n');
    }
    doc.push_str(
        "A scenario type declared with `scenario!`: create one with [`create`](Self::create), \
         read and write its data nodes through the accessors, run it with [`submit`](Self::submit).\n",
    );
    if !def.tasks.is_empty() {
        doc.push_str(&format!("\nTasks ([`{task_enum}`]):\n"));
        for task in &def.tasks {
            doc.push_str(&format!("- `{}`\n", wiring(task)));
        }
    }
    if !def.sequences.is_empty() {
        doc.push_str(&format!("\nSequences ([`{sequence_enum}`]):\n"));
        for sequence in &def.sequences {
            let tasks: Vec<String> = sequence.tasks.iter().map(name).collect();
            doc.push_str(&format!(
                "- `{}`: {}\n",
                name(&sequence.name),
                tasks.join(", ")
            ));
        }
    }
    doc
}

/// `task(a, b) -> (c, d)` as written (with the function's path).
fn wiring(task: &TaskUse) -> String {
    let path = pretty(&task.path);
    let inputs: Vec<String> = task.inputs.iter().map(name).collect();
    let mut text = format!("{path}({})", inputs.join(", "));
    match task.outputs.len() {
        0 => {}
        1 => text.push_str(&format!(" -> {}", name(&task.outputs[0]))),
        _ => {
            let outputs: Vec<String> = task.outputs.iter().map(name).collect();
            text.push_str(&format!(" -> ({})", outputs.join(", ")));
        }
    }
    if let Some(alias) = &task.alias {
        text.push_str(&format!(" as {}", name(alias)));
    }
    text
}

/// The expression naming a task in the graph: its alias, else its registered name.
fn graph_task_name(task: &TaskUse) -> TokenStream {
    match &task.alias {
        Some(alias) => name(alias).into_token_stream(),
        None => task_item(task, "NAME"),
    }
}

/// `<path as Task>::item` (or `…::item()` when `item` ends with `()`), spanned
/// from the path's first token to its last, so that rustc underlines the user's
/// whole path (an unresolved path or a type that is not a task is then one
/// error there, however often it is used).
fn task_item(task: &TaskUse, item: &str) -> TokenStream {
    let (_, last) = path_spans(task);
    let call = item.ends_with("()");
    let item = Ident::new(item.trim_end_matches("()"), last);
    let mut out = task_as_trait(task, task.path.to_token_stream());
    out.extend(quote_spanned!(last=> ::#item));
    if call {
        out.extend(quote_spanned!(last=> ()));
    }
    out
}

/// `<self_type as Task>`, spanned on the task's path (see [`task_item`]).
fn task_as_trait(task: &TaskUse, self_type: TokenStream) -> TokenStream {
    let (first, last) = path_spans(task);
    let open = quote_spanned!(first=> <);
    let close = quote_spanned!(last=> as ::pipeline_core::__private::Task>);
    quote!(#open #self_type #close)
}

/// The spans of the first and last tokens of a task's path.
fn path_spans(task: &TaskUse) -> (Span, Span) {
    let path = &task.path;
    let first = path
        .leading_colon
        .as_ref()
        .map_or_else(|| path.segments[0].ident.span(), |colon| colon.spans[0]);
    let last = path
        .segments
        .last()
        .expect("a parsed path has a segment")
        .ident
        .span();
    (first, last)
}

/// Tasks counted once by their name in the scenario (duplicates were reported).
fn distinct_tasks(def: &ScenarioDef) -> Vec<&TaskUse> {
    let mut seen = HashSet::new();
    def.tasks
        .iter()
        .filter(|task| seen.insert(upper_camel(&name(task.local_name()))))
        .collect()
}

/// `enum NameTask { … }` and its methods.
fn tasks_enum(def: &ScenarioDef, task_enum: &Ident) -> TokenStream {
    let private = quote!(::pipeline_core::__private);
    let vis = &def.vis;
    let ident = &def.ident;
    let tasks = distinct_tasks(def);
    let variants: Vec<Ident> = tasks
        .iter()
        .map(|task| {
            Ident::new(
                &upper_camel(&name(task.local_name())),
                task.local_name().span(),
            )
        })
        .collect();
    let docs = tasks.iter().map(|task| {
        let doc = format!("`{}`", wiring(task));
        let attrs = &task.attrs;
        quote!(#(#attrs)* #[doc = #doc])
    });
    let names = tasks.iter().map(|task| graph_task_name(task));
    let count = tasks.len();
    let doc = format!("The tasks of [`{ident}`], to run one alone with [`{ident}::submit_task`].");
    quote! {
        #[doc = #doc]
        #[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::marker::Copy, ::std::cmp::PartialEq, ::std::cmp::Eq, ::std::hash::Hash)]
        #[allow(dead_code)]
        #vis enum #task_enum {
            #(#docs #variants,)*
        }

        impl #task_enum {
            /// Every task, in declaration order.
            pub const ALL: [Self; #count] = [#(Self::#variants),*];

            /// The task's name in the graph (and in submissions and jobs).
            pub fn name(self) -> &'static str {
                match self {
                    #(Self::#variants => #names,)*
                }
            }
        }

        impl ::std::fmt::Display for #task_enum {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::std::convert::From<#task_enum> for #private::Target {
            fn from(task: #task_enum) -> Self {
                #private::Target::Task(::std::borrow::ToOwned::to_owned(task.name()))
            }
        }
    }
}

/// `enum NameSequence { … }` and its methods.
fn sequences_enum(def: &ScenarioDef, sequence_enum: &Ident, task_enum: &Ident) -> TokenStream {
    let private = quote!(::pipeline_core::__private);
    let vis = &def.vis;
    let ident = &def.ident;
    let mut seen = HashSet::new();
    let sequences: Vec<_> = def
        .sequences
        .iter()
        .filter(|sequence| seen.insert(upper_camel(&name(&sequence.name))))
        .collect();
    let variants: Vec<Ident> = sequences
        .iter()
        .map(|sequence| Ident::new(&upper_camel(&name(&sequence.name)), sequence.name.span()))
        .collect();
    let docs = sequences.iter().map(|sequence| {
        let tasks: Vec<String> = sequence.tasks.iter().map(name).collect();
        let doc = format!("Runs {}.", tasks.join(", "));
        let attrs = &sequence.attrs;
        quote!(#(#attrs)* #[doc = #doc])
    });
    let names: Vec<String> = sequences.iter().map(|s| name(&s.name)).collect();
    let count = sequences.len();
    let doc = format!(
        "The sequences of [`{ident}`], to run one alone with [`{ident}::submit_sequence`]. Their tasks are [`{task_enum}`]s."
    );
    let name_body = if sequences.is_empty() {
        quote!(match self {})
    } else {
        quote!(match self { #(Self::#variants => #names,)* })
    };
    quote! {
        #[doc = #doc]
        #[derive(::std::fmt::Debug, ::std::clone::Clone, ::std::marker::Copy, ::std::cmp::PartialEq, ::std::cmp::Eq, ::std::hash::Hash)]
        #[allow(dead_code)]
        #vis enum #sequence_enum {
            #(#docs #variants,)*
        }

        impl #sequence_enum {
            /// Every sequence, in declaration order.
            pub const ALL: [Self; #count] = [#(Self::#variants),*];

            /// The sequence's name in the graph.
            pub fn name(self) -> &'static str {
                #name_body
            }
        }

        impl ::std::fmt::Display for #sequence_enum {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::std::convert::From<#sequence_enum> for #private::Target {
            fn from(sequence: #sequence_enum) -> Self {
                #private::Target::Sequence(::std::borrow::ToOwned::to_owned(sequence.name()))
            }
        }
    }
}

/// One typed accessor per data node.
fn accessors(def: &ScenarioDef) -> TokenStream {
    let private = quote!(::pipeline_core::__private);
    let mut seen = HashSet::new();
    let mut out = TokenStream::new();
    for node in &def.nodes {
        let node_name = name(&node.name);
        if GENERATED_ITEMS.contains(&node_name.as_str()) || !seen.insert(node_name.clone()) {
            continue;
        }
        let NodeDecl {
            attrs,
            name: ident,
            ty,
            ..
        } = node;
        let doc = node_doc(def, node);
        let node = qualified_call(ty, "NodeType", "node", quote!(&self.scenario, #node_name));
        out.extend(quote! {
            #(#attrs)*
            #[doc = #doc]
            pub fn #ident(&self) -> #private::DataNode<#ty> {
                #node
            }
        });
    }
    out
}

/// "Data node `x` (`T`), default `…`, read by …, written by …".
fn node_doc(def: &ScenarioDef, node: &NodeDecl) -> String {
    let node_name = name(&node.name);
    let ty = pretty(&node.ty);
    let mut doc = String::new();
    if node.attrs.iter().any(|a| a.path().is_ident("doc")) {
        doc.push('\n');
    }
    doc.push_str(&format!("Data node `{node_name}`: `{ty}`"));
    if let Some(default) = &node.default {
        doc.push_str(&format!(", default `{}`", pretty(default)));
    }
    if node.global.is_some() {
        doc.push_str(", global (shared by every scenario of this type)");
    }
    doc.push('.');
    let producer = def
        .tasks
        .iter()
        .find(|t| t.outputs.iter().any(|o| name(o) == node_name));
    if let Some(task) = producer {
        doc.push_str(&format!(" Written by `{}`.", name(task.local_name())));
    }
    let readers: Vec<String> = def
        .tasks
        .iter()
        .filter(|t| t.inputs.iter().any(|i| name(i) == node_name))
        .map(|t| format!("`{}`", name(t.local_name())))
        .collect();
    if !readers.is_empty() {
        doc.push_str(&format!(" Read by {}.", readers.join(", ")));
    }
    doc
}

/// The `GraphBuilder` chain that builds the runtime graph.
fn graph_builder(def: &ScenarioDef) -> TokenStream {
    let private = quote!(::pipeline_core::__private);
    let graph_name = name(&def.ident);
    let nodes = def.nodes.iter().map(|node| {
        let node_name = name(&node.name);
        let ty = &node.ty;
        let spec = match &node.default {
            // `let value: Type = expr;` makes a wrong default a plain "expected
            // `Type`" error on the expression, with the declared type as the reason.
            Some(expr) => {
                let value = quote_spanned!(Span::mixed_site()=> value);
                let default = quote_spanned!(expr.span()=> { let #value: #ty = #expr; #value });
                qualified_call(
                    ty,
                    "NodeType",
                    "spec_with_default",
                    quote!(#node_name, #default),
                )
            }
            None => qualified_call(ty, "NodeType", "spec", quote!(#node_name)),
        };
        let global = node
            .global
            .as_ref()
            .map(|word| quote_spanned!(word.span()=> .global()));
        quote! {
            .node(#spec #global)
        }
    });
    let tasks = def.tasks.iter().map(|task| {
        let def = task_item(task, "def()");
        let skippable = task_item(task, "SKIPPABLE");
        let rename = task.alias.as_ref().map(|alias| {
            let alias = name(alias);
            quote!(.renamed(#alias))
        });
        let inputs = task.inputs.iter().map(name);
        let outputs = task.outputs.iter().map(name);
        quote! {
            .task(
                #private::TaskSpec::new(#def #rename)
                    .inputs::<&str>([#(#inputs),*])
                    .outputs::<&str>([#(#outputs),*])
                    .skippable(#skippable)
            )
        }
    });
    let tasks_by_name: HashMap<String, &TaskUse> = def
        .tasks
        .iter()
        .map(|task| (name(task.local_name()), task))
        .collect();
    let sequences = def.sequences.iter().map(|sequence| {
        let sequence_name = name(&sequence.name);
        let tasks = sequence
            .tasks
            .iter()
            .map(|task| graph_task_name(tasks_by_name[&name(task)]));
        quote! {
            .sequence::<&str>(#sequence_name, [#(#tasks),*])
        }
    });
    quote! {
        #private::build_graph(
            #graph_name,
            #private::GraphBuilder::new(#graph_name)
                #(#nodes)*
                #(#tasks)*
                #(#sequences)*
        )
    }
}

/// The compile-time assertions, in one anonymous const: for each task, its
/// arities, and for each wired node, its type against the task's signature.
///
/// Tasks and node types are named once each through a local alias carrying the
/// user's span, so an unresolved path is reported once, where it was written.
fn checks(def: &ScenarioDef) -> TokenStream {
    let mut out = TokenStream::new();
    let mut node_aliases: HashMap<String, Ident> = HashMap::new();
    for (index, node) in def.nodes.iter().enumerate() {
        let alias = format_ident!("__pipeline_node_{}", index);
        let ty = &node.ty;
        out.extend(quote!(type #alias = #ty;));
        node_aliases.entry(name(&node.name)).or_insert(alias);
    }
    for (index, task) in def.tasks.iter().enumerate() {
        let (_, last) = path_spans(task);
        let alias = format_ident!("__pipeline_task_{}", index, span = last);
        let path = &task.path;
        out.extend(quote!(type #alias = #path;));
        // Every use of the task is spanned on its path, so a path that is not a
        // task is reported there, once.
        let alias = task_as_trait(task, alias.into_token_stream());
        out.extend(arity_check(task, &alias, Role::Input));
        out.extend(arity_check(task, &alias, Role::Output));
        for role in [Role::Input, Role::Output] {
            let wired = match role {
                Role::Input => &task.inputs,
                Role::Output => &task.outputs,
            };
            for (position, node) in wired.iter().enumerate() {
                let node_alias = &node_aliases[&name(node)];
                out.extend(type_check(task, &alias, role, position, node, node_alias));
            }
        }
    }
    out.extend(distinct_name_checks(def));
    quote! {
        #[allow(non_camel_case_types, dead_code)]
        const _: () = {
            #out
        };
    }
}

/// Two tasks of one scenario registered under one name (`#[task(name = "…")]`)
/// would collide in the graph: one `const` assertion per pair, on the later task.
fn distinct_name_checks(def: &ScenarioDef) -> TokenStream {
    let mut out = TokenStream::new();
    for (later_index, later) in def.tasks.iter().enumerate() {
        for earlier in &def.tasks[..later_index] {
            if later.alias.is_some() && earlier.alias.is_some() {
                continue; // two aliases: compared by the check phase
            }
            let later_name = name(later.local_name());
            let message = format!(
                "tasks `{}` and `{later_name}` are registered under the same name (`#[task(name = …)]`); give this one its own name in the scenario: `{later_name}(…) -> … as {later_name}`",
                name(earlier.local_name()),
            );
            let (earlier_name, later_name) = (graph_task_name(earlier), graph_task_name(later));
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

/// `const _: () = match <Task>::INPUT_COUNT { n => {}, k => panic!("…"), … };`
/// with one message per possible arity, so the error names both numbers.
fn arity_check(task: &TaskUse, task_ref: &TokenStream, role: Role) -> TokenStream {
    let task_name = name(task.local_name());
    let (wired, span, count) = match role {
        Role::Input => (task.inputs.len(), task.inputs_span, quote!(INPUT_COUNT)),
        Role::Output => (task.outputs.len(), task.outputs_span, quote!(OUTPUT_COUNT)),
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
        const _: () = match #task_ref::#count {
            #wired => {}
            #(#arms)*
            _ => ::std::panic!(#more),
        };
    }
}

/// A local trait whose `on_unimplemented` message names the node and the task,
/// implemented only for `T: Trait<T>`, and a where clause asserting
/// `NodeType: Trait<TaskType>` spanned on the node's name (the task's path
/// keeps its own span, so a path that is not a task is reported there).
fn type_check(
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
    let (message, note, list) = match role {
        Role::Input => (
            format!(
                "data node `{node_name}` holds `{{Self}}`, but the {nth} parameter of task `{task_name}` takes `{{T}}`"
            ),
            format!(
                "data nodes are passed in parameter order: wire a node of type `{{T}}` here, or change the type of `{node_name}`"
            ),
            quote!(Inputs),
        ),
        Role::Output => (
            format!(
                "data node `{node_name}` holds `{{Self}}`, but the {nth} output of task `{task_name}` is `{{T}}`"
            ),
            format!(
                "outputs are written in order: wire a node of type `{{T}}` here, or change the type of `{node_name}`"
            ),
            quote!(Outputs),
        ),
    };
    let private = quote!(::pipeline_core::__private);
    let position_type =
        (0..position).fold(quote!(#private::Z), |inner, _| quote!(#private::S<#inner>));
    // The function is spanned on the node's name, so rustc reports the where
    // clause there; only the task keeps its path's span (see `task_item`).
    let span = node.span();
    let head = respan(quote!(fn assert() where #node_alias: NodeHolds<<), span);
    let tail = respan(
        quote!(::#list as #private::Nth<#position_type, #node_alias>>::Type> {}),
        span,
    );
    let assertion = quote!(#head #task_ref #tail);
    quote! {
        const _: () = {
            #[diagnostic::on_unimplemented(
                message = #message,
                label = "expected `{T}`, found `{Self}`",
                note = #note
            )]
            trait NodeHolds<T: ?Sized> {}
            impl<T: ?Sized> NodeHolds<T> for T {}
            #assertion
        };
    }
}
