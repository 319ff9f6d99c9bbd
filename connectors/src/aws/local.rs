//! A local AWS endpoint (moto's server, `AWS_ENDPOINT_URL`) for the tests of this crate and
//! of the `freshet` binary: the account, unique names, and the tables and streams they
//! create. Each helper panics with the reason when the endpoint fails: they set up tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use planner::job::{AwsAccount, Secret};

use super::Aws;

/// `AWS_ENDPOINT_URL`; panics with how to start the local services when it is unset.
pub fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set: these tests need a local AWS endpoint; \
             start the local services: scripts/services.sh start \
             (then export AWS_ENDPOINT_URL=http://127.0.0.1:5000)"
        )
    })
}

/// The local endpoint's account (moto takes any credentials).
pub fn account() -> AwsAccount {
    AwsAccount {
        region: "us-east-1".into(),
        endpoint: Some(endpoint()),
        access_key_id: Some(Secret("test".into())),
        secret_access_key: Some(Secret("test".into())),
        session_token: None,
    }
}

/// Clients for the local endpoint.
pub fn connect() -> Aws {
    Aws::from_account("local", &account()).expect("clients for the local AWS endpoint")
}

/// `prefix` made unique to this process and call, so reruns and parallel tests do not
/// collide.
pub fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{}-{nanos:x}-{n}", std::process::id())
}

/// A new DynamoDB table named after `prefix`, keyed by the string `pk` (the DynamoDB sink's
/// layout), billed per request.
pub fn create_table(aws: &Aws, prefix: &str) -> String {
    create_table_keyed(
        aws,
        prefix,
        &[("pk", ScalarAttributeType::S, KeyType::Hash)],
    )
}

/// A new table named after `prefix` with the key attributes `keys` (name, type, hash or
/// range), for tests of tables the sink cannot write.
pub fn create_table_keyed(
    aws: &Aws,
    prefix: &str,
    keys: &[(&str, ScalarAttributeType, KeyType)],
) -> String {
    let table = unique(prefix);
    let mut create = aws
        .dynamodb()
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest);
    for (name, ty, key) in keys {
        create = create
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(ty.clone())
                    .build()
                    .expect("a complete attribute definition"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(*name)
                    .key_type(key.clone())
                    .build()
                    .expect("a complete key schema"),
            );
    }
    aws.block_on(create.send())
        .unwrap_or_else(|e| panic!("creating table {table}: {e:?}"));
    table
}

/// A new Kinesis stream named after `prefix` with `shards` shards, once it is active.
pub fn create_stream(aws: &Aws, prefix: &str, shards: i32) -> String {
    let stream = unique(prefix);
    let k = aws.kinesis();
    aws.block_on(
        k.create_stream()
            .stream_name(&stream)
            .shard_count(shards)
            .send(),
    )
    .unwrap_or_else(|e| panic!("creating stream {stream}: {e:?}"));
    for _ in 0..100 {
        let d = aws
            .block_on(k.describe_stream_summary().stream_name(&stream).send())
            .unwrap_or_else(|e| panic!("describing stream {stream}: {e:?}"));
        let active = d
            .stream_description_summary()
            .is_some_and(|s| s.stream_status().as_str() == "ACTIVE");
        if active {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stream
}

/// Puts `(partition key, data)` records on `stream`, one call each, in order.
pub fn put_records<K: AsRef<str>, D: AsRef<[u8]>>(aws: &Aws, stream: &str, records: &[(K, D)]) {
    let k = aws.kinesis();
    for (key, data) in records {
        aws.block_on(
            k.put_record()
                .stream_name(stream)
                .partition_key(key.as_ref())
                .data(aws_sdk_kinesis::primitives::Blob::new(data.as_ref()))
                .send(),
        )
        .unwrap_or_else(|e| panic!("putting a record on {stream}: {e:?}"));
    }
}
