//! What this process knows of each owner's current versions, and the locks
//! it holds, so that a lock taken again does not re-read unchanged state.

use super::*;

/// What this store knows for certain about the slots of the owners it holds
/// locked: after loading an owner's current versions under its lock, a slot not
/// among them (nor written since) has no version, which spares a query per
/// slot without a value (every output, on a first run). The knowledge is used
/// only while the lock is held, and kept across locks only for as long as no
/// version is recorded by anyone (the store's change token is unchanged).
#[derive(Default)]
pub(super) struct Known {
    pub(super) owners: Arc<Mutex<HashMap<Owner, KnownOwner>>>,
}

#[derive(Default)]
pub(super) struct KnownOwner {
    /// Locks this store holds on the owner.
    pub(super) locks: usize,
    /// The nodes with versions, and the store's state when they were loaded.
    pub(super) nodes: Option<(HashSet<Arc<str>>, ChangeToken)>,
    /// Whether `nodes` holds now: loaded or confirmed under the current lock.
    pub(super) active: bool,
}

/// An owner lock that keeps [`Known`] honest: the knowledge is disabled before
/// the lock is released.
pub(super) struct KnownLock {
    pub(super) owner: Owner,
    pub(super) owners: Arc<Mutex<HashMap<Owner, KnownOwner>>>,
    pub(super) _file: OwnerLock,
}

impl Drop for KnownLock {
    fn drop(&mut self) {
        let mut owners = self.owners.lock();
        if let Some(known) = owners.get_mut(&self.owner) {
            known.locks -= 1;
            if known.locks == 0 {
                known.active = false;
            }
        }
    }
}

impl Known {
    pub(super) fn held(&self, owner: &Owner, file: OwnerLock) -> OwnerLock {
        self.owners.lock().entry(owner.clone()).or_default().locks += 1;
        OwnerLock::holding(KnownLock {
            owner: owner.clone(),
            owners: self.owners.clone(),
            _file: file,
        })
    }

    pub(super) fn loaded(
        &self,
        owners: &[Owner],
        current: &[(SlotKey, Arc<VersionMeta>)],
        token: ChangeToken,
    ) {
        let mut known = self.owners.lock();
        for owner in owners {
            if let Some(entry) = known.get_mut(owner).filter(|e| e.locks > 0) {
                let nodes = current
                    .iter()
                    .filter(|(slot, _)| slot.owner == *owner)
                    .map(|(slot, _)| slot.node.clone())
                    .collect();
                entry.nodes = Some((nodes, token));
                entry.active = true;
            }
        }
    }

    pub(super) fn activate(&self, owners: &[Owner], token: ChangeToken) {
        let mut known = self.owners.lock();
        for owner in owners {
            if let Some(entry) = known.get_mut(owner) {
                entry.active = entry.locks > 0
                    && entry
                        .nodes
                        .as_ref()
                        .is_some_and(|(_, loaded)| *loaded == token);
            }
        }
    }

    pub(super) fn written(&self, versions: &[(SlotKey, Arc<VersionMeta>)]) {
        if versions.is_empty() {
            return;
        }
        let mut known = self.owners.lock();
        if known.is_empty() {
            return;
        }
        for (slot, _) in versions {
            if let Some((nodes, _)) = known.get_mut(&slot.owner).and_then(|k| k.nodes.as_mut()) {
                nodes.insert(slot.node.clone());
            }
        }
    }

    pub(super) fn absent(&self, slot: &SlotKey) -> bool {
        let known = self.owners.lock();
        known
            .get(&slot.owner)
            .filter(|k| k.active && k.locks > 0)
            .and_then(|k| k.nodes.as_ref())
            .is_some_and(|(nodes, _)| !nodes.contains(&slot.node))
    }
}
