//! Rendering a physical plan as a timely dataflow: the only place plans meet timely.
//!
//! ```text
//! Source[s] ──(per feature: filter, key, args)──▶ Exchange(hash key) ▶ Window[f] ─▶ Sink[k]
//!          ├──(OVER: filter, partition, row)───▶ Exchange(hash key) ▶ Over[f] ───▶ Sink[k]
//!          ├──(SESSION: filter, key, args)─────▶ Exchange(hash key) ▶ Session[f] ▶ Sink[k]
//!          ├──(stateless: filter, project)───────────────────────────────────────▶ Sink[k]
//!          └──────────── dead letters ──────────▶ Exchange(worker 0) ▶ DeadLetter
//! ```

use std::sync::Arc;

use timely::dataflow::operators::vec::Filter;
use timely::dataflow::operators::{Concatenate, Exchange};
use timely::dataflow::Scope;

use connectors::file::source::ReadMode;
use planner::job::{Format, SinkConnector};
use planner::physical::FeatureKind;
use planner::Plan;

use connectors::file::sink::Writes;

use crate::operators::file_target::FileSpec;
use crate::operators::fused_sink::FusedFileSink;
use crate::operators::interval_join::IntervalJoin;
use crate::operators::join_output::join_output;
use crate::operators::over::OverAggregate;
use crate::operators::prefix::FeatureStream;
use crate::operators::session::SessionAggregate;
use crate::operators::sink::{SinkDeadLetters, SinkRows, SinkStore};
use crate::operators::source::{source, SideSpec};
use crate::operators::window::{key_hash, EmitPolicy, WindowAggregate};
use crate::record::FeatureRow;
use crate::state::RunState;

/// How a job runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read bounded input to its end; emit each window once, final.
    Backfill,
    /// Follow the input; emit windows at the watermark, then corrections.
    Stream {
        /// Stop once all present input is read.
        exit_at_end: bool,
    },
}

impl Mode {
    fn read_mode(self) -> ReadMode {
        match self {
            Mode::Backfill => ReadMode::Bounded,
            Mode::Stream { exit_at_end } => ReadMode::Follow { exit_at_end },
        }
    }

    /// How a file sink writes in this mode. A backfill's files are read after the run (no
    /// flush per batch), around the page cache if the sink asks for `direct_io`; a
    /// stream's lines are in the file as soon as they are emitted.
    fn file_writes(self, direct_io: bool) -> Writes {
        match self {
            Mode::Backfill => Writes {
                batch: true,
                direct: direct_io,
            },
            Mode::Stream { .. } => Writes::default(),
        }
    }

    fn policy(self) -> EmitPolicy {
        match self {
            Mode::Backfill => EmitPolicy::Final,
            Mode::Stream { .. } => EmitPolicy::OnWatermark,
        }
    }
}

/// Knobs that change performance, never the results of a run that reads its input to the
/// end (`stop_timeout` bounds how long a stop may take).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// Bytes a source reads per watermark step.
    pub batch_bytes: usize,
    /// How long a stopped run goes on writing the rows it emitted before the stop to
    /// feature stores and topics; rows still unwritten then are dead letters.
    pub stop_timeout: std::time::Duration,
}

impl Default for Tuning {
    /// 16 MiB batches: a window feature's combiner then merges 4x more records per key
    /// and pane before the exchange than with 4 MiB (TUMBLE backfill on 10M events: 2.7 s
    /// -> 2.5 s); a batch is read only as far as input is there, so a live stream that
    /// has caught up still moves in small steps.
    fn default() -> Self {
        Tuning {
            batch_bytes: 16 << 20,
            stop_timeout: std::time::Duration::from_secs(20),
        }
    }
}

/// Builds the job's operators in `scope`.
pub fn render(
    scope: Scope<'_, u64>,
    plan: &Plan,
    mode: Mode,
    tuning: Tuning,
    state: &Arc<RunState>,
) {
    let mut dead_letters = Vec::new();
    // Per feature: its streams (one per source it reads; several for a UNION ALL).
    let mut by_feature: Vec<Vec<FeatureStream>> =
        (0..plan.features.len()).map(|_| Vec::new()).collect();
    // Per join feature: its left and right keyed rows.
    let mut sides: Vec<[Option<_>; 2]> = (0..plan.features.len()).map(|_| [None, None]).collect();
    for (si, sp) in plan.sources.iter().enumerate() {
        let (ids, feats): (Vec<usize>, Vec<_>) = plan
            .features
            .iter()
            .enumerate()
            // A feature sharing another's window state has no prefix of its own.
            .filter(|(_, f)| f.shares_state_with.is_none())
            .flat_map(|(fi, f)| {
                f.source_parts()
                    .into_iter()
                    .filter(|(s, _)| *s == si)
                    .map(move |(_, part)| (fi, part))
            })
            .unzip();
        let mut side_ids: Vec<(usize, usize)> = Vec::new();
        let mut specs: Vec<SideSpec> = Vec::new();
        for (fi, f) in plan.features.iter().enumerate() {
            let Some(j) = f.join() else { continue };
            for (k, side) in [&j.left, &j.right].into_iter().enumerate() {
                if side.source == si {
                    side_ids.push((fi, k));
                    specs.push(SideSpec {
                        side: side.clone(),
                        lateness_ms: f.allowed_lateness_ms,
                        feature: f.name.clone(),
                    });
                }
            }
        }
        debug_assert_eq!(ids.is_empty() && specs.is_empty(), !is_read(plan, si));
        if !is_read(plan, si) {
            continue;
        }
        let feature_ids: Vec<u32> = ids.iter().map(|&f| f as u32).collect();
        let sharers: Vec<Vec<String>> = ids
            .iter()
            .map(|&fi| {
                plan.features
                    .iter()
                    .filter(|m| m.shares_state_with == Some(fi))
                    .map(|m| m.name.clone())
                    .collect()
            })
            .collect();
        let streams = source(
            scope,
            sp,
            &feats,
            &feature_ids,
            &sharers,
            &specs,
            mode.read_mode(),
            tuning.batch_bytes,
            &plan.infra,
            Arc::clone(state),
        );
        dead_letters.push(streams.dead_letters);
        for (&fi, stream) in ids.iter().zip(streams.features) {
            by_feature[fi].push(stream);
        }
        for (&(fi, k), stream) in side_ids.iter().zip(streams.sides) {
            sides[fi][k] = Some(stream);
        }
    }
    for (fi, f) in plan.features.iter().enumerate() {
        let Some(j) = f.join() else { continue };
        let [left, right] = std::mem::take(&mut sides[fi]);
        let (left, right) = (left.expect("left side"), right.expect("right side"));
        let joined =
            left.interval_join(right, &f.name, j, f.allowed_lateness_ms, Arc::clone(state));
        let out = join_output(joined, f, fi as u32);
        by_feature[fi].push(out.feature);
        dead_letters.push(out.dead_letters);
    }
    // Per feature: the features whose rows its operator emits (itself, and those sharing
    // its window state).
    let members: Vec<Vec<usize>> = (0..plan.features.len())
        .map(|fi| {
            (0..plan.features.len())
                .filter(|&m| m == fi || plan.features[m].shares_state_with == Some(fi))
                .collect()
        })
        .collect();
    let mut rows: Vec<Option<_>> = Vec::new();
    for (fi, streams) in by_feature.into_iter().enumerate() {
        let (f, policy) = (&plan.features[fi], mode.policy());
        if f.shares_state_with.is_some() {
            rows.push(None);
            continue;
        }
        let plans: Vec<(u32, &planner::FeaturePlan)> = members[fi]
            .iter()
            .map(|&m| (m as u32, &plan.features[m]))
            .collect();
        rows.push(Some(match concat_streams(scope, streams) {
            FeatureStream::Window(s) => {
                let fused = fused_sink(scope, plan, fi, mode, state);
                s.window_aggregate(&plans, policy, Arc::clone(state), fused)
            }
            FeatureStream::Over(s) => s.over_aggregate(fi as u32, f, policy, Arc::clone(state)),
            FeatureStream::Session(s) => {
                s.session_aggregate(fi as u32, f, policy, Arc::clone(state))
            }
            FeatureStream::Rows(s) => s,
        }));
    }
    for (k, sink) in plan.sinks.iter().enumerate() {
        let endless = matches!(mode, Mode::Stream { exit_at_end: false });
        if endless && sink.format == Format::Parquet && scope.index() == 0 {
            tracing::warn!(
                "sink `{}` writes parquet, whose files are readable only once the run ends (their footer is written last); for live features use a json file sink or a feature store",
                sink.name
            );
        }
        if plan.is_fused_sink(k) {
            continue; // written by its window operator
        }
        // Each operator's stream once, keeping only the rows of its features that write here.
        let mut inputs = Vec::new();
        for (fi, stream) in rows.iter().enumerate() {
            let Some(stream) = stream else { continue };
            let writers: Vec<u32> = members[fi]
                .iter()
                .filter(|&&m| plan.features[m].sinks.contains(&k))
                .map(|&m| m as u32)
                .collect();
            if writers.is_empty() {
                continue;
            }
            if writers.len() == members[fi].len() {
                inputs.push(stream.clone());
            } else {
                inputs.push(stream.clone().filter(move |r| writers.contains(&r.feature)));
            }
        }
        let rows = scope.concatenate(inputs);
        match &sink.connector {
            SinkConnector::File { direct_io, .. } => {
                let how = mode.file_writes(*direct_io);
                let spec = FileSpec::new(plan, k, scope.index(), scope.peers(), how);
                rows.sink_file(&sink.name, spec, Arc::clone(state))
            }
            // A compacted topic keeps a key's last record, and the Kafka sink sends only
            // an entity's newest window: all rows of an entity must reach one sink, also
            // those of stateless features, which their readers emit. (The window
            // operators' rows are already on their key's worker: this moves none.)
            SinkConnector::Kafka { .. } => {
                let rows = rows.exchange(|r: &FeatureRow| key_hash(&r.key));
                dead_letters.push(rows.sink_store(
                    sink,
                    plan,
                    Arc::clone(state),
                    tuning.stop_timeout,
                ))
            }
            _ => dead_letters.push(rows.sink_store(
                sink,
                plan,
                Arc::clone(state),
                tuning.stop_timeout,
            )),
        }
    }
    scope
        .concatenate(dead_letters)
        .sink_dead_letters(plan.dead_letter.clone(), Arc::clone(state));
}

/// How many source operators a worker runs (see [`is_read`]).
pub fn read_sources(plan: &Plan) -> usize {
    (0..plan.sources.len())
        .filter(|&si| is_read(plan, si))
        .count()
}

/// How many store or topic sinks a worker writes to (each on a writer thread).
pub fn store_sinks(plan: &Plan) -> usize {
    plan.sinks
        .iter()
        .filter(|s| !matches!(s.connector, SinkConnector::File { .. }))
        .count()
}

/// The sources no feature reads: declared, but not read at all (their records are
/// neither counted nor checked).
pub fn unread_sources(plan: &Plan) -> Vec<usize> {
    (0..plan.sources.len())
        .filter(|&si| !is_read(plan, si))
        .collect()
}

/// Whether a worker runs an operator for source `si`: some feature or join reads it (a
/// feature sharing another's window state reads through that one).
fn is_read(plan: &Plan, si: usize) -> bool {
    plan.features.iter().any(|f| {
        let part = f.shares_state_with.is_none() && f.source_parts().iter().any(|(s, _)| *s == si);
        let side = f
            .join()
            .is_some_and(|j| j.left.source == si || j.right.source == si);
        part || side
    })
}

/// The dataflow `render` builds, as lines for EXPLAIN.
pub fn describe(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    for (si, sp) in plan.sources.iter().enumerate() {
        let feats: Vec<&str> = plan
            .features
            .iter()
            .filter(|f| {
                f.source_parts().iter().any(|(s, _)| *s == si)
                    || f.join()
                        .is_some_and(|j| j.left.source == si || j.right.source == si)
            })
            .map(|f| f.name.as_str())
            .collect();
        if feats.is_empty() {
            continue;
        }
        out.push(format!(
            "Source[{}] per worker: read split, decode, watermark=max({})-{}, fused stateless prefix for [{}]; outputs: {} feature streams + dead letters",
            sp.source.name,
            sp.source.columns[sp.source.event_time].name,
            planner::duration::format_duration_ms(sp.source.watermark_delay_ms),
            feats.join(", "),
            feats.len()
        ));
    }
    for (fi, f) in plan.features.iter().enumerate() {
        let keys: Vec<String> = f.keys.iter().map(|k| k.expr.to_string()).collect();
        let lateness = planner::duration::format_duration_ms(f.allowed_lateness_ms);
        if let Some(j) = f.join().filter(|j| j.table) {
            out.push(format!(
                "  Exchange hash(join key) ×2 ─▶ TableJoin[{}] binary_frontier {} (the bounded table is loaded first; stream rows are matched against all of it and not kept) ─▶ JoinOutput[{}] (filter, map, key; pipeline)",
                f.name, j.kind, f.name
            ));
        } else if let Some(j) = f.join() {
            out.push(format!(
                "  Exchange hash(join key) ×2 ─▶ IntervalJoin[{}] binary_frontier {} {} lateness={lateness} output_watermark=min(inputs)-{} ─▶ JoinOutput[{}] (filter, map, key; pipeline)",
                f.name,
                j.kind,
                j.bounds,
                planner::duration::format_duration_ms(j.delay_ms),
                f.name
            ));
        }
        match &f.kind {
            FeatureKind::Window => {}
            FeatureKind::Over(o) => {
                out.push(format!(
                    "  Exchange hash([{}]) ─▶ Over[{}] unary_frontier {} lateness={lateness} (stream: emit each row when the watermark passes it, correct later rows whose frame holds a late row until row+lateness; backfill: emit once at row+lateness)",
                    keys.join(", "),
                    f.name,
                    o.frame,
                ));
                continue;
            }
            FeatureKind::Session => {
                out.push(format!(
                    "  Exchange hash([{}]) ─▶ Session[{}] unary_frontier {} lateness={lateness} (stream: emit each session at its end; a late record within lateness extends or merges sessions: withdraw merged-away rows, re-emit with a higher revision, until end+lateness; backfill: emit once at end+lateness)",
                    keys.join(", "),
                    f.name,
                    f.window,
                ));
                continue;
            }
            FeatureKind::Stateless => {
                out.push(format!(
                    "  Source[...] ─▶ {} stateless (rows emitted by the source as read)",
                    f.name
                ));
                continue;
            }
        }
        if let Some(leader) = f.shares_state_with {
            out.push(format!(
                "  {} ─▶ rows emitted by Window[{}] (shared state: same rows, keys and window)",
                f.name, plan.features[leader].name
            ));
            continue;
        }
        let mut names = vec![f.name.as_str()];
        names.extend(
            plan.features
                .iter()
                .filter(|m| {
                    m.shares_state_with
                        .is_some_and(|l| plan.features[l].name == f.name)
                })
                .map(|m| m.name.as_str()),
        );
        let how = if f.running_sums() {
            "deltas by window end, each window emits all live keys in slot order"
        } else {
            "panes and a timer per key, each key walks its own windows"
        };
        let state = format!("{}: {how}", f.window_state());
        let fused = match plan.fused_sink(fi) {
            Some(k) => format!(
                " ─▶ Sink[{}] fused (rows encoded into the sink's file as they are made)",
                plan.sinks[k].name
            ),
            None => String::new(),
        };
        out.push(format!(
            "  Exchange hash([{}]) ─▶ Window[{}] unary_frontier {} lateness={} state={state} (stream: emit at end, correct until end+lateness; backfill: emit once at end+lateness){fused}",
            keys.join(", "),
            names.join(", "),
            f.window,
            lateness
        ));
    }
    for (k, s) in plan.sinks.iter().enumerate() {
        if plan.is_fused_sink(k) {
            continue; // shown with its window
        }
        let feats: Vec<&str> = plan
            .features
            .iter()
            .filter(|f| f.sinks.contains(&k))
            .map(|f| f.name.as_str())
            .collect();
        let how = match &s.connector {
            SinkConnector::File { .. } => " pipeline (one file per worker)",
            SinkConnector::Kafka { .. } => {
                " after Exchange hash(key) (an entity's rows in one sink, which sends its newest window)"
            }
            _ => " pipeline (batched upserts, newer windows win in the store)",
        };
        out.push(format!(
            "  Concatenate[{}] ─▶ Sink[{}]{how}",
            feats.join(", "),
            s.name
        ));
    }
    out.push("  Concatenate[dead letters] ─▶ Exchange(worker 0) ─▶ DeadLetter".into());
    out
}

/// The file sink that window state `fi` writes itself (`Plan::fused_sink`): this worker's
/// file, written as `Sink[...]` would write it (see `Mode::file_writes`).
fn fused_sink(
    scope: Scope<'_, u64>,
    plan: &Plan,
    fi: usize,
    mode: Mode,
    state: &Arc<RunState>,
) -> Option<FusedFileSink> {
    let k = plan.fused_sink(fi)?;
    let SinkConnector::File { direct_io, .. } = &plan.sinks[k].connector else {
        return None;
    };
    let how = mode.file_writes(*direct_io);
    let spec = FileSpec::new(plan, k, scope.index(), scope.peers(), how);
    Some(FusedFileSink::new(spec, Arc::clone(state)))
}

/// One feature's streams from several sources (a UNION ALL) as one stream.
fn concat_streams<'s>(scope: Scope<'s, u64>, streams: Vec<FeatureStream<'s>>) -> FeatureStream<'s> {
    let mut it = streams.into_iter();
    let first = it.next().expect("every feature reads a source");
    let rest: Vec<FeatureStream<'s>> = it.collect();
    if rest.is_empty() {
        return first;
    }
    macro_rules! all {
        ($variant:ident, $first:expr) => {{
            let mut v = vec![$first];
            for s in rest {
                match s {
                    FeatureStream::$variant(s) => v.push(s),
                    _ => unreachable!("a feature's streams are of one kind"),
                }
            }
            FeatureStream::$variant(scope.concatenate(v))
        }};
    }
    match first {
        FeatureStream::Window(s) => all!(Window, s),
        FeatureStream::Over(s) => all!(Over, s),
        FeatureStream::Session(s) => all!(Session, s),
        FeatureStream::Rows(s) => all!(Rows, s),
    }
}
