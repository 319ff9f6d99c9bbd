//! The sink model shared by the feature stores: a [`RowSink`] writes batches of
//! [`FeatureUpdate`]s; [`Fanout`] wraps it with the job's fanout controls: batches of
//! `batch_size`, a smoothed `write_rate`, and `retry_count` retries with exponential
//! backoff, after which the batch's rows are handed back as failures for the dead-letter
//! output, never dropped.
//!
//! Stores keep one value per entity (`<feature>:<version>:<key>`), and a newer window
//! wins: an update for an older window than the stored one is ignored, one for the same
//! window (a correction) replaces it. Each store enforces this atomically on its side
//! (a Lua script in Redis, a conditional write in DynamoDB).

use std::borrow::Cow;
use std::time::{Duration, Instant};

use planner::job::Fanout as FanoutSpec;
use planner::types::Value;

/// One emission of a feature value, as sinks see it.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureUpdate {
    /// Feature name.
    pub feature: String,
    /// Feature version.
    pub version: u32,
    /// The grouping key's values.
    pub key: Vec<Value>,
    /// Selected value columns (name, value), in SELECT order (key columns included).
    pub values: Vec<(String, Value)>,
    /// Window start, epoch ms.
    pub window_start: i64,
    /// Window end, epoch ms.
    pub window_end: i64,
    /// 0 first, +1 per correction.
    pub revision: u32,
    /// HAVING turned false on a correction: the value is withdrawn.
    pub deleted: bool,
    /// The row as a JSON object (what the file sink writes), without a newline.
    pub json: Vec<u8>,
}

impl FeatureUpdate {
    /// The key values joined by `|`: one entity, one string, and no two entities share
    /// one. Within a string value `\` and `|` are escaped with a `\`, and NULL is `\N`
    /// (so `("x|y", "z")` and `("x", "y|z")` stay apart, as do NULL and `""`); plain keys
    /// read as they are. Other values are their [`store_text`] (`true`, `1767225600000`),
    /// a float past the largest double `\N`, as it is `null` in the file sink.
    pub fn entity(&self) -> String {
        let mut s = String::new();
        for (i, v) in self.key.iter().enumerate() {
            if i > 0 {
                s.push('|');
            }
            match v {
                Value::Str(t) => {
                    for c in t.chars() {
                        if c == '\\' || c == '|' {
                            s.push('\\');
                        }
                        s.push(c);
                    }
                }
                other => match store_text(other) {
                    Some(text) => s.push_str(&text),
                    None => s.push_str("\\N"),
                },
            }
        }
        s
    }

    /// `<feature>:<version>:<entity>`: the store key of this feature value.
    pub fn store_key(&self) -> String {
        format!("{}:{}:{}", self.feature, self.version, self.entity())
    }
}

/// A value as the stores write it as text: a Redis hash field, and each part of a store
/// key (the Redis key, DynamoDB's `pk`, the Kafka message key). It is the text the file
/// sink's JSON holds for the value (timestamps as epoch milliseconds, bools `true` and
/// `false`, floats as the shortest text that reads back the same, arrays as JSON), except
/// that a string is its characters, unquoted. `None` for NULL and for a float past the
/// largest double (JSON `null`). Not `Value`'s `Display`: that is the SQL literal
/// (`TIMESTAMP '2026-01-01 00:00:00.000'`, `TRUE`) `explain` prints.
pub fn store_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::Float(f) if !f.is_finite() => None,
        Value::Str(s) => Some(Cow::Borrowed(s.as_str())),
        other => {
            let mut out = Vec::new();
            crate::format::encode::value(&mut out, other);
            Some(Cow::Owned(
                String::from_utf8(out).expect("JSON text is UTF-8"),
            ))
        }
    }
}

/// This run's id for the stores: the epoch milliseconds when this process first asked
/// (its first store sink opening). Stores order writes of one window by (run, revision):
/// revisions restart at 0 in every run, so a later run's value replaces an earlier run's
/// whatever its revision (a rebuild replaces the partial values a stopped run left).
pub fn run_id() -> u64 {
    static RUN: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *RUN.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    })
}

/// A write failure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    /// What went wrong, naming the store.
    pub message: String,
    /// Whether trying again may succeed (a connection refused, a throttled request).
    pub retryable: bool,
}

impl SinkError {
    /// A failure worth retrying.
    pub fn retryable(message: impl Into<String>) -> Self {
        SinkError {
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that will not go away (a rejected record).
    pub fn permanent(message: impl Into<String>) -> Self {
        SinkError {
            message: message.into(),
            retryable: false,
        }
    }
}

/// Rows of a batch the store refused one by one (index in the batch, why), while it
/// took the others: a value it cannot hold, a key of another type. Not retried.
pub type Rejected = Vec<(usize, SinkError)>;

/// A feature store or topic.
pub trait RowSink {
    /// Writes `rows` (at most `batch_size`), confirmed by the store before it returns.
    /// `Err`: the batch as a whole failed (retried if retryable; re-sending is harmless,
    /// writes are upserts); `Ok`: written, but for the rows it names.
    fn write_batch(&mut self, rows: &[FeatureUpdate]) -> Result<Rejected, SinkError>;

    /// No row for a window ending before `end` will be written any more (the dataflow's
    /// frontier passed `end` + lateness): a sink may forget what it keeps per entity for
    /// older windows. The default keeps nothing.
    fn forget_before(&mut self, _end: i64) {}
}

impl<S: RowSink + ?Sized> RowSink for Box<S> {
    fn write_batch(&mut self, rows: &[FeatureUpdate]) -> Result<Rejected, SinkError> {
        (**self).write_batch(rows)
    }

    fn forget_before(&mut self, end: i64) {
        (**self).forget_before(end)
    }
}

/// A row that could not be written, and why.
#[derive(Debug, Clone)]
pub struct FailedRow {
    /// The row.
    pub row: FeatureUpdate,
    /// Why: the store's refusal of this row, or its batch's last error (after the
    /// retries made, which it says).
    pub error: String,
}

/// Says why writing must end now (a stopped run's stop timeout passed), or `None`.
pub type GiveUp = Box<dyn Fn() -> Option<String> + Send>;

/// Batching, rate limiting and retries around a [`RowSink`].
pub struct Fanout<S> {
    sink: S,
    spec: FanoutSpec,
    pending: Vec<FeatureUpdate>,
    /// Checked before each batch, during pacing and between retries: once it gives a
    /// reason, the rows not yet written fail with it instead of being written.
    give_up: Option<GiveUp>,
    /// Earliest time the next record may be written (smoothed rate).
    next_slot: Instant,
    /// First backoff delay; doubles per retry.
    pub base_backoff: Duration,
    /// Batches retried so far (for the run summary).
    pub retries: u64,
}

impl<S: RowSink> Fanout<S> {
    /// Wraps `sink` with `spec`'s controls.
    pub fn new(sink: S, spec: FanoutSpec) -> Self {
        Fanout {
            sink,
            spec,
            pending: Vec::new(),
            give_up: None,
            next_slot: Instant::now(),
            base_backoff: Duration::from_millis(100),
            retries: 0,
        }
    }

    /// Ends writing early once `give_up` gives a reason: the rows not yet written come
    /// back as failures with it (after a stop, a store that is slow or down does not hold
    /// the run past its stop timeout; the rows go to the dead-letter output).
    pub fn give_up_when(&mut self, give_up: GiveUp) {
        self.give_up = Some(give_up);
    }

    fn gave_up(&self) -> Option<String> {
        self.give_up.as_ref().and_then(|g| g())
    }

    /// Rows queued and not yet written (fewer than `batch_size` after a `push`, none
    /// after a `flush`).
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    /// The wrapped sink.
    pub fn inner(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Queues a row; writes a batch when `batch_size` are queued. Returns rows that failed.
    pub fn push(&mut self, row: FeatureUpdate) -> Vec<FailedRow> {
        self.pending.push(row);
        if self.pending.len() >= self.spec.batch_size {
            self.flush()
        } else {
            Vec::new()
        }
    }

    /// Writes everything queued. Returns rows that failed after all retries.
    pub fn flush(&mut self) -> Vec<FailedRow> {
        let mut failed = Vec::new();
        while !self.pending.is_empty() {
            if let Some(error) = self.gave_up() {
                failed.extend(self.pending.drain(..).map(|row| FailedRow {
                    row,
                    error: error.clone(),
                }));
                break;
            }
            let n = self.pending.len().min(self.spec.batch_size);
            let batch: Vec<FeatureUpdate> = self.pending.drain(..n).collect();
            if !self.pace(batch.len()) {
                // Gave up while waiting for the batch's slot: the loop's check says why.
                self.pending.splice(0..0, batch);
                continue;
            }
            match self.write_with_retries(&batch) {
                Ok(rejected) if rejected.is_empty() => {}
                // Rare: the batch is taken apart only when the store refused rows.
                Ok(rejected) => {
                    let mut batch: Vec<Option<FeatureUpdate>> =
                        batch.into_iter().map(Some).collect();
                    for (i, e) in rejected {
                        if let Some(row) = batch.get_mut(i).and_then(Option::take) {
                            failed.push(FailedRow {
                                row,
                                error: format!("the store refused the row: {}", e.message),
                            });
                        }
                    }
                }
                Err((e, retries)) => {
                    let error = match retries {
                        0 => e.message,
                        n => format!("after {n} retries: {}", e.message),
                    };
                    failed.extend(batch.into_iter().map(|row| FailedRow {
                        row,
                        error: error.clone(),
                    }));
                }
            }
        }
        failed
    }

    /// Sleeps so that writes average `write_rate` records per second: each record takes
    /// a 1/rate slot, so a burst is spread out instead of sent at once. `false`: gave up
    /// while waiting.
    fn pace(&mut self, records: usize) -> bool {
        let Some(rate) = self.spec.write_rate else {
            return true;
        };
        if !self.sleep_until(self.next_slot) {
            return false;
        }
        let start = self.next_slot.max(Instant::now());
        self.next_slot = start + Duration::from_secs_f64(records as f64 / rate);
        true
    }

    /// Sleeps until `t`, in steps short enough to notice giving up soon; `false`: gave up.
    fn sleep_until(&self, t: Instant) -> bool {
        loop {
            if self.gave_up().is_some() {
                return false;
            }
            let now = Instant::now();
            if now >= t {
                return true;
            }
            std::thread::sleep((t - now).min(Duration::from_millis(50)));
        }
    }

    /// Writes a batch, retrying what may pass; the error comes with the retries made.
    fn write_with_retries(
        &mut self,
        batch: &[FeatureUpdate],
    ) -> Result<Rejected, (SinkError, u32)> {
        let mut attempt = 0;
        loop {
            match self.sink.write_batch(batch) {
                Ok(rejected) => return Ok(rejected),
                Err(e) if e.retryable && attempt < self.spec.retry_count => {
                    let delay = self.base_backoff * 2u32.saturating_pow(attempt.min(16));
                    tracing::warn!(
                        attempt = attempt + 1,
                        ?delay,
                        "sink write failed, retrying: {e}"
                    );
                    if !self.sleep_until(Instant::now() + delay.min(Duration::from_secs(30))) {
                        let why = self.gave_up().unwrap_or_default();
                        return Err((
                            SinkError::permanent(format!("{why} (last error: {e})")),
                            attempt,
                        ));
                    }
                    attempt += 1;
                    self.retries += 1;
                }
                Err(e) => return Err((e, attempt)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: i64) -> FeatureUpdate {
        FeatureUpdate {
            feature: "f".into(),
            version: 1,
            key: vec![Value::Str("a".into()), Value::Int(i)],
            values: vec![],
            window_start: 0,
            window_end: 10,
            revision: 0,
            deleted: false,
            json: vec![],
        }
    }

    /// Fails the first `fail` calls, then records what it is given.
    struct Flaky {
        fail: usize,
        permanent: bool,
        calls: usize,
        written: Vec<Vec<i64>>,
    }

    impl Flaky {
        /// Fails the first `fail` calls (`permanent`: unretryably).
        fn new(fail: usize, permanent: bool) -> Self {
            Flaky {
                fail,
                permanent,
                calls: 0,
                written: vec![],
            }
        }
    }

    impl RowSink for Flaky {
        fn write_batch(&mut self, rows: &[FeatureUpdate]) -> Result<Rejected, SinkError> {
            self.calls += 1;
            if self.calls <= self.fail {
                return Err(if self.permanent {
                    SinkError::permanent("rejected")
                } else {
                    SinkError::retryable("refused")
                });
            }
            self.written
                .push(rows.iter().map(|r| r.key[1].as_i64().unwrap()).collect());
            // A store that refuses odd keys from 100 on, row by row.
            Ok(rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.key[1].as_i64().is_some_and(|k| k >= 100 && k % 2 == 1))
                .map(|(i, _)| (i, SinkError::permanent("not storable")))
                .collect())
        }
    }

    fn spec(batch_size: usize, retry_count: u32) -> FanoutSpec {
        FanoutSpec {
            write_rate: None,
            batch_size,
            retry_count,
        }
    }

    #[test]
    fn rows_are_batched_and_retried_until_written() {
        let sink = Flaky::new(2, false);
        let mut f = Fanout::new(sink, spec(2, 3));
        f.base_backoff = Duration::from_millis(1);
        let mut failed = Vec::new();
        for i in 0..5 {
            failed.extend(f.push(row(i)));
        }
        failed.extend(f.flush());
        assert!(failed.is_empty());
        assert_eq!(f.inner().written, vec![vec![0, 1], vec![2, 3], vec![4]]);
        assert_eq!(f.retries, 2);
    }

    #[test]
    fn rows_failing_past_the_retries_come_back_for_the_dead_letter_output() {
        let sink = Flaky::new(usize::MAX, false);
        let mut f = Fanout::new(sink, spec(10, 2));
        f.base_backoff = Duration::from_millis(1);
        f.push(row(1));
        let failed = f.flush();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].error, "after 2 retries: refused");
        assert_eq!(f.inner().calls, 3, "one try and two retries");
        // Permanent errors are not retried.
        let sink = Flaky::new(1, true);
        let mut f = Fanout::new(sink, spec(10, 5));
        f.push(row(1));
        let failed = f.flush();
        assert_eq!((failed.len(), failed[0].error.as_str()), (1, "rejected"));
        assert_eq!(f.inner().calls, 1);
    }

    /// Rows the store refuses one by one fail alone, with the store's reason, unretried;
    /// the rest of their batch is written.
    #[test]
    fn rows_refused_one_by_one_fail_alone() {
        let sink = Flaky::new(0, false);
        let mut f = Fanout::new(sink, spec(4, 5));
        let mut failed = Vec::new();
        for i in 100..108 {
            failed.extend(f.push(row(i)));
        }
        failed.extend(f.flush());
        let refused: Vec<(i64, &str)> = failed
            .iter()
            .map(|r| (r.row.key[1].as_i64().unwrap(), r.error.as_str()))
            .collect();
        let why = "the store refused the row: not storable";
        assert_eq!(refused, [(101, why), (103, why), (105, why), (107, why)]);
        assert_eq!((f.inner().calls, f.retries), (2, 0));
    }

    #[test]
    fn the_write_rate_spreads_records_out() {
        let sink = Flaky::new(0, false);
        // 200 records/s in batches of 10: 40 records take at least 3 slots of 50 ms.
        let mut f = Fanout::new(
            sink,
            FanoutSpec {
                write_rate: Some(200.0),
                batch_size: 10,
                retry_count: 0,
            },
        );
        let t = Instant::now();
        for i in 0..40 {
            assert!(f.push(row(i)).is_empty());
        }
        assert!(f.flush().is_empty());
        // A lower bound only (sleeping can take longer, never shorter): not a timing assert
        // on performance but on the pacing contract.
        assert!(
            t.elapsed() >= Duration::from_millis(150),
            "{:?}",
            t.elapsed()
        );
    }

    /// Writes rows one by one into a list shared with the test.
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<i64>>>);

    impl RowSink for Shared {
        fn write_batch(&mut self, rows: &[FeatureUpdate]) -> Result<Rejected, SinkError> {
            let mut w = self.0.lock().unwrap();
            w.extend(rows.iter().map(|r| r.key[1].as_i64().unwrap()));
            Ok(vec![])
        }
    }

    /// Once the hook gives a reason (a stopped run's timeout), the rows not written yet
    /// come back with it, paced or not; none is written twice or lost.
    #[test]
    fn giving_up_returns_the_unwritten_rows_with_the_reason() {
        for write_rate in [None, Some(1000.0)] {
            let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = std::sync::Arc::clone(&written);
            let mut f = Fanout::new(
                Shared(std::sync::Arc::clone(&written)),
                FanoutSpec {
                    write_rate,
                    batch_size: 1,
                    retry_count: 0,
                },
            );
            f.give_up_when(Box::new(move || {
                (seen.lock().unwrap().len() >= 3).then(|| "stopped".to_string())
            }));
            let mut failed = Vec::new();
            for i in 0..10 {
                failed.extend(f.push(row(i)));
            }
            failed.extend(f.flush());
            assert_eq!(*written.lock().unwrap(), [0, 1, 2], "{write_rate:?}");
            let failed: Vec<(i64, &str)> = failed
                .iter()
                .map(|r| (r.row.key[1].as_i64().unwrap(), r.error.as_str()))
                .collect();
            let want: Vec<(i64, &str)> = (3..10).map(|i| (i, "stopped")).collect();
            assert_eq!(failed, want, "{write_rate:?}");
        }
    }

    /// A store that is down does not hold a stopped run through its retries' backoff.
    #[test]
    fn giving_up_ends_the_retries() {
        let sink = Flaky::new(usize::MAX, false);
        let mut f = Fanout::new(sink, spec(10, 30));
        f.base_backoff = Duration::from_secs(3600);
        f.give_up_when(Box::new(|| Some("stopped".to_string())));
        f.push(row(1));
        let failed = f.flush();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].error, "stopped");
        assert_eq!(f.inner().calls, 0, "nothing is tried after giving up");
        // Giving up during a retry's backoff keeps the store's error.
        let sink = Flaky::new(usize::MAX, false);
        let mut f = Fanout::new(sink, spec(10, 30));
        f.base_backoff = Duration::from_secs(3600);
        let tries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let t = std::sync::Arc::clone(&tries);
        // The first check (before the batch) passes, the next (in the backoff) gives up.
        f.give_up_when(Box::new(move || {
            (t.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 1)
                .then(|| "stopped".to_string())
        }));
        f.push(row(1));
        let failed = f.flush();
        assert_eq!(failed[0].error, "stopped (last error: refused)");
        assert_eq!((f.inner().calls, f.retries), (1, 0));
    }

    #[test]
    fn the_store_key_joins_composite_keys() {
        let mut r = row(7);
        r.key.push(Value::Null);
        assert_eq!(r.store_key(), "f:1:a|7|\\N");
    }

    /// Stores write a value as the file sink's JSON does (not as the SQL literal of
    /// `explain`): `true`, `1767225600000`, `1e15`; a string unquoted.
    #[test]
    fn store_text_is_the_json_text_of_the_file_sink() {
        let values = [
            Value::Bool(true),
            Value::Bool(false),
            Value::Ts(1_767_225_600_000),
            Value::Int(-7),
            Value::Float(1.5),
            Value::Float(1e15),
            Value::Float(0.1 + 0.2),
            Value::List(vec![Value::Ts(1), Value::Bool(false)].into()),
        ];
        for v in values {
            let mut json = Vec::new();
            crate::format::encode::value(&mut json, &v);
            assert_eq!(store_text(&v).unwrap().as_bytes(), json, "{v:?}");
        }
        assert_eq!(store_text(&Value::Str("a\"b".into())).unwrap(), "a\"b");
        assert_eq!(store_text(&Value::Null), None);
        assert_eq!(store_text(&Value::Float(f64::INFINITY)), None);
        let mut r = row(0);
        r.key = vec![
            Value::Bool(true),
            Value::Ts(1_767_225_600_000),
            Value::Float(1.5),
        ];
        assert_eq!(r.store_key(), "f:1:true|1767225600000|1.5");
    }

    /// Distinct keys give distinct store keys (by hand: the pairs that collided when
    /// values were joined as they are).
    #[test]
    fn store_keys_are_one_to_one() {
        let key = |k: Vec<Value>| {
            let mut r = row(0);
            r.key = k;
            r.entity()
        };
        let s = |t: &str| Value::Str(t.into());
        let cases = [
            (vec![s("x|y"), s("z")], vec![s("x"), s("y|z")]),
            (vec![s("k"), Value::Null], vec![s("k"), s("")]),
            (vec![Value::Null], vec![s("\\N")]),
            (vec![s("a\\"), s("b")], vec![s("a\\|b")]),
        ];
        for (a, b) in cases {
            assert_ne!(key(a.clone()), key(b.clone()), "{a:?} / {b:?}");
        }
        assert_eq!(key(vec![s("x|y"), s("z")]), "x\\|y|z");
        assert_eq!(key(vec![s("g1"), s("request_ride")]), "g1|request_ride");
    }
}
