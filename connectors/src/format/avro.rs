//! Avro binary datums, one per message, read with the writer schema from `schema_file`.
//!
//! Columns map to record fields by name (exact first, then case-insensitively, like SQL);
//! fields of nested records are columns named `outer::inner` (any depth). A union with
//! `null` is nullable; a nullable nested record that is null leaves all its columns NULL.
//!
//! Types (Avro → column): `int`/`long` → int (or float, or timestamp as epoch ms);
//! `float`/`double` → float; `string` → string (or timestamp, parsed as epoch ms or
//! RFC 3339); `enum` and `uuid` → string; `boolean` → bool; `timestamp-millis`,
//! `timestamp-micros`, `timestamp-nanos` (and the `local-` variants, read as UTC) →
//! timestamp in epoch ms (or int); `date` → timestamp at midnight UTC. Anything else
//! (bytes, fixed, decimal, arrays, maps) cannot be a column. Every declared column is
//! checked against the schema when the decoder is built, so a type mismatch is a startup
//! error, not a dead letter per record.
//!
//! Framing: a payload is first read as a plain datum that must use every byte. When that
//! fails and the payload starts with the Confluent magic byte 0 (followed by a 4-byte
//! schema id), the datum after those 5 bytes is tried. Once a framed payload has decoded,
//! the framed reading is tried first for the following payloads. The schema id is not
//! looked up: the datum is always read with `schema_file`'s schema.

use std::collections::HashMap;
use std::path::Path;

use apache_avro::schema::{Name, RecordSchema, ResolvedSchema, Schema};
use apache_avro::types::Value as Avro;

use planner::error::closest;
use planner::job::Column;
use planner::types::{DataType, Value};
use planner::SourcePlan;

use super::{check_required, connector_columns, required_columns, value_from_text, RecordError};

/// Separator of nested field names in column names.
pub const NESTED_SEPARATOR: &str = "::";

/// Nested records are followed this deep when listing field names for hints.
const MAX_HINT_DEPTH: usize = 8;

/// Decodes Avro binary datums (plain or Confluent-framed).
pub struct AvroDecoder {
    schema: Schema,
    plan: RecordPlan,
    columns: Vec<Column>,
    /// Columns written by this decoder (reset to NULL before each record).
    wanted: Vec<usize>,
    required: Vec<usize>,
    /// A Confluent-framed payload has been seen: try framed first.
    framed: bool,
}

/// What to do with each field of a record, by writer field position.
#[derive(Debug, Default)]
struct RecordPlan {
    fields: Vec<FieldPlan>,
}

#[derive(Debug, Default)]
enum FieldPlan {
    #[default]
    Skip,
    /// A scalar written to these columns.
    Leaf(Vec<usize>),
    /// A (possibly nullable) nested record.
    Nested(RecordPlan),
}

impl AvroDecoder {
    /// A decoder for a planned Avro source. Reads and parses `schema_file` and checks
    /// every declared column against it.
    pub fn new(plan: &SourcePlan) -> Result<Self, String> {
        let path = plan
            .source
            .format_options
            .schema_file
            .as_deref()
            .ok_or("format avro needs `schema_file`")?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read Avro schema `{}`: {e}", path.display()))?;
        let schema = Schema::parse_str(&text)
            .map_err(|e| format!("invalid Avro schema `{}`: {e}", path.display()))?;
        Self::with_schema(plan, schema, path)
    }

    /// A decoder with an already parsed writer schema (`path` names it in errors).
    pub fn with_schema(plan: &SourcePlan, schema: Schema, path: &Path) -> Result<Self, String> {
        let columns = plan.source.columns.clone();
        let from_connector = connector_columns(&plan.source);
        let resolved = ResolvedSchema::try_from(&schema)
            .map_err(|e| format!("invalid Avro schema `{}`: {e}", path.display()))?;
        let names = resolved.get_names();
        let root = match deref(&schema, names) {
            Schema::Record(r) => r,
            other => {
                return Err(format!(
                    "Avro schema `{}` must be a record, not {}",
                    path.display(),
                    kind_name(other)
                ))
            }
        };
        let mut rplan = RecordPlan::default();
        rplan
            .fields
            .resize_with(root.fields.len(), Default::default);
        let mut wanted = Vec::new();
        for (i, col) in columns.iter().enumerate() {
            if from_connector.contains(&i) {
                continue;
            }
            let (positions, leaf) = resolve(root, names, &col.name).map_err(|e| match e {
                Resolve::NotFound => {
                    let mut all = Vec::new();
                    leaf_paths(root, names, "", 0, &mut all);
                    let hint = match closest(&col.name, all.iter().map(String::as_str)) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => format!("the record has: {}", all.join(", ")),
                    };
                    format!(
                        "column `{}` is not a field of the Avro schema `{}` (record `{}`); {hint}",
                        col.name,
                        path.display(),
                        root.name.name
                    )
                }
                Resolve::Other(m) => format!(
                    "column `{}` in Avro schema `{}`: {m}",
                    col.name,
                    path.display()
                ),
            })?;
            check_type(leaf, names, col).map_err(|m| {
                format!(
                    "column `{}` in Avro schema `{}`: {m}",
                    col.name,
                    path.display()
                )
            })?;
            if plan.needed[i] {
                insert(&mut rplan, root, names, &positions, i);
                wanted.push(i);
            }
        }
        drop(resolved);
        Ok(AvroDecoder {
            required: required_columns(&plan.source),
            schema,
            plan: rplan,
            columns,
            wanted,
            framed: false,
        })
    }

    /// Decodes one message payload into `row`.
    pub fn decode(&mut self, bytes: &[u8], row: &mut [Value]) -> Result<(), RecordError> {
        for &i in &self.wanted {
            row[i] = Value::Null;
        }
        let datum = self.read(bytes)?;
        fill(&self.plan, &datum, &self.columns, row)?;
        check_required(&self.columns, &self.required, row)
    }

    fn read(&mut self, bytes: &[u8]) -> Result<Avro, RecordError> {
        let maybe_framed = bytes.len() >= 5 && bytes[0] == 0;
        if maybe_framed && self.framed {
            if let Ok(v) = datum(&self.schema, &bytes[5..]) {
                return Ok(v);
            }
        }
        match datum(&self.schema, bytes) {
            Ok(v) => Ok(v),
            Err(plain) => {
                if maybe_framed && !self.framed {
                    if let Ok(v) = datum(&self.schema, &bytes[5..]) {
                        self.framed = true;
                        return Ok(v);
                    }
                }
                Err(RecordError::Malformed(if maybe_framed {
                    format!("{plain} (nor a Confluent-framed datum)")
                } else {
                    plain
                }))
            }
        }
    }
}

/// Reads one datum that must use every byte.
fn datum(schema: &Schema, bytes: &[u8]) -> Result<Avro, String> {
    let mut rest = bytes;
    let v = apache_avro::from_avro_datum(schema, &mut rest, None)
        .map_err(|e| format!("not an Avro datum of the schema: {e}"))?;
    if !rest.is_empty() {
        return Err(format!(
            "{} bytes left after the Avro datum ({} bytes)",
            rest.len(),
            bytes.len()
        ));
    }
    Ok(v)
}

fn fill(
    plan: &RecordPlan,
    v: &Avro,
    columns: &[Column],
    row: &mut [Value],
) -> Result<(), RecordError> {
    let fields = match unwrap_union(v) {
        Avro::Record(fields) => fields,
        Avro::Null => return Ok(()),
        other => {
            return Err(RecordError::Malformed(format!(
                "expected an Avro record, found {}",
                describe(other)
            )))
        }
    };
    for (p, (_, fv)) in plan.fields.iter().zip(fields) {
        match p {
            FieldPlan::Skip => {}
            FieldPlan::Leaf(cols) => {
                for &c in cols {
                    row[c] = convert(fv, &columns[c])?;
                }
            }
            FieldPlan::Nested(n) => fill(n, fv, columns, row)?,
        }
    }
    Ok(())
}

fn unwrap_union(mut v: &Avro) -> &Avro {
    while let Avro::Union(_, inner) = v {
        v = inner;
    }
    v
}

/// Converts an Avro value to a column value (the schema check at startup makes the
/// mismatch arms unreachable for well-formed data; they still report a type error).
fn convert(v: &Avro, col: &Column) -> Result<Value, RecordError> {
    let v = unwrap_union(v);
    let ms = |t: i64| match col.ty {
        DataType::Int => Some(Value::Int(t)),
        DataType::Timestamp => Some(Value::Ts(t)),
        _ => None,
    };
    let out = match v {
        Avro::Null => Some(Value::Null),
        Avro::Boolean(b) => (col.ty == DataType::Bool).then_some(Value::Bool(*b)),
        Avro::Int(_) | Avro::Long(_) => {
            let i = match v {
                Avro::Int(i) => *i as i64,
                Avro::Long(l) => *l,
                _ => unreachable!(),
            };
            match col.ty {
                DataType::Int => Some(Value::Int(i)),
                DataType::Float => Some(Value::Float(i as f64)),
                DataType::Timestamp => Some(Value::Ts(i)),
                _ => None,
            }
        }
        Avro::Float(f) => (col.ty == DataType::Float).then_some(Value::Float(*f as f64)),
        Avro::Double(f) => (col.ty == DataType::Float).then_some(Value::Float(*f)),
        Avro::String(s) => match col.ty {
            DataType::String => Some(Value::Str(s.as_str().into())),
            DataType::Timestamp => return value_from_text(col, s),
            _ => None,
        },
        Avro::Enum(_, s) => (col.ty == DataType::String).then(|| Value::Str(s.as_str().into())),
        Avro::Uuid(u) => (col.ty == DataType::String).then(|| Value::Str(u.to_string().into())),
        Avro::TimestampMillis(t) | Avro::LocalTimestampMillis(t) => ms(*t),
        Avro::TimestampMicros(t) | Avro::LocalTimestampMicros(t) => ms(t.div_euclid(1_000)),
        Avro::TimestampNanos(t) | Avro::LocalTimestampNanos(t) => ms(t.div_euclid(1_000_000)),
        Avro::Date(d) => {
            (col.ty == DataType::Timestamp).then_some(Value::Ts(*d as i64 * 86_400_000))
        }
        _ => None,
    };
    out.ok_or_else(|| RecordError::WrongType {
        column: col.name.clone(),
        expected: col.ty,
        found: describe(v),
    })
}

fn describe(v: &Avro) -> String {
    match v {
        Avro::Null => "null".into(),
        Avro::Boolean(b) => format!("boolean {b}"),
        Avro::Int(i) => format!("int {i}"),
        Avro::Long(i) => format!("long {i}"),
        Avro::Float(f) => format!("float {f}"),
        Avro::Double(f) => format!("double {f}"),
        Avro::String(s) => format!("string \"{s}\""),
        Avro::Enum(_, s) => format!("enum symbol {s}"),
        Avro::Record(_) => "a record".into(),
        Avro::Array(_) => "an array".into(),
        Avro::Map(_) => "a map".into(),
        Avro::Bytes(_) | Avro::Fixed(..) => "bytes".into(),
        other => format!("{other:?}"),
    }
}

type Names<'s> = HashMap<Name, &'s Schema>;

/// Follows named references.
fn deref<'s>(mut s: &'s Schema, names: &Names<'s>) -> &'s Schema {
    while let Schema::Ref { name } = s {
        match names.get(name) {
            Some(t) => s = t,
            None => break,
        }
    }
    s
}

/// The non-null branches of a (possibly union) schema, references followed.
fn branches<'s>(s: &'s Schema, names: &Names<'s>) -> Vec<&'s Schema> {
    match deref(s, names) {
        Schema::Union(u) => u
            .variants()
            .iter()
            .map(|v| deref(v, names))
            .filter(|v| !matches!(v, Schema::Null))
            .collect(),
        other => vec![other],
    }
}

/// The record of a field that is a record or a union of null and one record.
fn record_of<'s>(s: &'s Schema, names: &Names<'s>) -> Option<&'s RecordSchema> {
    match branches(s, names).as_slice() {
        [Schema::Record(r)] => Some(r),
        _ => None,
    }
}

fn find_field(rec: &RecordSchema, name: &str) -> Option<usize> {
    rec.fields.iter().position(|f| f.name == name).or_else(|| {
        rec.fields
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
    })
}

enum Resolve {
    NotFound,
    Other(String),
}

/// Field positions along a column's path, and the leaf's schema.
fn resolve<'s>(
    root: &'s RecordSchema,
    names: &Names<'s>,
    column: &str,
) -> Result<(Vec<usize>, &'s Schema), Resolve> {
    let segments: Vec<&str> = column.split(NESTED_SEPARATOR).collect();
    let mut rec = root;
    let mut positions = Vec::with_capacity(segments.len());
    for (k, seg) in segments.iter().enumerate() {
        let p = find_field(rec, seg).ok_or(Resolve::NotFound)?;
        positions.push(p);
        let field = &rec.fields[p].schema;
        let last = k + 1 == segments.len();
        match (record_of(field, names), last) {
            (Some(_), true) => {
                return Err(Resolve::Other(format!(
                "field `{}` is a record; declare its fields as `{column}{NESTED_SEPARATOR}<field>`",
                rec.fields[p].name
            )))
            }
            (Some(inner), false) => rec = inner,
            (None, true) => return Ok((positions, field)),
            (None, false) => return Err(Resolve::NotFound),
        }
    }
    unreachable!("a column name has at least one segment")
}

/// Every column name the record offers (for hints).
fn leaf_paths<'s>(
    rec: &'s RecordSchema,
    names: &Names<'s>,
    prefix: &str,
    depth: usize,
    out: &mut Vec<String>,
) {
    for f in &rec.fields {
        let path = format!("{prefix}{}", f.name);
        match record_of(&f.schema, names) {
            Some(inner) if depth < MAX_HINT_DEPTH => leaf_paths(
                inner,
                names,
                &format!("{path}{NESTED_SEPARATOR}"),
                depth + 1,
                out,
            ),
            Some(_) => {}
            None => out.push(path),
        }
    }
}

fn insert<'s>(
    plan: &mut RecordPlan,
    rec: &'s RecordSchema,
    names: &Names<'s>,
    positions: &[usize],
    col: usize,
) {
    let p = positions[0];
    if positions.len() == 1 {
        match &mut plan.fields[p] {
            FieldPlan::Leaf(cols) => cols.push(col),
            slot => *slot = FieldPlan::Leaf(vec![col]),
        }
        return;
    }
    let inner = record_of(&rec.fields[p].schema, names).expect("resolved path");
    if !matches!(plan.fields[p], FieldPlan::Nested(_)) {
        let mut n = RecordPlan::default();
        n.fields.resize_with(inner.fields.len(), Default::default);
        plan.fields[p] = FieldPlan::Nested(n);
    }
    if let FieldPlan::Nested(n) = &mut plan.fields[p] {
        insert(n, inner, names, &positions[1..], col);
    }
}

/// Column types an Avro (non-union) schema can fill.
fn accepts(s: &Schema) -> &'static [DataType] {
    use DataType::*;
    match s {
        Schema::Boolean => &[Bool],
        Schema::Int | Schema::Long => &[Int, Float, Timestamp],
        Schema::Float | Schema::Double => &[Float],
        Schema::String => &[String, Timestamp],
        Schema::Enum(_) | Schema::Uuid => &[String],
        Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => &[Timestamp, Int],
        Schema::Date => &[Timestamp],
        _ => &[],
    }
}

fn check_type<'s>(leaf: &'s Schema, names: &Names<'s>, col: &Column) -> Result<(), String> {
    let bs = branches(leaf, names);
    if bs.is_empty() {
        return Err("the field is always null".into());
    }
    for b in bs {
        let ok = accepts(b);
        if ok.is_empty() {
            return Err(format!(
                "Avro type {} cannot be a column (supported: boolean, int, long, float, double, string, enum, uuid, timestamps, date)",
                kind_name(b)
            ));
        }
        if !ok.contains(&col.ty) {
            return Err(format!(
                "declared {} but the field is Avro {}; declare it as {}",
                col.ty,
                kind_name(b),
                ok[0]
            ));
        }
    }
    Ok(())
}

fn kind_name(s: &Schema) -> String {
    match s {
        Schema::Record(r) => format!("record {}", r.name.name),
        Schema::Enum(e) => format!("enum {}", e.name.name),
        Schema::Fixed(f) => format!("fixed {}", f.name.name),
        Schema::Union(_) => "a union".into(),
        Schema::Ref { name } => name.name.clone(),
        other => {
            let k: apache_avro::schema::SchemaKind = other.into();
            let k = format!("{k:?}");
            // SchemaKind debug names are CamelCase (`TimestampMillis`): show the Avro
            // spelling (`timestamp-millis`).
            let mut out = String::new();
            for (i, c) in k.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('-');
                }
                out.push(c.to_ascii_lowercase());
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::types::Record;
    use planner::job::{Format, FormatOptions, OnError, Source, SourceConnector};

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

    fn col(name: &str, ty: DataType, required: bool) -> Column {
        Column {
            name: name.into(),
            ty,
            required,
        }
    }

    fn plan_with(columns: Vec<Column>) -> SourcePlan {
        let n = columns.len();
        SourcePlan {
            source: Source {
                name: "rides".into(),
                connector: SourceConnector::File { path: "x".into() },
                format: Format::Avro,
                columns,
                event_time: 1,
                watermark_delay_ms: 0,
                on_error: OnError::DeadLetter,
                format_options: FormatOptions::default(),
            },
            needed: vec![true; n],
        }
    }

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
        AvroDecoder::with_schema(&plan_with(columns), schema(), Path::new("ride_event.avsc"))
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
        let mut p = plan_with(columns());
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
        let mut p = plan_with(vec![
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
        let mut p = plan_with(vec![
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
            let mut d = AvroDecoder::with_schema(&plan_with(cols), s.clone(), Path::new("r.avsc")).unwrap();
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
}
