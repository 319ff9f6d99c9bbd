//! Protobuf and Avro records on a real Kafka topic, end to end through `freshet run`: a
//! `DeliveryEvent` with a oneof becomes a wide sparse table (`has_create`,
//! `create::store_id`, ...), Avro rides flatten nested records; feature values equal
//! counts and sums computed directly from the generated events; undecodable payloads are
//! dead letters.

mod common;

use std::collections::BTreeMap;

use apache_avro::types::{Record, Value as Avro};
use apache_avro::Schema;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Value as Proto};
use serde_json::Value;

use common::services::*;
use common::T0;

const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/examples/schemas");
const HOUR: i64 = 3_600_000;

fn job(deliveries: &str, rides: &str) -> String {
    format!(
        r#"name: formats
sources:
  - name: deliveries
    connector: kafka
    cluster: local
    topic: {deliveries}
    group_id: {g1}
    start: earliest
    format: protobuf
    descriptor_set: delivery.desc
    message: freshet.examples.DeliveryEvent
    schema:
      delivery_id: string!
      event_time: timestamp
      has_create: bool
      has_dropoff: bool
      "create::store_id": string
      "dropoff::distance_km": float
    event_time: event_time
    watermark_delay: 1m
  - name: rides
    connector: kafka
    cluster: local
    topic: {rides}
    group_id: {g2}
    start: earliest
    format: avro
    schema_file: {schemas}/ride_event.avsc
    schema:
      ride_id: string!
      event_time: timestamp
      fare: float
      "pickup::zone": string
    event_time: event_time
features:
  - name: creates_per_store
    sql: |
      SELECT "create::store_id" AS store, COUNT(*) AS n
      FROM deliveries WHERE has_create
      GROUP BY "create::store_id", TUMBLE(rowtime, INTERVAL '1' HOUR)
  - name: dropoff_km
    sql: |
      SELECT COUNT(*) AS n, SUM("dropoff::distance_km") AS km
      FROM deliveries WHERE has_dropoff
      GROUP BY TUMBLE(rowtime, INTERVAL '1' HOUR)
  - name: fares_per_zone
    sql: |
      SELECT "pickup::zone" AS zone, SUM(fare) AS fares, COUNT(fare) AS paid
      FROM rides
      GROUP BY "pickup::zone", TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - {{ name: out, connector: file, path: out/features.jsonl }}
dead_letter: out/dead_letter.jsonl
"#,
        g1 = unique("g"),
        g2 = unique("g"),
        schemas = SCHEMAS
    )
}

#[test]
fn protobuf_and_avro_topics_give_the_directly_computed_features() {
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    // The descriptor set, built from the committed proto as protoc would.
    let mut compiler = protox::Compiler::new([SCHEMAS]).unwrap();
    compiler.include_imports(true);
    compiler.open_file("delivery.proto").unwrap();
    let fds = compiler.encode_file_descriptor_set();
    std::fs::write(dir.path().join("delivery.desc"), &fds).unwrap();
    let pool = DescriptorPool::decode(fds.as_slice()).unwrap();
    let msg = |n: &str| {
        DynamicMessage::new(
            pool.get_message_by_name(&format!("freshet.examples.{n}"))
                .unwrap(),
        )
    };

    // Deliveries: creates (per store), dropoffs (with distance), pickups (neither).
    let mut want_creates: BTreeMap<(String, i64), i64> = BTreeMap::new();
    let mut want_km: BTreeMap<i64, (i64, f64)> = BTreeMap::new();
    let mut records = Vec::new();
    for i in 0..300i64 {
        let t = T0 + i * 37_000;
        let hour = t - t.rem_euclid(HOUR);
        let mut ev = msg("DeliveryEvent");
        ev.set_field_by_name("delivery_id", Proto::String(format!("d{}", i / 3)));
        ev.set_field_by_name("event_time", Proto::I64(t));
        match i % 3 {
            0 => {
                let store = format!("s{}", i % 7);
                let mut c = msg("Create");
                c.set_field_by_name("store_id", Proto::String(store.clone()));
                ev.set_field_by_name("create", Proto::Message(c));
                *want_creates.entry((store, hour)).or_default() += 1;
            }
            1 => {
                let km = (i % 11) as f64 * 0.5;
                let mut d = msg("Dropoff");
                d.set_field_by_name("distance_km", Proto::F64(km));
                ev.set_field_by_name("dropoff", Proto::Message(d));
                let e = want_km.entry(hour).or_default();
                e.0 += 1;
                e.1 += km;
            }
            _ => ev.set_field_by_name("pickup", Proto::Message(msg("Pickup"))),
        }
        records.push((Some(format!("d{}", i / 3)), ev.encode_to_vec()));
    }
    // Not a DeliveryEvent: a wire-type error.
    records.push((Some("bad".into()), vec![0x0f, 0xff, 0xff]));
    let deliveries = unique("deliveries");
    create_topic(&brokers, &deliveries, 2);
    produce(&brokers, &deliveries, &records);

    // Rides: Avro datums, some with a null fare.
    let avsc = std::fs::read_to_string(format!("{SCHEMAS}/ride_event.avsc")).unwrap();
    let schema = Schema::parse_str(&avsc).unwrap();
    let Schema::Record(rs) = &schema else {
        unreachable!()
    };
    let place = &rs.fields[6].schema;
    let mut want_fares: BTreeMap<(String, i64), (f64, i64)> = BTreeMap::new();
    let mut rides_records = Vec::new();
    for i in 0..200i64 {
        let t = T0 + i * 53_000;
        let hour = t - t.rem_euclid(HOUR);
        let zone = ["north", "south", "east"][i as usize % 3].to_string();
        let fare = (i % 4 != 0).then_some((i % 17) as f64 + 0.25);
        let mut pickup = Record::new(place).unwrap();
        pickup.put("zone", zone.as_str());
        pickup.put("lat", 1.0);
        pickup.put("lon", 2.0);
        let mut r = Record::new(&schema).unwrap();
        r.put("ride_id", format!("r{i}").as_str());
        r.put("user_id", "u");
        r.put("event_time", Avro::TimestampMillis(t));
        r.put(
            "fare",
            match fare {
                Some(f) => Avro::Union(1, Box::new(Avro::Double(f))),
                None => Avro::Union(0, Box::new(Avro::Null)),
            },
        );
        r.put("passengers", 1);
        r.put("status", Avro::Enum(2, "ENDED".into()));
        r.put("pickup", pickup);
        r.put("dropoff", Avro::Union(0, Box::new(Avro::Null)));
        r.put("shared", false);
        let e = want_fares.entry((zone, hour)).or_default();
        if let Some(f) = fare {
            e.0 += f;
            e.1 += 1;
        }
        rides_records.push((None, apache_avro::to_avro_datum(&schema, r).unwrap()));
    }
    let rides = unique("rides");
    create_topic(&brokers, &rides, 1);
    produce(&brokers, &rides, &rides_records);

    std::fs::write(dir.path().join("job.yaml"), job(&deliveries, &rides)).unwrap();
    let infra = write_infra(dir.path(), &brokers);
    run_with_infra(
        &dir.path().join("job.yaml"),
        &infra,
        &["--mode", "backfill"],
    );
    let rows: Vec<Value> = std::fs::read_to_string(dir.path().join("out/features.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |f: &'static str| rows.iter().filter(move |r| r["feature"] == f);
    let got_creates: BTreeMap<(String, i64), i64> = of("creates_per_store")
        .map(|r| {
            (
                (
                    r["store"].as_str().unwrap().to_string(),
                    r["window_start"].as_i64().unwrap(),
                ),
                r["n"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got_creates, want_creates);
    let got_km: BTreeMap<i64, (i64, f64)> = of("dropoff_km")
        .map(|r| {
            (
                r["window_start"].as_i64().unwrap(),
                (r["n"].as_i64().unwrap(), r["km"].as_f64().unwrap()),
            )
        })
        .collect();
    assert_eq!(got_km.len(), want_km.len());
    for (h, (n, km)) in &want_km {
        assert_eq!(got_km[h].0, *n);
        assert!(
            (got_km[h].1 - km).abs() < 1e-9,
            "{h}: {} vs {km}",
            got_km[h].1
        );
    }
    let got_fares: BTreeMap<(String, i64), (f64, i64)> = of("fares_per_zone")
        .map(|r| {
            (
                (
                    r["zone"].as_str().unwrap().to_string(),
                    r["window_start"].as_i64().unwrap(),
                ),
                (
                    r["fares"].as_f64().unwrap_or(0.0),
                    r["paid"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(got_fares.len(), want_fares.len());
    for (k, (s, n)) in &want_fares {
        assert_eq!(got_fares[k].1, *n, "{k:?}");
        assert!((got_fares[k].0 - s).abs() < 1e-9, "{k:?}");
    }
    let dl = std::fs::read_to_string(dir.path().join("out/dead_letter.jsonl")).unwrap();
    let dl: Vec<Value> = dl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dl.len(), 1, "{dl:?}");
    assert_eq!(dl[0]["kind"], "malformed");
    // The payload is not UTF-8: its bytes are kept exactly, in base64, to replay (the
    // text alone had replaced them with U+FFFD).
    let bytes = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        dl[0]["record_base64"].as_str().expect("record_base64"),
    )
    .unwrap();
    assert_eq!(bytes, [0x0f, 0xff, 0xff]);
    assert!(dl[0]["file"]
        .as_str()
        .unwrap()
        .starts_with(&format!("kafka://local/{deliveries}/")));
}

/// CSV messages have no header: their fields are the schema's columns in declared order,
/// less the one the message key fills (Flink's `csv` format reads them so too). A message
/// with another number of fields is a dead letter that says so.
#[test]
fn csv_messages_are_read_in_schema_order() {
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("csv");
    create_topic(&brokers, &topic, 1);
    let mut want: BTreeMap<(String, i64), (f64, i64)> = BTreeMap::new();
    let mut records = Vec::new();
    for i in 0..120i64 {
        let t = T0 + i * 61_000;
        let user = format!("u{}", i % 4);
        // Every fifth fare is empty: NULL, not counted by COUNT(fare).
        let fare = (i % 5 != 0).then_some((i % 13) as f64 + 0.5);
        let e = want
            .entry((user.clone(), t - t.rem_euclid(HOUR)))
            .or_default();
        if let Some(f) = fare {
            e.0 += f;
            e.1 += 1;
        }
        let fare = fare.map_or(String::new(), |f| f.to_string());
        records.push((
            Some(user),
            format!("\"north, east\",{fare},{t}").into_bytes(),
        ));
    }
    // The user given in the payload too: four fields where three are declared.
    records.push((Some("u9".into()), format!("u9,zone,1.5,{T0}").into_bytes()));
    produce(&brokers, &topic, &records);
    let job = format!(
        r#"name: csv_messages
sources:
  - name: rides
    connector: kafka
    cluster: local
    topic: {topic}
    group_id: {group}
    start: earliest
    format: csv
    key_column: user_id
    schema: {{ user_id: string!, zone: string, fare: float, event_time: timestamp }}
    event_time: event_time
    watermark_delay: 1m
features:
  - name: fares
    sql: |
      SELECT user_id, SUM(fare) AS fares, COUNT(fare) AS paid, MAX(zone) AS zone
      FROM rides GROUP BY user_id, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - {{ name: out, connector: file, path: out/features.jsonl }}
dead_letter: out/dead_letter.jsonl
"#,
        group = unique("g")
    );
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    let infra = write_infra(dir.path(), &brokers);
    run_with_infra(
        &dir.path().join("job.yaml"),
        &infra,
        &["--mode", "backfill"],
    );
    let rows = common::rows_of(&dir.path().join("out/features.jsonl"));
    let got: BTreeMap<(String, i64), (f64, i64)> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["zone"], "north, east");
            let key = (
                r["user_id"].as_str().unwrap().to_string(),
                r["window_start"].as_i64().unwrap(),
            );
            (
                key,
                (
                    r["fares"].as_f64().unwrap_or(0.0),
                    r["paid"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(got.len(), want.len());
    for (k, (sum, n)) in &want {
        assert_eq!(got[k].1, *n, "{k:?}");
        assert!(
            (got[k].0 - sum).abs() < 1e-9,
            "{k:?}: {} vs {sum}",
            got[k].0
        );
    }
    let dl = common::rows_of(&dir.path().join("out/dead_letter.jsonl"));
    assert_eq!(dl.len(), 1, "{dl:?}");
    let reason = dl[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("4 fields, but the schema declares 3"),
        "{reason}"
    );
    assert!(
        reason.contains("less those filled from the message's key"),
        "{reason}"
    );
}

/// Columns filled from a message's key and headers have their declared types, as payload
/// fields do: an `int` key sums, a `timestamp` header is the event time, and a key or
/// header that is not of its type makes the record a dead letter. Before, they were always
/// strings: the int key summed to nothing, and every event time from a header was a
/// `bad_timestamp` (values by hand below).
#[test]
fn key_and_header_columns_have_their_declared_types() {
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let brokers = kafka_brokers();
    let dir = tempfile::tempdir().unwrap();
    let topic = unique("typed_meta");
    create_topic(&brokers, &topic, 1);
    let t = 1_710_028_800_000i64; // 2024-03-10T00:00:00Z
    let messages: [(Option<&str>, String, i64); 5] = [
        (Some("7"), format!("{}", t + 1000), 1),
        (Some("8"), "2024-03-10T00:00:02Z".into(), 2),
        (Some("x9"), format!("{}", t + 3000), 4), // not an int: wrong_type
        (Some("9"), "soon".into(), 8),            // not a time: bad_timestamp
        (None, format!("{}", t + 4000), 16),      // no key: id is NULL
    ];
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for (key, hts, v) in &messages {
        let headers = OwnedHeaders::new().insert(Header {
            key: "hts",
            value: Some(hts.as_bytes()),
        });
        let payload = format!("{{\"v\":{v}}}");
        let mut record = BaseRecord::to(&topic).payload(&payload).headers(headers);
        if let Some(k) = key {
            record = record.key(*k);
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(std::time::Duration::from_secs(30)).unwrap();
    let job = format!(
        r#"name: typed_meta
sources:
  - name: src
    connector: kafka
    cluster: local
    topic: {topic}
    group_id: {group}
    start: earliest
    format: json
    key_column: id
    header_columns: {{ hts: hts }}
    schema: {{ id: int, v: int, hts: timestamp }}
    event_time: hts
features:
  - name: f
    sql: SELECT COUNT(*) AS n, SUM(id) AS ids, SUM(v) AS vs, MIN(hts) AS first FROM src GROUP BY TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - {{ name: out, connector: file, path: out/features.jsonl }}
dead_letter: out/dead_letter.jsonl
"#,
        group = unique("g")
    );
    std::fs::write(dir.path().join("job.yaml"), job).unwrap();
    let infra = write_infra(dir.path(), &brokers);
    run_with_infra(
        &dir.path().join("job.yaml"),
        &infra,
        &["--mode", "backfill"],
    );
    let rows = common::rows_of(&dir.path().join("out/features.jsonl"));
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    // Messages 1, 2 and 5: three rows; ids 7 + 8 (NULL skipped); v 1 + 2 + 16.
    assert_eq!(
        (
            &r["n"],
            &r["ids"],
            &r["vs"],
            &r["first"],
            &r["window_start"]
        ),
        (
            &Value::from(3),
            &Value::from(15),
            &Value::from(19),
            &Value::from(t + 1000),
            &Value::from(t)
        ),
        "{r}"
    );
    let mut kinds: Vec<(String, String)> =
        common::rows_of(&dir.path().join("out/dead_letter.jsonl"))
            .iter()
            .map(|d| {
                (
                    d["kind"].as_str().unwrap().into(),
                    d["reason"].as_str().unwrap().into(),
                )
            })
            .collect();
    kinds.sort();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert_eq!(kinds[0].0, "bad_timestamp");
    assert!(kinds[0].1.contains("soon"), "{kinds:?}");
    assert_eq!(kinds[1].0, "wrong_type");
    assert!(kinds[1].1.contains("x9"), "{kinds:?}");
}
