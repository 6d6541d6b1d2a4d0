//! Status changes published while a submission runs, for progress displays and tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use crossbeam_channel::{Receiver, Sender, unbounded};
use parking_lot::Mutex;

use crate::job::JobStatus;
use crate::store::{ScenarioId, SubmissionId};

/// One published event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The scenario being submitted.
    pub scenario: ScenarioId,
    /// The submission.
    pub submission: SubmissionId,
    /// When it happened.
    pub at: SystemTime,
    /// What happened.
    pub kind: EventKind,
}

/// What an [`Event`] reports.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A submission started with this many jobs.
    SubmissionStarted {
        /// Number of jobs.
        jobs: usize,
    },
    /// A job changed status (`Running`, then a final status).
    Job {
        /// The task.
        task: Arc<str>,
        /// Its new status.
        status: JobStatus,
    },
    /// A submission finished (every job has a final status).
    SubmissionFinished,
}

/// Subscribers of one runtime; publishing costs one atomic load when nobody listens.
#[derive(Default)]
pub(crate) struct EventBus {
    any_subscriber: AtomicBool,
    subscribers: Mutex<Vec<(Option<ScenarioId>, Sender<Event>)>>,
}

impl EventBus {
    /// A receiver of events for one scenario, or for all when `scenario` is `None`.
    pub(crate) fn subscribe(&self, scenario: Option<ScenarioId>) -> Receiver<Event> {
        let (tx, rx) = unbounded();
        self.subscribers.lock().push((scenario, tx));
        self.any_subscriber.store(true, Ordering::Release);
        rx
    }

    pub(crate) fn is_listened(&self) -> bool {
        self.any_subscriber.load(Ordering::Acquire)
    }

    /// Sends to every live subscriber interested in the event's scenario; drops
    /// subscribers whose receiver is gone.
    pub(crate) fn publish(&self, event: Event) {
        if !self.is_listened() {
            return;
        }
        let mut subscribers = self.subscribers.lock();
        subscribers.retain(|(filter, tx)| {
            if filter.is_some_and(|id| id != event.scenario) {
                return true;
            }
            tx.send(event.clone()).is_ok()
        });
        if subscribers.is_empty() {
            self.any_subscriber.store(false, Ordering::Release);
        }
    }
}
