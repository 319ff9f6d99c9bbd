//! Planning a whole job: every feature's SQL to a logical plan, then all of them to one
//! physical plan. Pure: no I/O (the job was read by [`crate::job::load_job`]).

use serde::Serialize;

use crate::error::{Diagnostic, Diagnostics, ErrorKind};
use crate::job::Job;
use crate::logical::LogicalPlan;
use crate::physical::{single_value_type, FeatureKind, FeaturePlan, Plan, SourcePlan};
use crate::sql::plan_feature;
use crate::types::DataType;
use crate::window::Window;

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
    let sources = job
        .sources
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let mut needed = vec![false; s.columns.len()];
            needed[s.event_time] = true;
            for f in features.iter().filter(|f| f.source == si) {
                let mut cols = Vec::new();
                if let Some(p) = &f.filter {
                    p.columns(&mut cols);
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
    Ok(PlannedJob {
        logical,
        physical: Plan {
            job: job.name.clone(),
            sources,
            features,
            sinks: job.sinks.clone(),
            dead_letter: job.dead_letter.clone(),
            infra: job.infra.clone(),
        },
    })
}

impl Diagnostic {
    fn with_detail_prefix(mut self, feature: &str) -> Self {
        self.message = format!("feature `{feature}`: {}", self.message);
        self
    }
}

/// Logical → physical: the SQL planner produces `Project(Filter?(WindowAggregate(Filter?(Scan))))`.
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
    let base = |source: usize, filter: Option<crate::expr::Expr>| FeaturePlan {
        name: feature.name.clone(),
        version: feature.version,
        kind: FeatureKind::Stateless,
        source,
        filter,
        keys: Vec::new(),
        aggs: Vec::new(),
        // Unused by OVER and stateless features.
        window: Window::tumble(1),
        event_time: job.sources[source].event_time,
        allowed_lateness_ms: feature.allowed_lateness_ms,
        having: None,
        outputs: outputs.clone(),
        sinks: feature.sinks.clone(),
    };
    let scan_filter = |p: &LogicalPlan| -> Option<(usize, Option<crate::expr::Expr>)> {
        let (scan, filter) = match p {
            LogicalPlan::Filter { input, predicate } => (input.as_ref(), Some(predicate.clone())),
            other => (other, None),
        };
        match scan {
            LogicalPlan::Scan { source, .. } => Some((*source, filter)),
            _ => None,
        }
    };
    let phys = match input.as_ref() {
        // Project(OverAggregate(Filter?(Scan))).
        LogicalPlan::OverAggregate { input, over, .. } => {
            let (source, filter) = scan_filter(input).ok_or_else(unsupported)?;
            FeaturePlan {
                kind: FeatureKind::Over(over.clone()),
                keys: over.keys.clone(),
                ..base(source, filter)
            }
        }
        // Project(Filter?(Scan)): stateless.
        p if scan_filter(p).is_some() => {
            let (source, filter) = scan_filter(p).expect("checked");
            base(source, filter)
        }
        _ => lower_window(input, outputs, feature, job).ok_or_else(unsupported)?,
    };
    if let (Some(declared), Some(actual)) = (feature.value_type, single_value_type(&phys)) {
        let compatible =
            declared == actual || (declared == DataType::Float && actual == DataType::Int);
        if !compatible {
            let d = Diagnostic::new(
                ErrorKind::TypeMismatch,
                format!("declared type {declared}, but its value has type {actual}"),
            )
            .with_hint(format!(
                "set `type: {actual}`, or CAST the value AS {declared}"
            ));
            let line = job
                .text
                .lines()
                .position(|l| l.trim_start().starts_with("type:") && l.contains(declared.name()));
            return Err(match line {
                Some(i) => d.at(&job.path, &job.text, i + 1, 5),
                None => d.in_file(&job.path),
            });
        }
    }
    Ok(phys)
}

/// `Filter?(WindowAggregate(Filter?(Scan)))` under the final projection.
fn lower_window(
    input: &LogicalPlan,
    outputs: &[crate::logical::NamedExpr],
    feature: &crate::job::Feature,
    job: &Job,
) -> Option<FeaturePlan> {
    let (agg, having) = match input {
        LogicalPlan::Filter { input, predicate } => (input.as_ref(), Some(predicate.clone())),
        other => (other, None),
    };
    let LogicalPlan::WindowAggregate {
        input,
        window,
        keys,
        aggs,
        allowed_lateness_ms,
        ..
    } = agg
    else {
        return None;
    };
    let (scan, filter) = match input.as_ref() {
        LogicalPlan::Filter { input, predicate } => (input.as_ref(), Some(predicate.clone())),
        other => (other, None),
    };
    let LogicalPlan::Scan { source, .. } = scan else {
        return None;
    };
    Some(FeaturePlan {
        name: feature.name.clone(),
        version: feature.version,
        kind: match window.kind {
            crate::window::WindowKind::Session => FeatureKind::Session,
            _ => FeatureKind::Window,
        },
        source: *source,
        filter,
        keys: keys.clone(),
        aggs: aggs.clone(),
        window: *window,
        event_time: job.sources[*source].event_time,
        allowed_lateness_ms: *allowed_lateness_ms,
        having,
        outputs: outputs.to_vec(),
        sinks: feature.sinks.clone(),
    })
}
