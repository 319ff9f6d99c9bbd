//! The Kafka sink and `freshet produce` against the real broker (tansu): message keys.
//! Needs `KAFKA_BROKERS` (`scripts/services.sh start && eval
//! "$(scripts/services.sh env)"`; scripts/test.sh does both).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use connectors::kafka::sink::KafkaSink;
use connectors::sink::{FeatureUpdate, RowSink};
use planner::job::KafkaCluster;
use planner::types::Value;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start the local services (`scripts/services.sh start && eval \"$(scripts/services.sh env)\"`; scripts/test.sh does both)")
    })
}

fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{n}", std::process::id())
}

fn cluster() -> KafkaCluster {
    KafkaCluster {
        bootstrap_servers: env("KAFKA_BROKERS"),
        properties: BTreeMap::new(),
    }
}

/// A new one-partition topic (created with the Kafka admin API).
fn topic(prefix: &str) -> String {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let topic = unique(prefix);
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", env("KAFKA_BROKERS"))
        .create()
        .expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let created = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))
        .expect("create topic");
    for r in created {
        r.unwrap_or_else(|e| panic!("create topic {topic}: {e:?}"));
    }
    topic
}

/// The topic's (key, payload) records, until `expected` have come (or 30 s pass).
fn consume(topic: &str, expected: usize) -> Vec<(Option<String>, String)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", env("KAFKA_BROKERS"))
        .set("group.id", unique("test-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while out.len() < expected && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push((
                m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                String::from_utf8_lossy(m.payload().unwrap_or(&[])).into_owned(),
            ));
        }
    }
    out
}

/// A timestamp, a bool and a float in the key make the message key the file sink's JSON
/// text of them (`true`, epoch ms), not SQL literals (`TRUE`, `TIMESTAMP ...`; found by QA).
#[test]
fn the_message_key_holds_timestamps_and_bools_as_the_file_sink_writes_them() {
    let topic = topic("keys");
    let mut sink = KafkaSink::open("local", &cluster(), &topic, &|| false).unwrap();
    let t = 1_767_225_600_000i64;
    let row = FeatureUpdate {
        feature: "t5key".into(),
        version: 1,
        key: vec![Value::Bool(true), Value::Ts(t), Value::Float(1.5)],
        values: vec![("n".into(), Value::Int(1))],
        window_start: t,
        window_end: t + 3_600_000,
        revision: 0,
        deleted: false,
        json: b"{\"n\":1}".to_vec(),
    };
    sink.write_batch(&[row]).unwrap();
    let got = consume(&topic, 1);
    assert_eq!(
        got,
        vec![(
            Some(format!("t5key:1:true|{t}|1.5")),
            "{\"n\":1}".to_string()
        )]
    );
}

/// `produce --key-field` keys each record by its top-level field, decoded, and skips blank
/// lines (found by QA: a substring search sent `"user_id": "a"` unkeyed, keyed the
/// second record by a nested field and cut the third at its escaped quote; blank lines
/// were sent as records).
#[test]
fn produce_keys_records_by_the_top_level_field_and_skips_blank_lines() {
    let topic = topic("produce");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    let lines = [
        r#"{"user_id": "a", "n": 1}"#,
        "",
        r#"{"meta":{"user_id":"nested"},"user_id":"b"}"#,
        "   ",
        r#"{"user_id":"c\"q"}"#,
        r#"{"user_id":7}"#,
    ];
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let sent = connectors::kafka::produce::produce_lines(
        "local",
        &cluster(),
        &topic,
        &[&file],
        Some("user_id"),
    )
    .unwrap();
    assert_eq!(sent, 4);
    let keys: Vec<Option<String>> = consume(&topic, 4).into_iter().map(|(k, _)| k).collect();
    let want = ["a", "b", "c\"q", "7"].map(|k| Some(k.to_string()));
    assert_eq!(keys, want);
}

/// A line that is not a JSON object, or lacks the key field, is an error naming the file
/// and line (QA: it was sent without a key, silently).
#[test]
fn produce_refuses_a_line_without_the_key_field_naming_file_and_line() {
    let topic = topic("produce-bad");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    for (text, why) in [
        ("{\"user_id\":\"a\"}\n\nnot json\n", "is not JSON"),
        (
            "{\"user_id\":\"a\"}\n\n{\"user\":\"b\"}\n",
            "no key field `user_id`",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let err = connectors::kafka::produce::produce_lines(
            "local",
            &cluster(),
            &topic,
            &[&file],
            Some("user_id"),
        )
        .unwrap_err();
        let at = format!("{}:3: ", file.display());
        assert!(err.starts_with(&at) && err.contains(why), "{err}");
        assert!(err.contains("before it: 1;"), "{err}");
        assert!(err.contains("hint:"), "{err}");
    }
}
