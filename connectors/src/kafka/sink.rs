//! The Kafka sink: feature rows as JSON values keyed by `<feature>:<version>:<key>`, so a
//! compacted topic keeps each entity's latest value. As in the Redis and DynamoDB sinks,
//! newer windows win: a row for an older window than one already sent for its entity (a
//! late correction, or an older window's first value) is not sent, so an entity's last
//! record, the one compaction keeps, is always its newest window's latest revision. (The
//! sink remembers the newest window end sent per entity; an entity's rows all reach one
//! worker's sink.) A batch returns only once the broker has acknowledged every record of
//! it (`acks=all`); a failed delivery fails the batch, which the fanout wrapper retries
//! (re-sending is harmless: records are upserts).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use planner::job::KafkaCluster;

use crate::sink::{FeatureUpdate, Rejected, RowSink, SinkError};

use super::client_config;

/// Collects delivery failures of the current batch.
#[derive(Clone, Default)]
struct Deliveries {
    failures: Arc<Mutex<Vec<String>>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failures
                .lock()
                .expect("delivery lock")
                .push(e.to_string());
        }
    }
}

/// Writes feature rows to a topic.
pub struct KafkaSink {
    name: String,
    topic: String,
    producer: BaseProducer<Deliveries>,
    deliveries: Deliveries,
    /// Per store key, the newest window end sent.
    newest: HashMap<String, i64>,
}

impl KafkaSink {
    /// A producer for `topic` on cluster `name`.
    pub fn open(name: &str, conn: &KafkaCluster, topic: &str) -> Result<Self, SinkError> {
        let deliveries = Deliveries::default();
        let mut cfg = client_config(conn);
        cfg.set("acks", "all")
            .set("enable.idempotence", "false")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "5");
        let producer: BaseProducer<Deliveries> =
            cfg.create_with_context(deliveries.clone()).map_err(|e| {
                SinkError::permanent(format!(
                    "kafka cluster `{name}`: cannot create a producer: {e}"
                ))
            })?;
        // An unreachable cluster or a missing topic fails the run at its start, not after
        // every batch has timed out and been retried.
        super::topic_partitions(producer.client(), name, conn, topic)
            .map_err(SinkError::permanent)?;
        Ok(KafkaSink {
            name: name.to_string(),
            topic: topic.to_string(),
            producer,
            deliveries,
            newest: HashMap::new(),
        })
    }
}

impl RowSink for KafkaSink {
    fn write_batch(&mut self, rows: &[FeatureUpdate]) -> Result<Rejected, SinkError> {
        self.deliveries
            .failures
            .lock()
            .expect("delivery lock")
            .clear();
        for r in rows {
            let key = r.store_key();
            match self.newest.get_mut(&key) {
                Some(newest) if r.window_end < *newest => continue,
                Some(newest) => *newest = r.window_end,
                None => {
                    self.newest.insert(key.clone(), r.window_end);
                }
            }
            let mut record = BaseRecord::to(&self.topic).key(&key).payload(&r.json);
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull,
                        ),
                        rec,
                    )) => {
                        self.producer.poll(Duration::from_millis(100));
                        record = rec;
                    }
                    Err((e, _)) => {
                        return Err(SinkError::retryable(format!(
                            "kafka cluster `{}` topic `{}`: {e}",
                            self.name, self.topic
                        )))
                    }
                }
            }
        }
        self.producer.flush(Duration::from_secs(60)).map_err(|e| {
            SinkError::retryable(format!(
                "kafka cluster `{}` topic `{}`: delivery not confirmed: {e}",
                self.name, self.topic
            ))
        })?;
        let failures =
            std::mem::take(&mut *self.deliveries.failures.lock().expect("delivery lock"));
        match failures.first() {
            None => Ok(Vec::new()),
            Some(first) => Err(SinkError::retryable(format!(
                "kafka cluster `{}` topic `{}`: {} of {} records not delivered: {first}",
                self.name,
                self.topic,
                failures.len(),
                rows.len()
            ))),
        }
    }
}
