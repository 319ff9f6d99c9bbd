//! validate, explain, run.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use dataflow::{describe, Mode, RunState, RunSummary, Topology, Tuning};
use planner::job::{load_infra, load_job_with_infra};
use planner::{plan_job, PlannedJob};

use crate::cli::{ExplainFormat, RunArgs, RunMode};

/// Loads and plans a job, turning diagnostics into an error whose text is the report.
///
/// The infrastructure profile is `infra`, else `$FRESHET_INFRA`, else none (a job whose
/// connectors name a cluster, store or account then fails with a hint).
pub fn plan(job: &Path, infra: Option<&Path>) -> Result<PlannedJob> {
    let env = std::env::var_os("FRESHET_INFRA").map(std::path::PathBuf::from);
    let infra = match infra.or(env.as_deref()) {
        Some(p) => Some(load_infra(p).map_err(|d| anyhow::anyhow!("{d}"))?),
        None => None,
    };
    let j = load_job_with_infra(job, infra).map_err(|d| anyhow::anyhow!("{d}"))?;
    let p = plan_job(&j).map_err(|d| anyhow::anyhow!("{d}"))?;
    check_schema_files(job, &p)?;
    Ok(p)
}

/// Warns, on stderr, about each declared source that no feature reads: it is not read,
/// so its records are neither counted in the summary nor checked (found by QA: a
/// second source's events were silently missing from `events read`).
pub fn warn_unread_sources(job: &Path, p: &PlannedJob) {
    let unread = dataflow::render::unread_sources(&p.physical);
    if unread.is_empty() {
        return;
    }
    let text = std::fs::read_to_string(job).unwrap_or_default();
    for si in unread {
        let name = &p.physical.sources[si].source.name;
        let d = planner::job::source_key_error(job, &text, si, "name", "");
        let at = match &d.location {
            Some(l) if l.line > 0 => format!("{}:{}:{}: ", l.file.display(), l.line, l.column),
            _ => format!("{}: ", job.display()),
        };
        say(&format!(
            "freshet: warning: {at}source `{name}` is not read: no feature reads it, so its records are neither counted nor checked (hint: remove it, or read it in a feature)"
        ));
    }
}

/// Reads each Avro and Protobuf source's schema files and checks them against its
/// columns, as a run's readers will: a missing or invalid schema, a message that is not
/// in the descriptor set, a column of another type than the schema's field are errors of
/// `validate` (and before a run touches anything), at the job file's key.
fn check_schema_files(job: &Path, p: &PlannedJob) -> Result<()> {
    for (i, sp) in p.physical.sources.iter().enumerate() {
        let key = match sp.source.format {
            planner::job::Format::Avro => "schema_file",
            planner::job::Format::Protobuf => "descriptor_set",
            _ => continue,
        };
        if let Err(e) = connectors::Decoder::new(sp) {
            let text = std::fs::read_to_string(job).unwrap_or_default();
            let d = planner::job::source_key_error(
                job,
                &text,
                i,
                key,
                format!("source `{}`: {e}", sp.source.name),
            )
            .with_hint("fix the schema file or the source's `schema:` so they agree");
            bail!("{d}");
        }
    }
    Ok(())
}

/// `freshet validate`.
pub fn validate(job: &Path, infra: Option<&Path>) -> Result<()> {
    let p = plan(job, infra)?;
    warn_unread_sources(job, &p);
    outln!(
        "ok: job `{}`: {} source(s), {} feature(s), {} sink(s)",
        p.physical.job,
        p.physical.sources.len(),
        p.physical.features.len(),
        p.physical.sinks.len()
    );
    Ok(())
}

/// The text of `freshet explain`.
pub fn explain_text(p: &PlannedJob) -> String {
    let mut s = String::from("== Logical plan ==\n");
    for f in &p.logical {
        s.push_str(&format!("Feature {} v{}\n", f.name, f.version));
        for line in f.plan.to_string().lines() {
            s.push_str(&format!("  {line}\n"));
        }
    }
    s.push_str("\n== Physical plan ==\n");
    s.push_str(&p.physical.to_string());
    s.push_str("\n\n== Dataflow ==\n");
    for line in describe(&p.physical) {
        s.push_str(&line);
        s.push('\n');
    }
    s
}

/// `freshet explain`.
pub fn explain(job: &Path, format: ExplainFormat, infra: Option<&Path>) -> Result<()> {
    let p = plan(job, infra)?;
    warn_unread_sources(job, &p);
    match format {
        ExplainFormat::Text => out!("{}", explain_text(&p)),
        ExplainFormat::Json => {
            // The window state the planner picked, as the text stages show it.
            let mut physical = serde_json::to_value(&p.physical)?;
            if let Some(features) = physical["features"].as_array_mut() {
                for (fi, (f, v)) in p.physical.features.iter().zip(features).enumerate() {
                    if let Some(state) = f.state() {
                        v["state"] = state.into();
                    }
                    // The file sink the window operator writes itself, if any.
                    if let Some(k) = p.physical.fused_sink(fi) {
                        v["fused_sink"] = p.physical.sinks[k].name.clone().into();
                    }
                }
            }
            // A parquet sink's table (planner::SinkTable): its columns, by name and type.
            if let Some(sinks) = physical["sinks"].as_array_mut() {
                for (k, (sink, v)) in p.physical.sinks.iter().zip(sinks).enumerate() {
                    if sink.format == planner::job::Format::Parquet {
                        let table = planner::SinkTable::of(&p.physical, k)
                            .map_err(|d| anyhow::anyhow!("{d}"))?;
                        v["table"] = table
                            .all_columns()
                            .into_iter()
                            .map(|(name, ty)| serde_json::json!({ "name": name, "type": ty }))
                            .collect();
                    }
                }
            }
            let v = serde_json::json!({
                "logical": p.logical,
                "physical": physical,
                "dataflow": describe(&p.physical),
            });
            outln!("{}", serde_json::to_string_pretty(&v)?);
        }
    }
    Ok(())
}

/// Reads a hostfile: one `host:port` per non-empty, non-comment line.
pub fn read_hostfile(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading hostfile {}", path.display()))?;
    // (line number, address)
    let lines: Vec<(usize, &str)> = text
        .lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(n, l)| (n + 1, l))
        .collect();
    let file = path.display();
    for (i, &(n, h)) in lines.iter().enumerate() {
        if h.contains(char::is_whitespace) {
            bail!(
                "{file}:{n}: `{h}` (process {i}) is more than one word (hint: one host:port per line, no comments after it)"
            );
        }
        match h.rsplit_once(':').map(|(_, p)| p.parse::<u16>()) {
            Some(Ok(0)) => bail!(
                "{file}:{n}: `{h}` (process {i}) has port 0, which no peer can connect to (hint: give each process a fixed free port, e.g. 127.0.0.1:2101)"
            ),
            Some(Ok(_)) => {}
            _ => bail!(
                "{file}:{n}: `{h}` (process {i}) is not host:port (hint: one address per line, e.g. 127.0.0.1:2101)"
            ),
        }
        if let Some(j) = lines[..i].iter().position(|(_, o)| o == &h) {
            bail!(
                "{file}:{n}: `{h}` is listed for process {j} and process {i} (hint: each process needs its own port)"
            );
        }
    }
    if lines.is_empty() {
        bail!("{file}: no hosts (hint: one host:port per line)");
    }
    Ok(lines.into_iter().map(|(_, h)| h.to_string()).collect())
}

/// `freshet run`.
pub fn run(args: &RunArgs) -> Result<()> {
    if args.workers == 0 {
        bail!("--workers must be at least 1");
    }
    if args.exit_at_end && args.mode != RunMode::Stream {
        bail!("--exit-at-end applies to --mode stream (backfill always stops at the end of its input)");
    }
    let p = plan(&args.job, args.infra.as_deref())?;
    outputs_writable(&p)?;
    // Under `launch`, the launcher warns once for the cluster.
    if args.process.is_none() {
        warn_unread_sources(&args.job, &p);
    }
    if let Some(path) = &args.summary_json {
        summary_path_ready(path)?;
    }
    let mode = match args.mode {
        RunMode::Backfill => Mode::Backfill,
        RunMode::Stream => Mode::Stream {
            exit_at_end: args.exit_at_end,
        },
    };
    let topology = match (&args.cluster_hostfile, args.process) {
        (Some(h), Some(process)) => {
            let addresses = read_hostfile(h)?;
            if process >= addresses.len() {
                bail!(
                    "--process {process} but the hostfile has {} line(s)",
                    addresses.len()
                );
            }
            Topology::Cluster {
                workers: args.workers,
                process,
                addresses,
            }
        }
        (None, Some(_)) => bail!("--process needs --cluster-hostfile"),
        _ => Topology::Local {
            workers: args.workers,
        },
    };
    let state = Arc::new(RunState::default());
    let stopper = Arc::clone(&state);
    // SIGINT / SIGTERM: stop reading, flush sinks, exit cleanly. A second signal, or one
    // while a cluster process is still waiting for its peers, exits at once.
    // The handler writes with `say`, not `eprintln!`, which panics when stderr is a closed
    // pipe (a supervisor that went away): the handler's thread died with the stop never
    // requested, and the process ignored SIGTERM from then on.
    let _ = ctrlc::set_handler(move || {
        if !stopper.started() {
            say("freshet: stopped (signal received) before the run started; nothing was read");
            std::process::exit(130);
        }
        if stopper.stop_requested() {
            let pending = stopper
                .store_rows_pending
                .load(std::sync::atomic::Ordering::Relaxed);
            if pending > 0 {
                say(&format!("freshet: exiting at once (second signal): {pending} feature rows not yet written to stores or topics are lost (neither written nor dead letters)"));
            }
            std::process::exit(130);
        }
        stopper.request_stop();
        say("freshet: stopping (signal received); flushing sinks (windows the watermark has not closed are not emitted)");
    });
    crate::launch::stop_when_launcher_goes(Arc::clone(&state));
    if let Topology::Cluster {
        process, addresses, ..
    } = &topology
    {
        quiet_lost_peers(addresses, Arc::clone(&state));
        watch_connect(
            Arc::clone(&state),
            args.connect_timeout,
            *process,
            addresses,
        );
    }
    let mut tuning = Tuning {
        stop_timeout: args.stop_timeout,
        ..Tuning::default()
    };
    if let Some(b) = args.batch_bytes {
        tuning.batch_bytes = b;
    }
    let watched = Arc::clone(&state);
    let summary = match dataflow::run(&p.physical, mode, tuning, &topology, state) {
        Ok(s) => s,
        // Stopped by a signal while the cluster was starting: a peer that had not started
        // exits at once, and this process loses it. A stop, not a failure (found by QA:
        // `launch` reported a stop soon after its start as a failed run).
        Err(e) if e == dataflow::LOST_PEER_ERROR && watched.stop_requested() => {
            say("freshet: stopped (signal received) while the cluster was starting; another process stopped first");
            std::process::exit(130);
        }
        Err(e) => bail!("{e}"),
    };
    if !watched.outputs_due() {
        // Stopped before every source connected: the sinks' files were not replaced.
        say("freshet: warning: the run stopped before its sources connected; the sinks' files (and dead letters) are still the previous run's");
    }
    if !args.quiet {
        print_summary(&p, &summary, args.mode, 1);
    }
    if let Some(path) = &args.summary_json {
        std::fs::write(path, serde_json::to_string_pretty(&summary)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if matches!(mode, Mode::Backfill | Mode::Stream { exit_at_end: true })
        && summary.counters.events_read == 0
    {
        warn_nothing_after_committed(&p);
    }
    // A live run is stopped to end it; a backfill (or an `--exit-at-end` replay) stopped
    // before the end of its input did not do its job: its outputs are incomplete, and a
    // scheduler must not take it for a finished run (found by QA: it exited 0).
    let bounded = matches!(mode, Mode::Backfill | Mode::Stream { exit_at_end: true });
    if bounded && summary.stopped_before_end {
        bail!("stopped by a signal before the end of its input, or before its stores and topics took every row (those are `sink_failed` dead letters): the outputs hold what was done until then, not the whole input's (hint: run it again to completion)");
    }
    Ok(())
}

/// A bounded run that read nothing, with a Kafka source starting at its group's committed
/// offsets: most likely an earlier run read the topic (and committed), and this one replaced
/// the outputs with nothing (found by QA: a rerun backfill emptied its training data
/// without a word).
fn warn_nothing_after_committed(p: &PlannedJob) {
    for sp in &p.physical.sources {
        if let planner::job::SourceConnector::Kafka {
            topic,
            group_id,
            start: planner::job::StartPosition::Committed,
            ..
        } = &sp.source.connector
        {
            say(&format!(
                "freshet: warning: no events were read: source `{}` starts at consumer group `{group_id}`'s committed offsets on topic `{topic}`, and nothing came after them (an earlier run read the topic); the outputs hold nothing (hint: to replay the topic's history, set the source's `start: earliest` or a timestamp)",
                sp.source.name
            ));
        }
    }
}

/// Checks, before anything is touched, that every file sink and the dead-letter file can
/// be created where the job puts them: a path that is a directory, or under a file, fails
/// the run now, with the previous run's outputs as they were (found by QA: a dead-letter
/// path under a file failed the run after the sinks' files had been replaced).
pub fn outputs_writable(p: &PlannedJob) -> Result<()> {
    let files = p.physical.sinks.iter().filter_map(|s| match &s.connector {
        planner::job::SinkConnector::File { path, .. } => {
            Some((format!("file sink `{}`", s.name), path))
        }
        _ => None,
    });
    let dead_letter =
        std::iter::once(("the dead-letter file".to_string(), &p.physical.dead_letter));
    for (what, path) in files.chain(dead_letter) {
        creatable(&what, path, "rows.jsonl")?;
    }
    Ok(())
}

/// An error unless a file can be created at `path`: it is not a directory, and no
/// directory above it is a file. `what` names the path in the message; `example`, a file
/// name for the hint.
fn creatable(what: &str, path: &Path, example: &str) -> Result<()> {
    let shown = path.display();
    if path.is_dir() {
        bail!("{what}: {shown} is a directory (hint: name a file in it, e.g. {shown}/{example})");
    }
    if let Some(file) = path.ancestors().skip(1).find(|a| a.is_file()) {
        bail!(
            "{what}: {shown} cannot be created: `{}` is a file, not a directory (hint: choose another path)",
            file.display()
        );
    }
    Ok(())
}

/// Checks, before anything is read, that the run summary can be written to `path`: its
/// directory is created if missing (as sinks' are), and a path that is a directory, or
/// whose parent is a file, is an error now rather than after the whole run. An earlier
/// run's summary there is removed: a run that fails writes none, and must not leave a
/// stale one to be read as its own.
pub fn summary_path_ready(path: &Path) -> Result<()> {
    summary_dir_ready(path)?;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| {
            format!(
                "--summary-json {}: removing the previous summary",
                path.display()
            )
        }),
        _ => Ok(()),
    }
}

fn summary_dir_ready(path: &Path) -> Result<()> {
    creatable("--summary-json", path, "summary.json")?;
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "--summary-json {}: creating {}",
            path.display(),
            dir.display()
        )
    })
}

/// A peer process that exits or is killed makes timely's network threads panic ("timely
/// communication error: ... socket closed") and the workers' queues with them ("MergeQueue
/// poisoned."). Instead of those panics with their backtrace notes, one line says which
/// process was lost; the run then fails with that error. Other panics are reported as
/// before.
fn quiet_lost_peers(addresses: &[String], state: Arc<RunState>) {
    let addresses = addresses.to_vec();
    let reported = std::sync::atomic::AtomicBool::new(false);
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("");
        let message = dataflow::panic_message(info.payload());
        let peer = name
            .strip_prefix("timely:recv-")
            .or_else(|| name.strip_prefix("timely:send-"))
            .and_then(|i| i.parse::<usize>().ok());
        if let Some(peer) = peer {
            if !reported.swap(true, std::sync::atomic::Ordering::Relaxed) {
                let address = addresses.get(peer).map_or("?", String::as_str);
                // A closed or reset connection is a peer gone; anything else is reported
                // as what it is.
                let gone = ["socket closed", "reset", "Broken pipe", "EOF"]
                    .iter()
                    .any(|m| message.contains(m));
                if gone && state.stop_requested() {
                    // Stopping: the peer stopped first (the run says so).
                } else if gone {
                    eprintln!(
                        "error: lost the connection to process {peer} ({address}): it exited or was killed ({message}); this process stops"
                    );
                } else {
                    eprintln!(
                        "error: the connection to process {peer} ({address}) failed: {message}; this process stops"
                    );
                }
            }
        } else if message == dataflow::LOST_PEER_PANIC
            || message.starts_with("Send thread panic")
            || message.starts_with("Recv thread panic")
        {
            // Consequences of the lost peer (a worker's poisoned queue, joining the
            // network threads): reported above, and the run fails with it.
        } else {
            default(info);
        }
    }));
}

/// Fails the process if the cluster has not connected within `timeout` (timely retries
/// its peers forever).
fn watch_connect(state: Arc<RunState>, timeout: Duration, process: usize, addresses: &[String]) {
    let peers = addresses
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != process)
        .map(|(_, a)| a.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    std::thread::spawn(move || {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if state.started() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !state.started() {
            eprintln!(
                "error: process {process} could not connect to its peers ({peers}) within {:?} (hint: start every process of the hostfile, or use `freshet launch`; raise --connect-timeout if they start slowly)",
                timeout
            );
            std::process::exit(1);
        }
    });
}

/// Prints a run's summary; `processes` > 1: the totals of a cluster (see `launch`).
pub fn print_summary(p: &PlannedJob, s: &RunSummary, mode: RunMode, processes: usize) {
    let c = &s.counters;
    let rate = c.events_read as f64 / s.seconds.max(1e-9);
    let mode = match mode {
        RunMode::Backfill => "backfill",
        RunMode::Stream => "stream",
    };
    let processes = match processes {
        1 => String::new(),
        n => format!(" in {n} processes"),
    };
    outln!(
        "job `{}` ({mode}, {} worker(s){processes}) finished in {:.2}s",
        p.physical.job,
        s.workers,
        s.seconds
    );
    outln!("  events read       {:>12}", c.events_read);
    outln!(
        "  feature rows      {:>12}  ({} features)",
        c.rows_written,
        p.physical.features.len()
    );
    outln!("  late corrections  {:>12}", c.corrections);
    let not_written = match c.sink_failed {
        0 => String::new(),
        n => format!(", {n} not written by a sink"),
    };
    outln!(
        "  dead letters      {:>12}  ({} undecodable, {} too late{not_written}) -> {}",
        c.dead_letters,
        c.bad_records - c.skipped,
        c.too_late,
        p.physical.dead_letter.display()
    );
    if c.skipped > 0 {
        outln!(
            "  skipped           {:>12}  undecodable records dropped (on_error: skip)",
            c.skipped
        );
    }
    outln!(
        "  throughput        {:>12.0} events/s ({:.0} per worker)",
        rate,
        rate / s.workers as f64
    );
}

/// `freshet produce`.
pub fn produce(
    infra: Option<&Path>,
    cluster: &str,
    topic: &str,
    key_field: Option<&str>,
    files: &[std::path::PathBuf],
) -> Result<()> {
    let env = std::env::var_os("FRESHET_INFRA").map(std::path::PathBuf::from);
    let Some(path) = infra.or(env.as_deref()) else {
        bail!("no infrastructure profile: pass --infra configs/infra/local.yaml (or set FRESHET_INFRA)");
    };
    let infra = load_infra(path).map_err(|d| anyhow::anyhow!("{d}"))?;
    let Some(conn) = infra.kafka.get(cluster) else {
        bail!(
            "kafka cluster `{cluster}` is not in {} (it has: {})",
            path.display(),
            infra.kafka.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    };
    let started = std::time::Instant::now();
    let n = connectors::kafka::produce::produce_lines(cluster, conn, topic, files, key_field)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    outln!(
        "produced {n} records to `{topic}` in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes a line to stderr, ignoring a failure (a closed pipe): for signal handlers and
/// other threads that must go on whoever reads their messages.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
