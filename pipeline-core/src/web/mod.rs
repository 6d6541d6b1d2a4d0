//! A local web view of a store (cargo feature `web`): scenarios, their graphs
//! coloured by state, live submissions, run timelines, data node values with
//! their history and lineage, and comparisons, in the browser. Taipy GUI's
//! role, for every pipeline built on this crate.
//!
//! The framework CLI's `serve` command runs it; a program can too:
//!
//! ```no_run
//! use std::sync::Arc;
//! use pipeline_core::{Runtime, web};
//! use pipeline_core::graph::{GraphBuilder, NodeSpec};
//!
//! let graph = Arc::new(
//!     GraphBuilder::new("pricing")
//!         .node(NodeSpec::new::<f64>("rate").with_default(0.1))
//!         .build()?,
//! );
//! let runtime = Runtime::open(".pipeline")?;
//! let bound = web::Server::new(runtime)
//!     .scenario_type(graph)
//!     .addr("127.0.0.1:8080".parse()?)
//!     .bind()?;
//! if let Some(warning) = bound.warning() {
//!     eprintln!("{warning}");
//! }
//! println!("serving on http://{}", bound.local_addr());
//! bound.run()?; // until the process ends
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Pages
//! | page | HTML | JSON twin |
//! |---|---|---|
//! | scenarios: filter by type and tag, create | `GET /scenarios`, `POST /scenarios` | `GET /api/scenarios`, `POST /api/scenarios` |
//! | scenario: graph as SVG, parameters, submit, live status | `GET /scenarios/{id}`, `POST /scenarios/{id}/submit`, `POST /scenarios/{id}/values`, `GET /scenarios/{id}/events` (server-sent events) | `GET /api/scenarios/{id}`, `POST /api/scenarios/{id}/submit`, `POST /api/scenarios/{id}/values`, `GET /api/scenarios/{id}/events` |
//! | run: a submission's jobs as a timeline | `GET /scenarios/{id}/runs/{submission}` | `GET /api/scenarios/{id}/runs/{submission}` |
//! | data node: value, versions, lineage | `GET /scenarios/{id}/nodes/{node}[?version=N]` | `GET /api/scenarios/{id}/nodes/{node}[?version=N]` |
//! | compare two or more scenarios of one type | `GET /compare?s=1&s=2` | `GET /api/compare?s=1&s=2` |
//!
//! `docs/web.md` documents every route, the JSON shapes and the security
//! rules.
//!
//! # Security
//! The server binds 127.0.0.1 unless told otherwise (then [`Bound::warning`]
//! says so). Every value is HTML-escaped by the templates. A request that
//! changes state is a POST carrying the per-process token of
//! [`Server::csrf_token`] (form field `_csrf` or header `x-csrf-token`); a GET
//! never changes state. Requests naming another host than the server's
//! loopback address are refused (DNS rebinding). Only assets compiled into the
//! binary are served.

mod access;
mod app;
mod assets;
mod compare_page;
mod error;
#[cfg(feature = "polars")]
mod frame_preview;
mod html;
mod layout;
mod live;
mod models;
mod node_page;
mod node_states;
mod routes;
mod run_page;
mod runner;
mod scenario_model;
mod scenario_page;
mod scenarios_page;
mod security;
mod stream;
mod svg;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::Value;
use crate::compare::Compare;
use crate::graph::Graph;
use crate::runtime::Runtime;

pub use self::app::Comparator;

/// The default address: port 8080 on the loopback interface.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound (in use, or not an address of this machine).
    #[error("web: cannot listen on {addr}: {source}; choose another address with --addr")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The async runtime or the connection loop failed.
    #[error("web: server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The web view of one runtime's store, configured with builder methods.
///
/// Every scenario type the program declares should be registered with
/// [`scenario_type`](Self::scenario_type): scenarios of types it does not
/// know are listed, but their pages say that this program cannot open them.
pub struct Server {
    runtime: Runtime,
    graphs: Vec<Arc<Graph>>,
    comparators: Vec<Comparator>,
    addr: SocketAddr,
    token: Option<String>,
}

impl Server {
    /// A server of `runtime`'s store on [`DEFAULT_ADDR`], with no scenario type yet.
    pub fn new(runtime: Runtime) -> Self {
        Self {
            runtime,
            graphs: Vec::new(),
            comparators: Vec::new(),
            addr: DEFAULT_ADDR,
            token: None,
        }
    }

    /// Registers a scenario type (`MyScenario::graph()`, or a graph loaded
    /// from TOML). A type registered twice keeps the last graph.
    pub fn scenario_type(mut self, graph: impl Into<Arc<Graph>>) -> Self {
        let graph = graph.into();
        self.graphs.retain(|g| g.name() != graph.name());
        self.graphs.push(graph);
        self
    }

    /// Registers several scenario types.
    pub fn scenario_types<G: Into<Arc<Graph>>>(
        mut self,
        graphs: impl IntoIterator<Item = G>,
    ) -> Self {
        for graph in graphs {
            self = self.scenario_type(graph);
        }
        self
    }

    /// Registers a comparator for node `node` of scenario type `scenario_type`
    /// (see [`Compare::comparator`]): the compare page shows what it says.
    pub fn comparator<T: Value>(
        mut self,
        scenario_type: &str,
        node: &str,
        compare: impl Fn(&[&T]) -> String + Send + Sync + Clone + 'static,
    ) -> Self {
        let node_name = node.to_owned();
        self.comparators.push(Comparator {
            scenario_type: scenario_type.to_owned(),
            apply: Arc::new(move |c: Compare| c.comparator(&node_name, compare.clone())),
        });
        self
    }

    /// Registers, for scenario type `scenario_type`, a function that adds
    /// comparators to a comparison (the CLI's `ScenarioKind` has them in
    /// that form).
    #[cfg(feature = "cli")]
    pub(crate) fn comparators_of(
        mut self,
        scenario_type: &str,
        apply: impl Fn(Compare) -> Compare + Send + Sync + 'static,
    ) -> Self {
        self.comparators.push(Comparator {
            scenario_type: scenario_type.to_owned(),
            apply: Arc::new(apply),
        });
        self
    }

    /// The address to listen on (default [`DEFAULT_ADDR`]). Port 0 picks a free port.
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Uses `token` as the CSRF token instead of a random one (for scripts
    /// that start the server themselves).
    pub fn csrf_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The axum router serving every page, for embedding in another server or
    /// for tests. Its state (the live view of submissions) lives as long as
    /// the router.
    pub fn router(self) -> axum::Router {
        let addr = self.addr;
        routes::router(self.into_app(addr))
    }

    fn into_app(self, addr: SocketAddr) -> Arc<app::App> {
        app::App::new(
            self.runtime,
            self.graphs,
            self.comparators,
            addr,
            self.token,
        )
    }

    /// Binds the address (no request is served until [`Bound::run`]).
    pub fn bind(self) -> Result<Bound, ServeError> {
        let listener =
            std::net::TcpListener::bind(self.addr).map_err(|source| ServeError::Bind {
                addr: self.addr,
                source,
            })?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let app = self.into_app(local);
        Ok(Bound {
            listener,
            local,
            app,
        })
    }

    /// Binds, logs the warning of [`Bound::warning`] with `tracing`, and serves
    /// until the process ends.
    pub fn serve(self) -> Result<(), ServeError> {
        let bound = self.bind()?;
        if let Some(warning) = bound.warning() {
            tracing::warn!("{warning}");
        }
        bound.run()
    }
}

/// A server whose address is bound: say where it listens, then run it.
pub struct Bound {
    listener: std::net::TcpListener,
    local: SocketAddr,
    app: Arc<app::App>,
}

impl Bound {
    /// The address it listens on (with the port chosen, for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The URL of the scenarios page.
    pub fn url(&self) -> String {
        format!("http://{}/scenarios", self.local)
    }

    /// A warning for people when the address is not a loopback address: the
    /// pages (and the token that lets a browser change the store) are then
    /// reachable from other machines.
    pub fn warning(&self) -> Option<String> {
        exposure_warning(self.local)
    }

    /// The CSRF token POST requests must carry.
    pub fn csrf_token(&self) -> &str {
        self.app.token()
    }

    /// Serves on a new async runtime until the process ends.
    pub fn run(self) -> Result<(), ServeError> {
        self.run_until(std::future::pending())
    }

    /// Serves until `shutdown` completes, then lets open requests finish.
    pub fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("pipeline-web")
            .build()?;
        let app = self.app.clone();
        // Event streams never end by themselves: end them, then the server.
        let shutdown = async move {
            shutdown.await;
            app.close_streams();
        };
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(self.listener)?;
            axum::serve(listener, routes::router(self.app))
                .with_graceful_shutdown(shutdown)
                .await
        })?;
        Ok(())
    }

    /// Serves on a thread of its own; the returned handle stops it.
    pub fn spawn(self) -> Running {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let addr = self.local;
        let token = self.app.token().to_owned();
        let thread = std::thread::Builder::new()
            .name("pipeline-web".to_owned())
            .spawn(move || {
                self.run_until(async move {
                    let _ = stopped.await;
                })
            })
            .expect("the operating system starts a thread");
        Running {
            addr,
            token,
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

/// A server running on its own thread ([`Bound::spawn`]); dropping it stops it.
pub struct Running {
    addr: SocketAddr,
    token: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServeError>>>,
}

impl Running {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CSRF token POST requests must carry.
    pub fn csrf_token(&self) -> &str {
        &self.token
    }

    /// Stops serving (open event streams end) and waits for the thread.
    pub fn stop(mut self) -> Result<(), ServeError> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ServeError::Io(std::io::Error::other(
                "the server thread panicked",
            ))),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shut_down();
    }
}

/// The warning of [`Bound::warning`] for `addr`.
pub fn exposure_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| {
        format!(
            "warning: the web view listens on {addr}, which other machines may reach: anyone \
             who can connect can read every value in the store and submit scenarios; use \
             --addr 127.0.0.1:{} to keep it on this machine",
            addr.port()
        )
    })
}
