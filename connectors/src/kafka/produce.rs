//! Appending JSON-lines files to a topic (`freshet produce`): demo and benchmark input.

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use planner::job::KafkaCluster;

use super::sink::Deliveries;
use super::{client_config, topic_partitions};

/// Sends every line of `files` to `topic` of cluster `cluster` (blank lines are skipped),
/// keyed by the top-level field `key_field` of each line's JSON object when given (so a
/// key's records keep their order in one partition): a string's text, another value's
/// JSON (`42`, `true`). With a key field, a line that is not a JSON object, or whose
/// object lacks the field (or holds `null` in it), is an error naming the file and line
/// (the lines before it were sent); without one, lines are sent as they are, unparsed.
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
    let mut n = 0u64;
    for f in files {
        let f = f.as_ref();
        let file = std::fs::File::open(f).map_err(|e| format!("{}: {e}", f.display()))?;
        for (i, line) in std::io::BufReader::with_capacity(1 << 20, file)
            .lines()
            .enumerate()
        {
            let line = line.map_err(|e| format!("{}: {e}", f.display()))?;
            // A byte-order mark is not part of the first record, as in the file source.
            let line = if i == 0 {
                line.strip_prefix('\u{feff}').unwrap_or(&line)
            } else {
                &line
            };
            if line.trim().is_empty() {
                continue;
            }
            let key = match key_field {
                None => None,
                Some(field) => match key_of(line, field) {
                    Ok(k) => Some(k),
                    Err(why) => {
                        // The lines before it go out, as the error says.
                        let _ = producer.flush(Duration::from_secs(120));
                        return Err(format!(
                            "{}:{}: {why} (records sent to `{topic}` before it: {n}; hint: fix or remove the line, or leave out --key-field to send lines unkeyed and unparsed)",
                            f.display(),
                            i + 1
                        ));
                    }
                },
            };
            let mut rec = BaseRecord::<str, str>::to(topic).payload(line);
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

/// The key of a record: the top-level field `field` of the JSON object `line`, a string's
/// text or another value's JSON text. Why not, when the line is not a JSON object or has no
/// (non-null) such field.
fn key_of(line: &str, field: &str) -> Result<String, String> {
    let object = match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(o)) => o,
        Ok(_) => return Err("the line is not a JSON object".into()),
        Err(e) => return Err(format!("the line is not JSON ({e})")),
    };
    match object.get(field) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        None | Some(serde_json::Value::Null) => {
            Err(format!("the record has no key field `{field}`"))
        }
        Some(v) => Ok(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::key_of;

    /// The key is the top-level field, decoded, wherever it is and however it is spaced
    /// (found by QA: a substring search missed `"user_id": "a"`, took a nested field and cut
    /// at an escaped quote).
    #[test]
    fn the_key_is_the_decoded_top_level_field() {
        let key = |l: &str| key_of(l, "user_id");
        assert_eq!(key(r#"{"user_id": "a"}"#).unwrap(), "a");
        assert_eq!(
            key(r#"{"meta":{"user_id":"nested"},"user_id":"b"}"#).unwrap(),
            "b"
        );
        assert_eq!(key(r#"{"user_id":"c\"q"}"#).unwrap(), "c\"q");
        assert_eq!(key(r#"{"user_id":"\u00e9"}"#).unwrap(), "é");
        assert_eq!(key(r#"{"user_id":42}"#).unwrap(), "42");
        let err = key(r#"{"meta":{"user_id":"nested"}}"#).unwrap_err();
        assert!(err.contains("no key field `user_id`"), "{err}");
        assert!(key(r#"{"user_id":null}"#).is_err());
        assert!(key("not json").unwrap_err().contains("not JSON"));
        assert!(key("[1]").unwrap_err().contains("not a JSON object"));
    }
}
