//! The AWS connectors against a real local endpoint (moto's server): S3 and Kinesis
//! sources, DynamoDB sink. Needs `AWS_ENDPOINT_URL` (start the local services with
//! `scripts/services.sh start`); names get a random suffix so reruns do not collide.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_s3::primitives::ByteStream;
use connectors::aws::kinesis::KinesisReader;
use connectors::aws::s3::{S3Location, S3Reader};
use connectors::aws::{dynamodb::DynamoSink, Aws};
use connectors::sink::{FeatureUpdate, RowSink};
use connectors::source::{Item, Origin, Poll, ReadMode, RecordSource};
use planner::job::{AwsAccount, Compression, Secret, StartPosition};
use planner::types::Value;

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set: these tests need a local AWS endpoint; \
             start the local services: scripts/services.sh start \
             (then export AWS_ENDPOINT_URL=http://127.0.0.1:5000)"
        )
    })
}

fn account() -> AwsAccount {
    AwsAccount {
        region: "us-east-1".into(),
        endpoint: Some(endpoint()),
        access_key_id: Some(Secret("test".into())),
        secret_access_key: Some(Secret("test".into())),
        session_token: None,
    }
}

fn aws() -> Aws {
    Aws::from_account("local", &account()).unwrap()
}

/// A name unique to this run.
fn unique(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{}-{nanos:x}-{n}", std::process::id())
}

/// A delivered record: its text and origin (or a header).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Got {
    Header(String),
    Record(String, String, u64),
}

/// Polls `r` until Done (or `deadline`), resolving every record's origin.
fn drain(
    r: &mut dyn RecordSource,
    max_bytes: usize,
    until: impl Fn(&[Got]) -> bool,
) -> (Vec<Got>, Poll) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    loop {
        let mut batch = Vec::new();
        let p = r
            .poll(max_bytes, &mut |item| match item {
                Item::Header(h) => batch.push((String::from_utf8_lossy(h).into_owned(), None)),
                Item::Line(l, id) => {
                    batch.push((String::from_utf8_lossy(l).into_owned(), Some(id)))
                }
                Item::Message { payload, id, .. } => {
                    batch.push((String::from_utf8_lossy(payload).into_owned(), Some(id)))
                }
            })
            .unwrap();
        for (text, id) in batch {
            got.push(match id {
                None => Got::Header(text),
                Some(id) => {
                    let Origin { location, position } = r.resolve(id);
                    Got::Record(text, location, position)
                }
            });
        }
        if p == Poll::Done || until(&got) {
            return (got, p);
        }
        assert!(Instant::now() < deadline, "timed out; got {got:?}");
        if p == Poll::Idle {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn s3_setup(aws: &Aws, objects: &[(&str, Vec<u8>)]) -> String {
    let bucket = unique("bucket");
    let s3 = aws.s3();
    aws.block_on(s3.create_bucket().bucket(&bucket).send())
        .unwrap();
    for (key, body) in objects {
        put(aws, &bucket, key, body.clone());
    }
    bucket
}

fn put(aws: &Aws, bucket: &str, key: &str, body: Vec<u8>) {
    aws.block_on(
        aws.s3()
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send(),
    )
    .unwrap();
}

fn lines(obj: &str, n: usize) -> String {
    (0..n)
        .map(|i| format!("{{\"obj\":\"{obj}\",\"n\":{i}}}\n"))
        .collect()
}

#[test]
fn s3_two_workers_read_every_line_once_in_key_order() {
    let aws = aws();
    // Put out of key order; one gzip, one without a final newline, one outside the prefix.
    let mut tail = lines("hr=03", 2);
    tail.push_str("{\"obj\":\"hr=03\",\"n\":2}");
    let objects: Vec<(&str, Vec<u8>)> = vec![
        ("events/hr=02/part-0.jsonl", lines("hr=02", 4).into_bytes()),
        ("events/hr=00/part-0.jsonl", lines("hr=00", 3).into_bytes()),
        (
            "events/hr=01/part-0.jsonl.gz",
            gzip(lines("hr=01", 5).as_bytes()),
        ),
        ("events/hr=03/part-0.jsonl", tail.into_bytes()),
        ("other/hr=00/part-0.jsonl", lines("other", 2).into_bytes()),
    ];
    let bucket = s3_setup(&aws, &objects);
    let loc = S3Location {
        bucket: bucket.clone(),
        prefix: "events/".into(),
        compression: Compression::Auto,
    };
    let mut all = Vec::new();
    for worker in 0..2 {
        let mut r = S3Reader::open(
            aws_clone(),
            loc.clone(),
            worker,
            2,
            ReadMode::Bounded,
            false,
        )
        .unwrap();
        let (got, p) = drain(&mut r, 40, |_| false);
        assert_eq!(p, Poll::Done);
        // Objects dealt round-robin over the sorted keys.
        let want_keys: Vec<&str> = if worker == 0 {
            vec!["events/hr=00/part-0.jsonl", "events/hr=02/part-0.jsonl"]
        } else {
            vec!["events/hr=01/part-0.jsonl.gz", "events/hr=03/part-0.jsonl"]
        };
        assert_eq!(r.objects(), want_keys.as_slice());
        // In key order within the worker: the origins' keys never go backwards.
        let locations: Vec<&String> = got
            .iter()
            .map(|g| match g {
                Got::Record(_, l, _) => l,
                Got::Header(_) => panic!("no headers in JSON"),
            })
            .collect();
        assert!(locations.windows(2).all(|w| w[0] <= w[1]), "{locations:?}");
        all.extend(got);
    }
    let mut want = Vec::new();
    for (hr, n, key) in [
        ("hr=00", 3, "events/hr=00/part-0.jsonl"),
        ("hr=01", 5, "events/hr=01/part-0.jsonl.gz"),
        ("hr=02", 4, "events/hr=02/part-0.jsonl"),
        ("hr=03", 3, "events/hr=03/part-0.jsonl"),
    ] {
        for i in 0..n {
            want.push(Got::Record(
                format!("{{\"obj\":\"{hr}\",\"n\":{i}}}"),
                format!("s3://{bucket}/{key}"),
                i as u64 + 1,
            ));
        }
    }
    all.sort();
    want.sort();
    assert_eq!(all, want);
}

/// Another handle on the same account (readers own theirs).
fn aws_clone() -> Aws {
    aws()
}

#[test]
fn s3_csv_objects_start_with_their_header() {
    let aws = aws();
    let bucket = s3_setup(
        &aws,
        &[
            ("a.csv", b"k,t\r\nx,1\r\ny,2\r\n".to_vec()),
            ("b.csv.gz", gzip(b"k,t\nz,3\n")),
        ],
    );
    let loc = S3Location {
        bucket: bucket.clone(),
        prefix: String::new(),
        compression: Compression::Auto,
    };
    let mut r = S3Reader::open(aws_clone(), loc, 0, 1, ReadMode::Bounded, true).unwrap();
    let (got, _) = drain(&mut r, 1 << 20, |_| false);
    let a = format!("s3://{bucket}/a.csv");
    let b = format!("s3://{bucket}/b.csv.gz");
    assert_eq!(
        got,
        vec![
            Got::Header("k,t".into()),
            Got::Record("x,1".into(), a.clone(), 2),
            Got::Record("y,2".into(), a, 3),
            Got::Header("k,t".into()),
            Got::Record("z,3".into(), b, 2),
        ]
    );
}

#[test]
fn s3_forced_gzip_and_none() {
    let aws = aws();
    let bucket = s3_setup(&aws, &[("data/x.bin", gzip(b"1\n2\n"))]);
    let loc = |compression| S3Location {
        bucket: bucket.clone(),
        prefix: "data/".into(),
        compression,
    };
    let mut r = S3Reader::open(
        aws_clone(),
        loc(Compression::Gzip),
        0,
        1,
        ReadMode::Bounded,
        false,
    )
    .unwrap();
    let (got, _) = drain(&mut r, 1 << 20, |_| false);
    assert_eq!(got.len(), 2);
    // Reading gzip bytes as text is not an error (just bad records); forcing gzip on a
    // plain object is.
    let bucket2 = s3_setup(&aws, &[("data/y.gz", b"plain\n".to_vec())]);
    let mut r = S3Reader::open(
        aws_clone(),
        S3Location {
            bucket: bucket2.clone(),
            prefix: "data/".into(),
            compression: Compression::Auto,
        },
        0,
        1,
        ReadMode::Bounded,
        false,
    )
    .unwrap();
    let err = r.poll(1 << 20, &mut |_| {}).unwrap_err().to_string();
    assert!(
        err.contains(&format!("s3://{bucket2}/data/y.gz")) && err.contains("compression: none"),
        "{err}"
    );
}

#[test]
fn s3_follow_picks_up_a_new_object() {
    let aws = aws();
    let bucket = s3_setup(&aws, &[("in/a.jsonl", b"1\n2\n".to_vec())]);
    let loc = S3Location {
        bucket: bucket.clone(),
        prefix: "in/".into(),
        compression: Compression::Auto,
    };
    let mut r = S3Reader::open(
        aws_clone(),
        loc.clone(),
        0,
        1,
        ReadMode::Follow { exit_at_end: false },
        false,
    )
    .unwrap();
    let (got, p) = drain(&mut r, 1 << 20, |g| g.len() == 2);
    assert_eq!(got.len(), 2);
    assert_ne!(p, Poll::Done);
    assert_eq!(r.poll(1 << 20, &mut |_| {}).unwrap(), Poll::Idle);
    put(&aws, &bucket, "in/b.jsonl", b"3\n".to_vec());
    let (got, _) = drain(&mut r, 1 << 20, |g| !g.is_empty());
    assert_eq!(
        got,
        vec![Got::Record(
            "3".into(),
            format!("s3://{bucket}/in/b.jsonl"),
            1
        )]
    );
    // With exit_at_end, only what was present at start is read, then Done.
    let mut r = S3Reader::open(
        aws_clone(),
        loc,
        0,
        1,
        ReadMode::Follow { exit_at_end: true },
        false,
    )
    .unwrap();
    let (got, p) = drain(&mut r, 1 << 20, |_| false);
    assert_eq!((got.len(), p), (3, Poll::Done));
}

#[test]
fn s3_missing_bucket_and_empty_prefix_are_clear_errors() {
    let loc = S3Location {
        bucket: unique("missing"),
        prefix: String::new(),
        compression: Compression::Auto,
    };
    let err = S3Reader::open(aws(), loc.clone(), 0, 1, ReadMode::Bounded, false)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains(&format!("bucket `{}` does not exist", loc.bucket)),
        "{err}"
    );
    let bucket = s3_setup(&aws(), &[]);
    let err = S3Reader::open(
        aws(),
        S3Location {
            bucket: bucket.clone(),
            prefix: "nothing/".into(),
            compression: Compression::Auto,
        },
        0,
        1,
        ReadMode::Bounded,
        false,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains(&format!("no objects under s3://{bucket}/nothing/")),
        "{err}"
    );
}

#[test]
fn an_unreachable_endpoint_is_a_clear_error() {
    let mut acc = account();
    acc.endpoint = Some("http://127.0.0.1:9".into());
    let aws = Aws::from_account("local", &acc).unwrap();
    let loc = S3Location {
        bucket: "bucket-one".into(),
        prefix: String::new(),
        compression: Compression::Auto,
    };
    let err = S3Reader::open(aws, loc, 0, 1, ReadMode::Bounded, false)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("cannot reach S3") && err.contains("http://127.0.0.1:9"),
        "{err}"
    );
}

fn kinesis_stream(aws: &Aws, shards: i32) -> String {
    let stream = unique("stream");
    let k = aws.kinesis();
    aws.block_on(
        k.create_stream()
            .stream_name(&stream)
            .shard_count(shards)
            .send(),
    )
    .unwrap();
    for _ in 0..100 {
        let d = aws
            .block_on(k.describe_stream_summary().stream_name(&stream).send())
            .unwrap();
        if d.stream_description_summary()
            .unwrap()
            .stream_status()
            .as_str()
            == "ACTIVE"
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stream
}

fn kinesis_put(aws: &Aws, stream: &str, records: &[(String, String)]) {
    let k = aws.kinesis();
    for (key, data) in records {
        aws.block_on(
            k.put_record()
                .stream_name(stream)
                .partition_key(key)
                .data(aws_sdk_kinesis::primitives::Blob::new(data.as_bytes()))
                .send(),
        )
        .unwrap();
    }
}

fn kinesis_records(tag: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("user-{}", i % 7),
                format!("{{\"tag\":\"{tag}\",\"i\":{i}}}"),
            )
        })
        .collect()
}

#[test]
fn kinesis_bounded_reads_every_record_once_with_one_or_two_workers() {
    let aws = aws();
    let stream = kinesis_stream(&aws, 2);
    let records = kinesis_records("a", 40);
    kinesis_put(&aws, &stream, &records);
    let mut want: Vec<String> = records.iter().map(|(_, d)| d.clone()).collect();
    want.sort();
    for peers in [1, 2] {
        let mut all = Vec::new();
        let mut shard_counts = Vec::new();
        for worker in 0..peers {
            let mut r = KinesisReader::open(
                aws_clone(),
                &stream,
                StartPosition::Earliest,
                worker,
                peers,
                ReadMode::Bounded,
            )
            .unwrap();
            assert_eq!(r.partitions(), 2 / peers);
            let (got, p) = drain(&mut r, 64, |_| false);
            assert_eq!(p, Poll::Done, "peers {peers} worker {worker}");
            assert!((0..r.partitions()).all(|p| r.finished(p)));
            let mut per_shard: BTreeMap<String, Vec<u64>> = BTreeMap::new();
            for g in got {
                let Got::Record(text, location, position) = g else {
                    panic!("header")
                };
                let (shard, seq) = location.split_once("?sequence=").unwrap();
                assert!(
                    shard.starts_with(&format!("kinesis://{stream}/shardId-")),
                    "{location}"
                );
                assert!(!seq.is_empty());
                per_shard
                    .entry(shard.to_string())
                    .or_default()
                    .push(position);
                all.push(text);
            }
            for positions in per_shard.values() {
                // 1-based, consecutive per shard.
                assert_eq!(positions, &(1..=positions.len() as u64).collect::<Vec<_>>());
            }
            shard_counts.push(per_shard.len());
        }
        all.sort();
        assert_eq!(all, want, "peers = {peers}");
        // Records spread over both shards (7 partition keys).
        assert_eq!(shard_counts.iter().sum::<usize>(), 2, "peers = {peers}");
    }
}

#[test]
fn kinesis_latest_skips_old_records() {
    let aws = aws();
    let stream = kinesis_stream(&aws, 2);
    kinesis_put(&aws, &stream, &kinesis_records("old", 10));
    let mut r = KinesisReader::open(
        aws_clone(),
        &stream,
        StartPosition::Latest,
        0,
        1,
        ReadMode::Follow { exit_at_end: false },
    )
    .unwrap();
    // Let the reader take its LATEST iterators before the new records are put.
    let (got, _) = drain(&mut r, 1 << 20, |_| true);
    assert!(got.is_empty(), "{got:?}");
    let fresh = kinesis_records("new", 6);
    kinesis_put(&aws, &stream, &fresh);
    let (got, _) = drain(&mut r, 1 << 20, |g| g.len() >= 6);
    let mut texts: Vec<String> = got
        .into_iter()
        .map(|g| match g {
            Got::Record(t, ..) => t,
            Got::Header(_) => panic!(),
        })
        .collect();
    texts.sort();
    let mut want: Vec<String> = fresh.into_iter().map(|(_, d)| d).collect();
    want.sort();
    assert_eq!(texts, want);
    // Bounded from latest: nothing, and done.
    let mut r = KinesisReader::open(
        aws_clone(),
        &stream,
        StartPosition::Latest,
        0,
        1,
        ReadMode::Bounded,
    )
    .unwrap();
    let (got, p) = drain(&mut r, 1 << 20, |_| false);
    assert_eq!((got.len(), p), (0, Poll::Done));
}

#[test]
fn kinesis_missing_stream_is_a_clear_error() {
    let name = unique("nostream");
    let err = KinesisReader::open(
        aws(),
        &name,
        StartPosition::Earliest,
        0,
        1,
        ReadMode::Bounded,
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains(&format!("Kinesis stream `{name}` does not exist")),
        "{err}"
    );
}

fn dynamo_table(aws: &Aws) -> String {
    let table = unique("features");
    let d = aws.dynamodb();
    aws.block_on(
        d.create_table()
            .table_name(&table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send(),
    )
    .unwrap();
    table
}

fn update(user: &str, count: i64, we: i64, revision: u32, deleted: bool) -> FeatureUpdate {
    FeatureUpdate {
        feature: "clicks".into(),
        version: 2,
        key: vec![Value::Str(user.into())],
        values: vec![
            ("user_id".into(), Value::Str(user.into())),
            ("n".into(), Value::Int(count)),
            ("avg".into(), Value::Float(1.5)),
            ("seen".into(), Value::Bool(true)),
            ("last".into(), Value::Null),
        ],
        window_start: we - 60_000,
        window_end: we,
        revision,
        deleted,
        json: Vec::new(),
    }
}

fn expected_item(
    user: &str,
    count: i64,
    we: i64,
    revision: u32,
) -> HashMap<String, AttributeValue> {
    let n = |v: i64| AttributeValue::N(v.to_string());
    HashMap::from([
        (
            "pk".to_string(),
            AttributeValue::S(format!("clicks:2:{user}")),
        ),
        ("user_id".to_string(), AttributeValue::S(user.into())),
        ("n".to_string(), n(count)),
        ("avg".to_string(), AttributeValue::N("1.5".into())),
        ("seen".to_string(), AttributeValue::Bool(true)),
        ("last".to_string(), AttributeValue::Null(true)),
        ("window_start".to_string(), n(we - 60_000)),
        ("window_end".to_string(), n(we)),
        ("revision".to_string(), n(revision as i64)),
    ])
}

fn scan(aws: &Aws, table: &str) -> BTreeMap<String, HashMap<String, AttributeValue>> {
    let resp = aws
        .block_on(aws.dynamodb().scan().table_name(table).send())
        .unwrap();
    resp.items()
        .iter()
        .map(|i| {
            let AttributeValue::S(pk) = &i["pk"] else {
                panic!("pk")
            };
            (pk.clone(), i.clone())
        })
        .collect()
}

#[test]
fn dynamodb_newer_windows_win() {
    let aws = aws();
    let table = dynamo_table(&aws);
    let mut sink = DynamoSink::open(aws_clone(), &table, None).unwrap();
    let t = 1_800_000_000_000;
    sink.write_batch(&[
        update("a", 1, t, 0, false),
        update("b", 5, t, 0, false),
        update("c", 7, t, 0, false),
    ])
    .unwrap();
    // a: a newer window replaces; b: an older window is ignored (not an error); c: same
    // window, higher revision replaces, then a lower revision is ignored.
    sink.write_batch(&[
        update("a", 2, t + 60_000, 0, false),
        update("b", 4, t - 60_000, 3, false),
        update("c", 8, t, 1, false),
        update("c", 6, t, 0, false),
    ])
    .unwrap();
    let items = scan(&aws, &table);
    let want = BTreeMap::from([
        (
            "clicks:2:a".to_string(),
            expected_item("a", 2, t + 60_000, 0),
        ),
        ("clicks:2:b".to_string(), expected_item("b", 5, t, 0)),
        ("clicks:2:c".to_string(), expected_item("c", 8, t, 1)),
    ]);
    assert_eq!(items, want);
    // A withdrawal of an older window does nothing; of the stored window, deletes.
    sink.write_batch(&[update("a", 0, t, 1, true), update("b", 0, t, 1, true)])
        .unwrap();
    let items = scan(&aws, &table);
    assert_eq!(
        items.keys().collect::<Vec<_>>(),
        vec!["clicks:2:a", "clicks:2:c"]
    );
    // Within one batch, one key's updates apply in order: put then withdraw.
    sink.write_batch(&[update("d", 1, t, 0, false), update("d", 0, t, 1, true)])
        .unwrap();
    assert!(!scan(&aws, &table).contains_key("clicks:2:d"));
}

#[test]
fn dynamodb_ttl_is_epoch_seconds_from_now() {
    let aws = aws();
    let table = dynamo_table(&aws);
    let mut sink = DynamoSink::open(aws_clone(), &table, Some(3_600_000)).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    sink.write_batch(&[update("a", 1, 1_000, 0, false)])
        .unwrap();
    let items = scan(&aws, &table);
    let AttributeValue::N(ttl) = &items["clicks:2:a"]["ttl"] else {
        panic!("ttl")
    };
    let ttl: u64 = ttl.parse().unwrap();
    assert!((now + 3_600..=now + 3_610).contains(&ttl), "{ttl} vs {now}");
}

#[test]
fn dynamodb_missing_table_says_how_to_create_it() {
    let name = unique("notable");
    let err = DynamoSink::open(aws(), &name, None).err().unwrap();
    assert!(!err.retryable);
    assert!(
        err.message
            .contains(&format!("table `{name}` does not exist"))
            && err.message.contains("string hash key `pk`"),
        "{}",
        err.message
    );
}

fn split_shard(aws: &Aws, stream: &str, shard: &str) {
    aws.block_on(
        aws.kinesis()
            .split_shard()
            .stream_name(stream)
            .shard_to_split(shard)
            // Half of the 128-bit hash key space.
            .new_starting_hash_key("170141183460469231731687303715884105728")
            .send(),
    )
    .unwrap();
}

fn texts(got: Vec<Got>) -> Vec<String> {
    let mut t: Vec<String> = got
        .into_iter()
        .map(|g| match g {
            Got::Record(t, ..) => t,
            Got::Header(_) => panic!("header"),
        })
        .collect();
    t.sort();
    t
}

#[test]
fn kinesis_reads_closed_parents_and_their_children() {
    let aws = aws();
    let stream = kinesis_stream(&aws, 1);
    let before = kinesis_records("before", 8);
    kinesis_put(&aws, &stream, &before);
    split_shard(&aws, &stream, "shardId-000000000000");
    let after = kinesis_records("after", 8);
    kinesis_put(&aws, &stream, &after);
    let mut want: Vec<String> = before
        .iter()
        .chain(&after)
        .map(|(_, d)| d.clone())
        .collect();
    want.sort();
    for peers in [1, 2] {
        let mut all = Vec::new();
        let mut shards = Vec::new();
        for worker in 0..peers {
            let mut r = KinesisReader::open(
                aws_clone(),
                &stream,
                StartPosition::Earliest,
                worker,
                peers,
                ReadMode::Bounded,
            )
            .unwrap();
            let (got, p) = drain(&mut r, 1 << 20, |_| false);
            assert_eq!(p, Poll::Done);
            assert!((0..r.partitions()).all(|p| r.finished(p)));
            shards.extend(r.shard_ids().into_iter().map(str::to_string));
            all.extend(texts(got));
        }
        all.sort();
        assert_eq!(all, want, "peers = {peers}");
        shards.sort();
        assert_eq!(
            shards,
            [
                "shardId-000000000000",
                "shardId-000000000001",
                "shardId-000000000002"
            ],
            "peers = {peers}"
        );
    }
}

#[test]
fn kinesis_following_picks_up_children_after_a_split() {
    let aws = aws();
    let stream = kinesis_stream(&aws, 1);
    let mut r = KinesisReader::open(
        aws_clone(),
        &stream,
        StartPosition::Earliest,
        0,
        1,
        ReadMode::Follow { exit_at_end: false },
    )
    .unwrap();
    kinesis_put(&aws, &stream, &kinesis_records("before", 4));
    let (got, _) = drain(&mut r, 1 << 20, |g| g.len() >= 4);
    assert_eq!(got.len(), 4);
    assert_eq!(r.partitions(), 1);
    split_shard(&aws, &stream, "shardId-000000000000");
    let after = kinesis_records("after", 6);
    kinesis_put(&aws, &stream, &after);
    // The listing shows the parent closed: once read to its end it finishes, and the
    // children are picked up. (moto still routes new records to the closed parent and
    // copies its old records into the children, so only the new records are checked, and
    // they may come from either.)
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while !(r.partitions() == 3 && r.finished(0)) {
        assert!(Instant::now() < deadline, "no children after the split");
        let (g, p) = drain(&mut r, 1 << 20, |_| true);
        assert_ne!(p, Poll::Done);
        got.extend(g);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!r.finished(1) && !r.finished(2));
    let (g, _) = drain(&mut r, 1 << 20, |_| true);
    got.extend(g);
    let new: Vec<String> = texts(got)
        .into_iter()
        .filter(|t| t.contains("after"))
        .collect();
    let mut want: Vec<String> = after.into_iter().map(|(_, d)| d).collect();
    want.sort();
    assert_eq!(new, want);
}

#[test]
fn kinesis_start_at_a_timestamp_skips_earlier_records() {
    let aws = aws();
    let stream = kinesis_stream(&aws, 2);
    kinesis_put(&aws, &stream, &kinesis_records("old", 6));
    std::thread::sleep(Duration::from_millis(1100));
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    std::thread::sleep(Duration::from_millis(100));
    let fresh = kinesis_records("new", 6);
    kinesis_put(&aws, &stream, &fresh);
    let mut r = KinesisReader::open(
        aws_clone(),
        &stream,
        StartPosition::Timestamp(t),
        0,
        1,
        ReadMode::Bounded,
    )
    .unwrap();
    let (got, p) = drain(&mut r, 1 << 20, |_| false);
    assert_eq!(p, Poll::Done);
    let mut want: Vec<String> = fresh.into_iter().map(|(_, d)| d).collect();
    want.sort();
    assert_eq!(texts(got), want);
}
