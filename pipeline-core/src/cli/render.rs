//! How the command line shows values and jobs: as text for people, as JSON
//! for scripts.

use std::any::Any;
use std::borrow::Cow;

use serde_json::{Value as Json, json};

use super::error::CliError;
use crate::job::{Job, JobStatus, Submission};
use crate::value::ValueType;

/// How many rows of a data frame the command line shows by default.
pub const DEFAULT_ROWS: usize = 10;

/// A value as JSON: its JSON form (see [`Value::to_json`](crate::Value::to_json));
/// a data frame as `{"columns", "row_count", "rows"}` with at most `rows`
/// rows (all for `None`); else its rendering as a string; else `null`.
///
/// # Errors
/// If a data frame's query fails.
pub fn value_json(
    value_type: ValueType,
    value: &(dyn Any + Send + Sync),
    rows: Option<usize>,
) -> Result<Json, CliError> {
    #[cfg(feature = "polars")]
    if let Some(frame) = value_type.as_lazy_frame(value) {
        return super::frames::frame_json(&frame, rows)
            .map_err(|e| CliError::failed(format!("cannot read the data frame: {e}")));
    }
    let _ = rows;
    Ok(value_type
        .to_json(value)
        .or_else(|| value_type.render(value).map(Json::String))
        .unwrap_or(Json::Null))
}

/// A value as text for people: its text form (`1600`, `data/x.csv`); a data
/// frame as a table of its first `rows` rows; else its rendering; else
/// `None`.
///
/// # Errors
/// If a data frame's query fails.
pub fn value_text(
    value_type: ValueType,
    value: &(dyn Any + Send + Sync),
    rows: usize,
) -> Result<Option<String>, CliError> {
    #[cfg(feature = "polars")]
    if let Some(frame) = value_type.as_lazy_frame(value) {
        return super::frames::frame_table(&frame, rows)
            .map(Some)
            .map_err(|e| CliError::failed(format!("cannot read the data frame: {e}")));
    }
    let _ = rows;
    Ok(value_type
        .to_text(value)
        .or_else(|| value_type.render(value)))
}

/// Why a job ran or was skipped, for people: its [`Reason`](crate::Reason),
/// then the error of a job that failed; a job never decided (abandoned,
/// canceled) says why it did not run. `None` where the record tells nothing.
pub fn job_reason(job: &Job) -> Option<String> {
    match (&job.reason, job.error_text()) {
        (Some(reason), Some(error)) => Some(format!("{reason}; {error}")),
        (Some(reason), None) => Some(reason.to_string()),
        (None, Some(error)) => Some(error.to_owned()),
        (None, None) => None,
    }
}

/// A job as JSON: `task`, `status`, `seconds`, `reused`, `reason` (the
/// [`Reason`](crate::Reason)'s JSON form, `{"kind": …}`, or `null`),
/// `reason_text` (the reason as the table shows it, or `null`), `remote`
/// (where a remote executor ran it: [`RemoteJob`](crate::RemoteJob)) for a
/// job that ran as a Slurm job, and
/// `error` for a job that failed, was abandoned or canceled.
pub fn job_json(job: &Job) -> Json {
    let mut entry = json!({
        "task": &*job.task,
        "status": job.status.as_str(),
        "seconds": job.duration.map_or(0.0, |d| d.as_secs_f64()),
        "reused": job.reused,
        "reason": job.reason.as_ref().map(crate::Reason::to_json),
        "reason_text": job.reason.as_ref().map(ToString::to_string),
    });
    if let Some(remote) = &job.remote {
        entry["remote"] = serde_json::to_value(remote).unwrap_or(Json::Null);
    }
    if let Some(error) = job.error_text() {
        entry["error"] = Json::String(error.to_owned());
    }
    entry
}

/// The jobs of a submission as a JSON array (see [`job_json`]).
pub fn jobs_json(submission: &Submission) -> Json {
    Json::Array(submission.jobs.iter().map(job_json).collect())
}

/// A text (a job's error, or a reason ending with one) as one line of a
/// table: its first line, and for a text of several lines how many more
/// there are and where to read them all (`see`: a command, as
/// `` `shipping history --json` ``). A task's error can be long: polars
/// puts its whole query plan in its errors.
///
/// ```
/// use pipeline_core::cli::render::first_line;
/// let error = "column `x` not found\n\nResolved plan until failure:\n  SELECT [x]";
/// assert_eq!(
///     first_line(error, "`tool history --json`"),
///     "column `x` not found … (3 more lines: `tool history --json`)"
/// );
/// assert_eq!(first_line("one line", "`tool history --json`"), "one line");
/// ```
pub fn first_line<'a>(text: &'a str, see: &str) -> Cow<'a, str> {
    let text = text.trim();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().trim_end();
    match lines.count() {
        0 => Cow::Borrowed(text),
        1 => Cow::Owned(format!("{first} … (1 more line: {see})")),
        more => Cow::Owned(format!("{first} … ({more} more lines: {see})")),
    }
}

/// The jobs of a submission as a table: task, status, seconds, reason, and
/// for a job a remote executor ran, where and its peak memory
/// (`(slurm job 4123 on node07, attempt 1, peak RSS 393.0 MiB)`). A reason
/// or error of several lines shows its first line and how many more there
/// are, and `see` (see [`first_line`]).
pub fn jobs_table(submission: &Submission, see: &str) -> String {
    let width = submission
        .jobs
        .iter()
        .map(|j| j.task.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!(
        "  {:<width$}  {:<9}  {:>8}  reason\n",
        "task", "status", "seconds"
    );
    for job in &submission.jobs {
        let seconds = job.duration.map_or(0.0, |d| d.as_secs_f64());
        let mut line = format!(
            "  {:<width$}  {:<9}  {seconds:>8.3}  {}",
            job.task,
            job.status.as_str(),
            first_line(&job_reason(job).unwrap_or_default(), see)
        );
        if let Some(remote) = &job.remote {
            line.push_str(&format!(" ({remote})"));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The first failed job of a submission, as `task `t` failed: message`
/// (the whole message, however many lines).
pub fn first_failure(submission: &Submission) -> Option<String> {
    submission
        .jobs
        .iter()
        .find(|j| j.status == JobStatus::Failed)
        .or_else(|| submission.jobs.iter().find(|j| !j.status.is_success()))
        .map(|j| {
            format!(
                "task `{}` {}: {}",
                j.task,
                j.status,
                j.error_text().unwrap_or("no message")
            )
        })
}

/// `text`, quoted for a shell when it holds anything but plain characters.
pub(crate) fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.,/:+@%".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The command that shows every job of scenario `which` (as the user named
/// it) with its whole error: `` `shipping history --json` ``, with
/// `--scenario` where it is not `default`.
pub(crate) fn history_command(program: &str, which: &str) -> String {
    let scenario = match which {
        "default" => String::new(),
        other => format!(" --scenario {}", shell_word(other)),
    };
    format!("`{program} history{scenario} --json`")
}

/// `12 older submissions left out (--limit 5)`, as a line; empty when none
/// were.
pub(crate) fn left_out_line(left_out: usize, what: &str, limit: Option<usize>) -> String {
    let limit = limit.unwrap_or_default();
    match left_out {
        0 => String::new(),
        1 => format!("1 older {what} left out (--limit {limit})\n"),
        n => format!("{n} older {what}s left out (--limit {limit})\n"),
    }
}
