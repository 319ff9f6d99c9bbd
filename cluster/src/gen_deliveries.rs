//! `freshet gen deliveries`: a deterministic food-delivery event stream as JSON lines, for
//! the interval-join benchmark and demos.
//!
//! ```text
//! {"delivery_id":"d000000007","store_id":"s0042","created_at":1767225600123,"has_create":true,"has_dropoff":false,"event_time":1767225600123}
//! {"delivery_id":"d000000007","delivered_at":1767227400456,"has_create":false,"has_dropoff":true,"event_time":1767227400456}
//! ```
//!
//! Deliveries are created at `rate_per_sec` (exponential gaps) at one of `stores` stores
//! (Zipf-like: store `k` with weight `1/k`); 95% are dropped off 10 to 60 minutes later
//! (uniform), the rest never. Events are written in event-time order, except that 5% are
//! held back by up to 2 minutes (arrival disorder). Same options, same bytes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const MIN: i64 = 60_000;

/// Options for [`generate_files`].
#[derive(Clone, Debug)]
pub struct DeliveryOptions {
    /// Number of deliveries (each gives one or two events).
    pub deliveries: u64,
    /// RNG seed.
    pub seed: u64,
    /// Number of stores.
    pub stores: u64,
    /// Deliveries created per second of event time.
    pub rate_per_sec: f64,
    /// Output files.
    pub files: u32,
    /// Event time of the first creation, epoch ms.
    pub start_ms: i64,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            deliveries: 1_000_000,
            seed: 7,
            stores: 2_000,
            rate_per_sec: 100.0,
            files: 1,
            start_ms: 1_767_225_600_000,
        }
    }
}

/// An event waiting to be written: (release time, event time, line).
type Pending = Reverse<(i64, i64, u64, String)>;

/// Writes `part-NNNNN.jsonl` files to `dir`; returns the number of events and the part
/// files of an earlier run with more files, which are removed
/// ([`crate::gen::remove_stale_parts`]).
pub fn generate_files(o: &DeliveryOptions, dir: &Path) -> io::Result<(u64, Vec<PathBuf>)> {
    if o.files == 0 || o.stores == 0 || o.rate_per_sec <= 0.0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "files, stores and rate must be positive",
        ));
    }
    fs::create_dir_all(dir)?;
    let removed = crate::gen::remove_stale_parts(dir, o.files)?;
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    // Cumulative weights 1/k for the stores.
    let mut cum = Vec::with_capacity(o.stores as usize);
    let mut total = 0.0;
    for k in 1..=o.stores {
        total += 1.0 / k as f64;
        cum.push(total);
    }
    let mut pending: BinaryHeap<Pending> = BinaryHeap::new();
    let mut lines: Vec<String> = Vec::new();
    let mut seq = 0u64;
    let mut t = o.start_ms as f64;
    let hold = |rng: &mut ChaCha8Rng, event_time: i64| -> i64 {
        if rng.random_range(0..20) == 0 {
            event_time + rng.random_range(0..2 * MIN)
        } else {
            event_time
        }
    };
    let mut out: Vec<BufWriter<File>> = (0..o.files)
        .map(|i| {
            File::create(dir.join(format!("part-{i:05}.jsonl")))
                .map(|f| BufWriter::with_capacity(1 << 20, f))
        })
        .collect::<io::Result<_>>()?;
    // File i holds a contiguous stretch of about 1.95 * deliveries / files events.
    let chunk = (o.deliveries * 195 / 100)
        .div_ceil(u64::from(o.files))
        .max(1);
    let mut written = 0u64;
    let write = |line: &str, written: &mut u64, out: &mut Vec<BufWriter<File>>| -> io::Result<()> {
        let i = ((*written / chunk) as usize).min(out.len() - 1);
        *written += 1;
        out[i].write_all(line.as_bytes())
    };
    for d in 0..o.deliveries {
        let gap: f64 = -rng.random::<f64>().max(1e-12).ln() / o.rate_per_sec * 1000.0;
        t += gap;
        let created = t as i64;
        let r = rng.random::<f64>() * total;
        let store = cum.partition_point(|c| *c < r) as u64 + 1;
        let line = format!(
            "{{\"delivery_id\":\"d{d:09}\",\"store_id\":\"s{store:04}\",\"created_at\":{created},\"has_create\":true,\"has_dropoff\":false,\"event_time\":{created}}}\n"
        );
        let release = hold(&mut rng, created);
        pending.push(Reverse((release, created, seq, line)));
        seq += 1;
        if rng.random_range(0..20) != 0 {
            let dropped = created + rng.random_range(10 * MIN..=60 * MIN);
            let line = format!(
                "{{\"delivery_id\":\"d{d:09}\",\"delivered_at\":{dropped},\"has_create\":false,\"has_dropoff\":true,\"event_time\":{dropped}}}\n"
            );
            let release = hold(&mut rng, dropped);
            pending.push(Reverse((release, dropped, seq, line)));
            seq += 1;
        }
        // Everything released by now (the newest creation time) is written in release order.
        while pending.peek().is_some_and(|Reverse((r, ..))| *r <= created) {
            let Reverse((_, _, _, line)) = pending.pop().expect("peeked");
            lines.push(line);
        }
        for l in lines.drain(..) {
            write(&l, &mut written, &mut out)?;
        }
    }
    while let Some(Reverse((_, _, _, line))) = pending.pop() {
        write(&line, &mut written, &mut out)?;
    }
    for w in &mut out {
        w.flush()?;
    }
    Ok((written, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_options_same_bytes_and_every_dropoff_follows_its_creation() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let o = DeliveryOptions {
            deliveries: 2_000,
            ..Default::default()
        };
        let (n, removed) = generate_files(&o, a.path()).unwrap();
        assert!(removed.is_empty());
        assert_eq!(generate_files(&o, b.path()).unwrap().0, n);
        let text = std::fs::read_to_string(a.path().join("part-00000.jsonl")).unwrap();
        assert_eq!(
            text,
            std::fs::read_to_string(b.path().join("part-00000.jsonl")).unwrap()
        );
        let rows: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len() as u64, n);
        let creates: std::collections::HashMap<&str, i64> = rows
            .iter()
            .filter(|r| r["has_create"] == true)
            .map(|r| {
                (
                    r["delivery_id"].as_str().unwrap(),
                    r["event_time"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(creates.len(), 2_000);
        let drops: Vec<&serde_json::Value> =
            rows.iter().filter(|r| r["has_dropoff"] == true).collect();
        assert!(
            drops.len() > 1_800 && drops.len() < 2_000,
            "{}",
            drops.len()
        );
        for d in drops {
            let gap =
                d["event_time"].as_i64().unwrap() - creates[d["delivery_id"].as_str().unwrap()];
            assert!((10 * MIN..=60 * MIN).contains(&gap), "{gap}");
        }
    }

    #[test]
    fn fewer_files_than_last_time_removes_the_stale_parts() {
        let dir = tempfile::tempdir().unwrap();
        let o = |files| DeliveryOptions {
            deliveries: 200,
            files,
            ..Default::default()
        };
        generate_files(&o(4), dir.path()).unwrap();
        let (n, removed) = generate_files(&o(2), dir.path()).unwrap();
        let part = |i: u32| dir.path().join(format!("part-{i:05}.jsonl"));
        assert_eq!(removed, vec![part(2), part(3)]);
        assert!(!part(2).exists() && !part(3).exists());
        let lines = (0..2)
            .map(|i| std::fs::read_to_string(part(i)).unwrap().lines().count() as u64)
            .sum::<u64>();
        assert_eq!(lines, n);
    }
}
