//! Kafka: the topic source and the compacted-topic sink, on librdkafka (rdkafka).

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
