//! The skip rule (docs/skipping.md) and the reason of every decision, shared
//! by a submission (which acts on it) and
//! [`Scenario::explain`](crate::Scenario::explain) (which only says).
//!
//! A task's key is hash(identity, declared environment values, input
//! fingerprints), its identity hash(name, code fingerprint, input and output
//! schemas) computed once per opened scenario. A skippable, unforced task is
//! skipped iff every output exists, is intact, is stored under its type's
//! current schema and was produced under the current key; else an identical
//! job's outputs (same key, any scenario) are reused; else it runs, and the
//! reason says what differs from the job that made its outputs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::cache::{CachedVersion, JobBasis};
use crate::error::Result;
use crate::fingerprint::Fingerprint;
use crate::graph::{Graph, NodeId, TaskId};
use crate::key::{TaskKey, TaskStatic, env_digests};
use crate::old_layout;
use crate::reason::{Change, Reason};
use crate::scenario_state::ScenarioState;
use crate::store::{Commit, InputVersion, JobRecord, SubmissionId, VersionMeta, WrittenBy};

/// A task that must run, with what it was decided on.
pub(crate) struct Work {
    pub(crate) task: TaskId,
    pub(crate) key: TaskKey,
    pub(crate) inputs: Vec<Arc<CachedVersion>>,
    pub(crate) env: Vec<Option<Fingerprint>>,
    pub(crate) statics: Arc<TaskStatic>,
    pub(crate) reason: Reason,
}

/// The outcome of the skip check.
pub(crate) enum Decision {
    Skip {
        key: TaskKey,
        reason: Reason,
    },
    Run(Work),
    Fail {
        key: Option<TaskKey>,
        message: String,
    },
}

/// Effective fingerprints that a dry run found for nodes whose files changed,
/// without recording them (see [`crate::file_state`]).
pub(crate) type Overrides = HashMap<NodeId, Fingerprint>;

/// Decides tasks of one scenario.
pub(crate) struct Decider<'a> {
    pub(crate) scenario: &'a ScenarioState,
    pub(crate) graph: &'a Graph,
    pub(crate) force: bool,
    /// The submission that records what it decides (reused outputs, defaults
    /// written again); `None`: decide only, write nothing (explain).
    pub(crate) submission: Option<SubmissionId>,
    pub(crate) overrides: &'a Overrides,
}

impl Decider<'_> {
    /// The fingerprint a decision sees for a node's current version.
    fn fingerprint_of<'v>(&'v self, node: NodeId, version: &'v CachedVersion) -> &'v Fingerprint {
        if self.overrides.is_empty() {
            return &version.meta.fingerprint;
        }
        self.overrides
            .get(&node)
            .unwrap_or(&version.meta.fingerprint)
    }

    /// Decides one task whose upstream tasks have all finished.
    pub(crate) fn decide(&self, task: TaskId) -> Decision {
        let (scenario, graph) = (self.scenario, self.graph);
        let spec = graph.task(task);
        let statics = match scenario.task_static(task) {
            Ok(statics) => statics,
            Err(message) => return Decision::Fail { key: None, message },
        };
        let input_nodes = graph.task_inputs(task);
        let mut inputs = Vec::with_capacity(input_nodes.len());
        for (i, &node) in input_nodes.iter().enumerate() {
            match self.input(node, statics.inputs[i]) {
                Ok(version) => inputs.push(version),
                Err(message) => return Decision::Fail { key: None, message },
            }
        }
        let env = env_digests(spec.def().code().env());
        let key = TaskKey::compute(
            &statics.identity,
            &env,
            input_nodes
                .iter()
                .zip(&inputs)
                .map(|(&node, version)| self.fingerprint_of(node, version)),
        );
        let run = |reason| {
            Decision::Run(Work {
                task,
                key,
                inputs: inputs.clone(),
                env: env.clone(),
                statics: statics.clone(),
                reason,
            })
        };
        if !spec.is_skippable() {
            return run(Reason::NotSkippable);
        }
        if self.force {
            return run(Reason::Forced);
        }
        let store = &scenario.runtime().store;
        let outputs = graph.task_outputs(task);
        let current = outputs
            .iter()
            .enumerate()
            .all(|(i, &node)| match scenario.current(node) {
                Ok(Some(version)) => {
                    version.meta.producer_key() == Some(&key)
                        && version.meta.schema == Some(statics.outputs[i])
                        && !self.overrides.contains_key(&node)
                        && (version.loaded_value().is_some()
                            || store.has_value(
                                &version.meta.fingerprint,
                                &graph.node(node).value_type(),
                            ))
                }
                _ => false,
            });
        if current {
            return Decision::Skip {
                key,
                reason: Reason::UpToDate,
            };
        }
        match self.reuse_memo(task, key, &inputs, &env, &statics) {
            Ok(Some(reason)) => return Decision::Skip { key, reason },
            Ok(None) => {}
            Err(e) => {
                return Decision::Fail {
                    key: Some(key),
                    message: e.to_string(),
                };
            }
        }
        let reason = self.why_run(task, &statics, &inputs, &env);
        run(reason)
    }

    /// The current version of input `node`, which must hold a value stored
    /// under the type's current `schema`: a node with no producer whose
    /// default was stored under another schema gets its default again (when
    /// recording); any other stale value is an error that says what to do.
    fn input(
        &self,
        node: NodeId,
        schema: Fingerprint,
    ) -> std::result::Result<Arc<CachedVersion>, String> {
        let (scenario, graph) = (self.scenario, self.graph);
        let name = graph.node(node).name();
        let version = match scenario.current(node) {
            Ok(Some(version)) => version,
            Ok(None) => {
                let hint = match graph.producer(node) {
                    Some(p) => format!("submit task `{}` first", graph.task(p).name()),
                    None => "write it first".to_owned(),
                };
                return Err(format!("input data node `{name}` has no value: {hint}"));
            }
            Err(e) => return Err(e.to_string()),
        };
        let spec = graph.node(node);
        if version.meta.schema == Some(schema) {
            return self.current_default(node, version);
        }
        let type_name = spec.value_type().name();
        let stored = version.meta.schema.map_or_else(
            || "an unrecorded schema".to_owned(),
            |s| format!("schema {}", s.short()),
        );
        let why = format!(
            "input data node `{name}` holds a value stored under another layout of `{type_name}` \
             ({stored}, now {}): it is not decoded",
            schema.short()
        );
        match graph.producer(node) {
            Some(producer) => Err(format!(
                "{why}; submit task `{}` first (or the whole scenario) to recompute it",
                graph.task(producer).name()
            )),
            None => match (spec.default_fn(), &version.meta.written_by, self.submission) {
                (Some(default), WrittenBy::Default, Some(_)) => {
                    scenario
                        .write_erased(node, default(), WrittenBy::Default)
                        .map_err(|e| format!("{why}; writing its default again failed: {e}"))?;
                    match scenario.current(node) {
                        Ok(Some(version)) => Ok(version),
                        Ok(None) => Err(why),
                        Err(e) => Err(e.to_string()),
                    }
                }
                (Some(_), WrittenBy::Default, None) => {
                    Err(format!("{why}; a submission writes its default again"))
                }
                _ => Err(format!(
                    "{why}; write it again{}",
                    old_layout::note(
                        &*scenario.runtime().store,
                        &spec.value_type(),
                        &version.meta.fingerprint
                    )
                )),
            },
        }
    }

    /// `version` of input `node`, or, when it holds the node's default as
    /// an earlier build defined it (the default in the code changed since)
    /// and this decision records, the current default, written again: a
    /// default is code, and a scenario that never set the node follows it.
    /// Writing an equal default records nothing.
    fn current_default(
        &self,
        node: NodeId,
        version: Arc<CachedVersion>,
    ) -> std::result::Result<Arc<CachedVersion>, String> {
        let spec = self.graph.node(node);
        let (Some(default), WrittenBy::Default, Some(_)) =
            (spec.default_fn(), &version.meta.written_by, self.submission)
        else {
            return Ok(version);
        };
        // Compared first as plain values, so that an unchanged default costs
        // a fingerprint and no look at the files a path names.
        let value_type = spec.value_type();
        let value = default();
        let fresh = value_type.fingerprint(&*value).ok();
        let unchanged = match fresh {
            None => false,
            Some(fresh) if value_type.names_files() => self
                .scenario
                .value_of(node, &version)
                .is_ok_and(|stored| value_type.fingerprint(&**stored).ok() == Some(fresh)),
            Some(fresh) => fresh == version.meta.fingerprint,
        };
        if unchanged {
            return Ok(version);
        }
        let written = self
            .scenario
            .write_erased(node, value, WrittenBy::Default)
            .map_err(|e| format!("writing the default of `{}` failed: {e}", spec.name()))?;
        if written.version == version.meta.version {
            return Ok(version);
        }
        match self.scenario.current(node) {
            Ok(Some(current)) => Ok(current),
            Ok(None) => Ok(version),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Adopts (or, deciding only, finds) the outputs of an identical job
    /// recorded by any scenario.
    fn reuse_memo(
        &self,
        task: TaskId,
        key: TaskKey,
        inputs: &[Arc<CachedVersion>],
        env: &[Option<Fingerprint>],
        statics: &TaskStatic,
    ) -> Result<Option<Reason>> {
        let (scenario, graph) = (self.scenario, self.graph);
        let outputs = graph.task_outputs(task);
        // A memo entry records what files held when the job ran; they may
        // hold something else now, so outputs naming files are made again.
        if outputs
            .iter()
            .any(|&node| graph.node(node).value_type().names_files())
        {
            return Ok(None);
        }
        let store = &scenario.runtime().store;
        let Some(fingerprints) = store.memo(&key)? else {
            return Ok(None);
        };
        if fingerprints.len() != outputs.len()
            || !outputs
                .iter()
                .zip(&fingerprints)
                .all(|(&node, fp)| store.has_value(fp, &graph.node(node).value_type()))
        {
            return Ok(None);
        }
        let name = graph.task(task).def().name_arc().clone();
        let origin = store.memo_origin(&key)?;
        let reason = Reason::Reused {
            task: name.clone(),
            scenario: origin.and_then(|o| o.scenario),
            submission: origin.map(|o| o.submission),
        };
        let Some(submission) = self.submission else {
            return Ok(Some(reason));
        };
        let now = SystemTime::now();
        let mut versions = Vec::with_capacity(outputs.len());
        for (i, (&node, fp)) in outputs.iter().zip(&fingerprints).enumerate() {
            let previous = scenario.current(node)?;
            versions.push((
                scenario.slot(node).clone(),
                Arc::new(VersionMeta {
                    version: previous.map_or(1, |p| p.meta.version + 1),
                    fingerprint: *fp,
                    written_by: WrittenBy::Task {
                        task: name.clone(),
                        key,
                        submission,
                        reused: true,
                    },
                    written_at: now,
                    schema: Some(statics.outputs[i]),
                }),
            ));
        }
        let job = job_record(scenario, graph, task, key, submission, inputs, env, statics);
        store.commit(Commit {
            values: &[],
            versions: &versions,
            memo: None,
            job: Some(&job),
        })?;
        let job = Arc::new(JobBasis::from(&job));
        for (slot, meta) in versions {
            scenario.runtime().cache.set(
                slot,
                Arc::new(CachedVersion::without_value(meta).written_by_job(job.clone())),
            );
        }
        Ok(Some(reason))
    }

    /// Why a skippable task that cannot be skipped runs: what is wrong with
    /// its outputs, or what differs from the job that made them.
    fn why_run(
        &self,
        task: TaskId,
        statics: &TaskStatic,
        inputs: &[Arc<CachedVersion>],
        env: &[Option<Fingerprint>],
    ) -> Reason {
        let (scenario, graph) = (self.scenario, self.graph);
        let store = &scenario.runtime().store;
        let def = graph.task(task).def();
        let outputs = graph.task_outputs(task);
        let versions: Vec<Option<Arc<CachedVersion>>> = outputs
            .iter()
            .map(|&node| scenario.current(node).ok().flatten())
            .collect();
        if versions.iter().all(Option::is_none) {
            return Reason::FirstRun;
        }
        for (i, (&node, version)) in outputs.iter().zip(&versions).enumerate() {
            let name = graph.node(node).name_arc().clone();
            let Some(version) = version else {
                return Reason::OutputMissing { node: name };
            };
            match &version.meta.written_by {
                WrittenBy::Task { task, .. } if **task == *def.name() => {}
                other => {
                    return Reason::OutputReplaced {
                        node: name,
                        written_by: Box::new(other.clone()),
                    };
                }
            }
            if version.meta.schema != Some(statics.outputs[i]) {
                return Reason::OutputSchema {
                    node: name,
                    stored: version.meta.schema.map(Box::new),
                    current: Box::new(statics.outputs[i]),
                };
            }
            if version.loaded_value().is_none()
                && !store.has_value(&version.meta.fingerprint, &graph.node(node).value_type())
            {
                return Reason::OutputMissing { node: name };
            }
        }
        let first = versions[0].as_ref().expect("checked above");
        let record = first.job().cloned().or_else(|| {
            store
                .job_record(scenario.slot(outputs[0]), first.meta.version)
                .ok()
                .flatten()
                .map(|record| Arc::new(JobBasis::from(&record)))
        });
        let Some(record) = record else {
            return Reason::KeyChanged;
        };
        let mut changes = Vec::new();
        let input_nodes = graph.task_inputs(task);
        for (i, (&node, version)) in input_nodes.iter().zip(inputs).enumerate() {
            let Some(&(old_fingerprint, old_schema)) = record.inputs.get(i) else {
                continue;
            };
            let name = graph.node(node).name_arc();
            let now = *self.fingerprint_of(node, version);
            if old_schema.is_some_and(|s| s != statics.inputs[i]) {
                changes.push(Change::InputSchema {
                    node: name.clone(),
                    old: old_schema,
                    new: statics.inputs[i],
                });
            }
            if old_fingerprint != now {
                let written_by = if self.overrides.contains_key(&node) {
                    WrittenBy::FileChange
                } else {
                    version.meta.written_by.clone()
                };
                changes.push(Change::Input {
                    node: name.clone(),
                    old: old_fingerprint,
                    new: now,
                    written_by,
                });
            }
        }
        if record.code_fingerprint != def.code_fingerprint() {
            let (parts, sources) = match &record.code {
                Some(old) => (
                    def.code().changed_since(old),
                    def.code()
                        .changed_sources_since(old)
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                ),
                None => (
                    def.code().parts().iter().map(|(p, _)| *p).collect(),
                    Vec::new(),
                ),
            };
            if !parts.is_empty() {
                changes.push(Change::Code { parts, sources });
            }
        }
        for (name, digest) in def.code().env().iter().zip(env) {
            let old = record.env.iter().find(|(n, _)| n == name).map(|(_, d)| *d);
            if old != Some(*digest) {
                changes.push(Change::Env {
                    variable: name.clone(),
                });
            }
        }
        if changes.is_empty() {
            Reason::KeyChanged
        } else {
            Reason::Changed { changes }
        }
    }
}

/// What a job read and ran, for lineage and for the reasons of later jobs.
#[allow(clippy::too_many_arguments)]
pub(crate) fn job_record(
    scenario: &ScenarioState,
    graph: &Graph,
    task: TaskId,
    key: TaskKey,
    submission: SubmissionId,
    inputs: &[Arc<CachedVersion>],
    env: &[Option<Fingerprint>],
    statics: &TaskStatic,
) -> JobRecord {
    let def = graph.task(task).def();
    JobRecord {
        task: def.name_arc().clone(),
        code: def.code_fingerprint(),
        key,
        submission,
        inputs: graph
            .task_inputs(task)
            .iter()
            .zip(inputs)
            .enumerate()
            .map(|(i, (&node, version))| InputVersion {
                slot: scenario.slot(node).clone(),
                version: version.meta.version,
                fingerprint: version.meta.fingerprint,
                schema: Some(statics.inputs[i]),
            })
            .collect(),
        code_identity: Some(def.code().clone()),
        env: def
            .code()
            .env()
            .iter()
            .cloned()
            .zip(env.iter().copied())
            .collect(),
    }
}
