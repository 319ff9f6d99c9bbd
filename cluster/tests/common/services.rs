//! Talking to the real local services (`scripts/services.sh start`) from tests: a Kafka
//! broker (tansu), redis-server, and moto. Tests that need them fail, loudly, when they are
//! not running: they never pass by skipping.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

/// Runs `freshet run JOB --infra INFRA -q ARGS..`; panics with its output if it fails.
pub fn run_with_infra(job: &Path, infra: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec![
        "run",
        job.to_str().unwrap(),
        "--infra",
        infra.to_str().unwrap(),
        "-q",
    ];
    all.extend_from_slice(args);
    super::run_ok(&all)
}

/// An environment variable `scripts/services.sh env` sets.
pub fn service_env(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: these tests talk to real servers. Start them and export their \
             addresses: `scripts/services.sh start && eval \"$(scripts/services.sh env)\"` \
             (scripts/test.sh does both)"
        )
    })
}

/// `host:port` of the Kafka broker.
pub fn kafka_brokers() -> String {
    service_env("KAFKA_BROKERS")
}

/// `redis://host:port`.
pub fn redis_url() -> String {
    service_env("REDIS_URL")
}

/// A name no earlier run used (tests share the servers).
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

/// A number no earlier run used (feature versions keep Redis keys apart).
pub fn unique_version() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    ((nanos / 1000) % 2_000_000_000) as u32 + std::process::id() % 1000
}

/// The tansu binary (its CLI creates topics).
pub fn tansu() -> PathBuf {
    PathBuf::from(service_env("FRESHET_TANSU"))
}

/// Creates a topic on the broker at `brokers`.
pub fn create_topic(brokers: &str, topic: &str, partitions: u32) {
    let out = Command::new(tansu())
        .args(["topic", "create", topic, "--partitions"])
        .arg(partitions.to_string())
        .arg("--broker")
        .arg(format!("tcp://{brokers}"))
        .output()
        .expect("run tansu topic create");
    assert!(
        out.status.success(),
        "tansu topic create {topic}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends (key, payload) records, in order, confirmed by the broker.
pub fn produce(brokers: &str, topic: &str, records: &[(Option<String>, Vec<u8>)]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    for (k, v) in records {
        let mut r = BaseRecord::<String, Vec<u8>>::to(topic).payload(v);
        if let Some(k) = k {
            r = r.key(k);
        }
        let mut r = Some(r);
        while let Some(rec) = r.take() {
            if let Err((_, rec)) = producer.send(rec) {
                producer.poll(Duration::from_millis(20));
                r = Some(rec);
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).expect("delivered");
}

/// Every record of `topic` from the beginning (all partitions), until `expected` have
/// come (or 30 s pass).
pub fn consume_all(brokers: &str, topic: &str, expected: usize) -> Vec<(Option<String>, String)> {
    consume(brokers, topic, |got, _| got >= expected)
}

/// Every record of `topic` from the beginning, until none has come for `quiet` (after the
/// first).
pub fn consume_until_quiet(
    brokers: &str,
    topic: &str,
    quiet: Duration,
) -> Vec<(Option<String>, String)> {
    consume(brokers, topic, |got, since| got > 0 && since >= quiet)
}

/// Reads `topic` from the beginning until `done(records so far, time since the last)`
/// or 30 s.
fn consume(
    brokers: &str,
    topic: &str,
    done: impl Fn(usize, Duration) -> bool,
) -> Vec<(Option<String>, String)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("test-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    for p in md.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = Instant::now();
    while !done(out.len(), last.elapsed()) && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            last = Instant::now();
            out.push((
                m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                String::from_utf8_lossy(m.payload().unwrap_or(&[])).into_owned(),
            ));
        }
    }
    out
}

/// `dir/hosts`: a hostfile of two processes on free loopback ports.
pub fn two_process_hostfile(dir: &Path) -> PathBuf {
    let hostfile = dir.join("hosts");
    let hosts = format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port());
    std::fs::write(&hostfile, hosts).unwrap();
    hostfile
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `f` holds, up to `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A process killed when dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private tansu broker on `port` whose storage is an S3 bucket on the local endpoint,
/// so it survives a restart (the shared broker keeps topics in memory).
pub fn start_persistent_broker(port: u16, bucket: &str, log: &Path) -> Guard {
    let endpoint = service_env("AWS_ENDPOINT_URL");
    let listener = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(tansu())
        .args(["broker", "--listener-url", &listener])
        .args(["--advertised-listener-url", &listener])
        .args(["--storage-engine", &format!("s3://{bucket}/")])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT", &endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start tansu");
    wait_for(
        "the private broker to listen",
        Duration::from_secs(30),
        || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
    );
    Guard(child)
}

/// Creates a bucket on the local S3 endpoint (a plain `PUT /bucket`).
pub fn create_bucket(bucket: &str) {
    use std::io::{Read, Write};
    let endpoint = service_env("AWS_ENDPOINT_URL");
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(hostport).expect("connect to the AWS endpoint");
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200"),
        "create bucket {bucket}: {resp}"
    );
}

/// An infrastructure profile for the local services, written to `dir/infra.yaml`.
pub fn write_infra(dir: &Path, brokers: &str) -> PathBuf {
    let p = dir.join("infra.yaml");
    std::fs::write(
        &p,
        format!(
            "kafka:\n  local: {{ bootstrap_servers: \"{brokers}\" }}\nredis:\n  features: {{ url: \"{}\" }}\n",
            redis_url()
        ),
    )
    .unwrap();
    p
}

/// Sends payloads to one partition, with a key and an `origin` header.
pub fn produce_to_partition(
    brokers: &str,
    topic: &str,
    partition: i32,
    records: &[(String, String)],
) {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    for (key, payload) in records {
        let headers = OwnedHeaders::new().insert(Header {
            key: "origin",
            value: Some(format!("p{partition}").as_bytes()),
        });
        producer
            .send(
                BaseRecord::to(topic)
                    .partition(partition)
                    .key(key)
                    .payload(payload)
                    .headers(headers),
            )
            .map_err(|(e, _)| e)
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// Stops the run with SIGTERM (a clean stop that flushes sinks) and waits for it.
pub fn sigterm(run: &mut Guard) {
    let pid = run.0.id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let _ = run.0.wait();
}
