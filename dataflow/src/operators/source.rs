//! `Source[...]`: reads a source's share of input on each worker, decodes records, and runs
//! every feature's stateless prefix (WHERE, grouping key, aggregate arguments; see
//! [`crate::operators::prefix`]) in one pass, so features reading the same source share one
//! scan. One output per feature, plus dead letters: partial aggregates for window
//! features, [`OverInput`] rows for OVER features, and finished rows for stateless features
//! (their whole pipeline runs here, as each row is read). Each interval join reading the
//! source gets keyed rows of its side (filtered, projected, keyed; too-late rows are dead
//! letters here, judged like OVER rows).
//!
//! Time: the operator holds a capability at its watermark (max event time read so far minus
//! the source's `watermark_delay`), so downstream frontiers are the global watermark (the
//! minimum over workers). Each record is judged by the watermark as it was when the record
//! was read, which makes lateness independent of batching: a record is on time for the
//! windows of its pane with `end + allowed_lateness > watermark`; if there are none, it is a
//! dead letter for that feature.
//!
//! Combining: within one batch, records of a feature with the same key, pane and first
//! on-time window (`cut`) are pre-aggregated into one [`PartialAggregate`](crate::record::PartialAggregate) before the
//! exchange. They are interchangeable for window state, so results do not change; the
//! exchange and the window operator see far fewer records, and a hot key's work is spread
//! over the readers instead of landing on one worker.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use smallvec::SmallVec;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::{Operator, OutputBuilder};
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::{Scope, Stream};

use connectors::format::EVENT_TIME_RANGE;
use connectors::source::{is_blank, Item, LineId, Poll, ReadMode, RecordSource, Watermarks};
use connectors::{Decoder, RecordError};
use planner::job::{Infra, OnError, SourceConnector};
use planner::join::JoinSide;
use planner::types::Value;
use planner::{FeaturePlan, SourcePlan};

use crate::operators::pending_dead_letters::PendingDeadLetters;
use crate::operators::prefix::{new_output, FeatureStream, Out, Prefix, Pushed};
use crate::record::{DeadLetter, Key, OverInput};
use crate::state::RunState;

/// How often an idle following source polls for new data.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// How often a worker whose own partitions hold its watermark tells the cluster of it.
const ANNOUNCE_EVERY: Duration = Duration::from_millis(100);

/// Event times read as milliseconds in 1970-01-12 .. 1973-03-03: what epoch *seconds* of
/// the years 2001-5138 become. No real data of those years is plausible, so a watermark in
/// this band warns (once per process) that the column is likely seconds.
const SECONDS_LIKE: std::ops::Range<u64> = 1_000_000_000..100_000_000_000;

/// Warns once per process when a source's watermark looks like epoch seconds read as
/// milliseconds (found by QA: such data silently fell into windows of January 1970).
fn warn_if_seconds(plan: &SourcePlan, watermark: u64) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if SECONDS_LIKE.contains(&watermark) && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        let column = &plan.source.columns[plan.source.event_time].name;
        let when = chrono::DateTime::from_timestamp_millis(watermark as i64)
            .map_or_else(String::new, |d| {
                d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            });
        tracing::warn!(
            "source `{}`: event times near {when} ({watermark}): is `{column}` in epoch seconds? Event times are epoch milliseconds (hint: have the producer write milliseconds or RFC 3339 text)",
            plan.source.name
        );
    }
}

/// A record as a reader delivers it: a line or message to decode, or a decoded row.
#[derive(Clone, Copy)]
enum Record<'a> {
    Line(&'a [u8]),
    Row(&'a [Value], Option<&'a RecordError>),
    /// Input that could not be read (an object that does not decompress): only an error.
    Unreadable(&'a RecordError),
}

/// A record as a dead letter shows it: its text, and its bytes in base64 when they are
/// not UTF-8 (an Avro or Protobuf payload), so the record can be replayed as it was.
type Shown = (String, Option<String>);

impl Record<'_> {
    /// The record as a dead letter shows it.
    fn text(&self, columns: &[planner::job::Column]) -> Shown {
        match self {
            Record::Line(line) => match std::str::from_utf8(line) {
                Ok(text) => (text.to_string(), None),
                Err(_) => (
                    String::from_utf8_lossy(line).into_owned(),
                    Some(base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        line,
                    )),
                ),
            },
            Record::Row(values, _) => (connectors::format::row_text(columns, values), None),
            Record::Unreadable(_) => (String::new(), None),
        }
    }
}

/// What a source's workers tell each other (broadcast).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Announce {
    /// The watermark of a worker with partitions of its own, for workers without (see
    /// the end of the step).
    Watermark(u64),
    /// The worker stops (a signal, a failure), or has heard of the stop: every worker
    /// that hears it stops too, and holds its capabilities until every worker of the
    /// cluster has said `Stopping` (so none can take the frontier's move for a watermark).
    Stopping(usize),
    /// The worker's input ended: it released its capabilities, less the one of this
    /// stream, which it keeps (to answer a stop with `Stopping`) until every worker has
    /// said `Finished`, or `Stopping` after a stop.
    Finished(usize),
}

/// One input of an interval join read from this source.
#[derive(Clone)]
pub struct SideSpec {
    /// The side.
    pub side: JoinSide,
    /// The joining feature's allowed lateness, ms.
    pub lateness_ms: u64,
    /// The joining feature's name, for dead letters.
    pub feature: String,
}

/// The streams a source produces.
pub struct SourceStreams<'s> {
    /// One per feature given, in order.
    pub features: Vec<FeatureStream<'s>>,
    /// One per join side given, in order: keyed rows.
    pub sides: Vec<Stream<'s, u64, Vec<OverInput>>>,
    /// Undecodable and too-late records.
    pub dead_letters: Stream<'s, u64, Vec<DeadLetter>>,
}

/// Builds the source operator for `plan`, feeding `features` (all reading this source;
/// `feature_ids`: their indices in the plan; `sharers`: per feature, the names of the
/// features sharing its window state, which get their own too-late dead letters).
#[allow(clippy::too_many_arguments)]
pub fn source<'s>(
    scope: Scope<'s, u64>,
    plan: &SourcePlan,
    features: &[FeaturePlan],
    feature_ids: &[u32],
    sharers: &[Vec<String>],
    sides: &[SideSpec],
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
        let (o, s) = new_output(&mut builder, f);
        outputs.push(o);
        streams.push(s);
    }
    let mut side_outputs = Vec::new();
    let mut side_streams = Vec::new();
    for _ in sides {
        let (o, s) = builder.new_output::<Vec<OverInput>>();
        side_outputs.push((Out::<OverInput>::from(o), Vec::<OverInput>::new()));
        side_streams.push(s);
    }
    // This worker's watermark while partitions of its own hold it, for the other
    // processes' workers that have none (see the end of the step).
    let (announce_out, announce_stream) = builder.new_output::<Vec<Announce>>();
    let mut announce_out =
        OutputBuilder::<u64, CapacityContainerBuilder<Vec<Announce>>>::from(announce_out);
    let announce_cap = outputs.len() + side_outputs.len();
    let (dlq_out, dlq_stream) = builder.new_output::<Vec<DeadLetter>>();
    let mut dlq_out =
        OutputBuilder::<u64, CapacityContainerBuilder<Vec<DeadLetter>>>::from(dlq_out);

    let (worker, peers) = (scope.index(), scope.peers());
    let source_name = plan.source.name.clone();
    let cluster_watermark = state.shared_watermark(&plan.source.name);
    let sink_state = Arc::clone(&state);
    let source_name_sink = plan.source.name.clone();
    let plan = plan.clone();
    let mut prefix = Prefix::new(features.to_vec(), feature_ids.to_vec());
    let sides: Vec<SideSpec> = sides.to_vec();
    let sharers: Vec<Vec<String>> = sharers.to_vec();
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
        // A bounded read has no idle partitions: one with nothing left is finished, one not
        // read yet is behind. `idle_timeout: 0s` turns idleness off (as in Flink).
        let bounded = plan.source.bounded || mode.stops_at_end();
        let idle = |ms: u64| (!bounded && ms > 0).then(|| Duration::from_millis(ms));
        let (idle_timeout, key_column, header_columns) = match &plan.source.connector {
            SourceConnector::Kafka { idle_timeout_ms, key_column, header_columns, .. } => {
                (idle(*idle_timeout_ms), *key_column, header_columns.clone())
            }
            SourceConnector::Kinesis { idle_timeout_ms, .. } => (idle(*idle_timeout_ms), None, Vec::new()),
            _ => (None, None, Vec::new()),
        };
        let mut watermarks = Watermarks::new(plan.source.watermark_delay_ms, idle_timeout);
        let shared_watermark = state.shared_watermark(&plan.source.name);
        let mut announced = (0u64, std::time::Instant::now());
        let et = plan.source.event_time;
        let mut bad: Vec<(LineId, Shown, RecordError)> = Vec::new();
        // Too-late records: (record, reason, feature).
        let mut late: Vec<(LineId, Shown, String, String)> = Vec::new();
        let mut pending = PendingDeadLetters::default();
        let mut stop_announced = false;
        // After the end of the input: the announcement capability, kept (see `Finished`).
        let mut lingering: Option<timely::dataflow::operators::Capability<u64>> = None;
        move |_frontiers| {
            if let Some(cap) = lingering.as_ref() {
                let stopping = state.stop_requested();
                if stopping && !stop_announced {
                    announce_out.activate().session(cap).give(Announce::Stopping(worker));
                    stop_announced = true;
                }
                let name = &plan.source.name;
                if state.finished(name) >= peers || (stopping && state.stopping(name) >= peers) {
                    lingering = None;
                } else {
                    activator.activate_after(IDLE_POLL);
                }
                return;
            }
            let Some(cs) = caps.as_mut() else { return };
            if state.stop_requested() {
                if !stop_announced {
                    // Stopping (a signal, a failure): dead letters still waiting for their
                    // line number are written with it now, not lost.
                    if let Some(r) = reader.as_mut() {
                        // A followed file's unfinished last line is not read: its writer
                        // may be mid-line. Say so, naming the file.
                        if let Some(unread) = r.unread_at_stop() {
                            tracing::warn!("source `{}`: stopping: {unread}", plan.source.name);
                        }
                        let ready = pending.ready(&mut **r, true);
                        if !ready.is_empty() {
                            let dlq_cap = cs.last().expect("dead-letter capability");
                            dlq_out.activate().session(dlq_cap).give_iterator(ready.into_iter());
                        }
                    }
                    announce_out.activate().session(&cs[announce_cap]).give(Announce::Stopping(worker));
                    stop_announced = true;
                }
                // The capabilities are held (the watermark frozen) until every worker of
                // the cluster knows of the stop: releasing them moves the frontier to the
                // other workers' watermarks, which is not a watermark of the whole input,
                // and a process that had not heard of the stop would fire its windows.
                if state.stopping(&plan.source.name) >= peers {
                    caps = None;
                } else {
                    activator.activate_after(IDLE_POLL);
                }
                return;
            }
            let Some(decoder) = decoder.as_mut() else {
                // Decoder::new failed the run: stop as above.
                activator.activate();
                return;
            };
            if reader.is_none() {
                // A bounded table is read completely, also in stream mode.
                let mode = if plan.source.bounded { ReadMode::Bounded } else { mode };
                let stopping = || state.stop_requested();
                match connectors::open_source(&plan, &infra, worker, peers, mode, decoder.has_header(), &stopping) {
                    Ok(mut r) => {
                        r.share_line_counts(state.line_counts(&plan.source.name));
                        reader = Some(r);
                        state.note_source_open();
                    }
                    Err(e) => {
                        // (A stop while connecting is a stop, not a failure.)
                        if !state.stop_requested() {
                            state.fail(format!("source `{}`: {e}", plan.source.name));
                        }
                        activator.activate();
                        return;
                    }
                }
            }
            if !state.sinks_ready() {
                // Nothing is read before this process's stores and topics are open: a run
                // that cannot reach one fails before any output file is replaced.
                activator.activate_after(IDLE_POLL);
                return;
            }
            let r = reader.as_mut().expect("reader");
            let now = std::time::Instant::now();
            let r_partitions = r.partitions();
            let r_finished: Vec<bool> = (0..r_partitions).map(|p| r.finished(p)).collect();
            let r_pending: Vec<bool> = match idle_timeout {
                Some(_) => (0..r_partitions).map(|p| r.pending(p)).collect(),
                None => Vec::new(),
            };
            let mut read = 0u64;
            let fail_fast = plan.source.on_error == OnError::Fail;
            let mut failed = false;
            let polled = r.poll(batch_bytes.max(1), &mut |item| {
                let mut meta_error = None;
                let (record, id, partition) = match item {
                    Item::Header(h, origin) => {
                        let problems = decoder.set_header(h);
                        if let Some(o) = origin {
                            for p in problems {
                                tracing::warn!("{}:{}: source `{}`: {p}", o.location, o.position, plan.source.name);
                            }
                        }
                        return;
                    }
                    // A blank line (an editor's trailing newline, CRLF debris) holds no
                    // record: it is neither read nor a dead letter.
                    Item::Line(line, _) if is_blank(line) => return,
                    Item::Line(line, id) => (Record::Line(line), id, None),
                    Item::Row { values, error, id } => (Record::Row(values, error), id, None),
                    Item::Unreadable { error, id } => (Record::Unreadable(error), id, None),
                    Item::Message { payload, id, partition, meta } => {
                        // The key and headers as their columns' types; one that is not
                        // makes the record bad, as a payload field would.
                        let columns = &plan.source.columns;
                        let fields = key_column.map(|k| (k, meta.key())).into_iter().chain(
                            header_columns.iter().map(|(h, c)| (*c, meta.header(h))),
                        );
                        for (c, bytes) in fields {
                            row[c] = connectors::format::metadata_value(&columns[c], bytes)
                                .unwrap_or_else(|e| {
                                    meta_error.get_or_insert(e);
                                    Value::Null
                                });
                        }
                        (Record::Line(payload), id, Some(partition))
                    }
                };
                let text = || record.text(&plan.source.columns);
                {
                    if failed {
                        // `on_error: fail`: nothing after the failing record is used.
                        return;
                    }
                    read += 1;
                    let decoded = match record {
                        Record::Line(line) => decoder.decode(line, &mut row),
                        Record::Row(values, error) => {
                            row.clone_from_slice(values);
                            error.map_or_else(|| decoder.check_row(&row), |e| Err(e.clone()))
                        }
                        Record::Unreadable(e) => Err(e.clone()),
                    };
                    let decoded = match meta_error.take() {
                        Some(e) => Err(e),
                        None => decoded,
                    };
                    if let Err(e) = decoded {
                        bad.push((id, text(), e));
                        failed = fail_fast;
                        return;
                    }
                    let t = match &row[et] {
                        Value::Ts(t) if EVENT_TIME_RANGE.contains(t) => *t as u64,
                        other => {
                            let column = plan.source.columns[et].name.clone();
                            let e = match other {
                                Value::Ts(millis) => RecordError::EventTimeOutOfRange { column, millis: *millis },
                                other => RecordError::BadTimestamp { column, text: other.to_string() },
                            };
                            bad.push((id, text(), e));
                            failed = fail_fast;
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
                            watermarks.advance(
                                r_partitions.max(p + 1),
                                |q| r_finished.get(q).copied().unwrap_or(false),
                                |q| r_pending.get(q).copied().unwrap_or(false),
                                now,
                            );
                        }
                    }
                    for (fi, out) in outputs.iter_mut().enumerate() {
                        if prefix.push(fi, out, &row, t, watermark) == Pushed::TooLate {
                            let f = &prefix.features()[fi];
                            for name in std::iter::once(&f.name).chain(&sharers[fi]) {
                                late.push((id, text(), prefix.late_reason(fi, name), name.clone()));
                            }
                        }
                    }
                    for (spec, (_, buf)) in sides.iter().zip(side_outputs.iter_mut()) {
                        let side = &spec.side;
                        if let Some(p) = &side.filter {
                            if !p.eval(&row).is_true() {
                                continue;
                            }
                        }
                        // A bounded table's rows are never late.
                        if !plan.source.bounded && t.saturating_add(1).saturating_add(spec.lateness_ms) <= watermark {
                            let reason = format!(
                                "too late for the join of feature `{}`: the watermark had passed this row's event time plus allowed_lateness ({})",
                                spec.feature,
                                planner::duration::format_duration_ms(spec.lateness_ms)
                            );
                            late.push((id, text(), reason, spec.feature.clone()));
                            continue;
                        }
                        let values: SmallVec<[Value; 4]> = side.columns.iter().map(|c| c.expr.eval(&row)).collect();
                        let key: Key = side.key.iter().map(|k| k.eval(&row)).collect();
                        buf.push(OverInput { key, time: t, values });
                    }
                }
            });
            // Ship the batch's records, stamped with the watermark before the batch.
            for (fi, out) in outputs.iter_mut().enumerate() {
                prefix.flush(fi, out, &cs[fi]);
            }
            for (k, (out, buf)) in side_outputs.iter_mut().enumerate() {
                if !buf.is_empty() {
                    out.activate().session(&cs[outputs.len() + k]).give_iterator(buf.drain(..));
                }
            }
            RunState::add(&state.events_read, read);
            let polled = match polled {
                Ok(p) => p,
                Err(e) => {
                    state.fail(format!("source `{}`: {e}", plan.source.name));
                    activator.activate();
                    return;
                }
            };
            let mut close = false;
            RunState::add(&state.bad_records, bad.len() as u64);
            if plan.source.on_error == OnError::Skip {
                RunState::add(&state.skipped, bad.len() as u64);
            }
            RunState::add(&state.too_late, late.len() as u64);
            for (id, (record, record_base64), e) in bad.drain(..) {
                match plan.source.on_error {
                    OnError::Fail => {
                        let origin = r.resolve(id);
                        state.fail(format!(
                            "{}:{}: {e} (source `{}` has on_error: fail; use dead_letter to keep going)",
                            origin.location, origin.position, plan.source.name
                        ));
                        close = true;
                        break;
                    }
                    OnError::Skip => {}
                    OnError::DeadLetter => pending.push(id, DeadLetter {
                        kind: e.kind().into(),
                        source: plan.source.name.clone(),
                        file: String::new(),
                        line: 0,
                        reason: e.to_string(),
                        feature: None,
                        record,
                        record_base64,
                    }),
                }
            }
            for (id, (record, record_base64), reason, feature) in late.drain(..) {
                pending.push(id, DeadLetter {
                    kind: "too_late".into(),
                    source: plan.source.name.clone(),
                    file: String::new(),
                    line: 0,
                    reason,
                    feature: Some(feature),
                    record,
                    record_base64,
                });
            }
            let ready = pending.ready(&mut **r, polled == Poll::Done);
            if !ready.is_empty() {
                let dlq_cap = cs.last().expect("dead-letter capability");
                dlq_out.activate().session(dlq_cap).give_iterator(ready.into_iter());
            }
            if close {
                // `on_error: fail` failed the run: stop as above.
                activator.activate();
                return;
            }
            // Everything read so far is handed downstream: let the reader record progress.
            r.commit();
            if polled == Poll::Done {
                // The end of this worker's input: its frontier may move to the end.
                announce_out.activate().session(&cs[announce_cap]).give(Announce::Finished(worker));
                lingering = Some(cs[announce_cap].clone());
                caps = None;
                activator.activate();
                return;
            }
            let now = std::time::Instant::now();
            let mut w = watermarks.advance(
                r.partitions(),
                |p| r.finished(p),
                |p| idle_timeout.is_some() && r.pending(p),
                now,
            );
            warn_if_seconds(&plan, w);
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
            // Tell every worker of the cluster (at most every ANNOUNCE_EVERY): the
            // process-wide watermark that workers without active partitions follow is then
            // the cluster's, so a process reading none of a topic's partitions does not hold
            // every window back.
            if watermarks.constrained() && w > announced.0 && now.duration_since(announced.1) >= ANNOUNCE_EVERY {
                announce_out.activate().session(&cs[announce_cap]).give(Announce::Watermark(w));
                announced = (w, now);
            }
            match polled {
                Poll::Idle => activator.activate_after(IDLE_POLL),
                _ => activator.activate(),
            }
        }
    });
    announce_stream.broadcast().sink(
        Pipeline,
        &format!("Watermarks[{}]", source_name),
        move |(input, _)| {
            input.for_each(|_, announced| {
                for a in announced.drain(..) {
                    match a {
                        Announce::Watermark(w) => {
                            cluster_watermark.fetch_max(w, std::sync::atomic::Ordering::Relaxed);
                        }
                        // A worker of another process stops: so does this one.
                        Announce::Stopping(w) => {
                            sink_state.request_stop();
                            sink_state.note_stopping(&source_name_sink, w);
                        }
                        Announce::Finished(w) => sink_state.note_finished(&source_name_sink, w),
                    }
                }
            });
        },
    );
    SourceStreams {
        features: streams,
        sides: side_streams,
        dead_letters: dlq_stream,
    }
}
