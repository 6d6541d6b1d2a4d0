//! Values kept decoded in memory between tasks, within a byte budget that a
//! [`Runtime`](crate::Runtime) owns.
//!
//! Reading a stored value means reading its file again, for every task that
//! reads it. A value type that knows its decoded size can keep the decoded
//! value here instead, named by its fingerprint: the task that produces it
//! puts it in as it writes it, or the first reader after decoding it; later
//! readers of the same runtime take it from here. Data frames do so (see
//! `frame`, feature `polars`); a frame larger than the budget is never kept, so
//! it still streams from its file and memory stays bounded.
//!
//! Inserting past the budget evicts the least recently used values; a value
//! evicted while a task still uses it lives until that task drops it.
//!
//! ```
//! use std::sync::Arc;
//! use pipeline_core::fingerprint::Fingerprint;
//! use pipeline_core::memory::ValueMemory;
//!
//! let memory = ValueMemory::new(1 << 20);
//! let name = Fingerprint::of_bytes(b"a stored value");
//! assert!(memory.insert(name, Arc::new(vec![1.0f64; 1000]), 8000));
//! let kept: Arc<Vec<f64>> = memory.get(&name).unwrap();
//! assert_eq!(kept.len(), 1000);
//! assert!(!memory.insert(Fingerprint::of_bytes(b"too big"), Arc::new(()), 2 << 20));
//! ```

use std::any::Any;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::fingerprint::Fingerprint;

/// The budget of a runtime that is not given one: 512 MiB.
pub const DEFAULT_VALUE_MEMORY: usize = 512 << 20;

/// Decoded values named by fingerprint, least recently used evicted first,
/// within a byte budget. Shared by the tasks of one runtime.
pub struct ValueMemory {
    budget: usize,
    state: Mutex<Held>,
}

/// What a [`ValueMemory`] holds.
#[derive(Default)]
struct Held {
    bytes: usize,
    /// `(name, value, bytes)`, least recently used first.
    entries: Vec<(Fingerprint, Arc<dyn Any + Send + Sync>, usize)>,
}

impl Held {
    fn remove(&mut self, name: &Fingerprint) {
        if let Some(at) = self.entries.iter().position(|(n, ..)| n == name) {
            let (_, _, bytes) = self.entries.remove(at);
            self.bytes -= bytes;
        }
    }
}

impl ValueMemory {
    /// A memory that holds up to `budget` bytes (0: nothing is kept).
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            state: Mutex::default(),
        }
    }

    /// The bytes it may hold.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// The bytes it holds now (as given to [`insert`](Self::insert)).
    pub fn held(&self) -> usize {
        self.state.lock().bytes
    }

    /// Whether a value of `bytes` fits the budget at all (nothing does if
    /// the budget is 0).
    pub fn fits(&self, bytes: usize) -> bool {
        self.budget > 0 && bytes <= self.budget
    }

    /// The value named `name`, if held and of type `T`.
    pub fn get<T: Any + Send + Sync>(&self, name: &Fingerprint) -> Option<Arc<T>> {
        let mut state = self.state.lock();
        let at = state.entries.iter().position(|(n, ..)| n == name)?;
        let entry = state.entries.remove(at);
        let value = entry.1.clone();
        state.entries.push(entry); // most recently used last
        value.downcast::<T>().ok()
    }

    /// Keeps `value`, of about `bytes`, under `name`, evicting the least
    /// recently used values to make room. Returns `false` (and keeps
    /// nothing) if it alone is over the budget.
    pub fn insert<T: Any + Send + Sync>(
        &self,
        name: Fingerprint,
        value: Arc<T>,
        bytes: usize,
    ) -> bool {
        if !self.fits(bytes) {
            return false;
        }
        let mut state = self.state.lock();
        state.remove(&name);
        while state.bytes + bytes > self.budget && !state.entries.is_empty() {
            let (_, _, evicted) = state.entries.remove(0);
            state.bytes -= evicted;
        }
        state.bytes += bytes;
        state.entries.push((name, value, bytes));
        true
    }

    /// Drops the value named `name`, if held.
    pub fn remove(&self, name: &Fingerprint) {
        self.state.lock().remove(name);
    }
}

impl Default for ValueMemory {
    /// A memory of [`DEFAULT_VALUE_MEMORY`] bytes.
    fn default() -> Self {
        Self::new(DEFAULT_VALUE_MEMORY)
    }
}

impl std::fmt::Debug for ValueMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.lock();
        f.debug_struct("ValueMemory")
            .field("budget", &self.budget)
            .field("held", &state.bytes)
            .field("values", &state.entries.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: u8) -> Fingerprint {
        Fingerprint::of_bytes(&[n, 0xca, 0xfe])
    }

    #[test]
    fn least_recently_used_values_make_room_and_oversized_ones_are_refused() {
        let memory = ValueMemory::new(200);
        assert!(memory.insert(name(1), Arc::new(1u8), 100));
        assert!(memory.insert(name(2), Arc::new(2u8), 100));
        // Using 1 makes 2 the least recently used.
        assert_eq!(*memory.get::<u8>(&name(1)).unwrap(), 1);
        assert!(memory.insert(name(3), Arc::new(3u8), 100));
        assert!(
            memory.get::<u8>(&name(2)).is_none(),
            "the least recently used goes"
        );
        assert!(memory.get::<u8>(&name(1)).is_some() && memory.get::<u8>(&name(3)).is_some());
        assert_eq!(memory.held(), 200);
        // Over the whole budget: not kept, nothing evicted.
        assert!(!memory.insert(name(4), Arc::new(4u8), 201));
        assert_eq!(memory.held(), 200);
        // Another type under a held name is not returned as that type.
        assert!(memory.get::<u16>(&name(1)).is_none());
        memory.remove(&name(1));
        assert_eq!(memory.held(), 100);
    }

    #[test]
    fn a_budget_of_zero_keeps_nothing_not_even_an_empty_value() {
        let memory = ValueMemory::new(0);
        assert!(!memory.fits(0));
        assert!(!memory.insert(name(1), Arc::new(()), 0));
        assert!(memory.get::<()>(&name(1)).is_none());
    }
}
