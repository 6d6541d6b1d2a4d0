//! What every scenario of one [`Runtime`](crate::Runtime) shares: the store,
//! the version cache, the external files' stat cache, the event bus, the
//! memory for decoded values and the per-scenario submission locks. The
//! engine works on it; `Runtime` is the user's handle to it.

use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::Mutex;

use crate::cache::VersionCache;
use crate::events::EventBus;
use crate::file_state::FileStates;
use crate::memory::ValueMemory;
use crate::store::{ScenarioId, Store};

/// The state a runtime's scenarios share.
pub(crate) struct RuntimeState {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) cache: VersionCache,
    pub(crate) files: FileStates,
    pub(crate) events: EventBus,
    /// Decoded values (data frames) kept between tasks, within a budget.
    pub(crate) memory: ValueMemory,
    submit_locks: DashMap<ScenarioId, Arc<Mutex<()>>>,
}

impl RuntimeState {
    /// The state of a runtime over `store`, keeping up to `memory` bytes of
    /// decoded values between tasks.
    pub(crate) fn new(store: Arc<dyn Store>, memory: usize) -> Self {
        Self {
            store,
            cache: VersionCache::default(),
            files: FileStates::new(),
            events: EventBus::default(),
            memory: ValueMemory::new(memory),
            submit_locks: DashMap::new(),
        }
    }

    /// The lock serializing submissions (and default writes) of one scenario in this process.
    pub(crate) fn scenario_lock(&self, id: ScenarioId) -> Arc<Mutex<()>> {
        self.submit_locks.entry(id).or_default().clone()
    }
}
