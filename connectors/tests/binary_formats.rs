//! A job file with Avro and Protobuf Kafka sources, from YAML to a planned source and its
//! decoder: flattened `a::b` and `has_` columns pass validation, SQL reads them as quoted
//! identifiers, the schema files resolve relative to the job file, and decoded rows hold
//! the needed columns.

use std::path::Path;

use apache_avro::types::{Record, Value as Avro};
use apache_avro::Schema;
use connectors::format::Decoder;
use planner::job::{parse_infra, parse_job_with_infra};
use planner::{plan_job, Value};
use prost::Message as _;
use prost_reflect::{DynamicMessage, Value as ProtoValue};

const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/examples/schemas");

const JOB: &str = r#"
name: binary_formats
sources:
  - name: deliveries
    connector: kafka
    cluster: local
    topic: deliveries
    format: protobuf
    descriptor_set: schemas/delivery.desc
    message: freshet.examples.DeliveryEvent
    key_column: k
    schema:
      k: string
      delivery_id: string!
      event_time: timestamp
      has_create: bool
      "create::store_id": string
      "dropoff::distance_km": float
    event_time: event_time
  - name: rides
    connector: kafka
    cluster: local
    topic: rides
    format: avro
    schema_file: schemas/ride_event.avsc
    schema:
      ride_id: string!
      user_id: string
      event_time: timestamp
      fare: float
      "pickup::zone": string
      "dropoff::zone": string
    event_time: event_time
features:
  - name: creates_per_store
    sql: |
      SELECT "create::store_id", COUNT(*) AS n
      FROM deliveries WHERE has_create
      GROUP BY "create::store_id", TUMBLE(rowtime, INTERVAL '1' HOUR)
  - name: fares_per_zone
    sql: |
      SELECT "pickup::zone", SUM(fare) AS fares
      FROM rides
      GROUP BY "pickup::zone", TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - name: out
    connector: file
    path: out.jsonl
"#;

#[test]
fn a_job_with_avro_and_protobuf_sources_plans_and_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let schemas = dir.path().join("schemas");
    std::fs::create_dir(&schemas).unwrap();
    // The descriptor set is built from the committed proto, as `protoc
    // --include_imports --descriptor_set_out` would.
    let mut compiler = protox::Compiler::new([SCHEMAS]).unwrap();
    compiler.include_imports(true);
    compiler.open_file("delivery.proto").unwrap();
    std::fs::write(
        schemas.join("delivery.desc"),
        compiler.encode_file_descriptor_set(),
    )
    .unwrap();
    let avsc = std::fs::read_to_string(Path::new(SCHEMAS).join("ride_event.avsc")).unwrap();
    std::fs::write(schemas.join("ride_event.avsc"), &avsc).unwrap();

    let infra = parse_infra(
        Path::new("infra.yaml"),
        "kafka:\n  local: { bootstrap_servers: \"127.0.0.1:9092\" }\n",
        |_| None,
    )
    .unwrap();
    let job = parse_job_with_infra(&dir.path().join("job.yaml"), JOB, Some(infra))
        .unwrap_or_else(|e| panic!("{e}"));
    let planned = plan_job(&job).unwrap_or_else(|e| panic!("{e}"));
    let sources = &planned.physical.sources;

    // Protobuf: the key column is the connector's; unread columns are not decoded.
    let deliveries = &sources[0];
    assert_eq!(deliveries.needed, [false, true, true, true, true, false]);
    let mut decoder = Decoder::new(deliveries).unwrap();
    let pool = compiler.descriptor_pool();
    let msg = |name: &str| {
        DynamicMessage::new(
            pool.get_message_by_name(&format!("freshet.examples.{name}"))
                .unwrap(),
        )
    };
    let mut event = msg("DeliveryEvent");
    event.set_field_by_name("delivery_id", ProtoValue::String("d-1".into()));
    event.set_field_by_name("event_time", ProtoValue::I64(3_600_000));
    let mut create = msg("Create");
    create.set_field_by_name("store_id", ProtoValue::String("s-1".into()));
    event.set_field_by_name("create", ProtoValue::Message(create));
    let mut row = vec![Value::Null; 6];
    row[0] = Value::Str("key".into());
    decoder.decode(&event.encode_to_vec(), &mut row).unwrap();
    assert_eq!(
        row,
        vec![
            Value::Str("key".into()),
            Value::Str("d-1".into()),
            Value::Ts(3_600_000),
            Value::Bool(true),
            Value::Str("s-1".into()),
            Value::Null,
        ]
    );

    // Avro, Confluent-framed.
    let rides = &sources[1];
    let mut decoder = Decoder::new(rides).unwrap();
    let schema = Schema::parse_str(&avsc).unwrap();
    let Schema::Record(rs) = &schema else {
        unreachable!()
    };
    let place = &rs.fields[6].schema;
    let mut pickup = Record::new(place).unwrap();
    pickup.put("zone", "north");
    pickup.put("lat", 1.0);
    pickup.put("lon", 2.0);
    let mut r = Record::new(&schema).unwrap();
    r.put("ride_id", "r-1");
    r.put("user_id", "u-1");
    r.put("event_time", Avro::TimestampMillis(7_200_000));
    r.put("fare", Avro::Union(1, Box::new(Avro::Double(9.5))));
    r.put("passengers", 1);
    r.put("status", Avro::Enum(2, "ENDED".into()));
    r.put("pickup", pickup);
    r.put("dropoff", Avro::Union(0, Box::new(Avro::Null)));
    r.put("shared", false);
    let mut payload = vec![0, 0, 0, 0, 7];
    payload.extend(apache_avro::to_avro_datum(&schema, r).unwrap());
    let mut row = vec![Value::Null; 6];
    decoder.decode(&payload, &mut row).unwrap();
    assert_eq!(row[0], Value::Str("r-1".into()));
    assert_eq!(row[2], Value::Ts(7_200_000));
    assert_eq!(row[3], Value::Float(9.5));
    assert_eq!(row[4], Value::Str("north".into()));
}

#[test]
fn a_column_missing_from_the_schema_fails_decoder_construction() {
    let dir = tempfile::tempdir().unwrap();
    let schemas = dir.path().join("schemas");
    std::fs::create_dir(&schemas).unwrap();
    std::fs::copy(
        Path::new(SCHEMAS).join("ride_event.avsc"),
        schemas.join("ride_event.avsc"),
    )
    .unwrap();
    let job = r#"
name: j
sources:
  - name: rides
    connector: kafka
    cluster: local
    topic: rides
    format: avro
    schema_file: schemas/ride_event.avsc
    schema: { ride_id: string, event_time: timestamp, pickup_zone: string }
    event_time: event_time
features:
  - name: f
    sql: SELECT pickup_zone, COUNT(*) AS n FROM rides GROUP BY pickup_zone, TUMBLE(rowtime, INTERVAL '1' HOUR)
sinks:
  - { name: out, connector: file, path: out.jsonl }
"#;
    let infra = parse_infra(
        Path::new("infra.yaml"),
        "kafka:\n  local: { bootstrap_servers: \"127.0.0.1:9092\" }\n",
        |_| None,
    )
    .unwrap();
    let job = parse_job_with_infra(&dir.path().join("job.yaml"), job, Some(infra))
        .unwrap_or_else(|e| panic!("{e}"));
    let planned = plan_job(&job).unwrap_or_else(|e| panic!("{e}"));
    let e = Decoder::new(&planned.physical.sources[0]).err().unwrap();
    assert!(
        e.contains("column `pickup_zone` is not a field of the Avro schema")
            && e.contains("ride_event.avsc")
            && e.contains("did you mean `pickup::zone`?"),
        "{e}"
    );
}
