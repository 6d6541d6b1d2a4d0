//! Runs a submission: decides per task whether to skip, hands the tasks that
//! must run to a [`Runner`], and records every job.
//!
//! The calling thread coordinates: it keeps each task's count of unfinished
//! upstream tasks, decides skips itself (cheap: fingerprints only), and hands
//! tasks that must run to at most `max_workers` worker threads, spawned only when
//! needed. When exactly one task can run and nothing else is running, it runs on
//! the calling thread: a chain of tasks never pays for a thread hand-off.
//!
//! Where a task's body runs is the runner's business: on that thread
//! ([`local`], the default), or as a job of a cluster engine that the thread
//! submits and waits for (`crate::remote`, [`Executor::Slurm`]). Either way
//! the runner records a finished job through the same [`commit`] path, so
//! skip decisions, early cutoff, the memo and lineage cannot tell them apart.

mod commit;
mod local;
mod runner;

#[cfg(feature = "remote")]
pub(crate) use commit::commit_outputs;
pub(crate) use runner::{Done, Failure, Runner};

use std::collections::VecDeque;

use std::time::{Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::decide::{Decider, Decision, Overrides, Work};
use crate::error::{Error, Result};
use crate::events::{Event, EventKind};
use crate::external;
use crate::graph::{Graph, NodeId, Scope, TaskId};
use crate::job::{Job, JobStatus, NodeVersion, Submission};
use crate::key::TaskKey;
use crate::reason::Reason;
use crate::scenario_state::ScenarioState;
use crate::stale;
use crate::store::SubmissionId;
use crate::submit_options::{CancelToken, Executor, SubmitOptions, Target};

/// A submission records what it finds (changed files are new versions), so
/// its decisions need no overrides.
static NO_OVERRIDES: std::sync::LazyLock<Overrides> = std::sync::LazyLock::new(Overrides::new);

/// Runs a submission while holding the scenario's locks: this process's, then
/// the store's (other processes wait), after which the version cache is brought
/// up to date with what other processes recorded.
///
/// If a job failed because an input's value was found damaged in the store (the
/// store then removes it), the submission is made once more at once, so that
/// the producer of that input runs again; both submissions are recorded.
pub(crate) fn submit(scenario: &ScenarioState, options: &SubmitOptions) -> Result<Submission> {
    submit_after(scenario, options, false, || Ok(()))
}

/// [`submit`], running `before` first under the same locks, after the cache
/// was brought up to date (the writes of
/// [`Scenario::submit_with_writes`](crate::Scenario::submit_with_writes));
/// `writes_global`: whether `before` writes global nodes. An error of
/// `before` submits nothing.
pub(crate) fn submit_after(
    scenario: &ScenarioState,
    options: &SubmitOptions,
    writes_global: bool,
    before: impl FnOnce() -> Result<()>,
) -> Result<Submission> {
    let graph = scenario.graph().clone();
    let planned = plan(&graph, &options.target)?;
    let lock = scenario.runtime().scenario_lock(scenario.id());
    let _guard = lock.lock();
    let files = external::nodes_naming_files(scenario, &graph, &planned);
    let writes_global = writes_global
        || planned.iter().any(|&task| {
            graph
                .task_outputs(task)
                .iter()
                .any(|&node| graph.node(node).scope() == Scope::Global)
        })
        || files
            .iter()
            .any(|&node| graph.node(node).scope() == Scope::Global)
        // A global default that changed in the code is written again.
        || planned.iter().any(|&task| {
            graph.task_inputs(task).iter().any(|&node| {
                let spec = graph.node(node);
                spec.scope() == Scope::Global && spec.has_default()
            })
        });
    let _store_locks = scenario.lock_store(writes_global)?;
    scenario.refresh_from_store()?;
    before()?;
    external::refresh(scenario, &graph, &files, true)?;
    let (mut submission, input_missing) = submit_once(scenario, &graph, options, &planned)?;
    if input_missing {
        submission = submit_once(scenario, &graph, options, &planned)?.0;
    }
    if options.record_versions {
        submission.versions = current_versions(scenario, &graph)?;
    }
    if options.target != Target::Scenario {
        submission.stale_upstream = stale::stale_upstream(scenario, &graph, &planned)?;
        if !submission.stale_upstream.is_empty() {
            tracing::warn!("{}", stale::warning(&submission.stale_upstream));
        }
    }
    Ok(submission)
}

/// The current version of every node that has one, from the cache (which the
/// submission keeps current while it holds the locks).
fn current_versions(scenario: &ScenarioState, graph: &Graph) -> Result<Vec<NodeVersion>> {
    let mut versions = Vec::with_capacity(graph.nodes().len());
    for (index, spec) in graph.nodes().iter().enumerate() {
        if let Some(current) = scenario.current(NodeId(index as u32))? {
            versions.push(NodeVersion {
                node: spec.name_arc().clone(),
                version: current.meta.version,
                fingerprint: current.meta.fingerprint,
            });
        }
    }
    Ok(versions)
}

fn submit_once(
    scenario: &ScenarioState,
    graph: &Graph,
    options: &SubmitOptions,
    planned: &[TaskId],
) -> Result<(Submission, bool)> {
    let id = scenario.runtime().store.next_submission_id(scenario.id())?;
    let mut run = Run::new(scenario, graph, options, id, planned);
    run.publish(EventKind::SubmissionStarted {
        jobs: planned.len(),
    });
    match &options.executor {
        Executor::Local => run.execute(&local::LocalRunner),
        #[cfg(feature = "remote")]
        Executor::Slurm(slurm) => {
            let runner = crate::remote::SlurmRunner::start(scenario, slurm, options.force)?;
            run.max_workers = runner.capacity();
            run.execute(&runner);
        }
    }
    let input_missing = run.input_missing;
    let submission = run.into_submission(planned, options);
    scenario.runtime().store.record_submission(&submission)?;
    scenario.runtime().events.publish(Event {
        scenario: scenario.id(),
        submission: id,
        at: SystemTime::now(),
        kind: EventKind::SubmissionFinished,
    });
    Ok((submission, input_missing))
}

/// The tasks a target covers, in topological order.
pub(crate) fn plan(graph: &Graph, target: &Target) -> Result<Vec<TaskId>> {
    match target {
        Target::Scenario => Ok(graph.topo_order().to_vec()),
        Target::Task(name) => {
            graph
                .task_id(name)
                .map(|id| vec![id])
                .ok_or_else(|| Error::UnknownTask {
                    graph: graph.name().to_owned(),
                    task: name.clone(),
                })
        }
        Target::Sequence(name) => {
            graph
                .sequence(name)
                .map(|s| s.tasks().to_vec())
                .ok_or_else(|| Error::UnknownSequence {
                    graph: graph.name().to_owned(),
                    sequence: name.clone(),
                })
        }
    }
}

struct Run<'a> {
    scenario: &'a ScenarioState,
    graph: &'a Graph,
    id: SubmissionId,
    force: bool,
    max_workers: usize,
    cancel: Option<CancelToken>,
    started_at: SystemTime,
    clock: Instant,
    in_plan: Vec<bool>,
    waiting: Vec<u32>,
    jobs: Vec<Option<Job>>,
    ready: VecDeque<TaskId>,
    runnable: VecDeque<Work>,
    /// Whether a job failed on an input missing from the store.
    input_missing: bool,
}

impl<'a> Run<'a> {
    fn new(
        scenario: &'a ScenarioState,
        graph: &'a Graph,
        options: &SubmitOptions,
        id: SubmissionId,
        planned: &[TaskId],
    ) -> Self {
        let count = graph.tasks().len();
        let mut in_plan = vec![false; count];
        for task in planned {
            in_plan[task.index()] = true;
        }
        let mut waiting = vec![0u32; count];
        let mut jobs: Vec<Option<Job>> = vec![None; count];
        let mut ready = VecDeque::new();
        for &task in planned {
            let ups = graph
                .upstream(task)
                .iter()
                .filter(|u| in_plan[u.index()])
                .count();
            waiting[task.index()] = ups as u32;
            jobs[task.index()] = Some(Job::pending(graph.task(task).def().name_arc().clone()));
            if ups == 0 {
                ready.push_back(task);
            }
        }
        Self {
            scenario,
            graph,
            id,
            force: options.force,
            max_workers: options.workers(),
            cancel: options.cancel.clone(),
            started_at: SystemTime::now(),
            clock: Instant::now(),
            in_plan,
            waiting,
            jobs,
            ready,
            runnable: VecDeque::new(),
            input_missing: false,
        }
    }

    fn canceled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelToken::is_canceled)
    }

    fn publish(&self, kind: EventKind) {
        let events = &self.scenario.runtime().events;
        if events.is_listened() {
            events.publish(Event {
                scenario: self.scenario.id(),
                submission: self.id,
                at: SystemTime::now(),
                kind,
            });
        }
    }

    fn job(&mut self, task: TaskId) -> &mut Job {
        self.jobs[task.index()]
            .as_mut()
            .expect("only planned tasks have jobs")
    }

    fn is_final(&self, task: TaskId) -> bool {
        self.jobs[task.index()]
            .as_ref()
            .is_none_or(|j| j.status.is_final())
    }

    fn execute(&mut self, runner: &dyn Runner) {
        let (work_tx, work_rx) = unbounded::<Work>();
        let (done_tx, done_rx) = unbounded::<Done>();
        let scenario = self.scenario;
        crossbeam::scope(|scope| {
            let mut workers = 0usize;
            let mut running = 0usize;
            loop {
                self.decide_ready();
                if self.canceled() {
                    while let Some(work) = self.runnable.pop_front() {
                        self.finish(work.task, JobStatus::Canceled, None);
                    }
                }
                if running == 0 && self.runnable.len() == 1 && self.ready.is_empty() {
                    let work = self.runnable.pop_front().expect("one runnable task");
                    self.mark_running(work.task, work.key);
                    let done = runner.run(scenario, self.id, work);
                    self.complete(done);
                    continue;
                }
                while running < self.max_workers {
                    let Some(work) = self.runnable.pop_front() else {
                        break;
                    };
                    if workers == running {
                        let (rx, tx) = (work_rx.clone(), done_tx.clone());
                        let submission = self.id;
                        scope.spawn(move |_| worker(scenario, runner, submission, rx, tx));
                        workers += 1;
                    }
                    self.mark_running(work.task, work.key);
                    work_tx
                        .send(work)
                        .expect("workers outlive the dispatch loop");
                    running += 1;
                }
                if running == 0 {
                    if self.ready.is_empty() && self.runnable.is_empty() {
                        break;
                    }
                    continue;
                }
                let done = done_rx.recv().expect("a running task always reports back");
                running -= 1;
                self.complete(done);
            }
            drop(work_tx);
        })
        .expect("worker threads catch task panics");
    }

    /// Decides every ready task: skip now, fail now, or queue to run.
    fn decide_ready(&mut self) {
        while let Some(task) = self.ready.pop_front() {
            if self.is_final(task) {
                continue;
            }
            if self.canceled() {
                self.finish(task, JobStatus::Canceled, None);
                continue;
            }
            let decider = Decider {
                scenario: self.scenario,
                graph: self.graph,
                force: self.force,
                submission: Some(self.id),
                overrides: &NO_OVERRIDES,
            };
            match decider.decide(task) {
                Decision::Skip { key, reason } => {
                    let now = SystemTime::now();
                    let job = self.job(task);
                    job.key = Some(key);
                    job.reused = matches!(reason, Reason::Reused { .. });
                    job.reason = Some(reason);
                    job.started_at = Some(now);
                    self.finish(task, JobStatus::Skipped, None);
                }
                Decision::Run(mut work) => {
                    let reason = std::mem::replace(&mut work.reason, Reason::FirstRun);
                    self.job(task).reason = Some(reason);
                    self.runnable.push_back(work);
                }
                Decision::Fail { key, message } => {
                    self.job(task).key = key;
                    self.finish(task, JobStatus::Failed, Some(message));
                }
            }
        }
    }

    fn mark_running(&mut self, task: TaskId, key: TaskKey) {
        let job = self.job(task);
        job.status = JobStatus::Running;
        job.key = Some(key);
        let name = job.task.clone();
        self.publish(EventKind::Job {
            task: name,
            status: JobStatus::Running,
        });
    }

    fn complete(&mut self, done: Done) {
        let job = self.job(done.task);
        job.started_at = Some(done.started_at);
        job.duration = Some(done.duration);
        job.remote = done.remote;
        match done.outcome {
            Ok(()) => self.finish(done.task, JobStatus::Completed, None),
            Err(failure) => {
                self.input_missing |= failure.input_missing;
                self.finish(done.task, JobStatus::Failed, Some(failure.message));
            }
        }
    }

    /// Gives a task its final status; releases its dependents on success, or gives
    /// every unfinished dependent `Abandoned` (after a failure) or `Canceled`.
    fn finish(&mut self, task: TaskId, status: JobStatus, error: Option<String>) {
        let mut stack = vec![(task, status, error)];
        while let Some((task, status, error)) = stack.pop() {
            let job = self.job(task);
            job.status = status;
            job.error = error.map(String::into_boxed_str);
            if job.started_at.is_none() {
                job.started_at = Some(SystemTime::now());
            }
            job.duration.get_or_insert(std::time::Duration::ZERO);
            let name = job.task.clone();
            self.publish(EventKind::Job {
                task: name.clone(),
                status,
            });
            for &down in self.graph.downstream(task) {
                if !self.in_plan[down.index()] || self.is_final(down) {
                    continue;
                }
                if status.is_success() {
                    let waiting = &mut self.waiting[down.index()];
                    *waiting -= 1;
                    if *waiting == 0 {
                        self.ready.push_back(down);
                    }
                } else {
                    let (cascade, why) = match status {
                        JobStatus::Canceled => (
                            JobStatus::Canceled,
                            format!("upstream task `{name}` was canceled"),
                        ),
                        _ => (
                            JobStatus::Abandoned,
                            format!("upstream task `{name}` {status}"),
                        ),
                    };
                    // Mark now so a second failing upstream does not push it twice.
                    self.job(down).status = cascade;
                    stack.push((down, cascade, Some(why)));
                }
            }
        }
    }

    fn into_submission(self, planned: &[TaskId], options: &SubmitOptions) -> Submission {
        let mut jobs = self.jobs;
        let target = match &options.target {
            Target::Scenario => "scenario".to_owned(),
            Target::Task(name) => format!("task {name}"),
            Target::Sequence(name) => format!("sequence {name}"),
        };
        Submission {
            id: self.id,
            scenario: self.scenario.id(),
            target,
            started_at: self.started_at,
            duration: self.clock.elapsed(),
            jobs: planned
                .iter()
                .map(|t| {
                    jobs[t.index()]
                        .take()
                        .expect("every planned task has a job")
                })
                .collect(),
            versions: Vec::new(),
            stale_upstream: Vec::new(),
        }
    }
}

fn worker(
    scenario: &ScenarioState,
    runner: &dyn Runner,
    submission: SubmissionId,
    work: Receiver<Work>,
    done: Sender<Done>,
) {
    for item in work.iter() {
        if done.send(runner.run(scenario, submission, item)).is_err() {
            return;
        }
    }
}
