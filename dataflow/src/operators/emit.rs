//! How the keyed operators (`Window`, `Over`, `Session`) hand on the rows a frontier advance
//! made due: stamped at the frontier, then the capability is held there (or dropped once
//! the input is done). One place for the capability arithmetic they share.

use timely::container::CapacityContainerBuilder;
use timely::dataflow::operators::generic::OutputBuilderSession;
use timely::dataflow::operators::Capability;
use timely::scheduling::Activator;

use crate::record::FeatureRow;
use crate::state::RunState;

/// The output port of a keyed operator.
pub type RowsOut<'a> = OutputBuilderSession<'a, u64, CapacityContainerBuilder<Vec<FeatureRow>>>;

/// Sends `out` (emptied), stamped at `frontier`: the capability moves up to it first.
pub fn send_at_frontier(
    cap: &mut Capability<u64>,
    frontier: Option<u64>,
    out: &mut Vec<FeatureRow>,
    output: &mut RowsOut<'_>,
) {
    if out.is_empty() {
        return;
    }
    if let Some(t) = frontier.filter(|t| cap.time() < t) {
        cap.downgrade(&t);
    }
    // The whole vector goes downstream as one container (no copy per row); `out` gets an
    // empty one back, with room for the next batch (up to `KEEP` rows: an operator that once
    // emitted a million rows does not allocate for a million every time).
    let capacity = out.capacity().min(KEEP);
    output.session(cap).give_container(out);
    out.clear();
    out.reserve(capacity);
}

/// Rows of capacity `send_at_frontier` keeps in `out` at most.
const KEEP: usize = 1 << 10;

/// Holds `cap` at `frontier`, or drops it once the input is done (`None`).
pub fn release_to_frontier(cap: &mut Option<Capability<u64>>, frontier: Option<u64>) {
    match (cap.as_mut(), frontier) {
        (Some(_), None) => *cap = None,
        (Some(c), Some(t)) if *c.time() < t => c.downgrade(&t),
        _ => {}
    }
}

/// [`send_at_frontier`]; then, if the rows due at `frontier` are all out (`complete`),
/// [`release_to_frontier`], else the capability stays where it is and the operator asks to
/// be scheduled again for the next chunk (a frontier jump, such as the end of input, is
/// emitted in bounded pieces).
pub fn emit_chunk_at_frontier(
    cap: &mut Option<Capability<u64>>,
    frontier: Option<u64>,
    out: &mut Vec<FeatureRow>,
    output: &mut RowsOut<'_>,
    complete: bool,
    activator: &Activator,
) {
    if let Some(c) = cap.as_mut() {
        send_at_frontier(c, frontier, out, output);
        if !complete {
            activator.activate();
            return;
        }
    }
    release_to_frontier(cap, frontier);
}

/// [`send_at_frontier`], then [`release_to_frontier`].
pub fn emit_at_frontier(
    cap: &mut Option<Capability<u64>>,
    frontier: Option<u64>,
    out: &mut Vec<FeatureRow>,
    output: &mut RowsOut<'_>,
) {
    if let Some(c) = cap.as_mut() {
        send_at_frontier(c, frontier, out, output);
    }
    release_to_frontier(cap, frontier);
}

/// The time through which an operator fires its windows: its input frontier, or everything
/// (`u64::MAX`) once the input is done; once the run is stopping (a signal, or a failure
/// such as `on_error: fail`), the last such time it saw before the stop.
///
/// At a stop the sources release their capabilities once every worker of the cluster has
/// heard of it, and the frontier then moves (to the other workers' watermarks, or to the
/// end) without being a watermark of the input: windows past the frontier seen before the
/// stop are dropped, not emitted with incomplete values. That frontier is a watermark of
/// the whole input, because no source anywhere releases before this worker's own sources
/// announce the stop, which they do only after they see the stop flag, in this thread:
/// an activation that reads the frontier and then finds the flag unset saw no release. So
/// windows it had closed are emitted whole even when the stop comes in the middle of their
/// emission (a firing is emitted in chunks, one per activation). Emitted rows reach the
/// sinks.
#[derive(Debug, Default)]
pub struct Firing {
    through: u64,
}

impl Firing {
    /// The time to fire through at this activation; `frontier` must be read before it is
    /// called.
    pub fn through(&mut self, frontier: Option<u64>, state: &RunState) -> u64 {
        if !state.stop_requested() {
            self.through = frontier.unwrap_or(u64::MAX);
        }
        self.through
    }
}

/// The summary's corrections among `rows`: those with a revision above 0 (withdrawals
/// included, which carry the revision after the value they withdraw).
pub fn revised(rows: &[FeatureRow]) -> u64 {
    rows.iter().filter(|r| r.revision > 0).count() as u64
}
