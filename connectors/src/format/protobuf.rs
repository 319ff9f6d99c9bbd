//! Protobuf messages, one per Kafka/Kinesis message, read with the message type `message`
//! from the `FileDescriptorSet` in `descriptor_set` (built with `--include_imports`, so
//! imported files such as `google/protobuf/timestamp.proto` are in it).
//!
//! Column names (matched exactly first, then case-insensitively, like SQL):
//! - a top-level field `f` is column `f`;
//! - fields of a nested message are `outer::field`, at any depth (`a::b::c`);
//! - every field with presence (each `oneof` member, message fields, `optional` fields)
//!   also offers a bool column `has_<field>`, true iff the field is set. For a oneof
//!   `kind { Create create = 3; Dropoff dropoff = 4; }` that gives `has_create` and
//!   `has_dropoff`, and the member's own fields are `create::store_id` and so on. A real
//!   field named `has_x` takes precedence over the generated column.
//!
//! Absent values: a field with presence that is not set (an `optional` or proto2 scalar,
//! a oneof member, or a message) is NULL, and so is every column below an unset message,
//! including its `has_` columns. A proto3 scalar without presence is never absent on the
//! wire's terms: when missing it reads as its default (0, "", false, the first enum
//! value), as in every Protobuf runtime.
//!
//! Types (Protobuf → column): integer kinds → int (or float, or timestamp as epoch ms;
//! `uint64`/`fixed64` above `i64::MAX` are a type error per record); `float`/`double` →
//! float; `bool` → bool; `string` → string (or timestamp: epoch ms or RFC 3339); enums →
//! string (the value's name; an unknown number reads as its decimal text);
//! `google.protobuf.Timestamp` → timestamp (epoch ms, truncated). Bytes, repeated fields
//! and maps cannot be columns. Every declared column is checked when the decoder is
//! built.

use std::path::Path;

use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage,
    Value as ProtoValue,
};

use planner::error::closest;
use planner::job::Column;
use planner::types::{DataType, Value};
use planner::SourcePlan;

use super::avro::NESTED_SEPARATOR;
use super::{check_required, connector_columns, required_columns, value_from_text, RecordError};

/// Prefix of the presence columns.
pub const HAS_PREFIX: &str = "has_";

const TIMESTAMP: &str = "google.protobuf.Timestamp";

/// Nested messages are followed this deep when listing column names for hints
/// (recursive message types would otherwise never end).
const MAX_HINT_DEPTH: usize = 8;

/// Decodes Protobuf messages of one type.
pub struct ProtobufDecoder {
    desc: MessageDescriptor,
    plan: MessagePlan,
    columns: Vec<Column>,
    /// Columns written by this decoder (reset to NULL before each record).
    wanted: Vec<usize>,
    required: Vec<usize>,
}

/// The fields of one message that some column reads.
#[derive(Debug, Default)]
struct MessagePlan {
    fields: Vec<FieldPlan>,
}

#[derive(Debug)]
struct FieldPlan {
    field: FieldDescriptor,
    /// Columns receiving the value.
    value: Vec<usize>,
    /// Columns receiving `has_<field>`.
    has: Vec<usize>,
    /// Columns below this (message) field.
    nested: Option<MessagePlan>,
}

/// What a column reads, after resolving its path.
enum Leaf {
    Value(FieldDescriptor),
    Has,
}

impl ProtobufDecoder {
    /// A decoder for a planned Protobuf source: loads `descriptor_set`, finds `message`
    /// and checks every declared column against it.
    pub fn new(plan: &SourcePlan) -> Result<Self, String> {
        let opts = &plan.source.format_options;
        let path = opts
            .descriptor_set
            .as_deref()
            .ok_or("format protobuf needs `descriptor_set`")?;
        let name = opts
            .message
            .as_deref()
            .ok_or("format protobuf needs `message`")?;
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read descriptor set `{}`: {e}", path.display()))?;
        let pool = DescriptorPool::decode(bytes.as_slice()).map_err(|e| {
            format!(
                "invalid descriptor set `{}`: {e} (build it with `protoc --include_imports --descriptor_set_out`)",
                path.display()
            )
        })?;
        Self::with_pool(plan, &pool, name, path)
    }

    /// A decoder for message `name` of an already loaded pool (`path` names it in errors).
    pub fn with_pool(
        plan: &SourcePlan,
        pool: &DescriptorPool,
        name: &str,
        path: &Path,
    ) -> Result<Self, String> {
        let name = name.trim_start_matches('.');
        let desc = pool
            .get_message_by_name(name)
            .ok_or_else(|| missing_message(pool, name, path))?;
        let columns = plan.source.columns.clone();
        let from_connector = connector_columns(&plan.source);
        let mut mplan = MessagePlan::default();
        let mut wanted = Vec::new();
        for (i, col) in columns.iter().enumerate() {
            if from_connector.contains(&i) {
                continue;
            }
            let where_ = || {
                format!(
                    "message `{}` of descriptor set `{}`",
                    desc.full_name(),
                    path.display()
                )
            };
            let (fields, leaf) = resolve(&desc, &col.name).map_err(|e| match e {
                Resolve::NotFound => {
                    let mut all = Vec::new();
                    leaf_paths(&desc, "", 0, &mut all);
                    let hint = match closest(&col.name, all.iter().map(String::as_str)) {
                        Some(c) => format!("did you mean `{c}`?"),
                        None => format!("the message has: {}", all.join(", ")),
                    };
                    format!("column `{}` is not in {}; {hint}", col.name, where_())
                }
                Resolve::Other(m) => format!("column `{}` in {}: {m}", col.name, where_()),
            })?;
            check_type(&leaf, col)
                .map_err(|m| format!("column `{}` in {}: {m}", col.name, where_()))?;
            if plan.needed[i] {
                insert(&mut mplan, &fields, leaf, i);
                wanted.push(i);
            }
        }
        Ok(ProtobufDecoder {
            required: required_columns(&plan.source),
            desc,
            plan: mplan,
            columns,
            wanted,
        })
    }

    /// Decodes one message payload into `row`.
    pub fn decode(&mut self, bytes: &[u8], row: &mut [Value]) -> Result<(), RecordError> {
        for &i in &self.wanted {
            row[i] = Value::Null;
        }
        let msg = DynamicMessage::decode(self.desc.clone(), bytes).map_err(|e| {
            RecordError::Malformed(format!(
                "not a Protobuf message `{}`: {e}",
                self.desc.full_name()
            ))
        })?;
        fill(&self.plan, &msg, &self.columns, row)?;
        check_required(&self.columns, &self.required, row)
    }
}

fn fill(
    plan: &MessagePlan,
    msg: &DynamicMessage,
    columns: &[Column],
    row: &mut [Value],
) -> Result<(), RecordError> {
    for f in &plan.fields {
        let present = msg.has_field(&f.field);
        for &c in &f.has {
            row[c] = Value::Bool(present);
        }
        if !present && f.field.supports_presence() {
            // Unset: the value columns and everything below stay NULL.
            continue;
        }
        if !f.value.is_empty() {
            let v = msg.get_field(&f.field);
            for &c in &f.value {
                row[c] = convert(&v, &f.field, &columns[c])?;
            }
        }
        if let Some(n) = &f.nested {
            if let ProtoValue::Message(m) = msg.get_field(&f.field).as_ref() {
                fill(n, m, columns, row)?;
            }
        }
    }
    Ok(())
}

fn convert(v: &ProtoValue, field: &FieldDescriptor, col: &Column) -> Result<Value, RecordError> {
    let int = |i: i64| match col.ty {
        DataType::Int => Some(Value::Int(i)),
        DataType::Float => Some(Value::Float(i as f64)),
        DataType::Timestamp => Some(Value::Ts(i)),
        _ => None,
    };
    let out = match v {
        ProtoValue::Bool(b) => (col.ty == DataType::Bool).then_some(Value::Bool(*b)),
        ProtoValue::I32(i) => int(*i as i64),
        ProtoValue::I64(i) => int(*i),
        ProtoValue::U32(i) => int(*i as i64),
        ProtoValue::U64(u) => match i64::try_from(*u) {
            Ok(i) => int(i),
            Err(_) => None,
        },
        ProtoValue::F32(f) => {
            (col.ty == DataType::Float && f.is_finite()).then_some(Value::Float(*f as f64))
        }
        // A NaN or infinity is a wrong-type record, as in Parquet (no SQL value is one).
        ProtoValue::F64(f) => {
            (col.ty == DataType::Float && f.is_finite()).then_some(Value::Float(*f))
        }
        ProtoValue::String(s) => match col.ty {
            DataType::String => Some(Value::Str(s.as_str().into())),
            DataType::Timestamp => return value_from_text(col, s),
            _ => None,
        },
        ProtoValue::EnumNumber(n) => (col.ty == DataType::String).then(|| {
            let name = match field.kind() {
                Kind::Enum(e) => e.get_value(*n).map(|v| v.name().to_owned()),
                _ => None,
            };
            Value::Str(name.unwrap_or_else(|| n.to_string()).into())
        }),
        ProtoValue::Message(m) if m.descriptor().full_name() == TIMESTAMP => {
            let part = |name: &str| {
                m.get_field_by_name(name)
                    .and_then(|v| match v.as_ref() {
                        ProtoValue::I64(i) => Some(*i),
                        ProtoValue::I32(i) => Some(*i as i64),
                        _ => None,
                    })
                    .unwrap_or(0)
            };
            let ms = part("seconds")
                .saturating_mul(1000)
                .saturating_add(part("nanos").div_euclid(1_000_000));
            (col.ty == DataType::Timestamp).then_some(Value::Ts(ms))
        }
        _ => None,
    };
    out.ok_or_else(|| RecordError::WrongType {
        column: col.name.clone(),
        expected: col.ty,
        found: describe(v),
    })
}

fn describe(v: &ProtoValue) -> String {
    match v {
        ProtoValue::Bool(b) => format!("bool {b}"),
        ProtoValue::I32(i) => format!("int32 {i}"),
        ProtoValue::I64(i) => format!("int64 {i}"),
        ProtoValue::U32(i) => format!("uint32 {i}"),
        ProtoValue::U64(i) => format!("uint64 {i} (out of range)"),
        ProtoValue::F32(f) => format!("float {f}"),
        ProtoValue::F64(f) => format!("double {f}"),
        ProtoValue::String(s) => format!("string \"{s}\""),
        ProtoValue::Bytes(_) => "bytes".into(),
        ProtoValue::EnumNumber(n) => format!("enum number {n}"),
        ProtoValue::Message(m) => format!("message {}", m.descriptor().full_name()),
        ProtoValue::List(_) => "a repeated field".into(),
        ProtoValue::Map(_) => "a map".into(),
    }
}

fn missing_message(pool: &DescriptorPool, name: &str, path: &Path) -> String {
    let all: Vec<String> = pool
        .all_messages()
        .map(|m| m.full_name().to_owned())
        .collect();
    let short = name.rsplit('.').next().unwrap_or(name);
    let same_short: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .filter(|m| m.rsplit('.').next() == Some(short) || m.eq_ignore_ascii_case(name))
        .collect();
    let hint = if !same_short.is_empty() {
        format!("did you mean `{}`?", same_short.join("` or `"))
    } else if let Some(c) = closest(name, all.iter().map(String::as_str)) {
        format!("did you mean `{c}`?")
    } else {
        let mut listed: Vec<&str> = all
            .iter()
            .map(String::as_str)
            .filter(|m| !m.starts_with("google.protobuf."))
            .take(20)
            .collect();
        if listed.is_empty() {
            listed.push("(none)");
        }
        format!("it has: {}", listed.join(", "))
    };
    format!(
        "message `{name}` is not in descriptor set `{}` (use the fully qualified name, `package.Message`); {hint}",
        path.display()
    )
}

enum Resolve {
    NotFound,
    Other(String),
}

fn find_field(msg: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    msg.get_field_by_name(name)
        .or_else(|| msg.fields().find(|f| f.name().eq_ignore_ascii_case(name)))
}

/// A message-typed singular field that columns flatten into (not a Timestamp).
fn nested_message(f: &FieldDescriptor) -> Option<MessageDescriptor> {
    match f.kind() {
        Kind::Message(m) if !f.is_list() && !f.is_map() && m.full_name() != TIMESTAMP => Some(m),
        _ => None,
    }
}

/// The fields along a column's path and what the column reads at the end.
fn resolve(
    root: &MessageDescriptor,
    column: &str,
) -> Result<(Vec<FieldDescriptor>, Leaf), Resolve> {
    let segments: Vec<&str> = column.split(NESTED_SEPARATOR).collect();
    let mut msg = root.clone();
    let mut path = Vec::with_capacity(segments.len());
    for (k, seg) in segments.iter().enumerate() {
        let last = k + 1 == segments.len();
        let field = match find_field(&msg, seg) {
            Some(f) => f,
            None if last => {
                let member = seg
                    .get(..HAS_PREFIX.len())
                    .filter(|p| p.eq_ignore_ascii_case(HAS_PREFIX))
                    .and_then(|_| find_field(&msg, &seg[HAS_PREFIX.len()..]))
                    .ok_or(Resolve::NotFound)?;
                if !member.supports_presence() || member.is_list() {
                    return Err(Resolve::Other(format!(
                        "field `{}` has no presence (a proto3 scalar outside a oneof), so there is no `{seg}`; mark it `optional`",
                        member.name()
                    )));
                }
                path.push(member.clone());
                return Ok((path, Leaf::Has));
            }
            None => return Err(Resolve::NotFound),
        };
        path.push(field.clone());
        if field.is_list() || field.is_map() {
            return Err(Resolve::Other(format!(
                "field `{}` is {}, which cannot be a column",
                field.name(),
                if field.is_map() { "a map" } else { "repeated" }
            )));
        }
        match (nested_message(&field), last) {
            (Some(_), true) => {
                return Err(Resolve::Other(format!(
                    "field `{}` is a message; declare its fields as `{column}{NESTED_SEPARATOR}<field>`{}",
                    field.name(),
                    if field.supports_presence() {
                        format!(" or `{HAS_PREFIX}{}` for its presence", field.name())
                    } else {
                        String::new()
                    }
                )))
            }
            (Some(inner), false) => msg = inner,
            (None, true) => return Ok((path, Leaf::Value(field))),
            (None, false) => return Err(Resolve::NotFound),
        }
    }
    unreachable!("a column name has at least one segment")
}

/// Every column name the message offers (for hints).
fn leaf_paths(msg: &MessageDescriptor, prefix: &str, depth: usize, out: &mut Vec<String>) {
    for f in msg.fields() {
        if f.is_list() || f.is_map() {
            continue;
        }
        if f.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
            out.push(format!("{prefix}{HAS_PREFIX}{}", f.name()));
        }
        let path = format!("{prefix}{}", f.name());
        match nested_message(&f) {
            Some(inner) if depth < MAX_HINT_DEPTH => {
                leaf_paths(&inner, &format!("{path}{NESTED_SEPARATOR}"), depth + 1, out)
            }
            Some(_) => {}
            None => out.push(path),
        }
    }
}

fn insert(plan: &mut MessagePlan, fields: &[FieldDescriptor], leaf: Leaf, col: usize) {
    let field = &fields[0];
    let at = match plan.fields.iter().position(|f| f.field == *field) {
        Some(p) => p,
        None => {
            plan.fields.push(FieldPlan {
                field: field.clone(),
                value: Vec::new(),
                has: Vec::new(),
                nested: None,
            });
            plan.fields.len() - 1
        }
    };
    let f = &mut plan.fields[at];
    if fields.len() == 1 {
        match leaf {
            Leaf::Value(_) => f.value.push(col),
            Leaf::Has => f.has.push(col),
        }
    } else {
        insert(
            f.nested.get_or_insert_with(MessagePlan::default),
            &fields[1..],
            leaf,
            col,
        );
    }
}

fn check_type(leaf: &Leaf, col: &Column) -> Result<(), String> {
    use DataType::*;
    let field = match leaf {
        Leaf::Has if col.ty == Bool => return Ok(()),
        Leaf::Has => return Err(format!("declared {} but presence columns are bool", col.ty)),
        Leaf::Value(f) => f,
    };
    let (kind_name, ok): (std::string::String, &[DataType]) = match field.kind() {
        Kind::Int32
        | Kind::Int64
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Sint32
        | Kind::Sint64
        | Kind::Fixed32
        | Kind::Fixed64
        | Kind::Sfixed32
        | Kind::Sfixed64 => (
            format!("{:?}", field.kind()).to_lowercase(),
            &[Int, Float, Timestamp],
        ),
        Kind::Float => ("float".into(), &[Float]),
        Kind::Double => ("double".into(), &[Float]),
        Kind::Bool => ("bool".into(), &[Bool]),
        Kind::String => ("string".into(), &[String, Timestamp]),
        Kind::Enum(e) => (format!("enum {}", e.full_name()), &[String]),
        Kind::Message(m) if m.full_name() == TIMESTAMP => (TIMESTAMP.into(), &[Timestamp]),
        Kind::Bytes => ("bytes".into(), &[]),
        Kind::Message(m) => (format!("message {}", m.full_name()), &[]),
    };
    if ok.is_empty() {
        return Err(format!(
            "Protobuf type {kind_name} cannot be a column (supported: integers, float, double, bool, string, enums, google.protobuf.Timestamp)"
        ));
    }
    if !ok.contains(&col.ty) {
        return Err(format!(
            "declared {} but the field is Protobuf {kind_name}; declare it as {}",
            col.ty, ok[0]
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "protobuf_tests.rs"]
mod tests;
