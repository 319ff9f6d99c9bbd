//! `Window[...]`: keyed event-time window aggregation with panes, corrections and bounded state.
//!
//! This operator serves aggregates that cannot be subtracted (MIN, MAX, AVG, float SUM,
//! COUNT(DISTINCT)); COUNT and integer SUM run on running sums (`window_delta.rs`), which
//! `window_delta_tests.rs` holds to this operator's rows.
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
//!
//! Layout, for the hot path (a HOP feature emits a row per key per slide): per-key states
//! live in a [`KeySlab`], so the timer and eviction queues hold 4-byte slots and firing a
//! timer reads the state directly; each key keeps the pane positions of the last window it
//! emitted (`Walk`), so finding its next window's panes needs no search; a key that fires evicts its expired panes then and there, so only
//! keys that stop firing need eviction entries (state is freed at most one slide late).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use planner::window::Window;
use planner::FeaturePlan;

use crate::accumulator::Acc;
use crate::key_slab::{KeySlab, Slot, AHEAD};
use crate::operators::emit::{emit_chunk_at_frontier, revised, Firing};
use crate::record::{FeatureRow, Key, PartialAggregate};
use crate::state::RunState;

use super::fused_sink::FusedFileSink;
use super::window_delta::{self, DeltaState};
use super::window_rows::{Rows, Shown};
use super::window_walk::{merge_into, start_at, Accs, Pane, Walk};

/// Rows emitted per activation at most when many windows are due at once. Small enough
/// that a chunk (~200 KB of rows) is still in the core's cache when it is handed on and
/// encoded: with 64k rows per chunk a HOP backfill ran ~20% slower.
pub(super) const EMIT_CHUNK: usize = 1 << 10;

/// Keys whose state is read ahead together when timers fire (see `WindowState::touch`).
const TOUCH_AHEAD: usize = 16;

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
        fused: Option<FusedFileSink>,
    ) -> Stream<'s, u64, Vec<FeatureRow>>;
}

struct KeyState {
    /// Panes in ascending start order.
    panes: VecDeque<Pane>,
    /// Records read after some windows of their pane had expired: (pane, the first window
    /// end they may join, state), so each window sees exactly the records that were on
    /// time for it. Rare; their pane is in `panes` too.
    partials: Vec<(u64, u64, Accs)>,
    /// Smallest window end not yet handled (emitted or found empty) for this key.
    next_end: u64,
    /// Emitted windows that may still be corrected: (end, last revision, which members
    /// show a value; the mask fits in the tuple's padding).
    revisions: VecDeque<(u64, u32, Shown)>,
    /// Scheduled emission trigger, if any.
    timer: Option<u64>,
    /// Scheduled eviction time, if any.
    evict_at: Option<u64>,
    /// Start of the oldest pane (`u64::MAX`: none), kept here so that checking for
    /// expired panes does not read the panes.
    oldest: u64,
    /// Where the panes of the last window walked are.
    walk: Walk,
}

impl KeyState {
    /// Frees the panes, partial states and revisions that no record can change any more
    /// at `frontier`: every window holding them ended `lateness` before it.
    fn evict_expired(&mut self, w: &Window, lateness: u64, frontier: u64) {
        let expired = |pane: u64| w.last_end_of_pane(pane).saturating_add(lateness) <= frontier;
        debug_assert_eq!(self.oldest, start_at(&self.panes, 0));
        if self.oldest != u64::MAX && expired(self.oldest) {
            while self.panes.front().is_some_and(|p| expired(p.start)) {
                let p = self.panes.pop_front().expect("front exists");
                let walk = &mut self.walk;
                if walk.covers(p.start) {
                    walk.reset(0, 0, &VecDeque::new());
                } else if p.start < walk.a {
                    walk.lo -= 1;
                    walk.hi -= 1;
                }
            }
            self.oldest = start_at(&self.panes, 0);
            // A pane removed at `lo` or `hi` moves the next one there.
            self.walk.sync(&self.panes);
        }
        if !self.partials.is_empty() {
            self.partials.retain(|(p, _, _)| !expired(*p));
        }
        while self
            .revisions
            .front()
            .is_some_and(|(e, _, _)| e.saturating_add(lateness) <= frontier)
        {
            self.revisions.pop_front();
        }
    }

    /// When the key needs an eviction entry: at its oldest pane's expiry, unless a timer
    /// fires within a slide of that (firing evicts too, see `WindowState::fire_key`), so
    /// state is freed at most one slide late.
    fn needs_eviction(&self, w: &Window, lateness: u64) -> Option<u64> {
        if self.oldest == u64::MAX {
            return None;
        }
        let x = w.last_end_of_pane(self.oldest).saturating_add(lateness);
        self.timer
            .is_none_or(|t| t > x.saturating_add(w.slide_ms))
            .then_some(x)
    }
}

struct WindowState {
    rows: Rows,
    window: Window,
    lateness: u64,
    policy: EmitPolicy,
    keys: KeySlab<KeyState>,
    timers: BTreeMap<u64, Vec<Slot>>,
    evictions: BTreeMap<u64, Vec<Slot>>,
    /// Every trigger at or below this has fired.
    fired_through: Option<u64>,
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
            rows: Rows::new(members),
            window: plan.window,
            lateness: plan.allowed_lateness_ms,
            policy,
            keys: KeySlab::default(),
            timers: BTreeMap::new(),
            evictions: BTreeMap::new(),
            fired_through: None,
            state,
        }
    }

    /// Panes held across all keys (the state's size).
    #[cfg(test)]
    fn panes(&self) -> usize {
        self.keys.entries().map(|e| e.state.panes.len()).sum()
    }

    /// Smallest window end whose trigger has not fired.
    fn first_unfired_end(&self) -> u64 {
        match self.fired_through {
            None => 0,
            Some(f) => first_unfired(&self.window, self.policy, self.lateness, f),
        }
    }

    /// Adds a record; notes the windows to re-emit now (corrections) in `dirty`.
    #[cfg(test)]
    fn insert(&mut self, rec: PartialAggregate, dirty: &mut Vec<(Key, u64)>) {
        let slot = self.slot(&rec.key);
        self.insert_at(slot, &rec, dirty);
    }

    /// Adds records (several keys' state is read at once, as in `touch`).
    fn insert_all(&mut self, recs: &[PartialAggregate], dirty: &mut Vec<(Key, u64)>) {
        // A few records at a time: their keys' index buckets, then their states (and
        // newest panes) are read together, so their misses overlap; then the inserts.
        let mut found = Vec::with_capacity(AHEAD);
        for chunk in recs.chunks(AHEAD) {
            self.keys
                .candidates(chunk.iter().map(|r| &r.key), &mut found, |_, e| {
                    let newest = e.state.panes.back().map_or(0, |p| p.start);
                    e.state.next_end.wrapping_add(newest)
                });
            for (rec, candidate) in chunk.iter().zip(&found) {
                let slot = match *candidate {
                    Some(s) if self.keys.get(s).is_some_and(|e| e.key == rec.key) => s,
                    _ => self.slot(&rec.key),
                };
                self.insert_at(slot, rec, dirty);
            }
        }
    }

    /// The slot of `key`'s state, created empty for a new key.
    #[inline]
    fn slot(&mut self, key: &Key) -> Slot {
        let first_unfired = self.first_unfired_end();
        self.keys.slot_or_insert(key, || KeyState {
            panes: VecDeque::new(),
            partials: Vec::new(),
            next_end: first_unfired,
            revisions: VecDeque::new(),
            timer: None,
            evict_at: None,
            oldest: u64::MAX,
            walk: Walk::default(),
        })
    }

    /// Adds a record to the state in `slot` (its key's); notes the window ends that must be
    /// re-emitted now (corrections) in `dirty`.
    fn insert_at(&mut self, slot: Slot, rec: &PartialAggregate, dirty: &mut Vec<(Key, u64)>) {
        let w = self.window;
        let (pane, cut) = (rec.pane, rec.cut);
        let first_unfired = self.first_unfired_end();
        let aggs = &self.rows.plan.aggs;
        let fresh = || -> Accs { aggs.iter().map(|a| Acc::new(a.func, a.ty)).collect() };
        let ks = &mut self.keys.get_mut(slot).expect("a live slot").state;
        // Find or insert the pane (usually the newest).
        let idx = match ks.panes.iter().rposition(|p| p.start <= pane) {
            Some(i) if ks.panes[i].start == pane => i,
            Some(i) => {
                ks.walk.pane_inserted(pane);
                ks.panes.insert(
                    i + 1,
                    Pane {
                        start: pane,
                        has_full: false,
                        full: fresh(),
                    },
                );
                i + 1
            }
            None => {
                ks.walk.pane_inserted(pane);
                ks.panes.push_front(Pane {
                    start: pane,
                    has_full: false,
                    full: fresh(),
                });
                ks.oldest = pane;
                0
            }
        };
        if cut == w.first_end_of_pane(pane) {
            let target = &mut ks.panes[idx];
            target.has_full = true;
            merge_into(&mut target.full, &rec.accs);
        } else {
            match ks
                .partials
                .iter()
                .position(|(p, c, _)| *p == pane && *c == cut)
            {
                Some(i) => merge_into(&mut ks.partials[i].2, &rec.accs),
                None => {
                    let mut accs = fresh();
                    merge_into(&mut accs, &rec.accs);
                    ks.partials.push((pane, cut, accs));
                }
            }
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
        // The key's windows before `first_unfired` are handled now: those that were empty
        // until this record were emitted above as corrections, and must not be emitted
        // again, with revision 0, when the key's walk next starts from its `next_end`.
        ks.next_end = ks.next_end.max(first_unfired);
        let trig = schedule.map(|e| trigger(self.policy, self.lateness, e));
        if let Some(t) = trig.filter(|t| ks.timer.is_none_or(|cur| *t < cur)) {
            ks.timer = Some(t);
            self.timers.entry(t).or_default().push(slot);
        }
        if let Some(x) = ks.needs_eviction(&w, self.lateness) {
            if ks.evict_at.is_none_or(|cur| x < cur) {
                ks.evict_at = Some(x);
                self.evictions.entry(x).or_default().push(slot);
            }
        }
    }

    /// Merges the states of window `end` from a key's `panes` starting in `[a, end)`
    /// (pane by pane: its full state, then its `partials` on time for `end`); `None` if no
    /// state belongs to the window.
    fn merge_panes(
        panes: &VecDeque<Pane>,
        partials: &[(u64, u64, Accs)],
        a: u64,
        end: u64,
    ) -> Option<Accs> {
        let lo = panes.partition_point(|p| p.start < a);
        let hi = panes.partition_point(|p| p.start < end);
        let mut merged: Option<Accs> = None;
        let parts = panes.range(lo..hi).flat_map(|p| {
            p.has_full.then_some(&p.full).into_iter().chain(
                partials
                    .iter()
                    .filter(move |(pane, c, _)| *pane == p.start && *c <= end)
                    .map(|(_, _, a)| a),
            )
        });
        for accs in parts {
            match &mut merged {
                None => merged = Some(accs.clone()),
                Some(m) => merge_into(m, accs),
            }
        }
        merged
    }

    /// Emits every due window of a key (trigger <= frontier), reschedules its next one.
    /// Windows are walked in order: one lookup per key, no search per window. Window ends
    /// are `slide` apart and window starts never decrease along them (TUMBLE, HOP and
    /// CUMULATE alike: `planner::window` tests this), so the walk only moves forward. It
    /// resumes where the key's last firing left it, and knows from the starts of the panes at
    /// its ends, without reading them, when a window is empty. (COUNT and integer SUM
    /// windows, which could keep running sums, run on `window_delta.rs` instead.)
    ///
    /// `timer`: the timer entry that fired; stale entries (the key was rescheduled) do nothing.
    fn fire_key(&mut self, slot: Slot, timer: u64, frontier: u64, out: &mut Vec<FeatureRow>) {
        let w = self.window;
        let slide = w.slide_ms;
        let record_revisions = self.policy == EmitPolicy::OnWatermark && self.lateness > 0;
        let (policy, lateness) = (self.policy, self.lateness);
        let Some(entry) = self
            .keys
            .get_mut(slot)
            .filter(|e| e.state.timer == Some(timer))
        else {
            return;
        };
        let (key, ks) = (&entry.key, &mut entry.state);
        let KeyState {
            panes,
            partials,
            revisions,
            walk,
            ..
        } = ks;
        let start_of = |e: u64| w.pane_window_start(e);
        let mut end = ks.next_end;
        let (a, b) = (start_of(end), end);
        if a < walk.a || b < walk.b || a >= walk.b {
            // Behind the walk, or past its range: start afresh.
            let pos = panes.partition_point(|p| p.start < a);
            walk.reset(a, pos, panes);
        }
        walk.debug_check(panes);
        walk.move_to(panes, a, b);
        let mut next_timer = None;
        loop {
            if walk.lo == walk.hi {
                // Window `end` is empty: jump to the first window holding the next pane.
                if walk.next_in == u64::MAX {
                    break;
                }
                end = end.max(w.first_end_of_pane(walk.next_in));
                walk.move_to(panes, start_of(end), end);
                continue;
            }
            let due = trigger(policy, lateness, end);
            if due > frontier {
                next_timer = Some(due);
                break;
            }
            let mut shown = 0;
            if let Some(merged) = Self::merge_panes(panes, partials, start_of(end), end) {
                self.rows
                    .build(key, merged.iter().map(Acc::value), end, 0, &mut shown, out);
            }
            if record_revisions {
                revisions.push_back((end, 0, shown));
            }
            end += slide;
            walk.move_to(panes, start_of(end), end);
        }
        walk.debug_check(panes);
        ks.timer = next_timer;
        if let Some(due) = next_timer {
            self.timers.entry(due).or_default().push(slot);
        }
        // Every window whose trigger is at or below the frontier is handled now (emitted, or
        // empty). The walk may have jumped past empty windows that are not due yet: they
        // stay pending, so an on-time record for one of them is scheduled, not corrected.
        ks.next_end = first_unfired(&w, policy, lateness, frontier);
        // Evict here, while the key's state is in cache: a key that keeps firing needs no
        // eviction entry of its own.
        ks.evict_expired(&w, lateness, frontier);
        if ks.panes.is_empty() && ks.timer.is_none() {
            self.keys.remove(slot);
        } else if let Some(x) = ks.needs_eviction(&w, lateness) {
            if ks.evict_at != Some(x) {
                ks.evict_at = Some(x);
                self.evictions.entry(x).or_default().push(slot);
            }
        }
    }

    /// Frees panes and revisions that can no longer change; drops empty keys.
    ///
    /// `at`: the eviction entry that fired; stale entries do nothing.
    fn evict_key(&mut self, slot: Slot, at: u64, frontier: u64) {
        let w = self.window;
        let lateness = self.lateness;
        let Some(entry) = self
            .keys
            .get_mut(slot)
            .filter(|e| e.state.evict_at == Some(at))
        else {
            return;
        };
        let ks = &mut entry.state;
        ks.evict_expired(&w, lateness, frontier);
        ks.evict_at = None;
        if ks.panes.is_empty() {
            if ks.timer.is_none() {
                self.keys.remove(slot);
            }
        } else if let Some(x) = ks.needs_eviction(&w, lateness) {
            ks.evict_at = Some(x);
            self.evictions.entry(x).or_default().push(slot);
        }
    }

    /// Reads the memory that firing `slots` will read first (each key's state, then the
    /// panes its walk will enter and leave), a few keys at a time: the loads of different
    /// keys do not depend on each other, so their cache misses overlap instead of coming
    /// one after another inside `fire_key` (a safe stand-in for prefetching).
    fn touch(&self, slots: &[Slot]) {
        let mut sum = 0u64;
        for &s in slots {
            if let Some(e) = self.keys.get(s) {
                sum = sum.wrapping_add(e.state.next_end);
            }
        }
        for &s in slots {
            if let Some(e) = self.keys.get(s) {
                let (ks, walk) = (&e.state, &e.state.walk);
                let end = ks.next_end;
                if walk.next_in < end {
                    sum = sum.wrapping_add(ks.panes.get(walk.hi).map_or(0, |p| p.start));
                }
                if walk.next_out < self.window.pane_window_start(end) {
                    sum = sum.wrapping_add(ks.panes.get(walk.lo).map_or(0, |p| p.start));
                }
            }
        }
        std::hint::black_box(sum);
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
            let (t, mut slots) = entry.remove_entry();
            // In memory order: when most keys are due at once (every active key at each
            // HOP slide), the states are then read nearly sequentially.
            slots.sort_unstable();
            slots.dedup();
            let mut fired = 0;
            for chunk in slots.chunks(TOUCH_AHEAD) {
                self.touch(chunk);
                for &s in chunk {
                    self.fire_key(s, t, frontier, out);
                    fired += 1;
                    if out.len() >= limit {
                        break;
                    }
                }
                if out.len() >= limit {
                    break;
                }
            }
            if fired < slots.len() {
                self.timers
                    .entry(t)
                    .or_default()
                    .extend_from_slice(&slots[fired..]);
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
            let (t, slots) = entry.remove_entry();
            for s in slots {
                self.evict_key(s, t, frontier);
            }
        }
        true
    }

    /// Re-emits corrected windows.
    fn corrections(&mut self, dirty: &mut Vec<(Key, u64)>, out: &mut Vec<FeatureRow>) {
        dirty.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        dirty.dedup();
        for (key, end) in dirty.drain(..) {
            let Some(entry) = self.keys.slot(&key).and_then(|s| self.keys.get_mut(s)) else {
                continue;
            };
            let ks = &mut entry.state;
            let i = match ks.revisions.iter().position(|(e, _, _)| *e == end) {
                Some(i) => {
                    ks.revisions[i].1 += 1;
                    i
                }
                None => {
                    let pos = ks.revisions.partition_point(|(e, _, _)| *e < end);
                    ks.revisions.insert(pos, (end, 0, 0));
                    pos
                }
            };
            let (_, revision, shown) = &mut ks.revisions[i];
            let start = self.window.pane_window_start(end);
            if let Some(merged) = Self::merge_panes(&ks.panes, &ks.partials, start, end) {
                self.rows.build(
                    &key,
                    merged.iter().map(Acc::value),
                    end,
                    *revision,
                    shown,
                    out,
                );
            }
        }
    }
}

impl<'s> WindowAggregate<'s> for Stream<'s, u64, Vec<PartialAggregate>> {
    fn window_aggregate(
        self,
        members: &[(u32, &FeaturePlan)],
        policy: EmitPolicy,
        state: Arc<RunState>,
        fused: Option<FusedFileSink>,
    ) -> Stream<'s, u64, Vec<FeatureRow>> {
        let names: Vec<&str> = members.iter().map(|(_, p)| p.name.as_str()).collect();
        let name = format!("Window[{}]", names.join(", "));
        if members[0].1.running_sums() {
            let ds = DeltaState::shared(members, policy, state);
            return window_delta::render(self, &name, ds, fused);
        }
        assert!(
            fused.is_none(),
            "only running-sums windows write their sink themselves (Plan::fused_sink)"
        );
        let exchange = Exchange::new(|r: &PartialAggregate| key_hash(&r.key));
        let mut ws = WindowState::shared(members, policy, state);
        let scope = self.scope();
        self.unary_frontier(exchange, &name, move |cap, info| {
            let activator = scope.activator_for(info.address);
            let mut cap: Option<Capability<u64>> = Some(cap);
            let mut dirty = Vec::new();
            let mut out = Vec::new();
            let mut firing = Firing::default();
            move |(input, frontier), output| {
                input.for_each(|mcap, data| {
                    ws.insert_all(data, &mut dirty);
                    data.clear();
                    if !dirty.is_empty() {
                        ws.corrections(&mut dirty, &mut out);
                        RunState::add(&ws.state.corrections, revised(&out));
                        let mut session = output.session(&mcap);
                        for row in out.drain(..) {
                            session.give(row);
                        }
                    }
                });
                let f = frontier.frontier().first().copied();
                let now = firing.through(f, &ws.state);
                let mut complete = true;
                if ws.fired_through.is_none_or(|t| now > t) {
                    // Room for a chunk and the windows of the key that crosses its limit,
                    // so `out` is not regrown (and its rows copied) while rows are built.
                    out.reserve(2 * EMIT_CHUNK);
                    complete = ws.advance(now, &mut out, EMIT_CHUNK);
                }
                emit_chunk_at_frontier(&mut cap, f, &mut out, output, complete, &activator);
            }
        })
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod unit_tests;

#[cfg(test)]
#[path = "window_delta_tests.rs"]
mod delta_tests;
