//! `Source[...]`: reads a source's share of input on each worker, decodes records, and runs
//! every feature's stateless prefix (WHERE, grouping key, aggregate arguments) in one pass,
//! so features reading the same source share one scan. One output per feature, plus dead
//! letters: partial aggregates for window features, [`OverInput`] rows for OVER features,
//! [`SessionInput`] records for SESSION features, and finished [`FeatureRow`]s for stateless features (their whole pipeline runs here, as
//! each row is read).
//!
//! Time: the operator holds a capability at its watermark (max event time read so far minus
//! the source's `watermark_delay`), so downstream frontiers are the global watermark (the
//! minimum over workers). Each record is judged by the watermark as it was when the record
//! was read, which makes lateness independent of batching: a record is on time for the
//! windows of its pane with `end + allowed_lateness > watermark`; if there are none, it is a
//! dead letter for that feature.
//!
//! Combining: within one batch, records of a feature with the same key, pane and first
//! on-time window (`cut`) are pre-aggregated into one [`PartialAggregate`] before the
//! exchange. They are interchangeable for window state, so results do not change; the
//! exchange and the window operator see far fewer records, and a hot key's work is spread
//! over the readers instead of landing on one worker.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use smallvec::SmallVec;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::{Scope, Stream};

use connectors::source::{Item, LineId, Poll, ReadMode, RecordSource, Watermarks};
use connectors::{Decoder, RecordError};
use planner::job::{Infra, OnError, SourceConnector};
use planner::physical::FeatureKind;
use planner::types::Value;
use planner::{FeaturePlan, SourcePlan};

use crate::accumulator::Acc;
use crate::operators::window::on_time_cut;
use crate::record::{DeadLetter, FeatureRow, Key, OverInput, PartialAggregate, SessionInput};
use crate::state::RunState;

/// How often an idle following source polls for new data.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// A source's output for one feature.
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

type Out<T> = OutputBuilder<u64, CapacityContainerBuilder<Vec<T>>>;

/// A feature's output port and the batch's records for it.
enum FeatureOut {
    Window(Out<PartialAggregate>),
    Over(Out<OverInput>, Vec<OverInput>),
    Session(Out<SessionInput>, Vec<SessionInput>),
    Rows(Out<FeatureRow>, Vec<FeatureRow>),
}

/// The streams a source produces.
pub struct SourceStreams<'s> {
    /// One per feature given, in order.
    pub features: Vec<FeatureStream<'s>>,
    /// Undecodable and too-late records.
    pub dead_letters: Stream<'s, u64, Vec<DeadLetter>>,
}

/// Builds the source operator for `plan`, feeding `features` (all reading this source;
/// `feature_ids`: their indices in the plan).
#[allow(clippy::too_many_arguments)]
pub fn source<'s>(
    scope: Scope<'s, u64>,
    plan: &SourcePlan,
    features: &[FeaturePlan],
    feature_ids: &[u32],
    mode: ReadMode,
    batch_bytes: usize,
    infra: &Infra,
    state: Arc<RunState>,
) -> SourceStreams<'s> {
    let name = format!("Source[{}]", plan.source.name);
    let mut builder = OperatorBuilder::new(name, scope);
    let address = builder.operator_info().address;
    let activator = scope.activator_for(Rc::clone(&address));
    let mut outputs = Vec::new();
    let mut streams = Vec::new();
    for f in features {
        match f.kind {
            FeatureKind::Window => {
                let (o, s) = builder.new_output::<Vec<PartialAggregate>>();
                outputs.push(FeatureOut::Window(Out::from(o)));
                streams.push(FeatureStream::Window(s));
            }
            FeatureKind::Over(_) => {
                let (o, s) = builder.new_output::<Vec<OverInput>>();
                outputs.push(FeatureOut::Over(Out::from(o), Vec::new()));
                streams.push(FeatureStream::Over(s));
            }
            FeatureKind::Session => {
                let (o, s) = builder.new_output::<Vec<SessionInput>>();
                outputs.push(FeatureOut::Session(Out::from(o), Vec::new()));
                streams.push(FeatureStream::Session(s));
            }
            FeatureKind::Stateless => {
                let (o, s) = builder.new_output::<Vec<FeatureRow>>();
                outputs.push(FeatureOut::Rows(Out::from(o), Vec::new()));
                streams.push(FeatureStream::Rows(s));
            }
        }
    }
    let (dlq_out, dlq_stream) = builder.new_output::<Vec<DeadLetter>>();
    let mut dlq_out =
        OutputBuilder::<u64, CapacityContainerBuilder<Vec<DeadLetter>>>::from(dlq_out);

    let (worker, peers) = (scope.index(), scope.peers());
    let plan = plan.clone();
    let features: Vec<FeaturePlan> = features.to_vec();
    let feature_ids: Vec<u32> = feature_ids.to_vec();
    let infra = infra.clone();
    builder.build(move |caps| {
        let mut caps = Some(caps);
        let mut reader: Option<Box<dyn RecordSource>> = None;
        let mut decoder = match Decoder::new(&plan) {
            Ok(d) => Some(d),
            Err(e) => {
                state.fail(format!("source `{}`: {e}", plan.source.name));
                None
            }
        };
        let mut row: Vec<Value> = vec![Value::Null; plan.source.columns.len()];
        let (idle_timeout, key_column, header_columns) = match &plan.source.connector {
            SourceConnector::Kafka { idle_timeout_ms, key_column, header_columns, .. } => {
                (Some(Duration::from_millis(*idle_timeout_ms)), *key_column, header_columns.clone())
            }
            SourceConnector::Kinesis { idle_timeout_ms, .. } => (Some(Duration::from_millis(*idle_timeout_ms)), None, Vec::new()),
            _ => (None, None, Vec::new()),
        };
        let mut watermarks = Watermarks::new(plan.source.watermark_delay_ms, idle_timeout);
        let shared_watermark = state.shared_watermark(&plan.source.name);
        let et = plan.source.event_time;
        let mut bad: Vec<(LineId, String, RecordError)> = Vec::new();
        let mut late: Vec<(LineId, String, usize)> = Vec::new();
        // Per feature: the batch's records combined by (key, pane, cut), and empty states.
        type Combiner = HashMap<(Key, u64, u64), SmallVec<[Acc; 2]>, foldhash::fast::RandomState>;
        let mut combiners: Vec<Combiner> = features.iter().map(|_| Combiner::default()).collect();
        let templates: Vec<SmallVec<[Acc; 2]>> =
            features.iter().map(|f| f.aggs.iter().map(|a| Acc::new(a.func, a.ty)).collect()).collect();
        move |_frontiers| {
            let Some(cs) = caps.as_mut() else { return };
            if state.stop_requested() {
                caps = None;
                return;
            }
            let Some(decoder) = decoder.as_mut() else {
                caps = None;
                return;
            };
            if reader.is_none() {
                match connectors::open_source(&plan.source, &infra, worker, peers, mode, decoder.has_header()) {
                    Ok(r) => reader = Some(r),
                    Err(e) => {
                        state.fail(format!("source `{}`: {e}", plan.source.name));
                        caps = None;
                        return;
                    }
                }
            }
            let r = reader.as_mut().expect("reader");
            let now = std::time::Instant::now();
            let r_partitions = r.partitions();
            let r_finished: Vec<bool> = (0..r_partitions).map(|p| r.finished(p)).collect();
            let mut read = 0u64;
            let mut header_error: Option<RecordError> = None;
            let polled = r.poll(batch_bytes.max(1), &mut |item| {
                let (line, id, partition) = match item {
                    Item::Header(h) => {
                        if let Err(e) = decoder.set_header(h) {
                            header_error = Some(e);
                        }
                        return;
                    }
                    Item::Line(line, id) => (line, id, None),
                    Item::Message { payload, id, partition, meta } => {
                        if let Some(k) = key_column {
                            row[k] = meta.key().map_or(Value::Null, |b| Value::Str(String::from_utf8_lossy(b).as_ref().into()));
                        }
                        for (h, c) in &header_columns {
                            row[*c] = meta.header(h).map_or(Value::Null, |b| Value::Str(String::from_utf8_lossy(b).as_ref().into()));
                        }
                        (payload, id, Some(partition))
                    }
                };
                {
                    read += 1;
                    if let Err(e) = decoder.decode(line, &mut row) {
                        bad.push((id, String::from_utf8_lossy(line).into_owned(), e));
                        return;
                    }
                    let t = match &row[et] {
                        Value::Ts(t) if *t >= 0 => *t as u64,
                        other => {
                            let e = RecordError::BadTimestamp { column: plan.source.columns[et].name.clone(), text: other.to_string() };
                            bad.push((id, String::from_utf8_lossy(line).into_owned(), e));
                            return;
                        }
                    };
                    // Judged by the watermark before this record; files are one in-order
                    // partition, messages carry theirs.
                    let watermark = watermarks.current();
                    match partition {
                        None => watermarks.observe_single(t),
                        Some(p) => {
                            watermarks.observe(p, t, now);
                            watermarks.advance(r_partitions.max(p + 1), |q| r_finished.get(q).copied().unwrap_or(false), now);
                        }
                    }
                    for (fi, f) in features.iter().enumerate() {
                        if let Some(p) = &f.filter {
                            if !p.eval(&row).is_true() {
                                continue;
                            }
                        }
                        match (&f.kind, &mut outputs[fi]) {
                            (FeatureKind::Window, _) => {}
                            (FeatureKind::Over(o), FeatureOut::Over(_, buf)) => {
                                // A row is on time while the watermark has not passed
                                // its time plus the lateness.
                                if t.saturating_add(1).saturating_add(f.allowed_lateness_ms) <= watermark {
                                    late.push((id, String::from_utf8_lossy(line).into_owned(), fi));
                                    continue;
                                }
                                let key: Key = f.keys.iter().map(|k| k.expr.eval(&row)).collect();
                                let values = o
                                    .aggs
                                    .iter()
                                    .map(|a| a.arg.as_ref().map_or(Value::Null, |e| e.eval(&row)))
                                    .chain(o.carried.iter().map(|c| row[*c].clone()))
                                    .collect();
                                buf.push(OverInput { key, time: t, values });
                                continue;
                            }
                            (FeatureKind::Session, FeatureOut::Session(_, buf)) => {
                                // On time while the watermark has not passed the end of
                                // the record's own session plus the lateness.
                                let gap = f.window.size_ms;
                                if t.saturating_add(gap).saturating_add(f.allowed_lateness_ms) <= watermark {
                                    late.push((id, String::from_utf8_lossy(line).into_owned(), fi));
                                    continue;
                                }
                                let key: Key = f.keys.iter().map(|k| k.expr.eval(&row)).collect();
                                let mut accs = templates[fi].clone();
                                for (acc, a) in accs.iter_mut().zip(&f.aggs) {
                                    match &a.arg {
                                        Some(e) => acc.add(&e.eval(&row), false),
                                        None => acc.add(&Value::Null, true),
                                    }
                                }
                                buf.push(SessionInput { key, time: t, watermark, accs });
                                continue;
                            }
                            (FeatureKind::Stateless, FeatureOut::Rows(_, buf)) => {
                                let values: SmallVec<[Value; 4]> =
                                    f.outputs.iter().map(|o| o.expr.eval(&row)).collect();
                                buf.push(FeatureRow {
                                    feature: feature_ids[fi],
                                    window_start: t as i64,
                                    window_end: t as i64,
                                    revision: 0,
                                    key: values.iter().take(1).cloned().collect(),
                                    values,
                                    deleted: false,
                                });
                                continue;
                            }
                            _ => unreachable!("outputs follow the feature kinds"),
                        }
                        // The first window of its pane the record is on time for; none: too late.
                        let pane = f.window.pane_of(t);
                        let Some(cut) = on_time_cut(&f.window, f.allowed_lateness_ms, pane, watermark) else {
                            late.push((id, String::from_utf8_lossy(line).into_owned(), fi));
                            continue;
                        };
                        let key: Key = f.keys.iter().map(|k| k.expr.eval(&row)).collect();
                        let accs = combiners[fi].entry((key, pane, cut)).or_insert_with(|| templates[fi].clone());
                        for (acc, a) in accs.iter_mut().zip(&f.aggs) {
                            match &a.arg {
                                Some(e) => acc.add(&e.eval(&row), false),
                                None => acc.add(&Value::Null, true),
                            }
                        }
                    }
                }
            });
            // Ship the batch's partial aggregates, stamped with the watermark before the batch.
            for ((combiner, out), cap) in combiners.iter_mut().zip(outputs.iter_mut()).zip(cs.iter()) {
                match out {
                    FeatureOut::Window(out) => {
                        if combiner.is_empty() {
                            continue;
                        }
                        let mut handle = out.activate();
                        let mut session = handle.session(cap);
                        for ((key, pane, cut), accs) in combiner.drain() {
                            session.give(PartialAggregate { key, pane, cut, accs });
                        }
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
            RunState::add(&state.events_read, read);
            if let Some(e) = header_error {
                state.fail(format!("source `{}`: bad CSV header: {e}", plan.source.name));
                caps = None;
                return;
            }
            let polled = match polled {
                Ok(p) => p,
                Err(e) => {
                    state.fail(format!("source `{}`: {e}", plan.source.name));
                    caps = None;
                    return;
                }
            };
            let mut close = false;
            if !bad.is_empty() || !late.is_empty() {
                let dlq_cap = cs.last().expect("dead-letter capability");
                let mut handle = dlq_out.activate();
                let mut session = handle.session(dlq_cap);
                RunState::add(&state.bad_records, bad.len() as u64);
                RunState::add(&state.too_late, late.len() as u64);
                for (id, record, e) in bad.drain(..) {
                    let origin = r.resolve(id);
                    let (file, line) = (origin.location, origin.position);
                    match plan.source.on_error {
                        OnError::Fail => {
                            state.fail(format!(
                                "{file}:{line}: {e} (source `{}` has on_error: fail; use dead_letter to keep going)",
                                plan.source.name
                            ));
                            close = true;
                            break;
                        }
                        OnError::Skip => {}
                        OnError::DeadLetter => session.give(DeadLetter {
                            kind: e.kind().into(),
                            source: plan.source.name.clone(),
                            file,
                            line,
                            reason: e.to_string(),
                            feature: None,
                            record,
                        }),
                    }
                }
                for (id, record, fi) in late.drain(..) {
                    let origin = r.resolve(id);
                    let (file, line) = (origin.location, origin.position);
                    let f = &features[fi];
                    let lateness = planner::duration::format_duration_ms(f.allowed_lateness_ms);
                    let reason = match &f.kind {
                        FeatureKind::Over(_) => format!(
                            "too late for feature `{}`: the watermark had passed this row's event time plus allowed_lateness ({lateness})",
                            f.name
                        ),
                        FeatureKind::Session => format!(
                            "too late for feature `{}`: the watermark had passed this event's time plus the session gap ({}) plus allowed_lateness ({lateness})",
                            f.name,
                            planner::duration::format_duration_ms(f.window.size_ms)
                        ),
                        _ => format!(
                            "too late for feature `{}`: the watermark had passed the end of every window of this event ({}) plus allowed_lateness ({lateness})",
                            f.name, f.window
                        ),
                    };
                    session.give(DeadLetter {
                        kind: "too_late".into(),
                        source: plan.source.name.clone(),
                        file,
                        line,
                        reason,
                        feature: Some(f.name.clone()),
                        record,
                    });
                }
            }
            if close {
                caps = None;
                return;
            }
            // Everything read so far is handed downstream: let the reader record progress.
            r.commit();
            if polled == Poll::Done {
                caps = None;
                return;
            }
            let mut w = watermarks.advance(r.partitions(), |p| r.finished(p), std::time::Instant::now());
            if watermarks.constrained() {
                shared_watermark.fetch_max(w, std::sync::atomic::Ordering::Relaxed);
            } else {
                w = w.max(shared_watermark.load(std::sync::atomic::Ordering::Relaxed));
                watermarks.raise_to(w);
            }
            for c in cs.iter_mut() {
                if *c.time() < w {
                    c.downgrade(&w);
                }
            }
            match polled {
                Poll::Idle => activator.activate_after(IDLE_POLL),
                _ => activator.activate(),
            }
        }
    });
    SourceStreams {
        features: streams,
        dead_letters: dlq_stream,
    }
}
