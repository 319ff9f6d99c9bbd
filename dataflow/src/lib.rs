//! freshet's dataflow: renders physical plans as timely dataflows.
//!
//! Timestamps are event time in milliseconds, so progress frontiers are watermarks:
//! sources hold capabilities at their watermark, and windows fire when the frontier
//! passes them. See [`operators`] for the operators and [`render`] for how a plan becomes
//! a dataflow. This crate holds no planning logic: it executes what the plan says.

pub mod accumulator;
pub mod combiner;
pub mod key_slab;
pub mod operators;
pub mod record;
pub mod render;
pub mod run;
pub mod slot_index;
pub mod state;

pub use render::{describe, Mode, Tuning};
pub use run::{panic_message, run, RunSummary, Topology, LOST_PEER_ERROR, LOST_PEER_PANIC};
pub use state::{Counters, RunState};
