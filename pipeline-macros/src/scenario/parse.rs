//! `scenario! { … }`'s input as plain data.
//!
//! ```text
//! #[attrs] vis struct Name {
//!     data { [global] node: Type [= default], … }
//!     tasks { path::to::task(input, …) [-> output | -> (output, …)] [as alias], … }
//!     sequences { name = [task, …], … }
//! }
//! ```

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{
    Attribute, Expr, Ident, Path, Token, Type, Visibility, braced, bracketed, parenthesized,
};

/// The whole invocation.
pub(crate) struct ScenarioDef {
    /// Attributes of the struct (doc comments, `#[allow]`, …).
    pub(crate) attrs: Vec<Attribute>,
    /// The struct's visibility, also given to its task and sequence enums.
    pub(crate) vis: Visibility,
    /// The scenario type's name, also the graph's name.
    pub(crate) ident: Ident,
    /// `data { … }`.
    pub(crate) nodes: Vec<NodeDecl>,
    /// `tasks { … }`.
    pub(crate) tasks: Vec<TaskUse>,
    /// `sequences { … }`.
    pub(crate) sequences: Vec<SequenceDecl>,
}

/// `[global] name: Type [= default]`.
pub(crate) struct NodeDecl {
    /// Doc comments, copied to the accessor.
    pub(crate) attrs: Vec<Attribute>,
    /// The `global` keyword, if given.
    pub(crate) global: Option<Ident>,
    /// The node's name.
    pub(crate) name: Ident,
    /// The Rust type of its values.
    pub(crate) ty: Type,
    /// The default value, written when a scenario is created.
    pub(crate) default: Option<Expr>,
}

/// `path(inputs) -> outputs [as alias]`.
pub(crate) struct TaskUse {
    /// Doc comments, copied to the task enum's variant.
    pub(crate) attrs: Vec<Attribute>,
    /// The `#[task]` function.
    pub(crate) path: Path,
    /// The parentheses around the inputs.
    pub(crate) inputs_span: Span,
    /// The data nodes passed as arguments, in order.
    pub(crate) inputs: Vec<Ident>,
    /// Where the outputs are written (`-> x`, `-> (x, y)`; the inputs' parentheses without `->`).
    pub(crate) outputs_span: Span,
    /// The data nodes receiving the outputs, in order.
    pub(crate) outputs: Vec<Ident>,
    /// `as name`: the task's name in this scenario (to use one function twice).
    pub(crate) alias: Option<Ident>,
}

impl TaskUse {
    /// The name the scenario knows the task by: the alias, else the function's name.
    pub(crate) fn local_name(&self) -> &Ident {
        match &self.alias {
            Some(alias) => alias,
            None => {
                &self
                    .path
                    .segments
                    .last()
                    .expect("a parsed path has a segment")
                    .ident
            }
        }
    }
}

/// `name = [task, …]`.
pub(crate) struct SequenceDecl {
    /// Doc comments, copied to the sequence enum's variant.
    pub(crate) attrs: Vec<Attribute>,
    /// The sequence's name.
    pub(crate) name: Ident,
    /// The tasks, by their name in this scenario.
    pub(crate) tasks: Vec<Ident>,
}

impl Parse for ScenarioDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = Attribute::parse_outer(input)?;
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![struct]) {
            return Err(input.error(
                "expected `struct`: `scenario! { pub struct Name { data { … } tasks { … } sequences { … } } }`",
            ));
        }
        input.parse::<Token![struct]>()?;
        let ident: Ident = input.parse()?;
        if input.peek(Token![<]) {
            return Err(input.error("a scenario type cannot be generic"));
        }
        let body;
        braced!(body in input);
        let mut def = ScenarioDef {
            attrs,
            vis,
            ident,
            nodes: Vec::new(),
            tasks: Vec::new(),
            sequences: Vec::new(),
        };
        let mut seen: Vec<String> = Vec::new();
        while !body.is_empty() {
            let section = Ident::parse_any(&body)?;
            let name = section.to_string();
            if !matches!(name.as_str(), "data" | "tasks" | "sequences") {
                return Err(syn::Error::new(
                    section.span(),
                    format!(
                        "unknown section `{name}`; expected `data {{ … }}`, `tasks {{ … }}` or `sequences {{ … }}`"
                    ),
                ));
            }
            if seen.contains(&name) {
                return Err(syn::Error::new(
                    section.span(),
                    format!("section `{name}` appears twice; merge the two into one"),
                ));
            }
            seen.push(name.clone());
            let content;
            braced!(content in body);
            match name.as_str() {
                "data" => def.nodes = terminated(&content)?,
                "tasks" => def.tasks = terminated(&content)?,
                _ => def.sequences = terminated(&content)?,
            }
        }
        if !input.is_empty() {
            return Err(input.error(
                "one `scenario!` declares one scenario type; use another `scenario!` for the next",
            ));
        }
        Ok(def)
    }
}

/// A comma-separated list with an optional trailing comma.
fn terminated<T: Parse>(input: ParseStream) -> syn::Result<Vec<T>> {
    Ok(Punctuated::<T, Token![,]>::parse_terminated(input)?
        .into_iter()
        .collect())
}

impl Parse for NodeDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = Attribute::parse_outer(input)?;
        let global = if input.peek(Ident) && input.peek2(Ident) {
            let word: Ident = input.parse()?;
            if word != "global" {
                return Err(syn::Error::new(
                    word.span(),
                    format!(
                        "expected `global` or a data node name, found `{word}`; write `[global] name: Type [= default]`"
                    ),
                ));
            }
            Some(word)
        } else {
            None
        };
        let name: Ident = input.parse()?;
        if !input.peek(Token![:]) {
            return Err(input.error(format!(
                "expected `:` and the type of data node `{}`: `{}: Type`",
                name.unraw(),
                name
            )));
        }
        input.parse::<Token![:]>()?;
        let ty: Type = input.parse()?;
        let default = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(NodeDecl {
            attrs,
            global,
            name,
            ty,
            default,
        })
    }
}

impl Parse for TaskUse {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = Attribute::parse_outer(input)?;
        let path = Path::parse_mod_style(input)?;
        if !input.peek(syn::token::Paren) {
            return Err(input
                .error("expected the task's inputs in parentheses: `task(input, …) -> output`"));
        }
        let content;
        let paren = parenthesized!(content in input);
        let inputs = terminated::<Ident>(&content)?;
        let inputs_span = paren.span.join();
        let (outputs, outputs_span) = if input.peek(Token![->]) {
            input.parse::<Token![->]>()?;
            if input.peek(syn::token::Paren) {
                let content;
                let paren = parenthesized!(content in input);
                (terminated::<Ident>(&content)?, paren.span.join())
            } else {
                let output: Ident = input.parse()?;
                let span = output.span();
                (vec![output], span)
            }
        } else {
            (Vec::new(), inputs_span)
        };
        let alias = if input.peek(Token![as]) {
            input.parse::<Token![as]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(TaskUse {
            attrs,
            path,
            inputs_span,
            inputs,
            outputs_span,
            outputs,
            alias,
        })
    }
}

impl Parse for SequenceDecl {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = Attribute::parse_outer(input)?;
        let name: Ident = input.parse()?;
        if !input.peek(Token![=]) {
            return Err(input.error(format!(
                "expected `=` and the tasks of sequence `{}`: `{} = [task, …]`",
                name.unraw(),
                name
            )));
        }
        input.parse::<Token![=]>()?;
        let content;
        bracketed!(content in input);
        let tasks = terminated::<Ident>(&content)?;
        Ok(SequenceDecl { attrs, name, tasks })
    }
}
