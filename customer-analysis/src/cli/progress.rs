//! A live progress line while tasks run: on a terminal only, on stderr.

use std::io::IsTerminal;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipeline_core::{EventKind, JobStatus, Scenario};

/// Shows which task is running and for how long, until the submission ends.
pub struct Progress {
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts listening to `scenario`'s next submission; shows nothing when
    /// stderr is not a terminal or `quiet` is set.
    pub fn start(scenario: &Scenario, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Self { thread: None };
        }
        let events = scenario.subscribe();
        let thread = std::thread::spawn(move || {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed_precise})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            for event in events {
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
        }
    }

    /// Waits for the display to clear itself.
    pub fn finish(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
