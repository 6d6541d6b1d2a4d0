//! Conversions between the store's records and SQLite column values, and the
//! mapping of SQLite errors to messages that say what to do.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::types::Type;
use rusqlite::{ErrorCode, Row};

use serde::{Deserialize, Serialize};

use crate::code::{CodeIdentity, CodePart, CodeSource};
use crate::fingerprint::Fingerprint;
use crate::job::{Job, JobStatus};
use crate::key::TaskKey;
use crate::store::{
    InputVersion, JobRecord, Owner, ScenarioId, SlotKey, StoreError, SubmissionId, VersionMeta,
    WrittenBy,
};

/// Nanoseconds since the Unix epoch (negative before it).
pub(super) fn time_to_sql(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

/// The inverse of [`time_to_sql`].
pub(super) fn time_from_sql(nanos: i64) -> SystemTime {
    if nanos >= 0 {
        UNIX_EPOCH + Duration::from_nanos(nanos as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(nanos.unsigned_abs())
    }
}

/// A duration in nanoseconds.
pub(super) fn duration_to_sql(duration: Duration) -> i64 {
    i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX)
}

/// The inverse of [`duration_to_sql`].
pub(super) fn duration_from_sql(nanos: i64) -> Duration {
    Duration::from_nanos(nanos.max(0) as u64)
}

/// A 32-byte digest column.
pub(super) fn fingerprint_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Fingerprint> {
    let bytes: Vec<u8> = row.get(index)?;
    fingerprint_from(&bytes).ok_or_else(|| bad_column(index, "a 32-byte digest"))
}

/// An optional 32-byte digest column.
pub(super) fn opt_fingerprint_at(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<Fingerprint>> {
    let bytes: Option<Vec<u8>> = row.get(index)?;
    bytes
        .map(|b| fingerprint_from(&b).ok_or_else(|| bad_column(index, "a 32-byte digest")))
        .transpose()
}

pub(super) fn fingerprint_from(bytes: &[u8]) -> Option<Fingerprint> {
    Some(Fingerprint::from_bytes(bytes.try_into().ok()?))
}

pub(super) fn bad_column(index: usize, expected: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        index,
        Type::Blob,
        format!("expected {expected}").into(),
    )
}

/// Fingerprints packed back to back.
pub(super) fn pack_fingerprints(fingerprints: &[Fingerprint]) -> Vec<u8> {
    fingerprints.iter().flat_map(|f| *f.as_bytes()).collect()
}

/// The inverse of [`pack_fingerprints`].
pub(super) fn unpack_fingerprints(bytes: &[u8]) -> Option<Vec<Fingerprint>> {
    if !bytes.len().is_multiple_of(32) {
        return None;
    }
    bytes.chunks(32).map(fingerprint_from).collect()
}

/// Packs job inputs: per input, the owner's scenario id (0 for a global slot),
/// graph and node names (length-prefixed), version and fingerprint.
pub(super) fn pack_inputs(inputs: &[InputVersion]) -> Vec<u8> {
    let mut out = Vec::with_capacity(inputs.len() * 72);
    for input in inputs {
        let (scenario, graph) = owner_columns(&input.slot.owner);
        out.extend_from_slice(&scenario.to_le_bytes());
        for text in [graph, &*input.slot.node] {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(&input.version.to_le_bytes());
        out.extend_from_slice(input.fingerprint.as_bytes());
    }
    out
}

/// The inverse of [`pack_inputs`].
pub(super) fn unpack_inputs(mut bytes: &[u8]) -> Option<Vec<InputVersion>> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if bytes.len() < n {
            return None;
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Some(head)
    }
    fn text(bytes: &mut &[u8]) -> Option<String> {
        let len = u32::from_le_bytes(take(bytes, 4)?.try_into().ok()?) as usize;
        String::from_utf8(take(bytes, len)?.to_vec()).ok()
    }
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let scenario = i64::from_le_bytes(take(&mut bytes, 8)?.try_into().ok()?);
        let graph = text(&mut bytes)?;
        let node = text(&mut bytes)?;
        let version = u64::from_le_bytes(take(&mut bytes, 8)?.try_into().ok()?);
        let fingerprint = fingerprint_from(take(&mut bytes, 32)?)?;
        out.push(InputVersion {
            slot: SlotKey {
                owner: owner_from(scenario, graph),
                node: Arc::from(node),
            },
            version,
            fingerprint,
            schema: None,
        });
    }
    Some(out)
}

/// The `(scenario, graph)` columns of an owner's slots.
pub(super) fn owner_columns(owner: &Owner) -> (i64, &str) {
    match owner {
        Owner::Scenario(id) => (id.0 as i64, ""),
        Owner::Global(graph) => (0, graph),
    }
}

/// The inverse of [`owner_columns`].
pub(super) fn owner_from(scenario: i64, graph: String) -> Owner {
    if scenario == 0 {
        Owner::Global(Arc::from(graph))
    } else {
        Owner::Scenario(ScenarioId(scenario as u64))
    }
}

/// The `writer` column.
pub(super) fn writer_kind(written_by: &WrittenBy) -> &'static str {
    match written_by {
        WrittenBy::Default => "default",
        WrittenBy::User => "user",
        WrittenBy::FileChange => "file",
        WrittenBy::Task { .. } => "task",
    }
}

/// The columns `version, fingerprint, written_at, writer, task, task_key,
/// submission, reused, schema` starting at `first`, as a version record.
/// `task` names are interned through `intern`.
pub(super) fn version_at(
    row: &Row<'_>,
    first: usize,
    intern: &mut impl FnMut(String) -> Arc<str>,
) -> rusqlite::Result<VersionMeta> {
    let version: i64 = row.get(first)?;
    let fingerprint = fingerprint_at(row, first + 1)?;
    let written_at = time_from_sql(row.get(first + 2)?);
    let writer: String = row.get(first + 3)?;
    let written_by = match writer.as_str() {
        "default" => WrittenBy::Default,
        "user" => WrittenBy::User,
        "file" => WrittenBy::FileChange,
        "task" => WrittenBy::Task {
            task: intern(row.get(first + 4)?),
            key: TaskKey(
                opt_fingerprint_at(row, first + 5)?
                    .ok_or_else(|| bad_column(first + 5, "a task key"))?,
            ),
            submission: SubmissionId(row.get::<_, i64>(first + 6)? as u64),
            reused: row.get(first + 7)?,
        },
        _ => return Err(bad_column(first + 3, "`default`, `user`, `file` or `task`")),
    };
    Ok(VersionMeta {
        version: version as u64,
        fingerprint,
        written_by,
        written_at,
        schema: opt_fingerprint_at(row, first + 8)?,
    })
}

/// What a job's lineage row records beyond its code fingerprint and inputs:
/// what the reason of a later job is found by comparing with.
#[derive(Serialize, Deserialize)]
struct Detail {
    /// The code identity's parts, by name, and its declared variables.
    parts: Vec<(String, [u8; 32])>,
    env_names: Vec<String>,
    /// Each declared variable's value digest (`None`: unset).
    env: Vec<(String, Option<[u8; 32]>)>,
    /// Each input's schema, in parameter order.
    input_schemas: Vec<Option<[u8; 32]>>,
    /// The sources the code parts cover: part, label, short digest.
    sources: Vec<(String, String, u64)>,
}

/// Packs a job's detail (empty when it has none to record).
pub(super) fn pack_detail(job: &JobRecord) -> Vec<u8> {
    let Some(code) = &job.code_identity else {
        return Vec::new();
    };
    let detail = Detail {
        parts: code
            .parts()
            .iter()
            .map(|(part, digest)| (part.as_str().to_owned(), *digest.as_bytes()))
            .collect(),
        env_names: code.env().iter().map(|n| n.to_string()).collect(),
        env: job
            .env
            .iter()
            .map(|(name, digest)| (name.to_string(), digest.map(|d| *d.as_bytes())))
            .collect(),
        input_schemas: job
            .inputs
            .iter()
            .map(|i| i.schema.map(|s| *s.as_bytes()))
            .collect(),
        sources: code
            .sources()
            .iter()
            .map(|s| {
                (
                    s.part().as_str().to_owned(),
                    s.label().to_owned(),
                    s.digest(),
                )
            })
            .collect(),
    };
    let mut out = vec![1u8];
    out.extend(postcard::to_allocvec(&detail).unwrap_or_default());
    out
}

/// Completes `job` with what [`pack_detail`] packed (nothing for rows recorded
/// without detail, or by a format this build does not read).
pub(super) fn unpack_detail(bytes: &[u8], job: &mut JobRecord) {
    let Some((1, rest)) = bytes.split_first() else {
        return;
    };
    let Ok(detail) = postcard::from_bytes::<Detail>(rest) else {
        return;
    };
    let part_named = |name: &str| {
        [
            CodePart::Version,
            CodePart::TaskTokens,
            CodePart::CrateSources,
            CodePart::Dependencies,
            CodePart::Compiler,
        ]
        .into_iter()
        .find(|p| p.as_str() == name)
    };
    let parts = detail
        .parts
        .iter()
        .filter_map(|(name, digest)| Some((part_named(name)?, Fingerprint::from_bytes(*digest))));
    let sources = detail.sources.iter().filter_map(|(part, label, digest)| {
        Some(CodeSource::new(part_named(part)?, label.as_str(), *digest))
    });
    job.code_identity = Some(CodeIdentity::new(parts, detail.env_names).with_sources(sources));
    job.env = detail
        .env
        .into_iter()
        .map(|(name, digest)| (Arc::from(name), digest.map(Fingerprint::from_bytes)))
        .collect();
    for (input, schema) in job.inputs.iter_mut().zip(detail.input_schemas) {
        input.schema = schema.map(Fingerprint::from_bytes);
    }
}

/// The job statuses, by their packed code.
const STATUSES: [JobStatus; 7] = [
    JobStatus::Pending,
    JobStatus::Running,
    JobStatus::Completed,
    JobStatus::Skipped,
    JobStatus::Failed,
    JobStatus::Abandoned,
    JobStatus::Canceled,
];

/// Packs a submission's jobs: per job, the task name (length-prefixed), status
/// code, a flags byte, then the key, start, duration, error, reason (JSON)
/// and remote placement (JSON) when present.
pub(super) fn pack_jobs(jobs: &[Job]) -> Vec<u8> {
    let mut out = Vec::with_capacity(jobs.len() * 64);
    for job in jobs {
        out.extend_from_slice(&(job.task.len() as u32).to_le_bytes());
        out.extend_from_slice(job.task.as_bytes());
        let status = STATUSES.iter().position(|s| *s == job.status).unwrap_or(0);
        out.push(status as u8);
        let flags = u8::from(job.key.is_some())
            | u8::from(job.started_at.is_some()) << 1
            | u8::from(job.duration.is_some()) << 2
            | u8::from(job.error.is_some()) << 3
            | u8::from(job.reused) << 4
            | u8::from(job.reason.is_some()) << 5
            | u8::from(job.remote.is_some()) << 6;
        out.push(flags);
        if let Some(key) = &job.key {
            out.extend_from_slice(key.0.as_bytes());
        }
        if let Some(started) = job.started_at {
            out.extend_from_slice(&time_to_sql(started).to_le_bytes());
        }
        if let Some(duration) = job.duration {
            out.extend_from_slice(&duration_to_sql(duration).to_le_bytes());
        }
        if let Some(error) = &job.error {
            out.extend_from_slice(&(error.len() as u32).to_le_bytes());
            out.extend_from_slice(error.as_bytes());
        }
        if let Some(reason) = &job.reason {
            let json = serde_json::to_vec(reason).unwrap_or_default();
            out.extend_from_slice(&(json.len() as u32).to_le_bytes());
            out.extend_from_slice(&json);
        }
        if let Some(remote) = &job.remote {
            let json = serde_json::to_vec(remote).unwrap_or_default();
            out.extend_from_slice(&(json.len() as u32).to_le_bytes());
            out.extend_from_slice(&json);
        }
    }
    out
}

/// The inverse of [`pack_jobs`]; task names are interned through `intern`.
pub(super) fn unpack_jobs(
    mut bytes: &[u8],
    intern: &mut impl FnMut(String) -> Arc<str>,
) -> Option<Vec<Job>> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if bytes.len() < n {
            return None;
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Some(head)
    }
    fn text(bytes: &mut &[u8]) -> Option<String> {
        let len = u32::from_le_bytes(take(bytes, 4)?.try_into().ok()?) as usize;
        String::from_utf8(take(bytes, len)?.to_vec()).ok()
    }
    fn int(bytes: &mut &[u8]) -> Option<i64> {
        Some(i64::from_le_bytes(take(bytes, 8)?.try_into().ok()?))
    }
    let mut jobs = Vec::new();
    while !bytes.is_empty() {
        let task = intern(text(&mut bytes)?);
        let status = *STATUSES.get(usize::from(take(&mut bytes, 1)?[0]))?;
        let flags = take(&mut bytes, 1)?[0];
        let key = if flags & 1 != 0 {
            Some(TaskKey(fingerprint_from(take(&mut bytes, 32)?)?))
        } else {
            None
        };
        let started_at = if flags & 2 != 0 {
            Some(time_from_sql(int(&mut bytes)?))
        } else {
            None
        };
        let duration = if flags & 4 != 0 {
            Some(duration_from_sql(int(&mut bytes)?))
        } else {
            None
        };
        let error = if flags & 8 != 0 {
            Some(text(&mut bytes)?.into_boxed_str())
        } else {
            None
        };
        // A reason this build cannot read (a newer kind) reads as none.
        let reason = if flags & 32 != 0 {
            serde_json::from_str(&text(&mut bytes)?).ok()
        } else {
            None
        };
        // Where a remote executor ran it.
        let remote = if flags & 64 != 0 {
            serde_json::from_str(&text(&mut bytes)?).ok().map(Box::new)
        } else {
            None
        };
        jobs.push(Job {
            task,
            status,
            key,
            started_at,
            duration,
            error,
            reused: flags & 16 != 0,
            reason,
            remote,
        });
    }
    Some(jobs)
}

/// Names separated by NUL bytes (a directory's entries).
pub(super) fn pack_names(names: &[Box<str>]) -> Vec<u8> {
    names.join("\0").into_bytes()
}

/// The inverse of [`pack_names`].
pub(super) fn unpack_names(bytes: &[u8]) -> std::sync::Arc<[Box<str>]> {
    if bytes.is_empty() {
        return Arc::from(Vec::new());
    }
    String::from_utf8_lossy(bytes)
        .split('\0')
        .map(Box::from)
        .collect()
}

/// A scenario id column.
pub(super) fn scenario_at(row: &Row<'_>, index: usize) -> rusqlite::Result<ScenarioId> {
    Ok(ScenarioId(row.get::<_, i64>(index)? as u64))
}

/// Turns an SQLite error into a store error that names the database and, for
/// the failures people can act on, says what to do.
pub(super) fn db_error(path: &Path, action: &str, error: rusqlite::Error) -> StoreError {
    let hint = match error.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => {
            "; the disk is full: free some space (or run gc), then submit again"
        }
        Some(ErrorCode::ReadOnly)
        | Some(ErrorCode::CannotOpen)
        | Some(ErrorCode::PermissionDenied) => {
            "; the store must be on a writable file system: fix the permissions or \
             set PIPELINE_STORE to a writable directory"
        }
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
            "; another process kept the database locked for too long: try again"
        }
        Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
            "; the database file is damaged: restore it from a backup, or delete the \
             store directory to start afresh"
        }
        Some(ErrorCode::SystemIoFailure) => "; the file system failed to read or write",
        _ => "",
    };
    StoreError::Database {
        path: path.to_owned(),
        action: action.to_owned(),
        message: format!("{error}{hint}"),
    }
}

/// Whether an SQLite error is a uniqueness violation (two writers, one version).
pub(super) fn is_constraint(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_to_the_nanosecond() {
        let now = SystemTime::now();
        assert_eq!(time_from_sql(time_to_sql(now)), now);
        let before = UNIX_EPOCH - Duration::from_nanos(5);
        assert_eq!(time_from_sql(time_to_sql(before)), before);
    }

    #[test]
    fn packed_jobs_round_trip() {
        use crate::reason::Reason;
        let jobs = vec![
            Job {
                task: Arc::from("a"),
                status: JobStatus::Failed,
                key: Some(TaskKey(Fingerprint::of_bytes(b"k"))),
                started_at: Some(SystemTime::now()),
                duration: Some(Duration::from_millis(3)),
                error: Some("boom".into()),
                reused: false,
                reason: Some(Reason::FirstRun),
                remote: Some(Box::new(crate::job::RemoteJob {
                    executor: "slurm".into(),
                    id: "4123".into(),
                    attempt: 2,
                    host: Some("node07".into()),
                    adopted: true,
                    peak_rss: Some(412 << 20),
                })),
            },
            Job {
                task: Arc::from("b"),
                status: JobStatus::Skipped,
                key: None,
                started_at: None,
                duration: None,
                error: None,
                reused: true,
                reason: None,
                remote: None,
            },
        ];
        let mut intern = |s: String| Arc::from(s);
        assert_eq!(unpack_jobs(&pack_jobs(&jobs), &mut intern), Some(jobs));
    }

    #[test]
    fn remote_jobs_recorded_before_peak_memory_was_measured_still_read() {
        // A completed job with only its remote placement, as a build without
        // `peak_rss` packed it.
        let json = br#"{"executor":"slurm","id":"12","attempt":1,"host":"vm","adopted":false}"#;
        let mut packed = Vec::new();
        packed.extend_from_slice(&1u32.to_le_bytes());
        packed.push(b'a');
        packed.push(2); // completed
        packed.push(64); // remote only
        packed.extend_from_slice(&(json.len() as u32).to_le_bytes());
        packed.extend_from_slice(json);
        let jobs = unpack_jobs(&packed, &mut |s: String| Arc::from(s)).unwrap();
        let remote = jobs[0]
            .remote
            .as_deref()
            .expect("the placement still reads");
        assert_eq!((remote.id.as_str(), remote.peak_rss), ("12", None));
    }

    #[test]
    fn packed_inputs_round_trip() {
        let fp = Fingerprint::of_bytes(b"x");
        let inputs = vec![
            InputVersion {
                slot: SlotKey {
                    owner: Owner::Scenario(ScenarioId(3)),
                    node: Arc::from("prices"),
                },
                version: 7,
                fingerprint: fp,
                schema: None,
            },
            InputVersion {
                slot: SlotKey {
                    owner: Owner::Global(Arc::from("pricing")),
                    node: Arc::from("rate"),
                },
                version: 1,
                fingerprint: fp,
                schema: None,
            },
        ];
        assert_eq!(unpack_inputs(&pack_inputs(&inputs)), Some(inputs));
        assert_eq!(unpack_inputs(&[0; 47]), None);
        assert_eq!(
            unpack_fingerprints(&pack_fingerprints(&[fp, fp])),
            Some(vec![fp, fp])
        );
    }
}
