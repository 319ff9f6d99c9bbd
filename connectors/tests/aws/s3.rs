//! S3 source: key order across workers, CSV headers, compression, following new
//! objects, errors.

use super::*;

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

#[test]
fn s3_csv_objects_start_with_their_header() {
    let aws = aws();
    let bucket = s3_setup(
        &aws,
        &[
            ("a.csv", b"k,t\r\nx,1\r\ny,2\r\n".to_vec()),
            // Blank lines before the header hold no record: the header is line 3.
            ("b.csv.gz", gzip(b"\n \r\nk,t\nz,3\n")),
            // A UTF-8 byte-order mark (spreadsheet exports) is not part of the header.
            ("c.csv", b"\xEF\xBB\xBFk,t\nw,4\n".to_vec()),
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
    let c = format!("s3://{bucket}/c.csv");
    assert_eq!(
        got,
        vec![
            Got::Header("k,t".into()),
            Got::Record("x,1".into(), a.clone(), 2),
            Got::Record("y,2".into(), a, 3),
            Got::Header("k,t".into()),
            Got::Record("z,3".into(), b, 4),
            Got::Header("k,t".into()),
            Got::Record("w,4".into(), c, 2),
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
    // Reading gzip bytes as text is not an error (just bad records); see below for
    // forcing gzip on a plain object.
}

/// An object that does not decompress is one bad record naming it and the error, where
/// its reading broke, and the objects after it are read (found by QA: it failed the run,
/// while a Parquet object that is not Parquet was skipped).
#[test]
fn s3_an_object_that_does_not_decompress_is_a_bad_record_and_the_read_goes_on() {
    let aws = aws();
    let mut torn = gzip(b"4\n5\n");
    torn.truncate(torn.len() - 12);
    let bucket = s3_setup(
        &aws,
        &[
            ("data/a.jsonl", b"1\n".to_vec()),
            ("data/b.gz", b"plain\n".to_vec()),
            ("data/c.jsonl", b"3\n".to_vec()),
            ("data/d.gz", torn),
        ],
    );
    for mode in [ReadMode::Bounded, ReadMode::Follow { exit_at_end: true }] {
        let loc = S3Location {
            bucket: bucket.clone(),
            prefix: "data/".into(),
            compression: Compression::Auto,
        };
        let mut r = S3Reader::open(aws_clone(), loc, 0, 1, mode, false).unwrap();
        let (got, p) = drain(&mut r, 1 << 20, |_| false);
        assert_eq!(p, Poll::Done);
        let url = |k: &str| format!("s3://{bucket}/data/{k}");
        let Got::Record(why, at, line) = &got[1] else {
            panic!("{got:?}")
        };
        assert!(
            why.starts_with(&format!(
                "unreadable: malformed record: cannot decompress {}: ",
                url("b.gz")
            )) && why.contains("compression: none"),
            "{why}"
        );
        assert_eq!((at, *line), (&url("b.gz"), 1));
        assert_eq!(got[2], Got::Record("3".into(), url("c.jsonl"), 1));
        // A torn gzip stream breaks at its end: its lines are read, then one bad record.
        let Got::Record(why, at, _) = &got[got.len() - 1] else {
            panic!("{got:?}")
        };
        assert!(
            why.contains(&format!("cannot decompress {}", url("d.gz"))),
            "{got:?}"
        );
        assert_eq!(at, &url("d.gz"));
    }
}

/// A live read lists the whole prefix now and then, and names the objects that appeared
/// with a key sorting before the newest: they are not read (found by QA: silently). One
/// worker lists for the cluster and names them all, whichever worker they would go to.
#[test]
fn s3_follow_names_new_objects_sorting_before_the_newest() {
    let aws = aws();
    let bucket = s3_setup(&aws, &[("in/b.jsonl", b"1\n".to_vec())]);
    let loc = S3Location {
        bucket: bucket.clone(),
        prefix: "in/".into(),
        compression: Compression::Auto,
    };
    let follow = ReadMode::Follow { exit_at_end: false };
    let mut readers: Vec<S3Reader> = (0..2)
        .map(|w| S3Reader::open(aws_clone(), loc.clone(), w, 2, follow, false).unwrap())
        .collect();
    let early: Vec<String> = (0..6).map(|i| format!("in/a{i}.jsonl")).collect();
    for k in &early {
        put(&aws, &bucket, k, b"2\n".to_vec());
    }
    put(&aws, &bucket, "in/c.jsonl", b"3\n".to_vec());
    let deadline = Instant::now() + connectors::aws::s3::FULL_LIST_EVERY + Duration::from_secs(10);
    let mut got = Vec::new();
    while readers[0].not_read().1 == 0 && Instant::now() < deadline {
        for r in &mut readers {
            r.poll(1 << 20, &mut |item| {
                if let Item::Line(l, _) = item {
                    got.push(String::from_utf8_lossy(l).into_owned());
                }
            })
            .unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    got.sort();
    assert_eq!(got, ["1", "3"]);
    let (keys, n) = readers[0].not_read();
    assert_eq!((keys, n), (early.as_slice(), 6));
    assert_eq!(readers[1].not_read().1, 0);
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
