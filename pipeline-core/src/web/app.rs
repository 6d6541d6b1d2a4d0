//! The server's shared state: the runtime, the registered scenario types, the
//! CSRF token, the live view of submissions, and the lookups every page makes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;

use super::access;
use super::error::PageError;
use super::live::{Board, Dispatcher};
use crate::compare::Compare;
use crate::graph::{Graph, NodeId};
use crate::runtime::Runtime;
use crate::scenario::Scenario;
use crate::store::{ScenarioId, ScenarioMeta};

/// A comparator registered with [`Server::comparator`](super::Server::comparator).
#[derive(Clone)]
pub struct Comparator {
    pub(super) scenario_type: String,
    pub(super) apply: Arc<dyn Fn(Compare) -> Compare + Send + Sync>,
}

impl std::fmt::Debug for Comparator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Comparator")
            .field("scenario_type", &self.scenario_type)
            .finish_non_exhaustive()
    }
}

/// Everything a request handler reads.
pub(super) struct App {
    pub(super) runtime: Runtime,
    graphs: BTreeMap<String, Arc<Graph>>,
    comparators: Vec<Comparator>,
    token: String,
    /// Host header values a browser uses to reach this server; empty when any
    /// host is accepted (a non-loopback address).
    allowed_hosts: Vec<String>,
    pub(super) board: Arc<Board>,
    /// Keeps the thread forwarding runtime events alive as long as the app.
    _dispatcher: Dispatcher,
    closing: watch::Sender<bool>,
}

impl App {
    pub(super) fn new(
        runtime: Runtime,
        graphs: Vec<Arc<Graph>>,
        comparators: Vec<Comparator>,
        addr: SocketAddr,
        token: Option<String>,
    ) -> Arc<Self> {
        let board = Arc::new(Board::default());
        let dispatcher = Dispatcher::start(&runtime, board.clone());
        Arc::new(Self {
            graphs: graphs
                .into_iter()
                .map(|g| (g.name().to_owned(), g))
                .collect(),
            comparators,
            token: token.unwrap_or_else(access::random_token),
            allowed_hosts: access::allowed_hosts(addr),
            board,
            _dispatcher: dispatcher,
            closing: watch::channel(false).0,
            runtime,
        })
    }

    /// The CSRF token.
    pub(super) fn token(&self) -> &str {
        &self.token
    }

    /// The Host header values accepted (empty: any).
    pub(super) fn allowed_hosts(&self) -> &[String] {
        &self.allowed_hosts
    }

    /// The registered scenario types, by name.
    pub(super) fn graphs(&self) -> &BTreeMap<String, Arc<Graph>> {
        &self.graphs
    }

    /// The comparators registered for a scenario type, applied to `compare`.
    pub(super) fn with_comparators(&self, scenario_type: &str, mut compare: Compare) -> Compare {
        for comparator in self
            .comparators
            .iter()
            .filter(|c| c.scenario_type == scenario_type)
        {
            compare = (comparator.apply)(compare);
        }
        compare
    }

    /// The scenario with this id, or a 404 naming it.
    pub(super) fn scenario_meta(&self, id: u64) -> Result<ScenarioMeta, PageError> {
        let scenarios = self.runtime.store().scenarios()?;
        scenarios
            .into_iter()
            .find(|m| m.id == ScenarioId(id))
            .ok_or_else(|| {
                PageError::NotFound(format!(
                    "no scenario #{id} in this store: it was never created here, or it was deleted"
                ))
            })
    }

    /// The scenario with this id, opened with its type's graph, or a 404 when
    /// the id or the type is unknown. Opening writes nothing (a GET never
    /// changes the store).
    pub(super) fn scenario(&self, id: u64) -> Result<Scenario, PageError> {
        let meta = self.scenario_meta(id)?;
        let graph = self.graph_of(&meta)?;
        Ok(Scenario::attach(self.runtime_state(), graph, meta))
    }

    /// The graph of a scenario's type, or a 404 saying the program lacks it.
    pub(super) fn graph_of(&self, meta: &ScenarioMeta) -> Result<Arc<Graph>, PageError> {
        self.graphs.get(&meta.graph).cloned().ok_or_else(|| {
            PageError::NotFound(format!(
                "scenario {} (`{}`) is a `{}` scenario, a type this program does not declare \
                 (it knows {}): serve the store with the program that created it",
                meta.id,
                meta.name,
                meta.graph,
                self.type_list()
            ))
        })
    }

    /// A node of a scenario's graph by name, or a 404 listing the nodes.
    pub(super) fn node_id(&self, scenario: &Scenario, node: &str) -> Result<NodeId, PageError> {
        scenario.graph().node_id(node).ok_or_else(|| {
            let known: Vec<&str> = scenario.graph().nodes().iter().map(|n| n.name()).collect();
            PageError::NotFound(format!(
                "scenario {} has no data node `{node}`; its nodes are {}",
                scenario.id(),
                known.join(", ")
            ))
        })
    }

    /// `` `a`, `b` `` or "no scenario type".
    pub(super) fn type_list(&self) -> String {
        if self.graphs.is_empty() {
            return "no scenario type".to_owned();
        }
        self.graphs
            .keys()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn runtime_state(&self) -> Arc<crate::runtime_state::RuntimeState> {
        self.runtime.state().clone()
    }

    /// Runs blocking store work off the async threads.
    pub(super) async fn blocking<R: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&App) -> Result<R, PageError> + Send + 'static,
    ) -> Result<R, PageError> {
        let app = self.clone();
        tokio::task::spawn_blocking(move || work(&app))
            .await
            .unwrap_or_else(|join| Err(PageError::from_panic(join)))
    }

    /// Ends every open event stream (the server is shutting down).
    pub(super) fn close_streams(&self) {
        let _ = self.closing.send(true);
    }

    /// Completes when the server shuts down.
    pub(super) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}
