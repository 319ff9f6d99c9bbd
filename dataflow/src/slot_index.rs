//! A hash index from 64-bit key hashes to slot numbers, for [`crate::key_slab::KeySlab`].
//!
//! Open addressing with linear probing over one `u64` word per bucket, holding the hash's
//! upper 32 bits (the tag, which also picks the home bucket) and the slot. A lookup reads
//! one word, then the entry it names; a general-purpose table (hashbrown) reads a control
//! group and then a bucket array, two dependent cache misses once the index outgrows the
//! cache. [`SlotIndex::touch`] lets a caller load the words of several keys before looking
//! any of them up, so their misses overlap. Deletion shifts later entries back (no
//! tombstones); the load stays at most one half.

/// Slot numbers by key hash.
#[derive(Default)]
pub struct SlotIndex {
    words: Vec<u64>,
    len: usize,
}

const EMPTY: u64 = 0;

#[inline]
fn tag(hash: u64) -> u64 {
    hash >> 32
}

#[inline]
fn word(hash: u64, slot: u32) -> u64 {
    (tag(hash) << 32) | (u64::from(slot) + 1)
}

#[inline]
fn slot_of(w: u64) -> u32 {
    (w as u32).wrapping_sub(1)
}

impl SlotIndex {
    #[inline]
    fn mask(&self) -> usize {
        self.words.len() - 1
    }

    /// The home bucket of a word or hash with this tag.
    #[inline]
    fn home(&self, tag: u64) -> usize {
        tag as usize & self.mask()
    }

    /// Entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the home bucket of `hash` (to bring it into cache); the value means nothing.
    #[inline]
    pub fn touch(&self, hash: u64) -> u64 {
        if self.words.is_empty() {
            return 0;
        }
        self.words[self.home(tag(hash))]
    }

    /// The first slot stored under `hash` for which `eq` holds.
    #[inline]
    pub fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.words.is_empty() {
            return None;
        }
        let t = tag(hash);
        let mask = self.mask();
        let mut i = self.home(t);
        loop {
            let w = self.words[i];
            if w == EMPTY {
                return None;
            }
            if w >> 32 == t && eq(slot_of(w)) {
                return Some(slot_of(w));
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds `slot` under `hash` (which must not hold it already).
    pub fn insert(&mut self, hash: u64, slot: u32) {
        assert!(slot < u32::MAX, "slot numbers stay below 2^32 - 1");
        if (self.len + 1) * 2 > self.words.len() {
            self.grow();
        }
        let mask = self.mask();
        let mut i = self.home(tag(hash));
        while self.words[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.words[i] = word(hash, slot);
        self.len += 1;
    }

    /// Removes `slot` stored under `hash`, if present.
    pub fn remove(&mut self, hash: u64, slot: u32) {
        if self.words.is_empty() {
            return;
        }
        let target = word(hash, slot);
        let mask = self.mask();
        let mut i = self.home(tag(hash));
        loop {
            match self.words[i] {
                EMPTY => return,
                w if w == target => break,
                _ => i = (i + 1) & mask,
            }
        }
        // Backward shift (Knuth's algorithm R): move each later word of the run into the
        // hole unless its home lies cyclically in (hole, its position].
        let (mut hole, mut k) = (i, i);
        loop {
            k = (k + 1) & mask;
            let w = self.words[k];
            if w == EMPTY {
                break;
            }
            let h = self.home(w >> 32);
            let stays = if hole <= k {
                hole < h && h <= k
            } else {
                hole < h || h <= k
            };
            if !stays {
                self.words[hole] = w;
                hole = k;
            }
        }
        self.words[hole] = EMPTY;
        self.len -= 1;
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.words);
        self.words = vec![EMPTY; (old.len() * 2).max(16)];
        let mask = self.mask();
        for w in old.into_iter().filter(|w| *w != EMPTY) {
            let mut i = self.home(w >> 32);
            while self.words[i] != EMPTY {
                i = (i + 1) & mask;
            }
            self.words[i] = w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Against a map from slot to hash, with few distinct tags (so runs collide and wrap
        /// around the table): every present slot is found, absent ones are not.
        #[test]
        fn behaves_like_a_map(ops in prop::collection::vec((any::<bool>(), 0u32..64, 0u64..12), 1..600)) {
            let mut index = SlotIndex::default();
            let mut model: HashMap<u32, u64> = HashMap::new();
            for (add, slot, h) in ops {
                // Tags 0..12, spread over the top bits; low bits vary too.
                let hash = (h << 60) | (h << 32) | u64::from(slot);
                match (add, model.get(&slot).copied()) {
                    (true, None) => {
                        index.insert(hash, slot);
                        model.insert(slot, hash);
                    }
                    (false, Some(old)) => {
                        index.remove(old, slot);
                        model.remove(&slot);
                    }
                    _ => {}
                }
                prop_assert_eq!(index.len(), model.len());
                for s in 0..64u32 {
                    match model.get(&s) {
                        Some(h) => prop_assert_eq!(index.find(*h, |c| c == s), Some(s)),
                        None => {
                            for h in 0..12u64 {
                                let hash = (h << 60) | (h << 32);
                                prop_assert_eq!(index.find(hash, |c| c == s), None);
                            }
                        }
                    }
                }
            }
        }
    }
}
