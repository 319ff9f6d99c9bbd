//! Running a plan on timely workers: one process with N worker threads, or one process of a
//! cluster (timely's own TCP cluster, one `host:port` per process).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use timely::{CommunicationConfig, Config, WorkerConfig};

use planner::Plan;

use crate::render::{render, Mode, Tuning};
use crate::state::{Counters, RunState};

/// What a worker panics with when its process loses a peer: timely's network thread
/// failed, and the queue between them is poisoned.
pub const LOST_PEER_PANIC: &str = "MergeQueue poisoned.";

/// A panic's message (`panic!` with a literal or with formatting), or "(no message)".
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// The run's error when its process lost a peer.
pub const LOST_PEER_ERROR: &str =
    "the connection to another process of the cluster was lost (it exited or was killed); see the error above";

/// Where the workers run.
#[derive(Clone, Debug)]
pub enum Topology {
    /// One process with this many worker threads.
    Local {
        /// Worker threads.
        workers: usize,
    },
    /// Process `process` of a cluster.
    Cluster {
        /// Worker threads per process.
        workers: usize,
        /// This process's index (its line in the hostfile).
        process: usize,
        /// Every process's `host:port`.
        addresses: Vec<String>,
    },
}

impl Topology {
    /// Total workers across processes.
    pub fn peers(&self) -> usize {
        match self {
            Topology::Local { workers } => *workers,
            Topology::Cluster {
                workers, addresses, ..
            } => workers * addresses.len(),
        }
    }

    fn config(&self) -> Config {
        let communication = match self {
            Topology::Local { workers: 1 } => CommunicationConfig::Thread,
            Topology::Local { workers } => CommunicationConfig::Process(*workers),
            Topology::Cluster {
                workers,
                process,
                addresses,
            } => CommunicationConfig::Cluster {
                threads: *workers,
                process: *process,
                addresses: addresses.clone(),
                report: false,
                zerocopy: false,
            },
        };
        Config {
            communication,
            worker: WorkerConfig::default(),
        }
    }
}

/// What a run did (this process's share).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSummary {
    /// Counters.
    #[serde(flatten)]
    pub counters: Counters,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Workers in this process.
    pub workers: usize,
    /// Stopped (by a signal) before every source was read to its end: the outputs hold
    /// what was read until then. Always so for a live run that was stopped.
    #[serde(default)]
    pub stopped_before_end: bool,
}

/// How long, past the stop timeout (`Tuning::stop_timeout`: the store sinks' writing of
/// what was emitted), a stopping worker waits for its dataflow to drain: the cluster's
/// stop handshake (every worker says it stops), and the dead letters of the rows the
/// stores did not take. Long enough for a peer busy in a connection retry; a peer that
/// never answers (frozen) costs the stop timeout and this much at exit.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// How often a stopping process says how many rows its store sinks still have to write.
const STOP_PROGRESS: Duration = Duration::from_secs(5);

/// Once a stop is requested, says every [`STOP_PROGRESS`] how many rows emitted before it
/// this process's store and topic sinks still have to write, until `done`. On a thread of
/// its own: a worker may be waiting for a slow store (backpressure).
fn report_pending(state: Arc<RunState>, timeout: Duration, done: Arc<AtomicBool>) {
    let mut said: Option<Duration> = None;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let Some(stopped_for) = state.stopped_for() else {
            continue;
        };
        if said.is_some_and(|t| stopped_for < t + STOP_PROGRESS) {
            continue;
        }
        said = Some(stopped_for);
        let pending = state.store_rows_pending.load(Ordering::Relaxed);
        let left = timeout.saturating_sub(stopped_for).as_secs_f64().ceil();
        if pending > 0 && left > 0.0 {
            tracing::warn!(
                "stopping: {pending} feature rows handed to stores or topics by this process are still to be written (rows still waiting to be handed over are not counted); those not written within {left}s more (--stop-timeout) go to the dead-letter file"
            );
        }
    }
}

/// Runs a plan to completion (or until `state` is asked to stop).
pub fn run(
    plan: &Plan,
    mode: Mode,
    tuning: Tuning,
    topology: &Topology,
    state: Arc<RunState>,
) -> Result<RunSummary, String> {
    let started = Instant::now();
    // Sinks replace the previous run's files once this process's sources have connected
    // (`RunState::outputs_due`); the first file sink opened removes stale ones then.
    let local_workers = match topology {
        Topology::Local { workers } | Topology::Cluster { workers, .. } => *workers,
    };
    state.expect_sources(crate::render::read_sources(plan) * local_workers);
    state.expect_sinks(crate::render::store_sinks(plan) * local_workers);
    let source_plan = plan;
    let plan = Arc::new(plan.clone());
    let reported = Arc::new(AtomicBool::new(false));
    let reporter = {
        let (state, done) = (Arc::clone(&state), Arc::clone(&reported));
        std::thread::spawn(move || report_pending(state, tuning.stop_timeout, done))
    };
    let worker_state = Arc::clone(&state);
    let guards = timely::execute(topology.config(), move |worker| {
        let state = Arc::clone(&worker_state);
        let index = worker.index();
        // A panicking worker fails the run with its message, which stops the others
        // (they could otherwise wait forever for its capabilities).
        let body = std::panic::AssertUnwindSafe(|| {
            state.mark_started();
            worker.dataflow::<u64, _, _>(|scope| render(scope, &plan, mode, tuning, &state));
            // Fault injection for tests: the last worker of the process panics at start.
            if std::env::var("FRESHET_FAILPOINT").as_deref() == Ok("worker-panic")
                && index + 1 == worker.peers()
            {
                panic!("failpoint worker-panic");
            }
            // A stop (a signal or a failure) makes the sources drop their capabilities:
            // what they emitted drains to the sinks and the dataflow completes (windows the
            // watermark had not closed are dropped, see `emit::Firing`). A process
            // whose peers are not stopping (or a worker whose peer died) gives up waiting
            // for them after the stop timeout and `STOP_GRACE`, and drops the dataflow: timely would otherwise
            // wait for it to complete once this closure returns, forever.
            let grace = tuning.stop_timeout + STOP_GRACE;
            while worker.step_or_park(Some(Duration::from_millis(100))) {
                let Some(stopped_for) = state.stopped_for() else {
                    continue;
                };
                if stopped_for > grace {
                    for id in worker.installed_dataflows() {
                        worker.drop_dataflow(id);
                    }
                    break;
                }
            }
        });
        if let Err(panic) = std::panic::catch_unwind(body) {
            let message = panic_message(&*panic);
            state.fail(if message == LOST_PEER_PANIC {
                LOST_PEER_ERROR.to_string()
            } else {
                format!("worker {index} panicked: {message} (a bug: please report it with the job and input)")
            });
            std::panic::resume_unwind(panic);
        }
    })
    .map_err(|e| match topology {
        // (timely retries its peers forever: an error here is this process's own socket.)
        Topology::Cluster {
            process, addresses, ..
        } => format!(
            "process {process} cannot listen on {}: {e} (hint: another process uses that port, perhaps an earlier run still going; stop it, or give this process another port in the hostfile)",
            addresses[*process]
        ),
        Topology::Local { .. } => e,
    })?;
    let mut panics = Vec::new();
    // Joining also joins timely's network threads, and panics if one of them did (a peer
    // process was lost): that is the run's failure, not a reason to abort.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| guards.join())) {
        Ok(results) => panics.extend(results.into_iter().filter_map(Result::err)),
        Err(_) => state.fail(LOST_PEER_ERROR.to_string()),
    }
    reported.store(true, Ordering::Relaxed);
    let _ = reporter.join();
    if let Some(e) = state.error() {
        return Err(e);
    }
    if !panics.is_empty() {
        return Err(format!("a worker failed: {}", panics.join("; ")));
    }
    let workers = match topology {
        Topology::Local { workers } | Topology::Cluster { workers, .. } => *workers,
    };
    // Every worker of the cluster read every source the job reads to its end.
    let peers = match topology {
        Topology::Local { workers } => *workers,
        Topology::Cluster {
            workers, addresses, ..
        } => workers * addresses.len(),
    };
    let unread = crate::render::unread_sources(source_plan);
    let all_read = source_plan
        .sources
        .iter()
        .enumerate()
        .filter(|(si, _)| !unread.contains(si))
        .all(|(_, s)| state.finished(&s.source.name) >= peers);
    Ok(RunSummary {
        counters: state.summary(),
        seconds: started.elapsed().as_secs_f64(),
        workers,
        stopped_before_end: state.stop_requested() && (!all_read || state.stop_cut_writes()),
    })
}
