//! What queued and journaled commits will record, served to this process's
//! reads until they are folded into the tables.

use super::*;

/// A fast, non-cryptographic hasher for the overlay's keys (digests and slot
/// names made by this process, so no flooding concern): FxHash's mixing, one
/// word at a time. SipHash made the overlay's bookkeeping a visible part of
/// recording a submission of many small jobs.
#[derive(Default, Clone, Copy)]
pub(super) struct FastHasher(u64);

impl FastHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    pub(super) fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(tail) ^ ((rest.len() as u64) << 56));
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FastHasher`]s.
pub(super) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// What queued and journaled commits will record, keyed for reads; each entry
/// remembers the sequence number of the commit that queued it.
#[derive(Default)]
pub(super) struct Overlay {
    pub(super) objects: FastMap<Fingerprint, (u64, PendingObject)>,
    pub(super) memo: FastMap<TaskKey, (u64, Vec<Fingerprint>)>,
    pub(super) current: FastMap<SlotKey, (u64, Arc<VersionMeta>)>,
}

impl Overlay {
    pub(super) fn add(&mut self, seq: u64, op: &Op) {
        let Op::Commit {
            objects,
            versions,
            memo,
            ..
        } = op
        else {
            return;
        };
        for object in objects {
            let pending = PendingObject {
                value: object.value.clone(),
                size: object.size,
                content_hash: object.content_hash,
                in_file: matches!(object.stored, Stored::File),
                value_type: object.value_type,
            };
            self.objects.insert(object.fingerprint, (seq, pending));
        }
        for (slot, meta) in versions {
            self.current.insert(slot.clone(), (seq, meta.clone()));
        }
        if let Some((key, outputs)) = memo {
            self.memo.insert(*key, (seq, outputs.clone()));
        }
    }

    pub(super) fn remove(&mut self, seq: u64, op: &Op) {
        let Op::Commit {
            objects,
            versions,
            memo,
            ..
        } = op
        else {
            return;
        };
        for object in objects {
            if self
                .objects
                .get(&object.fingerprint)
                .is_some_and(|e| e.0 == seq)
            {
                self.objects.remove(&object.fingerprint);
            }
        }
        for (slot, _) in versions {
            if self.current.get(slot).is_some_and(|e| e.0 == seq) {
                self.current.remove(slot);
            }
        }
        if let Some((key, _)) = memo
            && self.memo.get(key).is_some_and(|e| e.0 == seq)
        {
            self.memo.remove(key);
        }
    }
}
