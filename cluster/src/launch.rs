//! `freshet launch`: start one `freshet run` process per hostfile line on this machine,
//! as one timely cluster, and supervise them: if one fails, stop the others and fail.

use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cli::{RunArgs, RunMode};
use crate::commands::read_hostfile;

/// Runs the cluster; returns when every process has exited.
pub fn launch(hostfile: &std::path::Path, run: &RunArgs) -> Result<()> {
    let hosts = read_hostfile(hostfile)?;
    let exe = std::env::current_exe().context("locating the freshet binary")?;
    let mut children: Vec<(usize, Child)> = Vec::new();
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
        cmd.arg("--cluster-hostfile")
            .arg(hostfile)
            .arg("--process")
            .arg(i.to_string());
        if let Some(s) = &run.summary_json {
            let name = format!("{}.{i}", s.display());
            cmd.arg("--summary-json").arg(name);
        }
        if run.quiet || i > 0 {
            cmd.arg("--quiet");
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting process {i}"))?;
        children.push((i, child));
    }
    // Supervise: the first failure stops everyone.
    let mut failed: Option<String> = None;
    loop {
        let mut running = 0;
        for (i, c) in children.iter_mut() {
            match c.try_wait()? {
                Some(status) if !status.success() && failed.is_none() => {
                    failed = Some(format!("process {i} exited with {status}"));
                }
                Some(_) => {}
                None => running += 1,
            }
        }
        if running == 0 {
            break;
        }
        if failed.is_some() {
            for (_, c) in children.iter_mut() {
                let _ = c.kill();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if let Some(f) = failed {
        bail!("cluster run failed: {f}; the other processes were stopped");
    }
    Ok(())
}
