//! The Kafka sink: feature rows as JSON values keyed by `<feature>:<version>:<key>`, so a
//! compacted topic keeps each entity's latest value. As in the Redis and DynamoDB sinks,
//! newer windows win: a row for an older window than one already sent for its entity (a
//! late correction, or an older window's first value) is not sent, so an entity's last
//! record, the one compaction keeps, is always its newest window's latest revision. (The
//! sink remembers the newest window end sent per entity, until the dataflow's frontier
//! passes it by the lateness, after which no older window of it can come; an entity's rows
//! all reach one worker's sink.) A batch returns only once the broker has acknowledged every record of
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
pub(super) struct Deliveries {
    pub(super) failures: Arc<Mutex<Vec<String>>>,
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
    newest: NewestWindows,
}

/// Per store key, the newest window end sent, forgotten once no older window can come.
#[derive(Debug)]
pub struct NewestWindows {
    ends: HashMap<String, i64>,
    /// No row for a window ending before this comes any more.
    floor: i64,
    /// Entries left by the last sweep: the next sweep waits until there are twice as
    /// many, so sweeping costs O(1) per entry sent.
    kept: usize,
}

impl Default for NewestWindows {
    fn default() -> Self {
        NewestWindows {
            ends: HashMap::new(),
            floor: i64::MIN,
            kept: 0,
        }
    }
}

impl NewestWindows {
    /// Whether a row for `key`'s window ending at `end` is sent: not if a newer window of
    /// the entity was sent. Records `end` as the entity's newest when it is.
    pub fn admit(&mut self, key: &str, end: i64) -> bool {
        match self.ends.get_mut(key) {
            Some(newest) if end < *newest => false,
            Some(newest) => {
                *newest = end;
                true
            }
            None => {
                self.ends.insert(key.to_string(), end);
                true
            }
        }
    }

    /// No row for a window ending before `end` comes any more: an entity whose newest
    /// window ends before it can only be sent newer windows, so it need not be kept.
    pub fn forget_before(&mut self, end: i64) {
        self.floor = self.floor.max(end);
        if self.ends.len() >= (2 * self.kept).max(1024) {
            let floor = self.floor;
            self.ends.retain(|_, e| *e >= floor);
            self.kept = self.ends.len();
        }
    }

    /// Entities remembered.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether no entity is remembered.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl KafkaSink {
    /// A producer for `topic` on cluster `name`.
    pub fn open(
        name: &str,
        conn: &KafkaCluster,
        topic: &str,
        stopping: &dyn Fn() -> bool,
    ) -> Result<Self, SinkError> {
        let deliveries = Deliveries::default();
        let mut cfg = client_config(conn);
        cfg.set("acks", "all")
            // A missing topic is an error, not created by the metadata request (brokers with
            // auto.create.topics.enable would, with default settings, for a misspelt name).
            .set("allow.auto.create.topics", "false")
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
        super::topic_partitions(producer.client(), name, conn, topic, stopping)
            .map_err(SinkError::permanent)?;
        Ok(KafkaSink {
            name: name.to_string(),
            topic: topic.to_string(),
            producer,
            deliveries,
            newest: NewestWindows::default(),
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
            if !self.newest.admit(&key, r.window_end) {
                continue;
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

    fn forget_before(&mut self, end: i64) {
        self.newest.forget_before(end);
    }
}

#[cfg(test)]
mod tests {
    use super::NewestWindows;

    #[test]
    fn newer_windows_win_and_old_entities_are_forgotten() {
        let mut n = NewestWindows::default();
        assert!(n.admit("f:1:a", 100));
        assert!(
            !n.admit("f:1:a", 90),
            "an older window of a sent entity is not sent"
        );
        assert!(
            n.admit("f:1:a", 100),
            "a correction of the newest window is"
        );
        assert!(n.admit("f:1:a", 110));
        // Many entities whose windows end before 1000, a few after it.
        for i in 0..3000 {
            assert!(n.admit(&format!("f:1:old{i}"), 500 + i % 400));
        }
        for i in 0..10 {
            assert!(n.admit(&format!("f:1:new{i}"), 1000 + i));
        }
        n.forget_before(1000);
        assert_eq!(
            n.len(),
            10,
            "only entities with windows from 1000 on are kept"
        );
        assert!(
            !n.admit("f:1:new5", 999),
            "kept entities still refuse older windows"
        );
        assert!(n.admit("f:1:new5", 1005));
        // A forgotten entity's next row is for a window from 1000 on: sent.
        assert!(n.admit("f:1:old7", 1000));
    }

    #[test]
    fn sweeps_wait_for_the_map_to_double() {
        let mut n = NewestWindows::default();
        for i in 0..1023 {
            n.admit(&format!("k{i}"), i);
        }
        n.forget_before(2000);
        assert_eq!(n.len(), 1023, "below 1024 entries no sweep is made");
        n.admit("k-last", 5000);
        n.forget_before(2000);
        assert_eq!(
            n.len(),
            1,
            "one sweep drops every entity older than the floor"
        );
        // Negative window ends (before the epoch) are kept until the floor passes them.
        let mut n = NewestWindows::default();
        for i in 0..2000 {
            n.admit(&format!("k{i}"), -5000 + i);
        }
        n.forget_before(-4000);
        assert_eq!(n.len(), 1000);
    }
}
