//! What happened: every version of a data node (when, which value, how big,
//! written by whom), and every submission of a scenario with its jobs (status,
//! start, end, duration, error), as text and as JSON.
//!
//! ```
//! use pipeline_core::{Runtime};
//! use pipeline_core::graph::{GraphBuilder, NodeSpec, TaskSpec};
//! use pipeline_core::task::TaskDef;
//! let graph = GraphBuilder::new("g")
//!     .node(NodeSpec::new::<i64>("x").with_default(1))
//!     .node(NodeSpec::new::<i64>("y"))
//!     .task(TaskSpec::new(TaskDef::from_fn1("inc", "1", |x: &i64| x + 1))
//!         .inputs(["x"]).outputs(["y"]).skippable(true))
//!     .build()?;
//! let scenario = Runtime::in_memory().create_scenario(graph, "s")?;
//! scenario.submit()?;
//! scenario.node::<i64>("x")?.write(5)?;
//! scenario.submit()?;
//! let history = scenario.node_history("y")?;
//! assert_eq!(history.len(), 2);
//! assert_eq!(history[1].size, Some(8));
//! assert!(history[1].to_string().contains("task `inc`"));
//! let jobs = scenario.job_history()?;
//! assert_eq!(jobs.submissions.len(), 2);
//! assert!(jobs.to_string().contains("inc  completed"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value as Json, json};

use crate::error::Result;
use crate::fingerprint::Fingerprint;
use crate::job::{Job, RemoteJob, Submission};
use crate::reason::Reason;
use crate::scenario_state::ScenarioState;
use crate::store::{Owner, SlotKey, WrittenBy};

/// One version of a data node, as its history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// The version number (1 for the first).
    pub version: u64,
    /// The value's fingerprint.
    pub fingerprint: Fingerprint,
    /// When it was written.
    pub written_at: SystemTime,
    /// The size of the value's encoding in bytes, if the store still has it.
    pub size: Option<u64>,
    /// Who wrote it: the node's default, a user, or a job.
    pub written_by: WrittenBy,
}

impl VersionRecord {
    /// The record as JSON.
    pub fn to_json(&self) -> Json {
        json!({
            "version": self.version,
            "fingerprint": self.fingerprint.to_hex(),
            "written_at": time_json(self.written_at),
            "size": self.size,
            "written_by": written_by_json(&self.written_by),
        })
    }
}

impl fmt::Display for VersionRecord {
    /// `v2  2025-03-01 10:00:00.000Z  a1b2c3d4e5f6  8 B  task `inc` (submission #2)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "v{}  {}  {}  {}  {}",
            self.version,
            utc(self.written_at),
            self.fingerprint.short(),
            self.size.map_or_else(|| "(value gone)".to_owned(), bytes),
            self.written_by.describe()
        )
    }
}

/// Every submission of a scenario with its jobs, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct JobHistory {
    /// The submissions.
    pub submissions: Vec<Submission>,
}

impl JobHistory {
    /// The history as JSON: a list of submissions, each with its jobs.
    pub fn to_json(&self) -> Json {
        Json::Array(self.submissions.iter().map(submission_json).collect())
    }

    /// What [`Display`](fmt::Display) writes, each job's error through
    /// `error` (the command line shows the first line of a long one).
    pub(crate) fn write_text(
        &self,
        f: &mut dyn fmt::Write,
        error: &dyn for<'e> Fn(&'e str) -> Cow<'e, str>,
    ) -> fmt::Result {
        for submission in &self.submissions {
            writeln!(
                f,
                "submission {}  {}  started {}  took {}",
                submission.id,
                submission.target,
                utc(submission.started_at),
                seconds(submission.duration)
            )?;
            let width = submission
                .jobs
                .iter()
                .map(|j| j.task.len())
                .max()
                .unwrap_or(0);
            for job in &submission.jobs {
                write!(f, "  {:<width$}  {:<9}", job.task, job.status.as_str())?;
                if let Some(start) = job.started_at {
                    write!(f, "  {}", utc(start))?;
                }
                if let Some(duration) = job.duration {
                    write!(f, "  {}", seconds(duration))?;
                }
                if let Some(reason) = &job.reason {
                    write!(f, "  {reason}")?;
                } else if job.reused {
                    f.write_str("  (reused from an identical job)")?;
                }
                if let Some(text) = &job.error {
                    write!(f, "  error: {}", error(text))?;
                }
                if let Some(remote) = &job.remote {
                    write!(f, "  ({remote})")?;
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for JobHistory {
    /// One block per submission: a header line, then one line per job with its
    /// status, start, duration and error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_text(f, &|error| Cow::Borrowed(error))
    }
}

impl fmt::Display for RemoteJob {
    /// `slurm job 4123 on node07, attempt 2, adopted, peak RSS 393.0 MiB`
    /// (host, `adopted` and the peak only where known or true).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} job {}", self.executor, self.id)?;
        if let Some(host) = &self.host {
            write!(f, " on {host}")?;
        }
        write!(f, ", attempt {}", self.attempt)?;
        if self.adopted {
            f.write_str(", adopted")?;
        }
        if let Some(peak) = self.peak_rss {
            write!(f, ", peak RSS {}", bytes(peak))?;
        }
        Ok(())
    }
}

/// Every version of a data node, oldest first, with sizes, without loading
/// any value.
pub(crate) fn node_history(scenario: &ScenarioState, node: &str) -> Result<Vec<VersionRecord>> {
    let id = scenario.node_id(node)?;
    let value_type = scenario.graph().node(id).value_type();
    let store = &scenario.runtime().store;
    store
        .history(scenario.slot(id))?
        .into_iter()
        .map(|meta| {
            Ok(VersionRecord {
                size: store.value_size(&meta.fingerprint, &value_type)?,
                version: meta.version,
                fingerprint: meta.fingerprint,
                written_at: meta.written_at,
                written_by: meta.written_by,
            })
        })
        .collect()
}

/// Every submission of this scenario with its jobs, oldest first.
pub(crate) fn job_history(scenario: &ScenarioState) -> Result<JobHistory> {
    Ok(JobHistory {
        submissions: scenario.runtime().store.submissions(scenario.id())?,
    })
}

pub(crate) fn written_by_json(written_by: &WrittenBy) -> Json {
    serde_json::to_value(written_by).unwrap_or(Json::Null)
}

pub(crate) fn slot_json(slot: &SlotKey) -> Json {
    match &slot.owner {
        Owner::Scenario(id) => json!({ "node": &*slot.node, "scenario": id.0 }),
        Owner::Global(graph) => json!({ "node": &*slot.node, "global": &**graph }),
    }
}

fn submission_json(submission: &Submission) -> Json {
    json!({
        "id": submission.id.0,
        "scenario": submission.scenario.0,
        "target": submission.target,
        "started_at": time_json(submission.started_at),
        "duration_s": submission.duration.as_secs_f64(),
        "jobs": submission.jobs.iter().map(job_json).collect::<Vec<_>>(),
    })
}

fn job_json(job: &Job) -> Json {
    json!({
        "task": &*job.task,
        "status": job.status.as_str(),
        "key": job.key.map(|k| k.0.to_hex()),
        "started_at": job.started_at.map(time_json),
        "ended_at": job.ended_at().map(time_json),
        "duration_s": job.duration.map(|d| d.as_secs_f64()),
        "error": job.error.as_deref(),
        "reused": job.reused,
        "reason": job.reason.as_ref().map(Reason::to_json),
        "remote": job.remote.as_deref(),
    })
}

/// A time as an RFC 3339 UTC string.
pub(crate) fn time_json(time: SystemTime) -> Json {
    Json::String(rfc3339(time))
}

/// `2025-03-01T10:00:00.123456789Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let (date, clock, nanos) = civil(time);
    format!("{date}T{clock}.{nanos:09}Z")
}

/// `2025-03-01 10:00:00.123Z`, for people.
pub(crate) fn utc(time: SystemTime) -> String {
    let (date, clock, nanos) = civil(time);
    format!("{date} {clock}.{:03}Z", nanos / 1_000_000)
}

/// Date, time of day and nanoseconds of a time in UTC (proleptic Gregorian).
fn civil(time: SystemTime) -> (String, String, u32) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60),
        since.subsec_nanos(),
    )
}

/// `12 B`, `3.4 KiB`, `1.2 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `0.012 s`.
fn seconds(duration: Duration) -> String {
    format!("{:.3} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_utc_dates() {
        let t = UNIX_EPOCH + Duration::new(951_782_400 + 3_661, 5_000_000); // 2000-02-29 01:01:01
        assert_eq!(utc(t), "2000-02-29 01:01:01.005Z");
        assert_eq!(rfc3339(t), "2000-02-29T01:01:01.005000000Z");
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01 00:00:00.000Z");
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(bytes(8), "8 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn a_remote_job_prints_where_it_ran_and_its_peak_memory() {
        let mut remote = RemoteJob {
            executor: "slurm".into(),
            id: "4123".into(),
            attempt: 2,
            host: Some("node07".into()),
            adopted: true,
            peak_rss: Some(393 << 20),
        };
        assert_eq!(
            remote.to_string(),
            "slurm job 4123 on node07, attempt 2, adopted, peak RSS 393.0 MiB"
        );
        (remote.host, remote.adopted, remote.peak_rss) = (None, false, None);
        assert_eq!(remote.to_string(), "slurm job 4123, attempt 2");
    }
}
