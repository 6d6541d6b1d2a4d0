//! Code generation for `scenario!`: the scenario struct with its constructors,
//! typed accessors and submit methods, and the task and sequence enums. The
//! tasks themselves are read from the task table, and the compile-time
//! assertions that make rustc check types and arities with its caret on the
//! user's tokens are generated, by `wiring`.

use std::collections::{HashMap, HashSet};

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned;

use super::check::{GENERATED_ITEMS, name};
use super::parse::{NodeDecl, ScenarioDef, TaskUse};
use super::wiring::{Field, checks, graph_task_name, table_field, task_table};
use crate::util::{pretty, qualified_call, upper_camel};

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
    let task_table = task_table(def, valid);
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

            #task_table

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

        impl #private::ScenarioType for #ident {
            const NAME: &'static str = #graph_name;
            fn graph() -> #private::Arc<#private::Graph> {
                <#ident>::graph()
            }
            fn from_scenario(scenario: #private::Scenario) -> #private::Result<Self> {
                <#ident>::from_scenario(scenario)
            }
            fn create(runtime: &#private::Runtime, name: &str) -> #private::Result<Self> {
                <#ident>::create(runtime, name)
            }
            fn find(runtime: &#private::Runtime, name: &str) -> #private::Result<::std::option::Option<Self>> {
                <#ident>::find(runtime, name)
            }
            fn find_or_create(runtime: &#private::Runtime, name: &str) -> #private::Result<Self> {
                <#ident>::find_or_create(runtime, name)
            }
            fn open(runtime: &#private::Runtime, id: #private::ScenarioId) -> #private::Result<Self> {
                <#ident>::open(runtime, id)
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

/// Tasks counted once by their name in the scenario (duplicates were
/// reported), with their index in the declaration.
fn distinct_tasks(def: &ScenarioDef) -> Vec<(usize, &TaskUse)> {
    let mut seen = HashSet::new();
    def.tasks
        .iter()
        .enumerate()
        .filter(|(_, task)| seen.insert(upper_camel(&name(task.local_name()))))
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
        .map(|(_, task)| {
            Ident::new(
                &upper_camel(&name(task.local_name())),
                task.local_name().span(),
            )
        })
        .collect();
    let docs = tasks.iter().map(|(_, task)| {
        let doc = format!("`{}`", wiring(task));
        let attrs = &task.attrs;
        quote!(#(#attrs)* #[doc = #doc])
    });
    let names = tasks.iter().map(|&(index, _)| graph_task_name(def, index));
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
    let tasks = def.tasks.iter().enumerate().map(|(index, task)| {
        let task_def = table_field(def, index, Field::Def);
        let skippable = table_field(def, index, Field::Skippable);
        let rename = task.alias.as_ref().map(|alias| {
            let alias = name(alias);
            quote!(.renamed(#alias))
        });
        let inputs = task.inputs.iter().map(name);
        let outputs = task.outputs.iter().map(name);
        quote! {
            .task(
                #private::TaskSpec::new((#task_def)() #rename)
                    .inputs::<&str>([#(#inputs),*])
                    .outputs::<&str>([#(#outputs),*])
                    .skippable(#skippable)
            )
        }
    });
    let tasks_by_name: HashMap<String, usize> = def
        .tasks
        .iter()
        .enumerate()
        .map(|(index, task)| (name(task.local_name()), index))
        .collect();
    let sequences = def.sequences.iter().map(|sequence| {
        let sequence_name = name(&sequence.name);
        let tasks = sequence
            .tasks
            .iter()
            .map(|task| graph_task_name(def, tasks_by_name[&name(task)]));
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
