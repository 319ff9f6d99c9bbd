//! A feature's stateless prefix: WHERE, the projection of a subquery in FROM, then the
//! feature's keys and aggregate arguments, run on each base row where it is read (in the
//! `Source[...]` operator, or after an `IntervalJoin[...]`). Window features get per-pane
//! [`PartialAggregate`]s combined within a batch, OVER features [`OverInput`] rows, and
//! stateless features their finished [`FeatureRow`]s.
//!
//! Lateness is judged here, by the watermark the caller gives for the row (the source's
//! watermark before the record was read; for joined rows, the join's output watermark when
//! the pair was made), so it does not depend on batching or scheduling.

use smallvec::SmallVec;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use planner::expr::Expr;
use planner::physical::FeatureKind;
use planner::types::Value;
use planner::FeaturePlan;

use crate::accumulator::Acc;
use crate::combiner::Combiner;
use crate::operators::window::on_time_cut;
use crate::record::{FeatureRow, Key, OverInput, PartialAggregate, SessionInput};

/// A prefix's output for one feature.
pub enum FeatureStream<'s> {
    /// Partial aggregates for a window feature.
    Window(Stream<'s, u64, Vec<PartialAggregate>>),
    /// Rows for an OVER feature.
    Over(Stream<'s, u64, Vec<OverInput>>),
    /// Records for a SESSION feature.
    Session(Stream<'s, u64, Vec<SessionInput>>),
    /// Finished rows of a stateless feature.
    Rows(Stream<'s, u64, Vec<FeatureRow>>),
}

/// An output port of an operator under construction.
pub type Out<T> = OutputBuilder<u64, CapacityContainerBuilder<Vec<T>>>;

/// A feature's output port and the batch's records for it.
pub enum FeatureOut {
    /// Window feature.
    Window(Out<PartialAggregate>),
    /// OVER feature.
    Over(Out<OverInput>, Vec<OverInput>),
    /// SESSION feature.
    Session(Out<SessionInput>, Vec<SessionInput>),
    /// Stateless feature.
    Rows(Out<FeatureRow>, Vec<FeatureRow>),
}

/// Adds an output for `f` to an operator being built.
pub fn new_output<'s>(
    builder: &mut timely::dataflow::operators::generic::builder_rc::OperatorBuilder<'s, u64>,
    f: &FeaturePlan,
) -> (FeatureOut, FeatureStream<'s>) {
    match f.kind {
        FeatureKind::Window => {
            let (o, s) = builder.new_output::<Vec<PartialAggregate>>();
            (FeatureOut::Window(Out::from(o)), FeatureStream::Window(s))
        }
        FeatureKind::Over(_) => {
            let (o, s) = builder.new_output::<Vec<OverInput>>();
            (
                FeatureOut::Over(Out::from(o), Vec::new()),
                FeatureStream::Over(s),
            )
        }
        FeatureKind::Session => {
            let (o, s) = builder.new_output::<Vec<SessionInput>>();
            (
                FeatureOut::Session(Out::from(o), Vec::new()),
                FeatureStream::Session(s),
            )
        }
        FeatureKind::Stateless => {
            let (o, s) = builder.new_output::<Vec<FeatureRow>>();
            (
                FeatureOut::Rows(Out::from(o), Vec::new()),
                FeatureStream::Rows(s),
            )
        }
    }
}

/// A NULL to lend out for a key column missing from a row.
static NULL: Value = Value::Null;

/// The prefixes of several features, and their pending output.
pub struct Prefix {
    features: Vec<FeaturePlan>,
    feature_ids: Vec<u32>,
    combiners: Vec<Combiner>,
    templates: Vec<SmallVec<[Acc; 2]>>,
    /// The projected row (features with a subquery in FROM).
    projected: Vec<Value>,
    /// The values of computed (non-column) keys of the row at hand.
    computed_keys: Vec<Value>,
    /// Per feature: the last (pane, watermark) judged and its cut (`on_time_cut`): rows
    /// of a batch mostly share both, and the cut walks the pane's windows.
    last_cut: Vec<Option<(u64, u64, Option<u64>)>>,
}

/// What happened to a row offered to a feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Filtered out, or taken.
    Done,
    /// Too late for the feature: a dead letter.
    TooLate,
}

impl Prefix {
    /// Prefixes for `features` (`feature_ids`: their indices in the plan).
    pub fn new(features: Vec<FeaturePlan>, feature_ids: Vec<u32>) -> Self {
        let templates = features
            .iter()
            .map(|f| f.aggs.iter().map(|a| Acc::new(a.func, a.ty)).collect())
            .collect();
        Prefix {
            combiners: features.iter().map(|_| Combiner::default()).collect(),
            last_cut: vec![None; features.len()],
            features,
            feature_ids,
            templates,
            projected: Vec::new(),
            computed_keys: Vec::new(),
        }
    }

    /// The features.
    pub fn features(&self) -> &[FeaturePlan] {
        &self.features
    }

    /// Offers base row `row` with event time `t`, read at `watermark`, to feature `fi`.
    pub fn push(
        &mut self,
        fi: usize,
        out: &mut FeatureOut,
        row: &[Value],
        t: u64,
        watermark: u64,
    ) -> Pushed {
        let f = &self.features[fi];
        if let Some(p) = &f.filter {
            if !p.eval(row).is_true() {
                return Pushed::Done;
            }
        }
        let row: &[Value] = match &f.project {
            Some(cols) => {
                self.projected.clear();
                self.projected.extend(cols.iter().map(|c| c.expr.eval(row)));
                &self.projected
            }
            None => row,
        };
        match (&f.kind, out) {
            (FeatureKind::Window, _) => {}
            (FeatureKind::Over(o), FeatureOut::Over(_, buf)) => {
                // A row is on time while the watermark has not passed its time plus the
                // lateness.
                if t.saturating_add(1).saturating_add(f.allowed_lateness_ms) <= watermark {
                    return Pushed::TooLate;
                }
                let key: Key = f.keys.iter().map(|k| k.expr.eval(row)).collect();
                let values = o
                    .aggs
                    .iter()
                    .map(|a| a.arg.as_ref().map_or(Value::Null, |e| e.eval(row)))
                    .chain(o.carried.iter().map(|c| row[*c].clone()))
                    .collect();
                buf.push(OverInput {
                    key,
                    time: t,
                    values,
                });
                return Pushed::Done;
            }
            (FeatureKind::Session, FeatureOut::Session(_, buf)) => {
                // On time while the watermark has not passed the end of the record's own
                // session plus the lateness.
                let gap = f.window.size_ms;
                if t.saturating_add(gap).saturating_add(f.allowed_lateness_ms) <= watermark {
                    return Pushed::TooLate;
                }
                let key: Key = f.keys.iter().map(|k| k.expr.eval(row)).collect();
                let mut accs = self.templates[fi].clone();
                for (acc, a) in accs.iter_mut().zip(&f.aggs) {
                    match &a.arg {
                        Some(e) => acc.add(&e.eval(row), false),
                        None => acc.add(&Value::Null, true),
                    }
                }
                buf.push(SessionInput {
                    key,
                    time: t,
                    watermark,
                    accs,
                });
                return Pushed::Done;
            }
            (FeatureKind::Stateless, FeatureOut::Rows(_, buf)) => {
                let values: SmallVec<[Value; 4]> =
                    f.outputs.iter().map(|o| o.expr.eval(row)).collect();
                buf.push(FeatureRow {
                    feature: self.feature_ids[fi],
                    window_start: t as i64,
                    window_end: t as i64,
                    revision: 0,
                    key: values.iter().take(1).cloned().collect(),
                    values,
                    deleted: false,
                });
                return Pushed::Done;
            }
            _ => unreachable!("outputs follow the feature kinds"),
        }
        // The first window of its pane the record is on time for; none: too late.
        let pane = f.window.pane_of(t);
        let cut = match self.last_cut[fi] {
            Some((p, w, cut)) if p == pane && w == watermark => cut,
            _ => {
                let cut = on_time_cut(&f.window, f.allowed_lateness_ms, pane, watermark);
                self.last_cut[fi] = Some((pane, watermark, cut));
                cut
            }
        };
        let Some(cut) = cut else {
            return Pushed::TooLate;
        };
        // The key by reference to the row's values (computed keys evaluated aside): the
        // combiner clones it only for the batch's first record of the key.
        let accs = match f.keys.as_slice() {
            [k] if matches!(k.expr, Expr::Column { .. }) => {
                let Expr::Column { index, .. } = &k.expr else {
                    unreachable!("matched above")
                };
                let key = [row.get(*index).unwrap_or(&NULL)];
                self.combiners[fi].entry(&key, pane, cut, &self.templates[fi])
            }
            keys => {
                self.computed_keys.clear();
                for k in keys {
                    if !matches!(k.expr, Expr::Column { .. }) {
                        self.computed_keys.push(k.expr.eval(row));
                    }
                }
                let mut computed = self.computed_keys.iter();
                let key: SmallVec<[&Value; 4]> = keys
                    .iter()
                    .map(|k| match &k.expr {
                        Expr::Column { index, .. } => row.get(*index).unwrap_or(&NULL),
                        _ => computed.next().expect("evaluated above"),
                    })
                    .collect();
                self.combiners[fi].entry(&key, pane, cut, &self.templates[fi])
            }
        };
        for (acc, a) in accs.iter_mut().zip(&f.aggs) {
            match &a.arg {
                Some(e) => acc.add(&e.eval(row), false),
                None => acc.add(&Value::Null, true),
            }
        }
        Pushed::Done
    }

    /// Ships feature `fi`'s pending records at `cap`.
    pub fn flush(&mut self, fi: usize, out: &mut FeatureOut, cap: &Capability<u64>) {
        match out {
            FeatureOut::Window(out) => {
                let combiner = &mut self.combiners[fi];
                if combiner.is_empty() {
                    return;
                }
                // The batch goes downstream as one container: the exchange then copies
                // each record once, into its worker's buffer.
                let batch = combiner.batch();
                out.activate().session(cap).give_container(batch);
                batch.clear();
            }
            FeatureOut::Over(out, buf) => {
                if !buf.is_empty() {
                    out.activate().session(cap).give_iterator(buf.drain(..));
                }
            }
            FeatureOut::Session(out, buf) => {
                if !buf.is_empty() {
                    out.activate().session(cap).give_iterator(buf.drain(..));
                }
            }
            FeatureOut::Rows(out, buf) => {
                if !buf.is_empty() {
                    out.activate().session(cap).give_iterator(buf.drain(..));
                }
            }
        }
    }

    /// Why a row was too late for feature `fi`, for the dead letter of `feature` (`fi`
    /// itself, or a feature sharing its window state: same window and lateness).
    pub fn late_reason(&self, fi: usize, feature: &str) -> String {
        let f = &self.features[fi];
        let lateness = planner::duration::format_duration_ms(f.allowed_lateness_ms);
        match &f.kind {
            FeatureKind::Over(_) => format!(
                "too late for feature `{}`: the watermark had passed this row's event time plus allowed_lateness ({lateness})",
                feature
            ),
            FeatureKind::Session => format!(
                "too late for feature `{}`: the watermark had passed this event's time plus the session gap ({}) plus allowed_lateness ({lateness})",
                feature,
                planner::duration::format_duration_ms(f.window.size_ms)
            ),
            _ => format!(
                "too late for feature `{}`: the watermark had passed the end of every window of this event ({}) plus allowed_lateness ({lateness})",
                feature, f.window
            ),
        }
    }
}
