//! Decoded frames kept in memory between tasks, named by the fingerprint of
//! the file they were decoded from, within a process-wide budget.
//!
//! Reading a stored frame means decoding its Parquet file again, for every
//! task and every submission that reads it: on a frame of 10M rows and four
//! columns that is ~0.12 s on two cores, often more than the task's own work.
//! A task that knows how to work on a [`DataFrame`] directly can ask this
//! cache for the decoded frame instead: the producer puts the frame in as it
//! writes it ([`insert`]), or the first reader decodes it once
//! ([`get_or_load`]). Frames larger than the budget are never kept, so a
//! frame larger than memory still streams from its file.
//!
//! The budget ([`set_budget`], default [`DEFAULT_BUDGET`]) bounds the bytes
//! the cache holds: inserting past it evicts the least recently used frames.
//! A frame evicted while a task still uses it stays alive until that task
//! drops it.
//!
//! ```
//! use pipeline_core::Fingerprint;
//! use pipeline_core::frame::memory;
//! use polars::prelude::*;
//!
//! let name = Fingerprint::of_bytes(b"a stored frame");
//! let frame = df!("x" => [1.0, 2.0, 3.0]).unwrap();
//! assert!(memory::insert(name, frame.clone()));
//! let found = memory::get(&name).unwrap();
//! assert!(found.equals(&frame));
//! memory::remove(&name);
//! assert!(memory::get(&name).is_none());
//! ```

use std::sync::LazyLock;

use parking_lot::Mutex;
use polars::prelude::{DataFrame, PolarsResult};

use crate::fingerprint::Fingerprint;

/// The default budget: 512 MiB.
pub const DEFAULT_BUDGET: usize = 512 << 20;

/// The cache's frames, least recently used first, and its budget.
struct Frames {
    budget: usize,
    held: usize,
    /// `(name, frame, bytes)`, least recently used first.
    entries: Vec<(Fingerprint, DataFrame, usize)>,
}

impl Frames {
    fn evict_to(&mut self, limit: usize) {
        while self.held > limit && !self.entries.is_empty() {
            let (_, _, bytes) = self.entries.remove(0);
            self.held -= bytes;
        }
    }
}

static FRAMES: LazyLock<Mutex<Frames>> = LazyLock::new(|| {
    Mutex::new(Frames {
        budget: DEFAULT_BUDGET,
        held: 0,
        entries: Vec::new(),
    })
});

/// Sets the bytes the cache may hold (0 turns it off), evicting frames if it
/// holds more.
pub fn set_budget(bytes: usize) {
    let mut frames = FRAMES.lock();
    frames.budget = bytes;
    frames.evict_to(bytes);
}

/// The bytes the cache may hold.
pub fn budget() -> usize {
    FRAMES.lock().budget
}

/// The bytes the cache holds now (by [`DataFrame::estimated_size`]).
pub fn held() -> usize {
    FRAMES.lock().held
}

/// Whether a frame of `bytes` fits the budget at all (nothing does if the
/// budget is 0).
pub fn fits(bytes: usize) -> bool {
    let budget = budget();
    budget > 0 && bytes <= budget
}

/// The frame named `name`, if the cache holds it.
pub fn get(name: &Fingerprint) -> Option<DataFrame> {
    let mut frames = FRAMES.lock();
    let at = frames.entries.iter().position(|(n, ..)| n == name)?;
    // Most recently used last.
    let entry = frames.entries.remove(at);
    let frame = entry.1.clone();
    frames.entries.push(entry);
    Some(frame)
}

/// Keeps `frame` under `name`, evicting the least recently used frames to
/// make room. Returns `false` (and keeps nothing) if the frame alone is over
/// the budget.
pub fn insert(name: Fingerprint, frame: DataFrame) -> bool {
    let bytes = frame.estimated_size();
    let mut frames = FRAMES.lock();
    if bytes > frames.budget || frames.budget == 0 {
        return false;
    }
    if let Some(at) = frames.entries.iter().position(|(n, ..)| *n == name) {
        let (_, _, old) = frames.entries.remove(at);
        frames.held -= old;
    }
    let limit = frames.budget - bytes;
    frames.evict_to(limit);
    frames.held += bytes;
    frames.entries.push((name, frame, bytes));
    true
}

/// Drops the frame named `name`, if held.
pub fn remove(name: &Fingerprint) {
    let mut frames = FRAMES.lock();
    if let Some(at) = frames.entries.iter().position(|(n, ..)| n == name) {
        let (_, _, bytes) = frames.entries.remove(at);
        frames.held -= bytes;
    }
}

/// The frame named `name`: from the cache, or decoded by `load` and kept, if
/// `estimated_bytes` (what the caller expects it to take, say from the file's
/// row count and schema) fits the budget. `Ok(None)` if it does not: the
/// caller then streams the file instead. Two threads asking for the same
/// frame at once may both decode it; one copy is kept.
pub fn get_or_load(
    name: &Fingerprint,
    estimated_bytes: usize,
    load: impl FnOnce() -> PolarsResult<DataFrame>,
) -> PolarsResult<Option<DataFrame>> {
    if let Some(frame) = get(name) {
        return Ok(Some(frame));
    }
    if !fits(estimated_bytes) {
        return Ok(None);
    }
    let frame = load()?;
    // If it turns out larger than the budget it is not kept, but it is
    // decoded already: used this once.
    insert(*name, frame.clone());
    Ok(Some(frame))
}

#[cfg(test)]
mod tests {
    use polars::prelude::*;

    use super::*;

    /// The cache is process-wide: the tests that change its budget run one
    /// at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn frame(rows: usize) -> DataFrame {
        df!("x" => vec![1.0f64; rows]).unwrap()
    }

    fn name(n: u8) -> Fingerprint {
        Fingerprint::of_bytes(&[n, 0xca, 0xfe])
    }

    #[test]
    fn least_recently_used_frames_make_room_and_oversized_ones_are_refused() {
        let _serial = SERIAL.lock();
        let one = frame(1000).estimated_size();
        set_budget(2 * one);
        insert(name(1), frame(1000));
        insert(name(2), frame(1000));
        // Using 1 makes 2 the least recently used.
        assert!(get(&name(1)).is_some());
        assert!(insert(name(3), frame(1000)));
        assert!(
            get(&name(2)).is_none(),
            "the least recently used is evicted"
        );
        assert!(get(&name(1)).is_some() && get(&name(3)).is_some());
        assert_eq!(held(), 2 * one);
        // A frame over the whole budget is not kept and evicts nothing.
        assert!(!insert(name(4), frame(3000)));
        assert!(get(&name(4)).is_none());
        assert_eq!(held(), 2 * one);
        // A smaller budget evicts; none keeps nothing.
        set_budget(one);
        assert_eq!(held(), one);
        set_budget(0);
        assert_eq!(held(), 0);
        assert!(get(&name(3)).is_none());
        // Off means off, even for an empty frame.
        assert!(!insert(name(5), frame(0)));
        assert!(!fits(0));
        set_budget(DEFAULT_BUDGET);
    }

    #[test]
    fn a_frame_is_loaded_once_and_only_if_it_fits() {
        let _serial = SERIAL.lock();
        set_budget(DEFAULT_BUDGET);
        let mut loads = 0;
        for _ in 0..3 {
            let found = get_or_load(&name(9), 8000, || {
                loads += 1;
                Ok(frame(1000))
            })
            .unwrap();
            assert_eq!(found.unwrap().height(), 1000);
        }
        assert_eq!(loads, 1);
        remove(&name(9));
        let too_big = get_or_load(&name(9), DEFAULT_BUDGET + 1, || {
            panic!("a frame over the budget is not loaded")
        })
        .unwrap();
        assert!(too_big.is_none());
        // A failing load is reported and keeps nothing.
        let failed = get_or_load(&name(9), 8, || polars_bail!(ComputeError: "unreadable"));
        assert!(failed.unwrap_err().to_string().contains("unreadable"));
        assert!(get(&name(9)).is_none());
    }
}
