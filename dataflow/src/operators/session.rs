//! `Session[...]`: keyed event-time SESSION windows (gap-based, per grouping key), with
//! merges on late data, withdrawals and bounded state.
//!
//! Per key, a record at `t` opens the session `[t, t + gap)`; sessions that overlap merge
//! into `[first event, last event + gap)`, so events closer than the gap share a session
//! and a gap of at least `gap` splits them (half-open: an event exactly `gap` after the
//! last one starts a new session, where Flink's inclusive `TimeWindow.intersects` would
//! merge it).
//!
//! Lateness is judged by the source with the watermark before each record: a record is on
//! time iff `t + gap + allowed_lateness > watermark`. A session is *closed* for a record
//! once `end + allowed_lateness <= watermark` when the record was read: the record neither
//! joins nor merges it (its state may already be freed). This keeps merges independent of
//! batching and of when this operator's frontier moves.
//!
//! Emission (`EmitPolicy::OnWatermark`, stream mode): a session is emitted when the
//! frontier (the watermark) reaches its end. A late record may extend an emitted session or
//! merge several (emitted or not) into one; then every emitted row whose window no longer
//! exists is withdrawn (`deleted`, `revision + 1`, its values as sent), and the merged
//! session is emitted (at once if its end has passed, else at its end) with a revision
//! higher than any sent for its own window and for the windows merged into it. Stores
//! keyed by entity and ordered by `(window_end, revision)` (Redis, DynamoDB) thus never
//! let a withdrawal delete a merged row that shares its end, in whatever order they land.
//!
//! `EmitPolicy::Final` (backfill) emits each session once, when the frontier reaches
//! `end + allowed_lateness`: no record read afterwards can join it (it is closed for every
//! such record), so values are final and equal stream mode's after corrections.
//!
//! State: a session (and what was sent for its window) is freed when the frontier reaches
//! `end + allowed_lateness`, so memory is bounded by the sessions in flight.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use smallvec::SmallVec;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use planner::types::Value;
use planner::FeaturePlan;

use crate::accumulator::Acc;
use crate::operators::emit::{emit_at_frontier, revised, Firing};
use crate::operators::window::{key_hash, EmitPolicy};
use crate::record::{FeatureRow, Key, SessionInput};
use crate::state::RunState;

/// SESSION window aggregation as an extension trait on keyed record streams.
pub trait SessionAggregate<'s> {
    /// Groups by key across workers, finds sessions per key and aggregates each; emits
    /// feature rows, with corrections and withdrawals in stream mode.
    fn session_aggregate(
        self,
        feature_index: u32,
        plan: &FeaturePlan,
        policy: EmitPolicy,
        state: Arc<RunState>,
    ) -> Stream<'s, u64, Vec<FeatureRow>>;
}

type Accs = SmallVec<[Acc; 2]>;

/// One session of one key.
struct Session {
    start: u64,
    /// Last event time + gap.
    end: u64,
    accs: Accs,
    /// Changed since its row was last computed: (re-)emit once due.
    dirty: bool,
    /// The smallest revision its row may carry: above every revision sent for the
    /// windows merged into it.
    min_revision: u32,
}

/// What was sent for a window (stream mode with lateness).
struct Sent {
    /// The last revision sent.
    revision: u32,
    /// The row as sent, while it is live (not withdrawn): withdrawals repeat it.
    live: Option<FeatureRow>,
}

#[derive(Default)]
struct KeyState {
    /// Sorted by start.
    sessions: Vec<Session>,
    /// Windows a row was sent for, until `end + lateness`.
    sent: BTreeMap<(u64, u64), Sent>,
    /// Scheduled wake-up (emission or eviction), if any.
    wake: Option<u64>,
}

pub(crate) struct SessionState {
    feature: u32,
    plan: FeaturePlan,
    gap: u64,
    lateness: u64,
    policy: EmitPolicy,
    /// Whether sent rows are remembered: only corrections need them, and with no
    /// lateness no emitted session can change.
    remember: bool,
    keys: HashMap<Key, KeyState, foldhash::fast::RandomState>,
    timers: BTreeMap<u64, Vec<Key>>,
    /// Every trigger at or below this has fired.
    fired_through: Option<u64>,
    /// Keys changed by the records of the current batch.
    changed: Vec<Key>,
    agg_row: Vec<Value>,
    value_exprs: Vec<planner::expr::Expr>,
}

impl SessionState {
    pub(crate) fn new(feature: u32, plan: &FeaturePlan, policy: EmitPolicy) -> Self {
        let gap = plan
            .window
            .session_gap_ms()
            .expect("a SESSION feature has a session window");
        SessionState {
            feature,
            plan: plan.clone(),
            gap,
            lateness: plan.allowed_lateness_ms,
            policy,
            remember: policy == EmitPolicy::OnWatermark && plan.allowed_lateness_ms > 0,
            keys: HashMap::default(),
            timers: BTreeMap::new(),
            fired_through: None,
            changed: Vec::new(),
            agg_row: Vec::new(),
            value_exprs: plan.value_outputs().map(|o| o.expr.clone()).collect(),
        }
    }

    /// The frontier at which a session ending at `end` is emitted.
    fn trigger(&self, end: u64) -> u64 {
        match self.policy {
            EmitPolicy::OnWatermark => end,
            EmitPolicy::Final => end.saturating_add(self.lateness),
        }
    }

    /// Sessions held across all keys (the state's size).
    #[cfg(test)]
    fn sessions(&self) -> usize {
        self.keys.values().map(|k| k.sessions.len()).sum()
    }

    /// Adds a record: opens its session and merges every open session it overlaps, until
    /// none is left (a merged session may reach further than the record's own).
    pub(crate) fn insert(&mut self, rec: SessionInput) {
        let SessionInput {
            key,
            time,
            watermark,
            accs: record,
        } = rec;
        // Sessions ending at or below this were closed when the record was read.
        let closed = watermark.saturating_sub(self.lateness);
        let ks = self.keys.entry(key.clone()).or_default();
        let (mut start, mut end) = (time, time.saturating_add(self.gap));
        let mut min_revision = 0;
        let mut absorbed: SmallVec<[(u64, u64); 2]> = SmallVec::new();
        // Merged into the first session absorbed, not into the record: COUNT(DISTINCT)
        // merges cost the size of the merged-in state, and sessions outgrow records.
        let mut merged: Option<Accs> = None;
        while let Some(i) = ks
            .sessions
            .iter()
            .position(|s| s.end > closed && s.start < end && start < s.end)
        {
            let old = ks.sessions.remove(i);
            start = start.min(old.start);
            end = end.max(old.end);
            match &mut merged {
                None => merged = Some(old.accs),
                Some(m) => m
                    .iter_mut()
                    .zip(old.accs.iter())
                    .for_each(|(a, b)| a.merge(b)),
            }
            min_revision = min_revision.max(old.min_revision);
            absorbed.push((old.start, old.end));
        }
        let accs = match merged {
            None => record,
            Some(mut m) => {
                m.iter_mut()
                    .zip(record.iter())
                    .for_each(|(a, b)| a.merge(b));
                m
            }
        };
        // Above the withdrawal (revision + 1) of every other window merged in that is
        // live, else above its last revision. (The session's own window: see `process`.)
        for w in absorbed.into_iter().filter(|w| *w != (start, end)) {
            if let Some(sent) = ks.sent.get(&w) {
                let floor = sent.revision + 1 + u32::from(sent.live.is_some());
                min_revision = min_revision.max(floor);
            }
        }
        let pos = ks.sessions.partition_point(|s| s.start < start);
        ks.sessions.insert(
            pos,
            Session {
                start,
                end,
                accs,
                dirty: true,
                min_revision,
            },
        );
        self.changed.push(key);
    }

    /// Brings the keys changed by the last records up to date with the frontier fired so
    /// far: withdrawals, corrections and late first emissions.
    pub(crate) fn flush_changed(&mut self, out: &mut Vec<FeatureRow>) {
        let mut changed = std::mem::take(&mut self.changed);
        changed.sort();
        changed.dedup();
        let frontier = self.fired_through.unwrap_or(0);
        for key in changed.drain(..) {
            self.process(&key, frontier, out);
        }
        self.changed = changed;
    }

    /// The output row of a session, or `None` when HAVING rejects it.
    fn row(&mut self, key: &Key, s: &Session, revision: u32) -> Option<FeatureRow> {
        self.agg_row.clear();
        self.agg_row.extend(key.iter().cloned());
        self.agg_row.push(Value::Ts(s.start as i64));
        self.agg_row.push(Value::Ts(s.end as i64));
        self.agg_row.extend(s.accs.iter().map(Acc::value));
        let passes = self
            .plan
            .having
            .as_ref()
            .is_none_or(|h| h.eval(&self.agg_row).is_true());
        passes.then(|| FeatureRow {
            feature: self.feature,
            window_start: s.start as i64,
            window_end: s.end as i64,
            revision,
            values: self
                .value_exprs
                .iter()
                .map(|e| e.eval(&self.agg_row))
                .collect(),
            key: key.clone(),
            deleted: false,
        })
    }

    /// Withdraws live rows of windows that are no longer sessions, emits the due changed
    /// sessions, frees what `frontier` closed, and schedules the key's next wake-up.
    fn process(&mut self, key: &Key, frontier: u64, out: &mut Vec<FeatureRow>) {
        let Some(mut ks) = self.keys.remove(key) else {
            return;
        };
        // Withdrawals first, so that a merged row sharing a window end lands after them.
        for (w, sent) in ks.sent.iter_mut() {
            if sent.live.is_some() && !ks.sessions.iter().any(|s| (s.start, s.end) == *w) {
                let mut row = sent.live.take().expect("live");
                sent.revision += 1;
                row.revision = sent.revision;
                row.deleted = true;
                out.push(row);
            }
        }
        for i in 0..ks.sessions.len() {
            let s = &ks.sessions[i];
            if !s.dirty || self.trigger(s.end) > frontier {
                continue;
            }
            let w = (s.start, s.end);
            let prev = ks.sent.get(&w);
            let revision = prev.map_or(0, |p| p.revision + 1).max(s.min_revision);
            let was_live = prev.is_some_and(|p| p.live.is_some());
            let row = self.row(key, s, revision);
            ks.sessions[i].dirty = false;
            let sent = match row {
                Some(row) => {
                    let live = self.remember.then(|| row.clone());
                    out.push(row);
                    live
                }
                None if was_live => {
                    // HAVING turned false: withdraw the row sent for this window.
                    let mut row = ks.sent[&w].live.clone().expect("live");
                    row.revision = revision;
                    row.deleted = true;
                    out.push(row);
                    None
                }
                None => continue,
            };
            if self.remember {
                ks.sent.insert(
                    w,
                    Sent {
                        revision,
                        live: sent,
                    },
                );
            }
        }
        // Free sessions and sent windows no record can reach any more.
        let lateness = self.lateness;
        let freed = |end: u64| end.saturating_add(lateness) <= frontier;
        ks.sessions.retain(|s| !freed(s.end));
        ks.sent.retain(|(_, end), _| !freed(*end));
        let next = ks
            .sessions
            .iter()
            .map(|s| {
                if s.dirty {
                    self.trigger(s.end)
                } else {
                    s.end.saturating_add(lateness)
                }
            })
            .chain(ks.sent.keys().map(|(_, end)| end.saturating_add(lateness)))
            .min();
        match next {
            None => return, // nothing left: the key is dropped
            Some(n) => {
                if ks.wake.is_none_or(|w| n < w || w <= frontier) {
                    ks.wake = Some(n);
                    self.timers.entry(n).or_default().push(key.clone());
                }
            }
        }
        self.keys.insert(key.clone(), ks);
    }

    /// Fires every wake-up at or below `frontier`.
    pub(crate) fn advance(&mut self, frontier: u64, out: &mut Vec<FeatureRow>) {
        while let Some(entry) = self.timers.first_entry() {
            if *entry.key() > frontier {
                break;
            }
            let (at, keys) = entry.remove_entry();
            for k in keys {
                // Stale entries (the key was rescheduled or dropped) do nothing.
                let Some(ks) = self.keys.get_mut(&k).filter(|ks| ks.wake == Some(at)) else {
                    continue;
                };
                ks.wake = None;
                self.process(&k, frontier, out);
            }
        }
        self.fired_through = Some(frontier);
    }
}

impl<'s> SessionAggregate<'s> for Stream<'s, u64, Vec<SessionInput>> {
    fn session_aggregate(
        self,
        feature_index: u32,
        plan: &FeaturePlan,
        policy: EmitPolicy,
        state: Arc<RunState>,
    ) -> Stream<'s, u64, Vec<FeatureRow>> {
        let name = format!("Session[{}]", plan.name);
        let exchange = Exchange::new(|r: &SessionInput| key_hash(&r.key));
        let mut ss = SessionState::new(feature_index, plan, policy);
        self.unary_frontier(exchange, &name, move |cap, _info| {
            let mut cap: Option<Capability<u64>> = Some(cap);
            let mut out = Vec::new();
            let mut firing = Firing::default();
            move |(input, frontier), output| {
                input.for_each(|mcap, data| {
                    for rec in data.drain(..) {
                        ss.insert(rec);
                    }
                    ss.flush_changed(&mut out);
                    if !out.is_empty() {
                        RunState::add(&state.corrections, revised(&out));
                        let mut session = output.session(&mcap);
                        for row in out.drain(..) {
                            session.give(row);
                        }
                    }
                });
                let f = frontier.frontier().first().copied();
                let now = firing.through(f, &state);
                if ss.fired_through.is_none_or(|t| now > t) {
                    ss.advance(now, &mut out);
                    // A merged session emitted at its end can carry a revision too.
                    RunState::add(&state.corrections, revised(&out));
                }
                emit_at_frontier(&mut cap, f, &mut out, output);
            }
        })
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
