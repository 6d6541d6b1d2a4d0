//! `serve`: the web view of the store (features `cli` and `web`).

use std::io::Write;

use serde_json::json;

use super::args::ServeArgs;
use super::context::Context;
use super::error::CliError;
use super::output::Output;
use crate::web::{ServeError, Server};

/// Runs `serve`: binds the address (a bind failure exits 2 before anything
/// else), says where it listens (one line, or one JSON object with `--json`),
/// then serves until the process is stopped.
pub(crate) fn serve(ctx: &Context<'_>, args: &ServeArgs, output: &Output) -> Result<(), CliError> {
    let runtime = ctx.open_runtime()?;
    let graphs = ctx.kinds().iter().map(|kind| kind.graph().clone());
    // The comparators a kind registered show on the compare page as they
    // do in `compare`.
    let server = ctx.kinds().iter().fold(
        Server::new(runtime).scenario_types(graphs),
        |server, kind| {
            let with = kind.clone();
            server.comparators_of(kind.name(), move |compare| with.compare(compare))
        },
    );
    let bound = server.addr(args.addr).bind().map_err(|error| match error {
        ServeError::Bind { .. } => CliError::input(error.to_string()),
        ServeError::Io(_) => CliError::failed(error.to_string()),
    })?;
    if let Some(warning) = bound.warning() {
        eprintln!("{}: {warning}", ctx.program());
    }
    if output.json {
        output.json_object(json!({
            "url": bound.url(),
            "addr": bound.local_addr().to_string(),
            "store": ctx.store_dir(),
        }));
    } else {
        println!(
            "serving {} at {} (stop with Ctrl-C)",
            ctx.store_dir().display(),
            bound.url()
        );
    }
    // Whoever reads the address (a script, a test) gets it before the first request.
    let _ = std::io::stdout().flush();
    bound
        .run()
        .map_err(|error| CliError::failed(error.to_string()))
}
