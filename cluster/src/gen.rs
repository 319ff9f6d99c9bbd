//! `freshet gen events`: a deterministic, realistic ride-sharing event stream as JSON lines.
//!
//! ```text
//! {"event_id":"e000000123","user_id":"u0004711","geohash":"9q8yyk","action":"request_ride","fare":12.50,"event_time":1767225600123}
//! ```
//!
//! * `event_id`: `e` + 9-digit sequence number in *arrival* (output) order.
//! * `user_id`: `u` + 7-digit id in `1..=users`, Zipf(1.1)-distributed; ranks go through a
//!   seeded affine permutation, so the hot users are scattered rather than `u0000001`.
//! * `geohash`: cell `i` is the 6-char base32 encoding of `"9q8000" + i` (distinct for
//!   every `i`; cells below 32768 share the prefix `9q8`), Zipf(0.8), also permuted.
//! * `action`: request_ride 45%, accept_ride 20%, cancel_ride 5%, complete_ride 20%,
//!   app_open 10%. `fare`: log-normal (median 14.00) clamped to 5.00..=80.00 with exactly
//!   two decimals for complete_ride, `0.0` otherwise. `event_time`: epoch milliseconds.
//!
//! # Disorder model
//!
//! Events are generated in true time order from `start_ms` with exponential gaps of mean
//! `1 / rate_per_sec`. Each is on time, *late* (probability `late_fraction`, delay uniform
//! in 1..=10 min) or *very late* (`very_late_fraction`, 1..=3 h). Delayed events wait in a
//! min-heap keyed by release time (`event_time + delay`). The clock is the event time of
//! the newest generated event; before that event is written, every buffered event with
//! release time `<=` clock is written in release order, and the rest are flushed in
//! release order at the end. Hence no event is preceded by an event more than its own delay newer:
//! `(max event_time written before it) - event_time < 3 h`. The final flush
//! cuts delays short when the stream spans less event time than the delay (100k events at
//! 2000/s span only 50 s). Memory holds only delayed events, about
//! `rate * (late_fraction * 330 s + very_late_fraction * 7200 s)`.
//!
//! Same options give byte-identical output: ChaCha8 seeded from `seed`, Zipf draws from
//! alias tables, numbers formatted by hand into a reused buffer. Alias weights and fares use
//! the platform's `powf`/`exp`, so other platforms could differ in rare last-bit cases.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp1, StandardNormal};

/// Options for [`generate`] and [`generate_files`].
#[derive(Clone, Debug, PartialEq)]
pub struct GenOptions {
    /// Number of events to write (default 1,000,000).
    pub events: u64,
    /// RNG seed; the same options always give the same bytes (default 42).
    pub seed: u64,
    /// Distinct users, 1..=9,999,999 (default 200,000).
    pub users: u64,
    /// Distinct geohash cells, 1..=9,999,999 (default 5,000).
    pub geohashes: u64,
    /// Event time of the first event, epoch ms (default 2026-01-01T00:00:00Z).
    pub start_ms: i64,
    /// Mean events per second of event time (default 2,000).
    pub rate_per_sec: f64,
    /// Fraction of events delayed by 1 to 10 minutes (default 0.03).
    pub late_fraction: f64,
    /// Fraction of events delayed by 1 to 3 hours (default 0.001).
    pub very_late_fraction: f64,
    /// Number of output files for [`generate_files`] (default 1).
    pub files: u32,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            events: 1_000_000,
            seed: 42,
            users: 200_000,
            geohashes: 5_000,
            start_ms: 1_767_225_600_000,
            rate_per_sec: 2_000.0,
            late_fraction: 0.03,
            very_late_fraction: 0.001,
            files: 1,
        }
    }
}

/// Summary of a generation run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenStats {
    /// Events written.
    pub events: u64,
    /// Events delayed by 1 to 10 minutes.
    pub late: u64,
    /// Events delayed by 1 to 3 hours.
    pub very_late: u64,
    /// Smallest event time written (`start_ms`, also when there are no events).
    pub min_event_time: i64,
    /// Largest event time written (`start_ms` when there are no events).
    pub max_event_time: i64,
    /// Bytes written, newlines included.
    pub bytes: u64,
}

/// Writes events to `out` (one JSON object per line).
///
/// Output is buffered internally and flushed before returning. Out-of-range options
/// (see [`GenOptions`]; rate must be finite and positive, fractions in 0..=1 with a sum
/// of at most 1) fail with [`io::ErrorKind::InvalidInput`].
#[allow(dead_code)] // the CLI only calls `generate_files`
pub fn generate<W: Write>(opts: &GenOptions, out: &mut W) -> io::Result<GenStats> {
    let mut w = BufWriter::with_capacity(1 << 16, out);
    let stats = run(opts, |line| w.write_all(line))?;
    w.flush()?;
    Ok(stats)
}

/// Writes `opts.files` files named part-00000.jsonl, part-00001.jsonl ... into `dir`
/// (creating it), events split into contiguous, time-ordered chunks (file i holds the
/// i-th chunk of the arrival order). Returns the stats over all files.
///
/// The files concatenate to exactly the output of [`generate`]; chunk sizes differ by at
/// most one event (earlier files get the extras) and every file is created, even if empty.
/// Part files of an earlier run with more files are removed (see [`remove_stale_parts`]);
/// their paths are returned with the stats.
pub fn generate_files(opts: &GenOptions, dir: &Path) -> io::Result<(GenStats, Vec<PathBuf>)> {
    if opts.files == 0 {
        return Err(invalid("--files must be at least 1"));
    }
    validate(opts)?;
    fs::create_dir_all(dir)?;
    let removed = remove_stale_parts(dir, opts.files)?;
    let files = u64::from(opts.files);
    let open = |i: u64| -> io::Result<BufWriter<File>> {
        let file = File::create(dir.join(format!("part-{i:05}.jsonl")))?;
        Ok(BufWriter::with_capacity(1 << 20, file))
    };
    let chunk = |i: u64| opts.events / files + u64::from(i < opts.events % files);
    let (mut idx, mut left, mut w) = (0, chunk(0), open(0)?);
    let stats = run(opts, |line| {
        while left == 0 {
            w.flush()?;
            idx += 1;
            (left, w) = (chunk(idx), open(idx)?);
        }
        left -= 1;
        w.write_all(line)
    })?;
    w.flush()?;
    for i in idx + 1..files {
        open(i)?.flush()?;
    }
    Ok((stats, removed))
}

/// Removes the files in `dir` that a generator writing `files` files would not write but
/// an earlier run with more files did: `part-NNNNN.jsonl` numbered `files` or higher. A
/// job's glob over `dir` would otherwise read them along with the new ones. No other file
/// is touched. Returns the removed paths, sorted.
pub fn remove_stale_parts(dir: &Path, files: u32) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_prefix("part-")?.strip_suffix(".jsonl"))
            .filter(|n| n.len() >= 5 && n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        // More digits than a u64 holds is still a part number past `files`.
        let stale = n.parse::<u64>().map_or(true, |i| i >= u64::from(files));
        if stale && entry.file_type()?.is_file() {
            let path = entry.path();
            fs::remove_file(&path).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot remove stale `{}`: {e}", path.display()),
                )
            })?;
            removed.push(path);
        }
    }
    removed.sort();
    Ok(removed)
}

const GEOHASH_ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
/// Value of the base32 string "9q8000" (9, q = 22, 8); `+ 9_999_999` stays below 32^6.
const GEOHASH_BASE: u64 = (9 << 25) | (22 << 20) | (8 << 15);
const MAX_POPULATION: u64 = 9_999_999;
const ACTIONS: [&[u8]; 5] = [
    b"request_ride",
    b"accept_ride",
    b"cancel_ride",
    b"complete_ride",
    b"app_open",
];
/// Cumulative percentages matching `ACTIONS`; index 3 is complete_ride.
const ACTION_CUMULATIVE: [u32; 5] = [45, 65, 70, 90, 100];
const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// One generated event, small enough to buffer cheaply while delayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    time: i64,
    user: u64,
    cell: u64,
    action: u8,
    fare_cents: u32,
}

/// Zipf sampler over `0..n` mapped through a seeded affine permutation.
///
/// `rand_distr::Zipf` costs ~3 `libm` powf per draw (it held throughput at ~1.6M
/// events/s); a Walker/Vose alias table (8 bytes per entry) samples in O(1).
struct ZipfTable {
    /// Per bucket: (probability of keeping the bucket, scaled to 2^32; alias).
    table: Vec<(u32, u32)>,
    mul: u64,
    add: u64,
}

impl ZipfTable {
    fn new(n: u64, s: f64, rng: &mut ChaCha8Rng) -> Self {
        let mut p: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
        let scale = n as f64 / p.iter().sum::<f64>();
        p.iter_mut().for_each(|w| *w *= scale);
        let (mut small, mut large): (Vec<u32>, Vec<u32>) =
            (0..n as u32).partition(|&i| p[i as usize] < 1.0);
        let mut table: Vec<(u32, u32)> = (0..n as u32).map(|i| (u32::MAX, i)).collect();
        // Entries left over (rounding) keep their default: probability 1, alias itself.
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            table[s as usize] = ((p[s as usize] * 4_294_967_296.0) as u32, l);
            p[l as usize] += p[s as usize] - 1.0;
            if p[l as usize] < 1.0 {
                small.push(large.pop().expect("non-empty"));
            }
        }
        let mut mul = rng.random_range(n / 3..n).max(1);
        while gcd(mul, n) != 1 {
            mul += 1;
        }
        let add = rng.random_range(0..n);
        ZipfTable { table, mul, add }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        let r: u64 = rng.random();
        let n = self.table.len() as u64;
        let i = ((r >> 32) * n) >> 32;
        let (keep, alias) = self.table[i as usize];
        let rank = if (r as u32) < keep {
            i
        } else {
            u64::from(alias)
        };
        (rank * self.mul + self.add) % n
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("gen events: {msg}"))
}

fn validate(o: &GenOptions) -> io::Result<()> {
    let population = 1..=MAX_POPULATION;
    if !population.contains(&o.users) {
        return Err(invalid("--users must be between 1 and 9999999"));
    }
    if !population.contains(&o.geohashes) {
        return Err(invalid("geohashes must be between 1 and 9999999"));
    }
    if !(o.rate_per_sec.is_finite() && o.rate_per_sec > 0.0) {
        return Err(invalid(
            "--rate must be a number above 0 (events per second of event time)",
        ));
    }
    let (l, vl) = (o.late_fraction, o.very_late_fraction);
    if !(l >= 0.0 && vl >= 0.0 && l + vl <= 1.0) {
        return Err(invalid("late fractions must be >= 0 and sum to at most 1"));
    }
    Ok(())
}

/// Generates all events in arrival order, handing each finished line to `emit`.
fn run(opts: &GenOptions, mut emit: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<GenStats> {
    validate(opts)?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let users = ZipfTable::new(opts.users, 1.1, &mut rng);
    let cells = ZipfTable::new(opts.geohashes, 0.8, &mut rng);
    let mean_gap_ms = 1_000.0 / opts.rate_per_sec;
    let late_p = opts.very_late_fraction + opts.late_fraction;
    let mut stats = GenStats {
        min_event_time: opts.start_ms,
        max_event_time: opts.start_ms,
        ..GenStats::default()
    };
    let mut heap: BinaryHeap<Reverse<(i64, u64, Event)>> = BinaryHeap::new();
    let mut line = Vec::with_capacity(192);
    let mut write = |ev: &Event, stats: &mut GenStats| {
        format_line(&mut line, stats.events, ev);
        stats.events += 1;
        stats.bytes += line.len() as u64;
        emit(&line)
    };

    let mut offset_ms = 0.0f64;
    for seq in 0..opts.events {
        let time = opts.start_ms + offset_ms as i64;
        offset_ms += mean_gap_ms * rng.sample::<f64, _>(Exp1);
        let user = users.sample(&mut rng) + 1;
        let cell = cells.sample(&mut rng);
        let pct = rng.random_range(0..100u32);
        let action = ACTION_CUMULATIVE.iter().position(|&c| pct < c).unwrap_or(0) as u8;
        let mut fare_cents = 0;
        if action == 3 {
            let z: f64 = rng.sample(StandardNormal);
            let fare = (14.0f64.ln() + 0.55 * z).exp() * 100.0;
            fare_cents = fare.round().clamp(500.0, 8_000.0) as u32;
        }
        let ev = Event {
            time,
            user,
            cell,
            action,
            fare_cents,
        };
        stats.max_event_time = time;

        // The clock is now `time`: release every buffered event that is due.
        while heap
            .peek()
            .is_some_and(|Reverse((release, _, _))| *release <= time)
        {
            let Reverse((_, _, delayed)) = heap.pop().expect("peeked");
            write(&delayed, &mut stats)?;
        }
        let p: f64 = rng.random();
        let delay = if p < opts.very_late_fraction {
            stats.very_late += 1;
            rng.random_range(HOUR_MS..=3 * HOUR_MS)
        } else if p < late_p {
            stats.late += 1;
            rng.random_range(MINUTE_MS..=10 * MINUTE_MS)
        } else {
            0
        };
        if delay == 0 {
            write(&ev, &mut stats)?;
        } else {
            heap.push(Reverse((time + delay, seq, ev)));
        }
    }
    while let Some(Reverse((_, _, delayed))) = heap.pop() {
        write(&delayed, &mut stats)?;
    }
    Ok(stats)
}

/// Formats one JSON line (newline included) into `buf`, replacing its contents.
fn format_line(buf: &mut Vec<u8>, id: u64, ev: &Event) {
    buf.clear();
    buf.extend_from_slice(b"{\"event_id\":\"e");
    push_padded(buf, id, 9);
    buf.extend_from_slice(b"\",\"user_id\":\"u");
    push_padded(buf, ev.user, 7);
    buf.extend_from_slice(b"\",\"geohash\":\"");
    let code = GEOHASH_BASE + ev.cell;
    for shift in (0..6).rev() {
        buf.push(GEOHASH_ALPHABET[((code >> (5 * shift)) & 31) as usize]);
    }
    buf.extend_from_slice(b"\",\"action\":\"");
    buf.extend_from_slice(ACTIONS[ev.action as usize]);
    buf.extend_from_slice(b"\",\"fare\":");
    if ev.fare_cents == 0 {
        buf.extend_from_slice(b"0.0");
    } else {
        push_padded(buf, u64::from(ev.fare_cents / 100), 1);
        buf.push(b'.');
        push_padded(buf, u64::from(ev.fare_cents % 100), 2);
    }
    buf.extend_from_slice(b",\"event_time\":");
    if ev.time < 0 {
        buf.push(b'-');
    }
    push_padded(buf, ev.time.unsigned_abs(), 1);
    buf.extend_from_slice(b"}\n");
}

/// Appends `n` in decimal, zero-padded to at least `width` (1..=20) digits.
fn push_padded(buf: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i.min(digits.len() - width)..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::HashMap;

    /// Default options with `events` events, adjusted by `f`.
    fn with(events: u64, f: impl FnOnce(&mut GenOptions)) -> GenOptions {
        let mut o = GenOptions {
            events,
            ..GenOptions::default()
        };
        f(&mut o);
        o
    }

    fn gen_str(o: &GenOptions) -> (String, GenStats) {
        let mut out = Vec::new();
        let stats = generate(o, &mut out).unwrap();
        assert_eq!(stats.bytes, out.len() as u64);
        (String::from_utf8(out).unwrap(), stats)
    }

    #[test]
    fn deterministic_and_seed_sensitive() {
        let (a, stats) = gen_str(&with(20_000, |_| ()));
        assert_eq!((a.clone(), stats.clone()), gen_str(&with(20_000, |_| ())));
        assert_eq!(stats.events, 20_000);
        assert_ne!(a, gen_str(&with(20_000, |o| o.seed = 43)).0);
        let bad = [
            with(1, |o| o.users = 0),
            with(1, |o| o.geohashes = 10_000_000),
            with(1, |o| o.rate_per_sec = f64::NAN),
            with(1, |o| o.late_fraction = 0.9995),
        ];
        for o in bad {
            let err = generate(&o, &mut Vec::new()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn lines_are_json_with_six_typed_fields_in_order() {
        let (out, stats) = gen_str(&with(20_000, |_| ()));
        let keys = [
            "event_id",
            "user_id",
            "geohash",
            "action",
            "fare",
            "event_time",
        ];
        let mut actions: HashMap<String, u64> = HashMap::new();
        for (i, line) in out.lines().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v.as_object().unwrap().len(), 6, "{line}");
            let pos = keys.map(|k| line.find(&format!("\"{k}\":")).unwrap());
            assert!(pos.windows(2).all(|w| w[0] < w[1]), "field order: {line}");
            assert_eq!(v["event_id"].as_str().unwrap(), format!("e{i:09}"));
            let user = v["user_id"].as_str().unwrap();
            assert!(user.len() == 8 && user.starts_with('u'), "{line}");
            assert!((1..=200_000).contains(&user[1..].parse::<u64>().unwrap()));
            let gh = v["geohash"].as_str().unwrap();
            assert!(gh.len() == 6 && gh.bytes().all(|c| GEOHASH_ALPHABET.contains(&c)));
            let action = v["action"].as_str().unwrap();
            assert!(ACTIONS.contains(&action.as_bytes()), "{line}");
            let fare = v["fare"].as_f64().unwrap();
            let paid = action == "complete_ride";
            assert!(if paid {
                (5.0..=80.0).contains(&fare)
            } else {
                fare == 0.0
            });
            let t = v["event_time"].as_i64().unwrap();
            assert!((stats.min_event_time..=stats.max_event_time).contains(&t));
            *actions.entry(action.to_string()).or_default() += 1;
        }
        assert!((actions["request_ride"] as f64 / 20_000.0 - 0.45).abs() < 0.02);
        assert!((actions["cancel_ride"] as f64 / 20_000.0 - 0.05).abs() < 0.01);
    }

    #[test]
    fn disorder_is_bounded_and_late_fraction_matches() {
        // 10 events/s: 100k events span ~2.8 h of event time, so delays are mostly served
        // in full instead of being cut short by the final flush.
        let o = with(100_000, |o| o.rate_per_sec = 10.0);
        let (out, stats) = gen_str(&o);
        let mut max = i64::MIN;
        let mut lateness = Vec::new();
        for line in out.lines() {
            let t = serde_json::from_str::<Value>(line).unwrap()["event_time"].as_i64();
            let t = t.unwrap();
            lateness.push(max.saturating_sub(t).max(0));
            max = max.max(t);
        }
        assert!(lateness.iter().all(|&l| l <= 3 * HOUR_MS + 1_000));
        assert!(lateness.iter().any(|&l| l > HOUR_MS), "no very late event");
        let frac = lateness.iter().filter(|&&l| l > MINUTE_MS).count() as f64 / 100_000.0;
        let want = o.late_fraction + o.very_late_fraction;
        assert!(frac >= 0.5 * want && frac <= 2.0 * want, "{frac}");
        assert!(((stats.late + stats.very_late) as f64 / 100_000.0 - want).abs() < 0.005);
    }

    #[test]
    fn hot_users_dominate() {
        let (out, _) = gen_str(&with(100_000, |_| ()));
        let mut counts: HashMap<&str, u64> = HashMap::new();
        for line in out.lines() {
            let at = line.find("\"user_id\":\"").unwrap() + 11;
            *counts.entry(&line[at..at + 8]).or_default() += 1;
        }
        let mut c: Vec<u64> = counts.into_values().collect();
        c.sort_unstable_by(|a, b| b.cmp(a));
        let top: u64 = c.iter().take(2_000).sum(); // top 1% of 200k users
        assert!(top > 10_000, "top 1% share {top}");
    }

    #[test]
    fn zipf_table_matches_zipf_pmf() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (n, s, draws) = (50u64, 1.1, 400_000);
        let mut z = ZipfTable::new(n, s, &mut rng);
        (z.mul, z.add) = (1, 0); // identity permutation: sample returns the rank
        let norm: f64 = (1..=n).map(|k| (k as f64).powf(-s)).sum();
        let mut counts = vec![0u64; n as usize];
        (0..draws).for_each(|_| counts[z.sample(&mut rng) as usize] += 1);
        for (k, &c) in counts.iter().enumerate() {
            let want = ((k + 1) as f64).powf(-s) / norm * draws as f64;
            let tolerance = 5.0 * want.sqrt() + 5.0;
            assert!(
                (c as f64 - want).abs() < tolerance,
                "rank {k}: {c} vs {want}"
            );
        }
    }

    #[test]
    fn files_concatenate_to_single_stream() {
        let dir = tempfile::tempdir().unwrap();
        for (events, files) in [(10_007u64, 4u32), (3, 5), (0, 2)] {
            let o = with(events, |o| o.files = files);
            let sub = dir.path().join(format!("{events}-{files}"));
            let (stats, removed) = generate_files(&o, &sub).unwrap();
            assert!(removed.is_empty());
            let part = |i: u32| sub.join(format!("part-{i:05}.jsonl"));
            let parts: Vec<String> = (0..files)
                .map(|i| fs::read_to_string(part(i)).unwrap())
                .collect();
            assert_eq!((parts.concat(), stats), gen_str(&o));
            let sizes: Vec<usize> = parts.iter().map(|p| p.lines().count()).collect();
            assert!(sizes.windows(2).all(|w| w[0] >= w[1] && w[0] <= w[1] + 1));
            assert!(!part(files).exists());
        }
    }

    #[test]
    fn fewer_files_than_last_time_removes_the_stale_parts_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (stats, removed) = generate_files(&with(100, |o| o.files = 4), dir.path()).unwrap();
        assert_eq!((stats.events, removed.len()), (100, 0));
        for other in [
            "part-7.jsonl",
            "part-00009.json",
            "notes.txt",
            "xpart-00005.jsonl",
        ] {
            fs::write(dir.path().join(other), "keep").unwrap();
        }
        fs::create_dir(dir.path().join("part-00006.jsonl")).unwrap();
        let o = with(100, |o| o.files = 2);
        let (_, removed) = generate_files(&o, dir.path()).unwrap();
        let part = |i: u32| dir.path().join(format!("part-{i:05}.jsonl"));
        assert_eq!(removed, vec![part(2), part(3)]);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "part-00000.jsonl",
                "part-00001.jsonl",
                "part-00006.jsonl",
                "part-00009.json",
                "part-7.jsonl",
                "xpart-00005.jsonl"
            ]
        );
        let parts = fs::read_to_string(part(0)).unwrap() + &fs::read_to_string(part(1)).unwrap();
        assert_eq!(parts, gen_str(&o).0);
    }
}
