//! `Sink[...]` and `DeadLetter`: write feature rows (JSON lines or Parquet files, feature
//! stores, topics) and dead letters (JSON lines).
//!
//! Each worker writes its own file for a sink (see `connectors::file::sink::worker_path`);
//! dead letters are exchanged to worker 0, which writes the single dead-letter file.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use connectors::file::sink::FileSink;
use connectors::sink::FeatureUpdate;
use planner::job::Sink;
use planner::Plan;

use crate::record::{DeadLetter, FeatureRow};
use crate::state::RunState;

use super::file_target::{file_error, FileSpec, LazyFile};
pub use super::row_encoder::RowEncoder;
use super::store_writer::{Batch, Next, Refused, StoreWriter};

/// Writing feature rows.
pub trait SinkRows {
    /// Writes rows to this worker's file of file sink `name`, as `spec` says (JSON lines
    /// or Parquet).
    fn sink_file(self, name: &str, spec: FileSpec, state: Arc<RunState>);
}

/// Writing feature rows to a feature store or topic.
pub trait SinkStore<'s> {
    /// Writes rows to `sink` (redis, dynamodb, kafka) with its fanout controls, on a
    /// thread of its own (see `super::store_writer`); rows that fail after all retries,
    /// or are still unwritten `stop_timeout` after a stop, come out as dead letters.
    fn sink_store(
        self,
        sink: &Sink,
        plan: &Plan,
        state: Arc<RunState>,
        stop_timeout: Duration,
    ) -> Stream<'s, u64, Vec<DeadLetter>>;
}

/// A feature row as store sinks see it (the row's key and values are moved, not cloned).
pub fn to_update(plan: &Plan, encoder: &mut RowEncoder, row: FeatureRow) -> FeatureUpdate {
    let f = &plan.features[row.feature as usize];
    let mut json = Vec::with_capacity(128);
    encoder.encode(&mut json, &row);
    json.pop();
    FeatureUpdate {
        feature: f.name.clone(),
        version: f.version,
        key: row.key.into_vec(),
        values: f
            .value_outputs()
            .zip(row.values)
            .map(|(o, v)| (o.name.clone(), v))
            .collect(),
        window_start: row.window_start,
        window_end: row.window_end,
        revision: row.revision,
        deleted: row.deleted,
        json,
    }
}

impl<'s> SinkStore<'s> for Stream<'s, u64, Vec<FeatureRow>> {
    fn sink_store(
        self,
        sink: &Sink,
        plan: &Plan,
        state: Arc<RunState>,
        stop_timeout: Duration,
    ) -> Stream<'s, u64, Vec<DeadLetter>> {
        let scope = self.scope();
        let worker = scope.index();
        let plan = plan.clone();
        let mut encoder = RowEncoder::new(&plan);
        let spec = sink.clone();
        let forget_lag = forget_lag(&plan, &sink.name);
        self.unary_frontier(
            Pipeline,
            &format!("Sink[{}]", sink.name),
            move |_cap, info| {
                let wake = scope.activator_for(std::rc::Rc::clone(&info.address));
                let activator = scope.worker().sync_activator_for(info.address.to_vec());
                let mut writer = match StoreWriter::spawn(
                    spec.clone(),
                    plan.infra.clone(),
                    worker,
                    Arc::clone(&state),
                    activator,
                    stop_timeout,
                ) {
                    Ok(w) => Some(w),
                    Err(e) => {
                        state.fail(format!(
                            "sink `{}`: cannot start its writer thread: {e}",
                            spec.name
                        ));
                        None
                    }
                };
                // Why rows are not written once there is no writer (dead letters say it).
                let mut lost_writer = format!("sink `{}` could not be opened", spec.name);
                // The batches the writer has not reported yet, oldest first, with their
                // capabilities: failed rows come out as dead letters at the batch's time,
                // and all of a batch's rows if the writer never reports.
                let mut in_flight: VecDeque<(Option<Capability<u64>>, Batch)> = VecDeque::new();
                let mut forgotten: Option<i64> = None;
                move |(input, frontier), output| {
                    let mut unwritten: Vec<(Option<Capability<u64>>, Batch)> = Vec::new();
                    input.for_each(|time, data| {
                        let rows: Batch = Arc::new(
                            data.drain(..)
                                .map(|row| to_update(&plan, &mut encoder, row))
                                .collect(),
                        );
                        let cap = time.retain_least(0);
                        let refused = match writer.as_ref() {
                            None => true,
                            Some(w) => match w.write(Arc::clone(&rows)) {
                                Ok(()) => false,
                                Err(why) => {
                                    lost_writer = gone_reason(&spec.name, &state, why);
                                    true
                                }
                            },
                        };
                        if refused {
                            unwritten.push((cap, rows));
                        } else {
                            in_flight.push_back((cap, rows));
                        }
                    });
                    if let (Some(w), Some(lag), Some(&f)) =
                        (writer.as_ref(), forget_lag, frontier.frontier().first())
                    {
                        let end = (f as i64).saturating_sub(lag);
                        if forgotten != Some(end) {
                            w.forget_before(end);
                            forgotten = Some(end);
                        }
                    }
                    while let Some(w) = writer.as_ref() {
                        match w.next() {
                            Next::Waiting if w.hung() && !in_flight.is_empty() => {
                                lost_writer = gone_reason(&spec.name, &state, Refused::Hung);
                                state.note_stop_cut_writes();
                            }
                            Next::Waiting => break,
                            Next::Gone => {
                                lost_writer = gone_reason(&spec.name, &state, Refused::Gone);
                            }
                            Next::Done(done) => {
                                let (cap, _) = in_flight.pop_front().expect("a batch per result");
                                RunState::add(&state.rows_written, done.written);
                                if let (Some(cap), false) = (cap, done.failed.is_empty()) {
                                    RunState::add(&state.sink_failed, done.failed.len() as u64);
                                    let mut session = output.session(&cap);
                                    for f in done.failed {
                                        session.give(failed_row(&spec.name, f.row, &f.error));
                                    }
                                }
                                continue;
                            }
                        }
                        // The writer is gone or hung: what it was given is not written.
                        writer.take().expect("writer").abandon();
                        unwritten.extend(in_flight.drain(..));
                    }
                    for (cap, rows) in unwritten {
                        let Some(cap) = cap else { continue };
                        RunState::add(&state.sink_failed, rows.len() as u64);
                        let mut session = output.session(&cap);
                        for row in rows.iter() {
                            session.give(failed_row(&spec.name, row.clone(), &lost_writer));
                        }
                    }
                    if writer.is_some() && !in_flight.is_empty() {
                        // Woken to notice a stop and then a writer that stops answering,
                        // also once the input has ended (no input would wake it then).
                        wake.activate_after(Duration::from_millis(200));
                    }
                    if frontier.is_empty() && in_flight.is_empty() {
                        // Everything is written: the thread ends with its orders.
                        writer = None;
                    }
                }
            },
        )
    }
}

/// Why a sink's rows are not written once its writer is gone or hung.
fn gone_reason(sink: &str, state: &RunState, why: Refused) -> String {
    match why {
        Refused::Hung => format!(
            "not written (or only in part): the stop timeout passed before the store took it (a slow store, or one that did not answer); sink `{sink}` was given up"
        ),
        Refused::Gone if state.stop_requested() && state.error().is_none() => {
            format!("not written: the run was stopped before sink `{sink}` connected")
        }
        Refused::Gone => format!("not written: sink `{sink}` could not be opened (see the run's error)"),
    }
}

/// The dead letter of a row sink `sink` could not write: `file` is the row's store key.
fn failed_row(sink: &str, row: FeatureUpdate, error: &str) -> DeadLetter {
    DeadLetter {
        kind: "sink_failed".into(),
        source: sink.to_string(),
        file: row.store_key(),
        line: 0,
        reason: format!("sink `{sink}` could not write the row: {error}"),
        feature: Some(row.feature.clone()),
        record: String::from_utf8_lossy(&row.json).into_owned(),
        record_base64: None,
    }
}

/// How far behind the frontier a window row for sink `name` may still come: the largest
/// lateness of the features writing to it, plus one (an OVER row's time is its window's
/// end). A row for window end `e` is emitted by records or a frontier below `e + lateness`
/// (a record's timely time is the watermark it was read at), so once the sink's frontier
/// is `f`, no window ending before `f - lag` comes any more. `None` when a stateless feature
/// writes to it: those have no lateness, and any row may come at any time.
fn forget_lag(plan: &Plan, name: &str) -> Option<i64> {
    let k = plan.sinks.iter().position(|s| s.name == name)?;
    let mut lag = 0i64;
    for f in plan.features.iter().filter(|f| f.sinks.contains(&k)) {
        if matches!(f.kind, planner::physical::FeatureKind::Stateless) {
            return None;
        }
        lag = lag.max(f.allowed_lateness_ms.min(i64::MAX as u64 / 4) as i64 + 1);
    }
    Some(lag)
}

impl SinkRows for Stream<'_, u64, Vec<FeatureRow>> {
    fn sink_file(self, name: &str, spec: FileSpec, state: Arc<RunState>) {
        let mut target = LazyFile::new(spec);
        let mut finished = false;
        self.sink(
            Pipeline,
            &format!("Sink[{name}]"),
            move |(input, frontier)| {
                if finished {
                    input.for_each(|_, d| d.clear());
                    return;
                }
                let mut rows = 0u64;
                let mut result = Ok(());
                input.for_each(|_, data| {
                    let f = match target.get(!data.is_empty(), &state) {
                        Some(f) => f,
                        None => return data.clear(),
                    };
                    // By reference: moving each row out first copied it (~250 bytes).
                    for row in data.iter() {
                        let pushed = f.push(row);
                        rows += 1;
                        if result.is_ok() {
                            result = pushed.and_then(|_| f.commit());
                        }
                    }
                    data.clear();
                });
                RunState::add(&state.rows_written, rows);
                let Some(f) = target.get(false, &state) else {
                    // Not created: no rows came and the sources have not connected. A run
                    // that ends so (a failure, a stop) leaves the previous file alone.
                    finished = target.failed() || frontier.is_empty();
                    return;
                };
                if frontier.is_empty() {
                    // The input is complete: wait until the file is too, so the run's end
                    // (and its summary) comes after the last byte is written.
                    finished = true;
                    result = result.and_then(|_| f.finish());
                } else if rows > 0 {
                    result = result.and_then(|_| f.flush());
                }
                if let Err(e) = result {
                    state.fail(file_error(target.sink(), target.path(), "writing", &e));
                }
            },
        );
    }
}

/// Writing dead letters.
pub trait SinkDeadLetters {
    /// Exchanges dead letters to worker 0 and writes them to `path`.
    fn sink_dead_letters(self, path: PathBuf, state: Arc<RunState>);
}

impl SinkDeadLetters for Stream<'_, u64, Vec<DeadLetter>> {
    fn sink_dead_letters(self, path: PathBuf, state: Arc<RunState>) {
        let worker = self.scope().index();
        let mut file: Option<FileSink> = None;
        let mut buf = Vec::new();
        self.sink(
            Exchange::new(|_: &DeadLetter| 0),
            "DeadLetter",
            move |(input, frontier)| {
                if worker != 0 {
                    input.for_each(|_, d| d.clear());
                    return;
                }
                let mut n = 0;
                input.for_each(|_, data| {
                    for d in data.drain(..) {
                        d.to_json_line(&mut buf);
                        n += 1;
                    }
                });
                if n == 0 && (file.is_some() || !state.outputs_due()) {
                    // (Not created before dead letters come or the sources connect: a run
                    // that fails to start leaves the previous run's dead letters.)
                    return;
                }
                if file.is_none() {
                    match FileSink::create(&path) {
                        Ok(f) => file = Some(f),
                        Err(e) => {
                            state.fail(format!(
                                "cannot create dead-letter file `{}`: {e}",
                                path.display()
                            ));
                            return;
                        }
                    }
                }
                let f = file.as_mut().expect("dead-letter file");
                let written = f.write(&buf).and_then(|_| {
                    if frontier.is_empty() {
                        f.finish()
                    } else {
                        f.flush()
                    }
                });
                if let Err(e) = written {
                    state.fail(format!(
                        "writing dead-letter file `{}`: {e}",
                        path.display()
                    ));
                }
                buf.clear();
                RunState::add(&state.dead_letters, n);
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use planner::types::Value;
    use planner::{parse_job, plan_job};
    use smallvec::smallvec;

    #[test]
    fn store_updates_carry_the_file_sink_line() {
        let job = "name: t\nsources:\n  - { name: s, connector: file, path: x, format: json, schema: { k: string, t: timestamp }, event_time: t }\nfeatures:\n  - name: f\n    version: 3\n    sql: SELECT k, COUNT(*) AS n FROM s GROUP BY k, TUMBLE(rowtime, INTERVAL '1' MINUTE)\nsinks:\n  - { name: o, connector: file, path: o.jsonl }\n";
        let job = parse_job(std::path::Path::new("t.yaml"), job).unwrap();
        let plan = plan_job(&job).unwrap().physical;
        let k = Value::Str("a\"b".into());
        let row = FeatureRow {
            feature: 0,
            window_start: 1_767_225_600_000,
            window_end: 1_767_225_660_000,
            revision: 1,
            values: smallvec![k.clone(), Value::Int(2)],
            key: smallvec![k.clone()],
            deleted: true,
        };
        let mut encoder = RowEncoder::new(&plan);
        let mut line = Vec::new();
        encoder.encode(&mut line, &row);
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            "{\"feature\":\"f\",\"version\":3,\"k\":\"a\\\"b\",\"n\":2,\"window_start\":1767225600000,\"window_end\":1767225660000,\"revision\":1,\"deleted\":true}\n"
        );
        let u = to_update(&plan, &mut encoder, row);
        assert_eq!(u.json, line[..line.len() - 1]);
        assert_eq!((u.feature.as_str(), u.version), ("f", 3));
        assert_eq!(u.key, vec![k.clone()]);
        assert_eq!(u.values, vec![("k".into(), k), ("n".into(), Value::Int(2))]);
        assert_eq!(
            (u.window_start, u.window_end),
            (1_767_225_600_000, 1_767_225_660_000)
        );
        assert_eq!((u.revision, u.deleted), (1, true));
    }
}
