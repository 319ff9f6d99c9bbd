//! Planning a whole job: every feature's SQL to a logical plan, then all of them to one
//! physical plan. Pure: no I/O (the job was read by [`crate::job::load_job`]).

use serde::Serialize;

use crate::aggregate::AggCall;
use crate::error::{Diagnostic, Diagnostics, ErrorKind};
use crate::expr::Expr;
use crate::job::locate::{Doc, Seg};
use crate::job::Job;
use crate::join::{JoinKind, JoinPlan, JoinSide};
use crate::logical::LogicalPlan;
use crate::logical::NamedExpr;
use crate::physical::{FeatureInput, FeatureKind, FeaturePlan, Plan, SourcePlan, UnionBranch};
use crate::sql::plan_feature;
use crate::window::Window;

mod value_types;

/// A feature's logical plan.
#[derive(Clone, Debug, Serialize)]
pub struct LogicalFeature {
    /// Feature name.
    pub name: String,
    /// Version.
    pub version: u32,
    /// Plan.
    pub plan: LogicalPlan,
}

/// Both planning stages of a job.
#[derive(Clone, Debug, Serialize)]
pub struct PlannedJob {
    /// Per-feature logical plans.
    pub logical: Vec<LogicalFeature>,
    /// The physical plan.
    pub physical: Plan,
}

/// Plans every feature; reports all features' errors, not only the first.
pub fn plan_job(job: &Job) -> Result<PlannedJob, Diagnostics> {
    let mut errors = Vec::new();
    let mut logical = Vec::new();
    let mut features = Vec::new();
    for (fi, f) in job.features.iter().enumerate() {
        let result = plan_feature(job, f).and_then(|plan| {
            let phys = lower(&plan, fi, job)?;
            Ok((plan, phys))
        });
        match result {
            Ok((plan, phys)) => {
                logical.push(LogicalFeature {
                    name: f.name.clone(),
                    version: f.version,
                    plan,
                });
                features.push(phys);
            }
            Err(d) => errors.push(d.with_detail_prefix(&f.name)),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    share_window_state(&mut features);
    let sources = job
        .sources
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let mut needed = vec![false; s.columns.len()];
            needed[s.event_time] = true;
            for f in &features {
                if let Some(j) = f.join() {
                    for side in [&j.left, &j.right].into_iter().filter(|x| x.source == si) {
                        let mut cols = Vec::new();
                        if let Some(p) = &side.filter {
                            p.columns(&mut cols);
                        }
                        side.columns.iter().for_each(|c| c.expr.columns(&mut cols));
                        // The key is read from the source row, not from the side's row:
                        // a key the query does not select is still decoded.
                        side.key.iter().for_each(|k| k.columns(&mut cols));
                        cols.into_iter().for_each(|c| needed[c] = true);
                    }
                    continue;
                }
                for (_, f) in f.source_parts().iter().filter(|(s, _)| *s == si) {
                    let mut cols = Vec::new();
                    if let Some(p) = &f.filter {
                        p.columns(&mut cols);
                    }
                    if let Some(project) = &f.project {
                        project.iter().for_each(|c| c.expr.columns(&mut cols));
                        cols.into_iter().for_each(|c| needed[c] = true);
                        continue;
                    }
                    f.keys.iter().for_each(|k| k.expr.columns(&mut cols));
                    f.aggs
                        .iter()
                        .filter_map(|a| a.arg.as_ref())
                        .for_each(|a| a.columns(&mut cols));
                    match &f.kind {
                        FeatureKind::Window | FeatureKind::Session => {}
                        FeatureKind::Over(o) => {
                            o.aggs
                                .iter()
                                .filter_map(|a| a.arg.as_ref())
                                .for_each(|a| a.columns(&mut cols));
                            cols.extend(&o.carried);
                        }
                        FeatureKind::Stateless => {
                            f.outputs.iter().for_each(|o| o.expr.columns(&mut cols))
                        }
                    }
                    for c in cols {
                        needed[c] = true;
                    }
                }
            }
            // Required columns are always decoded: a record missing one is a bad record.
            for (i, c) in s.columns.iter().enumerate() {
                needed[i] |= c.required;
            }
            SourcePlan {
                source: s.clone(),
                needed,
            }
        })
        .collect();
    let physical = Plan {
        job: job.name.clone(),
        sources,
        features,
        sinks: job.sinks.clone(),
        dead_letter: job.dead_letter.clone(),
        infra: job.infra.clone(),
    };
    // A parquet sink's features must agree on its columns.
    let tables: Vec<Diagnostic> = (0..physical.sinks.len())
        .filter(|k| physical.sinks[*k].format == crate::job::Format::Parquet)
        .filter_map(|k| crate::table::SinkTable::build(&physical, k).err())
        .map(|c| c.locate(job))
        .collect();
    if !tables.is_empty() {
        return Err(Diagnostics(tables));
    }
    Ok(PlannedJob { logical, physical })
}

impl Diagnostic {
    fn with_detail_prefix(mut self, feature: &str) -> Self {
        self.message = format!("feature `{feature}`: {}", self.message);
        self
    }
}

/// Logical → physical. The SQL planner produces `Project(op(input))` with `op` a window
/// aggregate (`Filter?(WindowAggregate)` with HAVING), an OVER aggregate, or nothing
/// (stateless); `input` is any tree of filters, projections and at most one interval join
/// over scans, which [`flatten`] composes into the base rows, one filter and one projection.
fn lower(plan: &LogicalPlan, fi: usize, job: &Job) -> Result<FeaturePlan, Diagnostic> {
    let feature = &job.features[fi];
    let unsupported = || {
        Diagnostic::new(
            ErrorKind::Unsupported,
            "this query shape has no physical plan yet",
        )
        .in_file(&job.path)
    };
    let LogicalPlan::Project {
        input,
        columns: outputs,
    } = plan
    else {
        return Err(unsupported());
    };
    let base = |flat: Flat, time: usize| FeaturePlan {
        name: feature.name.clone(),
        version: feature.version,
        kind: FeatureKind::Stateless,
        input: flat.input,
        filter: flat.filter,
        project: flat.project,
        keys: Vec::new(),
        aggs: Vec::new(),
        // Unused by OVER and stateless features.
        window: Window::tumble(1),
        event_time: time,
        allowed_lateness_ms: feature.allowed_lateness_ms,
        having: None,
        outputs: outputs.clone(),
        sinks: feature.sinks.clone(),
        shares_state_with: None,
    };
    let (agg, having) = match input.as_ref() {
        LogicalPlan::Filter { input, predicate }
            if matches!(input.as_ref(), LogicalPlan::WindowAggregate { .. }) =>
        {
            (input.as_ref(), Some(predicate.clone()))
        }
        other => (other, None),
    };
    let mut phys = match agg {
        LogicalPlan::OverAggregate {
            input, over, time, ..
        } => {
            let flat = flatten(input).ok_or_else(unsupported)?;
            FeaturePlan {
                kind: FeatureKind::Over(over.clone()),
                keys: over.keys.clone(),
                ..base(flat, *time)
            }
        }
        LogicalPlan::WindowAggregate {
            input,
            window,
            time,
            keys,
            aggs,
            allowed_lateness_ms,
            ..
        } => {
            let flat = flatten(input).ok_or_else(unsupported)?;
            FeaturePlan {
                kind: match window.kind {
                    crate::window::WindowKind::Session => FeatureKind::Session,
                    _ => FeatureKind::Window,
                },
                keys: keys.clone(),
                aggs: aggs.clone(),
                window: *window,
                allowed_lateness_ms: *allowed_lateness_ms,
                having,
                ..base(flat, *time)
            }
        }
        other => {
            let flat = flatten(other).ok_or_else(unsupported)?;
            let time = *flat.time_attrs.first().ok_or_else(unsupported)?;
            base(flat, time)
        }
    };
    // A source's rows are judged by the source's own event time; a join's by the
    // attribute the feature uses, which sets how far the join's watermark trails.
    match &mut phys.input {
        FeatureInput::Source { source } => {
            if !traces_to_event_time(
                &phys.project,
                phys.event_time,
                job.sources[*source].event_time,
            ) {
                return Err(unsupported());
            }
        }
        FeatureInput::Union { branches } => {
            for b in branches.iter() {
                if !traces_to_event_time(
                    &b.project,
                    phys.event_time,
                    job.sources[b.source].event_time,
                ) {
                    return Err(unsupported());
                }
            }
        }
        FeatureInput::Join(j) => {
            let joined = match &phys.project {
                Some(cols) => match &cols[phys.event_time].expr {
                    Expr::Column { index, .. } => *index,
                    _ => return Err(unsupported()),
                },
                None => phys.event_time,
            };
            if j.table && joined >= j.left.columns.len() {
                return Err(Diagnostic::new(
                    ErrorKind::Unsupported,
                    "a feature over a join with a bounded table must use the stream side's event time",
                )
                .with_hint("use the left side's rowtime for the window")
                .in_file(&job.path));
            }
            if j.kind == crate::join::JoinKind::Left && joined >= j.left.columns.len() {
                return Err(Diagnostic::new(
                    ErrorKind::Unsupported,
                    "a feature over a LEFT JOIN must use the left side's event time",
                )
                .with_detail("an unmatched left row has no right-side time (it is NULL)")
                .with_hint("use the left side's rowtime for the window, or an inner JOIN")
                .in_file(&job.path));
            }
            j.delay_ms = j.delay_for(joined, phys.allowed_lateness_ms);
            prune_join_columns(j, &mut phys.filter, &mut phys.project);
        }
    }
    if !phys.uses_lateness() && phys.allowed_lateness_ms > 0 {
        return Err(lateness_unused(job, fi));
    }
    value_types::declare(job, fi, &mut phys)?;
    Ok(phys)
}

/// `allowed_lateness` on a stateless feature reading sources, at the key: its rows are
/// emitted as they are read and never corrected, so the lateness would change nothing.
fn lateness_unused(job: &Job, fi: usize) -> Diagnostic {
    let d = Diagnostic::new(
        ErrorKind::Config,
        "`allowed_lateness` has no effect on a stateless feature",
    )
    .with_detail(
        "a stateless feature (no GROUP BY, no OVER) writes each row as it is read: no row is ever late or corrected",
    )
    .with_hint("remove `allowed_lateness:` from this feature");
    let path = [
        Seg::Key("features"),
        Seg::Index(fi),
        Seg::Key("allowed_lateness"),
    ];
    match Doc::parse(&job.text).find(&path) {
        Some(found) => d.at(&job.path, &job.text, found.key.0, found.key.1),
        None => d.in_file(&job.path),
    }
}

/// Lets window features that read the same rows and group them by the same keys and window
/// share one state: each gets the union of the group's aggregates (its HAVING and outputs
/// renumbered into it), and all but the first point at the first.
fn share_window_state(features: &mut [FeaturePlan]) {
    let plain = |e: &Expr| e.map_columns(&|i, _| Expr::column(i, ""));
    let signature = |f: &FeaturePlan| -> Option<String> {
        let (FeatureKind::Window, FeatureInput::Source { source }) = (&f.kind, &f.input) else {
            return None;
        };
        let project: Option<Vec<Expr>> = f
            .project
            .as_ref()
            .map(|cols| cols.iter().map(|c| plain(&c.expr)).collect());
        let keys: Vec<Expr> = f.keys.iter().map(|k| plain(&k.expr)).collect();
        Some(format!(
            "{source} {:?} {project:?} {keys:?} {:?} {}",
            f.filter.as_ref().map(plain),
            f.window,
            f.allowed_lateness_ms
        ))
    };
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, f) in features.iter().enumerate() {
        let Some(sig) = signature(f) else { continue };
        match groups.iter_mut().find(|(s, _)| *s == sig) {
            Some((_, members)) => members.push(i),
            None => groups.push((sig, vec![i])),
        }
    }
    let plain_agg = |a: &AggCall| AggCall {
        arg: a.arg.as_ref().map(plain),
        ..a.clone()
    };
    for (_, members) in groups.into_iter().filter(|(_, m)| m.len() > 1) {
        let mut union: Vec<AggCall> = Vec::new();
        for &m in &members {
            for a in &features[m].aggs {
                if !union.iter().any(|u| plain_agg(u) == plain_agg(a)) {
                    union.push(a.clone());
                }
            }
        }
        let leader = members[0];
        for &m in &members {
            let f = &mut features[m];
            let nk = f.keys.len();
            let map: Vec<usize> = f
                .aggs
                .iter()
                .map(|a| {
                    union
                        .iter()
                        .position(|u| plain_agg(u) == plain_agg(a))
                        .expect("in the union")
                })
                .collect();
            let renumber = |e: &Expr| {
                e.map_columns(&|c, name| {
                    let c = if c >= nk + 2 {
                        nk + 2 + map[c - nk - 2]
                    } else {
                        c
                    };
                    Expr::column(c, name)
                })
            };
            f.having = f.having.as_ref().map(renumber);
            for o in &mut f.outputs {
                o.expr = renumber(&o.expr);
            }
            f.aggs = union.clone();
            f.shares_state_with = (m != leader).then_some(leader);
        }
    }
}

/// Drops the side columns nothing reads (the feature's filter and projection, the residual
/// ON condition) from a join feature, so join state keeps only what is used. Only when the
/// feature has a projection: otherwise its keys, aggregates and outputs read joined rows
/// directly and every column stays.
fn prune_join_columns(
    j: &mut JoinPlan,
    filter: &mut Option<Expr>,
    project: &mut Option<Vec<NamedExpr>>,
) {
    let Some(cols) = project.as_mut() else { return };
    let mut used = Vec::new();
    cols.iter().for_each(|c| c.expr.columns(&mut used));
    for e in [filter.as_ref(), j.residual.as_ref()].into_iter().flatten() {
        e.columns(&mut used);
    }
    let lw = j.left.columns.len();
    let width = lw + j.right.columns.len();
    let keep: Vec<bool> = (0..width).map(|i| used.contains(&i)).collect();
    if keep.iter().all(|k| *k) {
        return;
    }
    // Old joined column → new joined column (unread ones are never referenced).
    let new_index: Vec<usize> = keep
        .iter()
        .scan(0, |next, k| {
            let i = *next;
            *next += usize::from(*k);
            Some(i)
        })
        .collect();
    let remap = |e: &Expr| e.map_columns(&|i, name| Expr::column(new_index[i], name));
    for c in cols.iter_mut() {
        c.expr = remap(&c.expr);
    }
    if let Some(f) = filter.as_mut() {
        *f = remap(f);
    }
    if let Some(r) = j.residual.as_mut() {
        *r = remap(r);
    }
    let mut i = 0;
    j.left.columns.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    let mut i = lw;
    j.right.columns.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

/// Whether column `time` of the projected rows is the source's event-time column.
fn traces_to_event_time(project: &Option<Vec<NamedExpr>>, time: usize, et: usize) -> bool {
    match project {
        Some(cols) => matches!(&cols[time].expr, Expr::Column { index, .. } if *index == et),
        None => time == et,
    }
}

/// A feature's input, composed: base rows, one filter over them, one projection.
struct Flat {
    input: FeatureInput,
    filter: Option<Expr>,
    project: Option<Vec<NamedExpr>>,
    /// Event-time attributes of the (projected) rows.
    time_attrs: Vec<usize>,
}

/// Composes filters and projections over a scan or an interval join of scans.
fn flatten(p: &LogicalPlan) -> Option<Flat> {
    match p {
        LogicalPlan::Scan {
            source,
            columns,
            event_time,
            ..
        } => Some(Flat {
            input: FeatureInput::Source { source: *source },
            filter: None,
            project: None,
            time_attrs: vec![columns.iter().position(|(n, _)| n == event_time)?],
        }),
        LogicalPlan::Filter { input, predicate } => {
            let mut f = flatten(input)?;
            if let FeatureInput::Union { branches } = &mut f.input {
                for b in branches {
                    let p = match &b.project {
                        Some(cols) => predicate.substitute(&exprs(cols)),
                        None => predicate.clone(),
                    };
                    b.filter = Expr::and(b.filter.take(), Some(p));
                }
                return Some(f);
            }
            let p = match &f.project {
                Some(cols) => predicate.substitute(&exprs(cols)),
                None => predicate.clone(),
            };
            // WHERE over a join: conditions on one side filter that side's rows before
            // the join (the right side's only for inner joins: a LEFT join keeps unmatched
            // left rows, and a right-side condition must see their NULLs).
            let p = match (&mut f.input, &f.project, &f.filter) {
                (FeatureInput::Join(j), None, None) => {
                    let inner = j.kind == JoinKind::Inner;
                    push_down(j, p, true, inner)
                }
                _ => Some(p),
            };
            f.filter = Expr::and(f.filter.take(), p);
            Some(f)
        }
        LogicalPlan::Project { input, columns } => {
            let mut f = flatten(input)?;
            let time_attrs = columns
                .iter()
                .enumerate()
                .filter(|(_, c)| matches!(&c.expr, Expr::Column { index, .. } if f.time_attrs.contains(index)))
                .map(|(i, _)| i)
                .collect();
            match &mut f.input {
                FeatureInput::Union { branches } => {
                    for b in branches {
                        b.project = Some(compose(columns, &b.project));
                    }
                }
                _ => f.project = Some(compose(columns, &f.project)),
            }
            f.time_attrs = time_attrs;
            Some(f)
        }
        LogicalPlan::IntervalJoin {
            left,
            right,
            kind,
            left_keys,
            right_keys,
            left_time,
            right_time,
            bounds,
            residual,
            table,
        } => {
            let left = join_side(left, left_keys, *left_time)?;
            let right = join_side(right, right_keys, *right_time)?;
            let lw = left.columns.len();
            let time_attrs = vec![*left_time, lw + *right_time];
            let mut join = JoinPlan {
                kind: *kind,
                left,
                right,
                bounds: *bounds,
                residual: None,
                delay_ms: 0,
                table: *table,
            };
            // ON conditions on the right side alone filter its rows; on the left alone,
            // only for inner joins (in a LEFT join they decide matching, not presence).
            if let Some(r) = residual {
                join.residual = push_down(&mut join, r.clone(), *kind == JoinKind::Inner, true);
            }
            Some(Flat {
                input: FeatureInput::Join(Box::new(join)),
                filter: None,
                project: None,
                time_attrs,
            })
        }
        LogicalPlan::Union { inputs } => {
            let mut branches = Vec::new();
            let mut time_attrs: Option<Vec<usize>> = None;
            for i in inputs {
                let f = flatten(i)?;
                let FeatureInput::Source { source } = f.input else {
                    return None;
                };
                time_attrs = Some(match time_attrs {
                    None => f.time_attrs.clone(),
                    Some(t) => t.into_iter().filter(|a| f.time_attrs.contains(a)).collect(),
                });
                branches.push(UnionBranch {
                    source,
                    filter: f.filter,
                    project: f.project,
                });
            }
            Some(Flat {
                input: FeatureInput::Union { branches },
                filter: None,
                project: None,
                time_attrs: time_attrs.unwrap_or_default(),
            })
        }
        _ => None,
    }
}

/// `columns` over rows that are `below` (a projection) of base rows, as columns over
/// the base rows.
fn compose(columns: &[NamedExpr], below: &Option<Vec<NamedExpr>>) -> Vec<NamedExpr> {
    columns
        .iter()
        .map(|c| NamedExpr {
            expr: match below {
                Some(cols) => c.expr.substitute(&exprs(cols)),
                None => c.expr.clone(),
            },
            ..c.clone()
        })
        .collect()
}

/// Moves the conjuncts of `p` (over joined rows) that read only one side's columns into
/// that side's filter, where allowed; returns the rest.
fn push_down(j: &mut JoinPlan, p: Expr, left_ok: bool, right_ok: bool) -> Option<Expr> {
    let lw = j.left.columns.len();
    let mut rest = None;
    for c in conjuncts(p) {
        let mut cols = Vec::new();
        c.columns(&mut cols);
        let (all_left, all_right) = (cols.iter().all(|&i| i < lw), cols.iter().all(|&i| i >= lw));
        if left_ok && all_left && !cols.is_empty() {
            let onto = exprs(&j.left.columns);
            j.left.filter = Expr::and(j.left.filter.take(), Some(c.substitute(&onto)));
        } else if right_ok && all_right && !cols.is_empty() {
            // Joined column lw + i is the right side's column i.
            let onto: Vec<Expr> = (0..lw)
                .map(|_| Expr::Literal(crate::types::Value::Null))
                .chain(j.right.columns.iter().map(|c| c.expr.clone()))
                .collect();
            j.right.filter = Expr::and(j.right.filter.take(), Some(c.substitute(&onto)));
        } else {
            rest = Expr::and(rest, Some(c));
        }
    }
    rest
}

/// The operands of a chain of ANDs.
fn conjuncts(e: Expr) -> Vec<Expr> {
    match e {
        Expr::Binary {
            op: crate::expr::BinOp::And,
            left,
            right,
        } => {
            let mut v = conjuncts(*left);
            v.extend(conjuncts(*right));
            v
        }
        other => vec![other],
    }
}

/// One input of a join: filters and projections over a single scan.
fn join_side(p: &LogicalPlan, key: &[Expr], time: usize) -> Option<JoinSide> {
    let flat = flatten(p)?;
    let FeatureInput::Source { source } = flat.input else {
        return None;
    };
    let LogicalPlan::Scan {
        table,
        columns: scan_cols,
        ..
    } = scan_of(p)?
    else {
        return None;
    };
    let columns = flat.project.unwrap_or_else(|| {
        scan_cols
            .iter()
            .enumerate()
            .map(|(i, (n, ty))| NamedExpr {
                name: n.clone(),
                expr: Expr::column(i, n.clone()),
                ty: *ty,
            })
            .collect()
    });
    let over_source = exprs(&columns);
    Some(JoinSide {
        source,
        name: table.clone(),
        filter: flat.filter,
        key: key.iter().map(|k| k.substitute(&over_source)).collect(),
        time_name: columns.get(time)?.name.clone(),
        columns,
    })
}

/// The scan under filters and projections.
fn scan_of(p: &LogicalPlan) -> Option<&LogicalPlan> {
    match p {
        LogicalPlan::Scan { .. } => Some(p),
        LogicalPlan::Filter { input, .. } | LogicalPlan::Project { input, .. } => scan_of(input),
        _ => None,
    }
}

fn exprs(cols: &[NamedExpr]) -> Vec<Expr> {
    cols.iter().map(|c| c.expr.clone()).collect()
}
