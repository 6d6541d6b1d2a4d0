//! Taipy's unique sections, as `Config.backup` writes them:
//!
//! - `[JOB]`: `mode` and `max_nb_of_workers` set how many tasks run at once
//!   ([`JobSettings`]); other keys are accepted and not used.
//! - `[TAIPY]`, `[CORE]` (`root_folder`, `storage_folder`,
//!   `taipy_storage_folder`, `repository_type`, `read_entity_retry`, `mode`,
//!   `version_number`, `force`, `core_version`, …) and `[VERSION_MIGRATION]`:
//!   accepted and not used. Where values are stored is the store's business
//!   (`Runtime::open(dir)`); versions are told apart by code and schema
//!   fingerprints, so there is nothing to migrate by hand.
//!
//! Accepted values are still checked: a malformed typed string
//! (`"two:int"`) is an error with its line.
//!
//! Also the names of Taipy's own properties of data nodes, tasks and scenarios,
//! which are accepted and not used.

use toml::de::DeTable;

use super::reader::Reader;

/// How a configuration asks for tasks to be run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct JobSettings {
    /// At most this many tasks at once, if the file says.
    pub(crate) max_workers: Option<usize>,
}

/// Taipy's default `max_nb_of_workers` in standalone mode.
const TAIPY_STANDALONE_WORKERS: usize = 2;

/// `[JOB]`: `max_nb_of_workers = "4:int"` runs at most four tasks at once. Without
/// it, `mode = "development"` runs one task at a time (Taipy runs jobs
/// synchronously in that mode) and `mode = "standalone"` runs two (Taipy's
/// default number of workers).
pub(crate) fn job(reader: &mut Reader<'_>, table: &DeTable<'_>) -> JobSettings {
    let mut workers = None;
    let mut mode = None;
    for (key, value) in Reader::entries(table) {
        if !reader.reads(key, value, &["mode", "max_nb_of_workers"], "[JOB]") {
            continue;
        }
        if key.get_ref() == "mode" {
            match reader.string(value, "`mode`").as_deref() {
                Some("development") => mode = Some(1),
                Some("standalone") => mode = Some(TAIPY_STANDALONE_WORKERS),
                Some(other) => reader.error(
                    value.span(),
                    format!("unknown job mode `{other}`: use \"development\" (one task at a time) or \"standalone\" (`max_nb_of_workers` at a time)"),
                ),
                None => {}
            }
            continue;
        }
        match reader.integer(value, "`max_nb_of_workers`") {
            Some(n) if n >= 1 => workers = Some(usize::try_from(n).unwrap_or(usize::MAX)),
            Some(n) => reader.error(
                value.span(),
                format!("`max_nb_of_workers` must be at least 1, found {n}"),
            ),
            None => {}
        }
    }
    JobSettings {
        max_workers: workers.or(mode),
    }
}

/// `[TAIPY]`, `[CORE]`, `[VERSION_MIGRATION]`: every key accepted, values checked.
pub(crate) fn accepted(reader: &mut Reader<'_>, table: &DeTable<'_>) {
    for (_, value) in Reader::entries(table) {
        reader.ignored(value);
    }
}

/// Taipy's own data node properties (by storage type), accepted and not used.
/// Listed so that none is mistaken for a typo of a key that is read.
pub(crate) const TAIPY_NODE_KEYS: &[&str] = &[
    "storage_type",
    "validity_period",
    "description",
    "path",
    "default_path",
    "exposed_type",
    "has_header",
    "encoding",
    "sheet_name",
    "encoder",
    "decoder",
    "read_fct",
    "read_fct_args",
    "write_fct",
    "write_fct_args",
    "db_name",
    "db_engine",
    "db_username",
    "db_password",
    "db_host",
    "db_port",
    "db_driver",
    "db_extra_args",
    "sqlite_folder_path",
    "sqlite_file_extension",
    "table_name",
    "read_query",
    "write_query_builder",
    "append_query_builder",
    "collection_name",
    "custom_document",
    "engine",
    "compression",
    "read_kwargs",
    "write_kwargs",
    "aws_access_key",
    "aws_secret_access_key",
    "aws_s3_bucket_name",
    "aws_s3_object_key",
    "aws_region",
    "aws_s3_client_parameters",
    "aws_s3_get_object_parameters",
    "aws_s3_put_object_parameters",
];
pub(crate) const TAIPY_TASK_KEYS: &[&str] = &["description"];
pub(crate) const TAIPY_SCENARIO_KEYS: &[&str] =
    &["comparators", "frequency", "description", "owner"];
