//! A live progress line while tasks run: on a terminal only, on stderr.

use std::io::IsTerminal;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::events::EventKind;
use crate::job::JobStatus;
use crate::scenario::Scenario;

/// Shows which task is running and for how long, and each job's final
/// status, until the submission ends.
pub(crate) struct Progress {
    thread: Option<JoinHandle<()>>,
    /// Dropped by [`finish`](Progress::finish): the submission returned.
    done: Option<crossbeam_channel::Sender<()>>,
}

impl Progress {
    /// Starts listening to `scenario`'s next submission; shows nothing when
    /// stderr is not a terminal or `quiet` is set (`--json`).
    pub(crate) fn start(scenario: &Scenario, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Self {
                thread: None,
                done: None,
            };
        }
        let events = scenario.subscribe();
        let (done, finished) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::spawn(move || {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed_precise})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            loop {
                // Every event of a submission is published before `submit`
                // returns: once it has, take what is left and stop.
                let event = crossbeam_channel::select! {
                    recv(events) -> event => event,
                    recv(finished) -> _ => events.try_recv().map_err(|_| crossbeam_channel::RecvError),
                };
                let Ok(event) = event else { break };
                match event.kind {
                    EventKind::Job {
                        task,
                        status: JobStatus::Running,
                    } => bar.set_message(format!("running {task}")),
                    EventKind::Job { task, status } if status.is_final() => {
                        bar.println(format!("  {status:<9} {task}"));
                    }
                    EventKind::SubmissionFinished => break,
                    _ => {}
                }
            }
            bar.finish_and_clear();
        });
        Self {
            thread: Some(thread),
            done: Some(done),
        }
    }

    /// Waits for the display to clear itself.
    pub(crate) fn finish(mut self) {
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
