//! The Redis sink against a real redis-server: newer windows win atomically, corrections
//! of the stored window replace it, withdrawals mark only their own window withdrawn, TTLs are
//! set; and a Redis that refuses writes for a while gets retried with backoff until
//! everything is written.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use connectors::redis_store::RedisSink;
use connectors::sink::{run_id, Fanout, FeatureUpdate, RowSink};
use planner::job::{Fanout as FanoutSpec, RedisStore, Secret};
use planner::types::Value;

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set: start the local services (`scripts/services.sh start && eval \"$(scripts/services.sh env)\"`; scripts/test.sh does both)")
    })
}

fn unique() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{n}", std::process::id())
}

fn update(feature: &str, user: &str, end: i64, rev: u32, n: i64, deleted: bool) -> FeatureUpdate {
    FeatureUpdate {
        feature: feature.into(),
        version: 2,
        key: vec![Value::Str(user.into()), Value::Str("sf".into())],
        values: vec![
            ("user_id".into(), Value::Str(user.into())),
            ("n".into(), Value::Int(n)),
            ("avg".into(), Value::Null),
        ],
        window_start: end - 60_000,
        window_end: end,
        revision: rev,
        deleted,
        json: b"{}".to_vec(),
    }
}

fn hash(conn: &mut redis::Connection, key: &str) -> BTreeMap<String, String> {
    redis::cmd("HGETALL").arg(key).query(conn).unwrap()
}

fn sink(url: &str, ttl: Option<u64>) -> RedisSink {
    RedisSink::open(
        "features",
        &RedisStore {
            url: Secret(url.to_string()),
        },
        ttl,
    )
    .unwrap()
}

#[test]
fn newer_windows_win_and_corrections_of_the_stored_window_replace_it() {
    let url = redis_url();
    let f = format!("f{}", unique());
    let key = format!("{f}:2:u1|sf");
    let mut s = sink(&url, Some(60_000));
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();

    s.write_batch(&[update(&f, "u1", 120_000, 1, 5, false)])
        .unwrap();
    let h = hash(&mut conn, &key);
    let want: BTreeMap<String, String> = [
        ("user_id", "u1"),
        ("n", "5"),
        ("window_start", "60000"),
        ("window_end", "120000"),
        ("revision", "1"),
        ("_run", &run_id().to_string()),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(h, want, "NULL values are left out");
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");

    // A late correction of an older window is ignored; so is an older revision.
    s.write_batch(&[
        update(&f, "u1", 60_000, 3, 99, false),
        update(&f, "u1", 120_000, 0, 98, false),
    ])
    .unwrap();
    assert_eq!(hash(&mut conn, &key)["n"], "5");
    // A correction of the stored window replaces it; a newer window replaces that.
    s.write_batch(&[update(&f, "u1", 120_000, 2, 6, false)])
        .unwrap();
    assert_eq!(hash(&mut conn, &key)["n"], "6");
    assert_eq!(hash(&mut conn, &key)["revision"], "2");
    s.write_batch(&[update(&f, "u1", 180_000, 0, 1, false)])
        .unwrap();
    assert_eq!(hash(&mut conn, &key)["window_end"], "180000");
    // A withdrawal of an older window leaves the newer value; of its own window, leaves
    // a marker of it (no value fields).
    s.write_batch(&[update(&f, "u1", 120_000, 2, 0, true)])
        .unwrap();
    assert_eq!(hash(&mut conn, &key)["n"], "1");
    s.write_batch(&[update(&f, "u1", 180_000, 1, 0, true)])
        .unwrap();
    let marker = |end: i64, rev: &str| {
        BTreeMap::from([
            ("window_start".to_string(), (end - 60_000).to_string()),
            ("window_end".to_string(), end.to_string()),
            ("revision".to_string(), rev.to_string()),
            ("_run".to_string(), run_id().to_string()),
            ("deleted".to_string(), "1".to_string()),
        ])
    };
    assert_eq!(hash(&mut conn, &key), marker(180_000, "1"));
    // A late correction of an older window does not come back after the newest window
    // was withdrawn (it did when the withdrawal deleted the hash; the Kafka sink, which
    // keeps the newest window per key, dropped it: the stores disagreed).
    s.write_batch(&[update(&f, "u1", 120_000, 3, 9, false)])
        .unwrap();
    assert_eq!(hash(&mut conn, &key), marker(180_000, "1"));
    // The withdrawn window shown again (a later revision), then a newer window, replace it.
    s.write_batch(&[update(&f, "u1", 180_000, 2, 4, false)])
        .unwrap();
    assert_eq!(hash(&mut conn, &key)["n"], "4");
    assert!(!hash(&mut conn, &key).contains_key("deleted"));
    // A withdrawal of a newer window than the stored one (its value was never written,
    // or expired) leaves its marker too: the entity's newest window has no value.
    s.write_batch(&[update(&f, "u1", 240_000, 1, 0, true)])
        .unwrap();
    assert_eq!(hash(&mut conn, &key), marker(240_000, "1"));
    let other = format!("{f}:2:u2|sf");
    s.write_batch(&[update(&f, "u2", 240_000, 1, 0, true)])
        .unwrap();
    assert_eq!(hash(&mut conn, &other), marker(240_000, "1"));
}

/// Revisions restart at 0 in every run: for the stored window a later run's value replaces
/// an earlier run's whatever the revisions, and the earlier run's writes no longer land
/// (found by QA: a rebuild from `start: earliest` left a stopped run's partial value,
/// revision 1, over its own correct revision 0).
#[test]
fn a_later_run_replaces_the_stored_window_whatever_its_revision() {
    let url = redis_url();
    let f = format!("f{}", unique());
    let key = format!("{f}:2:u1|sf");
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let (mut first, mut later) = (sink(&url, None), sink(&url, None));
    first.set_run(100);
    later.set_run(200);
    first
        .write_batch(&[update(&f, "u1", 120_000, 1, 2, false)])
        .unwrap();
    later
        .write_batch(&[update(&f, "u1", 120_000, 0, 4, false)])
        .unwrap();
    let h = hash(&mut conn, &key);
    assert_eq!(
        (h["n"].as_str(), h["revision"].as_str(), h["_run"].as_str()),
        ("4", "0", "200")
    );
    // The earlier run, still writing, no longer lands on this window; a newer window does.
    first
        .write_batch(&[update(&f, "u1", 120_000, 2, 3, false)])
        .unwrap();
    assert_eq!(hash(&mut conn, &key)["n"], "4");
    first
        .write_batch(&[update(&f, "u1", 180_000, 0, 1, false)])
        .unwrap();
    assert_eq!(hash(&mut conn, &key)["n"], "1");
    // A hash written before runs were stored (no `_run`) is of run 0.
    redis::cmd("HDEL")
        .arg(&key)
        .arg("_run")
        .exec(&mut conn)
        .unwrap();
    first
        .write_batch(&[update(&f, "u1", 180_000, 0, 7, false)])
        .unwrap();
    assert_eq!(hash(&mut conn, &key)["n"], "7");
}

/// A private redis-server, stopped on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a private redis-server on a free port; returns it with an admin connection.
fn private_server() -> (Server, String, redis::Connection) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server(
        Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/services.sh installs it)"),
    );
    let url = format!("redis://127.0.0.1:{port}");
    let client = redis::Client::open(url.as_str()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let admin = loop {
        match client.get_connection() {
            Ok(c) => break c,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => panic!("redis-server did not start: {e}"),
        }
    };
    (server, url, admin)
}

#[test]
fn a_redis_refusing_writes_for_a_while_is_retried_until_nothing_is_lost() {
    // Started here, not shared: the test makes it refuse writes.
    let (server, url, mut admin) = private_server();
    let client = redis::Client::open(url.as_str()).unwrap();
    // Refuse writes: no replica is good enough.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("min-replicas-to-write")
        .arg("1")
        .query(&mut admin)
        .unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("min-replicas-to-write")
            .arg("0")
            .query(&mut admin)
            .unwrap();
    });

    let mut fanout = Fanout::new(
        sink(&url, None),
        FanoutSpec {
            write_rate: None,
            batch_size: 25,
            retry_count: 8,
        },
    );
    fanout.base_backoff = Duration::from_millis(50);
    let mut failed = Vec::new();
    for i in 0..100 {
        failed.extend(fanout.push(update("refusing", &format!("u{i}"), 60_000, 0, i, false)));
    }
    failed.extend(fanout.flush());
    release.join().unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(fanout.retries > 0, "the writes were refused at first");
    let mut conn = client.get_connection().unwrap();
    for i in 0..100 {
        let h = hash(&mut conn, &format!("refusing:2:u{i}|sf"));
        assert_eq!(h["n"], i.to_string());
    }
    drop(server);
}

#[test]
fn rows_still_refused_after_the_retries_come_back_as_failures() {
    let (server, url, _admin) = private_server();
    let mut fanout = Fanout::new(
        sink(&url, None),
        FanoutSpec {
            write_rate: None,
            batch_size: 10,
            retry_count: 2,
        },
    );
    fanout.base_backoff = Duration::from_millis(10);
    drop(server); // gone after the sink connected
    fanout.push(update("gone", "u1", 60_000, 0, 1, false));
    let failed = fanout.flush();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].error.contains("redis store `features`"),
        "{}",
        failed[0].error
    );
    assert_eq!(fanout.retries, 2);
}

#[test]
fn an_unreachable_store_fails_when_the_sink_opens() {
    let err = RedisSink::open(
        "features",
        &RedisStore {
            url: Secret("redis://127.0.0.1:1".to_string()), // nothing listens there
        },
        None,
    )
    .err()
    .expect("no server: the sink does not open");
    assert!(!err.retryable, "{err}");
    assert!(
        err.message
            .contains("redis store `features`: cannot connect")
            && err.message.contains("hint: is the Redis server running?"),
        "{err}"
    );
}

/// Found by QA: a Redis that does not answer (frozen) failed the sink's opening with
/// "Resource temporarily unavailable (os error 11)", which does not say it timed out.
#[test]
fn a_store_that_does_not_answer_is_named_as_timed_out() {
    let (server, url, _admin) = private_server();
    let frozen = Command::new("kill")
        .args(["-STOP", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(frozen.success());
    let opened = RedisSink::open("features", &RedisStore { url: Secret(url) }, None);
    Command::new("kill")
        .args(["-CONT", &server.0.id().to_string()])
        .status()
        .unwrap();
    let err = opened
        .err()
        .expect("a frozen server: the sink does not open");
    assert!(
        err.message.contains("no answer within the timeout"),
        "{err}"
    );
}

/// A row Redis refuses (its key holds a string, not a hash: WRONGTYPE) fails alone, with
/// its own error, unretried; the rows of its batch around it are written. A float past the
/// largest double is NULL (left out), as in the other sinks.
#[test]
fn a_refused_row_fails_alone() {
    let url = redis_url();
    let f = format!("f{}", unique());
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg(format!("{f}:2:taken|sf"))
        .arg("not a hash")
        .query(&mut conn)
        .unwrap();
    let mut big = update(&f, "u2", 120_000, 0, 2, false);
    big.values.push(("sum".into(), Value::Float(f64::INFINITY)));
    let spec = FanoutSpec {
        write_rate: None,
        batch_size: 10,
        retry_count: 3,
    };
    let mut fan = Fanout::new(sink(&url, None), spec);
    fan.push(update(&f, "u1", 120_000, 0, 1, false));
    fan.push(update(&f, "taken", 120_000, 0, 7, false));
    fan.push(big);
    let failed = fan.flush();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].row.entity(), "taken|sf");
    assert!(
        failed[0].error.starts_with("the store refused the row: ")
            && failed[0]
                .error
                .contains(&format!("write of `{f}:2:taken|sf` failed"))
            && failed[0].error.contains("WRONGTYPE"),
        "{}",
        failed[0].error
    );
    assert_eq!(fan.retries, 0);
    assert_eq!(hash(&mut conn, &format!("{f}:2:u1|sf"))["n"], "1");
    let h = hash(&mut conn, &format!("{f}:2:u2|sf"));
    assert_eq!(h["n"], "2");
    assert!(!h.contains_key("sum"), "an infinite float is NULL: {h:?}");
}

/// Timestamps and bools, in the key and the values, are written as the file sink's JSON
/// writes them (epoch ms, `true`/`false`), not as SQL literals (`TIMESTAMP 1767225600000`,
/// `TRUE`), which they were (found by QA).
#[test]
fn timestamps_and_bools_are_stored_as_the_file_sink_writes_them() {
    let url = redis_url();
    let f = format!("f{}", unique());
    let t = 1_767_225_600_000;
    let row = FeatureUpdate {
        feature: f.clone(),
        version: 1,
        key: vec![Value::Bool(true), Value::Ts(t), Value::Float(1.5)],
        values: vec![
            ("f".into(), Value::Bool(true)),
            ("event_time".into(), Value::Ts(t)),
            ("amt".into(), Value::Float(1.5)),
            ("anyf".into(), Value::Bool(false)),
            ("big".into(), Value::Float(1e15)),
            ("last_seen".into(), Value::Ts(t + 1)),
        ],
        window_start: t,
        window_end: t + 3_600_000,
        revision: 0,
        deleted: false,
        json: Vec::new(),
    };
    let mut s = sink(&url, None);
    s.write_batch(&[row]).unwrap();
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let key = format!("{f}:1:true|{t}|1.5");
    let h = hash(&mut conn, &key);
    let want: BTreeMap<String, String> = [
        ("f", "true".to_string()),
        ("event_time", t.to_string()),
        ("amt", "1.5".into()),
        ("anyf", "false".into()),
        // As the file sink's JSON writes it.
        ("big", {
            let mut json = Vec::new();
            connectors::format::encode::value(&mut json, &Value::Float(1e15));
            String::from_utf8(json).unwrap()
        }),
        ("last_seen", (t + 1).to_string()),
        ("window_start", t.to_string()),
        ("window_end", (t + 3_600_000).to_string()),
        ("revision", "0".into()),
        ("_run", run_id().to_string()),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b))
    .collect();
    assert_eq!(h, want, "hash at {key}");
}
