//! `JoinOutput[...]`: runs a feature's stateless prefix (WHERE, the subquery's SELECT,
//! keys, aggregate arguments) on the rows of its interval join, where they are made (no
//! exchange). Each joined row is judged late or not by its stamp, the join's output
//! watermark when the pair was made; with the planner's delay nothing made of on-time rows
//! is late here, but a row that is gets a dead letter like any other, never dropped.

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::Stream;

use planner::types::Value;
use planner::FeaturePlan;

use crate::operators::interval_join::JoinedRow;
use crate::operators::prefix::{new_output, FeatureStream, Out, Prefix, Pushed};
use crate::record::DeadLetter;

/// A join's feature stream and its dead letters.
pub struct JoinOutputStreams<'s> {
    /// The feature's records.
    pub feature: FeatureStream<'s>,
    /// Joined rows too late for the feature.
    pub dead_letters: Stream<'s, u64, Vec<DeadLetter>>,
}

/// Builds the prefix of feature `f` (index `feature_id`) over its join's rows.
pub fn join_output<'s>(
    rows: Stream<'s, u64, Vec<JoinedRow>>,
    f: &FeaturePlan,
    feature_id: u32,
) -> JoinOutputStreams<'s> {
    let mut builder = OperatorBuilder::new(format!("JoinOutput[{}]", f.name), rows.scope());
    let mut input = builder.new_input(rows, Pipeline);
    let (mut out, feature) = new_output(&mut builder, f);
    let (dlq, dead_letters) = builder.new_output::<Vec<DeadLetter>>();
    let mut dlq = Out::<DeadLetter>::from(dlq);
    // The event time, as a column of the joined row.
    let time = match &f.project {
        Some(cols) => match &cols[f.event_time].expr {
            planner::expr::Expr::Column { index, .. } => *index,
            _ => unreachable!("the planner traces the event time to a joined column"),
        },
        None => f.event_time,
    };
    let source = f
        .join()
        .map(|j| format!("{} ⋈ {}", j.left.name, j.right.name))
        .unwrap_or_default();
    let mut prefix = Prefix::new(vec![f.clone()], vec![feature_id]);
    builder.build(move |caps| {
        drop(caps);
        let mut late = Vec::new();
        move |_frontiers| {
            input.for_each(|mcap, data| {
                let w = *mcap.least().expect("a stamp");
                for row in data.iter() {
                    let t = match &row[time] {
                        Value::Ts(t) if *t >= 0 => *t as u64,
                        // A LEFT join's padded row has no right-side time: the planner
                        // only lets features use the left time of a LEFT join.
                        _ => continue,
                    };
                    if prefix.push(0, &mut out, row, t, w) == Pushed::TooLate {
                        late.push(DeadLetter {
                            kind: "too_late".into(),
                            source: source.clone(),
                            file: String::new(),
                            line: 0,
                            reason: prefix.late_reason(0, &prefix.features()[0].name),
                            feature: Some(prefix.features()[0].name.clone()),
                            record: format!("{row:?}"),
                            record_base64: None,
                        });
                    }
                }
                prefix.flush(0, &mut out, &mcap.delayed(&w, 0));
                if !late.is_empty() {
                    dlq.activate()
                        .session(&mcap.delayed(&w, 1))
                        .give_iterator(late.drain(..));
                }
            });
        }
    });
    JoinOutputStreams {
        feature,
        dead_letters,
    }
}
