//! Leftovers of `objects/`: the sweep `gc` runs, the removal of empty
//! scratch directories when a store is dropped, and what removing a file
//! frees.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::time::Duration;

use super::{Objects, SCRATCH_USERS};
use crate::fingerprint::Fingerprint;

impl Objects {
    /// Removes leftovers that no live process will use: scratch directories of
    /// dead processes, temporary files untouched for a day, quarantined
    /// files, and stamps of files that are gone. Returns `(files, bytes)`
    /// removed.
    pub(in crate::store::sqlite) fn sweep(&self) -> (u64, u64) {
        if let Ok(files) = self.files() {
            let present: HashSet<Fingerprint> = files
                .into_iter()
                .map(|(_, fingerprint, ..)| fingerprint)
                .collect();
            for entry in fs::read_dir(&self.stamps).into_iter().flatten().flatten() {
                let stale = entry
                    .file_name()
                    .to_str()
                    .and_then(|name| name.parse::<Fingerprint>().ok())
                    .is_none_or(|fingerprint| !present.contains(&fingerprint));
                if stale {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        let mut removed = (0, 0);
        let mut remove = |path: &Path, meta: &fs::Metadata| {
            if fs::remove_file(path).is_ok() {
                removed.0 += 1;
                removed.1 += freed_by_removing(meta);
            }
        };
        let stale = |meta: &fs::Metadata| {
            meta.modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(24 * 3600))
        };
        if let Ok(entries) = fs::read_dir(&self.tmp_root) {
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    let dead = of_dead_process(&entry.file_name());
                    for file in fs::read_dir(&path).into_iter().flatten().flatten() {
                        if let Ok(meta) = file.metadata()
                            && meta.is_file()
                            && (dead || stale(&meta))
                        {
                            remove(&file.path(), &meta);
                        }
                    }
                    if dead {
                        let _ = fs::remove_dir(&path);
                    }
                } else if stale(&meta) {
                    remove(&path, &meta);
                }
            }
        }
        if let Ok(entries) = fs::read_dir(&self.damaged) {
            for entry in entries.flatten() {
                if let Ok(meta) = entry.metadata()
                    && meta.is_file()
                {
                    remove(&entry.path(), &meta);
                }
            }
        }
        removed
    }
}

impl Drop for Objects {
    /// Removes this process's scratch directory if this was the last store
    /// of the process using it and it is empty, then the empty scratch
    /// directories of processes that are gone (one `read_dir` of
    /// `objects/tmp/`; a directory still holding files waits for `gc`).
    fn drop(&mut self) {
        {
            let mut users = SCRATCH_USERS.lock();
            let users = users.get_or_insert_with(HashMap::new);
            if let Some(count) = users.get_mut(&self.scratch_key) {
                *count -= 1;
                if *count == 0 {
                    users.remove(&self.scratch_key);
                    // Fails, harmlessly, unless the directory is empty.
                    let _ = fs::remove_dir(&self.scratch);
                }
            }
        }
        for entry in fs::read_dir(&self.tmp_root).into_iter().flatten().flatten() {
            if of_dead_process(&entry.file_name()) {
                // Fails, harmlessly, unless the directory is empty.
                let _ = fs::remove_dir(entry.path());
            }
        }
    }
}

/// The bytes removing a file with this metadata frees on disk: its size if
/// this is its last name, 0 if other hard links keep its data (Unix; where
/// links are not counted, its size).
pub(in crate::store::sqlite) fn freed_by_removing(meta: &fs::Metadata) -> u64 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return 0;
        }
    }
    meta.len()
}

/// Whether a process id is running (Linux: `/proc/<pid>`; elsewhere assumed alive).
pub(in crate::store::sqlite) fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// Whether `name` is a scratch directory's (`p<pid>`) of a process that is
/// gone.
fn of_dead_process(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .and_then(|n| n.strip_prefix('p'))
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| !process_alive(pid))
}
