//! The DynamoDB sink: one item per feature value, keyed by the string hash key `pk` =
//! [`FeatureUpdate::store_key`] (`<feature>:<version>:<key joined by |>`).
//!
//! **Item.** Every value column is an attribute (integers, floats and timestamps as `N`,
//! strings `S`, booleans `BOOL`, NULL and non-finite floats `NULL`), plus `window_start`
//! and `window_end` (`N`, epoch ms), `revision` (`N`), `_run` (`N`: the writing run's
//! [`crate::sink::run_id`]) and, when the sink has a `ttl`,
//! `ttl` (`N`, epoch seconds of the write plus the ttl: enable DynamoDB TTL on it). No value
//! column is named like one of these: the planner refuses `pk`, `ttl` and `_run` for a feature
//! going to a DynamoDB sink (`planner/src/sql/sink_names.rs`), and `window_start`,
//! `window_end` and `revision` for every feature but as the window bounds themselves.
//!
//! **Newer window wins, atomically.** A put is conditional: it lands only if the item does
//! not exist, or holds an older window, or the same window written by an earlier run
//! (revisions restart at 0 in every run: a rebuild replaces a stopped run's partial
//! values), or by this run at a revision not newer than this one (a correction). A failed condition means the update is stale, and is not an
//! error. A withdrawn value (`deleted`) is written, under the same condition, as a marker: `pk`, `window_start`, `window_end`, `revision`,
//! `deleted` (`BOOL` true) and `ttl`, no value attributes. (Deleting the item let a late
//! correction of an older window in afterwards, which the Kafka sink dropped.) Updates of
//! one key within a batch are applied in order; keys are written concurrently.
//!
//! **Errors.** Throttling, server errors and connection failures are retryable (the
//! fanout retries the batch; re-applying is idempotent under the conditions); a missing
//! table or a rejected item is permanent. The sink never creates the table.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use planner::types::Value;

use super::{error_text, is_transport, Aws};
use crate::sink::{FeatureUpdate, Rejected, RowSink, SinkError};

/// Attributes the sink writes itself.
const RESERVED: [&str; 6] = [
    "pk",
    "window_start",
    "window_end",
    "revision",
    "ttl",
    "_run",
];
/// Keys written at once.
const CONCURRENCY: usize = 16;

/// For the stored window, a later run wins whatever its revision, and within a run the
/// higher revision (an item without `_run` is of run 0).
const PUT_CONDITION: &str = "attribute_not_exists(#pk) OR #we < :we OR (#we = :we AND (attribute_not_exists(#run) OR #run < :run OR (#run = :run AND #rev <= :rev)))";

/// A worker's writer to a DynamoDB table.
pub struct DynamoSink {
    aws: Aws,
    client: aws_sdk_dynamodb::Client,
    table: String,
    ttl_ms: Option<u64>,
    /// This run's [`crate::sink::run_id`]: stored as `_run`.
    run: u64,
}

/// How to create the table the sink expects.
fn create_hint(table: &str) -> String {
    format!(
        "create it with a string hash key `pk`, e.g. `aws dynamodb create-table --table-name {table} --attribute-definitions AttributeName=pk,AttributeType=S --key-schema AttributeName=pk,KeyType=HASH --billing-mode PAY_PER_REQUEST`"
    )
}

impl DynamoSink {
    /// Opens a writer to `table`, checking that it exists with the hash key `pk`.
    pub fn open(aws: Aws, table: &str, ttl_ms: Option<u64>) -> Result<Self, SinkError> {
        let client = aws.dynamodb();
        let resp = aws
            .block_on(client.describe_table().table_name(table).send())
            .map_err(|e| {
                if e.code() == Some("ResourceNotFoundException") {
                    SinkError::permanent(format!(
                        "DynamoDB table `{table}` does not exist in {}: {}",
                        aws.describe(),
                        create_hint(table)
                    ))
                } else if is_transport(&e) {
                    SinkError::retryable(format!(
                        "cannot reach DynamoDB ({}): is the endpoint right and the service running? ({})",
                        aws.describe(),
                        error_text(&e)
                    ))
                } else {
                    SinkError::permanent(format!(
                        "cannot describe DynamoDB table `{table}`: {}",
                        error_text(&e)
                    ))
                }
            })?;
        // The table's key must be exactly a string hash key `pk`: another name or type, or
        // a sort key, would make every write fail (each row a dead letter) instead of the
        // run failing here.
        if let Some(t) = resp.table() {
            let keys = t.key_schema();
            let type_of = |name: &str| {
                t.attribute_definitions()
                    .iter()
                    .find(|a| a.attribute_name() == name)
                    .map(|a| a.attribute_type().as_str().to_string())
            };
            let problem = match keys.iter().find(|k| k.key_type().as_str() == "HASH") {
                Some(h) if h.attribute_name() != "pk" => Some(format!(
                    "has hash key `{}`, the sink writes `pk`",
                    h.attribute_name()
                )),
                Some(_) if type_of("pk").is_some_and(|ty| ty != "S") => Some(format!(
                    "has hash key `pk` of type {}, the sink writes a string (S)",
                    type_of("pk").unwrap_or_default()
                )),
                _ => keys
                    .iter()
                    .find(|k| k.key_type().as_str() == "RANGE")
                    .map(|k| {
                        format!(
                            "has a sort key `{}`, the sink writes items keyed by `pk` alone",
                            k.attribute_name()
                        )
                    }),
            };
            if let Some(problem) = problem {
                return Err(SinkError::permanent(format!(
                    "DynamoDB table `{table}` {problem}: {}",
                    create_hint(table)
                )));
            }
        }
        Ok(DynamoSink {
            aws,
            client,
            table: table.to_string(),
            ttl_ms,
            run: crate::sink::run_id(),
        })
    }

    /// Writes as run `run` instead of this process's (tests: two runs in one process).
    pub fn set_run(&mut self, run: u64) {
        self.run = run;
    }
}

/// A value as an attribute.
pub fn attribute(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Int(i) | Value::Ts(i) => AttributeValue::N(i.to_string()),
        Value::Float(f) if f.is_finite() => AttributeValue::N(f.to_string()),
        Value::Float(_) => AttributeValue::Null(true),
        Value::Str(s) => AttributeValue::S(s.to_string()),
        // Arrays (TOP, ARRAY_AGG) are stored as a DynamoDB list, element by element.
        Value::List(l) => AttributeValue::L(l.iter().map(attribute).collect()),
    }
}

/// The item a row is stored as (`ttl_until`: its expiry, epoch seconds), written by run
/// `run`.
pub fn item(
    row: &FeatureUpdate,
    ttl_until: Option<u64>,
    run: u64,
) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::with_capacity(row.values.len() + 5);
    for (name, v) in &row.values {
        if !RESERVED.contains(&name.as_str()) {
            item.insert(name.clone(), attribute(v));
        }
    }
    item.extend(row_attributes(row, ttl_until, run));
    item
}

/// The item a withdrawn value leaves: its key, window and revision, `deleted`, no values.
fn marker(
    row: &FeatureUpdate,
    ttl_until: Option<u64>,
    run: u64,
) -> HashMap<String, AttributeValue> {
    let mut item: HashMap<_, _> = row_attributes(row, ttl_until, run).collect();
    item.insert("deleted".into(), AttributeValue::Bool(true));
    item
}

/// The attributes every item of a row has: `pk`, the window bounds, the revision and,
/// with a ttl, its expiry.
fn row_attributes(
    row: &FeatureUpdate,
    ttl_until: Option<u64>,
    run: u64,
) -> impl Iterator<Item = (String, AttributeValue)> {
    let n = |v: String| AttributeValue::N(v);
    [
        ("pk", AttributeValue::S(row.store_key())),
        ("window_start", n(row.window_start.to_string())),
        ("window_end", n(row.window_end.to_string())),
        ("revision", n(row.revision.to_string())),
        ("_run", n(run.to_string())),
    ]
    .into_iter()
    .chain(ttl_until.map(|t| ("ttl", n(t.to_string()))))
    .map(|(k, v)| (k.to_string(), v))
}

/// Classifies a failed write; `Ok` for a failed condition (a stale update).
fn classify<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: aws_sdk_dynamodb::error::SdkError<E, R>,
    table: &str,
    key: &str,
) -> Result<(), RowError> {
    let code = e.code().unwrap_or_default().to_string();
    let text = format!("DynamoDB table `{table}`, item `{key}`: {}", error_text(&e));
    match code.as_str() {
        "ConditionalCheckFailedException" => Ok(()),
        "ResourceNotFoundException" => Err(RowError::Batch(SinkError::permanent(format!(
            "DynamoDB table `{table}` does not exist: {}",
            create_hint(table)
        )))),
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "InternalServerError"
        | "ServiceUnavailable"
        | "TransactionConflictException" => Err(RowError::Batch(SinkError::retryable(text))),
        _ if is_transport(&e) => Err(RowError::Batch(SinkError::retryable(text))),
        "ValidationException" | "ItemCollectionSizeLimitExceededException" => {
            Err(RowError::Row(SinkError::permanent(text)))
        }
        _ => Err(RowError::Batch(SinkError::permanent(text))),
    }
}

/// Applies one key's updates (with their index in the batch) in order; returns the rows
/// the table refused one by one. A failure that is not the row's (throttling, a missing
/// table) fails the key's remaining updates with it.
async fn write_key(
    client: aws_sdk_dynamodb::Client,
    table: String,
    run: u64,
    rows: Vec<(usize, FeatureUpdate, Option<u64>)>,
) -> Result<Rejected, SinkError> {
    let mut rejected = Vec::new();
    for (index, row, ttl) in rows {
        let key = row.store_key();
        let we = AttributeValue::N(row.window_end.to_string());
        let rev = AttributeValue::N(row.revision.to_string());
        if row.deleted {
            let r = client
                .put_item()
                .table_name(&table)
                .set_item(Some(marker(&row, ttl, run)))
                .condition_expression(PUT_CONDITION)
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_names("#we", "window_end")
                .expression_attribute_names("#rev", "revision")
                .expression_attribute_names("#run", "_run")
                .expression_attribute_values(":we", we)
                .expression_attribute_values(":rev", rev)
                .expression_attribute_values(":run", AttributeValue::N(run.to_string()))
                .send()
                .await;
            if let Err(e) = r {
                refused(classify(e, &table, &key), index, &mut rejected)?;
            }
        } else {
            let r = client
                .put_item()
                .table_name(&table)
                .set_item(Some(item(&row, ttl, run)))
                .condition_expression(PUT_CONDITION)
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_names("#we", "window_end")
                .expression_attribute_names("#rev", "revision")
                .expression_attribute_names("#run", "_run")
                .expression_attribute_values(":we", we)
                .expression_attribute_values(":rev", rev)
                .expression_attribute_values(":run", AttributeValue::N(run.to_string()))
                .send()
                .await;
            if let Err(e) = r {
                refused(classify(e, &table, &key), index, &mut rejected)?;
            }
        }
    }
    Ok(rejected)
}

/// Sorts a write's outcome: a refusal of the row itself (`ValidationException`: a value
/// the table cannot hold, such as a number past 10^125) is noted and the key's next
/// updates go on; anything else fails the batch.
fn refused(
    outcome: Result<(), RowError>,
    index: usize,
    rejected: &mut Rejected,
) -> Result<(), SinkError> {
    match outcome {
        Ok(()) => Ok(()),
        Err(RowError::Row(e)) => {
            rejected.push((index, e));
            Ok(())
        }
        Err(RowError::Batch(e)) => Err(e),
    }
}

/// Why a write failed: the row, or the batch (the table, the service).
enum RowError {
    Row(SinkError),
    Batch(SinkError),
}

impl RowSink for DynamoSink {
    fn write_batch(&mut self, rows: &[FeatureUpdate]) -> Result<Rejected, SinkError> {
        let ttl = self.ttl_ms.map(|ms| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            now + ms.div_ceil(1000)
        });
        // Group by key, keeping each key's updates in order.
        let mut order: Vec<String> = Vec::new();
        let mut groups: HashMap<String, Vec<(usize, FeatureUpdate, Option<u64>)>> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            let k = row.store_key();
            let g = groups.entry(k.clone()).or_default();
            if g.is_empty() {
                order.push(k);
            }
            g.push((i, row.clone(), ttl));
        }
        let client = self.client.clone();
        let table = self.table.clone();
        let run = self.run;
        self.aws.block_on(async move {
            let mut set = tokio::task::JoinSet::new();
            let mut first_err: Option<SinkError> = None;
            let mut rejected = Vec::new();
            let mut record = |r: Result<Result<Rejected, SinkError>, tokio::task::JoinError>| {
                let err = match r {
                    Ok(Ok(refused)) => {
                        rejected.extend(refused);
                        return;
                    }
                    Ok(Err(e)) => e,
                    Err(e) => SinkError::retryable(format!("DynamoDB write task failed: {e}")),
                };
                // A permanent error outranks a retryable one.
                match &first_err {
                    Some(f) if !f.retryable => {}
                    _ => first_err = Some(err),
                }
            };
            for k in order {
                let g = groups.remove(&k).unwrap_or_default();
                if set.len() >= CONCURRENCY {
                    if let Some(r) = set.join_next().await {
                        record(r);
                    }
                }
                set.spawn(write_key(client.clone(), table.clone(), run, g));
            }
            while let Some(r) = set.join_next().await {
                record(r);
            }
            match first_err {
                Some(e) => Err(e),
                None => {
                    rejected.sort_by_key(|(i, _)| *i);
                    Ok(rejected)
                }
            }
        })
    }
}
