//! What every command works with: the store (`--store` / `PIPELINE_STORE`),
//! the scenario types the program knows (its own, or a `--config` file's),
//! and how a scenario named on the command line is found.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::args::Globals;
use super::error::CliError;
use super::kind::ScenarioKind;
use super::output::Output;
use crate::config::TypeRegistry;
use crate::runtime::Runtime;
use crate::scenario::Scenario;
use crate::store::{DEFAULT_DIR, ScenarioId, ScenarioMeta, SqliteOptions};

/// The database file that tells a store directory from any other.
const STORE_DB: &str = "pipeline.db";

/// What a command works with; user commands registered with
/// [`Cli::commands`](super::Cli::commands) receive it.
pub struct Context<'a> {
    pub(crate) program: &'a str,
    pub(crate) globals: &'a Globals,
    pub(crate) kinds: &'a [ScenarioKind],
    pub(crate) types: &'a TypeRegistry,
    pub(crate) output: &'a Output,
}

impl Context<'_> {
    /// The program's name, as commands refer to it in messages.
    pub fn program(&self) -> &str {
        self.program
    }

    /// The store directory: `--store`, else `PIPELINE_STORE`, else
    /// `.pipeline` (also where a store named by an `s3://` URL keeps its
    /// registry).
    pub fn store_dir(&self) -> PathBuf {
        self.explicit_store()
            .map_or_else(|| PathBuf::from(DEFAULT_DIR), Path::to_path_buf)
    }

    /// The store directory if `--store` or `PIPELINE_STORE` named one
    /// (`.pipeline` if they named an `s3://` URL: the registry stays there).
    pub fn explicit_store(&self) -> Option<&Path> {
        let store = self
            .globals
            .store
            .as_deref()
            .filter(|dir| !dir.as_os_str().is_empty())?;
        match store.to_str() {
            Some(url) if url.starts_with("s3://") => Some(Path::new(DEFAULT_DIR)),
            _ => Some(store),
        }
    }

    /// The object store that keeps the store's values too, as `--objects`
    /// (or `PIPELINE_OBJECTS`), or `--store s3://bucket/prefix`, name it;
    /// `None` when neither does (the store may still record one, which it
    /// then uses).
    ///
    /// # Errors
    /// Both name one, and not the same; or `--store` names an `s3://` URL in
    /// a build without the `objects` feature (exit code 2).
    pub fn objects_url(&self) -> Result<Option<String>, CliError> {
        let store = self.globals.store.as_deref().and_then(Path::to_str);
        #[cfg(feature = "objects")]
        let objects = self.globals.objects.as_deref();
        #[cfg(not(feature = "objects"))]
        let objects = None;
        let (_, url) = crate::store::locate(store, objects).map_err(CliError::input)?;
        Ok(url)
    }

    /// The scenario types the program knows (a `--config` file's, when given).
    pub fn kinds(&self) -> &[ScenarioKind] {
        self.kinds
    }

    /// Whether the command given has `--json` set.
    pub fn json(&self) -> bool {
        self.output.json
    }

    /// Prints the command's one JSON object on stdout (a later call prints
    /// nothing; when the command fails after printing it, no error object
    /// follows).
    pub fn print_json(&self, value: serde_json::Value) {
        self.output.json_object(value);
    }

    /// The node types a TOML configuration may name.
    pub fn types(&self) -> &TypeRegistry {
        self.types
    }

    /// Opens (creating if needed) the store, with `--lock-timeout`,
    /// `--frame-memory` and a message on stderr when the process waits for
    /// another.
    ///
    /// # Errors
    /// If the store cannot be opened or is not a store (exit code 2).
    pub fn open_runtime(&self) -> Result<Runtime, CliError> {
        self.open_runtime_at(&self.store_dir())
    }

    /// [`open_runtime`](Self::open_runtime) on another directory.
    ///
    /// # Errors
    /// As [`open_runtime`](Self::open_runtime).
    pub fn open_runtime_at(&self, dir: &Path) -> Result<Runtime, CliError> {
        if dir.exists() && !dir.is_dir() {
            return Err(CliError::input(format!(
                "store {} is a file, not a store's directory; name a directory with --store \
                 (a new one is created)",
                dir.display()
            )));
        }
        let program = self.program.to_owned();
        let options = SqliteOptions::new()
            .lock_timeout(self.lock_timeout()?)
            .on_lock_wait(move |wait| eprintln!("{program}: {wait}"));
        let objects = self.objects_url()?;
        #[cfg(feature = "objects")]
        let options = match &objects {
            Some(url) => options.object_store(
                crate::objects::ObjectStore::open(url)
                    .map_err(|e| CliError::input(format!("--objects {url}: {e}")))?,
            ),
            None => options,
        };
        #[cfg(not(feature = "objects"))]
        let _ = objects;
        // Processes creating one store at once can find its fresh database
        // locked while another switches it to write-ahead logging: they
        // create it one at a time.
        let _creating = match dir.join(STORE_DB).is_file() {
            true => None,
            false => Some(creation_lock(dir)?),
        };
        let memory = self
            .globals
            .frame_memory
            .map_or(crate::memory::DEFAULT_VALUE_MEMORY, |mib| {
                mib.saturating_mul(1 << 20)
            });
        Runtime::builder()
            .frame_memory(memory)
            .open_with(dir, options)
            .map_err(|e| CliError::input(e.to_string()))
    }

    /// Opens the store for a command that only reads: a directory that holds
    /// no store is an error, not a new store.
    pub(crate) fn open_existing_runtime(&self) -> Result<Runtime, CliError> {
        let dir = self.store_dir();
        if !dir.join(STORE_DB).is_file() {
            return Err(CliError::input(format!(
                "no store in {}: run `{} run` to create one, or name another with --store DIR",
                dir.display(),
                self.program
            )));
        }
        self.open_runtime_at(&dir)
    }

    fn lock_timeout(&self) -> Result<Option<Duration>, CliError> {
        match self.globals.lock_timeout {
            None => Ok(None),
            Some(seconds) if seconds.is_finite() && seconds >= 0.0 => {
                Ok(Some(Duration::from_secs_f64(seconds)))
            }
            Some(seconds) => Err(CliError::input(format!(
                "--lock-timeout {seconds}: give a number of seconds >= 0"
            ))),
        }
    }

    /// The scenario type a new scenario gets: the one `--type` names, else
    /// the only one the program knows.
    ///
    /// # Errors
    /// An unknown `--type`, or several types and no `--type` (exit code 2).
    pub fn kind(&self) -> Result<&ScenarioKind, CliError> {
        if let Some(name) = &self.globals.scenario_type {
            return self.kind_named(name).ok_or_else(|| {
                CliError::input(format!(
                    "--type {name}: unknown scenario type; known types: {}",
                    self.kind_names()
                ))
            });
        }
        match self.kinds {
            [only] => Ok(only),
            [] => Err(CliError::input(
                "this program knows no scenario type: register one with Cli::scenario",
            )),
            _ => Err(CliError::input(format!(
                "this program knows several scenario types ({}): choose one with --type",
                self.kind_names()
            ))),
        }
    }

    pub(crate) fn kind_named(&self, name: &str) -> Option<&ScenarioKind> {
        self.kinds.iter().find(|k| k.name() == name)
    }

    fn kind_names(&self) -> String {
        let names: Vec<&str> = self.kinds.iter().map(ScenarioKind::name).collect();
        names.join(", ")
    }

    /// The newest scenario called `which` (a name, or `#ID`) of a type the
    /// program knows (the `--type` one, when given), if any.
    ///
    /// # Errors
    /// A scenario of a type the program does not know, several scenarios of
    /// different types so named and no `--type`, or a store failure.
    pub fn find_scenario(
        &self,
        runtime: &Runtime,
        which: &str,
    ) -> Result<Option<(Scenario, &ScenarioKind)>, CliError> {
        let all = runtime.scenarios()?;
        let by_id = which
            .strip_prefix('#')
            .and_then(|digits| digits.parse::<u64>().ok())
            .map(ScenarioId);
        let named: Vec<&ScenarioMeta> = all
            .iter()
            .rev()
            .filter(|m| match by_id {
                Some(id) => m.id == id,
                None => m.name == which,
            })
            .filter(|m| {
                self.globals
                    .scenario_type
                    .as_ref()
                    .is_none_or(|t| *t == m.graph)
            })
            .collect();
        let known: Vec<&ScenarioMeta> = named
            .iter()
            .copied()
            .filter(|m| self.kind_named(&m.graph).is_some())
            .collect();
        let Some(newest) = known.first() else {
            return match named.first() {
                None => Ok(None),
                Some(other) => Err(CliError::input(format!(
                    "scenario `{which}` ({}) is of type `{}`, which this program does not know \
                     (it knows {}); give the TOML file that declares it with --config",
                    other.id,
                    other.graph,
                    self.kind_names()
                ))),
            };
        };
        if let Some(other) = known.iter().find(|m| m.graph != newest.graph) {
            return Err(CliError::input(format!(
                "several scenarios are called `{which}`, of types `{}` and `{}`: choose one \
                 with --type",
                newest.graph, other.graph
            )));
        }
        let kind = self.kind_named(&newest.graph).expect("filtered above");
        let scenario = runtime.open_scenario(kind.graph().clone(), newest.id)?;
        Ok(Some((scenario, kind)))
    }

    /// The existing scenario called `which` (see [`find_scenario`](Self::find_scenario)).
    ///
    /// # Errors
    /// If there is none (exit code 2), or as `find_scenario`.
    pub fn scenario(
        &self,
        runtime: &Runtime,
        which: &str,
    ) -> Result<(Scenario, &ScenarioKind), CliError> {
        self.find_scenario(runtime, which)?.ok_or_else(|| {
            CliError::input(format!(
                "no scenario `{which}` in {}; `{} run --scenario {which}` creates it",
                self.store_dir().display(),
                self.program
            ))
        })
    }

    /// The scenario called `which`, created (of type [`kind`](Self::kind))
    /// if there is none. Two processes creating one scenario at once create
    /// it once.
    pub(crate) fn scenario_or_create(
        &self,
        runtime: &Runtime,
        which: &str,
        kind: Option<&ScenarioKind>,
    ) -> Result<(Scenario, ScenarioKind), CliError> {
        if let Some((scenario, kind)) = self.find_scenario(runtime, which)? {
            return Ok((scenario, kind.clone()));
        }
        let kind = match kind {
            Some(kind) => kind,
            None => self.kind()?,
        };
        if which.starts_with('#') {
            return Err(CliError::input(format!(
                "no scenario {which} in {}",
                self.store_dir().display()
            )));
        }
        check_new_name(which)?;
        let _creating = self.creation_lock()?;
        if let Some((scenario, kind)) = self.find_scenario(runtime, which)? {
            return Ok((scenario, kind.clone()));
        }
        let others: Vec<String> = runtime
            .scenarios()?
            .iter()
            .filter(|m| m.graph == kind.name())
            .map(|m| format!("`{}`", m.name))
            .collect();
        let scenario = runtime.create_scenario(kind.graph().clone(), which)?;
        // A misspelled name creates a scenario: say so where others exist.
        if !others.is_empty() {
            eprintln!(
                "note: created scenario `{which}` ({}), as none of that name existed; \
                 the store's other `{}` scenarios: {}",
                scenario.id(),
                kind.name(),
                others.join(", ")
            );
        }
        Ok((scenario, kind.clone()))
    }

    /// Serializes the creation of scenarios by this command line across
    /// processes.
    pub(crate) fn creation_lock(&self) -> Result<std::fs::File, CliError> {
        creation_lock(&self.store_dir())
    }
}

/// Refuses a name no scenario may take: an empty one, and one starting
/// with `#`, which commands read as a scenario id (`#2`).
pub(crate) fn check_new_name(name: &str) -> Result<(), CliError> {
    if name.trim().is_empty() {
        return Err(CliError::input(
            "a scenario name cannot be empty: give one, for example `q1`",
        ));
    }
    if name.starts_with('#') {
        return Err(CliError::input(format!(
            "a scenario name cannot start with `#`: commands read `{name}` as a scenario id"
        )));
    }
    Ok(())
}

/// Takes the command line's lock on creating things in the store in `dir`
/// (a file in its `locks/` directory), held until the file is dropped.
fn creation_lock(dir: &Path) -> Result<std::fs::File, CliError> {
    let locks = dir.join("locks");
    let path = locks.join("cli-create.lock");
    std::fs::create_dir_all(&locks)
        .and_then(|()| {
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
        })
        .and_then(|file| file.lock().map(|()| file))
        .map_err(|e| CliError::input(format!("cannot lock {}: {e}", path.display())))
}
