//! End-to-end latency of the online path: Kafka append → freshet → Redis.
//!
//! Produces live events (event time = append time, wall clock) at a fixed rate to a topic
//! that a running `freshet run --mode stream` job reads, and watches Redis keyspace
//! notifications for the feature hashes it writes. For every event, the latency is the
//! time from its append to the moment its window's value is in Redis, minus the
//! watermark delay (which holds every window back on purpose). Also reports the per-window
//! close latency: arrival in Redis − (window end + watermark delay), the engine's own share.
//!
//!   cargo run --release --example latency_probe -- \
//!       --brokers 127.0.0.1:9092 --topic lat --redis redis://127.0.0.1:6379 \
//!       --feature lat_count --version 1 --rate 20000 --seconds 20 --window-ms 1000 --delay-ms 1000
//!
//! (benches/kafka_redis.sh runs it with the job benches/jobs/latency.yaml.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return -1;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let brokers = arg(&args, "--brokers", "127.0.0.1:9092");
    let topic = arg(&args, "--topic", "lat");
    let redis_url = arg(&args, "--redis", "redis://127.0.0.1:6379");
    let feature = arg(&args, "--feature", "lat_count");
    let version = arg(&args, "--version", "1");
    let rate: u64 = arg(&args, "--rate", "20000").parse().unwrap();
    let seconds: u64 = arg(&args, "--seconds", "20").parse().unwrap();
    let window_ms: i64 = arg(&args, "--window-ms", "1000").parse().unwrap();
    let delay_ms: i64 = arg(&args, "--delay-ms", "1000").parse().unwrap();
    let users: u64 = arg(&args, "--users", "1000").parse().unwrap();

    // Arrivals: (entity, window_end) → first time its value was seen in Redis.
    let arrivals: Arc<Mutex<HashMap<(String, i64), i64>>> = Arc::default();
    let client = redis::Client::open(redis_url.as_str()).unwrap();
    let mut admin = client.get_connection().unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("Kh")
        .query(&mut admin)
        .unwrap();
    let prefix = format!("{feature}:{version}:");
    let watcher = {
        let arrivals = Arc::clone(&arrivals);
        let client = client.clone();
        let prefix = prefix.clone();
        std::thread::spawn(move || {
            let mut sub = client.get_connection().unwrap();
            let mut reader = client.get_connection().unwrap();
            let mut pubsub = sub.as_pubsub();
            pubsub
                .psubscribe(format!("__keyspace@*__:{prefix}*"))
                .unwrap();
            pubsub
                .set_read_timeout(Some(Duration::from_millis(500)))
                .unwrap();
            let mut idle_since = Instant::now();
            loop {
                match pubsub.get_message() {
                    Ok(msg) => {
                        let t = now_ms();
                        idle_since = Instant::now();
                        let channel = msg.get_channel_name().to_string();
                        let key = channel.split_once("__:").map(|x| x.1).unwrap_or("");
                        let end: Option<i64> = redis::cmd("HGET")
                            .arg(key)
                            .arg("window_end")
                            .query(&mut reader)
                            .unwrap_or(None);
                        if let Some(end) = end {
                            let entity = key.trim_start_matches(&prefix).to_string();
                            arrivals.lock().unwrap().entry((entity, end)).or_insert(t);
                        }
                    }
                    Err(_) if idle_since.elapsed() > Duration::from_secs(10) => break,
                    Err(_) => {}
                }
            }
        })
    };

    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "1")
        .create()
        .unwrap();
    let mut sent: Vec<(String, i64)> = Vec::with_capacity((rate * seconds) as usize);
    let start = Instant::now();
    let total = rate * seconds;
    for i in 0..total {
        // Pace: event i goes out at start + i / rate.
        let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let user = format!("u{}", (i * 7919) % users);
        let t = now_ms();
        let payload = format!(r#"{{"user_id":"{user}","event_time":{t}}}"#);
        let mut rec = Some(BaseRecord::to(&topic).key(&user).payload(&payload));
        while let Some(r) = rec.take() {
            if let Err((_, r)) = producer.send(r) {
                producer.poll(Duration::from_millis(1));
                rec = Some(r);
            }
        }
        producer.poll(Duration::ZERO);
        sent.push((user, t));
    }
    // A last event well past the end closes the final windows.
    let closer = now_ms() + 10 * window_ms + delay_ms;
    producer
        .send(
            BaseRecord::to(&topic)
                .key("closer")
                .payload(&format!(r#"{{"user_id":"closer","event_time":{closer}}}"#)),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    producer.flush(Duration::from_secs(30)).unwrap();
    let produce_s = start.elapsed().as_secs_f64();
    watcher.join().unwrap();

    let arrivals = arrivals.lock().unwrap();
    let mut event_lat = Vec::with_capacity(sent.len());
    let mut missing = 0usize;
    for (user, t) in &sent {
        let end = (t.div_euclid(window_ms) + 1) * window_ms;
        match arrivals.get(&(user.clone(), end)) {
            Some(arrived) => event_lat.push(arrived - t - delay_ms),
            None => missing += 1,
        }
    }
    let mut close_lat: Vec<i64> = arrivals
        .iter()
        .filter(|((u, _), _)| u != "closer")
        .map(|((_, end), arrived)| arrived - end - delay_ms)
        .collect();
    event_lat.sort_unstable();
    close_lat.sort_unstable();
    println!(
        "sent {} events in {produce_s:.1}s ({:.0}/s), window {window_ms} ms, watermark delay {delay_ms} ms",
        sent.len(),
        sent.len() as f64 / produce_s
    );
    println!(
        "append -> Redis minus delay (ms), per event: p50 {} p99 {} max {} ({} events{})",
        percentile(&event_lat, 0.5),
        percentile(&event_lat, 0.99),
        event_lat.last().copied().unwrap_or(-1),
        event_lat.len(),
        if missing > 0 {
            format!(", {missing} whose window was never seen: a later window overwrote it first")
        } else {
            String::new()
        }
    );
    println!(
        "window close -> Redis (ms), per (key, window): p50 {} p99 {} max {} ({} windows)",
        percentile(&close_lat, 0.5),
        percentile(&close_lat, 0.99),
        close_lat.last().copied().unwrap_or(-1),
        close_lat.len()
    );
}
