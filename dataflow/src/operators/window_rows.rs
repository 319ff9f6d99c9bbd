//! How the window operator turns a window's aggregate values into feature rows: each
//! feature sharing the state, its HAVING, its selected columns.

use smallvec::SmallVec;

use planner::types::Value;
use planner::FeaturePlan;

use crate::record::{FeatureRow, Key};

/// A feature emitted from a window state (several when features share one).
pub(super) struct Member {
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

/// Where a window operator's rows go: a vector of rows handed downstream, or a file sink
/// fused into the operator (`super::fused_sink`), which encodes them as they come.
pub(super) trait RowOut {
    /// Whether rows of the common shape are given by their parts ([`RowOut::push_parts`])
    /// rather than built as [`FeatureRow`]s first.
    const PARTS: bool;
    /// Rows taken since the destination was last handed on (chunked emission counts them).
    fn len(&self) -> usize;
    /// Takes a built row.
    fn push(&mut self, row: FeatureRow);
    /// Takes a row by its parts: what identifies it, and its values by reference, in
    /// SELECT order.
    fn push_parts<'v>(&mut self, head: RowHead<'_>, values: impl Iterator<Item = &'v Value>);
}

/// What identifies a row given by its parts ([`RowOut::push_parts`]).
pub(super) struct RowHead<'k> {
    pub feature: u32,
    pub key: &'k Key,
    pub window_start: i64,
    pub window_end: i64,
    pub revision: u32,
}

impl RowOut for Vec<FeatureRow> {
    const PARTS: bool = false;

    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn push(&mut self, row: FeatureRow) {
        Vec::push(self, row);
    }

    /// Not called by [`Rows::build`] (`PARTS` is false, so rows for a vector are built
    /// by moving values, not cloning them); the row a destination given parts stands for.
    fn push_parts<'v>(&mut self, head: RowHead<'_>, values: impl Iterator<Item = &'v Value>) {
        Vec::push(
            self,
            FeatureRow {
                feature: head.feature,
                window_start: head.window_start,
                window_end: head.window_end,
                revision: head.revision,
                values: values.cloned().collect(),
                key: head.key.clone(),
                deleted: false,
            },
        );
    }
}

/// How output rows are built: the features and the reused aggregate row.
/// Per window and key, a bit per member of a shared state (bit `m` for the `m`-th): its
/// last emitted row is a value, not a withdrawal. Only a shown value can be withdrawn when
/// a correction fails HAVING; a window whose value never passed HAVING emits nothing.
pub(super) type Shown = u32;

pub(super) struct Rows {
    /// The features emitted from this state, in plan order.
    members: Vec<Member>,
    pub(super) plan: FeaturePlan,
    agg_row: Vec<Value>,
}

impl Rows {
    /// The rows of `members` (`(index in the plan, plan)`), which share one window state.
    pub(super) fn new(members: &[(u32, &FeaturePlan)]) -> Self {
        Rows {
            members: members.iter().map(|(f, p)| Member::new(*f, p)).collect(),
            plan: members[0].1.clone(),
            agg_row: Vec::new(),
        }
    }

    /// Builds each member's output row of window `end` from its aggregate values, applying
    /// HAVING, into `out`. `shown` says which members' last row of this window and key is
    /// a value (not withdrawn, see [`Shown`]) and is updated: a value HAVING rejects is
    /// withdrawn (`deleted`) only if the member showed one, and otherwise not emitted.
    pub(super) fn build<O: RowOut>(
        &mut self,
        key: &Key,
        aggs: impl Iterator<Item = Value>,
        end: u64,
        revision: u32,
        shown: &mut Shown,
        out: &mut O,
    ) {
        let start = self.plan.window.window_start(end);
        // One feature without HAVING whose columns are columns of the aggregate row (the
        // common case): its values straight from the key and the aggregates.
        if let [Member {
            feature,
            having: None,
            value_columns: Some(cols),
            ..
        }] = self.members.as_slice()
        {
            let width = key.len();
            if O::PARTS {
                // Straight to the destination, by reference: nothing cloned or built. The
                // aggregate values go to a reused vector (an array of them was initialized
                // and dropped per row); timestamps own nothing, so they are not dropped.
                let aggs_now = &mut self.agg_row;
                aggs_now.clear();
                aggs_now.extend(aggs);
                let bounds = std::mem::ManuallyDrop::new([Value::Ts(start), Value::Ts(end as i64)]);
                let values = cols.iter().map(|&i| match i {
                    i if i < width => &key[i],
                    i if i < width + 2 => &bounds[i - width],
                    i => &aggs_now[i - width - 2],
                });
                let head = RowHead {
                    feature: *feature,
                    key,
                    window_start: start,
                    window_end: end as i64,
                    revision,
                };
                out.push_parts(head, values);
                return;
            }
            let mut agg_values: [Value; 4] = Default::default();
            let mut spilled = Vec::new();
            for (i, v) in aggs.enumerate() {
                match agg_values.get_mut(i) {
                    Some(slot) => *slot = v,
                    None => spilled.push(v),
                }
            }
            let column = |i: usize| match i {
                i if i < width => key[i].clone(),
                i if i == width => Value::Ts(start),
                i if i == width + 1 => Value::Ts(end as i64),
                i => {
                    let a = i - width - 2;
                    match agg_values.get(a) {
                        Some(v) => v.clone(),
                        None => spilled.get(a - 4).cloned().unwrap_or_default(),
                    }
                }
            };
            out.push(FeatureRow {
                feature: *feature,
                window_start: start,
                window_end: end as i64,
                revision,
                values: small(cols.len(), cols.iter().map(|&i| column(i))),
                key: small(key.len(), key.iter().cloned()),
                deleted: false,
            });
            return;
        }
        let agg_row = &mut self.agg_row;
        agg_row.clear();
        agg_row.extend(key.iter().cloned());
        agg_row.push(Value::Ts(start));
        agg_row.push(Value::Ts(end as i64));
        agg_row.extend(aggs);
        let last = self.members.len() - 1;
        for (m, member) in self.members.iter().enumerate() {
            let passes = member
                .having
                .as_ref()
                .is_none_or(|h| h.eval(agg_row).is_true());
            // Members past the mask's width fall back to "shown once emitted".
            let bit = 1u32.checked_shl(m as u32).unwrap_or(0);
            let was_shown = if bit == 0 {
                revision > 0
            } else {
                *shown & bit != 0
            };
            if !passes && !was_shown {
                continue;
            }
            if passes {
                *shown |= bit;
            } else {
                *shown &= !bit;
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
}

/// Collects `len` values into a SmallVec, filling its inline array directly when they fit
/// (what `collect` does item by item, with a capacity check each: a fifth of a HOP
/// feature's row-building time).
#[inline]
fn small<const N: usize>(len: usize, items: impl Iterator<Item = Value>) -> SmallVec<[Value; N]> {
    if len > N {
        return items.collect();
    }
    let mut buf: [Value; N] = std::array::from_fn(|_| Value::Null);
    let mut n = 0;
    for (slot, v) in buf.iter_mut().zip(items) {
        *slot = v;
        n += 1;
    }
    // The slots past `n` hold `Null`, which owns nothing, so not dropping them loses nothing.
    SmallVec::from_buf_and_len(buf, n)
}
