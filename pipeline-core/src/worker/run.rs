//! One attempt: manifest, identity checks, inputs, body, outputs, result.

use std::any::Any;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::scratch::RemovedOnTermination;
use super::{Worker, WorkerError, WorkerOutcome};
use crate::fingerprint::Fingerprint;
use crate::key::{TaskKey, env_digests};
use crate::memory::ValueMemory;
use crate::objects::{ObjectStore, PutOutcome};
use crate::remote::manifest::{
    CodeManifest, OutputEntry, RESULT_FORMAT, ResultManifest, ResultStatus, StoredObject,
    TASK_FORMAT, TaskManifest, value_object,
};
use crate::task::{TaskDef, panic_message};
use crate::task_panic;
use crate::value::{ErasedValue, MaterializeContext, StoreContext, ValueType};

/// Why an attempt failed, for its result manifest.
struct Failed {
    message: String,
    /// The task's own failure (its `Err`, a panic, an output it could not
    /// make), as opposed to the worker's.
    task_error: bool,
}

impl Failed {
    fn worker(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            task_error: false,
        }
    }

    fn task(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            task_error: true,
        }
    }
}

pub(super) fn attempt(worker: &Worker, url: &str) -> Result<WorkerOutcome, WorkerError> {
    let (folder, name) = url
        .rsplit_once('/')
        .filter(|(_, name)| *name == crate::remote::manifest::TASK_FILE)
        .ok_or_else(|| WorkerError::ManifestUrl(url.to_owned()))?;
    let manifest_error = |reason: String| WorkerError::Manifest {
        url: url.to_owned(),
        reason,
    };
    let text = ObjectStore::open(folder)?.get(name)?;
    let manifest: TaskManifest = serde_json::from_slice(&text)
        .map_err(|e| manifest_error(format!("not a task manifest: {e}")))?;
    if manifest.format != TASK_FORMAT {
        return Err(manifest_error(format!(
            "its format is `{}`; this build reads `{TASK_FORMAT}`",
            manifest.format
        )));
    }
    let store = ObjectStore::open(&manifest.store)?;
    let scratch_base = ["SLURM_TMPDIR", "TMPDIR"]
        .iter()
        .find_map(std::env::var_os)
        .map_or_else(std::env::temp_dir, PathBuf::from);
    let scratch = tempfile::Builder::new()
        .prefix("pipeline-worker-")
        .tempdir_in(&scratch_base)
        .map_err(|source| WorkerError::Scratch {
            dir: scratch_base.clone(),
            source,
        })?;
    // Dropped before `scratch`, which then removes the directory itself.
    let _watch = RemovedOnTermination::watch(scratch.path())
        .inspect_err(|error| {
            tracing::warn!(
                "worker: cannot watch for termination signals ({error}); a cancelled job \
                 leaves its scratch directory {}",
                scratch.path().display()
            )
        })
        .ok();
    let started_ms = now_ms();
    let outcome = execute(worker, &manifest, &store, scratch.path());
    let (status, error, task_error, outputs) = match outcome {
        Ok(outputs) => (ResultStatus::Completed, None, false, outputs),
        Err(failed) => (
            ResultStatus::Failed,
            Some(failed.message),
            failed.task_error,
            Vec::new(),
        ),
    };
    let result = ResultManifest {
        format: RESULT_FORMAT.to_owned(),
        task: manifest.task.clone(),
        attempt: manifest.attempt,
        key: manifest.key,
        status,
        error: error.clone(),
        task_error,
        outputs,
        started_ms,
        ended_ms: now_ms(),
        host: host_name(),
        job: std::env::var("SLURM_JOB_ID").ok(),
        peak_rss: peak_rss(),
    };
    let json = serde_json::to_vec_pretty(&result).expect("a result manifest serializes");
    let task = manifest.task.clone();
    match store.put(&manifest.result, json) {
        Ok(PutOutcome::Created) => Ok(match error {
            None => WorkerOutcome::Completed { task },
            Some(message) => WorkerOutcome::Failed { task, message },
        }),
        Ok(PutOutcome::AlreadyExists) => Ok(WorkerOutcome::Duplicate { task }),
        Err(store_error) => match error {
            None => Err(WorkerError::from(store_error)),
            Some(failure) => Err(WorkerError::ResultNotStored {
                task,
                failure,
                store: Box::new(store_error),
            }),
        },
    }
}

/// Checks, fetches, runs and stores; the outputs as stored.
fn execute(
    worker: &Worker,
    manifest: &TaskManifest,
    store: &ObjectStore,
    scratch: &Path,
) -> Result<Vec<OutputEntry>, Failed> {
    let def = resolve(worker, manifest)?;
    let inputs = def.inputs();
    if inputs.len() != manifest.inputs.len() || def.outputs().len() != manifest.outputs.len() {
        return Err(Failed::worker(format!(
            "task `{}` of this program takes {} inputs and makes {} outputs; the manifest has {} and {}",
            manifest.task,
            inputs.len(),
            def.outputs().len(),
            manifest.inputs.len(),
            manifest.outputs.len()
        )));
    }
    check_identity(&def, manifest)?;
    let mut values: Vec<ErasedValue> = Vec::with_capacity(inputs.len());
    let mut shipped: HashMap<Fingerprint, StoredObject> = HashMap::new();
    for (entry, value_type) in manifest.inputs.iter().zip(inputs) {
        let mut files: HashMap<Fingerprint, PathBuf> = HashMap::new();
        for reference in &entry.references {
            files.insert(
                reference.fingerprint,
                fetch(store, reference, scratch, &entry.node)?,
            );
            shipped.insert(reference.fingerprint, reference.clone());
        }
        let path = fetch(store, &entry.value, scratch, &entry.node)?;
        shipped.insert(entry.value.fingerprint, entry.value.clone());
        let lookup = |fp: &Fingerprint| {
            files
                .get(fp)
                .cloned()
                .ok_or_else(|| "the task manifest does not ship it".to_owned())
        };
        let context = StoreContext::new(entry.value.fingerprint, &lookup);
        let value = value_type
            .read_stored_file(&path, &context)
            .map_err(|e| Failed::worker(format!("cannot read input `{}`: {e}", entry.node)))?;
        values.push(value);
    }
    let borrowed: Vec<&(dyn Any + Send + Sync)> = values.iter().map(|v| &**v).collect();
    let outputs = match task_panic::catch(|| def.call(&borrowed)) {
        Ok(Ok(outputs)) => outputs,
        Ok(Err(error)) => return Err(Failed::task(error.to_string())),
        Err(panicked) => return Err(Failed::task(panicked)),
    };
    drop(borrowed);
    if outputs.len() != manifest.outputs.len() {
        return Err(Failed::task(format!(
            "returned {} outputs but is wired to {}",
            outputs.len(),
            manifest.outputs.len()
        )));
    }
    // A worker runs one task: nothing it writes is read again in its process.
    let memory = ValueMemory::new(0);
    let context = MaterializeContext {
        scratch_dir: scratch,
        memory: &memory,
        partials: None,
    };
    let mut stored = Vec::with_capacity(outputs.len());
    for ((output, slot), value_type) in outputs
        .into_iter()
        .zip(&manifest.outputs)
        .zip(def.outputs())
    {
        if !value_type.holds(output.as_ref()) {
            return Err(Failed::task(format!(
                "output for data node `{}` is not a {}",
                slot.node,
                value_type.name()
            )));
        }
        let done = catch_unwind(AssertUnwindSafe(|| {
            value_type.materialize(output, &context)
        }))
        .map_err(|payload| {
            Failed::task(format!(
                "output `{}`: panicked while it was computed or stored: {}",
                slot.node,
                panic_message(payload.as_ref())
            ))
        })?
        .map_err(|e| Failed::task(e.of_output(&slot.node)))?;
        for reference in value_type.references(&*done.value) {
            if !shipped.contains_key(&reference) {
                return Err(Failed::task(format!(
                    "output `{}` is a view of value {}, which the task did not read: a view made \
                     remotely may only refer to the task's inputs",
                    slot.node,
                    reference.short()
                )));
            }
        }
        let (file, content_hash) = match &done.file {
            // A materialized file holds the canonical encoding, whose
            // digest is the fingerprint.
            Some(file) => (file.clone(), done.fingerprint),
            None => {
                let file = scratch.join(format!("output-{}", slot.node));
                value_type.write_file(&*done.value, &file).map_err(|e| {
                    Failed::worker(format!("cannot write output `{}`: {e}", slot.node))
                })?;
                let (_, hash) = Fingerprint::of_file(&file).map_err(|e| {
                    Failed::worker(format!("cannot read back output `{}`: {e}", slot.node))
                })?;
                (file, hash)
            }
        };
        let size = std::fs::metadata(&file)
            .map_err(|e| Failed::worker(format!("cannot read output `{}`: {e}", slot.node)))?
            .len();
        let object = value_object(&done.fingerprint, value_type.extension());
        let created = match store.put_file(&object, &file) {
            Ok(PutOutcome::Created) => true,
            Ok(PutOutcome::AlreadyExists) => {
                check_existing(store, &object, size, &slot.node)?;
                false
            }
            Err(e) => {
                return Err(Failed::worker(format!(
                    "cannot store output `{}`: {e}",
                    slot.node
                )));
            }
        };
        // The file may be large: free the scratch space now.
        drop(done.value);
        let _ = std::fs::remove_file(&file);
        stored.push(OutputEntry {
            node: slot.node.clone(),
            schema: slot.schema,
            value: StoredObject {
                fingerprint: done.fingerprint,
                object,
                size,
                content_hash,
            },
            created,
        });
    }
    Ok(stored)
}

/// The task the manifest names, as this program builds it.
fn resolve(worker: &Worker, manifest: &TaskManifest) -> Result<TaskDef, Failed> {
    let candidates = worker.candidates(&manifest.function);
    let found = match candidates.as_slice() {
        [] => {
            return Err(Failed::worker(format!(
                "this program has no task `{}` (function `{}`): is the worker program the one that submitted it?",
                manifest.task, manifest.function
            )));
        }
        [one] => *one,
        // Several modules register the name: the one built from the same code.
        many => many
            .iter()
            .copied()
            .find(|def| def.code_fingerprint() == manifest.code.fingerprint)
            .unwrap_or(many[0]),
    };
    Ok(found.clone().renamed(manifest.task.as_str()))
}

/// The worker's build of the task must be the one the coordinator decided
/// on: code, schemas, declared environment and hence the key.
fn check_identity(def: &TaskDef, manifest: &TaskManifest) -> Result<(), Failed> {
    let mine = CodeManifest::of(def.code());
    if mine.fingerprint != manifest.code.fingerprint {
        let parts = manifest.code.differing_parts(&mine);
        return Err(Failed::worker(format!(
            "this worker's build of task `{}` is not the one that was submitted (code fingerprint {} \
             here, {} expected; differing: {}): run the same build of the program on every node",
            manifest.task,
            mine.fingerprint.short(),
            manifest.code.fingerprint.short(),
            if parts.is_empty() {
                "the parts' composition".to_owned()
            } else {
                parts.join(", ")
            }
        )));
    }
    let schema = |ty: &ValueType| {
        ty.schema()
            .map_err(|e| Failed::worker(format!("type {}: {e}", ty.name())))
    };
    let inputs: Vec<Fingerprint> = def.inputs().iter().map(schema).collect::<Result<_, _>>()?;
    let outputs: Vec<Fingerprint> = def.outputs().iter().map(schema).collect::<Result<_, _>>()?;
    for ((entry, mine), ty) in manifest.inputs.iter().zip(&inputs).zip(def.inputs()) {
        if entry.schema != *mine {
            return Err(Failed::worker(format!(
                "input `{}` was stored as a {} of schema {}; this build's {} has schema {}: run the same build everywhere",
                entry.node,
                entry.type_name,
                entry.schema.short(),
                ty.name(),
                mine.short()
            )));
        }
    }
    for ((slot, mine), ty) in manifest.outputs.iter().zip(&outputs).zip(def.outputs()) {
        if slot.schema != *mine {
            return Err(Failed::worker(format!(
                "output `{}` must be a {} of schema {}; this build's {} has schema {}: run the same build everywhere",
                slot.node,
                slot.type_name,
                slot.schema.short(),
                ty.name(),
                mine.short()
            )));
        }
    }
    let identity = TaskKey::identity(def.name(), &mine.fingerprint, &inputs, &outputs);
    let names: Vec<std::sync::Arc<str>> = def.code().env().to_vec();
    let env = env_digests(&names);
    for (name, digest) in names.iter().zip(&env) {
        let expected = manifest.environment.iter().find(|e| *e.name == **name);
        if expected.is_none_or(|e| e.digest != *digest) {
            return Err(Failed::worker(format!(
                "environment variable `{name}`, which task `{}` declares, has another value here \
                 than where it was submitted: pass the same environment to the job",
                manifest.task
            )));
        }
    }
    let key = TaskKey::compute(
        &identity,
        &env,
        manifest.inputs.iter().map(|input| &input.value.fingerprint),
    );
    if identity != manifest.identity || key != manifest.key {
        return Err(Failed::worker(format!(
            "task `{}` has key {} here, {} in the manifest: this worker's build differs from the submitter's",
            manifest.task,
            key.0.short(),
            manifest.key.0.short()
        )));
    }
    Ok(())
}

/// Downloads a stored value into `objects/` of the scratch directory, as
/// `<fingerprint>.<ext>`, checks it, and vouches for it there: a task's
/// row-wise query over a fetched frame is then a view of it, as in a local
/// run, instead of rows to store and upload.
fn fetch(
    store: &ObjectStore,
    object: &StoredObject,
    scratch: &Path,
    node: &str,
) -> Result<PathBuf, Failed> {
    let file_name = object.object.rsplit('/').next().unwrap_or("value");
    let dir = scratch.join("objects");
    let path = dir.join(file_name);
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        Failed::worker(format!(
            "cannot create {} for input `{node}`: {e}",
            dir.display()
        ))
    })?;
    let fetched = store
        .get_to_file(&object.object, &path)
        .map_err(|e| Failed::worker(format!("cannot fetch input `{node}`: {e}")))?;
    if fetched.content_hash != object.content_hash || fetched.size != object.size {
        let _ = std::fs::remove_file(&path);
        return Err(Failed::worker(format!(
            "input `{node}`: object {} in {} does not match its recorded content hash and size \
             (damaged in the object store)",
            object.object,
            store.location()
        )));
    }
    if let Err(error) =
        crate::store::vouch_for_checked_file(&path, &object.fingerprint, &object.content_hash)
    {
        tracing::warn!(
            "input `{node}`: cannot vouch for {}: {error}; a view of it is stored as rows",
            path.display()
        );
    }
    Ok(path)
}

/// An object already stored under an output's name must have its size.
fn check_existing(store: &ObjectStore, object: &str, size: u64, node: &str) -> Result<(), Failed> {
    match store.head(object) {
        Ok(Some(info)) if info.size == size => Ok(()),
        Ok(Some(info)) => Err(Failed::worker(format!(
            "output `{node}`: object {object} exists with {} bytes, this output has {size}: \
             the object store holds another encoding under the same fingerprint",
            info.size
        ))),
        Ok(None) => Err(Failed::worker(format!(
            "output `{node}`: object {object} was reported stored, then not found"
        ))),
        Err(e) => Err(Failed::worker(format!("cannot check output `{node}`: {e}"))),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The node's name: Slurm's, else the kernel's.
pub(crate) fn host_name() -> Option<String> {
    std::env::var("SLURMD_NODENAME").ok().or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty())
    })
}

/// The process's peak resident memory (`VmHWM`), on Linux.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
