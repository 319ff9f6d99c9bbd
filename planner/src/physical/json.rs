//! A feature plan as JSON (`explain --format json`): the fields of [`FeaturePlan`], less
//! those that describe nothing that runs. An OVER or stateless feature has no window (the
//! plan holds a placeholder; an OVER feature's frame is in its `kind`), and a stateless
//! feature reading sources has no lateness, as the text explain says.

use serde::{Serialize, Serializer};

use super::{FeatureInput, FeatureKind, FeaturePlan};
use crate::aggregate::AggCall;
use crate::expr::Expr;
use crate::logical::NamedExpr;
use crate::window::Window;

/// [`FeaturePlan`] as serialized: the same fields, optional ones left out.
#[derive(Serialize)]
struct FeaturePlanJson<'a> {
    name: &'a str,
    version: u32,
    kind: &'a FeatureKind,
    input: &'a FeatureInput,
    filter: &'a Option<Expr>,
    project: &'a Option<Vec<NamedExpr>>,
    keys: &'a [NamedExpr],
    aggs: &'a [AggCall],
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<WindowJson<'a>>,
    event_time: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_lateness_ms: Option<u64>,
    having: &'a Option<Expr>,
    outputs: &'a [NamedExpr],
    sinks: &'a [usize],
    shares_state_with: Option<usize>,
}

/// A window as serialized: a session window by its gap (its plan holds the gap as a size,
/// with slide and pane placeholders).
#[derive(Serialize)]
#[serde(untagged)]
enum WindowJson<'a> {
    Session { kind: &'static str, gap_ms: u64 },
    Other(&'a Window),
}

impl Serialize for FeaturePlan {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Destructured in full, so a new field cannot be left out of the JSON unnoticed.
        let FeaturePlan {
            name,
            version,
            kind,
            input,
            filter,
            project,
            keys,
            aggs,
            window,
            event_time,
            allowed_lateness_ms,
            having,
            outputs,
            sinks,
            shares_state_with,
        } = self;
        FeaturePlanJson {
            name,
            version: *version,
            kind,
            input,
            filter,
            project,
            keys,
            aggs,
            window: self.has_window().then_some(match window.kind {
                crate::window::WindowKind::Session => WindowJson::Session {
                    kind: "session",
                    gap_ms: window.size_ms,
                },
                _ => WindowJson::Other(window),
            }),
            event_time: *event_time,
            allowed_lateness_ms: self.uses_lateness().then_some(*allowed_lateness_ms),
            having,
            outputs,
            sinks,
            shares_state_with: *shares_state_with,
        }
        .serialize(serializer)
    }
}
