//! Per-key operator state in a slab: a hash index from key to a dense slot number, and the
//! states in a vector.
//!
//! Timers and eviction queues then hold 4-byte slot numbers instead of cloned keys, and
//! firing one is an index, not a hash probe. Each key is stored once, beside its state,
//! where the probe compares it (one cache miss for the state, none for a separate key
//! copy). Freed slots are reused, so a stale timer may name a slot that now holds another
//! key: callers check the state's own schedule before acting, as they would for a stale
//! entry of the same key.

use crate::record::Key;
use crate::slot_index::SlotIndex;

/// A slot number.
pub type Slot = u32;

/// How many keys [`KeySlab::candidates`] looks up together at most.
pub const AHEAD: usize = 16;

/// Per-key states of type `S`, addressed by key or by slot.
pub struct KeySlab<S> {
    index: SlotIndex,
    slots: Vec<Option<Entry<S>>>,
    free: Vec<Slot>,
    hasher: foldhash::fast::FixedState,
}

/// One key and its state.
pub struct Entry<S> {
    /// The key.
    pub key: Key,
    hash: u64,
    /// Its state.
    pub state: S,
}

impl<S> Default for KeySlab<S> {
    fn default() -> Self {
        KeySlab {
            index: SlotIndex::default(),
            slots: Vec::new(),
            free: Vec::new(),
            hasher: foldhash::fast::FixedState::with_seed(0x51ab),
        }
    }
}

impl<S> KeySlab<S> {
    /// The hash of `key` here.
    #[inline]
    pub fn hash(&self, key: &Key) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    /// Reads the index bucket of `hash` into cache (see `candidate`).
    #[inline]
    pub fn touch(&self, hash: u64) -> u64 {
        self.index.touch(hash)
    }

    /// The slot a key with hash `hash` probably has, from the index alone (without reading
    /// any state, so a caller can look up several keys, then read their states together);
    /// check the entry's key before trusting it.
    #[inline]
    pub fn candidate(&self, hash: u64) -> Option<Slot> {
        self.index.find(hash, |_| true)
    }

    /// The probable slots of `keys` (as `candidate`), looked up together so that their
    /// cache misses overlap instead of queueing: first every key's index bucket, then the
    /// entries those name, with what `ahead` reads of each one's state (its value is only
    /// summed, so the loads are not optimized away). Check each entry's key, when using
    /// it, before trusting it.
    pub fn candidates<'k>(
        &self,
        keys: impl Iterator<Item = &'k Key>,
        found: &mut Vec<Option<Slot>>,
        ahead: impl Fn(Slot, &Entry<S>) -> u64,
    ) {
        let mut sum = 0u64;
        found.clear();
        let mut hashes = [0u64; AHEAD];
        let mut keys = keys;
        // Slots first: `zip` then stops before taking a key there is no room for.
        for (h, key) in hashes.iter_mut().zip(keys.by_ref()) {
            *h = self.hash(key);
            sum = sum.wrapping_add(self.touch(*h));
            found.push(None);
        }
        assert!(keys.next().is_none(), "at most {AHEAD} keys at a time");
        for (h, candidate) in hashes.iter().zip(found.iter_mut()) {
            *candidate = self.candidate(*h);
            if let Some((s, e)) = candidate.and_then(|s| Some(s).zip(self.get(s))) {
                sum = sum.wrapping_add(ahead(s, e));
            }
        }
        std::hint::black_box(sum);
    }

    /// The slot of `key`, inserting `make()` for a new key.
    #[inline]
    pub fn slot_or_insert(&mut self, key: &Key, make: impl FnOnce() -> S) -> Slot {
        let hash = self.hash(key);
        let slots = &self.slots;
        let found = self.index.find(hash, |s| {
            slots[s as usize]
                .as_ref()
                .is_some_and(|e| e.hash == hash && e.key == *key)
        });
        if let Some(s) = found {
            return s;
        }
        let entry = Entry {
            key: key.clone(),
            hash,
            state: make(),
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(entry);
                s
            }
            None => {
                self.slots.push(Some(entry));
                Slot::try_from(self.slots.len() - 1).expect("fewer than 2^32 keys per worker")
            }
        };
        self.index.insert(hash, slot);
        slot
    }

    /// The slot of `key`, if present.
    pub fn slot(&self, key: &Key) -> Option<Slot> {
        let hash = self.hash(key);
        self.index.find(hash, |s| {
            self.slots[s as usize]
                .as_ref()
                .is_some_and(|e| e.hash == hash && e.key == *key)
        })
    }

    /// The entry in `slot`, if live.
    #[inline]
    pub fn get(&self, slot: Slot) -> Option<&Entry<S>> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// The entry in `slot`, if live.
    #[inline]
    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut Entry<S>> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Frees `slot` (and forgets its key).
    pub fn remove(&mut self, slot: Slot) {
        let Some(entry) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.index.remove(entry.hash, slot);
        self.free.push(slot);
    }

    /// Live keys.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no key is live.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The live entries.
    pub fn entries(&self) -> impl Iterator<Item = &Entry<S>> {
        self.slots.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use planner::types::Value;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Against a HashMap: inserts, removals and slot reuse keep every key's state.
        #[test]
        fn behaves_like_a_map(ops in prop::collection::vec((0u8..3, 0u32..40), 1..400)) {
            let mut slab: KeySlab<u32> = KeySlab::default();
            let mut model: HashMap<u32, u32> = HashMap::new();
            let key = |k: u32| -> Key { smallvec::smallvec![Value::Str(format!("k{k}").into())] };
            for (n, (op, k)) in ops.into_iter().enumerate() {
                match op {
                    0 | 1 => {
                        let cand = slab.candidate(slab.hash(&key(k)));
                        let s = slab.slot_or_insert(&key(k), || n as u32);
                        if model.contains_key(&k) {
                            prop_assert_eq!(cand, Some(s));
                        }
                        model.entry(k).or_insert(n as u32);
                        prop_assert_eq!(slab.get(s).unwrap().state, model[&k]);
                        prop_assert_eq!(&slab.get(s).unwrap().key, &key(k));
                    }
                    _ => {
                        if let Some(s) = slab.slot(&key(k)) {
                            slab.remove(s);
                            prop_assert!(slab.get(s).is_none());
                        }
                        model.remove(&k);
                    }
                }
                prop_assert_eq!(slab.len(), model.len());
                for (k, v) in &model {
                    let s = slab.slot(&key(*k));
                    prop_assert_eq!(s.and_then(|s| slab.get(s)).map(|e| e.state), Some(*v));
                }
                // Looked up together, live keys name their own slots, in order.
                let live: Vec<Key> = model.keys().take(AHEAD).map(|k| key(*k)).collect();
                let mut found = Vec::new();
                slab.candidates(live.iter(), &mut found, |_, e| u64::from(e.state));
                prop_assert_eq!(found.len(), live.len());
                for (k, s) in live.iter().zip(&found) {
                    prop_assert_eq!(*s, slab.slot(k));
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "at most 16 keys at a time")]
    fn candidates_refuses_more_keys_than_it_has_room_for() {
        let slab: KeySlab<()> = KeySlab::default();
        let keys: Vec<Key> = (0..=AHEAD as i64)
            .map(|i| smallvec::smallvec![Value::Int(i)])
            .collect();
        slab.candidates(keys.iter(), &mut Vec::new(), |_, _| 0);
    }
}
