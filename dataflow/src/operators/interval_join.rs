//! `IntervalJoin[...]`: an event-time interval join of two keyed row streams.
//!
//! Both inputs are exchanged by the hash of the join key, so a key's rows of both sides
//! meet on one worker. A pair `(l, r)` with equal keys matches when
//! `lower <= r.time - l.time <= upper` and the residual ON condition holds; it is emitted
//! once, when the second of the two rows arrives (within an activation left rows are
//! inserted before right rows probe, so a pair arriving together is found by the right
//! row). A row whose key has a NULL never matches (SQL equality).
//!
//! Time. Rows arrive stamped with the watermark their source had when it read them (`c`);
//! the source already sent rows with `time + 1 + lateness <= c` to the dead letters. With
//! `F` the frontier of both inputs:
//! - a left row can still meet right rows of time up to `l.time + upper`, which are
//!   accepted while `F <= r.time + lateness`; it is dropped once
//!   `F > l.time + upper + lateness`, and a right row once `F > r.time - lower + lateness`.
//!   No accepted row can need a dropped one, so results do not depend on scheduling;
//! - the operator holds its output capability at `F - delay` ([`JoinPlan::delay_ms`]) and
//!   stamps a pair with `c - delay` (`c`: the arriving row's stamp): the output watermark
//!   trails the inputs' by `delay`, chosen by the planner so that every pair made of
//!   accepted rows is on time for the feature's windows downstream;
//! - LEFT joins: a left row dropped without a match is emitted padded with NULLs, stamped
//!   with its own time (which the held capability never passes before then).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use smallvec::SmallVec;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use planner::join::{JoinKind, JoinPlan};
use planner::types::Value;

use crate::operators::emit::Firing;
use crate::operators::window::key_hash;
use crate::record::{Key, OverInput};
use crate::state::RunState;

/// A joined row: the left side's values, then the right side's.
pub type JoinedRow = Vec<Value>;

/// Interval join as an extension trait on the left side's keyed rows.
pub trait IntervalJoin<'s> {
    /// Joins with `right` as `join` says; `lateness_ms` is the feature's allowed lateness.
    /// A stopped run (`state`) does not pad the LEFT rows still waiting for a match.
    fn interval_join(
        self,
        right: Stream<'s, u64, Vec<OverInput>>,
        name: &str,
        join: &JoinPlan,
        lateness_ms: u64,
        state: Arc<RunState>,
    ) -> Stream<'s, u64, Vec<JoinedRow>>;
}

struct Stored {
    time: u64,
    values: SmallVec<[Value; 2]>,
    matched: bool,
}

/// A key's rows of one side: usually one, kept inline.
type Rows = SmallVec<[Stored; 1]>;

/// Expiry buckets: rows expiring in the same second share a bucket (no per-row heap
/// entry; rows arrive roughly in time order, so buckets fill at the back).
const BUCKET_MS: u64 = 1_000;

/// The join's state on one worker.
struct JoinState {
    kind: JoinKind,
    lower: i64,
    upper: i64,
    lateness: u64,
    residual: Option<planner::expr::Expr>,
    left_width: usize,
    right_width: usize,
    /// Stored rows per key, one map per side (`[left, right]`): sides live for different
    /// times, and a lookup touches only the side it needs.
    rows: [HashMap<Key, Rows, foldhash::fast::RandomState>; 2],
    /// The right side is a bounded table (see [`JoinPlan::table`]).
    table: bool,
    /// Per second of expiry: (expiry, key, left side) of each stored row.
    expiry: BTreeMap<u64, Vec<(u64, Key, bool)>>,
    pair: JoinedRow,
}

fn add(t: u64, d: i64) -> u64 {
    (t as i128 + d as i128).clamp(0, u64::MAX as i128) as u64
}

/// A joined row: `left`, then `right` (NULLs for an unmatched left row).
fn joined(left: &[Value], right: Option<&[Value]>, width: usize) -> JoinedRow {
    let mut out = Vec::with_capacity(width);
    out.extend_from_slice(left);
    match right {
        Some(r) => out.extend_from_slice(r),
        None => out.resize(width, Value::Null),
    }
    out
}

/// The first frontier at which a left (right) row of time `t` can be dropped.
fn expires(t: u64, left: bool, (lower, upper, lateness): (i64, i64, u64)) -> u64 {
    let reach = if left { upper } else { lower.saturating_neg() };
    add(t, reach).saturating_add(lateness).saturating_add(1)
}

impl JoinState {
    /// Inserts a row, calling `emit` with each pair it completes.
    fn insert(&mut self, row: OverInput, left: bool, emit: &mut impl FnMut(JoinedRow)) {
        let has_null = row.key.iter().any(|v| matches!(v, Value::Null));
        if has_null && (!left || self.kind == JoinKind::Inner) {
            return;
        }
        let JoinState {
            kind,
            table,
            lower,
            upper,
            lateness,
            residual,
            left_width,
            right_width,
            rows,
            expiry,
            pair,
            ..
        } = self;
        let [left_rows, right_rows] = rows;
        let (mine, theirs) = if left {
            (left_rows, right_rows)
        } else {
            (right_rows, left_rows)
        };
        let (lower, upper, width) = (*lower, *upper, *left_width + *right_width);
        let at = expires(row.time, left, (lower, upper, *lateness));
        let mut matched = false;
        if let Some(others) = theirs.get_mut(&row.key).filter(|_| !has_null) {
            for o in others.iter_mut() {
                let (lt, rt) = if left {
                    (row.time, o.time)
                } else {
                    (o.time, row.time)
                };
                let d = rt as i128 - lt as i128;
                if d < lower as i128 || d > upper as i128 {
                    continue;
                }
                let (lv, rv) = if left {
                    (&row.values[..], &o.values[..])
                } else {
                    (&o.values[..], &row.values[..])
                };
                if let Some(p) = residual.as_ref() {
                    pair.clear();
                    pair.extend_from_slice(lv);
                    pair.extend_from_slice(rv);
                    if !p.eval(pair).is_true() {
                        continue;
                    }
                }
                matched = true;
                o.matched = true;
                emit(joined(lv, Some(rv), width));
            }
        }
        if *table && left {
            // A stream row meets the whole table once and is not kept.
            if !matched && *kind == JoinKind::Left {
                emit(joined(&row.values, None, width));
            }
            return;
        }
        let stored = Stored {
            time: row.time,
            values: row.values.into_iter().collect(),
            matched,
        };
        mine.entry(row.key.clone()).or_default().push(stored);
        // A table row is kept for the whole run: no expiry.
        if !*table {
            expiry
                .entry(at / BUCKET_MS)
                .or_default()
                .push((at, row.key, left));
        }
    }

    /// Drops rows expired at frontier `f`; unmatched left rows of a LEFT join go to `padded`.
    fn expire(&mut self, f: u64, padded: &mut Vec<(u64, JoinedRow)>) {
        let bounds = (self.lower, self.upper, self.lateness);
        let width = self.left_width + self.right_width;
        let mut due = Vec::new();
        while let Some(mut bucket) = self.expiry.first_entry() {
            if bucket.key().saturating_mul(BUCKET_MS) > f {
                break;
            }
            if (bucket.key() + 1).saturating_mul(BUCKET_MS) <= f.saturating_add(1) {
                due.extend(bucket.remove());
            } else {
                // The second `f` is in: only its entries at or below `f`.
                let entries = bucket.get_mut();
                let (now, later): (Vec<_>, Vec<_>) =
                    entries.drain(..).partition(|(at, _, _)| *at <= f);
                *entries = later;
                due.extend(now);
                break;
            }
        }
        let pad = self.kind == JoinKind::Left;
        for (at, key, left) in due {
            let side = &mut self.rows[usize::from(!left)];
            let Some(rows) = side.get_mut(&key) else {
                continue;
            };
            // Every row of the key and side expiring no later than this entry: all are due
            // (their entries are at or below `f` too, and find nothing then). Taking one
            // row per entry instead lost rows whenever a key's entries came out of the
            // buckets in another order than its rows' expiries: an entry took a row
            // expiring earlier than its own, the earlier entry then found none, and its
            // row was never dropped, nor padded.
            rows.retain(|s| {
                if expires(s.time, left, bounds) > at {
                    return true;
                }
                if left && !s.matched && pad {
                    padded.push((s.time, joined(&s.values, None, width)));
                }
                false
            });
            if rows.is_empty() {
                side.remove(&key);
            }
        }
    }
}

impl<'s> IntervalJoin<'s> for Stream<'s, u64, Vec<OverInput>> {
    fn interval_join(
        self,
        right: Stream<'s, u64, Vec<OverInput>>,
        name: &str,
        join: &JoinPlan,
        lateness_ms: u64,
        state: Arc<RunState>,
    ) -> Stream<'s, u64, Vec<JoinedRow>> {
        let name = format!("IntervalJoin[{name}]");
        let delay = join.delay_ms;
        let mut st = JoinState {
            kind: join.kind,
            lower: join.bounds.lower_ms,
            upper: join.bounds.upper_ms,
            lateness: lateness_ms,
            residual: join.residual.clone(),
            left_width: join.left.columns.len(),
            right_width: join.right.columns.len(),
            rows: [HashMap::default(), HashMap::default()],
            table: join.table,
            expiry: BTreeMap::new(),
            pair: Vec::new(),
        };
        let pact = || Exchange::new(|r: &OverInput| key_hash(&r.key));
        self.binary_frontier(right, pact(), pact(), &name, move |cap, _info| {
            let mut held: Option<Capability<u64>> = Some(cap);
            let mut firing = Firing::default();
            let mut loaded = Firing::default();
            let mut out: Vec<(u64, JoinedRow)> = Vec::new();
            // Table joins: stream rows (with their stamps) waiting for the table to load.
            let mut waiting: Vec<(u64, OverInput)> = Vec::new();
            move |(left_in, left_f), (right_in, right_f), output| {
                if st.table {
                    right_in.for_each(|_, data| {
                        for row in data.drain(..) {
                            st.insert(row, false, &mut |_| {
                                unreachable!("table rows complete no pairs")
                            });
                        }
                    });
                    left_in.for_each(|mcap, data| {
                        let at = *mcap.least().expect("a stamp");
                        waiting.extend(data.drain(..).map(|row| (at, row)));
                    });
                    // Loaded: the table's input ended before any stop (see `Firing`; at a
                    // stop its frontier empties with the table read in part, and the
                    // waiting rows are dropped, not joined with a part of it).
                    let right_end = right_f.frontier().first().copied();
                    if loaded.through(right_end, &state) == u64::MAX {
                        for (at, row) in waiting.drain(..) {
                            st.insert(row, true, &mut |pair| out.push((at, pair)));
                        }
                    } else if state.stop_requested() {
                        waiting.clear();
                    }
                } else {
                    for (input, is_left) in [(left_in, true), (right_in, false)] {
                        input.for_each(|mcap, data| {
                            let at = mcap.least().expect("a stamp").saturating_sub(delay);
                            for row in data.drain(..) {
                                st.insert(row, is_left, &mut |pair| out.push((at, pair)));
                            }
                        });
                    }
                }
                let f = match (left_f.frontier().first(), right_f.frontier().first()) {
                    (Some(a), Some(b)) => Some(*a.min(b)),
                    (a, b) => a.or(b).copied(),
                };
                // Waiting stream rows hold the output back to their stamps.
                let f = match (f, waiting.iter().map(|(at, _)| *at).min()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                st.expire(firing.through(f, &state), &mut out);
                if let Some(c) = held.as_mut() {
                    out.sort_unstable_by_key(|(t, _)| *t);
                    let mut i = 0;
                    while i < out.len() {
                        let t = out[i].0.max(*c.time());
                        let stamp = c.delayed(&t);
                        let mut session = output.session(&stamp);
                        while i < out.len() && out[i].0.max(*c.time()) == t {
                            session.give(std::mem::take(&mut out[i].1));
                            i += 1;
                        }
                    }
                    out.clear();
                    match f {
                        None => held = None,
                        Some(t) => {
                            let t = t.saturating_sub(delay);
                            if *c.time() < t {
                                c.downgrade(&t);
                            }
                        }
                    }
                }
            }
        })
    }
}

#[cfg(test)]
#[path = "interval_join_tests.rs"]
mod tests;
