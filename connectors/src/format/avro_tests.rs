//! Unit tests of the avro decoder (`avro.rs`).

use super::*;
use crate::format::test_support::{col, plan_with};
use apache_avro::types::Record;
use planner::job::{Format, SourceConnector};

fn test_plan(columns: Vec<Column>) -> SourcePlan {
    plan_with("rides", Format::Avro, columns)
}

const SCHEMA: &str = r#"{
  "type": "record", "name": "RideEvent", "namespace": "freshet.examples",
  "fields": [
    {"name": "ride_id", "type": "string"},
    {"name": "event_time", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "fare", "type": ["null", "double"], "default": null},
    {"name": "passengers", "type": "int"},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["REQUESTED", "STARTED", "ENDED"]}},
    {"name": "pickup", "type": {"type": "record", "name": "Place", "fields": [
        {"name": "zone", "type": "string"},
        {"name": "lat", "type": "double"},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}}
    ]}},
    {"name": "dropoff", "type": ["null", "Place"], "default": null},
    {"name": "shared", "type": "boolean"},
    {"name": "tags", "type": {"type": "array", "items": "string"}}
  ]
}"#;

fn columns() -> Vec<Column> {
    vec![
        col("ride_id", DataType::String, true),
        col("event_time", DataType::Timestamp, true),
        col("FARE", DataType::Float, false),
        col("passengers", DataType::Int, false),
        col("status", DataType::String, false),
        col("pickup::zone", DataType::String, false),
        col("pickup::lat", DataType::Float, false),
        col("pickup::at", DataType::Timestamp, false),
        col("dropoff::zone", DataType::String, false),
        col("shared", DataType::Bool, false),
    ]
}

fn schema() -> Schema {
    Schema::parse_str(SCHEMA).unwrap()
}

fn decoder(columns: Vec<Column>) -> Result<AvroDecoder, String> {
    AvroDecoder::with_schema(&test_plan(columns), schema(), Path::new("ride_event.avsc"))
}

fn place(s: &Schema, zone: &str, lat: f64, at_us: i64) -> Avro {
    let Schema::Record(r) = s else { unreachable!() };
    let place = &r.fields[5].schema;
    let mut p = Record::new(place).unwrap();
    p.put("zone", zone);
    p.put("lat", lat);
    p.put("at", Avro::TimestampMicros(at_us));
    p.into()
}

fn encode(fare: Option<f64>, dropoff: Option<Avro>) -> Vec<u8> {
    let s = schema();
    let mut r = Record::new(&s).unwrap();
    r.put("ride_id", "r-1");
    r.put("event_time", Avro::TimestampMillis(1_700_000_000_123));
    r.put(
        "fare",
        match fare {
            Some(f) => Avro::Union(1, Box::new(Avro::Double(f))),
            None => Avro::Union(0, Box::new(Avro::Null)),
        },
    );
    r.put("passengers", 2);
    r.put("status", Avro::Enum(1, "STARTED".into()));
    r.put("pickup", place(&s, "north", 52.5, 1_700_000_000_000_999));
    r.put(
        "dropoff",
        match dropoff {
            Some(d) => Avro::Union(1, Box::new(d)),
            None => Avro::Union(0, Box::new(Avro::Null)),
        },
    );
    r.put("shared", true);
    r.put("tags", Avro::Array(vec![Avro::String("a".into())]));
    apache_avro::to_avro_datum(&s, r).unwrap()
}

fn decode(d: &mut AvroDecoder, bytes: &[u8]) -> Result<Vec<Value>, RecordError> {
    let mut row = vec![Value::Null; d.columns.len()];
    d.decode(bytes, &mut row).map(|_| row)
}

fn expected(fare: Value, dropoff_zone: Value) -> Vec<Value> {
    vec![
        Value::Str("r-1".into()),
        Value::Ts(1_700_000_000_123),
        fare,
        Value::Int(2),
        Value::Str("STARTED".into()),
        Value::Str("north".into()),
        Value::Float(52.5),
        Value::Ts(1_700_000_000_000),
        dropoff_zone,
        Value::Bool(true),
    ]
}

#[test]
fn decodes_scalars_enums_logical_types_and_nested_records() {
    let mut d = decoder(columns()).unwrap();
    let s = schema();
    let bytes = encode(Some(12.5), Some(place(&s, "south", 1.0, 0)));
    assert_eq!(
        decode(&mut d, &bytes).unwrap(),
        expected(Value::Float(12.5), Value::Str("south".into()))
    );
}

#[test]
fn null_union_branches_are_null_and_null_records_null_their_fields() {
    let mut d = decoder(columns()).unwrap();
    // The row is reused: values from the previous record must not leak.
    let mut row = vec![Value::Str("stale".into()); 10];
    d.decode(&encode(None, None), &mut row).unwrap();
    assert_eq!(row, expected(Value::Null, Value::Null));
}

#[test]
fn unneeded_columns_are_left_alone() {
    let mut p = test_plan(columns());
    p.needed = vec![
        true, true, false, false, false, false, false, false, true, false,
    ];
    let mut d = AvroDecoder::with_schema(&p, schema(), Path::new("x.avsc")).unwrap();
    let s = schema();
    let row = decode(&mut d, &encode(Some(1.0), Some(place(&s, "z", 0.0, 0)))).unwrap();
    let mut want = vec![Value::Null; 10];
    want[0] = Value::Str("r-1".into());
    want[1] = Value::Ts(1_700_000_000_123);
    want[8] = Value::Str("z".into());
    assert_eq!(row, want);
}

#[test]
fn timestamps_and_widening_follow_the_json_rules() {
    let mut cols = columns();
    cols[3] = col("passengers", DataType::Float, false);
    cols[7] = col("pickup::at", DataType::Int, false);
    let mut d = decoder(cols).unwrap();
    let row = decode(&mut d, &encode(None, None)).unwrap();
    assert_eq!(row[3], Value::Float(2.0));
    assert!(matches!(row[3], Value::Float(_)));
    assert!(matches!(row[7], Value::Int(1_700_000_000_000)));
}

#[test]
fn confluent_framing_is_detected() {
    let mut d = decoder(columns()).unwrap();
    let mut framed = vec![0, 0, 0, 0, 42];
    framed.extend(encode(Some(3.0), None));
    assert_eq!(
        decode(&mut d, &framed).unwrap(),
        expected(Value::Float(3.0), Value::Null)
    );
    assert!(d.framed);
    // Plain datums still decode after framing was seen.
    assert_eq!(
        decode(&mut d, &encode(Some(4.0), None)).unwrap(),
        expected(Value::Float(4.0), Value::Null)
    );
    assert_eq!(
        decode(&mut d, &framed).unwrap(),
        expected(Value::Float(3.0), Value::Null)
    );
}

#[test]
fn bad_payloads_are_malformed() {
    let mut d = decoder(columns()).unwrap();
    let bytes = encode(Some(1.0), None);
    for cut in [0, 1, 5, bytes.len() / 2, bytes.len() - 1] {
        let e = decode(&mut d, &bytes[..cut]).unwrap_err();
        assert!(matches!(e, RecordError::Malformed(_)), "cut {cut}: {e:?}");
    }
    let mut long = bytes.clone();
    long.push(7);
    let e = decode(&mut d, &long).unwrap_err();
    assert!(e.to_string().contains("1 bytes left"), "{e}");
    // An enum index out of range.
    let mut bad = bytes.clone();
    let status_at = 1 + 3 + 6 + 1 + 8 + 1; // "r-1", ts, union index, double, passengers
    bad[status_at] = 0x7e;
    assert!(matches!(
        decode(&mut d, &bad),
        Err(RecordError::Malformed(_))
    ));
    let mut framed = vec![0, 0, 0, 0, 1];
    framed.extend(&bytes[..bytes.len() - 2]);
    let e = decode(&mut d, &framed).unwrap_err();
    assert!(e.to_string().contains("Confluent"), "{e}");
}

#[test]
fn required_columns_are_checked() {
    let mut cols = columns();
    cols[2].required = true;
    let mut d = decoder(cols).unwrap();
    assert_eq!(
        decode(&mut d, &encode(None, None)),
        Err(RecordError::MissingRequired("FARE".into()))
    );
}

#[test]
fn schema_mismatches_fail_at_startup() {
    let err = |cols: Vec<Column>| decoder(cols).err().expect("an error");
    let e = err(vec![col("pickup::zon", DataType::String, false)]);
    assert!(
        e.contains("column `pickup::zon` is not a field of the Avro schema `ride_event.avsc`")
            && e.contains("did you mean `pickup::zone`?"),
        "{e}"
    );
    let e = err(vec![col("fares", DataType::Float, false)]);
    assert!(e.contains("did you mean `fare`?"), "{e}");
    let e = err(vec![col("ride_id", DataType::Int, false)]);
    assert!(
        e.contains("declared int but the field is Avro string; declare it as string"),
        "{e}"
    );
    let e = err(vec![col("fare", DataType::Int, false)]);
    assert!(e.contains("declare it as float"), "{e}");
    let e = err(vec![col("pickup", DataType::String, false)]);
    assert!(
        e.contains("is a record; declare its fields as `pickup::<field>`"),
        "{e}"
    );
    let e = err(vec![col("tags", DataType::String, false)]);
    assert!(e.contains("Avro type array cannot be a column"), "{e}");
    let e = err(vec![col("status", DataType::Int, false)]);
    assert!(e.contains("enum Status"), "{e}");
}

#[test]
fn connector_columns_need_not_be_in_the_schema() {
    let mut p = test_plan(vec![
        col("ride_id", DataType::String, true),
        col("event_time", DataType::Timestamp, true),
        col("kafka_key", DataType::String, false),
    ]);
    p.source.connector = SourceConnector::Kafka {
        cluster: "c".into(),
        topic: "t".into(),
        group_id: "g".into(),
        start: planner::job::StartPosition::Earliest,
        idle_timeout_ms: 0,
        key_column: Some(2),
        header_columns: vec![],
    };
    let mut d = AvroDecoder::with_schema(&p, schema(), Path::new("x.avsc")).unwrap();
    // The source fills the key before decoding; the decoder keeps it.
    let mut row = vec![Value::Null, Value::Null, Value::Str("k".into())];
    d.decode(&encode(None, None), &mut row).unwrap();
    assert_eq!(row[2], Value::Str("k".into()));
}

#[test]
fn the_example_schema_parses() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../configs/examples/schemas/ride_event.avsc"
    );
    let mut p = test_plan(vec![
        col("ride_id", DataType::String, true),
        col("event_time", DataType::Timestamp, true),
        col("fare", DataType::Float, false),
        col("pickup::zone", DataType::String, false),
    ]);
    p.source.format_options.schema_file = Some(path.into());
    AvroDecoder::new(&p).unwrap();
    p.source.format_options.schema_file = Some("/nonexistent.avsc".into());
    let e = AvroDecoder::new(&p).err().unwrap();
    assert!(
        e.contains("cannot read Avro schema `/nonexistent.avsc`"),
        "{e}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
    /// Whatever the values, encoding with apache-avro and decoding with ours agree.
    #[test]
    fn random_records_round_trip(
        id in ".{0,30}",
        n in proptest::prelude::any::<i64>(),
        small in proptest::prelude::any::<i32>(),
        x in proptest::option::of(proptest::prelude::any::<f64>()),
        flag in proptest::prelude::any::<bool>(),
        ts in proptest::prelude::any::<i64>(),
        inner in proptest::option::of((".{0,5}", proptest::prelude::any::<f32>())),
        framed in proptest::prelude::any::<bool>(),
    ) {
        let s = Schema::parse_str(r#"{"type":"record","name":"R","fields":[
            {"name":"id","type":"string"},
            {"name":"n","type":"long"},
            {"name":"small","type":"int"},
            {"name":"x","type":["null","double"]},
            {"name":"flag","type":"boolean"},
            {"name":"ts","type":{"type":"long","logicalType":"timestamp-micros"}},
            {"name":"inner","type":["null",{"type":"record","name":"I","fields":[
                {"name":"s","type":"string"},{"name":"f","type":"float"}]}]}
        ]}"#).unwrap();
        let Schema::Record(rs) = &s else { unreachable!() };
        let inner_schema = match &rs.fields[6].schema {
            Schema::Union(u) => u.variants()[1].clone(),
            _ => unreachable!(),
        };
        let mut r = Record::new(&s).unwrap();
        r.put("id", id.as_str());
        r.put("n", n);
        r.put("small", small);
        r.put("x", match x { Some(v) => Avro::Union(1, Box::new(Avro::Double(v))), None => Avro::Union(0, Box::new(Avro::Null)) });
        r.put("flag", flag);
        r.put("ts", Avro::TimestampMicros(ts));
        r.put("inner", match &inner {
            Some((a, b)) => {
                let mut i = Record::new(&inner_schema).unwrap();
                i.put("s", a.as_str());
                i.put("f", *b);
                Avro::Union(1, Box::new(i.into()))
            }
            None => Avro::Union(0, Box::new(Avro::Null)),
        });
        let mut bytes = if framed { vec![0, 0, 0, 1, 2] } else { vec![] };
        bytes.extend(apache_avro::to_avro_datum(&s, r).unwrap());
        let cols = vec![
            col("id", DataType::String, false),
            col("n", DataType::Int, false),
            col("small", DataType::Float, false),
            col("x", DataType::Float, false),
            col("flag", DataType::Bool, false),
            col("ts", DataType::Timestamp, false),
            col("inner::s", DataType::String, false),
            col("inner::f", DataType::Float, false),
        ];
        let mut d = AvroDecoder::with_schema(&test_plan(cols), s.clone(), Path::new("r.avsc")).unwrap();
        let mut row = vec![Value::Null; 8];
        d.decode(&bytes, &mut row).unwrap();
        let want = vec![
            Value::Str(id.as_str().into()),
            Value::Int(n),
            Value::Float(small as f64),
            x.map_or(Value::Null, Value::Float),
            Value::Bool(flag),
            Value::Ts(ts.div_euclid(1000)),
            inner.as_ref().map_or(Value::Null, |(a, _)| Value::Str(a.as_str().into())),
            inner.as_ref().map_or(Value::Null, |(_, b)| Value::Float(*b as f64)),
        ];
        proptest::prop_assert_eq!(row, want);
    }
}
