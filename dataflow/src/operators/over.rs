//! `Over[...]`: per-row OVER aggregates in event time, keyed by the partition key.
//!
//! Each partition keeps its rows sorted by (event time, values); rows of equal time are
//! ordered by their values so the order never depends on arrival. (Rows not emitted yet
//! wait in a min-heap and join the sorted rows, in order, when their trigger fires: rows
//! arriving out of order then cost O(log n), not a move of every newer row.) Output rows are per
//! (partition, event time): rows sharing a time share the upsert key, and the row emitted
//! for that time is computed at the last of them (for RANGE frames all of them have the
//! same aggregates anyway, as the frame holds every row of that time).
//!
//! Emission (`EmitPolicy::OnWatermark`, stream mode): the row(s) at time `t` are emitted
//! when the frontier (the watermark) passes `t` (reaches `t + 1`). A row read later but
//! within `allowed_lateness` (`t + 1 + lateness > watermark` when read; the source sends
//! the others to the dead letters) is inserted at its place; its own output row is emitted
//! at once, and every already emitted row of the partition whose frame now holds it (the
//! rows up to `range` after it, or the `n` rows after it for ROWS frames, so in particular
//! the partition's current value when it changed) is re-emitted with `revision + 1`.
//!
//! `EmitPolicy::Final` (backfill) emits each row once, when the frontier reaches
//! `t + 1 + lateness`: every row that may still join its frame has arrived by then, so the
//! values equal stream mode's after corrections.
//!
//! State: with `F` the frontier, no row older than `F - lateness` can be inserted or
//! (re-)emitted any more, so a partition keeps only the rows from `F - lateness - range`
//! on (RANGE frames), or the `n` rows before `F - lateness` and those after (ROWS frames,
//! and RANGE frames whose aggregates are all `TOP`): memory is bounded by the frame and
//! the lateness, not by history. (A ROWS frame reads the previous rows however old they
//! are, so a partition keeps its last `n + 1` rows while the job runs.)
//!
//! Cost: rows emitted in order (as the frontier passes them) slide one frame forward per
//! partition (`over_frame`): COUNT, integer SUM, AVG of integers, MIN, MAX and
//! COUNT(DISTINCT) cost O(1) amortized per row; float SUM (and AVG with floats) is
//! recomputed from the frame, as its rounding depends on the order of additions. `TOP` and
//! `ARRAY_AGG` rows emitted together are slices of one buffer holding the union of their
//! frames, so a firing copies each row's value once, not once per frame holding it (and a
//! JSON sink encodes that buffer once). A late row's insertion before the sliding frame's
//! end resets it. Corrections (re-emissions for late rows) of a partition are computed the
//! same way, together: one frame rebuilt at the first, slid through the others.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use smallvec::SmallVec;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use planner::over::{OverFrame, OverFunc, OverSpec};
use planner::types::{List, ListBuf, Value};
use planner::FeaturePlan;

use crate::accumulator::Acc;
use crate::operators::emit::{emit_at_frontier, revised, Firing};
use crate::operators::over_frame::{SlideAgg, Sliding};
use crate::operators::window::{key_hash, EmitPolicy};
use crate::record::{FeatureRow, Key, OverInput};
use crate::state::RunState;

/// OVER aggregation as an extension trait on partitioned row streams.
pub trait OverAggregate<'s> {
    /// Partitions rows by key across workers; emits one feature row per (partition, row
    /// time), with corrections in stream mode.
    fn over_aggregate(
        self,
        feature_index: u32,
        plan: &FeaturePlan,
        policy: EmitPolicy,
        state: Arc<RunState>,
    ) -> Stream<'s, u64, Vec<FeatureRow>>;
}

type Vals = SmallVec<[Value; 4]>;

struct Entry {
    time: u64,
    values: Vals,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
/// By (time, values): the order of a partition's rows.
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, &self.values).cmp(&(other.time, &other.values))
    }
}

#[derive(Default)]
struct Part {
    /// The rows whose trigger has fired (emitted, or being emitted), sorted by (time,
    /// values): every frame read is here. A late row is inserted here.
    rows: VecDeque<Entry>,
    /// The rows not emitted yet, all newer than `rows`: a min-heap, so rows arriving out
    /// of order cost O(log n) instead of moving the rows after them.
    pending: BinaryHeap<Reverse<Entry>>,
    /// Absolute index (rows ever evicted before it) of `rows[0]`.
    base: u64,
    /// The last frame emitted in order, with its running aggregates (`None` if the
    /// feature has none of them, or after an insertion into that frame).
    slide: Option<Sliding>,
    /// Stream mode with lateness: emitted row times and their last revision.
    revisions: BTreeMap<u64, u32>,
    /// Scheduled wake-up (emission or eviction), if any.
    wake: Option<u64>,
}

struct OverState {
    feature: u32,
    plan: FeaturePlan,
    spec: OverSpec,
    lateness: u64,
    policy: EmitPolicy,
    /// Rows kept before the oldest live row, for count-bounded frames.
    max_rows: Option<u64>,
    parts: HashMap<Key, Part, foldhash::fast::RandomState>,
    timers: BTreeMap<u64, Vec<Key>>,
    /// Every trigger at or below this has fired.
    fired_through: Option<u64>,
    scratch: Vec<Value>,
    /// The `OverFunc::Agg` aggregates' indices in `spec.aggs` (the sliding frame's slots).
    slide_slots: Vec<usize>,
}

/// The frontier at which the row(s) at `t` are emitted.
fn trigger(policy: EmitPolicy, lateness: u64, t: u64) -> u64 {
    match policy {
        EmitPolicy::OnWatermark => t.saturating_add(1),
        EmitPolicy::Final => t.saturating_add(1).saturating_add(lateness),
    }
}

/// The frame of the output row at `t`: (first row, last row of time `t`), if it has rows.
fn frame_of(frame: OverFrame, rows: &VecDeque<Entry>, t: u64) -> Option<(usize, usize)> {
    let end = rows.partition_point(|e| e.time <= t);
    if end == 0 || rows[end - 1].time != t {
        return None;
    }
    let r = end - 1;
    let lo = match frame {
        OverFrame::Range { preceding_ms } => {
            let from = t.saturating_sub(preceding_ms);
            rows.partition_point(|e| e.time < from)
        }
        OverFrame::Rows { preceding } => {
            r.saturating_sub(preceding.min(usize::MAX as u64) as usize)
        }
    };
    Some((lo, r))
}

/// The empty running aggregates of a sliding frame over `spec`'s aggregates `slots`.
fn slide_aggs(spec: &OverSpec, slots: &[usize]) -> Vec<SlideAgg> {
    slots
        .iter()
        .map(|&i| {
            let a = &spec.aggs[i];
            match a.func {
                OverFunc::Agg(f) => SlideAgg::new(f, a.ty, a.arg.is_none()),
                _ => unreachable!("slots are plain aggregates"),
            }
        })
        .collect()
}

/// The first row of `TOP(n)` over the frame `lo..=r`.
fn top_first(lo: usize, r: usize, n: u64) -> usize {
    lo.max((r + 1).saturating_sub(n.min(usize::MAX as u64) as usize))
}

/// An aggregate over frame rows, computed directly; `i`: its index in the rows' values.
fn direct<'a>(
    f: planner::aggregate::AggFunc,
    ty: planner::types::DataType,
    star: bool,
    frame: impl Iterator<Item = &'a Entry>,
    i: usize,
) -> Value {
    let mut acc = Acc::new(f, ty);
    for e in frame {
        acc.add(&e.values[i], star);
    }
    acc.value()
}

/// The feature row for the partition's row(s) at `t`, from `scratch` (source columns and
/// aggregates).
fn feature_row(
    feature: u32,
    plan: &FeaturePlan,
    key: &Key,
    t: u64,
    revision: u32,
    scratch: &[Value],
) -> FeatureRow {
    FeatureRow {
        feature,
        window_start: t as i64,
        window_end: t as i64,
        revision,
        values: plan.value_outputs().map(|o| o.expr.eval(scratch)).collect(),
        key: key.clone(),
        deleted: false,
    }
}

impl OverState {
    fn new(feature: u32, plan: &FeaturePlan, policy: EmitPolicy) -> Self {
        let spec = plan.over().expect("an OVER feature").clone();
        OverState {
            feature,
            lateness: plan.allowed_lateness_ms,
            policy,
            max_rows: spec.max_rows(),
            spec,
            plan: plan.clone(),
            parts: HashMap::default(),
            timers: BTreeMap::new(),
            fired_through: None,
            scratch: Vec::new(),
            slide_slots: plan
                .over()
                .expect("an OVER feature")
                .aggs
                .iter()
                .enumerate()
                .filter(|(_, a)| matches!(a.func, OverFunc::Agg(_)))
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// The frontier at which the row(s) at `t` are emitted.
    fn trigger(&self, t: u64) -> u64 {
        trigger(self.policy, self.lateness, t)
    }

    fn emitted(&self, t: u64) -> bool {
        self.fired_through.is_some_and(|f| self.trigger(t) <= f)
    }

    /// Rows held across all partitions (the state's size).
    #[cfg(test)]
    fn rows(&self) -> usize {
        self.parts
            .values()
            .map(|p| p.rows.len() + p.pending.len())
            .sum()
    }

    /// Adds a row; records in `dirty` the (partition, time) rows to emit now: the row
    /// itself if its time was already emitted, and the emitted rows whose frame holds it.
    fn insert(&mut self, rec: OverInput, dirty: &mut Vec<(Key, u64)>) {
        let late = self.emitted(rec.time);
        let frame = self.spec.frame;
        let OverInput {
            key,
            time: t,
            values,
        } = rec;
        let part = self.parts.entry(key.clone()).or_default();
        if !late {
            // Newer than every emitted row (its trigger is later).
            part.pending.push(Reverse(Entry { time: t, values }));
            self.reschedule(&key);
            return;
        }
        let pos = match part.rows.back() {
            Some(last) if (last.time, &last.values) > (t, &values) => part
                .rows
                .partition_point(|e| (e.time, &e.values) <= (t, &values)),
            _ => part.rows.len(),
        };
        part.rows.insert(pos, Entry { time: t, values });
        let index = part.base + pos as u64;
        if part.slide.as_ref().is_some_and(|s| index < s.hi) {
            part.slide = None;
        }
        {
            let mut marked = vec![t];
            let after = part.rows.range(pos + 1..);
            match frame {
                OverFrame::Range { preceding_ms } => {
                    let until = t.saturating_add(preceding_ms);
                    marked.extend(after.take_while(|e| e.time <= until).map(|e| e.time));
                }
                OverFrame::Rows { preceding } => {
                    let n = preceding.min(usize::MAX as u64) as usize;
                    marked.extend(after.take(n).map(|e| e.time));
                }
            }
            // Rows not emitted yet are computed when their trigger fires.
            for time in marked {
                if self.emitted(time) {
                    dirty.push((key.clone(), time));
                }
            }
        }
        self.reschedule(&key);
    }

    /// Registers the partition's next wake-up (its next emission or eviction) if earlier
    /// than the one scheduled; drops it if it holds nothing.
    fn reschedule(&mut self, key: &Key) {
        let next = self.next_wake(key);
        let Some(part) = self.parts.get_mut(key) else {
            return;
        };
        match next {
            None => {
                if part.rows.is_empty() && part.pending.is_empty() {
                    self.parts.remove(key);
                }
            }
            Some(n) => {
                if part.wake.is_none_or(|w| n < w) {
                    part.wake = Some(n);
                    self.timers.entry(n).or_default().push(key.clone());
                }
            }
        }
    }

    /// The next frontier at which the partition has a row to emit or a row to evict.
    fn next_wake(&self, key: &Key) -> Option<u64> {
        let part = self.parts.get(key)?;
        let rows = &part.rows;
        let first_pending = part.pending.peek().map(|Reverse(e)| e);
        let pending = first_pending.map(|e| self.trigger(e.time));
        let lateness = self.lateness;
        let by_range = match self.spec.frame {
            OverFrame::Range { preceding_ms } => rows.front().or(first_pending).map(|e| {
                e.time
                    .saturating_add(preceding_ms)
                    .saturating_add(lateness)
                    .saturating_add(1)
            }),
            OverFrame::Rows { .. } => None,
        };
        // (When the `m`th row is pending, its emission comes first.)
        let by_count = self.max_rows.and_then(|m| {
            let m = m.max(1) as usize;
            rows.get(m - 1)
                .filter(|_| rows.len() + part.pending.len() > m)
                .map(|e| e.time.saturating_add(lateness).saturating_add(1))
        });
        [pending, by_range, by_count].into_iter().flatten().min()
    }

    /// Drops rows no insertion or (re-)emission can read any more (see the module docs).
    fn evict(&mut self, key: &Key, frontier: u64) {
        let lateness = self.lateness;
        let frame = self.spec.frame;
        let max_rows = self.max_rows;
        let Some(part) = self.parts.get_mut(key) else {
            return;
        };
        let live = frontier.saturating_sub(lateness);
        let rows = &mut part.rows;
        // Oldest row a live row's frame can read, by count.
        let keep_by_count = max_rows.map(|m| {
            let first_live = rows.partition_point(|e| e.time < live);
            first_live.saturating_sub(m.max(1) as usize - 1)
        });
        let keep_by_range = match frame {
            OverFrame::Range { preceding_ms } => {
                let oldest = live.saturating_sub(preceding_ms);
                Some(rows.partition_point(|e| e.time < oldest))
            }
            OverFrame::Rows { .. } => None,
        };
        let drop = match (keep_by_count, keep_by_range) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => 0,
        };
        // The sliding frame lets go of the evicted rows (no frame emitted later holds them).
        let (base, cut) = (part.base, part.base + drop as u64);
        if let Some(s) = part.slide.as_mut() {
            if s.hi <= cut {
                part.slide = None;
            } else if s.lo < cut {
                let slots = &self.slide_slots;
                s.slide(cut, s.hi, |i, a| {
                    &rows[(i - base) as usize].values[slots[a]]
                });
            }
        }
        part.base = cut;
        rows.drain(..drop);
        while part
            .revisions
            .first_key_value()
            .is_some_and(|(t, _)| *t < live)
        {
            part.revisions.pop_first();
        }
    }

    /// The output rows at the partition's times `due` (ascending, with their revisions),
    /// in order: plain aggregates slide the partition's frame forward (rebuilt when it
    /// cannot get there: after an insertion into it, or for corrections behind it), `TOP`
    /// and `ARRAY_AGG` slice one buffer holding the union of the rows' frames.
    fn emit(&mut self, key: &Key, due: &[(u64, u32)], out: &mut Vec<FeatureRow>) {
        let OverState {
            parts,
            spec,
            plan,
            scratch,
            slide_slots,
            feature,
            ..
        } = self;
        let Some(part) = parts.get_mut(key) else {
            return;
        };
        let frames: Vec<(u64, u32, usize, usize)> = due
            .iter()
            .filter_map(|&(t, rev)| {
                frame_of(spec.frame, &part.rows, t).map(|(lo, r)| (t, rev, lo, r))
            })
            .collect();
        let (Some(&(_, _, lo0, r0)), Some(&(_, _, _, last))) = (frames.first(), frames.last())
        else {
            return;
        };
        // Per TOP / ARRAY_AGG: the buffer of the rows' frames and its first row.
        let buffers: Vec<Option<(Arc<ListBuf>, usize)>> = spec
            .aggs
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let first = match a.func {
                    OverFunc::Agg(_) => return None,
                    OverFunc::Top(n) => top_first(lo0, r0, n),
                    OverFunc::ArrayAgg => lo0,
                };
                let items = part
                    .rows
                    .range(first..=last)
                    .map(|e| e.values[i].clone())
                    .collect();
                Some((ListBuf::new(items), first))
            })
            .collect();
        let naggs = spec.aggs.len();
        let width = spec.source_width;
        for (t, revision, lo, r) in frames {
            if !slide_slots.is_empty() {
                let (a, b) = (part.base + lo as u64, part.base + r as u64 + 1);
                if !part.slide.as_ref().is_some_and(|s| s.reaches(a, b)) {
                    part.slide = Some(Sliding::new(a, slide_aggs(spec, slide_slots)));
                }
                let Part {
                    rows, base, slide, ..
                } = &mut *part;
                let base = *base;
                let slots = &*slide_slots;
                slide
                    .as_mut()
                    .expect("a sliding frame")
                    .slide(a, b, |i, s| &rows[(i - base) as usize].values[slots[s]]);
            }
            let rows = &part.rows;
            scratch.clear();
            scratch.resize(width + naggs, Value::Null);
            for (j, c) in spec.carried.iter().enumerate() {
                scratch[*c] = rows[r].values[naggs + j].clone();
            }
            let mut slot = 0;
            for (i, a) in spec.aggs.iter().enumerate() {
                scratch[width + i] = match (a.func, &buffers[i]) {
                    (OverFunc::Agg(f), _) => {
                        let slide = part.slide.as_ref().expect("a sliding frame");
                        slot += 1;
                        slide.aggs[slot - 1].value().unwrap_or_else(|| {
                            direct(f, a.ty, a.arg.is_none(), rows.range(lo..=r), i)
                        })
                    }
                    (OverFunc::Top(n), Some((buf, start))) => {
                        let first = top_first(lo, r, n);
                        Value::List(List::slice(buf, first - start, r + 1 - first))
                    }
                    (OverFunc::ArrayAgg, Some((buf, start))) => {
                        Value::List(List::slice(buf, lo - start, r + 1 - lo))
                    }
                    _ => unreachable!("buffers for TOP and ARRAY_AGG"),
                };
            }
            out.push(feature_row(*feature, plan, key, t, revision, scratch));
        }
    }

    fn record_revision(&mut self) -> bool {
        self.policy == EmitPolicy::OnWatermark && self.lateness > 0
    }

    /// Emits the partition's pending rows whose trigger is at or below `frontier`, evicts,
    /// and schedules its next wake-up. `at`: the timer entry; stale entries do nothing.
    fn wake(&mut self, key: &Key, at: u64, frontier: u64, out: &mut Vec<FeatureRow>) {
        let (policy, lateness) = (self.policy, self.lateness);
        let Some(part) = self.parts.get_mut(key).filter(|p| p.wake == Some(at)) else {
            return;
        };
        part.wake = None;
        let mut due = Vec::new();
        while part
            .pending
            .peek()
            .is_some_and(|Reverse(e)| trigger(policy, lateness, e.time) <= frontier)
        {
            let Reverse(e) = part.pending.pop().expect("a pending row");
            if due.last() != Some(&e.time) {
                due.push(e.time);
            }
            part.rows.push_back(e);
        }
        let due: Vec<(u64, u32)> = due.into_iter().map(|t| (t, 0)).collect();
        self.emit(key, &due, out);
        if self.record_revision() {
            if let Some(p) = self.parts.get_mut(key) {
                for (t, _) in due {
                    p.revisions.insert(t, 0);
                }
            }
        }
        self.evict(key, frontier);
        let next = self.next_wake(key);
        let part = self.parts.get_mut(key).expect("the partition");
        match next {
            None if part.rows.is_empty() && part.pending.is_empty() => {
                self.parts.remove(key);
            }
            None => {}
            Some(n) => {
                part.wake = Some(n);
                self.timers.entry(n).or_default().push(key.clone());
            }
        }
    }

    /// Fires every wake-up at or below `frontier`.
    fn advance(&mut self, frontier: u64, out: &mut Vec<FeatureRow>) {
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() > frontier {
                break;
            }
            let (t, keys) = entry.remove_entry();
            for k in keys {
                self.wake(&k, t, frontier, out);
            }
        }
        self.fired_through = Some(frontier);
        if frontier >= u64::MAX / 2 {
            // The input is complete: nothing can be inserted or emitted any more. (ROWS
            // frames otherwise keep a partition's last rows however old they are.)
            self.parts.clear();
            self.timers.clear();
        }
    }

    /// Emits the rows marked by late insertions: first emissions and corrections.
    fn corrections(&mut self, dirty: &mut Vec<(Key, u64)>, out: &mut Vec<FeatureRow>) {
        dirty.sort();
        dirty.dedup();
        let record = self.record_revision();
        let mut due = Vec::new();
        let mut rest = &dirty[..];
        // Per partition, its marked times in order, computed together like a firing's.
        while let Some((key, _)) = rest.first() {
            let n = rest.iter().take_while(|(k, _)| k == key).count();
            let Some(p) = self.parts.get_mut(key) else {
                rest = &rest[n..];
                continue;
            };
            due.clear();
            for (_, t) in &rest[..n] {
                let r = p.revisions.get(t).map_or(0, |r| r + 1);
                if record {
                    p.revisions.insert(*t, r);
                }
                due.push((*t, r));
            }
            self.emit(key, &due, out);
            rest = &rest[n..];
        }
        dirty.clear();
    }
}

impl<'s> OverAggregate<'s> for Stream<'s, u64, Vec<OverInput>> {
    fn over_aggregate(
        self,
        feature_index: u32,
        plan: &FeaturePlan,
        policy: EmitPolicy,
        state: Arc<RunState>,
    ) -> Stream<'s, u64, Vec<FeatureRow>> {
        let name = format!("Over[{}]", plan.name);
        let exchange = Exchange::new(|r: &OverInput| key_hash(&r.key));
        let mut os = OverState::new(feature_index, plan, policy);
        self.unary_frontier(exchange, &name, move |cap, _info| {
            let mut cap: Option<Capability<u64>> = Some(cap);
            let mut dirty = Vec::new();
            let mut out = Vec::new();
            let mut firing = Firing::default();
            move |(input, frontier), output| {
                input.for_each(|mcap, data| {
                    for rec in data.drain(..) {
                        os.insert(rec, &mut dirty);
                    }
                    if !dirty.is_empty() {
                        os.corrections(&mut dirty, &mut out);
                        RunState::add(&state.corrections, revised(&out));
                        let mut session = output.session(&mcap);
                        for row in out.drain(..) {
                            session.give(row);
                        }
                    }
                });
                let f = frontier.frontier().first().copied();
                let now = firing.through(f, &state);
                if os.fired_through.is_none_or(|t| now > t) {
                    os.advance(now, &mut out);
                }
                emit_at_frontier(&mut cap, f, &mut out, output);
            }
        })
    }
}

#[cfg(test)]
#[path = "over_tests.rs"]
mod tests;
