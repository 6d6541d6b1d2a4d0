//! The live view of submissions: a thread forwards the runtime's job events to
//! a board, which keeps each scenario's running submission and the web's
//! queued ones, and broadcasts every change (with a snapshot of the
//! scenario's live state as of that change) to the open event streams.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use crossbeam_channel::{Receiver, Sender, select};
use parking_lot::{Condvar, Mutex};
use tokio::sync::broadcast;

use crate::events::{Event, EventKind};
use crate::job::JobStatus;
use crate::runtime::Runtime;
use crate::store::{ScenarioId, SubmissionId};

/// How many changes an open stream may fall behind before it skips to the
/// newest (it then renders the current state, so nothing shown is wrong).
const BACKLOG: usize = 1024;

/// How long a finished web submission waits for its events to be forwarded.
const FINISH_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A submission of this process, as its events told it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LiveSubmission {
    /// Its id.
    pub(super) id: SubmissionId,
    /// The tasks it covers, when the web submitted it (others show their
    /// last job until an event names them).
    pub(super) planned: Option<Vec<Arc<str>>>,
    /// The status of every task an event named, in event order.
    pub(super) jobs: Vec<(Arc<str>, JobStatus)>,
    /// Whether every job has its final status.
    pub(super) finished: bool,
}

impl LiveSubmission {
    /// The live status of a task: its last event's, else `Pending` when the
    /// submission covers it and has not finished, else `None`.
    pub(super) fn status(&self, task: &str) -> Option<JobStatus> {
        if let Some((_, status)) = self.jobs.iter().rev().find(|(t, _)| &**t == task) {
            return Some(*status);
        }
        let planned = self
            .planned
            .as_ref()
            .is_some_and(|p| p.iter().any(|t| &**t == task));
        (planned && !self.finished).then_some(JobStatus::Pending)
    }
}

/// A submission the web accepted and the executor has not started.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ticket {
    /// Its number in this process.
    pub(super) id: u64,
    /// What it runs, for people (`scenario`, `sequence scoring`).
    pub(super) target: String,
    /// The tasks it covers.
    pub(super) planned: Vec<Arc<str>>,
    /// Who holds the scenario's lock, while it waits for another process.
    pub(super) waiting_for: Option<String>,
}

/// What the last submission the web made of a scenario came to, for people.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Outcome {
    /// The submission, if it started.
    pub(super) submission: Option<SubmissionId>,
    /// The error that kept it from running (a locked store, say).
    pub(super) error: Option<String>,
}

/// One scenario's live state.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct LiveState {
    /// The running submission, or the last one this process ran.
    pub(super) submission: Option<LiveSubmission>,
    /// Web submissions not started yet, oldest first.
    pub(super) tickets: Vec<Ticket>,
    /// The last web submission's outcome.
    pub(super) outcome: Option<Outcome>,
}

impl LiveState {
    /// Whether a submission of this process is running or waiting.
    pub(super) fn busy(&self) -> bool {
        !self.tickets.is_empty() || self.submission.as_ref().is_some_and(|s| !s.finished)
    }
}

/// A change of one scenario's live state.
#[derive(Debug, Clone)]
pub(super) struct Notice {
    /// The scenario.
    pub(super) scenario: ScenarioId,
    /// When the change happened (an event's publication time).
    pub(super) at: SystemTime,
    /// What changed.
    pub(super) change: Change,
    /// The scenario's live state right after the change.
    pub(super) state: Arc<LiveState>,
}

/// What a [`Notice`] reports.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Change {
    /// A submission started.
    Started(SubmissionId),
    /// A job changed status.
    Job {
        /// The submission.
        submission: SubmissionId,
        /// The task.
        task: Arc<str>,
        /// Its new status.
        status: JobStatus,
    },
    /// A submission finished.
    Finished(SubmissionId),
    /// The web queued, held or gave up a submission.
    Queue,
}

/// The live state of every scenario, and the channel announcing changes.
pub(super) struct Board {
    states: Mutex<HashMap<ScenarioId, LiveState>>,
    /// Signalled whenever a submission finishes on the board.
    finished: Condvar,
    changes: broadcast::Sender<Notice>,
    next_ticket: std::sync::atomic::AtomicU64,
}

impl Default for Board {
    fn default() -> Self {
        Self {
            states: Mutex::default(),
            finished: Condvar::new(),
            changes: broadcast::channel(BACKLOG).0,
            next_ticket: std::sync::atomic::AtomicU64::new(1),
        }
    }
}

impl Board {
    /// Changes from now on.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.changes.subscribe()
    }

    /// A scenario's live state now.
    pub(super) fn state(&self, scenario: ScenarioId) -> LiveState {
        self.states
            .lock()
            .get(&scenario)
            .cloned()
            .unwrap_or_default()
    }

    /// Applies `update` to a scenario's state and announces the change.
    fn change(
        &self,
        scenario: ScenarioId,
        at: SystemTime,
        change: Change,
        update: impl FnOnce(&mut LiveState),
    ) {
        let state = {
            let mut states = self.states.lock();
            let state = states.entry(scenario).or_default();
            update(state);
            Arc::new(state.clone())
        };
        // No open stream: nobody to tell.
        let _ = self.changes.send(Notice {
            scenario,
            at,
            change,
            state,
        });
    }

    /// Records a runtime event.
    pub(super) fn on_event(&self, event: Event) {
        let Event {
            scenario,
            submission,
            at,
            kind,
        } = event;
        match kind {
            EventKind::SubmissionStarted { jobs } => {
                self.change(scenario, at, Change::Started(submission), |state| {
                    // The web's oldest ticket of this size is the one starting.
                    let planned = state
                        .tickets
                        .iter()
                        .position(|t| t.planned.len() == jobs)
                        .map(|i| state.tickets.remove(i).planned);
                    state.submission = Some(LiveSubmission {
                        id: submission,
                        planned,
                        jobs: Vec::new(),
                        finished: false,
                    });
                });
            }
            EventKind::Job { task, status } => {
                let change = Change::Job {
                    submission,
                    task: task.clone(),
                    status,
                };
                self.change(scenario, at, change, |state| {
                    if let Some(live) = state.submission.as_mut().filter(|s| s.id == submission) {
                        live.jobs.push((task, status));
                    }
                });
            }
            EventKind::SubmissionFinished => {
                self.change(scenario, at, Change::Finished(submission), |state| {
                    if let Some(live) = state.submission.as_mut().filter(|s| s.id == submission) {
                        live.finished = true;
                    }
                });
                self.finished.notify_all();
            }
        }
    }

    /// Queues a web submission of `target` covering `planned`; returns its ticket.
    pub(super) fn queue(
        &self,
        scenario: ScenarioId,
        target: String,
        planned: Vec<Arc<str>>,
    ) -> u64 {
        let id = self
            .next_ticket
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.change(scenario, SystemTime::now(), Change::Queue, |state| {
            state.tickets.push(Ticket {
                id,
                target,
                planned,
                waiting_for: None,
            });
        });
        id
    }

    /// Says that a ticket waits for another process's lock.
    pub(super) fn waiting(&self, scenario: ScenarioId, ticket: u64, holder: String) {
        self.change(scenario, SystemTime::now(), Change::Queue, |state| {
            if let Some(t) = state.tickets.iter_mut().find(|t| t.id == ticket) {
                t.waiting_for = Some(holder);
            }
        });
    }

    /// Records how a ticket ended (its ticket is gone once it started). A
    /// submission that ran is announced after its events (which the
    /// forwarding thread may still hold), so streams see them in order.
    pub(super) fn done(&self, scenario: ScenarioId, ticket: u64, outcome: Outcome) {
        if let Some(submission) = outcome.submission {
            let deadline = std::time::Instant::now() + FINISH_WAIT;
            let mut states = self.states.lock();
            while !states
                .get(&scenario)
                .and_then(|s| s.submission.as_ref())
                .is_some_and(|s| s.id > submission || (s.id == submission && s.finished))
            {
                if self.finished.wait_until(&mut states, deadline).timed_out() {
                    break;
                }
            }
        }
        self.change(scenario, SystemTime::now(), Change::Queue, |state| {
            state.tickets.retain(|t| t.id != ticket);
            state.outcome = Some(outcome);
        });
    }
}

/// The thread forwarding runtime events to the board; stops when dropped.
pub(super) struct Dispatcher {
    _stop: Sender<()>,
}

impl Dispatcher {
    /// Subscribes to `runtime`'s events and starts forwarding them.
    pub(super) fn start(runtime: &Runtime, board: Arc<Board>) -> Self {
        let events = runtime.subscribe();
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        std::thread::Builder::new()
            .name("pipeline-web-events".to_owned())
            .spawn(move || forward(&events, &stopped, &board))
            .expect("the operating system starts a thread");
        Self { _stop: stop }
    }
}

fn forward(events: &Receiver<Event>, stopped: &Receiver<()>, board: &Board) {
    loop {
        select! {
            recv(events) -> event => match event {
                Ok(event) => board.on_event(event),
                Err(_) => return,
            },
            recv(stopped) -> _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind) -> Event {
        Event {
            scenario: ScenarioId(1),
            submission: SubmissionId(7),
            at: SystemTime::now(),
            kind,
        }
    }

    #[test]
    fn a_started_ticket_lends_its_plan_and_every_change_carries_a_snapshot() {
        let board = Board::default();
        let mut changes = board.subscribe();
        let planned: Vec<Arc<str>> = vec![Arc::from("a"), Arc::from("b")];
        board.queue(ScenarioId(1), "scenario".into(), planned);
        board.on_event(event(EventKind::SubmissionStarted { jobs: 2 }));
        board.on_event(event(EventKind::Job {
            task: Arc::from("a"),
            status: JobStatus::Running,
        }));
        let state = board.state(ScenarioId(1));
        assert!(state.tickets.is_empty());
        let live = state.submission.unwrap();
        assert_eq!(live.status("a"), Some(JobStatus::Running));
        assert_eq!(live.status("b"), Some(JobStatus::Pending));
        assert_eq!(live.status("c"), None);

        let queued = changes.try_recv().unwrap();
        assert_eq!(queued.change, Change::Queue);
        assert_eq!(queued.state.tickets.len(), 1);
        let started = changes.try_recv().unwrap();
        assert_eq!(started.change, Change::Started(SubmissionId(7)));
        let running = changes.try_recv().unwrap();
        // The snapshot is the state as of this change, not a later one.
        assert_eq!(
            running.state.submission.as_ref().unwrap().status("a"),
            Some(JobStatus::Running)
        );
        board.on_event(event(EventKind::Job {
            task: Arc::from("a"),
            status: JobStatus::Completed,
        }));
        assert_eq!(
            running.state.submission.as_ref().unwrap().status("a"),
            Some(JobStatus::Running)
        );
        board.on_event(event(EventKind::SubmissionFinished));
        let state = board.state(ScenarioId(1));
        assert_eq!(state.submission.unwrap().status("b"), None);
        assert!(!board.state(ScenarioId(1)).busy());
    }
}
