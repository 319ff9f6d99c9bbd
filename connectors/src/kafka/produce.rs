//! Appending JSON-lines files to a topic (`freshet produce`): demo and benchmark input.

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use planner::job::KafkaCluster;

use super::sink::Deliveries;
use super::{client_config, topic_partitions};

/// Sends every line of `files` to `topic` of cluster `cluster`, keyed by the JSON string
/// field `key_field` when given (so a key's records keep their order in one partition).
/// Returns the count. A missing topic is an error before anything is sent, and a record
/// the broker did not acknowledge fails the call: nothing is dropped silently.
pub fn produce_lines(
    cluster: &str,
    conn: &KafkaCluster,
    topic: &str,
    files: &[impl AsRef<Path>],
    key_field: Option<&str>,
) -> Result<u64, String> {
    let mut cfg = client_config(conn);
    cfg.set("acks", "all")
        // A missing topic is an error, not created by the metadata request (brokers with
        // auto.create.topics.enable would, with default settings, for a misspelt name).
        .set("allow.auto.create.topics", "false")
        .set("linger.ms", "20")
        .set("compression.type", "lz4");
    let deliveries = Deliveries::default();
    let producer: BaseProducer<Deliveries> = cfg
        .create_with_context(deliveries.clone())
        .map_err(|e| format!("kafka cluster `{cluster}`: cannot create a producer: {e}"))?;
    topic_partitions(producer.client(), cluster, conn, topic, &|| false)?;
    let needle = key_field.map(|k| format!("\"{k}\":\""));
    let mut n = 0u64;
    for f in files {
        let f = f.as_ref();
        let file = std::fs::File::open(f).map_err(|e| format!("{}: {e}", f.display()))?;
        for line in std::io::BufReader::with_capacity(1 << 20, file).lines() {
            let line = line.map_err(|e| format!("{}: {e}", f.display()))?;
            let key = needle.as_deref().and_then(|k| {
                let i = line.find(k)? + k.len();
                let j = line[i..].find('"')?;
                Some(line[i..i + j].to_string())
            });
            let mut rec = BaseRecord::<str, str>::to(topic).payload(line.as_str());
            if let Some(k) = key.as_deref() {
                rec = rec.key(k);
            }
            let mut rec = Some(rec);
            while let Some(r) = rec.take() {
                if let Err((e, r)) = producer.send(r) {
                    if matches!(
                        e,
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull
                        )
                    ) {
                        producer.poll(Duration::from_millis(50));
                        rec = Some(r);
                    } else {
                        return Err(format!(
                            "kafka cluster `{cluster}`: producing to `{topic}`: {e}"
                        ));
                    }
                }
            }
            producer.poll(Duration::ZERO);
            n += 1;
        }
    }
    producer.flush(Duration::from_secs(120)).map_err(|e| {
        format!("kafka cluster `{cluster}`: producing to `{topic}`: delivery not confirmed: {e}")
    })?;
    let failed = deliveries
        .failures
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(first) = failed.first() {
        return Err(format!(
            "kafka cluster `{cluster}`: {} of {n} records were not delivered to `{topic}` (the first: {first})",
            failed.len()
        ));
    }
    Ok(n)
}
