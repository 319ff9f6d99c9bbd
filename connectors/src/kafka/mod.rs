//! Kafka: the topic source and the compacted-topic sink, on librdkafka (rdkafka).

use std::time::Duration;

use rdkafka::client::{Client, ClientContext};
use rdkafka::ClientConfig;

use planner::job::KafkaCluster;

pub mod produce;
pub mod sink;
pub mod source;

/// How many times a source tries to reach the cluster at start before giving up.
pub const CONNECT_ATTEMPTS: u32 = 4;

/// librdkafka settings for a cluster: its bootstrap servers and extra properties.
pub fn client_config(conn: &KafkaCluster) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &conn.bootstrap_servers)
        .set("client.id", "freshet")
        // Fail fast on metadata requests; the caller retries with a message.
        .set("socket.connection.setup.timeout.ms", "5000")
        .set("log_level", "3");
    for (k, v) in &conn.properties {
        cfg.set(k, &v.0);
    }
    cfg
}

/// An error reaching a cluster, with what to check.
pub fn describe_error(name: &str, conn: &KafkaCluster, e: &rdkafka::error::KafkaError) -> String {
    format!(
        "kafka cluster `{name}` at {}: {e} (hint: is the broker running? `scripts/services.sh start` starts a local one; check `bootstrap_servers` in the infrastructure profile)",
        conn.bootstrap_servers
    )
}

/// The sorted partition ids of `topic`, trying the cluster [`CONNECT_ATTEMPTS`] times
/// (fewer once `stopping()`): an unreachable cluster or a missing topic is an error that
/// says what to check.
pub fn topic_partitions<C: ClientContext>(
    client: &Client<C>,
    name: &str,
    conn: &KafkaCluster,
    topic: &str,
    stopping: &dyn Fn() -> bool,
) -> Result<Vec<i32>, String> {
    let timeout = Duration::from_secs(3);
    let mut attempt = 0;
    let metadata = loop {
        match client.fetch_metadata(Some(topic), timeout) {
            Ok(m) => break m,
            Err(e) if attempt + 1 < CONNECT_ATTEMPTS && !stopping() => {
                attempt += 1;
                tracing::warn!(
                    "kafka cluster `{name}` ({}): {e}; retrying ({attempt}/{CONNECT_ATTEMPTS})",
                    conn.bootstrap_servers
                );
                std::thread::sleep(Duration::from_millis(500 * attempt as u64));
            }
            Err(e) => return Err(describe_error(name, conn, &e)),
        }
    };
    let not_found = || {
        format!(
            "kafka cluster `{name}`: topic `{topic}` not found (hint: create it, or check its name: `topic:` in the job, `--topic` of produce)"
        )
    };
    let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Err(not_found());
    };
    if t.error() == Some(rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        return Err(not_found());
    }
    if let Some(err) = t.error() {
        return Err(format!(
            "kafka cluster `{name}`: topic `{topic}`: {err:?} (hint: create the topic, or check `topic:` in the job)"
        ));
    }
    let mut all: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    all.sort_unstable();
    if all.is_empty() {
        return Err(format!(
            "kafka cluster `{name}`: topic `{topic}` has no partitions"
        ));
    }
    Ok(all)
}
