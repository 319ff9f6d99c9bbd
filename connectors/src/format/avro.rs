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
        Avro::Float(f) => {
            (col.ty == DataType::Float && f.is_finite()).then_some(Value::Float(*f as f64))
        }
        // A NaN or infinity is a wrong-type record, as in Parquet (no SQL value is one).
        Avro::Double(f) => (col.ty == DataType::Float && f.is_finite()).then_some(Value::Float(*f)),
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
#[path = "avro_tests.rs"]
mod tests;
