//! The per-batch combiner of window features: records with the same key, pane and cut are
//! merged into one partial aggregate before the exchange.
//!
//! Built for the per-record path: a record's key is looked up by reference to the values
//! in the row (the key is cloned only when it is new in the batch), entries live in a
//! vector in arrival order (so a batch is shipped in a deterministic order), and the hash
//! index holds 4-byte positions.

use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::HashTable;
use smallvec::SmallVec;

use planner::types::Value;

use crate::accumulator::Acc;
use crate::record::{Key, PartialAggregate};

/// Partial aggregates of one batch, by (key, pane, cut).
pub struct Combiner {
    index: HashTable<u32>,
    /// Each entry's hash, apart from the entries: a probe compares hashes in this dense
    /// array and reads an entry only when they match.
    hashes: Vec<u64>,
    /// The batch, handed downstream as it is (one container, not copied record by record).
    entries: Vec<PartialAggregate>,
    hasher: foldhash::fast::FixedState,
}

impl Default for Combiner {
    fn default() -> Self {
        Combiner {
            index: HashTable::new(),
            hashes: Vec::new(),
            entries: Vec::new(),
            hasher: foldhash::fast::FixedState::with_seed(0xc0b1),
        }
    }
}

impl Combiner {
    /// The aggregate states of `(key, pane, cut)`, started from `template` when new.
    #[inline]
    pub fn entry(
        &mut self,
        key: &[&Value],
        pane: u64,
        cut: u64,
        template: &SmallVec<[Acc; 2]>,
    ) -> &mut SmallVec<[Acc; 2]> {
        let mut h = self.hasher.build_hasher();
        pane.hash(&mut h);
        cut.hash(&mut h);
        for v in key {
            v.hash(&mut h);
        }
        let hash = h.finish();
        let (hashes, entries) = (&self.hashes, &self.entries);
        let found = self.index.find(hash, |&i| {
            let e = &entries[i as usize];
            hashes[i as usize] == hash
                && e.pane == pane
                && e.cut == cut
                && e.key.len() == key.len()
                && e.key.iter().zip(key).all(|(a, b)| a == *b)
        });
        let i = match found {
            Some(&i) => i as usize,
            None => {
                let i = self.entries.len();
                self.entries.push(PartialAggregate {
                    key: key.iter().map(|v| (*v).clone()).collect::<Key>(),
                    pane,
                    cut,
                    accs: template.clone(),
                });
                self.hashes.push(hash);
                let hashes = &self.hashes;
                self.index.insert_unique(
                    hash,
                    u32::try_from(i).expect("fewer than 2^32 records per batch"),
                    |&j| hashes[j as usize],
                );
                i
            }
        };
        &mut self.entries[i].accs
    }

    /// Whether the batch has no records.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The batch's partial aggregates, in order of first arrival, to be taken (the
    /// caller leaves the vector empty); the combiner forgets them.
    pub fn batch(&mut self) -> &mut Vec<PartialAggregate> {
        self.index.clear();
        self.hashes.clear();
        &mut self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use planner::aggregate::AggFunc;
    use planner::DataType;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// Counts per (key, pane, cut) equal a map's, in order of first arrival.
        #[test]
        fn combines_like_a_map(recs in prop::collection::vec((0u8..6, 0u64..3, 0u64..2), 0..300)) {
            let template: SmallVec<[Acc; 2]> =
                smallvec::smallvec![Acc::new(AggFunc::CountStar, DataType::Int)];
            let mut c = Combiner::default();
            let mut model: BTreeMap<(String, u64, u64), i64> = BTreeMap::new();
            let mut order = Vec::new();
            for round in 0..2 {
                for (k, pane, cut) in &recs {
                    let key = Value::Str(format!("k{k}").into());
                    let accs = c.entry(&[&key, &Value::Int(i64::from(*k % 2))], *pane, *cut, &template);
                    accs[0].add(&Value::Null, true);
                    let m = (format!("k{k}"), *pane, *cut);
                    if !model.contains_key(&m) {
                        order.push(m.clone());
                    }
                    *model.entry(m).or_default() += 1;
                }
                let got: Vec<((String, u64, u64), i64)> = c
                    .batch()
                    .drain(..)
                    .map(|p| {
                        let Value::Str(k) = &p.key[0] else { unreachable!() };
                        let Acc::Count(n) = p.accs[0] else { unreachable!() };
                        ((k.to_string(), p.pane, p.cut), n)
                    })
                    .collect();
                let want: Vec<((String, u64, u64), i64)> =
                    order.drain(..).map(|m| { let n = model[&m]; (m, n) }).collect();
                prop_assert_eq!(got, want, "round {}", round);
                prop_assert!(c.is_empty());
                model.clear();
            }
        }
    }
}
