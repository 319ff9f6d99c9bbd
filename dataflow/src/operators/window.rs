//! `Window[...]`: keyed event-time window aggregation with panes, corrections and bounded state.
//!
//! State is kept per (key, pane), where a pane is `gcd(size, slide)` long (the step for
//! CUMULATE); a window is the merge of the panes it covers, so a HOP window sliding every
//! minute over 30 minutes keeps each record once, not 30 times, and a daily CUMULATE window
//! updated every 10 minutes keeps one partial aggregate per 10 minutes.
//!
//! Emission (`EmitPolicy::OnWatermark`, stream mode): a window `[start, end)` is emitted
//! when the input frontier (the watermark) reaches `end`. A record that arrives later but
//! was read while the watermark was below `end + allowed_lateness` updates its pane and the
//! window is emitted again with `revision + 1`. Pane state is freed when the frontier
//! reaches the last window end containing it plus the lateness, so memory is bounded by the
//! windows in flight, not by history.
//!
//! `EmitPolicy::Final` (backfill) emits each window once, when the frontier reaches
//! `end + allowed_lateness`: the same final values, without intermediate revisions.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use smallvec::SmallVec;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use planner::types::Value;
use planner::window::Window;
use planner::FeaturePlan;

use crate::accumulator::Acc;
use crate::operators::emit::{release_to_frontier, send_at_frontier};
use crate::record::{FeatureRow, Key, PartialAggregate};
use crate::state::RunState;

/// Rows emitted per activation at most when many windows are due at once.
const EMIT_CHUNK: usize = 1 << 16;

/// When windows are emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitPolicy {
    /// At the watermark, then corrections (streaming).
    OnWatermark,
    /// Once, final, after the lateness has passed (backfill).
    Final,
}

/// The frontier time at which window `end` is emitted.
#[inline]
fn trigger(policy: EmitPolicy, lateness: u64, end: u64) -> u64 {
    match policy {
        EmitPolicy::OnWatermark => end,
        EmitPolicy::Final => end.saturating_add(lateness),
    }
}

/// The smallest window end whose trigger is above `frontier`: every window ending before it
/// has fired (or was empty when its trigger passed).
#[inline]
fn first_unfired(window: &Window, policy: EmitPolicy, lateness: u64, frontier: u64) -> u64 {
    if frontier >= i64::MAX as u64 / 2 {
        return u64::MAX; // the input is complete: everything has fired
    }
    let bound = match policy {
        EmitPolicy::OnWatermark => frontier as i64,
        EmitPolicy::Final => frontier as i64 - lateness.min(i64::MAX as u64 / 2) as i64,
    };
    window.first_end_after(bound)
}

/// The first window of pane `pane` that a record read at `watermark` is on time for
/// (`end + lateness > watermark`); `None` if every window of the pane had expired.
#[inline]
pub fn on_time_cut(window: &Window, lateness: u64, pane: u64, watermark: u64) -> Option<u64> {
    window
        .window_ends_of_pane(pane)
        .find(|e| e.saturating_add(lateness) > watermark)
}

/// Hash of a grouping key, identical in every process (fixed seed).
pub fn key_hash(key: &Key) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::with_seed(0x5eed_f7e5).hash_one(key)
}

/// Window aggregation as an extension trait on keyed streams.
pub trait WindowAggregate<'s> {
    /// Groups by key across workers and aggregates per window; emits the feature rows of
    /// each of `members` (`(index in the plan, plan)`; several when features share state,
    /// see `planner::physical::FeaturePlan::shares_state_with`).
    fn window_aggregate(
        self,
        members: &[(u32, &FeaturePlan)],
        policy: EmitPolicy,
        state: Arc<RunState>,
    ) -> Stream<'s, u64, Vec<FeatureRow>>;
}

type Accs = SmallVec<[Acc; 2]>;

/// A running aggregate over the panes of a sliding window, for aggregates whose pane
/// states can be subtracted exactly (integer arithmetic, wrapping like `Acc::merge`): the
/// walk over a key's consecutive windows adds the pane entering and subtracts the pane
/// leaving instead of merging every pane of every window. Float sums (SUM, AVG) are not
/// here: subtracting would change their rounding; MIN, MAX and COUNT(DISTINCT) cannot be
/// subtracted. Those merge the window's panes.
#[derive(Clone, Copy)]
enum Running {
    Count(i64),
    /// Sum, and how many panes in the window hold a non-null sum.
    SumInt(i64, u32),
}

impl Running {
    fn for_acc(acc: &Acc) -> Option<Running> {
        match acc {
            Acc::Count(_) => Some(Running::Count(0)),
            Acc::SumInt(_) => Some(Running::SumInt(0, 0)),
            _ => None,
        }
    }

    #[inline]
    fn add(&mut self, acc: &Acc) {
        match (self, acc) {
            (Running::Count(a), Acc::Count(b)) => *a = a.wrapping_add(*b),
            (Running::SumInt(a, n), Acc::SumInt(Some(b))) => {
                *a = a.wrapping_add(*b);
                *n += 1;
            }
            (Running::SumInt(..), Acc::SumInt(None)) => {}
            _ => unreachable!("running aggregate of another kind"),
        }
    }

    #[inline]
    fn sub(&mut self, acc: &Acc) {
        match (self, acc) {
            (Running::Count(a), Acc::Count(b)) => *a = a.wrapping_sub(*b),
            (Running::SumInt(a, n), Acc::SumInt(Some(b))) => {
                *a = a.wrapping_sub(*b);
                *n -= 1;
            }
            (Running::SumInt(..), Acc::SumInt(None)) => {}
            _ => unreachable!("running aggregate of another kind"),
        }
    }

    #[inline]
    fn value(&self) -> Value {
        match *self {
            Running::Count(n) => Value::Int(n),
            Running::SumInt(s, n) => {
                if n > 0 {
                    Value::Int(s)
                } else {
                    Value::Null
                }
            }
        }
    }
}

/// The running state of a window walk: the aggregates of the `full` states of the panes
/// in `[lo, hi)`, how many of those panes have a `full` state, and how many have partial
/// states (which depend on the window end: such windows are merged instead).
struct Walk {
    accs: SmallVec<[Running; 2]>,
    full: u32,
    partial: u32,
}

impl Walk {
    #[inline]
    fn enter(&mut self, p: &Pane) {
        if p.has_full {
            self.full += 1;
            self.accs
                .iter_mut()
                .zip(&p.full)
                .for_each(|(r, a)| r.add(a));
        }
        if !p.partial.is_empty() {
            self.partial += 1;
        }
    }

    #[inline]
    fn leave(&mut self, p: &Pane) {
        if p.has_full {
            self.full -= 1;
            self.accs
                .iter_mut()
                .zip(&p.full)
                .for_each(|(r, a)| r.sub(a));
        }
        if !p.partial.is_empty() {
            self.partial -= 1;
        }
    }
}

/// One pane of one key. Records belong to every window containing the pane, except
/// records read after some of those windows had expired: they go to `partial`, keyed by
/// the first window end they may join, so each window sees exactly the records that were
/// on time for it.
struct Pane {
    start: u64,
    /// Whether `full` has seen a record.
    has_full: bool,
    full: Accs,
    partial: Vec<(u64, Accs)>,
}

struct KeyState {
    /// Panes in ascending start order.
    panes: VecDeque<Pane>,
    /// Smallest window end not yet handled (emitted or found empty) for this key.
    next_end: u64,
    /// Emitted windows that may still be corrected: (end, last revision).
    revisions: VecDeque<(u64, u32)>,
    /// Scheduled emission trigger, if any.
    timer: Option<u64>,
    /// Scheduled eviction time, if any.
    evict_at: Option<u64>,
}

/// A feature emitted from a window state (several when features share one).
struct Member {
    feature: u32,
    having: Option<planner::expr::Expr>,
    /// The expressions of the output columns other than the window bounds.
    value_exprs: Vec<planner::expr::Expr>,
    /// When every such expression is a distinct column of the aggregate row: their indices
    /// (the row's values are then moved out, not cloned, for the last member).
    value_columns: Option<Vec<usize>>,
}

impl Member {
    fn new(feature: u32, plan: &FeaturePlan) -> Self {
        let value_columns: Option<Vec<usize>> = plan
            .value_outputs()
            .map(|o| match &o.expr {
                planner::expr::Expr::Column { index, .. } => Some(*index),
                _ => None,
            })
            .collect();
        let width = plan.keys.len() + 2 + plan.aggs.len();
        Member {
            feature,
            having: plan.having.clone(),
            value_exprs: plan.value_outputs().map(|o| o.expr.clone()).collect(),
            value_columns: value_columns.filter(|c| {
                let mut sorted = c.clone();
                sorted.sort_unstable();
                sorted.dedup();
                sorted.len() == c.len() && c.iter().all(|i| *i < width)
            }),
        }
    }
}

struct WindowState {
    /// The features emitted from this state, in plan order.
    members: Vec<Member>,
    plan: FeaturePlan,
    window: Window,
    lateness: u64,
    policy: EmitPolicy,
    keys: HashMap<Key, KeyState, foldhash::fast::RandomState>,
    timers: BTreeMap<u64, Vec<Key>>,
    evictions: BTreeMap<u64, Vec<Key>>,
    /// Every trigger at or below this has fired.
    fired_through: Option<u64>,
    agg_row: Vec<Value>,
    /// The empty running aggregates, when every aggregate can be subtracted (`Running`).
    running: Option<SmallVec<[Running; 2]>>,
    state: Arc<RunState>,
}

impl WindowState {
    #[cfg(test)]
    fn new(feature: u32, plan: &FeaturePlan, policy: EmitPolicy, state: Arc<RunState>) -> Self {
        Self::shared(&[(feature, plan)], policy, state)
    }

    /// One state for `members`, which group by the same keys and window over the same rows
    /// and have the same aggregates (the planner makes them so); the first one's plan runs.
    fn shared(members: &[(u32, &FeaturePlan)], policy: EmitPolicy, state: Arc<RunState>) -> Self {
        let plan = members[0].1;
        WindowState {
            members: members.iter().map(|(f, p)| Member::new(*f, p)).collect(),
            window: plan.window,
            lateness: plan.allowed_lateness_ms,
            policy,
            plan: plan.clone(),
            keys: HashMap::default(),
            timers: BTreeMap::new(),
            evictions: BTreeMap::new(),
            fired_through: None,
            agg_row: Vec::new(),
            running: plan
                .aggs
                .iter()
                .map(|a| Running::for_acc(&Acc::new(a.func, a.ty)))
                .collect(),
            state,
        }
    }

    /// Panes held across all keys (the state's size).
    #[cfg(test)]
    fn panes(&self) -> usize {
        self.keys.values().map(|k| k.panes.len()).sum()
    }

    /// Smallest window end whose trigger has not fired.
    fn first_unfired_end(&self) -> u64 {
        match self.fired_through {
            None => 0,
            Some(f) => first_unfired(&self.window, self.policy, self.lateness, f),
        }
    }

    /// Adds a record; returns the window ends that must be re-emitted now (corrections).
    fn insert(&mut self, rec: PartialAggregate, dirty: &mut Vec<(Key, u64)>) {
        let w = self.window;
        let (pane, cut) = (rec.pane, rec.cut);
        let first_unfired = self.first_unfired_end();
        let aggs = &self.plan.aggs;
        let fresh = || -> Accs { aggs.iter().map(|a| Acc::new(a.func, a.ty)).collect() };
        let ks = self
            .keys
            .entry(rec.key.clone())
            .or_insert_with(|| KeyState {
                panes: VecDeque::new(),
                next_end: first_unfired,
                revisions: VecDeque::new(),
                timer: None,
                evict_at: None,
            });
        // Find or insert the pane (usually the newest).
        let idx = match ks.panes.iter().rposition(|p| p.start <= pane) {
            Some(i) if ks.panes[i].start == pane => i,
            Some(i) => {
                ks.panes.insert(
                    i + 1,
                    Pane {
                        start: pane,
                        has_full: false,
                        full: fresh(),
                        partial: Vec::new(),
                    },
                );
                i + 1
            }
            None => {
                ks.panes.push_front(Pane {
                    start: pane,
                    has_full: false,
                    full: fresh(),
                    partial: Vec::new(),
                });
                0
            }
        };
        let target = &mut ks.panes[idx];
        let accs = if cut == w.first_end_of_pane(pane) {
            target.has_full = true;
            &mut target.full
        } else {
            match target.partial.iter().position(|(c, _)| *c == cut) {
                Some(i) => &mut target.partial[i].1,
                None => {
                    target.partial.push((cut, fresh()));
                    &mut target.partial.last_mut().expect("just pushed").1
                }
            }
        };
        for (acc, part) in accs.iter_mut().zip(rec.accs.iter()) {
            acc.merge(part);
        }
        let mut schedule = None;
        for end in w.window_ends_of_pane(pane) {
            if end < cut {
                continue; // this window had expired when the records were read
            }
            // Windows before the key's next_end, or whose trigger the frontier has passed,
            // were handled: a record for them is a correction (or a late first emission).
            if end < ks.next_end.max(first_unfired) {
                dirty.push((rec.key.clone(), end));
            } else {
                schedule = Some(end);
                break;
            }
        }
        let evict = w.last_end_of_pane(pane).saturating_add(self.lateness);
        let (timer_due, evict_due) = {
            let trig = schedule.map(|e| trigger(self.policy, self.lateness, e));
            (
                trig.filter(|t| ks.timer.is_none_or(|cur| *t < cur)),
                ks.evict_at.is_none_or(|cur| evict < cur),
            )
        };
        if let Some(t) = timer_due {
            ks.timer = Some(t);
            self.timers.entry(t).or_default().push(rec.key.clone());
        }
        if evict_due {
            ks.evict_at = Some(evict);
            self.evictions.entry(evict).or_default().push(rec.key);
        }
    }

    /// Merges the states of window `end` from the panes `panes[lo..hi]` (those starting in
    /// `[window_start(end), end)`); `None` if no state belongs to the window.
    fn merge_panes(panes: &VecDeque<Pane>, (lo, hi): (usize, usize), end: u64) -> Option<Accs> {
        let mut merged: Option<Accs> = None;
        let parts = panes.range(lo..hi).flat_map(|p| {
            p.has_full
                .then_some(&p.full)
                .into_iter()
                .chain(p.partial.iter().filter(|(c, _)| *c <= end).map(|(_, a)| a))
        });
        for accs in parts {
            match &mut merged {
                None => merged = Some(accs.clone()),
                Some(m) => m.iter_mut().zip(accs.iter()).for_each(|(a, b)| a.merge(b)),
            }
        }
        merged
    }

    /// Builds each member's output row of window `end` from its aggregate values, applying
    /// HAVING, into `out` (nothing for a member whose first emission HAVING rejects).
    #[allow(clippy::too_many_arguments)]
    fn build_rows(
        plan: &FeaturePlan,
        members: &[Member],
        agg_row: &mut Vec<Value>,
        key: &Key,
        aggs: impl Iterator<Item = Value>,
        end: u64,
        revision: u32,
        out: &mut Vec<FeatureRow>,
    ) {
        let start = plan.window.window_start(end);
        agg_row.clear();
        agg_row.extend(key.iter().cloned());
        agg_row.push(Value::Ts(start));
        agg_row.push(Value::Ts(end as i64));
        agg_row.extend(aggs);
        let last = members.len() - 1;
        for (m, member) in members.iter().enumerate() {
            let passes = member
                .having
                .as_ref()
                .is_none_or(|h| h.eval(agg_row).is_true());
            if !passes && revision == 0 {
                continue;
            }
            out.push(FeatureRow {
                feature: member.feature,
                window_start: start,
                window_end: end as i64,
                revision,
                values: match &member.value_columns {
                    // The row is rebuilt for the next window: the last member moves its
                    // values out.
                    Some(cols) if m == last => cols
                        .iter()
                        .map(|i| agg_row.get_mut(*i).map(std::mem::take).unwrap_or_default())
                        .collect(),
                    Some(cols) => cols.iter().map(|i| agg_row[*i].clone()).collect(),
                    None => member.value_exprs.iter().map(|e| e.eval(agg_row)).collect(),
                },
                key: key.clone(),
                deleted: !passes,
            });
        }
    }

    /// Builds the output row of window `end` from the panes `ks.panes[lo..hi]` (those
    /// starting in `[window_start(end), end)`), applying HAVING; `None` if nothing is to be
    /// sent.
    #[allow(clippy::too_many_arguments)]
    fn output_rows(
        plan: &FeaturePlan,
        members: &[Member],
        agg_row: &mut Vec<Value>,
        key: &Key,
        panes: &VecDeque<Pane>,
        range: (usize, usize),
        end: u64,
        revision: u32,
        out: &mut Vec<FeatureRow>,
    ) {
        if let Some(merged) = Self::merge_panes(panes, range, end) {
            Self::build_rows(
                plan,
                members,
                agg_row,
                key,
                merged.iter().map(Acc::value),
                end,
                revision,
                out,
            )
        }
    }

    /// The pane range `[lo, hi)` of window `end`.
    fn pane_range(&self, panes: &VecDeque<Pane>, end: u64) -> (usize, usize) {
        let start = self.window.pane_window_start(end);
        (
            panes.partition_point(|p| p.start < start),
            panes.partition_point(|p| p.start < end),
        )
    }

    /// Emits every due window of a key (trigger <= frontier), reschedules its next one.
    /// Windows are walked in order with two pane pointers: one lookup per key, no search
    /// per window. Window ends are `slide` apart and window starts never decrease along
    /// them (TUMBLE, HOP and CUMULATE alike: `planner::window` tests this), so both
    /// pointers only move forward.
    ///
    /// `timer`: the timer entry that fired; stale entries (the key was rescheduled) do nothing.
    fn fire_key(&mut self, key: &Key, timer: u64, frontier: u64, out: &mut Vec<FeatureRow>) {
        let w = self.window;
        let slide = w.slide_ms;
        let record_revisions = self.policy == EmitPolicy::OnWatermark && self.lateness > 0;
        let (policy, lateness) = (self.policy, self.lateness);
        let Some(ks) = self.keys.get_mut(key).filter(|ks| ks.timer == Some(timer)) else {
            return;
        };
        let n = ks.panes.len();
        let mut end = ks.next_end;
        let start_of = |e: u64| w.pane_window_start(e);
        let mut lo = ks.panes.partition_point(|p| p.start < start_of(end));
        let mut hi = ks.panes.partition_point(|p| p.start < end);
        // With subtractable aggregates, the running state of the panes in `[lo, hi)`.
        let mut walk = self.running.clone().map(|accs| Walk {
            accs,
            full: 0,
            partial: 0,
        });
        if let Some(walk) = walk.as_mut() {
            ks.panes.range(lo..hi).for_each(|p| walk.enter(p));
        }
        // Moves the window to `end`: panes entering first, then panes leaving (every pane
        // leaving starts before `end`, so it has entered).
        let advance = |lo: &mut usize, hi: &mut usize, end: u64, walk: &mut Option<Walk>| {
            while *hi < n && ks.panes[*hi].start < end {
                if let Some(walk) = walk.as_mut() {
                    walk.enter(&ks.panes[*hi]);
                }
                *hi += 1;
            }
            while *lo < n && ks.panes[*lo].start < start_of(end) {
                if let Some(walk) = walk.as_mut() {
                    walk.leave(&ks.panes[*lo]);
                }
                *lo += 1;
            }
        };
        loop {
            if lo == hi {
                // Window `end` is empty: jump to the first window holding the next pane.
                if hi == n {
                    ks.timer = None;
                    break;
                }
                end = end.max(w.first_end_of_pane(ks.panes[hi].start));
                advance(&mut lo, &mut hi, end, &mut walk);
                continue;
            }
            let due = trigger(policy, lateness, end);
            if due > frontier {
                ks.timer = Some(due);
                self.timers.entry(due).or_default().push(key.clone());
                break;
            }
            match walk.as_ref().filter(|walk| walk.partial == 0) {
                Some(walk) if walk.full == 0 => {}
                Some(walk) => Self::build_rows(
                    &self.plan,
                    &self.members,
                    &mut self.agg_row,
                    key,
                    walk.accs.iter().map(Running::value),
                    end,
                    0,
                    out,
                ),
                None => Self::output_rows(
                    &self.plan,
                    &self.members,
                    &mut self.agg_row,
                    key,
                    &ks.panes,
                    (lo, hi),
                    end,
                    0,
                    out,
                ),
            }
            if record_revisions {
                ks.revisions.push_back((end, 0));
            }
            end += slide;
            advance(&mut lo, &mut hi, end, &mut walk);
        }
        // Every window whose trigger is at or below the frontier is handled now (emitted, or
        // empty). The walk may have jumped past empty windows that are not due yet: they
        // stay pending, so an on-time record for one of them is scheduled, not corrected.
        ks.next_end = first_unfired(&w, policy, lateness, frontier);
    }

    /// Frees panes and revisions that can no longer change; drops empty keys.
    ///
    /// `at`: the eviction entry that fired; stale entries do nothing.
    fn evict_key(&mut self, key: &Key, at: u64, frontier: u64) {
        let w = self.window;
        let lateness = self.lateness;
        let Some(ks) = self.keys.get_mut(key).filter(|ks| ks.evict_at == Some(at)) else {
            return;
        };
        while ks
            .panes
            .front()
            .is_some_and(|p| w.last_end_of_pane(p.start).saturating_add(lateness) <= frontier)
        {
            ks.panes.pop_front();
        }
        while ks
            .revisions
            .front()
            .is_some_and(|(e, _)| e.saturating_add(lateness) <= frontier)
        {
            ks.revisions.pop_front();
        }
        match ks.panes.front() {
            None => {
                if ks.timer.is_none() {
                    self.keys.remove(key);
                } else {
                    ks.evict_at = None;
                }
            }
            Some(p) => {
                let t = w.last_end_of_pane(p.start).saturating_add(lateness);
                ks.evict_at = Some(t);
                self.evictions.entry(t).or_default().push(key.clone());
            }
        }
    }

    /// Fires all timers and evictions at or below `frontier`.
    ///
    /// Stops early, returning false, once `out` holds `limit` rows, so that a frontier
    /// jump (the end of input closes every window at once) is emitted in bounded pieces;
    /// call again with the same frontier to continue. Panes are evicted only once every
    /// due window has fired.
    fn advance(&mut self, frontier: u64, out: &mut Vec<FeatureRow>, limit: usize) -> bool {
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() > frontier {
                break;
            }
            let (t, keys) = entry.remove_entry();
            let mut keys = keys.into_iter();
            for k in keys.by_ref() {
                self.fire_key(&k, t, frontier, out);
                if out.len() >= limit {
                    break;
                }
            }
            let rest: Vec<Key> = keys.collect();
            if !rest.is_empty() {
                self.timers.entry(t).or_default().extend(rest);
            }
            if out.len() >= limit {
                return false;
            }
        }
        self.fired_through = Some(frontier);
        while let Some(entry) = self.evictions.first_entry() {
            if *entry.key() > frontier {
                break;
            }
            let (t, keys) = entry.remove_entry();
            for k in keys {
                self.evict_key(&k, t, frontier);
            }
        }
        true
    }

    /// Re-emits corrected windows.
    fn corrections(&mut self, dirty: &mut Vec<(Key, u64)>, out: &mut Vec<FeatureRow>) {
        dirty.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        dirty.dedup();
        for (key, end) in dirty.drain(..) {
            let Some(ks) = self.keys.get_mut(&key) else {
                continue;
            };
            let revision = match ks.revisions.iter_mut().find(|(e, _)| *e == end) {
                Some((_, r)) => {
                    *r += 1;
                    *r
                }
                None => {
                    let pos = ks.revisions.partition_point(|(e, _)| *e < end);
                    ks.revisions.insert(pos, (end, 0));
                    0
                }
            };
            let range = self.pane_range(&self.keys[&key].panes, end);
            let ks = &self.keys[&key];
            Self::output_rows(
                &self.plan,
                &self.members,
                &mut self.agg_row,
                &key,
                &ks.panes,
                range,
                end,
                revision,
                out,
            );
        }
    }
}

impl<'s> WindowAggregate<'s> for Stream<'s, u64, Vec<PartialAggregate>> {
    fn window_aggregate(
        self,
        members: &[(u32, &FeaturePlan)],
        policy: EmitPolicy,
        state: Arc<RunState>,
    ) -> Stream<'s, u64, Vec<FeatureRow>> {
        let names: Vec<&str> = members.iter().map(|(_, p)| p.name.as_str()).collect();
        let name = format!("Window[{}]", names.join(", "));
        let exchange = Exchange::new(|r: &PartialAggregate| key_hash(&r.key));
        let mut ws = WindowState::shared(members, policy, state);
        let scope = self.scope();
        self.unary_frontier(exchange, &name, move |cap, info| {
            let activator = scope.activator_for(info.address);
            let mut cap: Option<Capability<u64>> = Some(cap);
            let mut dirty = Vec::new();
            let mut out = Vec::new();
            move |(input, frontier), output| {
                input.for_each(|mcap, data| {
                    for rec in data.drain(..) {
                        ws.insert(rec, &mut dirty);
                    }
                    if !dirty.is_empty() {
                        ws.corrections(&mut dirty, &mut out);
                        let corrections = out.iter().filter(|r| r.revision > 0).count() as u64;
                        RunState::add(&ws.state.corrections, corrections);
                        let mut session = output.session(&mcap);
                        for row in out.drain(..) {
                            session.give(row);
                        }
                    }
                });
                let f = frontier.frontier().first().copied();
                let now = f.unwrap_or(u64::MAX);
                let mut complete = true;
                if ws.fired_through.is_none_or(|t| now > t) {
                    complete = ws.advance(now, &mut out, EMIT_CHUNK);
                }
                if let Some(c) = cap.as_mut() {
                    send_at_frontier(c, f, &mut out, output);
                    if !complete {
                        // More windows are due: keep the capability, come back soon.
                        activator.activate();
                        return;
                    }
                }
                release_to_frontier(&mut cap, f);
            }
        })
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod unit_tests;
