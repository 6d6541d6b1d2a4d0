//! Task definitions: a function with typed inputs and outputs, erased for the runtime.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::Value;
use crate::code::CodeIdentity;
use crate::fingerprint::{Fingerprint, FingerprintHasher};
use crate::resources::Resources;
use crate::value::ValueType;

/// Inputs as the executor hands them to a task: borrowed, never cloned.
pub type TaskInputs<'a> = &'a [&'a (dyn Any + Send + Sync)];

/// A task's outputs, boxed, in the order of its declared output types.
pub type TaskOutputs = Vec<Box<dyn Any + Send + Sync>>;

/// The erased body of a task.
pub type TaskFn = Arc<dyn Fn(TaskInputs<'_>) -> Result<TaskOutputs, TaskError> + Send + Sync>;

/// The error a task returns: its `Err` rendered with `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError(pub String);

impl TaskError {
    /// A task error with the given message.
    pub fn new(message: impl fmt::Display) -> Self {
        Self(message.to_string())
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TaskError {}

/// A function registered as a task: its name, signature, code fingerprint and body.
///
/// `#[task]` builds one for each annotated function, with a code identity
/// that covers the function, its crate's sources, its dependencies and the
/// compiler (see [`CodeIdentity`]); you can also build one by hand with
/// [`TaskDef::from_fn1`]-style constructors or [`TaskDef::new`], whose code is
/// pinned by the version string you give: bump it when the closure changes.
///
/// ```
/// use pipeline_core::task::TaskDef;
/// let double = TaskDef::from_fn1("double", "v1", |x: &i64| x * 2);
/// assert_eq!(double.name(), "double");
/// assert_eq!(double.inputs()[0].name(), "i64");
/// ```
#[derive(Clone)]
pub struct TaskDef {
    name: Arc<str>,
    function: Arc<Function>,
}

/// Code identity, signature and body, shared by every copy of a definition.
struct Function {
    /// The name the definition was made with (`renamed` copies keep it).
    function_name: Arc<str>,
    code: CodeIdentity,
    inputs: Vec<ValueType>,
    outputs: Vec<ValueType>,
    body: TaskFn,
    resources: Resources,
}

impl TaskDef {
    /// A task from its parts. `body` must accept `inputs.len()` values of the given
    /// types in order and return `outputs.len()` boxed values of the output types.
    /// `code` is the task's [`CodeIdentity`] (a lone [`Fingerprint`] converts
    /// into a version-pinned one).
    pub fn new(
        name: impl Into<Arc<str>>,
        code: impl Into<CodeIdentity>,
        inputs: Vec<ValueType>,
        outputs: Vec<ValueType>,
        body: TaskFn,
    ) -> Self {
        let name: Arc<str> = name.into();
        Self {
            function: Arc::new(Function {
                function_name: name.clone(),
                code: code.into(),
                inputs,
                outputs,
                body,
                resources: Resources::new(),
            }),
            name,
        }
    }

    /// The fingerprint of an explicit version string: a hand-built task's
    /// code, or the [`CodePart::Version`](crate::code::CodePart::Version) of
    /// a `#[task(version = "…")]`.
    pub fn code_fingerprint_of(source: &str) -> Fingerprint {
        FingerprintHasher::with_domain("task-code")
            .update_str(source)
            .finish()
    }

    /// A one-input, one-output task from a closure (for tests, benches and hand-built graphs).
    pub fn from_fn1<A: Value, R: Value>(
        name: &str,
        version: &str,
        f: impl Fn(&A) -> R + Send + Sync + 'static,
    ) -> Self {
        Self::new(
            name,
            Self::code_fingerprint_of(version),
            vec![ValueType::of::<A>()],
            vec![ValueType::of::<R>()],
            Arc::new(move |inputs| {
                let a = expect_input::<A>(inputs, 0);
                Ok(vec![Box::new(f(a)) as Box<dyn Any + Send + Sync>])
            }),
        )
    }

    /// A two-input, one-output task from a closure.
    pub fn from_fn2<A: Value, B: Value, R: Value>(
        name: &str,
        version: &str,
        f: impl Fn(&A, &B) -> R + Send + Sync + 'static,
    ) -> Self {
        Self::new(
            name,
            Self::code_fingerprint_of(version),
            vec![ValueType::of::<A>(), ValueType::of::<B>()],
            vec![ValueType::of::<R>()],
            Arc::new(move |inputs| {
                let a = expect_input::<A>(inputs, 0);
                let b = expect_input::<B>(inputs, 1);
                Ok(vec![Box::new(f(a, b)) as Box<dyn Any + Send + Sync>])
            }),
        )
    }

    /// A task over any number of inputs of one type producing one output (for
    /// synthetic graphs in tests and benchmarks).
    pub fn from_fn_slice<A: Value, R: Value>(
        name: &str,
        version: &str,
        arity: usize,
        f: impl Fn(&[&A]) -> R + Send + Sync + 'static,
    ) -> Self {
        Self::new(
            name,
            Self::code_fingerprint_of(version),
            vec![ValueType::of::<A>(); arity],
            vec![ValueType::of::<R>()],
            Arc::new(move |inputs| {
                let values: Vec<&A> = (0..inputs.len())
                    .map(|i| expect_input::<A>(inputs, i))
                    .collect();
                Ok(vec![Box::new(f(&values)) as Box<dyn Any + Send + Sync>])
            }),
        )
    }

    /// The task's registered name (the function name unless renamed).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name as a shared string.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// The name the definition was made with, which [`renamed`](Self::renamed)
    /// copies keep: a `#[task]`'s registered name, by which a remote worker
    /// finds the function (see [`registered_task`]).
    pub fn function_name(&self) -> &str {
        &self.function.function_name
    }

    /// What the task asks of the machine that runs it (remote executors only;
    /// never part of its key).
    pub fn resources(&self) -> &Resources {
        &self.function.resources
    }

    /// The same task asking for `resources` (see [`Resources`]).
    ///
    /// ```
    /// use pipeline_core::resources::Resources;
    /// use pipeline_core::task::TaskDef;
    /// let double = TaskDef::from_fn1("double", "v1", |x: &i64| x * 2)
    ///     .with_resources(Resources::new().cpus(2));
    /// assert_eq!(double.resources().cpu_count(), Some(2));
    /// ```
    pub fn with_resources(self, resources: Resources) -> Self {
        self.rebuilt(|function| function.resources = resources)
    }

    /// The fingerprint of the task's code (of every part of its
    /// [`code`](Self::code) identity).
    pub fn code_fingerprint(&self) -> Fingerprint {
        self.function.code.fingerprint()
    }

    /// What the task's code fingerprint is made of, part by part.
    pub fn code(&self) -> &CodeIdentity {
        &self.function.code
    }

    /// Input types, in parameter order.
    pub fn inputs(&self) -> &[ValueType] {
        &self.function.inputs
    }

    /// Output types, in order (several for a tuple-returning function).
    pub fn outputs(&self) -> &[ValueType] {
        &self.function.outputs
    }

    /// Runs the body on erased inputs.
    pub fn call(&self, inputs: TaskInputs<'_>) -> Result<TaskOutputs, TaskError> {
        (self.function.body)(inputs)
    }

    /// The same task under another name (a function used twice in one graph).
    pub fn renamed(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// The same task with another code identity (as after a code change).
    pub fn with_code_fingerprint(self, code: impl Into<CodeIdentity>) -> Self {
        let code = code.into();
        self.rebuilt(|function| function.code = code)
    }

    /// A copy whose shared parts `change` edits.
    fn rebuilt(self, change: impl FnOnce(&mut Function)) -> Self {
        let mut function = Function {
            function_name: self.function.function_name.clone(),
            code: self.function.code.clone(),
            inputs: self.function.inputs.clone(),
            outputs: self.function.outputs.clone(),
            body: self.function.body.clone(),
            resources: self.function.resources.clone(),
        };
        change(&mut function);
        Self {
            name: self.name,
            function: Arc::new(function),
        }
    }
}

impl fmt::Debug for TaskDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskDef")
            .field("name", &self.name)
            .field("code", &self.function.code)
            .field("inputs", &self.function.inputs)
            .field("outputs", &self.function.outputs)
            .field("resources", &self.function.resources)
            .finish_non_exhaustive()
    }
}

/// Borrows input `index` as a `T`.
///
/// # Panics
/// If the input is missing or of another type: the graph checks rule that out,
/// so this only fires on a bug in a hand-written [`TaskDef`].
pub fn expect_input<'a, T: Value>(inputs: TaskInputs<'a>, index: usize) -> &'a T {
    let value = inputs
        .get(index)
        .unwrap_or_else(|| panic!("task input {index} is missing ({} given)", inputs.len()));
    value
        .downcast_ref::<T>()
        .unwrap_or_else(|| panic!("task input {index} is not a {}", std::any::type_name::<T>()))
}

/// A task registered by `#[task]`, found at run time by name (for configurations
/// that name tasks, such as TOML files).
#[derive(Debug)]
pub struct TaskRegistration {
    name: &'static str,
    module_path: &'static str,
    skippable: bool,
    def: fn() -> TaskDef,
}

impl TaskRegistration {
    /// A registration; `#[task]` calls this in a `static`.
    pub const fn new(
        name: &'static str,
        module_path: &'static str,
        skippable: bool,
        def: fn() -> TaskDef,
    ) -> Self {
        Self {
            name,
            module_path,
            skippable,
            def,
        }
    }

    /// The task's name (the function's name unless `name = "…"` overrides it).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The module that defines the function (`module_path!()` there).
    pub fn module_path(&self) -> &'static str {
        self.module_path
    }

    /// Whether the task was declared `#[task(skippable)]`.
    pub fn skippable(&self) -> bool {
        self.skippable
    }

    /// The task for the runtime (name, code fingerprint, types, body).
    pub fn def(&self) -> TaskDef {
        (self.def)()
    }
}

inventory::collect!(TaskRegistration);

/// Every `#[task]` function linked into the program, in no particular order.
pub fn registered_tasks() -> impl Iterator<Item = &'static TaskRegistration> {
    inventory::iter::<TaskRegistration>.into_iter()
}

/// The registered tasks called `name` (several when two modules register one name).
pub fn registered_tasks_named(name: &str) -> impl Iterator<Item = &'static TaskRegistration> {
    registered_tasks().filter(move |task| task.name == name)
}

/// The task registered as `name`, if exactly one is.
pub fn registered_task(name: &str) -> Option<&'static TaskRegistration> {
    let mut found = registered_tasks_named(name);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

/// The text of a panic payload: what a task (or a value's code) that
/// panicked failed with.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}
