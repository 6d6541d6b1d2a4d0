//! Tasks a configuration can name in `function = "…"`.

use std::collections::BTreeMap;

use crate::task::TaskDef;

/// A task that a configuration may use.
#[derive(Clone, Debug)]
pub struct RegisteredTask {
    /// The definition (name, code fingerprint, signature, body).
    pub def: TaskDef,
    /// Whether `#[task(skippable)]` was given (a file's `skippable` overrides it).
    pub skippable: bool,
    /// Where it was registered (`module_path!()` of a `#[task]` function).
    pub origin: String,
}

/// The tasks a configuration can name, by name.
///
/// [`TaskRegistry::collected`] finds every `#[task]` function linked into the
/// program (no registration call needed); [`TaskRegistry::with`] adds
/// hand-built definitions.
///
/// ```
/// use pipeline_core::task::TaskDef;
/// use pipeline_core::config::TaskRegistry;
/// let tasks = TaskRegistry::new().with(TaskDef::from_fn1("double", "1", |x: &i64| x * 2), true);
/// assert!(tasks.get("double").is_ok());
/// assert!(tasks.get("triple").is_err());
/// ```
#[derive(Clone, Default, Debug)]
pub struct TaskRegistry {
    by_name: BTreeMap<String, Vec<RegisteredTask>>,
}

/// Why a task name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskLookupError {
    /// No task has the name.
    Unknown,
    /// Several modules register the name; these are their modules.
    Ambiguous(Vec<String>),
}

impl TaskRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every `#[task]` function linked into the program.
    pub fn collected() -> Self {
        let mut registry = Self::new();
        for registration in crate::task::registered_tasks() {
            registry.insert(RegisteredTask {
                def: registration.def(),
                skippable: registration.skippable(),
                origin: registration.module_path().to_owned(),
            });
        }
        registry
    }

    /// Adds a task definition.
    pub fn with(mut self, def: TaskDef, skippable: bool) -> Self {
        self.insert(RegisteredTask {
            def,
            skippable,
            origin: "registered by hand".to_owned(),
        });
        self
    }

    fn insert(&mut self, task: RegisteredTask) {
        self.by_name
            .entry(task.def.name().to_owned())
            .or_default()
            .push(task);
    }

    /// The task registered as `name`.
    pub fn get(&self, name: &str) -> Result<&RegisteredTask, TaskLookupError> {
        match self.by_name.get(name).map(Vec::as_slice) {
            None | Some([]) => Err(TaskLookupError::Unknown),
            Some([one]) => Ok(one),
            Some(many) => Err(TaskLookupError::Ambiguous(
                many.iter().map(|t| t.origin.clone()).collect(),
            )),
        }
    }

    /// Every registered name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Every registered task.
    pub fn iter(&self) -> impl Iterator<Item = &RegisteredTask> {
        self.by_name.values().flatten()
    }
}
