//! What a file's tokens say about other files and the build: its `mod x;`
//! declarations, the files it includes, the environment variables it reads
//! at compile time, and whether it asks for source positions (`line!()`).

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// What one file's tokens refer to.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// `mod name;` declarations (inline modules' children included).
    pub(crate) modules: Vec<ModDecl>,
    /// `include!`, `include_str!` and `include_bytes!` with a path we could read.
    pub(crate) includes: Vec<Include>,
    /// Environment variables read by `env!` / `option_env!`.
    pub(crate) env_reads: Vec<String>,
    /// `line!()`, `column!()` or `Location::caller()`: positions can reach values.
    pub(crate) uses_positions: bool,
    /// What we could not follow, one message each (an include whose path is
    /// not a literal, say): the part is then unreadable.
    pub(crate) unresolved: Vec<String>,
    /// Inputs declared the way a build script declares them to cargo:
    /// string literals `"cargo:rerun-if-changed=PATH"` and
    /// `"cargo:rerun-if-env-changed=NAME"` (also `cargo::`). Only meaningful
    /// in a build script; a literal with a `{}` placeholder cannot be read.
    pub(crate) build_inputs: Vec<BuildInput>,
}

/// An input a build script declares to cargo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BuildInput {
    /// `rerun-if-changed=PATH`: a file or directory, relative to the package.
    Path(String),
    /// `rerun-if-env-changed=NAME`.
    Env(String),
    /// A declaration whose value is formatted at run time (`{}`).
    Unknown(String),
}

/// An out-of-line module declaration, `mod name;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModDecl {
    /// The module's name (`r#` dropped).
    pub(crate) name: String,
    /// The inline modules it is declared in, outermost first: each one's name,
    /// or its `#[path = "…"]` when it has one.
    pub(crate) inline: Vec<String>,
    /// Its `#[path = "…"]` values (also from `cfg_attr`).
    pub(crate) paths: Vec<String>,
}

/// A file pulled in by an include macro.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Include {
    /// `include!` (Rust code, scanned in turn) or `include_str!` / `include_bytes!`.
    pub(crate) rust: bool,
    /// The path as the macro resolves it (relative to the including file's directory).
    pub(crate) path: String,
}

/// Scans `tokens`; `env` answers `env!("NAME")` inside include paths
/// (`concat!(env!("OUT_DIR"), "/gen.rs")`).
pub(crate) fn scan(tokens: TokenStream, env: &dyn Fn(&str) -> Option<String>) -> Scan {
    let mut scan = Scan::default();
    Scanner {
        env,
        scan: &mut scan,
    }
    .tokens(tokens, &[], false);
    scan.env_reads.sort();
    scan.env_reads.dedup();
    scan
}

struct Scanner<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    scan: &'a mut Scan,
}

impl Scanner<'_> {
    /// `inline`: the enclosing inline modules; `macro_body`: inside a
    /// `macro_rules!` definition, where paths resolve where the macro is used.
    fn tokens(&mut self, tokens: TokenStream, inline: &[String], macro_body: bool) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (index, token) in tokens.iter().enumerate() {
            let next = tokens.get(index + 1);
            let after = tokens.get(index + 2);
            match token {
                TokenTree::Ident(ident) => {
                    let word = ident.to_string();
                    match word.as_str() {
                        "mod" => self.module(&tokens, index, inline, macro_body),
                        "macro_rules" if is_bang(next) => {
                            if let Some(TokenTree::Group(body)) = tokens.get(index + 3) {
                                self.tokens(body.stream(), inline, true);
                            }
                        }
                        "include" | "include_str" | "include_bytes" if is_bang(next) => {
                            if let Some(TokenTree::Group(args)) = after {
                                self.include(word == "include", args.stream(), macro_body);
                            }
                        }
                        "env" | "option_env" if is_bang(next) => {
                            if let Some(TokenTree::Group(args)) = after {
                                match first_string(args.stream()) {
                                    Some(name) => self.scan.env_reads.push(name),
                                    None => self.scan.unresolved.push(format!(
                                        "`{word}!({})` names its variable with something other than a string literal",
                                        args.stream()
                                    )),
                                }
                            }
                        }
                        "line" | "column" if is_bang(next) => self.scan.uses_positions = true,
                        "Location" => {
                            let colons =
                                matches!(next, Some(TokenTree::Punct(p)) if p.as_char() == ':');
                            let caller = matches!(tokens.get(index + 3), Some(TokenTree::Ident(i)) if i == "caller");
                            if colons && caller {
                                self.scan.uses_positions = true;
                            }
                        }
                        _ => {}
                    }
                }
                TokenTree::Literal(literal) => {
                    // Cheap test first: most literals are not cargo directives.
                    let directive = literal.to_string().contains("rerun-if-");
                    if let Some(input) = directive
                        .then(|| string_literal(token))
                        .flatten()
                        .and_then(|text| build_input(&text))
                    {
                        self.scan.build_inputs.push(input);
                    }
                }
                TokenTree::Group(group) => {
                    // An inline module's body is scanned by `module`.
                    let inline_body = index >= 2
                        && group.delimiter() == Delimiter::Brace
                        && matches!(&tokens[index - 2], TokenTree::Ident(i) if i == "mod")
                        && matches!(&tokens[index - 1], TokenTree::Ident(_));
                    let macro_rules_body = index >= 3
                        && matches!(&tokens[index - 3], TokenTree::Ident(i) if i == "macro_rules");
                    if !inline_body && !macro_rules_body {
                        self.tokens(group.stream(), inline, macro_body);
                    }
                }
                _ => {}
            }
        }
    }

    /// `mod name;` or `mod name { … }` at `tokens[index]`.
    fn module(&mut self, tokens: &[TokenTree], index: usize, inline: &[String], macro_body: bool) {
        let Some(TokenTree::Ident(name)) = tokens.get(index + 1) else {
            return;
        };
        let name = name.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
        let paths = path_attributes(&tokens[..index]);
        match tokens.get(index + 2) {
            Some(TokenTree::Punct(semi)) if semi.as_char() == ';' => {
                self.scan.modules.push(ModDecl {
                    name,
                    inline: inline.to_vec(),
                    paths,
                });
            }
            Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Brace => {
                let mut inner = inline.to_vec();
                inner.push(paths.into_iter().next().unwrap_or(name));
                self.tokens(body.stream(), &inner, macro_body);
            }
            _ => {}
        }
    }

    fn include(&mut self, rust: bool, args: TokenStream, macro_body: bool) {
        let text = args.to_string();
        if macro_body {
            self.scan.unresolved.push(format!(
                "an include inside a `macro_rules!` body (`{text}`) is read relative to where the macro is used"
            ));
            return;
        }
        match self.path_expr(args) {
            Some(path) => self.scan.includes.push(Include { rust, path }),
            None => self.scan.unresolved.push(format!(
                "the include path `{text}` is not a string literal, `concat!` of literals or `env!`"
            )),
        }
    }

    /// The value of a literal, `env!("X")` or `concat!(…)` of those.
    fn path_expr(&mut self, tokens: TokenStream) -> Option<String> {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        match tokens.as_slice() {
            [TokenTree::Literal(_)] => string_literal(&tokens[0]),
            [TokenTree::Ident(mac), bang, TokenTree::Group(args)] if is_bang(Some(bang)) => {
                let name = mac.to_string();
                match name.as_str() {
                    "env" => {
                        let var = first_string(args.stream())?;
                        self.scan.env_reads.push(var.clone());
                        (self.env)(&var)
                    }
                    "concat" => {
                        let mut out = String::new();
                        let pieces: Vec<TokenTree> = args.stream().into_iter().collect();
                        for piece in
                            pieces.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
                        {
                            if piece.is_empty() {
                                continue;
                            }
                            out.push_str(&self.path_expr(piece.iter().cloned().collect())?);
                        }
                        Some(out)
                    }
                    _ => None,
                }
            }
            // `std::include_str!(…)` paths arrive here as their argument only;
            // anything else (a `const`, a macro variable) cannot be read.
            _ => None,
        }
    }
}

/// The input a `cargo:rerun-if-…` line declares.
fn build_input(text: &str) -> Option<BuildInput> {
    let directive = text
        .strip_prefix("cargo::")
        .or_else(|| text.strip_prefix("cargo:"))?;
    let (key, value) = directive.split_once('=')?;
    let value = value.trim();
    if !matches!(key, "rerun-if-changed" | "rerun-if-env-changed") {
        return None;
    }
    if value.contains('{') {
        return Some(BuildInput::Unknown(text.to_owned()));
    }
    match key {
        "rerun-if-changed" if !value.is_empty() => Some(BuildInput::Path(value.to_owned())),
        "rerun-if-env-changed" if !value.is_empty() => Some(BuildInput::Env(value.to_owned())),
        _ => None,
    }
}

fn is_bang(token: Option<&TokenTree>) -> bool {
    matches!(token, Some(TokenTree::Punct(p)) if p.as_char() == '!')
}

/// The value of a string literal token (`"…"`, `r"…"`).
fn string_literal(token: &TokenTree) -> Option<String> {
    syn::parse2::<syn::LitStr>(token.clone().into())
        .ok()
        .map(|lit| lit.value())
}

/// The first token of `tokens` as a string literal's value.
fn first_string(tokens: TokenStream) -> Option<String> {
    string_literal(&tokens.into_iter().next()?)
}

/// The `#[path = "…"]` values (also inside `#[cfg_attr(…, path = "…")]`) of
/// the attributes right before an item whose keyword ends `before`
/// (visibility skipped).
fn path_attributes(before: &[TokenTree]) -> Vec<String> {
    let mut end = before.len();
    // `pub`, `pub(crate)`.
    if end >= 1
        && matches!(&before[end - 1], TokenTree::Group(g) if g.delimiter() == Delimiter::Parenthesis)
        && end >= 2
        && matches!(&before[end - 2], TokenTree::Ident(i) if i == "pub")
    {
        end -= 2;
    } else if end >= 1 && matches!(&before[end - 1], TokenTree::Ident(i) if i == "pub") {
        end -= 1;
    }
    let mut paths = Vec::new();
    while end >= 2 {
        let (TokenTree::Punct(hash), TokenTree::Group(attr)) = (&before[end - 2], &before[end - 1])
        else {
            break;
        };
        if hash.as_char() != '#' || attr.delimiter() != Delimiter::Bracket {
            break;
        }
        path_values(attr.stream(), &mut paths);
        end -= 2;
    }
    paths.reverse();
    paths
}

/// Every `path = "…"` in an attribute's tokens, at any depth.
fn path_values(tokens: TokenStream, out: &mut Vec<String>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (index, token) in tokens.iter().enumerate() {
        match token {
            TokenTree::Ident(ident) if ident == "path" => {
                let eq = matches!(tokens.get(index + 1), Some(TokenTree::Punct(p)) if p.as_char() == '=');
                if let (true, Some(value)) = (eq, tokens.get(index + 2).and_then(string_literal)) {
                    out.push(value);
                }
            }
            TokenTree::Group(group) => path_values(group.stream(), out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_text(text: &str) -> Scan {
        scan(text.parse().unwrap(), &|name| {
            (name == "OUT_DIR").then(|| "/out".to_owned())
        })
    }

    fn decl(name: &str, inline: &[&str], paths: &[&str]) -> ModDecl {
        ModDecl {
            name: name.to_owned(),
            inline: inline.iter().map(|s| s.to_string()).collect(),
            paths: paths.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn module_declarations_are_found_with_their_paths_and_inline_parents() {
        let found = scan_text(
            r#"
            mod a;
            pub(crate) mod r#type;
            #[cfg(unix)]
            #[path = "sys/unix.rs"]
            pub mod sys;
            #[cfg_attr(test, path = "mock.rs")] mod real;
            mod outer { mod inner; #[path = "elsewhere"] mod moved { mod deep; } }
            mod not_a_file { fn f() {} }
            cfg_if! { if #[cfg(windows)] { mod windows; } }
            "#,
        );
        assert_eq!(
            found.modules,
            [
                decl("a", &[], &[]),
                decl("type", &[], &[]),
                decl("sys", &[], &["sys/unix.rs"]),
                decl("real", &[], &["mock.rs"]),
                decl("inner", &["outer"], &[]),
                decl("deep", &["outer", "elsewhere"], &[]),
                decl("windows", &[], &[]),
            ]
        );
    }

    #[test]
    fn include_paths_are_read_from_literals_concat_and_env() {
        let found = scan_text(
            r#"
            const A: &str = include_str!("data/a.txt");
            const B: &[u8] = std::include_bytes!(r"b.bin");
            include!(concat!(env!("OUT_DIR"), "/gen.rs"));
            "#,
        );
        assert_eq!(
            found.includes,
            [
                Include {
                    rust: false,
                    path: "data/a.txt".into()
                },
                Include {
                    rust: false,
                    path: "b.bin".into()
                },
                Include {
                    rust: true,
                    path: "/out/gen.rs".into()
                },
            ]
        );
        assert_eq!(found.env_reads, ["OUT_DIR"]);
        assert!(found.unresolved.is_empty());
    }

    #[test]
    fn includes_that_cannot_be_read_are_reported() {
        let found = scan_text(
            r#"
            const A: &str = include_str!(PATH);
            macro_rules! load { ($f:literal) => { include_str!($f) }; }
            const C: &str = include_str!(concat!(env!("UNSET"), "/c"));
            "#,
        );
        assert_eq!(found.unresolved.len(), 3, "{:?}", found.unresolved);
        assert!(found.includes.is_empty());
    }

    #[test]
    fn build_script_inputs_are_read_from_cargo_directives() {
        let found = scan_text(
            r#"fn main() {
                println!("cargo:rerun-if-changed=proto/api.proto");
                println!("cargo::rerun-if-env-changed=API_LEVEL");
                println!("cargo:rustc-env=X={}", 1);
                println!("cargo:rerun-if-changed={}", dir);
            }"#,
        );
        assert_eq!(
            found.build_inputs,
            [
                BuildInput::Path("proto/api.proto".into()),
                BuildInput::Env("API_LEVEL".into()),
                BuildInput::Unknown("cargo:rerun-if-changed={}".into()),
            ]
        );
    }

    #[test]
    fn env_reads_and_position_macros_are_noticed() {
        let found = scan_text(
            r#"fn f() -> (u32, Option<&'static str>) { (line!(), option_env!("MODE")) }
               fn g() -> &'static str { env!("CARGO_PKG_NAME") }"#,
        );
        assert_eq!(found.env_reads, ["CARGO_PKG_NAME", "MODE"]);
        assert!(found.uses_positions);
        assert!(
            scan_text("fn f() -> u32 { std::panic::Location::caller().line() }").uses_positions
        );
        assert!(
            !scan_text("struct Location { line: u32 } fn f(l: Location) -> u32 { l.line }")
                .uses_positions
        );
    }
}
