//! Deterministic pseudo-random numbers for the tests (xorshift64).

/// A generator of 64-bit numbers from `seed` (not 0).
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// A generator of numbers in `[0, 1)` from `seed` (not 0).
pub(crate) fn unit(seed: u64) -> impl FnMut() -> f64 {
    let mut next = xorshift(seed);
    move || (next() >> 11) as f64 / (1u64 << 53) as f64
}
