//! The `freshet` command line.

/// `println!`/`print!` for stdout that may be a closed pipe (`freshet run ... | head`):
/// output the reader no longer wants is dropped instead of panicking, so a run that
/// succeeded still exits 0.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

mod cli;
mod commands;
mod gen;
mod gen_deliveries;
mod launch;

use clap::Parser;

use cli::{Cli, Command, GenCommand};

/// mimalloc instead of the system allocator: window output moves through large,
/// short-lived batches, which glibc's malloc returns to the kernel and faults back in
/// page by page (a quarter of a HOP backfill's time was the kernel clearing pages).
/// Built with `no_thp` (workspace Cargo.toml): with transparent huge pages, every page
/// mimalloc purges and reuses comes back as a 2 MiB page to clear, which cost a HOP
/// backfill ~0.5 s of kernel time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            // `FRESHET_LOG`, else `RUST_LOG` (as most Rust programs read), else warnings.
            tracing_subscriber::EnvFilter::try_from_env("FRESHET_LOG")
                .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal (and not with NO_COLOR): a log file or a CI log
        // gets plain text.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Validate { job, infra } => commands::validate(job, infra.as_deref()),
        Command::Explain { job, format, infra } => {
            commands::explain(job, *format, infra.as_deref())
        }
        Command::Run(args) => commands::run(args),
        Command::Produce {
            infra,
            cluster,
            topic,
            key_field,
            files,
        } => commands::produce(
            infra.as_deref(),
            cluster,
            topic,
            key_field.as_deref(),
            files,
        ),
        Command::Launch { hostfile, run } => launch::launch(hostfile, run),
        Command::Gen {
            what:
                GenCommand::Deliveries {
                    out,
                    deliveries,
                    seed,
                    files,
                },
        } => {
            let opts = gen_deliveries::DeliveryOptions {
                deliveries: *deliveries,
                seed: *seed,
                files: *files,
                ..Default::default()
            };
            let started = std::time::Instant::now();
            gen_deliveries::generate_files(&opts, out)
                .map(|(n, removed)| {
                    report_removed(&removed);
                    outln!(
                        "wrote {n} events of {deliveries} deliveries to {} in {:.1}s",
                        out.display(),
                        started.elapsed().as_secs_f64()
                    )
                })
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))
        }
        Command::Gen {
            what:
                GenCommand::Events {
                    out,
                    events,
                    seed,
                    files,
                    users,
                    rate,
                },
        } => {
            let mut opts = gen::GenOptions {
                events: *events,
                seed: *seed,
                files: *files,
                ..Default::default()
            };
            if let Some(u) = users {
                opts.users = *u;
            }
            if let Some(r) = rate {
                opts.rate_per_sec = *r;
            }
            let started = std::time::Instant::now();
            gen::generate_files(&opts, out)
                .map(|(s, removed)| {
                    report_removed(&removed);
                    outln!(
                        "wrote {} events ({} of them delayed 1-10 minutes, {} delayed 1-3 hours, or to the end of the data when it spans less; {:.1} MB) to {} in {:.1}s",
                        s.events,
                        s.late,
                        s.very_late,
                        s.bytes as f64 / 1e6,
                        out.display(),
                        started.elapsed().as_secs_f64()
                    )
                })
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))
        }
    };
    if let Err(e) = result {
        let text = format!("{e:#}");
        if text.starts_with("error:") {
            eprintln!("{text}");
        } else {
            eprintln!("error: {text}");
        }
        std::process::exit(1);
    }
}

/// Says which part files of an earlier `gen` run with more files were removed.
fn report_removed(removed: &[std::path::PathBuf]) {
    let name = |p: &std::path::PathBuf| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let (Some(first), Some(last)) = (removed.first(), removed.last()) else {
        return;
    };
    let names = if removed.len() <= 4 {
        removed.iter().map(name).collect::<Vec<_>>().join(", ")
    } else {
        format!("{} ... {}", name(first), name(last))
    };
    outln!(
        "removed {} part file(s) of an earlier run with more files from {}: {names}",
        removed.len(),
        first.parent().unwrap_or(first).display(),
    );
}
