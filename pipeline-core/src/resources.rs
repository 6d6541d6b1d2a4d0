//! What a task asks of the machine that runs it: CPUs, memory, a time limit
//! and a partition (queue). A remote executor passes them to its engine
//! (Slurm's `--cpus-per-task`, `--mem`, `--time`, `--partition`); the local
//! executor ignores them. They are declared on the task
//! (`#[task(cpus = 4, memory = "8G", time = "30m", partition = "bigmem")]`)
//! or in a TOML configuration, and are never part of a task's key: they do
//! not change what a task computes.

use std::fmt;
use std::time::Duration;

/// The resources one task asks for; every field is optional (unset: the
/// engine's default).
///
/// ```
/// use std::time::Duration;
/// use pipeline_core::resources::Resources;
///
/// let big = Resources::new().cpus(4).memory("8G")?.time("1h30m")?.partition("bigmem");
/// assert_eq!(big.memory_mib(), Some(8192));
/// assert_eq!(big.time_limit(), Some(Duration::from_secs(5400)));
/// // Settings from a configuration override the task's own.
/// let merged = big.overridden_by(&Resources::new().cpus(8));
/// assert_eq!((merged.cpu_count(), merged.memory_mib()), (Some(8), Some(8192)));
/// # Ok::<(), pipeline_core::resources::ResourceError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Resources {
    cpus: Option<u32>,
    memory_mib: Option<u64>,
    time: Option<Duration>,
    partition: Option<String>,
}

/// A resource setting that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// A memory size that is not a number with an optional unit.
    #[error(
        "memory `{0}` is not a size: write a whole number with a unit K, M, G or T (`512M`, `8G`); a bare number is megabytes"
    )]
    Memory(String),
    /// A duration in neither of the accepted forms.
    #[error(
        "time `{0}` is not a duration: write it as `90s`, `30m`, `2h30m`, `1d`, or as Slurm does (`MM:SS`, `HH:MM:SS`, `D-HH:MM:SS`, or minutes)"
    )]
    Time(String),
    /// Zero CPUs.
    #[error("cpus must be at least 1")]
    Cpus,
    /// An empty or blank partition name.
    #[error("partition `{0}` is not a partition name: it must be non-empty, without spaces")]
    Partition(String),
}

impl Resources {
    /// No requests: the engine's defaults.
    pub const fn new() -> Self {
        Self {
            cpus: None,
            memory_mib: None,
            time: None,
            partition: None,
        }
    }

    /// CPUs for the task (at least 1).
    pub fn cpus(mut self, cpus: u32) -> Self {
        self.cpus = Some(cpus.max(1));
        self
    }

    /// Memory for the task, as `512M`, `8G`, `1T` (a bare number is MiB).
    ///
    /// # Errors
    /// [`ResourceError::Memory`] if `size` is not such a size.
    pub fn memory(self, size: &str) -> Result<Self, ResourceError> {
        Ok(self.memory_in_mib(parse_memory_mib(size)?))
    }

    /// Memory for the task, in MiB.
    pub const fn memory_in_mib(mut self, mib: u64) -> Self {
        self.memory_mib = Some(mib);
        self
    }

    /// The task's time limit, as `90s`, `30m`, `2h30m`, `1d` or in Slurm's
    /// forms (`MM:SS`, `HH:MM:SS`, `D-HH:MM:SS`, bare minutes).
    ///
    /// # Errors
    /// [`ResourceError::Time`] if `limit` is in neither form.
    pub fn time(self, limit: &str) -> Result<Self, ResourceError> {
        Ok(self.time_limit_of(parse_duration(limit)?))
    }

    /// The task's time limit.
    pub const fn time_limit_of(mut self, limit: Duration) -> Self {
        self.time = Some(limit);
        self
    }

    /// The partition (queue) to run the task in.
    pub fn partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = Some(partition.into());
        self
    }

    /// The CPUs asked for.
    pub fn cpu_count(&self) -> Option<u32> {
        self.cpus
    }

    /// The memory asked for, in MiB.
    pub fn memory_mib(&self) -> Option<u64> {
        self.memory_mib
    }

    /// The time limit asked for.
    pub fn time_limit(&self) -> Option<Duration> {
        self.time
    }

    /// The partition asked for.
    pub fn partition_name(&self) -> Option<&str> {
        self.partition.as_deref()
    }

    /// Whether nothing is asked for.
    pub fn is_empty(&self) -> bool {
        *self == Self::new()
    }

    /// These resources with every setting `other` makes replacing ours.
    pub fn overridden_by(&self, other: &Resources) -> Resources {
        Resources {
            cpus: other.cpus.or(self.cpus),
            memory_mib: other.memory_mib.or(self.memory_mib),
            time: other.time.or(self.time),
            partition: other.partition.clone().or_else(|| self.partition.clone()),
        }
    }

    /// Checks a partition name (non-empty, no whitespace).
    ///
    /// # Errors
    /// [`ResourceError::Partition`] otherwise.
    pub fn checked_partition(name: &str) -> Result<&str, ResourceError> {
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            Err(ResourceError::Partition(name.to_owned()))
        } else {
            Ok(name)
        }
    }
}

impl fmt::Display for Resources {
    /// `cpus=4 memory=8192M time=1:30:00 partition=bigmem`, or `defaults`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(cpus) = self.cpus {
            parts.push(format!("cpus={cpus}"));
        }
        if let Some(mib) = self.memory_mib {
            parts.push(format!("memory={mib}M"));
        }
        if let Some(time) = self.time {
            parts.push(format!("time={}", slurm_time(time)));
        }
        if let Some(partition) = &self.partition {
            parts.push(format!("partition={partition}"));
        }
        if parts.is_empty() {
            f.write_str("defaults")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// A memory size in MiB: a whole number with an optional unit `K`, `M`, `G`,
/// `T` (powers of 1024, an optional `B` or `iB` after it, any case); a bare
/// number is MiB, as Slurm reads `--mem`.
///
/// # Errors
/// [`ResourceError::Memory`] for anything else, or a size below 1 MiB.
pub fn parse_memory_mib(size: &str) -> Result<u64, ResourceError> {
    pipeline_graph_rules::resources::memory_mib(size)
        .ok_or_else(|| ResourceError::Memory(size.to_owned()))
}

/// A duration written `90s`, `30m`, `2h30m`, `1d12h` (units `d`, `h`, `m`,
/// `s`, each at most once, largest first) or in Slurm's forms: bare minutes,
/// `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`.
///
/// # Errors
/// [`ResourceError::Time`] for anything else, or a zero duration.
pub fn parse_duration(text: &str) -> Result<Duration, ResourceError> {
    pipeline_graph_rules::resources::duration_secs(text)
        .map(Duration::from_secs)
        .ok_or_else(|| ResourceError::Time(text.to_owned()))
}

/// A duration as Slurm's `--time` takes it: `D-HH:MM:SS`, rounded up to
/// whole seconds.
pub fn slurm_time(duration: Duration) -> String {
    let mut seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    let days = seconds / 86_400;
    seconds %= 86_400;
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if days > 0 {
        format!("{days}-{hours:02}:{minutes:02}:{seconds:02}")
    } else {
        format!("{hours}:{minutes:02}:{seconds:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_read_as_slurm_reads_them() {
        for (text, mib) in [
            ("8G", 8192),
            ("8g", 8192),
            ("8GiB", 8192),
            ("8GB", 8192),
            ("512M", 512),
            ("512", 512),
            ("1T", 1 << 20),
            ("2048K", 2),
            ("1500K", 2),
        ] {
            assert_eq!(parse_memory_mib(text), Ok(mib), "{text}");
        }
        for bad in ["", "G", "8X", "-1G", "1.5G", "0", "0K", "8 G B"] {
            assert_eq!(
                parse_memory_mib(bad),
                Err(ResourceError::Memory(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn durations_read_with_units_or_in_slurm_forms() {
        for (text, seconds) in [
            ("90s", 90),
            ("30m", 1800),
            ("2h30m", 9000),
            ("1d", 86_400),
            ("1d12h", 129_600),
            ("1H5S", 3605),
            ("45", 2700),
            ("10:30", 630),
            ("1:00:00", 3600),
            ("2-0", 172_800),
            ("1-2:03", 93_780),
            ("1-02:03:04", 93_784),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(seconds)),
                "{text}"
            );
        }
        for bad in [
            "", "m", "30x", "30m2h", "1h1h", "0", "0s", "1:2:3:4", "a-1", "1.5h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slurm_time_renders_what_parse_reads() {
        for seconds in [1, 59, 60, 3599, 3600, 86_399, 86_400, 93_784] {
            let text = slurm_time(Duration::from_secs(seconds));
            assert_eq!(
                parse_duration(&text),
                Ok(Duration::from_secs(seconds)),
                "{text}"
            );
        }
        assert_eq!(slurm_time(Duration::from_millis(1500)), "0:00:02");
    }

    #[test]
    fn configuration_overrides_only_what_it_sets() {
        let task = Resources::new().cpus(2).memory_in_mib(100).partition("a");
        let config = Resources::new().memory_in_mib(200);
        let merged = task.overridden_by(&config);
        assert_eq!(merged.cpu_count(), Some(2));
        assert_eq!(merged.memory_mib(), Some(200));
        assert_eq!(merged.partition_name(), Some("a"));
        assert_eq!(merged.to_string(), "cpus=2 memory=200M partition=a");
        assert_eq!(Resources::new().to_string(), "defaults");
    }
}
