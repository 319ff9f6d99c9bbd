//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// freshet: declarative real-time and backfilled ML features on timely dataflow.
#[derive(Debug, Parser)]
#[command(name = "freshet", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a job file and its SQL; exit non-zero with diagnostics if anything is wrong.
    Validate {
        /// The job file.
        job: PathBuf,
        /// Infrastructure profile (Kafka clusters, Redis stores, AWS accounts) the job's
        /// connectors name; default: $FRESHET_INFRA.
        #[arg(long)]
        infra: Option<PathBuf>,
    },
    /// Print the logical plan, the physical plan and the dataflow of a job.
    Explain {
        /// The job file.
        job: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
        format: ExplainFormat,
        /// Infrastructure profile; default: $FRESHET_INFRA.
        #[arg(long)]
        infra: Option<PathBuf>,
    },
    /// Run a job.
    Run(RunArgs),
    /// Start one process per hostfile line on this machine, as one timely cluster, and supervise them.
    // `launch` sets each process's --cluster-hostfile and --process itself (and refuses
    // them): they are not in its help.
    #[command(
        mut_arg("cluster_hostfile", |a| a.hide(true)),
        mut_arg("process", |a| a.hide(true))
    )]
    Launch {
        /// One `host:port` per line (blank and `#` lines skipped); the i-th address is process i.
        #[arg(long)]
        hostfile: PathBuf,
        /// The run's arguments.
        #[command(flatten)]
        run: RunArgs,
    },
    /// Append JSON-lines files to a Kafka topic (demo and benchmark input).
    Produce {
        /// Infrastructure profile naming the cluster; default: $FRESHET_INFRA.
        #[arg(long)]
        infra: Option<PathBuf>,
        /// Cluster name in the profile.
        #[arg(long, default_value = "local")]
        cluster: String,
        /// Topic (must exist).
        #[arg(long)]
        topic: String,
        /// Top-level field of each line's JSON object to key records by (keeps a key's
        /// records in one partition): a string's text, another value's JSON. A line that
        /// is not a JSON object, or lacks the field, is an error naming file and line (the
        /// lines before it are sent). Without it, lines are sent unparsed.
        #[arg(long)]
        key_field: Option<String>,
        /// Files to send, line by line (blank lines are skipped).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Generate demo data.
    Gen {
        /// What to generate.
        #[command(subcommand)]
        what: GenCommand,
    },
}

/// `run` arguments (shared with `launch`).
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The job file.
    pub job: PathBuf,
    /// Infrastructure profile (Kafka clusters, Redis stores, AWS accounts) the job's
    /// connectors name; default: $FRESHET_INFRA.
    #[arg(long)]
    pub infra: Option<PathBuf>,
    /// backfill: replay bounded history, emit final values; stream: follow input live.
    #[arg(long, value_enum, default_value_t = RunMode::Backfill)]
    pub mode: RunMode,
    /// In stream mode, stop once all present input is read.
    #[arg(long)]
    pub exit_at_end: bool,
    /// Worker threads (per process).
    #[arg(long, short = 'w', default_value_t = 1)]
    pub workers: usize,
    /// Cluster hostfile (one `host:port` per line); with --process, run as one process of it.
    #[arg(long, requires = "process")]
    pub cluster_hostfile: Option<PathBuf>,
    /// This process's index in the cluster hostfile.
    #[arg(long)]
    pub process: Option<usize>,
    /// How long a cluster process waits for all its peers to connect before failing
    /// (e.g. 30s, 2m).
    #[arg(long, value_parser = parse_timeout, default_value = "60s")]
    pub connect_timeout: std::time::Duration,
    /// Bytes a source reads per watermark step (default 16 MiB): a number of bytes, or
    /// with a unit (256KiB, 4MiB, 1GiB; KB/MB/GB are 1000-based). Smaller steps advance
    /// watermarks more often, so a replay shows late events as corrections as a live
    /// stream would; results do not depend on it.
    #[arg(long, value_parser = parse_bytes)]
    pub batch_bytes: Option<usize>,
    /// After a stop (a signal, or a failure), how long to go on writing the rows emitted before it to
    /// feature stores and topics (e.g. 20s, 1m; 0s: not at all); rows still unwritten
    /// then go to the dead-letter file as `sink_failed`. Keep it under the orchestrator's
    /// grace period (Kubernetes: 30s) minus about 10s.
    #[arg(long, value_parser = parse_stop_timeout, default_value = "20s")]
    pub stop_timeout: std::time::Duration,
    /// Also write the run summary as JSON to this file (its directory is created if
    /// missing; a previous summary there is removed at the start, so a run that fails
    /// leaves none). Under `launch` it holds the cluster's totals, and each process's share
    /// is beside it in FILE.0, FILE.1, ... (process i in FILE.i).
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Print no summary.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Run modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunMode {
    /// Bounded replay of history.
    Backfill,
    /// Live.
    Stream,
}

/// EXPLAIN formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    /// Indented text.
    Text,
    /// JSON.
    Json,
}

/// `gen` subcommands.
#[derive(Debug, Subcommand)]
pub enum GenCommand {
    /// Ride-sharing events (JSON lines).
    Events {
        /// Output directory (files part-00000.jsonl, ...).
        #[arg(long, default_value = "data/events")]
        out: PathBuf,
        /// Number of events.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Number of files.
        #[arg(long, default_value_t = 1)]
        files: u32,
        /// Distinct users [default: 200000].
        #[arg(long)]
        users: Option<u64>,
        /// Events per second of event time [default: 2000]: 1M events span ~8 minutes;
        /// lower it for features over hours or days (e.g. --rate 10: 1M events ~28 hours).
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Food-delivery events: creations and drop-offs (JSON lines), for interval joins.
    Deliveries {
        /// Output directory (files part-00000.jsonl, ...).
        #[arg(long, default_value = "data/deliveries")]
        out: PathBuf,
        /// Number of deliveries (about 1.95 events each).
        #[arg(long, default_value_t = 1_000_000)]
        deliveries: u64,
        /// Random seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Number of files.
        #[arg(long, default_value_t = 1)]
        files: u32,
    },
}

fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    match planner::duration::parse_duration_ms(text)? {
        0 => Err(format!("`{text}` is no time at all; write e.g. 60s or 2m")),
        ms => Ok(std::time::Duration::from_millis(ms)),
    }
}

fn parse_stop_timeout(text: &str) -> Result<std::time::Duration, String> {
    planner::duration::parse_duration_ms(text).map(std::time::Duration::from_millis)
}

/// A byte size: a whole number with an optional unit (B, KiB, MiB, GiB, KB, MB, GB; case
/// and a space before the unit do not matter).
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let hint = "write a number of bytes, or one with a unit: 262144, 256KiB, 16MiB, 1GiB";
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size; {hint}"))?;
    let scale: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        other => return Err(format!("unknown unit `{other}` in `{text}`; {hint}")),
    };
    match n.checked_mul(scale) {
        Some(0) => Err(format!("`{text}` is zero bytes; {hint}")),
        Some(bytes) => Ok(bytes),
        None => Err(format!("`{text}` is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        for (text, bytes) in [
            ("262144", 262_144),
            ("256KiB", 262_144),
            ("256 kib", 262_144),
            ("16MiB", 16 << 20),
            ("1GiB", 1 << 30),
            ("1G", 1 << 30),
            ("5MB", 5_000_000),
            ("400B", 400),
        ] {
            assert_eq!(parse_bytes(text), Ok(bytes), "{text}");
        }
        for bad in ["", "MiB", "1.5MiB", "16 MiBs", "0", "-1"] {
            let e = parse_bytes(bad).unwrap_err();
            assert!(e.contains(bad.trim()) || bad.is_empty(), "{bad}: {e}");
            assert!(
                e.contains("16MiB") || e.contains("too large"),
                "{bad}: a hint: {e}"
            );
        }
    }
}
