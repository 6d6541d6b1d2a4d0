//! The catalog of scenarios in a store: list and filter them, find one by id or
//! name, rename, tag and untag, delete, and collect the values nothing refers
//! to any more.
//!
//! ```
//! use std::collections::BTreeSet;
//! use pipeline_core::{Runtime, ScenarioFilter};
//! use pipeline_core::graph::{GraphBuilder, NodeSpec};
//! let graph = GraphBuilder::new("pricing")
//!     .node(NodeSpec::new::<f64>("rate").with_default(0.1))
//!     .build()?;
//! let graph = std::sync::Arc::new(graph);
//! let runtime = Runtime::in_memory();
//! let spring = runtime.create_scenario_tagged(graph.clone(), "spring", BTreeSet::from(["2025".to_owned()]))?;
//! runtime.create_scenario(graph, "autumn")?;
//!
//! let tagged = runtime.list_scenarios(&ScenarioFilter::new().tagged("2025"))?;
//! assert_eq!(tagged.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["spring"]);
//!
//! runtime.rename_scenario(spring.id(), "spring sale")?;
//! assert_eq!(runtime.resolve_scenario("spring sale")?.id, spring.id());
//! runtime.delete_scenario(spring.id())?;
//! assert_eq!(runtime.list_scenarios(&ScenarioFilter::new())?.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::SystemTime;

use crate::error::{Error, Result};
use crate::runtime::Runtime;
use crate::store::{GcReport, Owner, ScenarioId, ScenarioMeta};

/// Which scenarios [`Runtime::list_scenarios`] returns: every condition set must
/// hold. Built with chained setters; [`ScenarioFilter::new`] matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScenarioFilter {
    graph: Option<String>,
    tags: Vec<String>,
    name: Option<String>,
    created_after: Option<SystemTime>,
    created_before: Option<SystemTime>,
}

impl ScenarioFilter {
    /// Matches every scenario.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only scenarios of this type (graph name).
    pub fn of_type(mut self, graph: impl Into<String>) -> Self {
        self.graph = Some(graph.into());
        self
    }

    /// Only scenarios carrying this tag (several calls: all of the tags).
    pub fn tagged(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Only scenarios with exactly this name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Only scenarios created at or after `time`.
    pub fn created_after(mut self, time: SystemTime) -> Self {
        self.created_after = Some(time);
        self
    }

    /// Only scenarios created before `time`.
    pub fn created_before(mut self, time: SystemTime) -> Self {
        self.created_before = Some(time);
        self
    }

    /// Whether `meta` passes the filter.
    pub fn matches(&self, meta: &ScenarioMeta) -> bool {
        self.graph.as_ref().is_none_or(|g| *g == meta.graph)
            && self.name.as_ref().is_none_or(|n| *n == meta.name)
            && self.tags.iter().all(|t| meta.tags.contains(t))
            && self.created_after.is_none_or(|t| meta.created_at >= t)
            && self.created_before.is_none_or(|t| meta.created_at < t)
    }
}

impl Runtime {
    /// The scenarios passing `filter`, oldest first.
    pub fn list_scenarios(&self, filter: &ScenarioFilter) -> Result<Vec<ScenarioMeta>> {
        Ok(self
            .store()
            .scenarios()?
            .into_iter()
            .filter(|m| filter.matches(m))
            .collect())
    }

    /// The scenario with this id.
    pub fn scenario_meta(&self, id: ScenarioId) -> Result<ScenarioMeta> {
        self.store()
            .scenarios()?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| Error::UnknownScenario(id.to_string()))
    }

    /// The newest scenario with this name, of any type.
    pub fn scenario_named(&self, name: &str) -> Result<ScenarioMeta> {
        self.store()
            .scenarios()?
            .into_iter()
            .rev()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::UnknownScenario(format!("named `{name}`")))
    }

    /// A scenario as people name it: `#3` or `3` for an id (if a scenario has
    /// it), else a name (the newest scenario so named).
    pub fn resolve_scenario(&self, which: &str) -> Result<ScenarioMeta> {
        let digits = which.strip_prefix('#').unwrap_or(which);
        if let Ok(id) = digits.parse::<u64>()
            && let Ok(meta) = self.scenario_meta(ScenarioId(id))
        {
            return Ok(meta);
        }
        self.scenario_named(which)
    }

    /// Renames a scenario. Open [`Scenario`](crate::Scenario) handles keep the
    /// name they were opened with.
    pub fn rename_scenario(&self, id: ScenarioId, name: &str) -> Result<ScenarioMeta> {
        Ok(self.store().rename_scenario(id, name)?)
    }

    /// Adds a tag to a scenario (adding a tag it has changes nothing).
    pub fn tag_scenario(&self, id: ScenarioId, tag: &str) -> Result<ScenarioMeta> {
        Ok(self.store().tag_scenario(id, tag, true)?)
    }

    /// Removes a tag from a scenario (removing a tag it lacks changes nothing).
    pub fn untag_scenario(&self, id: ScenarioId, tag: &str) -> Result<ScenarioMeta> {
        Ok(self.store().tag_scenario(id, tag, false)?)
    }

    /// Deletes a scenario: its data node versions, submissions and jobs. It
    /// waits for a submission of the scenario in another process to finish.
    /// Values stay in the store until [`gc`](Self::gc) (another scenario or the
    /// memo table may still use them).
    pub fn delete_scenario(&self, id: ScenarioId) -> Result<()> {
        let _lock = self.store().lock(&Owner::Scenario(id))?;
        Ok(self.store().delete_scenario(id)?)
    }

    /// Removes the values no data node version refers to (and their files), the
    /// memo entries pointing at them, and files left by crashed processes;
    /// reports what it freed.
    pub fn gc(&self) -> Result<GcReport> {
        Ok(self.store().gc()?)
    }
}
