//! `Source[...]`: reads a source's share of input on each worker, decodes records, and runs
//! every feature's stateless prefix (WHERE, grouping key, aggregate arguments) in one pass,
//! so features reading the same source share one scan. One output per feature, plus dead
//! letters.
//!
//! Time: the operator holds a capability at its watermark (max event time read so far minus
//! the source's `watermark_delay`), so downstream frontiers are the global watermark (the
//! minimum over workers). Each record also carries the watermark as it was when the record
//! was read; windows use it to tell late records from on-time ones, which makes lateness
//! independent of batching. A record whose every window of a feature had expired
//! (`end + allowed_lateness <= watermark`) is a dead letter for that feature.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use smallvec::SmallVec;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::dataflow::{Scope, Stream};

use connectors::file::source::{FileReader, Item, LineId, Poll, ReadMode};
use connectors::{Decoder, RecordError};
use planner::job::{OnError, SourceConnector};
use planner::types::Value;
use planner::{FeaturePlan, SourcePlan};

use crate::record::{DeadLetter, KeyedRecord};
use crate::state::RunState;

/// How often an idle following source polls for new data.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// The streams a source produces.
pub struct SourceStreams<'s> {
    /// One per feature given, in order.
    pub features: Vec<Stream<'s, u64, Vec<KeyedRecord>>>,
    /// Undecodable and too-late records.
    pub dead_letters: Stream<'s, u64, Vec<DeadLetter>>,
}

/// Builds the source operator for `plan`, feeding `features` (all reading this source).
pub fn source<'s>(
    scope: Scope<'s, u64>,
    plan: &SourcePlan,
    features: &[FeaturePlan],
    mode: ReadMode,
    batch_bytes: usize,
    state: Arc<RunState>,
) -> SourceStreams<'s> {
    let name = format!("Source[{}]", plan.source.name);
    let mut builder = OperatorBuilder::new(name, scope);
    let address = builder.operator_info().address;
    let activator = scope.activator_for(Rc::clone(&address));
    let mut outputs = Vec::new();
    let mut streams = Vec::new();
    for _ in features {
        let (o, s) = builder.new_output::<Vec<KeyedRecord>>();
        outputs.push(OutputBuilder::<
            u64,
            CapacityContainerBuilder<Vec<KeyedRecord>>,
        >::from(o));
        streams.push(s);
    }
    let (dlq_out, dlq_stream) = builder.new_output::<Vec<DeadLetter>>();
    let mut dlq_out =
        OutputBuilder::<u64, CapacityContainerBuilder<Vec<DeadLetter>>>::from(dlq_out);

    let (worker, peers) = (scope.index(), scope.peers());
    let plan = plan.clone();
    let features: Vec<FeaturePlan> = features.to_vec();
    builder.build(move |caps| {
        let mut caps = Some(caps);
        let mut reader: Option<FileReader> = None;
        let mut decoder = Decoder::new(&plan);
        let mut row: Vec<Value> = vec![Value::Null; plan.source.columns.len()];
        let mut max_time: Option<u64> = None;
        let delay = plan.source.watermark_delay_ms;
        let et = plan.source.event_time;
        let mut bad: Vec<(LineId, String, RecordError)> = Vec::new();
        let mut late: Vec<(LineId, String, usize)> = Vec::new();
        move |_frontiers| {
            let Some(cs) = caps.as_mut() else { return };
            if state.stop_requested() {
                caps = None;
                return;
            }
            if reader.is_none() {
                let SourceConnector::File { path } = &plan.source.connector;
                match FileReader::open(path, worker, peers, mode, decoder.has_header()) {
                    Ok(r) => reader = Some(r),
                    Err(e) => {
                        state.fail(format!("source `{}`: {e}", plan.source.name));
                        caps = None;
                        return;
                    }
                }
            }
            let r = reader.as_mut().expect("reader");
            let wm = |max_time: Option<u64>| max_time.map_or(0, |m| m.saturating_sub(delay));
            let mut handles: Vec<_> = outputs.iter_mut().map(|o| o.activate()).collect();
            let mut sessions: Vec<_> = handles.iter_mut().zip(cs.iter()).map(|(h, c)| h.session(c)).collect();
            let mut read = 0u64;
            let mut header_error: Option<RecordError> = None;
            let polled = r.poll(batch_bytes.max(1), |item| {
                let (line, id) = match item {
                    Item::Header(h) => {
                        if let Err(e) = decoder.set_header(h) {
                            header_error = Some(e);
                        }
                        return;
                    }
                    Item::Line(line, id) => (line, id),
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
                    let watermark = wm(max_time);
                    max_time = Some(max_time.map_or(t, |m| m.max(t)));
                    for (fi, f) in features.iter().enumerate() {
                        if let Some(p) = &f.filter {
                            if !p.eval(&row).is_true() {
                                continue;
                            }
                        }
                        // Every window containing the record has expired: too late.
                        let pane = f.window.pane_of(t);
                        if f.window.last_end_of_pane(pane) + f.allowed_lateness_ms <= watermark {
                            late.push((id, String::from_utf8_lossy(line).into_owned(), fi));
                            continue;
                        }
                        let key = f.keys.iter().map(|k| k.expr.eval(&row)).collect();
                        let args: SmallVec<[Value; 2]> = f
                            .aggs
                            .iter()
                            .map(|a| a.arg.as_ref().map_or(Value::Null, |e| e.eval(&row)))
                            .collect();
                        sessions[fi].give(KeyedRecord { key, time: t, watermark, args });
                    }
                }
            });
            drop(sessions);
            drop(handles);
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
                    let (file, line) = r.resolve(id);
                    match plan.source.on_error {
                        OnError::Fail => {
                            state.fail(format!(
                                "{}:{line}: {e} (source `{}` has on_error: fail; use dead_letter to keep going)",
                                file.display(),
                                plan.source.name
                            ));
                            close = true;
                            break;
                        }
                        OnError::Skip => {}
                        OnError::DeadLetter => session.give(DeadLetter {
                            kind: e.kind().into(),
                            source: plan.source.name.clone(),
                            file: file.display().to_string(),
                            line,
                            reason: e.to_string(),
                            feature: None,
                            record,
                        }),
                    }
                }
                for (id, record, fi) in late.drain(..) {
                    let (file, line) = r.resolve(id);
                    let f = &features[fi];
                    session.give(DeadLetter {
                        kind: "too_late".into(),
                        source: plan.source.name.clone(),
                        file: file.display().to_string(),
                        line,
                        reason: format!(
                            "too late for feature `{}`: the watermark had passed the end of every window of this event ({}) plus allowed_lateness ({})",
                            f.name,
                            f.window,
                            planner::duration::format_duration_ms(f.allowed_lateness_ms)
                        ),
                        feature: Some(f.name.clone()),
                        record,
                    });
                }
            }
            if close {
                caps = None;
                return;
            }
            match polled {
                Poll::Done => caps = None,
                Poll::Lines(_) => {
                    let w = wm(max_time);
                    for c in cs.iter_mut() {
                        if *c.time() < w {
                            c.downgrade(&w);
                        }
                    }
                    activator.activate();
                }
                Poll::Idle => {
                    let w = wm(max_time);
                    for c in cs.iter_mut() {
                        if *c.time() < w {
                            c.downgrade(&w);
                        }
                    }
                    activator.activate_after(IDLE_POLL);
                }
            }
        }
    });
    SourceStreams {
        features: streams,
        dead_letters: dlq_stream,
    }
}
