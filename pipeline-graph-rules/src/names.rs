//! Name lookups. Run-time graphs have tens of thousands of names, looked up
//! once per wiring: a multiply-rotate hash (rustc's FxHash) with a final mix
//! (names that differ only in their last bytes would otherwise share their low
//! bits, which pick the table's buckets), instead of the default SipHash,
//! which resists collision attacks that names a user declares cannot mount.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Names to their first index.
pub(crate) type NameMap<'a> = HashMap<&'a str, usize, BuildHasherDefault<NameHasher>>;

/// A fast hasher for maps keyed by names (FxHash with a final mix); not
/// resistant to collision attacks, so only for names a program declares.
///
/// ```
/// use std::collections::HashMap;
/// use std::hash::BuildHasherDefault;
/// use pipeline_graph_rules::NameHasher;
///
/// let mut ids: HashMap<&str, usize, BuildHasherDefault<NameHasher>> = HashMap::default();
/// ids.insert("scored_df", 0);
/// assert_eq!(ids.get("scored_df"), Some(&0));
/// ```
#[derive(Default)]
pub struct NameHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl NameHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 56));
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        // splitmix64's finalizer: every input bit reaches the low bits.
        let mut z = self.hash;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
