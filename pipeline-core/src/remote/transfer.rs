//! Values between the coordinator's store and the object store: a task's
//! inputs are shipped (uploaded by fingerprint, create-only) before its job
//! is submitted, and its outputs are checked and brought into the
//! coordinator's store before they are recorded.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use super::manifest::{InputEntry, OutputEntry, ResultManifest, StoredObject, value_object};
use crate::decide::Work;
use crate::fingerprint::Fingerprint;
use crate::objects::ObjectStore;
use crate::scenario_state::ScenarioState;
use crate::value::{ErasedValue, Materialized, StoreContext, ValueType};

/// A value known to be in the object store, with the values it is a view of.
#[derive(Debug, Clone)]
struct Shipped {
    object: StoredObject,
    references: Vec<StoredObject>,
}

/// What this coordinator knows to be in the object store already (shipped
/// by it, or produced by its workers), so that a value is never uploaded
/// twice nor read back from the local store to be shipped again.
#[derive(Default)]
pub(crate) struct ShippedValues {
    known: Mutex<HashMap<Fingerprint, Arc<Shipped>>>,
}

impl ShippedValues {
    /// The inputs of `work` as a task manifest names them, each uploaded
    /// unless the object store holds it already.
    pub(crate) fn ship_inputs(
        &self,
        scenario: &ScenarioState,
        work: &Work,
        objects: &ObjectStore,
    ) -> Result<Vec<InputEntry>, String> {
        let graph = scenario.graph();
        let nodes = graph.task_inputs(work.task);
        let mut entries = Vec::with_capacity(nodes.len());
        for (i, (&node, version)) in nodes.iter().zip(&work.inputs).enumerate() {
            let spec = graph.node(node);
            let value_type = spec.value_type();
            let fingerprint = version.meta.fingerprint;
            let known = self.known.lock().get(&fingerprint).cloned();
            let shipped = match known {
                Some(shipped) => shipped,
                None => {
                    let value = scenario.value_of(node, version).map_err(|e| {
                        format!("cannot load input `{}` to ship it: {e}", spec.name())
                    })?;
                    let object = ship(scenario, objects, &fingerprint, Some((&value_type, value)))
                        .map_err(|e| format!("cannot ship input `{}`: {e}", spec.name()))?;
                    let references = value_type
                        .references(&**value)
                        .iter()
                        .map(|reference| ship(scenario, objects, reference, None))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| {
                            format!(
                                "cannot ship a value input `{}` is a view of: {e}",
                                spec.name()
                            )
                        })?;
                    let shipped = Arc::new(Shipped { object, references });
                    self.known.lock().insert(fingerprint, shipped.clone());
                    shipped
                }
            };
            entries.push(InputEntry {
                node: spec.name().to_owned(),
                type_name: value_type.name(),
                schema: work.statics.inputs[i],
                value: shipped.object.clone(),
                references: shipped.references.clone(),
            });
        }
        Ok(entries)
    }

    /// Checks the outputs a result names against what `work` expects and
    /// the object store holds, and brings each into the coordinator's store's
    /// scratch directory as a value ready to commit.
    pub(crate) fn import_outputs(
        &self,
        scenario: &ScenarioState,
        work: &Work,
        result: &ResultManifest,
        objects: &ObjectStore,
    ) -> Result<Vec<Materialized<ErasedValue>>, String> {
        let graph = scenario.graph();
        let nodes = graph.task_outputs(work.task);
        if result.outputs.len() != nodes.len() {
            return Err(format!(
                "the result names {} outputs; the task is wired to {}",
                result.outputs.len(),
                nodes.len()
            ));
        }
        let store = &scenario.runtime().store;
        let scratch = store.scratch_dir().map_err(|e| e.to_string())?;
        let mut values = Vec::with_capacity(nodes.len());
        for (i, (entry, &node)) in result.outputs.iter().zip(nodes).enumerate() {
            let spec = graph.node(node);
            let value_type = spec.value_type();
            check_output(entry, spec.name(), work.statics.outputs[i], objects)?;
            let fingerprint = entry.value.fingerprint;
            let path = scratch.join(format!(
                "remote-{}.{}",
                fingerprint.to_hex(),
                value_type.extension()
            ));
            let fetched = objects
                .get_to_file(&entry.value.object, &path)
                .map_err(|e| format!("cannot fetch output `{}`: {e}", spec.name()))?;
            if fetched.content_hash != entry.value.content_hash || fetched.size != entry.value.size
            {
                let _ = std::fs::remove_file(&path);
                return Err(format!(
                    "output `{}`: object {} does not match the content hash and size its result \
                     records (damaged in the object store)",
                    spec.name(),
                    entry.value.object
                ));
            }
            let lookup = |reference: &Fingerprint| local_file(scenario, reference);
            let context = StoreContext::new(fingerprint, &lookup);
            let value = value_type
                .read_stored_file(&path, &context)
                .map_err(|e| format!("cannot read output `{}`: {e}", spec.name()))?;
            let references = value_type.references(&*value);
            let known_references: Vec<StoredObject> = {
                let known = self.known.lock();
                references
                    .iter()
                    .filter_map(|r| known.get(r).map(|s| s.object.clone()))
                    .collect()
            };
            if known_references.len() == references.len() {
                self.known.lock().insert(
                    fingerprint,
                    Arc::new(Shipped {
                        object: entry.value.clone(),
                        references: known_references,
                    }),
                );
            }
            // A file the store may adopt as it is: the value's canonical
            // encoding, named by its own fingerprint (not a value whose
            // fingerprint covers external files, which the commit computes).
            let adoptable = !value_type.names_files() && entry.value.content_hash == fingerprint;
            values.push(Materialized {
                value,
                fingerprint,
                file: adoptable.then_some(path),
            });
        }
        Ok(values)
    }
}

/// Checks an output entry against the task's node and schema and the
/// object the store holds.
fn check_output(
    entry: &OutputEntry,
    node: &str,
    schema: Fingerprint,
    objects: &ObjectStore,
) -> Result<(), String> {
    if entry.node != node {
        return Err(format!(
            "the result names output `{}` where the task writes `{node}`",
            entry.node
        ));
    }
    if entry.schema != schema {
        return Err(format!(
            "output `{node}` was stored under schema {}, not the {} its type has here",
            entry.schema.short(),
            schema.short()
        ));
    }
    match objects.head(&entry.value.object) {
        Ok(Some(info)) if info.size == entry.value.size => Ok(()),
        Ok(Some(info)) => Err(format!(
            "output `{node}`: object {} has {} bytes, its result records {}",
            entry.value.object, info.size, entry.value.size
        )),
        Ok(None) => Err(format!(
            "output `{node}`: object {} that its result names is not in {}",
            entry.value.object,
            objects.location()
        )),
        Err(e) => Err(format!("cannot check output `{node}`: {e}")),
    }
}

/// The local file of a value the coordinator's store holds.
fn local_file(scenario: &ScenarioState, fingerprint: &Fingerprint) -> Result<PathBuf, String> {
    match scenario.runtime().store.value_file(fingerprint) {
        Ok(Some(file)) => Ok(file.path),
        Ok(None) => Err("the store keeps no files".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// Uploads a stored value (create-only) unless the object store has it;
/// `value` writes it out when the store keeps no files (in memory).
fn ship(
    scenario: &ScenarioState,
    objects: &ObjectStore,
    fingerprint: &Fingerprint,
    value: Option<(&ValueType, &ErasedValue)>,
) -> Result<StoredObject, String> {
    let store = &scenario.runtime().store;
    let (file, size, content_hash, extension, temporary) = match store
        .value_file(fingerprint)
        .map_err(|e| e.to_string())?
    {
        Some(file) => {
            let extension = file
                .path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("bin")
                .to_owned();
            (file.path, file.size, file.content_hash, extension, false)
        }
        None => {
            let Some((value_type, value)) = value else {
                return Err(format!(
                    "value {} is a view's underlying value, and this store keeps no files to ship",
                    fingerprint.short()
                ));
            };
            let scratch = store.scratch_dir().map_err(|e| e.to_string())?;
            // A file of its own per call: tasks running at once ship the
            // same input, and must not write or remove each other's file.
            static SHIPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = SHIPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = scratch.join(format!(
                "ship-{}-{}-{n}.{}",
                fingerprint.to_hex(),
                std::process::id(),
                value_type.extension()
            ));
            value_type
                .write_file(&**value, &path)
                .map_err(|e| e.to_string())?;
            let (size, hash) = Fingerprint::of_file(&path)
                .map_err(|e| format!("cannot read back {}: {e}", path.display()))?;
            (path, size, hash, value_type.extension().to_owned(), true)
        }
    };
    let object = value_object(fingerprint, &extension);
    let outcome = objects.put_file(&object, &file);
    if temporary {
        let _ = std::fs::remove_file(&file);
    }
    match outcome.map_err(|e| e.to_string())? {
        crate::objects::PutOutcome::Created => {}
        crate::objects::PutOutcome::AlreadyExists => match objects.head(&object) {
            Ok(Some(info)) if info.size == size => {}
            Ok(Some(info)) => {
                return Err(format!(
                    "object {object} exists with {} bytes; the local value has {size} \
                     (another encoding under the same fingerprint)",
                    info.size
                ));
            }
            Ok(None) => {
                return Err(format!(
                    "object {object} was reported stored, then not found"
                ));
            }
            Err(e) => return Err(e.to_string()),
        },
    }
    Ok(StoredObject {
        fingerprint: *fingerprint,
        object,
        size,
        content_hash,
    })
}
