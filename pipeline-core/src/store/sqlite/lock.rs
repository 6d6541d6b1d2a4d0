//! Per-owner file locks: one process at a time submits a scenario (or writes the
//! global nodes of a graph).
//!
//! A lock is an advisory lock (`flock`) on `locks/<owner>.lock`, taken through
//! `std::fs::File::lock`. The holder writes its process id into the file so that
//! a waiting process can say whom it waits for. The operating system releases
//! the lock when the holder closes the file or dies, so a killed process never
//! leaves a scenario locked.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fingerprint::FingerprintHasher;
use crate::store::{Owner, OwnerLock, StoreError};

/// What a process is about to wait for: another holder of a lock it needs.
/// Given to the callback of [`SqliteOptions::on_lock_wait`](super::SqliteOptions::on_lock_wait)
/// before the wait starts, so that a program can tell its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockWait {
    /// What is locked (`"scenario #3"`, `"the global nodes of `pricing`"`).
    pub what: String,
    /// Who holds it, as far as known (`"process 1234"`).
    pub holder: String,
    /// The lock file.
    pub lock_file: PathBuf,
    /// How long the process will wait at most (`None`: as long as it takes).
    pub timeout: Option<Duration>,
}

impl std::fmt::Display for LockWait {
    /// `waiting for process 1234, which is working on scenario #3 (lock file …)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "waiting ")?;
        if let Some(timeout) = self.timeout {
            write!(f, "up to {timeout:?} ")?;
        }
        write!(
            f,
            "for {}, which is working on {} (lock file {})",
            self.holder,
            self.what,
            self.lock_file.display()
        )
    }
}

/// The callback told about waits.
pub(super) type OnLockWait = Arc<dyn Fn(&LockWait) + Send + Sync>;

/// Takes owner locks in one store directory.
pub(super) struct Locks {
    dir: PathBuf,
    /// `None`: wait as long as it takes.
    timeout: Option<Duration>,
    on_wait: Option<OnLockWait>,
}

impl Locks {
    pub(super) fn new(
        dir: PathBuf,
        timeout: Option<Duration>,
        on_wait: Option<OnLockWait>,
    ) -> Self {
        Self {
            dir,
            timeout,
            on_wait,
        }
    }

    /// Locks `owner`, waiting for another holder (telling the wait callback)
    /// up to the timeout.
    pub(super) fn lock(&self, owner: &Owner) -> Result<OwnerLock, StoreError> {
        let path = self.dir.join(file_name(owner));
        let io = |action, source| StoreError::Io {
            action,
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("open the lock file", e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::Error(e)) => return Err(io("lock", e)),
            Err(TryLockError::WouldBlock) => {
                let holder = holder(&mut file);
                let started = Instant::now();
                if let Some(on_wait) = &self.on_wait
                    && self.timeout != Some(Duration::ZERO)
                {
                    on_wait(&LockWait {
                        what: owner.to_string(),
                        holder: holder.clone(),
                        lock_file: path.clone(),
                        timeout: self.timeout,
                    });
                }
                match self.timeout {
                    None => file.lock().map_err(|e| io("lock", e))?,
                    Some(timeout) => loop {
                        match file.try_lock() {
                            Ok(()) => break,
                            Err(TryLockError::Error(e)) => return Err(io("lock", e)),
                            Err(TryLockError::WouldBlock) => {}
                        }
                        let waited = started.elapsed();
                        if waited >= timeout {
                            return Err(StoreError::LockTimeout {
                                what: owner.to_string(),
                                holder,
                                path,
                                waited,
                            });
                        }
                        std::thread::sleep(Duration::from_millis(20).min(timeout - waited));
                    },
                }
            }
        }
        // Best effort: only messages read it. Fixed width, so that no truncation
        // (which costs milliseconds on some file systems) is needed.
        let _ = file
            .seek(SeekFrom::Start(0))
            .and_then(|_| writeln!(file, "{:<10}", std::process::id()));
        Ok(OwnerLock::holding(file))
    }
}

impl Locks {
    /// Who holds `owner`'s lock now, or `None` when it is free (taken and
    /// released at once to find out).
    pub(super) fn holder(&self, owner: &Owner) -> Result<Option<String>, StoreError> {
        let path = self.dir.join(file_name(owner));
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => file,
            // Never locked since the store was made.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "open the lock file",
                    path,
                    source,
                });
            }
        };
        match file.try_lock() {
            Ok(()) => Ok(None),
            Err(TryLockError::WouldBlock) => Ok(Some(holder(&mut file))),
            Err(TryLockError::Error(source)) => Err(StoreError::Io {
                action: "lock",
                path,
                source,
            }),
        }
    }
}

/// Who holds a lock, as far as its file tells.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    match text.trim().parse::<u32>() {
        Ok(pid) if pid == std::process::id() => "another thread of this process".to_owned(),
        Ok(pid) => format!("process {pid}"),
        Err(_) => "another process".to_owned(),
    }
}

/// `scenario-3.lock`, or `global-<graph>-<hash>.lock` (graph names may hold any
/// character; the hash keeps distinct names apart).
pub(super) fn file_name(owner: &Owner) -> String {
    match owner {
        Owner::Scenario(id) => format!("scenario-{}.lock", id.0),
        Owner::Global(graph) => {
            let readable: String = graph
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .take(40)
                .collect();
            let hash = FingerprintHasher::with_domain("lock")
                .update_str(graph)
                .finish();
            format!("global-{readable}-{}.lock", &hash.to_hex()[..12])
        }
    }
}

/// Whether `path` is a lock file nobody holds (so it may be deleted).
pub(super) fn is_free(path: &Path) -> bool {
    let Ok(file) = OpenOptions::new().read(true).write(true).open(path) else {
        return false;
    };
    file.try_lock().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ScenarioId;
    use std::sync::Arc;

    #[test]
    fn a_second_locker_times_out_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::new(dir.path().to_owned(), Some(Duration::from_millis(50)), None);
        let owner = Owner::Scenario(ScenarioId(3));
        let held = locks.lock(&owner).unwrap();
        let err = locks.lock(&owner).unwrap_err();
        assert!(matches!(err, StoreError::LockTimeout { .. }));
        assert!(
            err.to_string().contains("another thread of this process"),
            "{err}"
        );
        drop(held);
        let _again = locks.lock(&owner).unwrap();
    }

    #[test]
    fn a_waiting_locker_is_told_whom_it_waits_for_before_it_waits() {
        let dir = tempfile::tempdir().unwrap();
        let told = Arc::new(parking_lot::Mutex::new(Vec::<LockWait>::new()));
        let sink = told.clone();
        let locks = Locks::new(
            dir.path().to_owned(),
            Some(Duration::from_millis(200)),
            Some(Arc::new(move |wait: &LockWait| {
                sink.lock().push(wait.clone())
            })),
        );
        let owner = Owner::Scenario(ScenarioId(7));
        let held = locks.lock(&owner).unwrap();
        let waiter = std::thread::spawn({
            let dir = dir.path().to_owned();
            let told = told.clone();
            move || {
                let locks = Locks::new(
                    dir,
                    None,
                    Some(Arc::new(move |wait: &LockWait| {
                        told.lock().push(wait.clone())
                    })),
                );
                locks.lock(&Owner::Scenario(ScenarioId(7))).map(drop)
            }
        });
        while told.lock().is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(held);
        waiter.join().unwrap().unwrap();
        let told = told.lock();
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].what, "scenario #7");
        assert_eq!(told[0].holder, "another thread of this process");
        assert_eq!(told[0].timeout, None);
        assert!(
            told[0].to_string().starts_with(
                "waiting for another thread of this process, which is working on scenario #7"
            ),
            "{}",
            told[0]
        );
        // No wait, nothing told.
        drop(locks.lock(&owner).unwrap());
        assert_eq!(told.len(), 1);
    }

    #[test]
    fn the_holder_is_named_while_the_lock_is_held_and_none_after() {
        let dir = tempfile::tempdir().unwrap();
        let locks = Locks::new(dir.path().to_owned(), Some(Duration::ZERO), None);
        let owner = Owner::Scenario(ScenarioId(4));
        assert_eq!(locks.holder(&owner).unwrap(), None);
        let held = locks.lock(&owner).unwrap();
        let holder = locks.holder(&owner).unwrap();
        assert_eq!(holder.as_deref(), Some("another thread of this process"));
        drop(held);
        assert_eq!(locks.holder(&owner).unwrap(), None);
        // Asking released the lock at once.
        let _again = locks.lock(&owner).unwrap();
    }

    #[test]
    fn global_lock_names_are_safe_and_distinct() {
        let a = file_name(&Owner::Global(Arc::from("a/b")));
        let b = file_name(&Owner::Global(Arc::from("ab")));
        assert!(!a.contains('/'));
        assert_ne!(a, b);
    }
}
