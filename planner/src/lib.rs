//! freshet's planner: job files and feature SQL to typed logical plans, then to a
//! physical plan of plain data.
//!
//! Stages, each pure and printable:
//! 1. [`job`]: YAML job file → validated [`job::Job`] (schemas, durations, paths).
//! 2. [`sql`]: each feature's SQL (sqlparser AST) → [`logical::LogicalPlan`], names and
//!    types resolved, Flink group windows recognized.
//! 3. [`plan`]: logical plans → one [`physical::Plan`] (projection pushdown, pipelines).
//!
//! This crate does no I/O beyond reading the job file and knows nothing of timely.

pub mod aggregate;
pub mod duration;
pub mod error;
pub mod expr;
pub mod job;
pub mod join;
pub mod logical;
pub mod names;
pub mod over;
pub mod physical;
pub mod plan;
pub mod scalar;
pub mod sql;
pub mod table;
pub mod types;
pub mod window;

pub use error::{Diagnostic, Diagnostics, ErrorKind};
pub use job::{load_job, parse_job, Job};
pub use physical::{FeaturePlan, Plan, SourcePlan};
pub use plan::{plan_job, PlannedJob};
pub use table::SinkTable;
pub use types::{DataType, Row, Value};
