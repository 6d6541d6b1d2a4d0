//! The private tokio runtime behind the synchronous object store API.
//!
//! `object_store` is asynchronous; the rest of the runtime is not. Each call
//! spawns its future on this runtime and waits for the answer on a plain
//! channel, so a caller may be any thread: one of the executor's, or even a
//! thread of another tokio runtime (where `Runtime::block_on` would panic).

use std::future::Future;
use std::sync::mpsc;

/// A small multi-threaded runtime owned by one store (and its clones).
pub(super) struct Driver {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Driver {
    /// Two worker threads: requests wait on the network, not on the CPU, and
    /// a multipart upload keeps several parts in flight on one thread.
    pub(super) fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pipeline-objects")
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// Runs `future` to completion on the runtime and returns its output, or
    /// `None` if the runtime dropped it (a panic inside the client).
    pub(super) fn run<T, F>(&self, future: F) -> Option<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.start(future).wait()
    }

    /// Starts `future` on the runtime; the caller may do other work (feed it
    /// through a channel) before it waits for the output.
    pub(super) fn start<T, F>(&self, future: F) -> Running<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (sender, receiver) = mpsc::sync_channel(1);
        if let Some(runtime) = &self.runtime {
            runtime.spawn(async move {
                // A caller that stopped waiting does not want the output.
                let _ = sender.send(future.await);
            });
        }
        Running(receiver)
    }
}

/// A future started by [`Driver::start`].
pub(super) struct Running<T>(mpsc::Receiver<T>);

impl<T> Running<T> {
    /// Waits for the output; `None` if the runtime dropped the future.
    pub(super) fn wait(self) -> Option<T> {
        self.0.recv().ok()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks end, which panics inside
        // another runtime; nothing of ours is left running anyway.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
