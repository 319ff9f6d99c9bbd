//! The pane window operator's per-key panes, and where a key's last emitted window's panes
//! are (`window.rs` walks it from window to window).

use std::collections::VecDeque;

use smallvec::SmallVec;

use crate::accumulator::Acc;

/// The aggregate states of one pane (or a merge of panes), one per aggregate.
pub(super) type Accs = SmallVec<[Acc; 2]>;

/// Where the panes starting in `[a, b)` (the last window walked) are in a key's panes.
/// Kept per key between firings, so the key's next window moves the range by the pane
/// entering and the pane leaving: no search. Evicting a pane inside it resets it.
pub(super) struct Walk {
    pub(super) a: u64,
    pub(super) b: u64,
    /// The positions of the range in the key's panes: `lo` is the first pane starting at
    /// or after `a`, `hi` the first starting at or after `b`. Kept up to date when panes
    /// are inserted or evicted.
    pub(super) lo: usize,
    pub(super) hi: usize,
    /// The starts of `panes[lo]` and `panes[hi]` (`u64::MAX` past the last pane). The
    /// walk decides from these, kept beside it, whether a pane enters or leaves a window,
    /// instead of reading the panes, which live in memory of their own: most windows of a
    /// key have neither, and reading two panes per key and slide was most of firing's
    /// cache misses.
    pub(super) next_out: u64,
    pub(super) next_in: u64,
}

/// The start of `panes[i]`, `u64::MAX` past the last pane.
#[inline]
pub(super) fn start_at(panes: &VecDeque<Pane>, i: usize) -> u64 {
    panes.get(i).map_or(u64::MAX, |p| p.start)
}

impl Default for Walk {
    fn default() -> Self {
        Walk {
            a: 0,
            b: 0,
            lo: 0,
            hi: 0,
            next_out: u64::MAX,
            next_in: u64::MAX,
        }
    }
}

impl Walk {
    #[inline]
    pub(super) fn covers(&self, pane: u64) -> bool {
        self.a <= pane && pane < self.b
    }

    /// Empties the range and starts it at `at`, which is position `pos` in `panes`.
    pub(super) fn reset(&mut self, at: u64, pos: usize, panes: &VecDeque<Pane>) {
        (self.a, self.b) = (at, at);
        (self.lo, self.hi) = (pos, pos);
        self.sync(panes);
    }

    /// Reads the starts of the panes at `lo` and `hi` again (after panes were removed).
    pub(super) fn sync(&mut self, panes: &VecDeque<Pane>) {
        self.next_out = start_at(panes, self.lo);
        self.next_in = start_at(panes, self.hi);
    }

    /// Moves the range to `[a, b)`, forward: panes entering first, then panes leaving
    /// (every pane leaving starts before `b`, so it has entered). Reads only the start of
    /// the pane after each one that enters or leaves.
    #[inline]
    pub(super) fn move_to(&mut self, panes: &VecDeque<Pane>, a: u64, b: u64) {
        while self.next_in < b {
            self.hi += 1;
            self.next_in = start_at(panes, self.hi);
        }
        while self.next_out < a {
            self.lo += 1;
            self.next_out = start_at(panes, self.lo);
        }
        (self.a, self.b) = (a, b);
    }

    /// A pane starting at `start` is being inserted into the key's panes (sorted by start):
    /// it lands after `lo` unless it starts before `a`, and likewise for `hi` and `b`.
    #[inline]
    pub(super) fn pane_inserted(&mut self, start: u64) {
        if start < self.a {
            self.lo += 1;
        } else {
            self.next_out = self.next_out.min(start);
        }
        if start < self.b {
            self.hi += 1;
        } else {
            self.next_in = self.next_in.min(start);
        }
    }

    /// Checks (in debug builds) that the positions and starts match `panes`.
    #[inline]
    pub(super) fn debug_check(&self, panes: &VecDeque<Pane>) {
        debug_assert_eq!(self.lo, panes.partition_point(|p| p.start < self.a));
        debug_assert_eq!(self.hi, panes.partition_point(|p| p.start < self.b));
        debug_assert_eq!(self.next_out, start_at(panes, self.lo));
        debug_assert_eq!(self.next_in, start_at(panes, self.hi));
    }
}

/// One pane of one key: the records that belong to every window containing it.
pub(super) struct Pane {
    pub(super) start: u64,
    /// Whether `full` has seen a record (a pane may hold only partial states).
    pub(super) has_full: bool,
    pub(super) full: Accs,
}

/// Merges pane states `from` into `into`.
#[inline]
pub(super) fn merge_into(into: &mut Accs, from: &[Acc]) {
    into.iter_mut().zip(from).for_each(|(a, b)| a.merge(b));
}
