//! `Window[...]` for subtractable aggregates (COUNT, COUNT(x), integer SUM): each key's
//! window value is a running sum that every pane's partial aggregate enters once and
//! leaves once, in the order of window ends.
//!
//! A partial aggregate of pane `p` (what the source's combiner sends) belongs to the
//! windows ending in `[e_in, last_end_of_pane(p)]`, `slide` apart, where `e_in` is the
//! first window end of the pane, or its `cut` when some of them had expired when the
//! records were read. So it is written down twice, as *deltas*: `+cells` in the bucket of
//! window end `e_in` and `-cells` in the bucket of `e_out = last_end_of_pane(p) + slide`.
//! Windows are then processed in order of their ends, all keys of a worker at once: when
//! the frontier reaches window `E`'s trigger, its bucket is added into the keys' running
//! sums, and every key whose window `E` holds anything is emitted, in slot order.
//!
//! Compared with the pane operator (`window.rs`), which keeps a deque of panes per key and
//! walks each key's windows on its own timer, this reads and writes only dense arrays: an
//! insert is a key lookup and two appends; firing a window is a pass over its bucket and a
//! sequential scan of the running sums (a few bytes per key, in cache for ~10^5 keys),
//! which is what a HOP feature (a row per key per slide) spends its time on.
//!
//! Late records (stream mode) whose first window already fired are added to the running
//! sums at once (if they have not left yet) and correct every fired window they belong
//! to: the values emitted for each window are kept, by slot, until the window's lateness
//! has passed, and a correction is the kept value plus the record's delta, with
//! `revision + 1` (or `revision 0` for a key the window had not emitted). In backfill mode a
//! window fires at `end + allowed_lateness`, after every record it will ever get: nothing
//! is kept and nothing corrected.
//!
//! A key's slot is freed when every delta it scheduled has been applied (its running sums
//! are then zero) and, in stream mode, its kept values have expired, so memory is bounded
//! by the windows in flight, not by history.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use smallvec::SmallVec;

use planner::aggregate::AggFunc;
use planner::types::{DataType, Value};
use planner::window::Window;
use planner::FeaturePlan;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use crate::accumulator::Acc;
use crate::key_slab::{KeySlab, Slot, AHEAD};
use crate::operators::emit::{emit_chunk_at_frontier, Firing};
use crate::record::{FeatureRow, PartialAggregate};
use crate::state::RunState;

use super::fused_sink::FusedFileSink;
use super::window::{key_hash, EmitPolicy, EMIT_CHUNK};
use super::window_rows::{RowOut, Rows, Shown};

/// `schedule`'s kinds of delta.
const ENTERING: usize = 0;
const LEAVING: usize = 1;

/// How one aggregate is kept in a key's row of cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    /// One cell: the count.
    Count,
    /// Two cells: the sum, and how many deltas with a non-null sum are in the window.
    SumInt,
}

impl Cell {
    fn of(func: AggFunc, ty: DataType) -> Option<Cell> {
        match func {
            AggFunc::CountStar | AggFunc::Count => Some(Cell::Count),
            AggFunc::Sum if ty == DataType::Int => Some(Cell::SumInt),
            _ => None,
        }
    }

    fn width(self) -> usize {
        match self {
            Cell::Count => 1,
            Cell::SumInt => 2,
        }
    }
}

/// The deltas to apply when a window end is processed: for each, the slot of its key and
/// its `width` cells (cell 0 counts deltas in the window: +1 entering, -1 leaving).
#[derive(Default)]
struct Bucket {
    slots: Vec<Slot>,
    cells: Vec<i64>,
}

/// Buckets by window end: an arena of buckets (their allocations reused) indexed by a
/// BTreeMap, with the last two ends looked up remembered (the records of a batch mostly
/// share their pane, so their two ends).
#[derive(Default)]
struct Buckets {
    index: BTreeMap<u64, usize>,
    arena: Vec<Bucket>,
    free: Vec<usize>,
    memo: [(u64, usize); 2],
}

impl Buckets {
    fn new() -> Self {
        Buckets {
            memo: [(u64::MAX, 0); 2],
            ..Default::default()
        }
    }

    /// The bucket of window end `end`, created empty if needed.
    #[inline]
    fn get(&mut self, end: u64) -> &mut Bucket {
        let i = if self.memo[0].0 == end {
            self.memo[0].1
        } else if self.memo[1].0 == end {
            self.memo.swap(0, 1);
            self.memo[0].1
        } else {
            let (arena, free) = (&mut self.arena, &mut self.free);
            let i = *self.index.entry(end).or_insert_with(|| {
                free.pop().unwrap_or_else(|| {
                    arena.push(Bucket::default());
                    arena.len() - 1
                })
            });
            self.memo[1] = self.memo[0];
            self.memo[0] = (end, i);
            i
        };
        &mut self.arena[i]
    }

    /// The smallest window end with a bucket.
    fn first(&self) -> Option<u64> {
        self.index.keys().next().copied()
    }

    /// Removes the bucket of `end` (the caller gives it back with `recycle`).
    fn take(&mut self, end: u64) -> Option<Bucket> {
        let i = self.index.remove(&end)?;
        for m in &mut self.memo {
            if m.0 == end {
                *m = (u64::MAX, 0);
            }
        }
        Some(std::mem::take(&mut self.arena[i])).inspect(|_| self.free.push(i))
    }

    /// Returns a processed bucket's allocations for reuse.
    fn recycle(&mut self, mut bucket: Bucket) {
        if let Some(&i) = self.free.last() {
            bucket.slots.clear();
            bucket.cells.clear();
            self.arena[i] = bucket;
        }
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// The values a fired window emitted (stream mode), kept for corrections until its
/// lateness has passed: the window's own emission, by slot in slot order, and the keys
/// that corrections added later (the window had not emitted them).
#[derive(Default)]
struct Emitted {
    slots: Vec<Slot>,
    /// Last revision emitted; `u32::MAX` for a value a correction created and that is not
    /// emitted yet.
    revisions: Vec<u32>,
    /// Which members show a value (see [`Shown`]).
    shown: Vec<Shown>,
    cells: Vec<i64>,
    added: HashMap<Slot, (u32, Shown, SmallVec<[i64; 4]>)>,
}

/// A kept window value of one key: its last revision, which members show it, its cells.
type KeptValue<'a> = (&'a mut u32, &'a mut Shown, &'a mut [i64]);

impl Emitted {
    /// The kept revision and cells of `slot`, if any.
    fn get_mut(&mut self, slot: Slot, width: usize) -> Option<KeptValue<'_>> {
        match self.slots.binary_search(&slot) {
            Ok(i) => Some((
                &mut self.revisions[i],
                &mut self.shown[i],
                &mut self.cells[i * width..][..width],
            )),
            Err(_) => self
                .added
                .get_mut(&slot)
                .map(|(r, v, c)| (r, v, &mut c[..])),
        }
    }

    /// The same, created empty (and not emitted) if the window had no value for `slot`.
    fn get_or_add(&mut self, slot: Slot, width: usize) -> KeptValue<'_> {
        if self.slots.binary_search(&slot).is_err() {
            self.added
                .entry(slot)
                .or_insert_with(|| (u32::MAX, 0, smallvec::smallvec![0; width]));
        }
        self.get_mut(slot, width).expect("just added")
    }
}

/// An emission in progress: window `end`, continuing at slot `next`.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    end: u64,
    next: usize,
}

/// The state of one window operator (a worker's share of the keys).
pub(super) struct DeltaState {
    rows: Rows,
    window: Window,
    lateness: u64,
    policy: EmitPolicy,
    cells: SmallVec<[Cell; 2]>,
    /// Cells per key: 1 (deltas in the window) plus each aggregate's.
    width: usize,
    keys: KeySlab<()>,
    /// `stride = width + 5` cells per slot: the running sums of the last window processed,
    /// then how many of the key's deltas are scheduled and not yet applied, then the window
    /// end and position in its bucket of the key's latest entering and leaving deltas (see
    /// `schedule`); all beside the sums, so that an insert or a delta applied touches one
    /// place per key.
    running: Vec<i64>,
    stride: usize,
    /// Per slot (stream mode): the frontier at which its kept values have all expired.
    keep_until: Vec<u64>,
    /// Slots whose deltas are all applied, to free once their kept values expire.
    evictions: BTreeMap<u64, Vec<Slot>>,
    buckets: Buckets,
    /// The smallest window end not processed yet (`None` before the first).
    next_end: Option<u64>,
    /// Slots with a non-empty window (cell 0 above zero).
    active: usize,
    cursor: Option<Cursor>,
    /// Stream mode with lateness: what each fired window emitted, by window end.
    history: Option<BTreeMap<u64, Emitted>>,
    /// Corrections of the batch being inserted: (window end, slot).
    dirty: Vec<(u64, Slot)>,
    scratch: Vec<i64>,
    state: Arc<RunState>,
}

impl DeltaState {
    /// One state for `members` (as for the pane operator: they share keys, rows and
    /// aggregates, and the first one's plan runs), whose plan has running sums
    /// (`FeaturePlan::running_sums`, which the planner decides).
    pub(super) fn shared(
        members: &[(u32, &FeaturePlan)],
        policy: EmitPolicy,
        state: Arc<RunState>,
    ) -> Self {
        let plan = members[0].1;
        let cells: SmallVec<[Cell; 2]> = plan
            .aggs
            .iter()
            .map(|a| Cell::of(a.func, a.ty).expect("subtractable aggregates only"))
            .collect();
        let width = 1 + cells.iter().map(|c| c.width()).sum::<usize>();
        let lateness = plan.allowed_lateness_ms;
        DeltaState {
            rows: Rows::new(members),
            window: plan.window,
            lateness,
            policy,
            cells,
            width,
            keys: KeySlab::default(),
            running: Vec::new(),
            stride: width + 5,
            keep_until: Vec::new(),
            evictions: BTreeMap::new(),
            buckets: Buckets::new(),
            next_end: None,
            active: 0,
            cursor: None,
            history: (policy == EmitPolicy::OnWatermark && lateness > 0).then(BTreeMap::new),
            dirty: Vec::new(),
            scratch: Vec::new(),
            state,
        }
    }

    /// The frontier time at which window `end` is processed.
    #[inline]
    fn trigger(&self, end: u64) -> u64 {
        match self.policy {
            EmitPolicy::OnWatermark => end,
            EmitPolicy::Final => end.saturating_add(self.lateness),
        }
    }

    /// Live keys (the state's size, with the buckets).
    #[cfg(test)]
    pub(super) fn keys(&self) -> usize {
        self.keys.len()
    }

    /// Deltas held in buckets.
    #[cfg(test)]
    pub(super) fn deltas(&self) -> usize {
        self.buckets
            .index
            .values()
            .map(|&i| self.buckets.arena[i].slots.len())
            .sum()
    }

    /// Whether nothing is held: no key, bucket, kept value or eviction.
    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.keys.is_empty()
            && self.buckets.is_empty()
            && self.evictions.is_empty()
            && self.history.as_ref().is_none_or(BTreeMap::is_empty)
    }

    /// Adds a batch of records; corrections of fired windows (stream mode) go to `out`.
    pub(super) fn insert_all<O: RowOut>(&mut self, recs: &[PartialAggregate], out: &mut O) {
        // A few records at a time: their keys' index buckets, then their entries and
        // running rows are read together, so their misses overlap (one insert after
        // another, each would wait for three misses in a row); then the inserts.
        let mut found = Vec::with_capacity(AHEAD);
        for chunk in recs.chunks(AHEAD) {
            let (running, at) = (&self.running, |s: Slot| {
                s as usize * self.stride + self.width
            });
            self.keys
                .candidates(chunk.iter().map(|r| &r.key), &mut found, |s, e| {
                    let pending = running.get(at(s)).map_or(0, |p| *p as u64);
                    pending.wrapping_add(e.key.len() as u64)
                });
            for (rec, candidate) in chunk.iter().zip(&found) {
                let Some(span) = self.span(rec) else {
                    continue; // too late for every window: the source counted it
                };
                let slot = match *candidate {
                    Some(s) if self.keys.get(s).is_some_and(|e| e.key == rec.key) => s as usize,
                    _ => self.slot(rec),
                };
                self.insert(slot, rec, span);
            }
        }
        if !self.dirty.is_empty() {
            self.corrections(out);
        }
    }

    /// The cells of `rec`'s aggregates as an entering delta, into `scratch` (a leaving
    /// delta is their negation, see `schedule`).
    #[inline]
    fn delta_cells(cells: &[Cell], rec: &PartialAggregate, scratch: &mut Vec<i64>) {
        scratch.clear();
        scratch.push(1);
        for (cell, acc) in cells.iter().zip(&rec.accs) {
            match (cell, acc) {
                (Cell::Count, Acc::Count(n)) => scratch.push(*n),
                (Cell::SumInt, Acc::SumInt(Some(s))) => scratch.extend([*s, 1]),
                (Cell::SumInt, Acc::SumInt(None)) => scratch.extend([0, 0]),
                (c, a) => unreachable!("aggregate {a:?} for a {c:?} cell"),
            }
        }
    }

    /// The slot of a record's key, with its per-slot arrays grown to hold it.
    #[inline]
    fn slot(&mut self, rec: &PartialAggregate) -> usize {
        let mut new = false;
        let slot = self.keys.slot_or_insert(&rec.key, || new = true) as usize;
        if (slot + 1) * self.stride > self.running.len() {
            self.running.resize((slot + 1) * self.stride, 0);
        } else if new {
            // A reused slot: its sums and pending count are zero; forget where the key
            // before it had its latest deltas.
            self.running[slot * self.stride..][..self.stride].fill(0);
        }
        if self.history.is_some() {
            if slot >= self.keep_until.len() {
                self.keep_until.resize(slot + 1, 0);
            }
            if new {
                self.keep_until[slot] = 0;
            }
        }
        slot
    }

    /// The window ends a record enters at, is last in and leaves at: `(e_in, last, e_out)`;
    /// `None` if it is too late for every window of its pane.
    #[inline]
    fn span(&self, rec: &PartialAggregate) -> Option<(u64, u64, u64)> {
        let w = &self.window;
        let e_in = w.first_end_of_pane(rec.pane).max(rec.cut);
        let last = w.last_end_of_pane(rec.pane);
        (e_in <= last).then(|| (e_in, last, last.saturating_add(w.slide_ms)))
    }

    /// Adds a record of the key in `slot`, which enters, is last in and leaves the windows
    /// ending at `span`.
    fn insert(
        &mut self,
        slot: usize,
        rec: &PartialAggregate,
        (e_in, last, e_out): (u64, u64, u64),
    ) {
        let w = self.window;
        let next_end = self.next_end.unwrap_or(0);
        Self::delta_cells(&self.cells, rec, &mut self.scratch);
        if e_in >= next_end {
            self.schedule(slot, e_in, ENTERING);
            self.schedule(slot, e_out, LEAVING);
            return;
        }
        // Its first windows fired already (stream mode): correct them, and join the
        // running sums now if it has not left yet.
        let fired_last = next_end - w.slide_ms;
        // Records are stamped at or below the watermark they were judged by, so in backfill
        // mode (windows fire `lateness` after their end) and without lateness no record is
        // for a fired window; were one, it would still join the running sums below.
        debug_assert!(
            self.history.is_some(),
            "a record for a fired window: {rec:?}"
        );
        let Some(history) = self.history.as_mut() else {
            return self.join_now(slot, e_out, next_end);
        };
        // A window being emitted that has not reached this key yet will emit the running
        // sums, which the record joins below: not a correction.
        let unemitted = self
            .cursor
            .filter(|c| slot >= c.next)
            .map_or(u64::MAX, |c| c.end);
        let mut end = e_in;
        while end <= last.min(fired_last) {
            if end != unemitted {
                let (_, _, cells) = history
                    .entry(end)
                    .or_default()
                    .get_or_add(slot as Slot, self.width);
                cells
                    .iter_mut()
                    .zip(&self.scratch)
                    .for_each(|(c, d)| *c = c.wrapping_add(*d));
                self.dirty.push((end, slot as Slot));
            }
            end += w.slide_ms;
        }
        let keep = fired_last.saturating_add(self.lateness);
        self.keep_until[slot] = self.keep_until[slot].max(keep);
        self.join_now(slot, e_out, next_end);
    }

    /// Adds the delta in `scratch`, of a record whose first windows were processed, to its
    /// key's running sums, if it has not left them yet (`e_out`), and schedules its leaving.
    fn join_now(&mut self, slot: usize, e_out: u64, next_end: u64) {
        if e_out >= next_end {
            let row = &mut self.running[slot * self.stride..][..self.width];
            let was_active = row[0] > 0;
            row.iter_mut()
                .zip(&self.scratch)
                .for_each(|(c, d)| *c = c.wrapping_add(*d));
            self.active += usize::from(!was_active && row[0] > 0);
            self.schedule(slot, e_out, LEAVING);
        } else if self.pending(slot) == 0 {
            self.schedule_eviction(slot as Slot);
        }
    }

    /// How many of `slot`'s deltas are scheduled and not applied yet.
    #[inline]
    fn pending(&self, slot: usize) -> i64 {
        self.running[slot * self.stride + self.width]
    }

    /// Schedules the delta in `scratch` (negated for `LEAVING`) for `slot` at window end
    /// `end`: added to the key's
    /// latest delta of the same kind (`ENTERING` or `LEAVING`) if that is in the same bucket
    /// (a key's records of one pane arrive in many batches: without this, a TUMBLE hour or
    /// a 30-day window's leaving bucket would hold a delta per batch, not per key), else
    /// appended.
    #[inline]
    fn schedule(&mut self, slot: usize, end: u64, kind: usize) {
        let base = slot * self.stride + self.width;
        let width = self.width;
        let sign = if kind == LEAVING { -1 } else { 1 };
        let delta = self.scratch.iter().map(|d| d.wrapping_mul(sign));
        let bucket = self.buckets.get(end);
        let (last_end, last_at) = (base + 1 + 2 * kind, base + 2 + 2 * kind);
        let at = self.running[last_at] as usize;
        if self.running[last_end] as u64 == end && bucket.slots.get(at) == Some(&(slot as Slot)) {
            bucket.cells[at * width..][..width]
                .iter_mut()
                .zip(delta)
                .for_each(|(c, d)| *c = c.wrapping_add(d));
            return;
        }
        self.running[last_end] = end as i64;
        self.running[last_at] = bucket.slots.len() as i64;
        bucket.slots.push(slot as Slot);
        bucket.cells.extend(delta);
        self.running[base] += 1;
    }

    /// The aggregate values of a row of cells.
    #[inline]
    fn values<'a>(cells: &'a [Cell], row: &'a [i64]) -> impl Iterator<Item = Value> + 'a {
        let mut at = 1;
        cells.iter().map(move |c| {
            let v = match c {
                Cell::Count => Value::Int(row[at]),
                Cell::SumInt if row[at + 1] > 0 => Value::Int(row[at]),
                Cell::SumInt => Value::Null,
            };
            at += c.width();
            v
        })
    }

    /// Emits the corrections noted in `dirty`: one row per (window, key), with the kept
    /// value after all of the batch's records.
    fn corrections<O: RowOut>(&mut self, out: &mut O) {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        let history = self.history.as_mut().expect("corrections keep history");
        let mut corrected = 0;
        for &(end, slot) in &dirty {
            let kept = history.get_mut(&end).expect("a corrected window is kept");
            let (revision, shown, row) = kept
                .get_mut(slot, self.width)
                .expect("a corrected key is kept");
            *revision = match *revision {
                u32::MAX => 0,
                r => r + 1,
            };
            let before = out.len();
            let key = &self.keys.get(slot).expect("a kept key is live").key;
            self.rows.build(
                key,
                Self::values(&self.cells, row),
                end,
                *revision,
                shown,
                out,
            );
            // A correction that emitted nothing (HAVING still rejects it) corrects nothing.
            corrected += u64::from(*revision > 0 && out.len() > before);
        }
        RunState::add(&self.state.corrections, corrected);
        dirty.clear();
        self.dirty = dirty;
    }

    /// Frees `slot` once its kept values expire (at once without history).
    fn schedule_eviction(&mut self, slot: Slot) {
        match &self.history {
            None => self.keys.remove(slot),
            Some(_) => {
                let at = self.keep_until[slot as usize];
                self.evictions.entry(at).or_default().push(slot);
            }
        }
    }

    /// Adds the deltas of window `end` into the running sums.
    fn apply_bucket(&mut self, end: u64) {
        let Some(bucket) = self.buckets.take(end) else {
            return;
        };
        let (width, stride) = (self.width, self.stride);
        for (&slot, delta) in bucket.slots.iter().zip(bucket.cells.chunks_exact(width)) {
            let s = slot as usize;
            let row = &mut self.running[s * stride..][..stride];
            let was_active = row[0] > 0;
            row.iter_mut()
                .zip(delta)
                .for_each(|(c, d)| *c = c.wrapping_add(*d));
            row[width] -= 1;
            let (now_active, pending) = (row[0] > 0, row[width]);
            if was_active != now_active {
                if now_active {
                    self.active += 1;
                } else {
                    self.active -= 1;
                }
            }
            if pending == 0 {
                debug_assert!(
                    self.running[s * stride..][..width].iter().all(|c| *c == 0),
                    "a key with no pending deltas has empty running sums"
                );
                if let Some(keep) = self.keep_until.get_mut(s) {
                    *keep = (*keep).max(end.saturating_add(self.lateness));
                }
                self.schedule_eviction(slot);
            }
        }
        self.buckets.recycle(bucket);
    }

    /// Emits window `cursor.end` for the slots from `cursor.next` on, until `out` holds
    /// `limit` rows; returns whether the window is done.
    fn emit<O: RowOut>(
        &mut self,
        cursor: &mut Cursor,
        frontier: u64,
        out: &mut O,
        limit: usize,
    ) -> bool {
        let (width, stride) = (self.width, self.stride);
        let slots = self.running.len() / stride;
        let end = cursor.end;
        // Kept for corrections only while a record may still be on time for the window
        // (at the end of input, or after a jump of the frontier, none can).
        let correctable = end.saturating_add(self.lateness) > frontier;
        let mut kept = (self.history.as_mut())
            .filter(|_| correctable)
            .map(|h| h.entry(end).or_default());
        while cursor.next < slots {
            let s = cursor.next;
            cursor.next += 1;
            let row = &self.running[s * stride..][..width];
            if row[0] <= 0 {
                continue;
            }
            let key = &self
                .keys
                .get(s as Slot)
                .expect("a slot with deltas is live")
                .key;
            let mut shown = 0;
            self.rows
                .build(key, Self::values(&self.cells, row), end, 0, &mut shown, out);
            if let Some(kept) = kept.as_mut() {
                kept.slots.push(s as Slot);
                kept.revisions.push(0);
                kept.shown.push(shown);
                kept.cells.extend_from_slice(row);
            }
            if out.len() >= limit {
                return cursor.next >= slots;
            }
        }
        true
    }

    /// Processes every window whose trigger is at or below `frontier`, in order, and
    /// frees what expired. Stops early, returning false, once `out` holds `limit` rows;
    /// call again to continue. Batches may be inserted in between: a late record for the
    /// window being emitted joins the running sums, and is a correction only for keys the
    /// emission has passed.
    pub(super) fn advance<O: RowOut>(&mut self, frontier: u64, out: &mut O, limit: usize) -> bool {
        loop {
            if let Some(mut cursor) = self.cursor.take() {
                if !self.emit(&mut cursor, frontier, out, limit) {
                    self.cursor = Some(cursor);
                    return false;
                }
            }
            let end = match self.next_end {
                Some(e) if self.active > 0 => e,
                _ => match self.buckets.first() {
                    Some(e) => e,
                    None => break,
                },
            };
            if self.trigger(end) > frontier {
                break;
            }
            // Window by window, so that a frontier that jumps over many windows (the end of
            // input) does not hold all their kept values and keys until the last is done.
            self.expire(frontier);
            self.apply_bucket(end);
            self.next_end = Some(end.saturating_add(self.window.slide_ms));
            if self.active > 0 {
                self.cursor = Some(Cursor { end, next: 0 });
            }
        }
        self.expire(frontier);
        true
    }

    /// Drops the kept values of windows that no record can correct any more at `frontier`
    /// (`end + lateness <= frontier`), then frees the keys whose kept values all expired.
    fn expire(&mut self, frontier: u64) {
        if let Some(history) = &mut self.history {
            while history
                .first_key_value()
                .is_some_and(|(e, _)| e.saturating_add(self.lateness) <= frontier)
            {
                history.pop_first();
            }
        }
        while let Some(entry) = self.evictions.first_entry() {
            if *entry.key() > frontier {
                break;
            }
            let (at, slots) = entry.remove_entry();
            for slot in slots {
                let s = slot as usize;
                if self.pending(s) == 0 && self.keep_until[s] == at {
                    self.keys.remove(slot);
                }
            }
        }
    }
}

/// The timely operator over a [`DeltaState`]: exchanged by key, windows processed as the
/// frontier passes their triggers, rows stamped at the frontier; or, with a `fused` file
/// sink, rows written to its file as they are made (the output stream then stays empty).
pub(super) fn render<'s>(
    input: Stream<'s, u64, Vec<PartialAggregate>>,
    name: &str,
    mut ds: DeltaState,
    fused: Option<FusedFileSink>,
) -> Stream<'s, u64, Vec<FeatureRow>> {
    let exchange = Exchange::new(|r: &PartialAggregate| key_hash(&r.key));
    let scope = input.scope();
    input.unary_frontier(exchange, name, move |cap, info| {
        let activator = scope.activator_for(info.address);
        let mut cap: Option<Capability<u64>> = Some(cap);
        let mut out = Vec::new();
        let mut fused = fused;
        let mut firing = Firing::default();
        move |(input, frontier), output| {
            let f = frontier.frontier().first().copied();
            if let Some(sink) = fused.as_mut() {
                input.for_each(|_, data| {
                    if sink.ready(!data.is_empty()) {
                        ds.insert_all(data, sink);
                    }
                    data.clear();
                });
                if sink.closed() {
                    cap = None;
                    return;
                }
                if !sink.ready(false) {
                    // No rows came and the sources have not connected: nothing to write.
                    // A run that ends so (a failure, a stop) leaves the previous file.
                    if f.is_none() {
                        cap = None;
                    }
                    return;
                }
                let now = firing.through(f, &ds.state);
                let complete = ds.advance(now, sink, EMIT_CHUNK);
                sink.end_activation(complete && f.is_none());
                // Nothing goes downstream; the capability only follows the frontier.
                emit_chunk_at_frontier(&mut cap, f, &mut out, output, complete, &activator);
                return;
            }
            input.for_each(|_, data| {
                ds.insert_all(data, &mut out);
                data.clear();
            });
            // Room for a chunk and the rows of the member features of the slot that
            // crosses the limit, so `out` is not regrown (and its rows copied).
            let now = firing.through(f, &ds.state);
            out.reserve(2 * EMIT_CHUNK);
            let complete = ds.advance(now, &mut out, EMIT_CHUNK);
            emit_chunk_at_frontier(&mut cap, f, &mut out, output, complete, &activator);
        }
    })
}
