//! What flows between operators.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use planner::types::Value;

use crate::accumulator::Acc;

/// A grouping key: the values of the GROUP BY expressions.
pub type Key = SmallVec<[Value; 2]>;

/// Records of one key, pre-aggregated per pane by the source (a per-worker combiner), on
/// their way to a window aggregate. Records that share key, pane and `cut` are
/// interchangeable for window state, so combining them changes no result; it shrinks the
/// exchange and spreads hot keys' work over the readers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartialAggregate {
    /// Grouping key.
    pub key: Key,
    /// Start of the pane, ms.
    pub pane: u64,
    /// The first window end these records are on time for: windows of the pane ending
    /// earlier had expired (`end + allowed_lateness <= watermark`) when they were read.
    pub cut: u64,
    /// Aggregate states, one per aggregate.
    pub accs: SmallVec<[Acc; 2]>,
}

/// A source row on its way to an OVER aggregate (exchanged by the hash of its partition
/// key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OverInput {
    /// Partition key: the values of the PARTITION BY expressions.
    pub key: Key,
    /// Event time, ms.
    pub time: u64,
    /// One value per OVER aggregate argument (NULL for `COUNT(*)`), then the values of the
    /// carried source columns (`OverSpec::carried`), in that order.
    pub values: SmallVec<[Value; 4]>,
}

/// A source record on its way to a SESSION aggregate (exchanged by the hash of its key):
/// its event time, the watermark when it was read, and its aggregate states.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionInput {
    /// Grouping key.
    pub key: Key,
    /// Event time, ms.
    pub time: u64,
    /// The source's watermark before this record was read. Sessions whose
    /// `end + allowed_lateness` it had reached were closed for this record: it neither
    /// joins nor merges them (as if their state were already freed, which it may be).
    pub watermark: u64,
    /// Aggregate states of this one record, one per aggregate.
    pub accs: SmallVec<[Acc; 2]>,
}

/// One emission of a feature value for a (key, window).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureRow {
    /// Index of the feature in the plan.
    pub feature: u32,
    /// Window start, epoch ms.
    pub window_start: i64,
    /// Window end, epoch ms.
    pub window_end: i64,
    /// 0 for the first emission, +1 per correction.
    pub revision: u32,
    /// Selected columns other than the window bounds, in SELECT order.
    pub values: SmallVec<[Value; 4]>,
    /// Grouping key (the upsert key with feature, version and window).
    pub key: Key,
    /// The earlier row for this key and window is withdrawn: a correction made HAVING
    /// false, or (SESSION) a late record merged the session into another one.
    pub deleted: bool,
}

/// A record that could not be used, with where it came from and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// `malformed`, `missing_required`, `wrong_type`, `bad_timestamp`, `too_late`.
    pub kind: String,
    /// Source table.
    pub source: String,
    /// File.
    pub file: String,
    /// 1-based line.
    pub line: u64,
    /// Why.
    pub reason: String,
    /// For `too_late`: the feature that could not use it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub feature: Option<String>,
    /// The record as read.
    pub record: String,
}
