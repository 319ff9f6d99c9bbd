//! Unit tests of the protobuf decoder (`protobuf.rs`).

use super::*;
use crate::format::test_support::{col, plan_with};
use planner::job::{Format, SourceConnector};

fn test_plan(columns: Vec<Column>) -> SourcePlan {
    plan_with("deliveries", Format::Protobuf, columns)
}
use prost::Message as _;

const PROTO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/examples/schemas");
const EVENT: &str = "freshet.examples.DeliveryEvent";

/// Compiles the committed example proto (with imports) into a descriptor pool and its
/// encoded FileDescriptorSet.
fn compile() -> (DescriptorPool, Vec<u8>) {
    let mut c = protox::Compiler::new([PROTO_DIR]).unwrap();
    c.include_imports(true);
    c.open_file("delivery.proto").unwrap();
    (c.descriptor_pool(), c.encode_file_descriptor_set())
}

fn columns() -> Vec<Column> {
    use DataType::*;
    vec![
        col("delivery_id", String, true),
        col("event_time", Timestamp, true),
        col("has_create", Bool, false),
        col("create::store_id", String, false),
        col("create::created_at", Timestamp, false),
        col("has_dropoff", Bool, false),
        col("dropoff::distance_km", Float, false),
        col("dropoff::contactless", Bool, false),
        col("courier::vehicle", String, false),
        col("courier::location::lat", Float, false),
        col("tip", Float, false),
        col("channel", String, false),
        col("sent_at", Timestamp, false),
        col("has_cash", Bool, false),
        col("cash", Bool, false),
        col("Card_Token", String, false),
    ]
}

fn decoder(pool: &DescriptorPool, columns: Vec<Column>) -> Result<ProtobufDecoder, String> {
    ProtobufDecoder::with_pool(&test_plan(columns), pool, EVENT, Path::new("delivery.desc"))
}

fn message(pool: &DescriptorPool, name: &str) -> DynamicMessage {
    DynamicMessage::new(
        pool.get_message_by_name(&format!("freshet.examples.{name}"))
            .unwrap(),
    )
}

fn decode(d: &mut ProtobufDecoder, bytes: &[u8]) -> Result<Vec<Value>, RecordError> {
    let mut row = vec![Value::Str("stale".into()); d.columns.len()];
    d.decode(bytes, &mut row).map(|_| row)
}

fn create_event(pool: &DescriptorPool) -> DynamicMessage {
    let mut m = message(pool, "DeliveryEvent");
    m.set_field_by_name("delivery_id", ProtoValue::String("d-1".into()));
    m.set_field_by_name("event_time", ProtoValue::I64(1_700_000_000_123));
    let mut c = message(pool, "Create");
    c.set_field_by_name("store_id", ProtoValue::String("s-9".into()));
    c.set_field_by_name("created_at", ProtoValue::I64(1_700_000_000_000));
    m.set_field_by_name("create", ProtoValue::Message(c));
    m
}

#[test]
fn oneof_members_give_has_columns_and_flattened_fields() {
    let (pool, _) = compile();
    let mut d = decoder(&pool, columns()).unwrap();
    let row = decode(&mut d, &create_event(&pool).encode_to_vec()).unwrap();
    assert_eq!(
        row,
        vec![
            Value::Str("d-1".into()),
            Value::Ts(1_700_000_000_123),
            Value::Bool(true),
            Value::Str("s-9".into()),
            Value::Ts(1_700_000_000_000),
            Value::Bool(false),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Str("CHANNEL_UNSPECIFIED".into()),
            Value::Null,
            Value::Bool(false),
            Value::Null,
            Value::Null,
        ]
    );
}

#[test]
fn set_members_defaults_enums_timestamps_and_deep_nesting() {
    let (pool, _) = compile();
    let mut d = decoder(&pool, columns()).unwrap();
    let mut m = message(&pool, "DeliveryEvent");
    m.set_field_by_name("delivery_id", ProtoValue::String("d-2".into()));
    m.set_field_by_name("event_time", ProtoValue::I64(5));
    // A set member whose fields are all defaults: present, fields read as defaults.
    m.set_field_by_name("dropoff", ProtoValue::Message(message(&pool, "Dropoff")));
    let mut loc = message(&pool, "Location");
    loc.set_field_by_name("lat", ProtoValue::F64(52.25));
    let mut courier = message(&pool, "Courier");
    courier.set_field_by_name("vehicle", ProtoValue::EnumNumber(2));
    courier.set_field_by_name("location", ProtoValue::Message(loc));
    m.set_field_by_name("courier", ProtoValue::Message(courier));
    m.set_field_by_name("tip", ProtoValue::F64(0.0));
    m.set_field_by_name("channel", ProtoValue::EnumNumber(7)); // unknown number
    let mut ts = DynamicMessage::new(pool.get_message_by_name(TIMESTAMP).unwrap());
    ts.set_field_by_name("seconds", ProtoValue::I64(1_700_000_000));
    ts.set_field_by_name("nanos", ProtoValue::I32(250_999_999));
    m.set_field_by_name("sent_at", ProtoValue::Message(ts));
    m.set_field_by_name("cash", ProtoValue::Bool(false));
    let row = decode(&mut d, &m.encode_to_vec()).unwrap();
    assert_eq!(
        row,
        vec![
            Value::Str("d-2".into()),
            Value::Ts(5),
            Value::Bool(false),
            Value::Null,
            Value::Null,
            Value::Bool(true),
            Value::Float(0.0),
            Value::Bool(false),
            Value::Str("CAR".into()),
            Value::Float(52.25),
            Value::Float(0.0),
            Value::Str("7".into()),
            Value::Ts(1_700_000_000_250),
            Value::Bool(true),
            Value::Bool(false),
            Value::Null,
        ]
    );
}

#[test]
fn unneeded_and_connector_columns_are_left_alone() {
    let (pool, _) = compile();
    let mut p = test_plan(vec![
        col("delivery_id", DataType::String, true),
        col("event_time", DataType::Int, true),
        col("create::store_id", DataType::String, false),
        col("kafka_key", DataType::String, false),
    ]);
    p.needed = vec![true, true, false, true];
    p.source.connector = SourceConnector::Kafka {
        cluster: "c".into(),
        topic: "t".into(),
        group_id: "g".into(),
        start: planner::job::StartPosition::Earliest,
        idle_timeout_ms: 0,
        key_column: None,
        header_columns: vec![("trace".into(), 3)],
    };
    let mut d = ProtobufDecoder::with_pool(&p, &pool, EVENT, Path::new("x")).unwrap();
    let mut row = vec![
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Str("h".into()),
    ];
    d.decode(&create_event(&pool).encode_to_vec(), &mut row)
        .unwrap();
    assert_eq!(
        row,
        vec![
            Value::Str("d-1".into()),
            Value::Int(1_700_000_000_123),
            Value::Null,
            Value::Str("h".into())
        ]
    );
}

#[test]
fn required_columns_and_bad_payloads() {
    let (pool, _) = compile();
    let mut cols = columns();
    cols[3].required = true; // create::store_id
    let mut d = decoder(&pool, cols).unwrap();
    let mut m = create_event(&pool);
    m.set_field_by_name("dropoff", ProtoValue::Message(message(&pool, "Dropoff")));
    assert_eq!(
        decode(&mut d, &m.encode_to_vec()),
        Err(RecordError::MissingRequired("create::store_id".into()))
    );
    let bytes = create_event(&pool).encode_to_vec();
    for cut in [1, 3, bytes.len() - 1] {
        let e = decode(&mut d, &bytes[..cut]).unwrap_err();
        assert!(matches!(e, RecordError::Malformed(_)), "cut {cut}: {e:?}");
        assert!(
            e.to_string()
                .contains("not a Protobuf message `freshet.examples.DeliveryEvent`"),
            "{e}"
        );
    }
    // Field 1 (delivery_id, a string) sent as a varint: wrong wire type.
    let e = decode(&mut d, &[0x08, 0x01]).unwrap_err();
    assert!(matches!(e, RecordError::Malformed(_)), "{e:?}");
    // Invalid UTF-8 in a string.
    let e = decode(&mut d, &[0x0a, 0x01, 0xff]).unwrap_err();
    assert!(matches!(e, RecordError::Malformed(_)), "{e:?}");
    // An empty payload is a valid message with every field default.
    assert_eq!(
        decode(&mut d, &[]).unwrap_err(),
        RecordError::MissingRequired("create::store_id".into())
    );
}

#[test]
fn schema_mismatches_fail_at_startup() {
    let (pool, _) = compile();
    let err = |cols: Vec<Column>| decoder(&pool, cols).err().expect("an error");
    let e = err(vec![col("create::store", DataType::String, false)]);
    assert!(
        e.contains("column `create::store` is not in message `freshet.examples.DeliveryEvent` of descriptor set `delivery.desc`")
            && e.contains("did you mean `create::store_id`?"),
        "{e}"
    );
    let e = err(vec![col("has_creat", DataType::Bool, false)]);
    assert!(e.contains("did you mean `has_create`?"), "{e}");
    let e = err(vec![col("has_create", DataType::String, false)]);
    assert!(e.contains("presence columns are bool"), "{e}");
    let e = err(vec![col("delivery_id", DataType::Int, false)]);
    assert!(
        e.contains("declared int but the field is Protobuf string; declare it as string"),
        "{e}"
    );
    let e = err(vec![col("create", DataType::String, false)]);
    assert!(
        e.contains("is a message; declare its fields as `create::<field>` or `has_create`"),
        "{e}"
    );
    let e = err(vec![col("has_delivery_id", DataType::Bool, false)]);
    assert!(e.contains("has no presence"), "{e}");
    let e = err(vec![col("sent_at", DataType::Int, false)]);
    assert!(e.contains("declare it as timestamp"), "{e}");
    let e = ProtobufDecoder::with_pool(
        &test_plan(columns()),
        &pool,
        "DeliveryEvent",
        Path::new("d.desc"),
    )
    .err()
    .unwrap();
    assert!(
        e.contains("message `DeliveryEvent` is not in descriptor set `d.desc`")
            && e.contains("did you mean `freshet.examples.DeliveryEvent`?"),
        "{e}"
    );
    let e = ProtobufDecoder::with_pool(
        &test_plan(columns()),
        &pool,
        "freshet.examples.DeliveryEvnt",
        Path::new("d.desc"),
    )
    .err()
    .unwrap();
    assert!(
        e.contains("did you mean `freshet.examples.DeliveryEvent`?"),
        "{e}"
    );
}

/// The committed example proto compiles into a descriptor set file that the decoder
/// loads from disk, as a job would.
#[test]
fn loads_a_descriptor_set_built_from_the_example_proto() {
    let (pool, fds) = compile();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("delivery.desc");
    std::fs::write(&path, fds).unwrap();
    let mut p = test_plan(columns());
    p.source.format_options.descriptor_set = Some(path.clone());
    p.source.format_options.message = Some(EVENT.into());
    let mut d = ProtobufDecoder::new(&p).unwrap();
    let row = decode(&mut d, &create_event(&pool).encode_to_vec()).unwrap();
    assert_eq!(row[3], Value::Str("s-9".into()));
    std::fs::write(&path, b"\x0a\x05junk").unwrap();
    let e = ProtobufDecoder::new(&p).err().unwrap();
    assert!(e.contains("invalid descriptor set"), "{e}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Random events encoded by prost-reflect decode to the expected rows.
    #[test]
    fn random_messages_round_trip(
        id in ".{0,20}",
        t in proptest::prelude::any::<i64>(),
        kind in 0usize..5,
        store in "[a-z]{0,8}",
        created in proptest::prelude::any::<i64>(),
        km in proptest::prelude::any::<f64>(),
        tip in proptest::option::of(proptest::prelude::any::<f64>()),
        channel in 0i32..4,
    ) {
        let (pool, _) = compile();
        let mut m = message(&pool, "DeliveryEvent");
        m.set_field_by_name("delivery_id", ProtoValue::String(id.clone()));
        m.set_field_by_name("event_time", ProtoValue::I64(t));
        match kind {
            1 => {
                let mut c = message(&pool, "Create");
                c.set_field_by_name("store_id", ProtoValue::String(store.clone()));
                c.set_field_by_name("created_at", ProtoValue::I64(created));
                m.set_field_by_name("create", ProtoValue::Message(c));
            }
            2 => {
                let mut c = message(&pool, "Dropoff");
                c.set_field_by_name("distance_km", ProtoValue::F64(km));
                m.set_field_by_name("dropoff", ProtoValue::Message(c));
            }
            3 => m.set_field_by_name("pickup", ProtoValue::Message(message(&pool, "Pickup"))),
            4 => m.set_field_by_name("cancel", ProtoValue::Message(message(&pool, "Cancel"))),
            _ => {}
        }
        if let Some(x) = tip {
            m.set_field_by_name("tip", ProtoValue::F64(x));
        }
        m.set_field_by_name("channel", ProtoValue::EnumNumber(channel));
        let cols = {
            use DataType::*;
            vec![
                col("delivery_id", String, false),
                col("event_time", Int, false),
                col("has_create", Bool, false),
                col("create::store_id", String, false),
                col("create::created_at", Float, false),
                col("has_dropoff", Bool, false),
                col("dropoff::distance_km", Float, false),
                col("has_pickup", Bool, false),
                col("has_tip", Bool, false),
                col("tip", Float, false),
                col("channel", String, false),
            ]
        };
        let mut d = decoder(&pool, cols).unwrap();
        let row = decode(&mut d, &m.encode_to_vec()).unwrap();
        let channels = ["CHANNEL_UNSPECIFIED", "APP", "WEB", "PHONE"];
        let want = vec![
            Value::Str(id.as_str().into()),
            Value::Int(t),
            Value::Bool(kind == 1),
            if kind == 1 { Value::Str(store.as_str().into()) } else { Value::Null },
            if kind == 1 { Value::Float(created as f64) } else { Value::Null },
            Value::Bool(kind == 2),
            // prost-reflect skips a proto3 -0.0 as a default value.
            if kind == 2 { Value::Float(if km == 0.0 { 0.0 } else { km }) } else { Value::Null },
            Value::Bool(kind == 3),
            Value::Bool(tip.is_some()),
            tip.map_or(Value::Null, Value::Float),
            Value::Str(channels[channel as usize].into()),
        ];
        proptest::prop_assert_eq!(row, want);
    }
}
