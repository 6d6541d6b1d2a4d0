//! The Slurm runner: one task, one or more attempts, each a batch job.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use super::RemoteError;
use super::manifest::{
    CLAIM_FILE, CodeManifest, EnvEntry, OutputSlot, RESULT_FILE, RESULT_FORMAT, ResultManifest,
    ResultStatus, TASK_FILE, TASK_FORMAT, TaskManifest, attempt_folder, key_folder,
};
use super::options::{FailureKind, OBJECTS_ENV, SlurmOptions};
use super::slurm::{self, BatchJob, Polled, Poller};
use super::transfer::ShippedValues;
use crate::decide::Work;
use crate::error::Result;
use crate::executor::{Done, Failure, Runner, commit_outputs};
use crate::fingerprint::Fingerprint;
use crate::job::RemoteJob;
use crate::key::TaskKey;
use crate::objects::{ObjectError, ObjectStore, StoreLocation};
use crate::scenario_state::ScenarioState;
use crate::store::SubmissionId;

/// A job an interrupted submission left in the queue.
#[derive(Debug, Clone)]
struct EarlierJob {
    id: String,
    attempt_id: String,
}

/// How one attempt ended.
enum AttemptEnd {
    Completed(Timing),
    Failed {
        message: String,
        /// `None`: a failure of the coordinator's side, never retried.
        kind: Option<FailureKind>,
        timing: Timing,
    },
}

/// When and where an attempt ran.
#[derive(Default)]
struct Timing {
    started: Option<SystemTime>,
    duration: Option<Duration>,
    remote: Option<Box<RemoteJob>>,
}

/// Runs the tasks of one submission as Slurm jobs (see the module docs of
/// [`crate::remote`]).
pub(crate) struct SlurmRunner {
    options: SlurmOptions,
    objects: ObjectStore,
    objects_url: String,
    program: PathBuf,
    log_dir: PathBuf,
    poller: Poller,
    shipped: ShippedValues,
    /// Names this coordinator's attempt folders apart from others'.
    nonce: String,
    /// The object store settings given in code, as the variables a worker
    /// reads them from (`aws_endpoint` as `AWS_ENDPOINT`).
    worker_env: Vec<(String, String)>,
    earlier: Mutex<HashMap<TaskKey, Vec<EarlierJob>>>,
    /// The submission runs even tasks whose outputs are current.
    force: bool,
}

impl SlurmRunner {
    /// Opens the object store, finds the worker program and the jobs that
    /// interrupted submissions left queued, and starts the queue poller.
    pub(crate) fn start(
        scenario: &ScenarioState,
        options: &SlurmOptions,
        force: bool,
    ) -> Result<Self> {
        let location = match &options.objects {
            Some(location) => location.clone(),
            None => std::env::var(OBJECTS_ENV).map_err(|_| RemoteError::NoObjectStore)?,
        };
        let location: StoreLocation = location.parse().map_err(RemoteError::from)?;
        let objects = ObjectStore::open_with(location, options.object_options.clone())
            .map_err(RemoteError::from)?;
        let objects_url = objects.location().to_string();
        let program = match &options.program {
            Some(program) => program.clone(),
            None => std::env::current_exe().map_err(RemoteError::Program)?,
        };
        let log_dir = match &options.log_dir {
            Some(dir) => dir.clone(),
            None => match scenario.runtime().store.location() {
                Some(store) => store.join("slurm"),
                None => PathBuf::from(crate::store::DEFAULT_DIR).join("slurm"),
            },
        };
        let log_dir = std::path::absolute(&log_dir).unwrap_or(log_dir);
        std::fs::create_dir_all(&log_dir).map_err(|source| RemoteError::LogDir {
            path: log_dir.clone(),
            source,
        })?;
        let earlier = earlier_jobs(&objects_url).map_err(RemoteError::Slurm)?;
        let nonce = format!(
            "{}-{}",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            std::process::id()
        );
        Ok(Self {
            poller: Poller::start(options.poll_interval),
            options: options.clone(),
            objects,
            objects_url,
            program,
            log_dir,
            shipped: ShippedValues::default(),
            nonce,
            worker_env: options
                .object_options
                .s3_settings()
                .iter()
                .map(|(name, value)| (name.to_ascii_uppercase(), value.clone()))
                .collect(),
            earlier: Mutex::new(earlier),
            force,
        })
    }

    /// How many tasks may be in flight at once.
    pub(crate) fn capacity(&self) -> usize {
        self.options.max_jobs
    }

    /// Adopts what an interrupted submission left for this task: a job still
    /// in the queue (waited for; cancelled instead with `cancel_stale`), or
    /// a completed result no coordinator recorded.
    fn adopt(
        &self,
        scenario: &ScenarioState,
        submission: SubmissionId,
        work: &Work,
    ) -> Option<AttemptEnd> {
        let queued = self.earlier.lock().remove(&work.key).unwrap_or_default();
        for job in queued {
            if self.options.cancel_stale {
                if let Err(message) = slurm::cancel(&job.id) {
                    tracing::warn!("cannot cancel stale job {}: {message}", job.id);
                }
                continue;
            }
            let _ = self.poller.watch(&job.id).recv();
            let folder = attempt_folder(&work.key, &job.attempt_id);
            if let Some(end @ AttemptEnd::Completed(_)) =
                self.collect(scenario, submission, work, &folder, Some(&job.id), true)
            {
                return Some(end);
            }
        }
        let listed = match self.objects.list(&key_folder(&work.key)) {
            Ok(listed) => listed,
            Err(e) => {
                return Some(AttemptEnd::Failed {
                    message: format!("cannot look for earlier attempts: {e}"),
                    kind: None,
                    timing: Timing::default(),
                });
            }
        };
        let mut attempts: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
        for object in &listed {
            let Some((folder, file)) = object.name.rsplit_once('/') else {
                continue;
            };
            let entry = attempts.entry(folder).or_default();
            match file {
                RESULT_FILE => entry.0 = true,
                CLAIM_FILE => entry.1 = true,
                _ => {}
            }
        }
        let reusable = self.reusable(scenario, work);
        for (folder, _) in attempts
            .into_iter()
            .filter(|(_, (result, claimed))| *result && (reusable || !*claimed))
        {
            // Names are listed relative to the store, a prefix's included.
            let folder = match folder.find("jobs/") {
                Some(at) => &folder[at..],
                None => folder,
            };
            if let Some(end @ AttemptEnd::Completed(_)) =
                self.collect(scenario, submission, work, folder, None, true)
            {
                return Some(end);
            }
        }
        None
    }

    /// Whether a recorded result of the same key may stand for this run, as
    /// a memo entry would (see `Decider::reuse_memo`).
    fn reusable(&self, scenario: &ScenarioState, work: &Work) -> bool {
        let graph = scenario.graph();
        !self.force
            && graph.task(work.task).is_skippable()
            && graph
                .task_outputs(work.task)
                .iter()
                .all(|&node| !graph.node(node).value_type().names_files())
    }

    /// Runs one attempt: ships the inputs, writes the task manifest, submits
    /// the job, waits for it and collects its result.
    fn attempt(
        &self,
        scenario: &ScenarioState,
        submission: SubmissionId,
        work: &Work,
        attempt: u32,
    ) -> AttemptEnd {
        let coordinator_failure = |message: String| AttemptEnd::Failed {
            message,
            kind: None,
            timing: Timing::default(),
        };
        let graph = scenario.graph();
        let def = graph.task(work.task).def();
        let attempt_id = format!("{}-{attempt}", self.nonce);
        let folder = attempt_folder(&work.key, &attempt_id);
        let inputs = match self.shipped.ship_inputs(scenario, work, &self.objects) {
            Ok(inputs) => inputs,
            Err(message) => return coordinator_failure(message),
        };
        let manifest = TaskManifest {
            format: TASK_FORMAT.to_owned(),
            submission: submission.0,
            scenario: scenario.name().to_owned(),
            task: def.name().to_owned(),
            function: def.function_name().to_owned(),
            attempt,
            attempt_id: attempt_id.clone(),
            key: work.key,
            code: CodeManifest::of(def.code()),
            identity: work.statics.identity,
            environment: def
                .code()
                .env()
                .iter()
                .zip(&work.env)
                .map(|(name, digest)| EnvEntry {
                    name: name.to_string(),
                    digest: *digest,
                })
                .collect(),
            store: self.objects_url.clone(),
            inputs,
            outputs: graph
                .task_outputs(work.task)
                .iter()
                .zip(work.statics.outputs.iter())
                .map(|(&node, schema)| OutputSlot {
                    node: graph.node(node).name().to_owned(),
                    type_name: graph.node(node).value_type().name(),
                    schema: *schema,
                })
                .collect(),
            result: format!("{folder}/{RESULT_FILE}"),
        };
        let json = serde_json::to_vec_pretty(&manifest).expect("a task manifest serializes");
        let manifest_name = format!("{folder}/{TASK_FILE}");
        if let Err(e) = self.objects.put(&manifest_name, json) {
            return coordinator_failure(format!("cannot write the task manifest: {e}"));
        }
        let url = format!("{}/{manifest_name}", self.objects_url);
        let resources = self.options.resources_for(def.name(), def.resources());
        let job = BatchJob {
            program: &self.program,
            manifest_url: &url,
            task: def.name(),
            log_dir: &self.log_dir,
            resources: &resources,
            extra_args: &self.options.sbatch_args,
            env: &self.worker_env,
        };
        let id = match job.submit() {
            Ok(id) => id,
            Err(message) => return coordinator_failure(message),
        };
        tracing::debug!(task = def.name(), attempt, job = %id, "submitted");
        if let Polled::Lost(message) = self
            .poller
            .watch(&id)
            .recv()
            .unwrap_or_else(|_| Polled::Lost("the queue poller stopped".into()))
        {
            return coordinator_failure(format!("slurm job {id}: {message}"));
        }
        self.collect(scenario, submission, work, &folder, Some(&id), false)
            .unwrap_or_else(|| coordinator_failure(format!("slurm job {id} left no result")))
    }

    /// Reads the result of the attempt in `folder` and records it. Adopting
    /// (`adopted`), only a completed result counts (`None` otherwise); else a
    /// job that ended without one failed, as Slurm and its output say.
    fn collect(
        &self,
        scenario: &ScenarioState,
        submission: SubmissionId,
        work: &Work,
        folder: &str,
        job_id: Option<&str>,
        adopted: bool,
    ) -> Option<AttemptEnd> {
        let task = scenario.graph().task(work.task).name();
        let result = match self.objects.get(&format!("{folder}/{RESULT_FILE}")) {
            Ok(bytes) => serde_json::from_slice::<ResultManifest>(&bytes).map_err(|e| {
                format!("the result of task `{task}` in {folder} is not a result manifest: {e}")
            }),
            Err(ObjectError::NotFound { .. }) => {
                if adopted {
                    return None;
                }
                let id = job_id.expect("a submitted attempt has a job id");
                let end = slurm::job_end(id);
                let tail = slurm::log_tail(&slurm::log_file(&self.log_dir, id), 20);
                let attempt = folder.rsplit('-').next().unwrap_or("?");
                return Some(AttemptEnd::Failed {
                    message: format!(
                        "slurm job {id} (attempt {attempt}) ended {} without a result; {tail}",
                        end.describe()
                    ),
                    kind: Some(end.kind()),
                    timing: Timing {
                        remote: Some(Box::new(RemoteJob {
                            executor: "slurm".into(),
                            id: id.to_owned(),
                            attempt: attempt.parse().unwrap_or(0),
                            host: None,
                            adopted,
                            peak_rss: None,
                        })),
                        ..Timing::default()
                    },
                });
            }
            Err(e) => Err(format!("cannot read the result of task `{task}`: {e}")),
        };
        let result = match result.and_then(|r| check_result(r, task, work.key)) {
            Ok(result) => result,
            Err(message) if adopted => {
                tracing::warn!("not adopting {folder}: {message}");
                return None;
            }
            Err(message) => {
                return Some(AttemptEnd::Failed {
                    message,
                    kind: None,
                    timing: Timing::default(),
                });
            }
        };
        let timing = Timing {
            started: Some(UNIX_EPOCH + Duration::from_millis(result.started_ms)),
            duration: Some(Duration::from_millis(
                result.ended_ms.saturating_sub(result.started_ms),
            )),
            remote: Some(Box::new(RemoteJob {
                executor: "slurm".into(),
                id: result
                    .job
                    .clone()
                    .or_else(|| job_id.map(str::to_owned))
                    .unwrap_or_default(),
                attempt: result.attempt,
                host: result.host.clone(),
                adopted,
                peak_rss: result.peak_rss,
            })),
        };
        if result.status == ResultStatus::Failed {
            if adopted {
                return None;
            }
            return Some(AttemptEnd::Failed {
                message: result.error.unwrap_or_else(|| "failed".to_owned()),
                kind: Some(if result.task_error {
                    FailureKind::TaskError
                } else {
                    FailureKind::WorkerError
                }),
                timing,
            });
        }
        // Claimed before it is recorded: a coordinator that finds the claim
        // never adopts the result a second time. Our own attempt's result is
        // recorded even if another coordinator claimed it first.
        let claim = self.objects.put(
            &format!("{folder}/{CLAIM_FILE}"),
            format!(
                "{{\"submission\": {}, \"by\": \"{}\"}}",
                submission.0, self.nonce
            )
            .into_bytes(),
        );
        match claim {
            Ok(crate::objects::PutOutcome::AlreadyExists)
                if adopted && !self.reusable(scenario, work) =>
            {
                return None;
            }
            Ok(_) => {}
            Err(e) => {
                return Some(AttemptEnd::Failed {
                    message: format!("cannot record the result of task `{task}`: {e}"),
                    kind: None,
                    timing,
                });
            }
        }
        let values = match self
            .shipped
            .import_outputs(scenario, work, &result, &self.objects)
        {
            Ok(values) => values,
            Err(message) => {
                return Some(AttemptEnd::Failed {
                    message,
                    kind: None,
                    timing,
                });
            }
        };
        Some(match commit_outputs(scenario, submission, work, values) {
            Ok(()) => AttemptEnd::Completed(timing),
            Err(failure) => AttemptEnd::Failed {
                message: failure.message,
                kind: None,
                timing,
            },
        })
    }
}

impl Runner for SlurmRunner {
    fn run(&self, scenario: &ScenarioState, submission: SubmissionId, work: Work) -> Done {
        let started_at = SystemTime::now();
        let clock = Instant::now();
        let mut end = self.adopt(scenario, submission, &work);
        let mut attempt = 1;
        let end = loop {
            let this = match end.take() {
                Some(end) => end,
                None => self.attempt(scenario, submission, &work, attempt),
            };
            match this {
                AttemptEnd::Failed {
                    kind: Some(kind), ..
                } if attempt <= self.options.retries && self.options.retries_on(kind) => {
                    attempt += 1;
                }
                other => break other,
            }
        };
        let (outcome, timing) = match end {
            AttemptEnd::Completed(timing) => (Ok(()), timing),
            AttemptEnd::Failed {
                message, timing, ..
            } => (
                Err(Failure {
                    message,
                    input_missing: false,
                }),
                timing,
            ),
        };
        Done {
            task: work.task,
            started_at: timing.started.unwrap_or(started_at),
            duration: timing.duration.unwrap_or_else(|| clock.elapsed()),
            outcome,
            remote: timing.remote,
        }
    }
}

/// A result must be the one of this task and key, in a format this build reads.
fn check_result(
    result: ResultManifest,
    task: &str,
    key: TaskKey,
) -> Result<ResultManifest, String> {
    if result.format != RESULT_FORMAT {
        return Err(format!(
            "the result of task `{task}` has format `{}`; this build reads `{RESULT_FORMAT}`",
            result.format
        ));
    }
    if result.task != task || result.key != key {
        return Err(format!(
            "the result in the folder of task `{task}` (key {}) is for task `{}` (key {})",
            key.0.short(),
            result.task,
            result.key.0.short()
        ));
    }
    Ok(result)
}

/// The jobs of interrupted submissions still queued, by task key: `pl-`
/// jobs of this user whose comment is a task manifest in this object store.
fn earlier_jobs(
    objects_url: &str,
) -> std::result::Result<HashMap<TaskKey, Vec<EarlierJob>>, String> {
    let prefix = format!("{objects_url}/jobs/");
    let mut found: HashMap<TaskKey, Vec<EarlierJob>> = HashMap::new();
    for job in slurm::my_jobs()? {
        let Some(rest) = job.comment.strip_prefix(&prefix) else {
            continue;
        };
        let mut parts = rest.split('/');
        let (Some(key), Some(attempt_id), Some(TASK_FILE), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(key) = key.parse::<Fingerprint>() else {
            continue;
        };
        found.entry(TaskKey(key)).or_default().push(EarlierJob {
            id: job.id,
            attempt_id: attempt_id.to_owned(),
        });
    }
    Ok(found)
}
