//! `freshet launch`: start one `freshet run` process per hostfile line on this machine,
//! as one timely cluster, and supervise them: if one fails, stop the others and fail.
//!
//! SIGINT / SIGTERM to the supervisor are forwarded once, as SIGTERM, to every process
//! (each stops cleanly, flushing its sinks); a second signal kills them. The processes run
//! in their own process group, so a terminal's Ctrl-C reaches them only through the
//! supervisor.
//!
//! The processes' standard output passes through the supervisor, less timely's connection
//! messages ("awaiting connections", "error connecting ... retrying"), which timely prints
//! to standard output: they go to standard error, and with `--quiet` nowhere.
//!
//! Each process writes its summary to a file; once all have ended, the supervisor prints
//! the cluster's totals (and writes them to `--summary-json FILE`, beside each process's
//! `FILE.<i>`).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use dataflow::RunSummary;

use crate::cli::{RunArgs, RunMode};
use crate::commands::{plan, print_summary, read_hostfile, summary_path_ready};

/// Runs the cluster; returns when every process has exited.
pub fn launch(hostfile: &std::path::Path, run: &RunArgs) -> Result<()> {
    if run.cluster_hostfile.is_some() || run.process.is_some() {
        bail!(
            "`launch` starts every process of --hostfile itself; --cluster-hostfile and --process are for `freshet run` (hint: drop them, or use `freshet run --cluster-hostfile H --process I` to start one process by hand)"
        );
    }
    if run.workers == 0 {
        bail!("--workers must be at least 1");
    }
    let hosts = read_hostfile(hostfile)?;
    // Plans once here: a bad job is one error, not one per process.
    let planned = plan(&run.job, run.infra.as_deref())?;
    crate::commands::outputs_writable(&planned)?;
    crate::commands::warn_unread_sources(&run.job, &planned);
    if let Some(path) = &run.summary_json {
        summary_path_ready(path)?;
    }
    // Where the processes' summaries go: beside --summary-json, else a scratch directory.
    let scratch = Scratch::new()?;
    let summary_of = |i: usize| match &run.summary_json {
        Some(s) => std::path::PathBuf::from(format!("{}.{i}", s.display())),
        None => scratch.0.join(format!("summary.{i}.json")),
    };
    let exe = std::env::current_exe().context("locating the freshet binary")?;
    let signals = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&signals);
    ctrlc::set_handler(move || {
        seen.fetch_add(1, Ordering::SeqCst);
    })
    .context("installing the signal handler")?;
    let mut children: Vec<(usize, Child)> = Vec::new();
    let mut relays: Vec<JoinHandle<()>> = Vec::new();
    for i in 0..hosts.len() {
        let mut cmd = Command::new(&exe);
        cmd.arg("run").arg(&run.job);
        if let Some(infra) = &run.infra {
            cmd.arg("--infra").arg(infra);
        }
        cmd.arg("--mode").arg(match run.mode {
            RunMode::Backfill => "backfill",
            RunMode::Stream => "stream",
        });
        if run.exit_at_end {
            cmd.arg("--exit-at-end");
        }
        cmd.arg("--workers").arg(run.workers.to_string());
        if let Some(b) = run.batch_bytes {
            cmd.arg("--batch-bytes").arg(b.to_string());
        }
        cmd.arg("--connect-timeout")
            .arg(format!("{}ms", run.connect_timeout.as_millis()));
        cmd.arg("--stop-timeout")
            .arg(format!("{}ms", run.stop_timeout.as_millis()));
        cmd.arg("--cluster-hostfile")
            .arg(hostfile)
            .arg("--process")
            .arg(i.to_string());
        cmd.arg("--summary-json").arg(summary_of(i));
        // The supervisor prints the cluster's summary.
        cmd.arg("--quiet");
        // The processes stop if the launcher goes (killed: it cannot pass a signal on).
        cmd.env(LAUNCHER_ENV, std::process::id().to_string());
        cmd.process_group(0).stdout(Stdio::piped());
        match cmd.spawn() {
            Ok(mut child) => {
                if let Some(out) = child.stdout.take() {
                    relays.push(relay(out, run.quiet));
                }
                children.push((i, child))
            }
            Err(e) => {
                signal_all(&mut children, Signal::SIGKILL);
                return Err(e).with_context(|| format!("starting process {i}"));
            }
        }
    }
    // Supervise: the first failure stops everyone; signals are passed on.
    let mut failed: Option<String> = None;
    let mut forwarded = 0;
    loop {
        let mut running = 0;
        for (i, c) in children.iter_mut() {
            match c.try_wait()? {
                Some(status) if !status.success() && failed.is_none() && forwarded == 0 => {
                    failed = Some(format!("process {i} exited with {status}"));
                }
                Some(_) => {}
                None => running += 1,
            }
        }
        if running == 0 {
            break;
        }
        let received = signals.load(Ordering::SeqCst);
        if received > forwarded {
            if forwarded == 0 {
                crate::commands::say(&format!("freshet launch: stopping {running} process(es) (signal received); a second signal kills them"));
                signal_all(&mut children, Signal::SIGTERM);
            } else {
                signal_all(&mut children, Signal::SIGKILL);
            }
            forwarded = received;
        }
        if failed.is_some() {
            for (_, c) in children.iter_mut() {
                let _ = c.kill();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Everything the processes printed, before the verdict.
    for r in relays {
        let _ = r.join();
    }
    // A failed cluster run leaves no summary: no process's share either (one that
    // finished wrote its own; found by QA).
    let drop_shares = || {
        for i in 0..hosts.len() {
            let _ = std::fs::remove_file(summary_of(i));
        }
    };
    if let Some(f) = failed {
        drop_shares();
        bail!("cluster run failed: {f}; the other processes were stopped");
    }
    if forwarded > 0 {
        // A process stopped while the cluster was starting (waiting for its peers, or
        // losing one that had not started) exits 130. Said as such, with the same code as
        // one `run` (found by QA: a stop soon after the start was reported as a failure).
        let statuses: Vec<_> = children.iter_mut().map(|(i, c)| (*i, c.wait())).collect();
        let before_start = |s: &std::io::Result<std::process::ExitStatus>| matches!(s, Ok(s) if s.success() || s.code() == Some(130));
        if statuses.iter().all(|(_, s)| before_start(s))
            && statuses
                .iter()
                .any(|(_, s)| matches!(s, Ok(s) if s.code() == Some(130)))
        {
            drop_shares();
            crate::commands::say(
                "freshet launch: stopped (signal received) while the cluster was starting",
            );
            std::process::exit(130);
        }
        let unclean: Vec<String> = statuses
            .into_iter()
            .filter_map(|(i, s)| match s {
                Ok(s) if s.success() => None,
                Ok(s) => Some(format!("process {i} exited with {s}")),
                Err(e) => Some(format!("process {i}: {e}")),
            })
            .collect();
        if !unclean.is_empty() {
            drop_shares();
            bail!("stopped by a signal: {}", unclean.join("; "));
        }
    }
    let total = cluster_summary((0..hosts.len()).map(summary_of))?;
    if !run.quiet {
        print_summary(&planned, &total, run.mode, hosts.len());
    }
    if let Some(s) = &run.summary_json {
        std::fs::write(s, serde_json::to_string_pretty(&total)?)
            .with_context(|| format!("writing {}", s.display()))?;
    }
    Ok(())
}

/// A scratch directory, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("freshet-launch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The environment variable that gives a launched process its launcher's pid.
pub const LAUNCHER_ENV: &str = "FRESHET_LAUNCHER_PID";

/// In a process `launch` started: a thread that stops the run when the launcher is gone
/// (its parent is no longer the launcher: killed with SIGKILL, which it cannot pass on).
/// Without it the processes ran on unsupervised (found by QA).
pub fn stop_when_launcher_goes(state: std::sync::Arc<dataflow::RunState>) {
    let Some(launcher) = std::env::var(LAUNCHER_ENV)
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    else {
        return;
    };
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(200));
        if std::os::unix::process::parent_id() == launcher {
            continue;
        }
        if !state.started() {
            crate::commands::say(&format!(
                "freshet: the launcher (pid {launcher}) is gone before the run started; exiting"
            ));
            std::process::exit(130);
        }
        crate::commands::say(&format!(
            "freshet: the launcher (pid {launcher}) is gone; stopping"
        ));
        state.request_stop();
        return;
    });
}

/// The cluster's summary: the processes' counters and workers added up, the longest time.
fn cluster_summary(files: impl Iterator<Item = std::path::PathBuf>) -> Result<RunSummary> {
    let mut total: Option<RunSummary> = None;
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        let s: RunSummary =
            serde_json::from_str(&text).with_context(|| format!("reading {}", f.display()))?;
        total = Some(match total {
            None => s,
            Some(mut t) => {
                t.counters += s.counters;
                t.seconds = t.seconds.max(s.seconds);
                t.workers += s.workers;
                t.stopped_before_end |= s.stopped_before_end;
                t
            }
        });
    }
    total.context("no process wrote a summary")
}

/// Passes a process's standard output on, less timely's connection messages (to standard
/// error, or nowhere when `quiet`).
fn relay(out: ChildStdout, quiet: bool) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if is_connection_message(&line) {
                if !quiet {
                    eprintln!("{line}");
                }
            } else {
                let mut stdout = std::io::stdout().lock();
                // A closed stdout (`launch ... | head`) must not stop the cluster.
                let _ = writeln!(stdout, "{line}");
            }
        }
    })
}

/// timely_communication's `println!`s while processes connect.
fn is_connection_message(line: &str) -> bool {
    line.starts_with("awaiting connections (at ")
        || (line.starts_with("worker ") && line.contains("error connecting to worker"))
}

/// Sends `signal` to every process that has not exited.
fn signal_all(children: &mut [(usize, Child)], signal: Signal) {
    for (_, c) in children.iter_mut() {
        if matches!(c.try_wait(), Ok(None)) {
            let _ = kill(Pid::from_raw(c.id() as i32), signal);
        }
    }
}
