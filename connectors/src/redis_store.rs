//! The Redis sink: the online feature store models read when scoring.
//!
//! One hash per entity at `<feature>:<version>:<key>` (composite keys joined with `|`),
//! with a field per selected value column (NULL values are left out; the others hold
//! their [`store_text`], the text of the file sink's JSON: `true`, `1767225600000`) plus
//! `window_start`, `window_end` (epoch ms), `revision` and `_run` (the writing run's
//! [`run_id`]). A TTL per feature expires entities that stop receiving updates.
//!
//! **Newer windows win, atomically**: every write is one Lua script run (`EVALSHA`), so
//! a late correction for an older window never overwrites a newer value, while a
//! correction for the stored window (a higher revision of the same run) does, and so does
//! any value of the stored window from a later run (revisions start at 0 in every run: a
//! rebuild from `start: earliest` must replace an earlier run's partial values). A withdrawn value
//! (`deleted`, HAVING turned false) of the newest window leaves a marker in the hash's
//! place, as a value would (also when the hash expired or held an older window):
//! `window_start`, `window_end`, `revision` and `deleted` = `1`, no value fields (readers
//! of value fields see none). Deleting the hash instead let a late correction
//! of an older window in afterwards, which the Kafka sink (keeping the newest window per
//! key) dropped: the stores disagreed. Writes are pipelined: one round trip per batch.

use std::time::Duration;

use crate::sink::{run_id, store_text, FeatureUpdate, Rejected, RowSink, SinkError};
use planner::job::RedisStore;

/// KEYS[1]: hash. ARGV: window_end, revision, ttl ms (0: none), deleted (0/1), run, then
/// field/value pairs (for a withdrawal, the marker's). Returns 1 written, 2 withdrawn, 0
/// stale (ignored). For the stored window, a later run wins whatever its revision (a
/// rebuild's revision 0 replaces a partial value of an earlier run's revision 1), and within
/// a run the higher revision.
const UPSERT: &str = r#"
local cur = redis.call('HGET', KEYS[1], 'window_end')
local we = tonumber(ARGV[1])
if cur then
  cur = tonumber(cur)
  if we < cur then return 0 end
  if we == cur then
    local run = tonumber(redis.call('HGET', KEYS[1], '_run') or '0')
    local new_run = tonumber(ARGV[5])
    if new_run < run then return 0 end
    if new_run == run then
      local rev = tonumber(redis.call('HGET', KEYS[1], 'revision') or '-1')
      if tonumber(ARGV[2]) < rev then return 0 end
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
if ARGV[4] == '1' then return 2 end
return 1
"#;

/// Writes feature values to Redis hashes.
pub struct RedisSink {
    name: String,
    client: redis::Client,
    conn: Option<redis::Connection>,
    script: redis::Script,
    ttl_ms: u64,
    /// This run's [`run_id`]: stored as `_run`.
    run: u64,
}

impl RedisSink {
    /// A sink for store `name` (the profile's entry) with an optional TTL. Connects at once,
    /// so an unreachable store fails the run at its start; a connection lost later is
    /// re-made and retried like any failed write.
    pub fn open(name: &str, store: &RedisStore, ttl_ms: Option<u64>) -> Result<Self, SinkError> {
        let client = redis::Client::open(store.url.0.as_str()).map_err(|e| {
            SinkError::permanent(format!(
                "redis store `{name}`: bad url: {e} (hint: write redis://host:port in the infrastructure profile)"
            ))
        })?;
        let mut sink = RedisSink {
            name: name.to_string(),
            client,
            conn: None,
            script: redis::Script::new(UPSERT),
            ttl_ms: ttl_ms.unwrap_or(0),
            run: run_id(),
        };
        sink.connection().map_err(|e| {
            SinkError::permanent(format!(
                "{} (hint: is the Redis server running? `scripts/services.sh start` starts a local one; check `url` of store `{name}` in the infrastructure profile)",
                e.message
            ))
        })?;
        Ok(sink)
    }

    /// Writes as run `run` instead of this process's (tests: two runs in one process).
    pub fn set_run(&mut self, run: u64) {
        self.run = run;
    }

    fn connection(&mut self) -> Result<&mut redis::Connection, SinkError> {
        if self.conn.is_none() {
            let mut c = self
                .client
                .get_connection_with_timeout(Duration::from_secs(5))
                .map_err(|e| self.error("cannot connect", &e))?;
            c.set_read_timeout(Some(Duration::from_secs(30)))
                .and_then(|_| c.set_write_timeout(Some(Duration::from_secs(30))))
                .map_err(|e| self.error("cannot configure the connection", &e))?;
            self.script
                .load(&mut c)
                .map_err(|e| self.error("cannot load the upsert script", &e))?;
            self.conn = Some(c);
        }
        Ok(self.conn.as_mut().expect("connected"))
    }

    fn error(&self, what: &str, e: &redis::RedisError) -> SinkError {
        // A read timeout shows as the socket's `WouldBlock` ("Resource temporarily
        // unavailable"), which does not say it is one (found by QA).
        let timed_out = e.is_timeout()
            || matches!(e.kind(), redis::ErrorKind::Io) && e.to_string().contains("os error 11");
        let message = if timed_out {
            format!(
                "redis store `{}`: {what}: no answer within the timeout (5 s to connect, 30 s per write): {e}",
                self.name
            )
        } else {
            format!("redis store `{}`: {what}: {e}", self.name)
        };
        SinkError {
            message,
            // Connection trouble, a loading or read-only replica, OOM: may pass.
            retryable: e.is_io_error()
                || e.is_connection_refusal()
                || e.is_connection_dropped()
                || e.is_timeout()
                || matches!(
                    e.kind(),
                    redis::ErrorKind::Server(redis::ServerErrorKind::BusyLoading)
                        | redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
                        | redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
                )
                || {
                    let text = e.to_string();
                    text.contains("OOM")
                        || text.contains("NOREPLICAS")
                        || text.contains("MASTERDOWN")
                },
        }
    }
}

impl RowSink for RedisSink {
    fn write_batch(&mut self, rows: &[FeatureUpdate]) -> Result<Rejected, SinkError> {
        let hash = self.script.get_hash().to_string();
        let ttl = self.ttl_ms;
        let mut pipe = redis::pipe();
        for r in rows {
            let cmd = pipe
                .cmd("EVALSHA")
                .arg(&hash)
                .arg(1)
                .arg(r.store_key())
                .arg(r.window_end)
                .arg(r.revision)
                .arg(ttl)
                .arg(if r.deleted { "1" } else { "0" })
                .arg(self.run);
            if r.deleted {
                cmd.arg("deleted").arg(1);
            } else {
                for (name, v) in &r.values {
                    // NULL (and a float past the largest double): no field.
                    if let Some(s) = store_text(v) {
                        cmd.arg(name).arg(s.as_ref());
                    }
                }
            }
            cmd.arg("window_start")
                .arg(r.window_start)
                .arg("window_end")
                .arg(r.window_end)
                .arg("revision")
                .arg(r.revision)
                .arg("_run")
                .arg(self.run);
        }
        // Each command's own result: one refused row (a key holding another type) does
        // not fail the rows around it.
        let result: Result<Vec<redis::RedisResult<i64>>, redis::RedisError> = {
            let conn = self.connection()?;
            pipe.ignore_errors().query(conn)
        };
        let results = match result {
            Ok(r) => r,
            Err(e) => {
                let err = self.error("write failed", &e);
                // Reconnect (and reload the script) on the next try.
                self.conn = None;
                return Err(err);
            }
        };
        let mut rejected = Vec::new();
        for (i, r) in results.into_iter().enumerate() {
            let Err(e) = r else { continue };
            let err = self.error(&format!("write of `{}` failed", rows[i].store_key()), &e);
            if err.retryable {
                // The server, not the row (a lost script, a replica that cannot write):
                // the whole batch again, on a new connection.
                self.conn = None;
                return Err(err);
            }
            rejected.push((i, err));
        }
        Ok(rejected)
    }
}
