//! The AWS connectors against a real local endpoint (moto's server): S3 and Kinesis
//! sources, DynamoDB sink. Needs `AWS_ENDPOINT_URL` (start the local services with
//! `scripts/services.sh start`); names get a random suffix so reruns do not collide.
//! Shared helpers here; one module per service.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use connectors::aws::kinesis::KinesisReader;
use connectors::aws::s3::{S3Location, S3Reader};
use connectors::aws::{dynamodb::DynamoSink, Aws};
use connectors::sink::{run_id, FeatureUpdate, RowSink};
use connectors::source::{Item, Origin, Poll, ReadMode, RecordSource};
use planner::job::{Compression, StartPosition};
use planner::types::Value;

mod dynamodb;
mod kinesis;
mod s3;

use connectors::aws::local::{account, connect as aws, unique};

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
                Item::Header(h, _) => batch.push((String::from_utf8_lossy(h).into_owned(), None)),
                Item::Line(l, id) => {
                    batch.push((String::from_utf8_lossy(l).into_owned(), Some(id)))
                }
                Item::Message { payload, id, .. } => {
                    batch.push((String::from_utf8_lossy(payload).into_owned(), Some(id)))
                }
                Item::Unreadable { error, id } => {
                    batch.push((format!("unreadable: {error}"), Some(id)))
                }
                Item::Row { .. } => unreachable!("S3 and Kinesis deliver lines and messages"),
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

/// Another handle on the same account (readers own theirs).
fn aws_clone() -> Aws {
    aws()
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
