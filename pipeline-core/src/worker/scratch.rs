//! A worker's scratch directory (the inputs it fetched, the outputs it
//! made) removed when its job is cancelled or timed out, not only when the
//! attempt ends: Slurm ends a job with `SIGTERM` (then `SIGKILL` after its
//! `KillWait`), and a process ended by a signal runs no destructor, so
//! every cancelled job would otherwise leave its fetched values on the
//! node's disk. Only `SIGKILL` itself still leaves them.

use std::path::Path;
use std::thread::JoinHandle;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// While alive, a termination signal (`SIGTERM`, `SIGINT`, `SIGHUP`)
/// removes the directory and ends the process with the conventional
/// status, 128 plus the signal's number.
pub(super) struct RemovedOnTermination {
    handle: Handle,
    watcher: Option<JoinHandle<()>>,
}

impl RemovedOnTermination {
    /// Watches for termination signals on a thread of its own.
    pub(super) fn watch(dir: &Path) -> std::io::Result<Self> {
        let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
        let handle = signals.handle();
        let dir = dir.to_owned();
        let watcher = std::thread::Builder::new()
            .name("scratch-cleanup".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    // Best effort: the task may be writing into it.
                    let _ = std::fs::remove_dir_all(&dir);
                    std::process::exit(128 + signal);
                }
            })?;
        Ok(Self {
            handle,
            watcher: Some(watcher),
        })
    }
}

impl Drop for RemovedOnTermination {
    /// Stops watching: the signals' default actions apply again.
    fn drop(&mut self) {
        self.handle.close();
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.join();
        }
    }
}
