//! The physical plan: plain data describing exactly what the dataflow builds.
//!
//! Per source: which columns to decode (projection pushdown) and how watermarks are made.
//! Per feature, one of three fixed pipelines ([`FeatureKind`]), with all expressions as
//! index-based [`Expr`]s:
//! - window: `filter → key → window aggregate → having → project → sinks`;
//! - session: `filter → key → session aggregate → having → project → sinks`;
//! - OVER: `filter → partition key → over aggregate → project → sinks`;
//! - stateless: `filter → project → sinks`.
//!
//! No timely types appear here; `dataflow::render` is the only place that turns this into
//! operators.

use std::fmt::{self, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::aggregate::AggCall;
use crate::duration::format_duration_ms;
use crate::expr::Expr;
use crate::job::{Infra, OnError, Sink, SinkConnector, Source};
use crate::join::JoinPlan;
use crate::logical::NamedExpr;
use crate::over::OverSpec;
use crate::window::Window;

mod json;

/// How a source is read.
#[derive(Clone, Debug, Serialize)]
pub struct SourcePlan {
    /// The validated source definition.
    pub source: Source,
    /// Per column: whether any feature reads it (others are skipped while decoding).
    pub needed: Vec<bool>,
}

/// What a feature computes.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureKind {
    /// A group-window aggregate: `keys`, `aggs`, `window` and `having` apply; outputs are
    /// over the aggregate row `[keys.., window_start, window_end, aggs..]`.
    Window,
    /// A SESSION group-window aggregate: like [`FeatureKind::Window`] (the same aggregate
    /// row), with `window` a `WindowKind::Session` holding the gap. Sessions are found per
    /// key, merge on late data, and withdrawn rows mark sessions that merged away.
    Session,
    /// Per-row OVER aggregates; outputs are over `[source row.., over aggs..]`
    /// (see [`OverSpec`]). `keys` are the PARTITION BY expressions; `aggs`, `having` are
    /// empty and `window` is unused.
    Over(OverSpec),
    /// Filter and project only; outputs are over the source row. `keys`, `aggs` and
    /// `having` are empty and `window` is unused. The upsert key is the first output.
    Stateless,
}

/// Where a feature's rows come from.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum FeatureInput {
    /// The rows of one source (index into [`Plan::sources`]).
    Source {
        /// The source.
        source: usize,
    },
    /// The rows of an interval join of two sources: `[left side row.., right side row..]`.
    Join(Box<JoinPlan>),
    /// The rows of several sources (`UNION ALL`), each filtered and projected to the
    /// feature's rows by its branch; the feature's own `filter` and `project` are `None`.
    Union {
        /// The branches, in the query's order.
        branches: Vec<UnionBranch>,
    },
}

/// One branch of a `UNION ALL`.
#[derive(Clone, Debug, Serialize)]
pub struct UnionBranch {
    /// The source.
    pub source: usize,
    /// Row filter over the source's rows.
    pub filter: Option<Expr>,
    /// The feature's rows, over the source's rows (`None`: the source rows as they are).
    pub project: Option<Vec<NamedExpr>>,
}

/// One feature's pipeline. Its JSON (`explain --format json`) shows what runs: `window`
/// only for window and session features, `allowed_lateness_ms` only where lateness is
/// used (see [`FeaturePlan::uses_lateness`]).
#[derive(Clone, Debug)]
pub struct FeaturePlan {
    /// Feature name.
    pub name: String,
    /// Feature version.
    pub version: u32,
    /// Window, OVER or stateless.
    pub kind: FeatureKind,
    /// The rows the feature reads: a source's, or a join's (its *base rows*).
    pub input: FeatureInput,
    /// Row filter over base rows (WHERE, and the WHERE of subqueries in FROM).
    pub filter: Option<Expr>,
    /// The feature's rows, over base rows: the SELECT of a subquery in FROM (`None`: the
    /// base rows as they are). Keys, aggregate arguments and outputs read these rows.
    pub project: Option<Vec<NamedExpr>>,
    /// Grouping keys over the feature's rows; records are exchanged by their hash.
    pub keys: Vec<NamedExpr>,
    /// Aggregates; arguments over the feature's rows.
    pub aggs: Vec<AggCall>,
    /// Event-time window (window and session features only; others hold a placeholder).
    pub window: Window,
    /// The event-time attribute: its index in the feature's rows.
    pub event_time: usize,
    /// Corrections are accepted this long after a window's end.
    pub allowed_lateness_ms: u64,
    /// HAVING, over the aggregate row `[keys.., window_start, window_end, aggs..]`.
    pub having: Option<Expr>,
    /// Selected columns over the aggregate row, in SELECT order.
    pub outputs: Vec<NamedExpr>,
    /// Indices into [`Plan::sinks`].
    pub sinks: Vec<usize>,
    /// Window features that read the same rows and group them by the same keys and window
    /// share one window state: the first of them (this index) computes every member's
    /// aggregates (the union: `aggs` is the same list in each member) and emits each
    /// member's rows. `None` for the first, and for features that share nothing.
    pub shares_state_with: Option<usize>,
}

impl FeaturePlan {
    /// Whether the feature has an event-time window (window and session features).
    pub fn has_window(&self) -> bool {
        matches!(self.kind, FeatureKind::Window | FeatureKind::Session)
    }

    /// Whether `allowed_lateness_ms` changes what runs: for windows, sessions, OVER
    /// aggregates and joins. A stateless feature reading sources emits each row as it is
    /// read and never corrects one, so it has no lateness.
    pub fn uses_lateness(&self) -> bool {
        !matches!(self.kind, FeatureKind::Stateless) || self.join().is_some()
    }

    /// Width of the aggregate row.
    pub fn agg_row_width(&self) -> usize {
        self.keys.len() + 2 + self.aggs.len()
    }

    /// Whether the window state is running sums (every aggregate
    /// [subtractable](AggCall::subtractable)): each pane's partial aggregate enters a key's
    /// running value at its first window and leaves after its last, so a window costs the
    /// panes entering and leaving it. Otherwise the state is per pane and a window merges
    /// its panes.
    pub fn running_sums(&self) -> bool {
        !self.aggs.is_empty() && self.aggs.iter().all(AggCall::subtractable)
    }

    /// The state the feature's operator keeps, as explain shows it: a window's (see
    /// [`FeaturePlan::window_state`]), `per_session`, or what an OVER partition keeps
    /// besides the rows within the lateness (see the dataflow's `over` eviction); `None`
    /// for a stateless feature.
    pub fn state(&self) -> Option<String> {
        Some(match &self.kind {
            FeatureKind::Window => self.window_state().to_string(),
            FeatureKind::Session => "per_session".to_string(),
            FeatureKind::Over(over) => match (over.frame, over.max_rows()) {
                (crate::over::OverFrame::Rows { preceding }, _) => {
                    format!("last_{preceding}_rows+lateness")
                }
                (_, Some(m)) => format!("rows_in_range(at_most_{}_older)+lateness", m.max(1) - 1),
                (_, None) => "rows_in_range+lateness".to_string(),
            },
            _ => return None,
        })
    }

    /// The window state's name, as `explain` shows it: `running_sums` or `per_pane`.
    pub fn window_state(&self) -> &'static str {
        if self.running_sums() {
            "running_sums"
        } else {
            "per_pane"
        }
    }

    /// Selected columns other than the window bounds (which every output row carries).
    pub fn value_outputs(&self) -> impl Iterator<Item = &NamedExpr> {
        self.outputs.iter().filter(|o| self.is_value_output(o))
    }

    /// Whether `o`, one of [`FeaturePlan::outputs`], is other than a window bound.
    fn is_value_output(&self, o: &NamedExpr) -> bool {
        let window = matches!(self.kind, FeatureKind::Window | FeatureKind::Session);
        let (ws, we) = (self.keys.len(), self.keys.len() + 1);
        !(window
            && matches!(&o.expr, Expr::Column { index, .. } if (*index == ws || *index == we)
            && (o.name.eq_ignore_ascii_case("window_start") || o.name.eq_ignore_ascii_case("window_end"))))
    }

    /// The source a feature reads directly (`None` for a join or a union).
    pub fn source(&self) -> Option<usize> {
        match &self.input {
            FeatureInput::Source { source } => Some(*source),
            _ => None,
        }
    }

    /// The join a feature reads, if it reads one.
    pub fn join(&self) -> Option<&JoinPlan> {
        match &self.input {
            FeatureInput::Join(j) => Some(j),
            _ => None,
        }
    }

    /// The feature as read from each source it reads directly: itself for a source, one
    /// plan per branch for a union (each reading its source through the branch's filter
    /// and projection), none for a join.
    pub fn source_parts(&self) -> Vec<(usize, FeaturePlan)> {
        match &self.input {
            FeatureInput::Source { source } => vec![(*source, self.clone())],
            FeatureInput::Union { branches } => branches
                .iter()
                .map(|b| {
                    let part = FeaturePlan {
                        input: FeatureInput::Source { source: b.source },
                        filter: b.filter.clone(),
                        project: b.project.clone(),
                        ..self.clone()
                    };
                    (b.source, part)
                })
                .collect(),
            FeatureInput::Join(_) => Vec::new(),
        }
    }

    /// The OVER window, for OVER features.
    pub fn over(&self) -> Option<&OverSpec> {
        match &self.kind {
            FeatureKind::Over(o) => Some(o),
            _ => None,
        }
    }
}

/// A whole job, ready to render.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// Job name.
    pub job: String,
    /// Sources, in job order.
    pub sources: Vec<SourcePlan>,
    /// Features, in job order.
    pub features: Vec<FeaturePlan>,
    /// Sinks, in job order.
    pub sinks: Vec<Sink>,
    /// Dead-letter file.
    pub dead_letter: PathBuf,
    /// Connection details of the job's named clusters, stores and accounts.
    #[serde(skip)]
    pub infra: Infra,
}

impl Plan {
    /// The file sink fused into window state `fi`'s operator, if any: the operator encodes
    /// its rows straight into the sink's file instead of building rows and handing them on
    /// (operator chaining; building and dropping rows was a quarter of a HOP count's
    /// backfill user time). Only a running-sums window state (`FeaturePlan::running_sums`)
    /// whose features, and nothing else, write to exactly that one file sink is fused.
    pub fn fused_sink(&self, fi: usize) -> Option<usize> {
        let f = &self.features[fi];
        let window = matches!(f.kind, FeatureKind::Window) && f.shares_state_with.is_none();
        if !window || !f.running_sums() {
            return None;
        }
        let [k] = f.sinks[..] else {
            return None;
        };
        if !matches!(self.sinks[k].connector, SinkConnector::File { .. }) {
            return None;
        }
        let member = |m: usize| m == fi || self.features[m].shares_state_with == Some(fi);
        self.features
            .iter()
            .enumerate()
            .all(|(m, g)| {
                if member(m) {
                    g.sinks == [k]
                } else {
                    !g.sinks.contains(&k)
                }
            })
            .then_some(k)
    }

    /// Whether sink `k` is written by a window operator ([`Plan::fused_sink`]).
    pub fn is_fused_sink(&self, k: usize) -> bool {
        (0..self.features.len()).any(|fi| self.fused_sink(fi) == Some(k))
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        for (i, src) in self.sources.iter().enumerate() {
            let so = &src.source;
            let cols: Vec<String> = so
                .columns
                .iter()
                .zip(&src.needed)
                .filter(|(_, n)| **n)
                .map(|(c, _)| format!("{}: {}{}", c.name, c.ty, if c.required { "!" } else { "" }))
                .collect();
            let conn = so.connector.to_string();
            writeln!(
                s,
                "Source #{i} {} {conn} format={} decode=[{}] watermark=max({}) - {} on_error={}",
                so.name,
                format!("{:?}", so.format).to_lowercase(),
                cols.join(", "),
                so.columns[so.event_time].name,
                format_duration_ms(so.watermark_delay_ms),
                on_error_name(so.on_error),
            )
            .map_err(|_| fmt::Error)?;
        }
        for feat in &self.features {
            writeln!(s, "Feature {} v{}", feat.name, feat.version).map_err(|_| fmt::Error)?;
            match &feat.input {
                FeatureInput::Source { source } => {
                    writeln!(s, "  Read source #{source}").map_err(|_| fmt::Error)?
                }
                FeatureInput::Union { branches } => {
                    for b in branches {
                        let mut line = format!("  Read source #{} (UNION ALL branch)", b.source);
                        if let Some(p) = &b.filter {
                            line.push_str(&format!(" filter={p}"));
                        }
                        if let Some(cols) = &b.project {
                            let cs: Vec<String> = cols
                                .iter()
                                .map(|c| format!("{} := {}", c.name, c.expr))
                                .collect();
                            line.push_str(&format!(" map=[{}]", cs.join(", ")));
                        }
                        writeln!(s, "{line}").map_err(|_| fmt::Error)?;
                    }
                }
                FeatureInput::Join(j) => {
                    let lateness = format_duration_ms(feat.allowed_lateness_ms);
                    for (side, js) in [("left", &j.left), ("right", &j.right)] {
                        writeln!(s, "  Read {side} {js}").map_err(|_| fmt::Error)?;
                    }
                    let keys: Vec<String> = j.left.key.iter().map(|k| k.to_string()).collect();
                    if j.table {
                        writeln!(
                            s,
                            "  Exchange hash(join key) ─▶ TableJoin {} key=[{}]{} state=table rows for the whole run; stream rows wait until the table is loaded, then are matched and dropped",
                            j.kind,
                            keys.join(", "),
                            j.residual.as_ref().map_or(String::new(), |r| format!(" residual={r}")),
                        )
                        .map_err(|_| fmt::Error)?;
                    } else {
                        writeln!(
                        s,
                        "  Exchange hash(join key) ─▶ IntervalJoin {} {} key=[{}]{} lateness={lateness} state=rows_until(other side's frontier passes time+bound+lateness) output_watermark=min(inputs)-{}",
                        j.kind,
                        j.bounds,
                        keys.join(", "),
                        j.residual.as_ref().map_or(String::new(), |r| format!(" residual={r}")),
                        format_duration_ms(j.delay_ms)
                    )
                    .map_err(|_| fmt::Error)?;
                    }
                }
            }
            if let Some(p) = &feat.filter {
                writeln!(s, "  Filter {p}").map_err(|_| fmt::Error)?;
            }
            if let Some(cols) = &feat.project {
                let cs: Vec<String> = cols
                    .iter()
                    .map(|c| format!("{} := {}", c.name, c.expr))
                    .collect();
                writeln!(s, "  Map [{}]", cs.join(", ")).map_err(|_| fmt::Error)?;
            }
            let keys: Vec<String> = feat.keys.iter().map(|k| k.expr.to_string()).collect();
            let lateness = format_duration_ms(feat.allowed_lateness_ms);
            match &feat.kind {
                FeatureKind::Window => {
                    writeln!(s, "  Exchange hash([{}])", keys.join(", "))
                        .map_err(|_| fmt::Error)?;
                    let aggs: Vec<String> = feat.aggs.iter().map(|a| a.to_string()).collect();
                    let state = match feat.shares_state_with {
                        Some(leader) => format!("shared_with={}", self.features[leader].name),
                        None => feat.window_state().to_string(),
                    };
                    writeln!(
                        s,
                        "  WindowAggregate {} lateness={} state={state} emit=[stream: at end, corrections until end+lateness; backfill: once at end+lateness] aggs=[{}]",
                        feat.window,
                        lateness,
                        aggs.join(", ")
                    )
                    .map_err(|_| fmt::Error)?;
                    if let Some(h) = &feat.having {
                        writeln!(s, "  Having {h}").map_err(|_| fmt::Error)?;
                    }
                }
                FeatureKind::Session => {
                    writeln!(s, "  Exchange hash([{}])", keys.join(", "))
                        .map_err(|_| fmt::Error)?;
                    let aggs: Vec<String> = feat.aggs.iter().map(|a| a.to_string()).collect();
                    writeln!(
                        s,
                        "  SessionAggregate {} lateness={} state=per_session emit=[stream: at session end, on late merges withdraw merged-away sessions and correct until end+lateness; backfill: once at end+lateness] aggs=[{}]",
                        feat.window,
                        lateness,
                        aggs.join(", ")
                    )
                    .map_err(|_| fmt::Error)?;
                    if let Some(h) = &feat.having {
                        writeln!(s, "  Having {h}").map_err(|_| fmt::Error)?;
                    }
                }
                FeatureKind::Over(over) => {
                    writeln!(s, "  Exchange hash([{}])", keys.join(", "))
                        .map_err(|_| fmt::Error)?;
                    let state = feat.state().unwrap_or_default();
                    writeln!(
                        s,
                        "  OverAggregate {over} lateness={lateness} state={state} emit=[stream: each row once the watermark passes its time, corrections of later rows whose frame holds a late row until row+lateness; backfill: each row once at row+lateness]"
                    )
                    .map_err(|_| fmt::Error)?;
                }
                FeatureKind::Stateless => {
                    writeln!(
                        s,
                        "  Stateless emit=[each row as it is read; no state, no lateness]"
                    )
                    .map_err(|_| fmt::Error)?;
                }
            }
            let outs: Vec<String> = feat
                .outputs
                .iter()
                .map(|o| format!("{}: {} := {}", o.name, o.ty, o.expr))
                .collect();
            writeln!(s, "  Project [{}]", outs.join(", ")).map_err(|_| fmt::Error)?;
            let sinks: Vec<&str> = feat
                .sinks
                .iter()
                .map(|i| self.sinks[*i].name.as_str())
                .collect();
            let upsert = match &feat.kind {
                FeatureKind::Window => "keys, window".to_string(),
                FeatureKind::Session => "keys, session window".to_string(),
                FeatureKind::Over(_) => "partition keys, row time".to_string(),
                FeatureKind::Stateless => format!(
                    "{}, row time",
                    feat.outputs.first().map_or("", |o| o.name.as_str())
                ),
            };
            writeln!(
                s,
                "  Sink [{}] upsert_key=(feature, version, {upsert})",
                sinks.join(", ")
            )
            .map_err(|_| fmt::Error)?;
        }
        for (k, sink) in self.sinks.iter().enumerate() {
            let fanout = match &sink.connector {
                SinkConnector::File { .. } => String::new(),
                _ => format!(
                    " write_rate={} batch_size={} retry_count={}",
                    sink.fanout
                        .write_rate
                        .map_or("unlimited".to_string(), |r| format!("{r}/s")),
                    sink.fanout.batch_size,
                    sink.fanout.retry_count
                ),
            };
            let format = match sink.format {
                crate::job::Format::Parquet => match crate::table::SinkTable::of(self, k) {
                    Ok(t) => format!("parquet columns=[{}]", t.describe()),
                    Err(_) => "parquet".to_string(),
                },
                other => other.name().to_string(),
            };
            writeln!(
                s,
                "Sink {} {} format={format}{fanout}",
                sink.name, sink.connector
            )
            .map_err(|_| fmt::Error)?;
        }
        write!(s, "DeadLetter file path={}", self.dead_letter.display()).map_err(|_| fmt::Error)?;
        f.write_str(&s)
    }
}

/// snake_case name of an error policy.
pub fn on_error_name(o: OnError) -> &'static str {
    match o {
        OnError::Fail => "fail",
        OnError::Skip => "skip",
        OnError::DeadLetter => "dead_letter",
    }
}

/// The indexes in `f.outputs` of the feature's value columns: neither keys nor window
/// bounds (for a stateless feature, all but the first column, its key).
pub fn value_outputs(f: &FeaturePlan) -> Vec<usize> {
    let nk = f.keys.len();
    let values = f
        .outputs
        .iter()
        .enumerate()
        .filter(|(_, o)| f.is_value_output(o));
    match &f.kind {
        FeatureKind::Window | FeatureKind::Session => values
            .filter(|(_, o)| !matches!(&o.expr, Expr::Column { index, .. } if *index < nk))
            // The window's bounds under other names (`TUMBLE_ROWTIME(...) AS t`,
            // `w.window_start AS ws`) are about the window, not values.
            .filter(|(_, o)| {
                let mut used = Vec::new();
                o.expr.columns(&mut used);
                used.is_empty() || used.iter().any(|c| *c < nk || *c > nk + 1)
            })
            .map(|(i, _)| i)
            .collect(),
        FeatureKind::Over(_) => values
            .filter(|(_, o)| !f.keys.iter().any(|k| k.expr == o.expr))
            .map(|(i, _)| i)
            .collect(),
        FeatureKind::Stateless => values.skip(1).map(|(i, _)| i).collect(),
    }
}
