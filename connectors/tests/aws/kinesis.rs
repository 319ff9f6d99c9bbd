//! Kinesis source: every record once on one or two workers, start positions, shard
//! splits, errors.

use super::*;

fn kinesis_stream(aws: &Aws, shards: i32) -> String {
    connectors::aws::local::create_stream(aws, "stream", shards)
}

fn kinesis_put(aws: &Aws, stream: &str, records: &[(String, String)]) {
    connectors::aws::local::put_records(aws, stream, records)
}

/// A reader of `stream` for worker `worker` of `peers`.
fn open_reader(
    stream: &str,
    start: StartPosition,
    worker: usize,
    peers: usize,
    mode: ReadMode,
) -> KinesisReader {
    KinesisReader::open(aws_clone(), stream, start, worker, peers, mode).unwrap()
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
            let mut r = open_reader(
                &stream,
                StartPosition::Earliest,
                worker,
                peers,
                ReadMode::Bounded,
            );
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
    let mut r = open_reader(
        &stream,
        StartPosition::Latest,
        0,
        1,
        ReadMode::Follow { exit_at_end: false },
    );
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
    let mut r = open_reader(&stream, StartPosition::Latest, 0, 1, ReadMode::Bounded);
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
            let mut r = open_reader(
                &stream,
                StartPosition::Earliest,
                worker,
                peers,
                ReadMode::Bounded,
            );
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
    let mut r = open_reader(
        &stream,
        StartPosition::Earliest,
        0,
        1,
        ReadMode::Follow { exit_at_end: false },
    );
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
    let mut r = open_reader(
        &stream,
        StartPosition::Timestamp(t),
        0,
        1,
        ReadMode::Bounded,
    );
    let (got, p) = drain(&mut r, 1 << 20, |_| false);
    assert_eq!(p, Poll::Done);
    let mut want: Vec<String> = fresh.into_iter().map(|(_, d)| d).collect();
    want.sort();
    assert_eq!(texts(got), want);
}
